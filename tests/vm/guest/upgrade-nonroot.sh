# SPDX-License-Identifier: GPL-2.0
# Issue #21 item 4: the whole cycle with a VMM that is not root (uid 1000).
# Stage 1 (vanilla) starts the test VMM as uid 1000 under the recorder,
# its journal socket in a run directory of its own, and upgrades into the
# patched kernel with kho_agent.uid=1000; stage 2 adopts as uid 1000 with
# the token its launcher (this root shell) hands it through an inherited
# fd, checks the RAM and the DMA, and rolls back, which captures the
# adopted state only if the VMM's recorder journaled it (from the
# hand-off copy the agent sent: the VMM cannot read handoff.fdt); stage 3
# (vanilla) adopts as uid 1000 again.
initrd=$(khotest_initrd)
run=/run/kho-tool
uid=1000
# The recorder of a VMM that is not root serves its journal here, and
# kho-tool is told so (KHO_RUN_DIR): /run/kho-tool is root's.
vmmrun=/run/kho-vmm-$uid
target=/boot/vmlinuz-patched

# check_user_vmm PID: the VMM runs as uid 1000, and its recorder took
# over the adopted state (no kho-record: complaint).
check_user_vmm() {
	[ "$(stat -c %u /proc/$1)" = $uid ] ||
		khotest_fail "stage $KHO_STAGE: the VMM runs as uid $(stat -c %u /proc/$1), not $uid"
	grep -q 'kho-record: ' /tmp/vmm.log &&
		khotest_fail "stage $KHO_STAGE: the recorder of the uid $uid VMM did not journal the adopted state"
	true
}

# adopt_as_user: the launcher opens the token (root's, 0600) and starts
# the VMM as uid 1000 with that fd; it adopts, finds its RAM intact and
# passes the edu DMA check, and serves on under the recorder.
adopt_as_user() {
	cat $run/restore.log
	wait_for $run/agent.status '^ready' 60 ||
		khotest_fail "stage $KHO_STAGE: agent not ready: $(cat $run/agent.status)"
	[ "$(stat -c %u $run/agent.sock)" = $uid ] ||
		khotest_fail "stage $KHO_STAGE: agent.sock belongs to uid $(stat -c %u $run/agent.sock)"
	khotest_vmm_user $uid $vmmrun
	exec 3<$run/adopt.token
	khotest_start vmm test-vmm run-as $uid env LD_PRELOAD="$KHOTEST_RECORDER" \
		KHO_RUN_DIR=$vmmrun test-vmm restart --token-fd 3 --hold
	exec 3<&-
	grep -q 'bytes intact' /tmp/vmm.log ||
		khotest_fail "stage $KHO_STAGE: the guest-RAM pattern did not survive"
	grep -q 'DMA check passed' /tmp/vmm.log ||
		khotest_fail "stage $KHO_STAGE: no DMA check after adoption"
	check_user_vmm "$KHOTEST_PID"
	wait_for $run/agent.status '^finished' 10 ||
		khotest_fail "stage $KHO_STAGE: agent did not finish: $(cat $run/agent.status)"
	khotest_mark "adopted-as-$uid-stage$KHO_STAGE"
}

case "$KHO_STAGE" in
1)
	khotest_vmm_user $uid $vmmrun
	chown $uid /dev/iommu /dev/vfio/devices/*
	khotest_start vmm test-vmm run-as $uid env LD_PRELOAD="$KHOTEST_RECORDER" \
		KHO_RUN_DIR=$vmmrun test-vmm serve --maps 64
	check_user_vmm "$KHOTEST_PID"
	khotest_mark serving-as-$uid
	KHO_RUN_DIR=$vmmrun kho-tool upgrade --kernel "$target" --initrd "$initrd" \
		--append "khotest.stage=2 kho_agent.uid=$uid" --pid "$KHOTEST_PID" --json
	khotest_fail "upgrade returned"
	;;
2)
	case "$(uname -r)" in *-kho-b) ;; *) khotest_fail "stage 2 runs $(uname -r), not the patched kernel" ;; esac
	adopt_as_user
	# The second upgrade: back to vanilla, from the adopted VMM's journal.
	KHO_RUN_DIR=$vmmrun kho-tool rollback --initrd "$initrd" \
		--append "khotest.stage=3 kho_agent.uid=$uid" --pid "$KHOTEST_PID" \
		--userspace-journal --json
	khotest_fail "rollback returned"
	;;
3)
	case "$(uname -r)" in *-kho-a) ;; *) khotest_fail "stage 3 runs $(uname -r), not vanilla" ;; esac
	adopt_as_user
	khotest_stop vmm
	khotest_done
	;;
esac
