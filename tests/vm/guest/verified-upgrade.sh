# SPDX-License-Identifier: GPL-2.0
# patched -> patched upgrade with the VMM's iommufd preserved: stage 1 runs
# the test VMM under the recorder (64 live maps after 1,000 map/unmap
# cycles) and upgrades; stage 2's restore-agent replays the whole journal
# into the restoring iommufd, the kernel verifies every record, and the
# VMM adopts under the recorder and passes the edu DMA check on the
# preserved memory; it is then upgraded a second time (stage 3), which
# only compares equal with the kernel if the recorder took the adopted
# iommufd's kernel journal over.
. /test/verified-lib.sh
# The kernel both upgrades go to: the patched one, or the one 090's debug
# test ships (/test/verified.env).
target=/boot/vmlinuz-patched
[ -r /test/verified.env ] && . /test/verified.env
case "$KHO_STAGE" in
1)
	khotest_start vmm env LD_PRELOAD="$KHOTEST_RECORDER" test-vmm serve --maps 64 --churn 1000
	khotest_mark serving
	kho-tool upgrade --kernel "$target" --initrd "$(khotest_initrd)" \
		--append "khotest.stage=2" --pid "$KHOTEST_PID" --json
	khotest_fail "upgrade returned"
	;;
2)
	grep -q 'restore: kernel verified the replay' $run/restore.log ||
		{ cat $run/restore.log; khotest_fail "the agent did not take the kernel-verified path"; }
	cat $run/restore.log
	wait_for $run/agent.status '^ready' 60 ||
		khotest_fail "agent not ready: $(cat $run/agent.status)"
	# The VMM adopts under the recorder and keeps serving: the recorder
	# must start from the kernel's journal of the adopted iommufd (the
	# whole replay, not the plan), or the next capture would not compare
	# equal with the kernel.
	khotest_start vmm env LD_PRELOAD="$KHOTEST_RECORDER" test-vmm restart --hold
	grep -q 'bytes intact' /tmp/vmm.log ||
		khotest_fail "guest RAM not intact after the restore"
	grep -q 'DMA check passed' /tmp/vmm.log ||
		khotest_fail "no edu DMA check after the adoption"
	grep -q 'kho-record: ' /tmp/vmm.log &&
		khotest_fail "the recorder could not take over the adopted state"
	wait_for $run/agent.status '^finished' 10 ||
		khotest_fail "agent did not finish the session: $(cat $run/agent.status)"
	khotest_mark adopted-verified
	# A second upgrade of the adopted VMM, verified by the kernel again.
	kho-tool upgrade --kernel "$target" --initrd "$(khotest_initrd)" \
		--append "khotest.stage=3" --pid "$KHOTEST_PID" --json
	khotest_fail "second upgrade returned"
	;;
3)
	grep -q 'restore: kernel verified the replay' $run/restore.log ||
		{ cat $run/restore.log; khotest_fail "the second restore did not take the kernel-verified path"; }
	adopt_after_restore
	khotest_mark adopted-verified-again
	khotest_done
	;;
esac
