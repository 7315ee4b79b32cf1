# SPDX-License-Identifier: GPL-2.0
# The whole path: stage 1 (vanilla) runs the test VMM under the recorder and
# upgrades into the patched kernel; stage 2 lets the restore-agent restore,
# the VMM adopt and check DMA, then rolls back; stage 3 (vanilla again)
# adopts and checks once more.  khotest.churn=N on the command line (it
# carries over to every stage) has the first VMM map and unmap N times.
initrd=$(khotest_initrd)
# The kernel upgraded to: the patched one, or the one 060's debug test
# ships (/test/upgrade.env).
target=/boot/vmlinuz-patched
[ -r /test/upgrade.env ] && . /test/upgrade.env
churn=0
for word in $(cat /proc/cmdline); do
	case "$word" in khotest.churn=*) churn=${word#*=} ;; esac
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
	khotest_start vmm env LD_PRELOAD="$KHOTEST_RECORDER" test-vmm serve --maps 64 --churn "$churn"
	khotest_mark serving
	kho-tool upgrade --kernel "$target" --initrd "$initrd" \
		--append "khotest.stage=2" --pid "$KHOTEST_PID" --json
	khotest_fail "upgrade returned"
	;;
2)
	case "$(uname -r)" in *-kho-b | *-kho-b-dbg) ;; *) khotest_fail "stage 2 runs $(uname -r), not the patched kernel" ;; esac
	adopt_and_serve
	[ "$churn" = 0 ] || { khotest_stop vmm; khotest_done; exit 0; }
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
