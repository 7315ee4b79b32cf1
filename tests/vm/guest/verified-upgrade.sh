# SPDX-License-Identifier: GPL-2.0
# patched -> patched upgrade with the VMM's iommufd preserved: stage 1 runs
# the test VMM under the recorder (64 live maps after 1,000 map/unmap
# cycles) and upgrades; stage 2's restore-agent replays the whole journal
# into the restoring iommufd, the kernel verifies every record, and the
# VMM adopts and passes the edu DMA check on the preserved memory.
. /test/verified-lib.sh
case "$KHO_STAGE" in
1)
	khotest_start vmm env LD_PRELOAD="$KHOTEST_RECORDER" test-vmm serve --maps 64 --churn 1000
	khotest_mark serving
	kho-tool upgrade --kernel /boot/vmlinuz-patched --initrd "$(khotest_initrd)" \
		--append "khotest.stage=2" --pid "$KHOTEST_PID" --json
	khotest_fail "upgrade returned"
	;;
2)
	grep -q 'restore: kernel verified the replay' $run/restore.log ||
		{ cat $run/restore.log; khotest_fail "the agent did not take the kernel-verified path"; }
	adopt_after_restore
	khotest_mark adopted-verified
	khotest_done
	;;
esac
