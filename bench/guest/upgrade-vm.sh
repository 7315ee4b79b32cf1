# SPDX-License-Identifier: GPL-2.0
# Guest side of bench/upgrade-vm.sh: one guest run, six kernels.
#   stage 1 (vanilla)  plain kexec into the patched kernel: times `kexec -s
#                      -l` with the same initrd and command line kho-tool
#                      would use, announces on /dev/kmsg, `kexec -e`;
#   stage 2 (patched)  its /init's BOOT marker ends the plain kexec; it
#                      kexecs back to vanilla (not measured);
#   stage 3 (vanilla)  serves the test VMM under the recorder and runs
#                      `kho-tool upgrade --json` into the patched kernel;
#   stage 4 (patched)  the restore-agent restores (init hook), the VMM
#                      adopts and re-checks DMA; back to vanilla;
#   stage 5 (vanilla)  the plain kexec again, after the upgrade, so that
#                      the baseline brackets it (the first kexec after a
#                      cold boot is not the only sample);
#   stage 6 (patched)  its BOOT marker ends the second plain kexec.
# Every measured kexec goes vanilla -> patched.  The host stamps the
# serial lines; the guests' clocks restart at each kexec and cannot.
# test-vmm's output goes to the console as it is printed (tee; its stdout
# is line buffered), so its adoption and DMA lines are stamped when they
# happen, not when the script reads its log back.

# uptime_cs: /proc/uptime in centiseconds (busybox date has no %N).
uptime_cs() {
	local up
	read -r up _ < /proc/uptime
	echo "${up%.*}${up#*.}" | sed 's/^0*//; s/^$/0/'
}

# plain_kexec: the baseline, into the patched kernel as the next stage.
plain_kexec() {
	local initrd t0 t1

	case "$(uname -r)" in *-kho-a) ;; *) khotest_fail "stage $KHO_STAGE runs $(uname -r), not vanilla" ;; esac
	initrd=$(khotest_initrd)
	t0=$(uptime_cs)
	kexec -s -l /boot/vmlinuz-patched --initrd="$initrd" \
		--command-line="$(cat /proc/cmdline) khotest.stage=$((KHO_STAGE + 1))" ||
		khotest_fail "plain kexec: loading the patched kernel failed"
	t1=$(uptime_cs)
	khotest_log "plain-load-ms-s$KHO_STAGE=$(((t1 - t0) * 10))"
	khotest_mark plain-loaded
	# The counterpart of kho-tool's line, through /dev/kmsg too.
	echo "khotest: plain kexec -e from stage $KHO_STAGE" > /dev/kmsg
	kexec -e
	khotest_fail "plain kexec: kexec -e returned"
}

case "$KHO_STAGE" in
1|5)
	plain_kexec
	;;
2)
	case "$(uname -r)" in *-kho-b) ;; *) khotest_fail "stage 2 runs $(uname -r), not the patched kernel" ;; esac
	khotest_kexec vanilla
	;;
3)
	case "$(uname -r)" in *-kho-a) ;; *) khotest_fail "stage 3 runs $(uname -r), not vanilla" ;; esac
	initrd=$(khotest_initrd)
	khotest_start vmm env LD_PRELOAD="$KHOTEST_RECORDER" test-vmm serve --maps 64 --churn 1000
	khotest_mark serving
	kho-tool upgrade --kernel /boot/vmlinuz-patched --initrd "$initrd" \
		--append "khotest.stage=4" --pid "$KHOTEST_PID" --json
	khotest_fail "upgrade returned"
	;;
4)
	case "$(uname -r)" in *-kho-b) ;; *) khotest_fail "stage 4 runs $(uname -r), not the patched kernel" ;; esac
	env LD_PRELOAD="$KHOTEST_RECORDER" test-vmm restart --hold 2>&1 | tee /tmp/vmm.log &
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
	khotest_kexec vanilla
	;;
6)
	case "$(uname -r)" in *-kho-b) ;; *) khotest_fail "stage 6 runs $(uname -r), not the patched kernel" ;; esac
	khotest_done
	;;
esac
