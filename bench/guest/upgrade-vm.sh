# SPDX-License-Identifier: GPL-2.0
# Guest side of bench/upgrade-vm.sh: one guest run, six kernels.
#   stage 1 (vanilla)  plain kexec into the patched kernel: `kexec -s -l`
#                      with the same initrd and command line kho-tool would
#                      use, then a stamp on /dev/kmsg and `kexec -e`;
#   stage 2 (patched)  its /init ends the plain kexec; it kexecs back to
#                      vanilla (not measured);
#   stage 3 (vanilla)  serves the test VMM under the recorder and runs
#                      `kho-tool upgrade --json` into the patched kernel;
#   stage 4 (patched)  the restore-agent restores (init hook), the VMM
#                      adopts and re-checks DMA; back to vanilla;
#   stage 5 (vanilla)  the plain kexec again, after the upgrade, so that
#                      the baseline brackets it (the first kexec after a
#                      cold boot is not the only sample);
#   stage 6 (patched)  its /init ends the second plain kexec.
# Every measured kexec goes vanilla -> patched.
#
# The clock is the TSC (/bin/tsc, bench/guest/tsc.c), which a kexec does
# not reset and which, under -icount, counts guest instructions; its
# "KHOTEST: TSC" lines are also the lines the host stamps in wall-clock
# mode.  bench/upgrade-vm.sh ships an init hook, /etc/kho/init.d/00-bench-tsc,
# that stamps "init-sN" when /init reaches its restore hooks (the edu bind
# done), and /bin/tsc again as /usr/lib/kho-tool/restore-agent, which the
# restore hook runs first: it execs the real agent with its stderr (its
# "serving" line) through `tsc lines`.  test-vmm's output goes through
# `tsc lines` and tee to the console as it is printed (its stdout is line
# buffered), so its adoption and DMA lines carry the TSC of when they were
# printed.

# plain_kexec: the baseline, into the patched kernel as the next stage.
plain_kexec() {
	local initrd

	case "$(uname -r)" in *-kho-a) ;; *) khotest_fail "stage $KHO_STAGE runs $(uname -r), not vanilla" ;; esac
	initrd=$(khotest_initrd)
	tsc "plain-load-start-s$KHO_STAGE"
	kexec -s -l /boot/vmlinuz-patched --initrd="$initrd" \
		--command-line="$(cat /proc/cmdline) khotest.stage=$((KHO_STAGE + 1))" ||
		khotest_fail "plain kexec: loading the patched kernel failed"
	tsc "plain-load-end-s$KHO_STAGE"
	khotest_mark plain-loaded
	# The counterpart of kho-tool's reboot() line, through /dev/kmsg too.
	tsc -k "plain-exec-s$KHO_STAGE"
	kexec -e
	khotest_fail "plain kexec: kexec -e returned"
}

# spin: the TSC against a known instruction count and CLOCK_BOOTTIME, in
# this kernel (bench/upgrade-vm.sh checks the TSC is the icount clock).
spin() {
	tsc spin 50000000 "s$KHO_STAGE"
}

case "$KHO_STAGE" in
1|5)
	spin
	plain_kexec
	;;
2)
	case "$(uname -r)" in *-kho-b) ;; *) khotest_fail "stage 2 runs $(uname -r), not the patched kernel" ;; esac
	spin
	khotest_kexec vanilla
	;;
3)
	case "$(uname -r)" in *-kho-a) ;; *) khotest_fail "stage 3 runs $(uname -r), not vanilla" ;; esac
	initrd=$(khotest_initrd)
	khotest_start vmm env LD_PRELOAD="$KHOTEST_RECORDER" test-vmm serve --maps 64 --churn 1000
	khotest_mark serving
	spin
	# kho-tool's reboot() line gives its CLOCK_BOOTTIME: this stamp pairs
	# that clock with the TSC.
	tsc upgrade-start
	kho-tool upgrade --kernel /boot/vmlinuz-patched --initrd "$initrd" \
		--append "khotest.stage=4" --pid "$KHOTEST_PID" --json
	khotest_fail "upgrade returned"
	;;
4)
	case "$(uname -r)" in *-kho-b) ;; *) khotest_fail "stage 4 runs $(uname -r), not the patched kernel" ;; esac
	tsc script-s4
	env LD_PRELOAD="$KHOTEST_RECORDER" test-vmm restart --hold 2>&1 | tsc lines | tee /tmp/vmm.log &
	i=0
	while ! grep -q 'ready pid=' /tmp/vmm.log 2>/dev/null; do
		if [ "$i" -gt 5 ] && ! pidof test-vmm > /dev/null; then
			usleep 200000
			grep -q 'ready pid=' /tmp/vmm.log && break
			khotest_fail "test-vmm restart exited before adopting"
		fi
		i=$((i + 1))
		[ "$i" -lt 600 ] || khotest_fail "test-vmm restart never got ready"
		usleep 100000
	done
	grep -q 'DMA check passed' /tmp/vmm.log || khotest_fail "no DMA check after adoption"
	khotest_mark adopted
	echo "agent-timeline: $(cat /run/kho-tool/timeline.json)"
	pid=$(sed -n 's/.*ready pid=\([0-9]*\).*/\1/p' /tmp/vmm.log)
	kill -TERM "$pid"
	wait || :
	spin
	khotest_kexec vanilla
	;;
6)
	case "$(uname -r)" in *-kho-b) ;; *) khotest_fail "stage 6 runs $(uname -r), not the patched kernel" ;; esac
	spin
	khotest_done
	;;
esac
