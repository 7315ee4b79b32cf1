# SPDX-License-Identifier: GPL-2.0
# A kernel-verified restore that fails mid-replay and is retried: stage 1
# upgrades patched -> patched with kho_agent.fail_at=100, so stage 2's
# agent stops before journal record 100; the kernel's progress stays at 99
# (RESTORING), the session is held unfinished, a VMM is refused; then
# `restore-agent --retry` takes over the restoring iommufd, the device fds
# and the ID map, resumes at record 100 and reaches VERIFIED, and the VMM
# adopts intact memory.
. /test/verified-lib.sh
case "$KHO_STAGE" in
1)
	khotest_start vmm env LD_PRELOAD="$KHOTEST_RECORDER" test-vmm serve --maps 64 --churn 200
	khotest_mark serving
	kho-tool upgrade --kernel /boot/vmlinuz-patched --initrd "$(khotest_initrd)" \
		--append "khotest.stage=2 kho_agent.fail_at=100" --pid "$KHOTEST_PID" --json
	khotest_fail "upgrade returned"
	;;
2)
	cat $run/restore.log
	grep -Eq '^held .*record 100 of [0-9]+ \(' $run/agent.status ||
		khotest_fail "agent status '$(cat $run/agent.status)', expected held at record 100"
	grep -Eq 'error: .*record 100 of [0-9]+ \(IOAS_[A-Z_]+ IOAS [0-9]+ .*\): EIO \(injected failure before record 100\)' $run/restore.log ||
		khotest_fail "restore.log does not name record 100, its op, object and EIO"
	grep -Eq 'the restoring iommufd stays RESTORING with 99 of [0-9]+ records matched' $run/restore.log ||
		khotest_fail "the kernel's progress is not 99 records, RESTORING"
	khotest_log "held=$(cat $run/agent.status)"
	khotest_mark held
	! test-vmm restart > /tmp/refused.out 2>&1 || khotest_fail "a VMM adopted from a failed restore"
	grep -q refused /tmp/refused.out || khotest_fail "the VMM was not told the restore failed"
	restore-agent --retry </dev/null &
	wait_for $run/agent.status '^ready' 60 ||
		khotest_fail "retry did not restore: $(cat $run/agent.status)"
	grep -q 'restore: resumed at record 100: the kernel had matched 99 records before' $run/restore.log ||
		khotest_fail "the retry did not resume at record 100"
	khotest_mark retried
	adopt_after_restore
	khotest_mark adopted-after-retry
	khotest_done
	;;
esac
