# SPDX-License-Identifier: GPL-2.0
# Faults around the restore (tests/vm/075-faults.bats), case chosen by
# khotest.fault=kill|kill-keeper|sigterm|oom|second-kexec|bad-plan.  Stage 1 stages
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

if [ "$KHO_STAGE" = 1 ]; then
	sargs=
	extra=
	case "$fault" in
	# Step 5 is the 4th of the 8 maps; step 11 the ATTACH, after the BIND.
	kill|kill-keeper) extra=kho_agent.stop_at=5 ;;
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
		rc=0
		kho-tool $cmd --initrd "$initrd" >/tmp/kexec2.out 2>&1 || rc=$?
		cat /tmp/kexec2.out
		[ "$rc" = 1 ] || khotest_fail "kho-tool $cmd exited $rc, expected a refusal (1)"
		grep -Eq "preflight-running: session 'kho-tool' is held by restore-agent pid [0-9]+, [0-9]+ and not adopted by any VMM \(agent.status: ready .*\): a kexec now would lose 1 guest-RAM memfd\(s\), 524288 bytes \(first: token [0-9]+ 'test-vmm-ram'\)" /tmp/kexec2.out ||
			khotest_fail "kho-tool $cmd did not name what a kexec would lose"
	done
	khotest_mark second-kexec-refused
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
