# SPDX-License-Identifier: GPL-2.0
# Faults around the restore (tests/vm/075-faults.bats), case chosen by
# khotest.fault=kill|kill-keeper|sigterm|oom|second-kexec|bad-plan|
# disk-full|read-only.  Stage 1 stages
# the VMM's state (guest/restore-lib.sh) and kexecs; stage 2 inflicts the
# fault on the agent the initramfs hook started, and then a VMM must
# adopt the guest RAM byte for byte with the edu DMA working through the
# restored IOAS.

. /test/restore-lib.sh

fault=$(khotest_cmdline_value khotest.fault kill)

# agent_pids: the live processes named @restore-agent (keeper, worker).
agent_pids() {
	local p

	for p in /proc/[0-9]*; do
		[ "$(tr '\0' '\n' <"$p/cmdline" 2>/dev/null | head -n 1)" = @restore-agent ] &&
			echo "${p#/proc/}"
	done
}

# stopped_pid: the worker the --stop-at hook stopped, from its status.
stopped_pid() {
	sed -n 's/^stopped before replay step [0-9]*: pid \([0-9]*\) .*/\1/p' \
		$run/agent.status
}

# expect_oom_protected: every agent process reads back oom_score_adj -1000.
expect_oom_protected() {
	local p n=0

	for p in $(agent_pids); do
		[ "$(cat /proc/$p/oom_score_adj)" = -1000 ] ||
			khotest_fail "agent pid $p: oom_score_adj $(cat /proc/$p/oom_score_adj), not -1000"
		n=$((n + 1))
	done
	[ "$n" = 2 ] || khotest_fail "expected a keeper and a worker, found $n agent process(es)"
	grep -q "oom: oom_score_adj -1000 (read back)" $run/restore.log ||
		khotest_fail "the agent did not log its oom_score_adj"
	khotest_log "agent-pids=$(agent_pids | tr '\n' ' ')"
}

# expect_agents_gone: after the adoption both processes exit.
expect_agents_gone() {
	local i=0

	while [ -n "$(agent_pids)" ]; do
		[ "$i" -lt 100 ] || khotest_fail "agent processes left after adoption: $(agent_pids)"
		sleep 0.1
		i=$((i + 1))
	done
}

# dmesg_has ERE: the kernel log has a line matching ERE.
dmesg_has() {
	dmesg | grep -Eq "$1"
}

# expect_whole_files STATUS: the writes that failed left no temporary
# file, and agent.status is still STATUS, whole.
expect_whole_files() {
	ls -la $run
	! ls $run | grep -q '\.tmp\.' || khotest_fail "temporary files left: $(ls $run)"
	[ "$(cat $run/agent.status)" = "$1" ] ||
		khotest_fail "agent.status is '$(cat $run/agent.status)', not the whole old '$1'"
}

if [ "$KHO_STAGE" = 1 ]; then
	sargs=
	extra=
	case "$fault" in
	# Step 5 is the 4th of the 8 maps; step 11 the ATTACH, after the BIND.
	kill|kill-keeper|disk-full|read-only) extra=kho_agent.stop_at=5 ;;
	sigterm) extra=kho_agent.stop_at=11 ;;
	oom|second-kexec) ;;
	bad-plan) sargs=--unknown-pt ;;
	*) khotest_fail "unknown khotest.fault=$fault" ;;
	esac
	stage_vmm $sargs
	khotest_kexec vanilla khotest.fault=$fault $extra
fi

status=$(cat $run/agent.status)
echo "faults: agent status '$status'"
case "$fault" in
kill)
	pid=$(stopped_pid)
	[ -n "$pid" ] || khotest_fail "the agent did not stop halfway: '$status'"
	khotest_mark stopped-halfway
	kill -9 "$pid"
	wait_for $run/agent.status '^held ' 30 ||
		khotest_fail "no keeper took the session: '$(cat $run/agent.status)'"
	cat $run/restore.log
	khotest_mark killed
	# A plain restart (no --retry) takes the session over and restores.
	expect_restart "worker pid $pid killed by SIGKILL \(signal 9\) after step keeper"
	grep -q "session 'kho-tool' is held by a failed agent: taking it over" $run/restore.log ||
		khotest_fail "the restart did not take the session over"
	expect_adopted
	;;
kill-keeper)
	# The other half: the keeper dies, the worker's own copies carry on.
	pid=$(stopped_pid)
	[ -n "$pid" ] || khotest_fail "the agent did not stop halfway: '$status'"
	keeper=$(agent_pids | grep -vx "$pid")
	[ -n "$keeper" ] || khotest_fail "no keeper next to worker pid $pid"
	kill -9 "$keeper"
	kill -CONT "$pid"
	khotest_mark keeper-killed
	wait_for $run/agent.status '^ready' 60 ||
		khotest_fail "without its keeper the worker did not restore: '$(cat $run/agent.status)'"
	cat $run/restore.log
	expect_adopted
	;;
sigterm)
	pid=$(stopped_pid)
	[ -n "$pid" ] || khotest_fail "the agent did not stop after its BIND: '$status'"
	pids=$(agent_pids | tr '\n' ' ')
	# What systemd's switch-root sends every process it does not spare:
	# SIGTERM, then SIGCONT so that a stopped one receives it.
	kill -TERM $pids
	kill -CONT $pids
	khotest_mark terminated
	wait_for $run/agent.status '^ready' 60 ||
		khotest_fail "after SIGTERM the restore did not complete: '$(cat $run/agent.status)'"
	cat $run/restore.log
	grep -q "SIGTERM received by pid $pid: deferred" $run/restore.log ||
		khotest_fail "the worker did not log the deferred SIGTERM"
	for p in $pids; do
		kill -0 "$p" || khotest_fail "agent pid $p ended on SIGTERM"
	done
	khotest_mark survived
	expect_adopted
	expect_agents_gone
	;;
oom)
	case "$status" in ready*) ;; *) khotest_fail "agent not ready: $status" ;; esac
	expect_oom_protected
	pids=$(agent_pids | tr '\n' ' ')
	# Every other task out of the OOM killer's reach: the agent would be
	# its only choice, were it not at -1000.
	for p in /proc/[0-9]*; do
		case " $pids " in *" ${p#/proc/} "*) continue ;; esac
		echo -1000 >"$p/oom_score_adj" 2>/dev/null || :
	done
	echo f >/proc/sysrq-trigger
	i=0
	until dmesg | grep -q "OOM request ignored\|Killed process"; do
		[ "$i" -lt 100 ] || khotest_fail "sysrq f: the OOM killer did not answer"
		sleep 0.1
		i=$((i + 1))
	done
	dmesg | grep "OOM request ignored\|Killed process\|invoked oom-killer"
	! dmesg | grep -q "Killed process" || khotest_fail "the OOM killer killed: $(dmesg | grep 'Killed process')"
	for p in $pids; do
		kill -0 "$p" || khotest_fail "agent pid $p is gone after the OOM killer ran"
	done
	khotest_mark oom-survived
	expect_adopted
	;;
second-kexec)
	case "$status" in ready*) ;; *) khotest_fail "agent not ready: $status" ;; esac
	khotest_mark agent-ready
	# Nobody adopted: a second kexec now would drop the session.
	initrd=$(khotest_initrd)
	for cmd in "rollback --kernel /boot/vmlinuz-vanilla" \
		   "upgrade --kernel /boot/vmlinuz-patched"; do
		khotest_refused /tmp/kexec2.out "second kexec" \
			kho-tool $cmd --initrd "$initrd"
		grep -Eq "preflight-running: session 'kho-tool' is held by restore-agent pid [0-9]+, [0-9]+ and not adopted by any VMM \(agent.status: ready .*\): a kexec now would lose 1 guest-RAM memfd\(s\), 524288 bytes \(first: token [0-9]+ 'test-vmm-ram'\)" /tmp/kexec2.out ||
			khotest_fail "kho-tool $cmd did not name what a kexec would lose"
	done
	khotest_mark second-kexec-refused
	expect_adopted
	;;
disk-full)
	# /run shrunk to what it holds and the rest filled while the worker
	# is halfway: every file the agent writes from here gets ENOSPC.
	pid=$(stopped_pid)
	[ -n "$pid" ] || khotest_fail "the agent did not stop halfway: '$status'"
	used=$(df -k /run | awk 'NR == 2 { print $3 }')
	mount -o remount,size=$((used + 64))k /run ||
		khotest_fail "cannot shrink /run to ${used}k"
	dd if=/dev/zero of=/run/filler bs=4096 2>/dev/null || :
	echo x >/run/probe 2>/dev/null && khotest_fail "/run is not full"
	df -k /run
	khotest_mark run-full
	kill -CONT "$pid"
	khotest_wait 60 test -S $run/agent.sock ||
		khotest_fail "with /run full the agent did not serve: $(dmesg | grep restore-agent | tail -n 5)"
	expect_vmm_adopted
	dmesg | grep 'restore-agent: ' | grep -i 'ENOSPC\|No space' ||
		khotest_fail "the agent logged no ENOSPC"
	dmesg | grep -q "restore-agent: .*$run/handoff.fdt.*ENOSPC" ||
		khotest_fail "the agent did not name handoff.fdt and ENOSPC"
	dmesg | grep -q "restore-agent: status .*agent.status.*ENOSPC" ||
		khotest_fail "the agent did not name agent.status and ENOSPC"
	expect_whole_files "$status"
	rm -f /run/filler
	khotest_mark files-whole
	;;
read-only)
	# /run read-only while the worker is halfway: it cannot create its
	# socket or any file; the session must wait for a writable /run.
	pid=$(stopped_pid)
	[ -n "$pid" ] || khotest_fail "the agent did not stop halfway: '$status'"
	mount -o remount,ro /run || khotest_fail "cannot remount /run read-only"
	khotest_mark run-read-only
	kill -CONT "$pid"
	khotest_wait 60 dmesg_has "restore-agent: .*EROFS" ||
		khotest_fail "the agent did not report EROFS: $(dmesg | grep restore-agent | tail -n 5)"
	dmesg | grep 'restore-agent: ' | tail -n 8
	expect_whole_files "$status"
	mount -o remount,rw /run || khotest_fail "cannot remount /run read-write"
	khotest_mark run-writable
	# The agent has been retrying its socket: it serves, nothing lost.
	wait_for $run/agent.status '^ready' 10 ||
		khotest_fail "with /run writable again the agent did not serve: $(cat $run/agent.status)"
	dmesg | grep 'restore-agent: ' | tail -n 4
	grep -q "adopt: $run/agent.sock created after [0-9]* failed attempt" $run/restore.log ||
		khotest_fail "the agent did not say it created its socket late"
	# The copies rollback needs, written again once they could be.
	kho-tool validate $run/handoff.fdt || khotest_fail "no whole handoff.fdt after /run came back"
	[ -s $run/previous-kernel ] || khotest_fail "no previous-kernel after /run came back"
	expect_adopted
	;;
bad-plan)
	pat="replay: plan record [0-9]+ \(DEVICE_ATTACH_IOMMUFD_PT\): pt 99: ENOENT \(no record of the plan makes it\); refused before the first ioctl, no device bound"
	grep -Eq "^held $pat" $run/agent.status ||
		khotest_fail "agent status '$(cat $run/agent.status)', expected held: $pat"
	# Refused before the replay's first ioctl: nothing was bound.
	! grep -q "step replay .* ok" $run/restore.log || khotest_fail "the replay ran"
	grep -Eq "step replay .* ENOENT: .*refused before the first ioctl" $run/restore.log ||
		khotest_fail "the replay step does not say it refused before any ioctl"
	# validate finds it in the agent's copy, the way journal --compact does.
	rc=0
	kho-tool validate $run/handoff.fdt >/tmp/validate.out 2>&1 || rc=$?
	cat /tmp/validate.out
	[ "$rc" = 1 ] || khotest_fail "kho-tool validate exited $rc on the bad plan"
	grep -Eq "invalid: replay plan cannot be replayed: plan record [0-9]+ \(DEVICE_ATTACH_IOMMUFD_PT\): pt 99: ENOENT" /tmp/validate.out ||
		khotest_fail "validate did not name the record and the object"
	kho-tool journal --compact $run/handoff.fdt >/tmp/compact.out 2>&1 &&
		khotest_fail "journal --compact accepted the bad plan"
	cat /tmp/compact.out
	kho-tool validate $good || khotest_fail "validate refused the good copy"
	khotest_mark refused-before-bind
	expect_restart "$pat" --retry --handoff "$good"
	expect_adopted
	;;
esac
khotest_done
