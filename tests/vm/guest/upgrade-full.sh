# SPDX-License-Identifier: GPL-2.0
# The whole path: stage 1 (vanilla) runs the test VMM under the recorder and
# upgrades into the patched kernel; stage 2 lets the restore-agent restore,
# the VMM adopt and check DMA, then rolls back; stage 3 (vanilla again)
# adopts and checks once more.  khotest.churn=N on the command line (it
# carries over to every stage) has the first VMM map and unmap N times;
# khotest.hwpt=1 has it allocate its HWPT explicitly (test-vmm serve
# --hwpt, as QEMU's iommufd backend does), which the hand-off's plan must
# carry and the replay run hwpt-first; both stop after stage 2.
initrd=$(khotest_initrd)
# The kernel upgraded to: the patched one, or the one 060's debug test
# ships (/test/upgrade.env).
target=/boot/vmlinuz-patched
[ -r /test/upgrade.env ] && . /test/upgrade.env
churn=0
concurrent=0
hwpt=0
for word in $(cat /proc/cmdline); do
	case "$word" in
	khotest.churn=*) churn=${word#*=} ;;
	khotest.concurrent=*) concurrent=${word#*=} ;;
	khotest.hwpt=*) hwpt=${word#*=} ;;
	esac
done

# check_restore: what the agent rebuilt matches the hand-off it read, and
# the ID map it sent is the one the VMM received; the host compares the
# logged figures with stage 1's capture.
check_restore() {
	local run=/run/kho-tool

	cat "$run/restore.log" "$run/handoff.json" 2>/dev/null || true
	grep -q 'step verify .*ok: ' "$run/restore.log" ||
		khotest_fail "stage $KHO_STAGE: the agent logged no successful verify"
	# "ok: 1 IOAS, 64 mappings (64 probes), 1 device(s), 1 attachment(s)"
	khotest_log "verified_s$KHO_STAGE=$(sed -n 's/.*step verify .*ok: //p' "$run/restore.log" | tail -n 1)"
	khotest_log "handoff_s$KHO_STAGE=$(cat "$run/handoff.json")"
	grep -q 'finished' "$run/agent.status" ||
		khotest_fail "stage $KHO_STAGE: agent status '$(cat "$run/agent.status")', not finished after adoption"
}

# contend: a second upgrade and a rollback while the first holds the lock
# are refused by name and change nothing; then the first goes on.  The
# VMM is stopped so that the first waits at its capture (the recorder's
# socket gives it 5 s) instead of reaching the kexec before the others.
contend() {
	local first cmd i=0

	kill -STOP "$KHOTEST_PID"
	kho-tool upgrade --kernel "$target" --initrd "$initrd" \
		--append "khotest.stage=2" --pid "$KHOTEST_PID" --json &
	first=$!
	until [ "$(cat /run/kho-tool/upgrade.lock 2>/dev/null)" = "$first" ]; do
		[ "$i" -lt 100 ] || khotest_fail "the first upgrade (pid $first) never took the lock"
		usleep 50000
		i=$((i + 1))
	done
	for cmd in "upgrade --kernel $target --pid $KHOTEST_PID" \
		   "rollback --kernel /boot/vmlinuz-vanilla --pid $KHOTEST_PID"; do
		khotest_refused /tmp/second.out "a second $cmd" \
			kho-tool $cmd --initrd "$initrd" --json
		grep -q "lock: another upgrade or rollback holds upgrade.lock: pid $first (kho-tool); wait for it to finish" /tmp/second.out ||
			khotest_fail "the second 'kho-tool $cmd' did not name the holder, pid $first"
		grep -q '"error":{"step":"lock","errno":"EBUSY"' /tmp/second.out ||
			khotest_fail "the second 'kho-tool $cmd' JSON does not say lock EBUSY"
	done
	kill -0 "$first" || khotest_fail "the first upgrade ended while the others were refused"
	khotest_mark second-refused
	kill -CONT "$KHOTEST_PID"
	wait "$first"
	khotest_fail "the first upgrade returned: $?"
}

# adopt_and_serve: the restarted VMM adopts what the agent rebuilt, passes
# the DMA check on the memory preserved across the kexec, and keeps serving
# (under the recorder) so that the next upgrade can capture it.
adopt_and_serve() {
	khotest_start vmm env LD_PRELOAD="$KHOTEST_RECORDER" test-vmm restart --hold
	grep -q 'bytes intact' /tmp/vmm.log ||
		khotest_fail "stage $KHO_STAGE: the guest-RAM pattern did not survive"
	grep -q 'DMA check passed' /tmp/vmm.log ||
		khotest_fail "stage $KHO_STAGE: no DMA check after adoption"
	grep -q 'kho-record: ' /tmp/vmm.log &&
		khotest_fail "stage $KHO_STAGE: the recorder could not take over the adopted state"
	check_restore
	khotest_mark "adopted-stage$KHO_STAGE"
}

case "$KHO_STAGE" in
1)
	flag=
	[ "$hwpt" = 0 ] || flag=--hwpt
	khotest_start vmm env LD_PRELOAD="$KHOTEST_RECORDER" test-vmm serve --maps 64 --churn "$churn" $flag
	khotest_mark serving
	[ "$concurrent" = 0 ] || contend
	kho-tool upgrade --kernel "$target" --initrd "$initrd" \
		--append "khotest.stage=2" --pid "$KHOTEST_PID" --json
	khotest_fail "upgrade returned"
	;;
2)
	case "$(uname -r)" in *-kho-b | *-kho-b-dbg) ;; *) khotest_fail "stage 2 runs $(uname -r), not the patched kernel" ;; esac
	adopt_and_serve
	if [ "$hwpt" != 0 ]; then
		# The plan the agent replayed, as kho-tool shows it: bind,
		# HWPT_ALLOC, ATTACH to that HWPT, after every map.
		kho-tool inspect /run/kho-tool/handoff.fdt >/tmp/inspect.out ||
			khotest_fail "kho-tool inspect of the agent's hand-off copy failed"
		cat /tmp/inspect.out
		# Its records' ops in order, a run of one op written once.
		khotest_log "plan_s2=$(sed -n '/^replay plan:/,$p' /tmp/inspect.out | awk '$1 ~ /^[0-9]+$/ && $2 != last { printf "%s%s", n++ ? "," : "", $2; last = $2 }')"
		khotest_log "hwpts_s2=$(sed -n 's/^  HWPT \([0-9]*: on [0-9]*, device [0-9]*\).*/\1/p' /tmp/inspect.out)"
	fi
	[ "$churn" = 0 ] && [ "$concurrent" = 0 ] && [ "$hwpt" = 0 ] ||
		{ khotest_stop vmm; khotest_done; exit 0; }
	cat /run/kho-tool/previous-kernel 2>/dev/null || true
	# This kernel journals the VMM's iommufd and would preserve it, which
	# vanilla could not read (the whole session would be lost there): the
	# rollback degrades explicitly to the userspace record.
	kho-tool rollback --initrd "$initrd" --append "khotest.stage=3" \
		--pid "$KHOTEST_PID" --userspace-journal --json
	khotest_fail "rollback returned"
	;;
3)
	case "$(uname -r)" in *-kho-a) ;; *) khotest_fail "stage 3 runs $(uname -r), not vanilla" ;; esac
	adopt_and_serve
	khotest_stop vmm
	khotest_done
	;;
esac
