# SPDX-License-Identifier: GPL-2.0
# A kernel-verified restore that fails mid-replay and is retried.
# khotest.inject= on the command line (it carries over to stage 2) picks
# the failure at journal record 40:
#   fail     (default) kho_agent.fail_at=40: the agent stops before it
#            with EIO;
#   deviate  kho_agent.deviate_at=40: the agent replays it one page off
#            its recorded IOVA and the kernel refuses it with EILSEQ.
# Either way the kernel's progress stays at 39 (RESTORING), the session is
# held unfinished, a VMM is refused; then `restore-agent --retry` takes
# over the restoring iommufd, the device fds and the ID map, resumes at
# record 40 and reaches VERIFIED, and the VMM adopts intact memory.
. /test/verified-lib.sh
inject=fail
for word in $(cat /proc/cmdline); do
	case "$word" in khotest.inject=*) inject=${word#*=} ;; esac
done
case "$inject" in
fail) hook=kho_agent.fail_at=40
      cause='EIO \(injected failure before record 40\)' ;;
deviate) hook=kho_agent.deviate_at=40
      cause='EILSEQ.*: the kernel refused it: the replay deviates from the preserved journal' ;;
kill) hook=kho_agent.stop_at=67 ;;
*) khotest_fail "unknown khotest.inject=$inject" ;;
esac

case "$KHO_STAGE" in
1)
	khotest_start vmm env LD_PRELOAD="$KHOTEST_RECORDER" test-vmm serve --maps 64 --churn 200
	khotest_mark serving
	kho-tool upgrade --kernel /boot/vmlinuz-patched --initrd "$(khotest_initrd)" \
		--append "khotest.stage=2 $hook" --pid "$KHOTEST_PID" --json
	khotest_fail "upgrade returned"
	;;
2)
	if [ "$inject" = kill ]; then
		cat $run/agent.status
		pid=$(sed -n 's/^stopped before replay step [0-9]*: pid \([0-9]*\) .*/\1/p' $run/agent.status)
		[ -n "$pid" ] || khotest_fail "the agent did not stop at record 67: $(cat $run/agent.status)"
		kill -9 "$pid"
		wait_for $run/agent.status '^held ' 30 ||
			khotest_fail "no keeper took the session: '$(cat $run/agent.status)'"
		cat $run/restore.log
		khotest_mark killed
		restore-agent </dev/null &
		wait_for $run/agent.status '^ready' 60 ||
			khotest_fail "restart did not restore: $(cat $run/agent.status)"
		cat $run/restore.log
		khotest_mark retried
		adopt_after_restore
		khotest_mark adopted-after-retry
		khotest_done
		exit 0
	fi
	cat $run/restore.log
	grep -Eq '^held .*record 40 of [0-9]+ \(' $run/agent.status ||
		khotest_fail "agent status '$(cat $run/agent.status)', expected held at record 40"
	grep -Eq "error: .*record 40 of [0-9]+ \\(IOAS_[A-Z_]+ IOAS [0-9]+ .*\\): .*$cause" $run/restore.log ||
		khotest_fail "restore.log does not name record 40, its op, object and the cause ($inject)"
	grep -Eq 'the restoring iommufd stays RESTORING with 39 of [0-9]+ records matched' $run/restore.log ||
		khotest_fail "the kernel's progress is not 39 records, RESTORING"
	khotest_log "held=$(cat $run/agent.status)"
	khotest_mark held
	! test-vmm restart > /tmp/refused.out 2>&1 || khotest_fail "a VMM adopted from a failed restore"
	grep -q refused /tmp/refused.out || khotest_fail "the VMM was not told the restore failed"
	restore-agent --retry </dev/null &
	wait_for $run/agent.status '^ready' 60 ||
		khotest_fail "retry did not restore: $(cat $run/agent.status)"
	grep -q 'restore: resumed at record 40: the kernel had matched 39 records before' $run/restore.log ||
		khotest_fail "the retry did not resume at record 40"
	khotest_mark retried
	adopt_after_restore
	khotest_mark adopted-after-retry
	khotest_done
	;;
esac
