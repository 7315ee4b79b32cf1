# SPDX-License-Identifier: GPL-2.0
# Guest side of bench/replay-vm.sh: one guest run, chained kexecs.  Stage k
# stages SIZES[k] mappings and kexecs with the hook off (kho_agent=off);
# stage k+1 first times the bare ioctls once (the device's first open,
# bind and attach after boot cost ~100 ms more, whoever does them: this
# run takes that, so that agent and raw are both measured warm), then
# starts the agent, reads how long it took to restore, lets the VMM adopt
# (so the device is free again) and times the same ioctls bare again
# (test-vmm stage --raw).
#
# The guest has one CPU: anything this script runs while the agent
# restores is charged to the agent.  So it waits with shell builtins only
# (read with a timeout on a FIFO nobody writes), never forking a grep or
# a sleep per poll.

sizes="1 64 4096"
chunk=16384
run=/run/kho-tool

nth() { echo $sizes | cut -d' ' -f"$1"; }

if [ "$KHO_STAGE" -gt 1 ]; then
	n=$(nth $((KHO_STAGE - 1)))
	cold=$(test-vmm stage --raw --maps "$n" --chunk $chunk) ||
		khotest_fail "bench: $n maps: cold raw loop failed"
	echo "cold $cold"
	coldms=$(echo "$cold" | sed -n 's/.*maps-first \([0-9.]*\) ms.*/\1/p')
	mkdir -p $run
	rm -f $run/agent.status /tmp/tick
	mkfifo /tmp/tick
	exec 3<>/tmp/tick
	restore-agent </dev/null 2>/tmp/agent.err &
	i=0
	st=
	while :; do
		read -t 0.05 -u 3 _ || :
		if [ -e $run/agent.status ]; then
			read -r st <$run/agent.status || :
		fi
		case "$st" in ready* | held* | failed* | none*) break ;; esac
		i=$((i + 1))
		[ "$i" -lt 2400 ] || khotest_fail "bench: $n maps: agent never answered"
	done
	exec 3>&-
	cat /tmp/agent.err
	case "$st" in
	ready*) ;;
	*) cat $run/restore.log; khotest_fail "bench: $n maps: agent not ready: $st" ;;
	esac
	grep -E "step |restored in" $run/restore.log
	agent=$(sed -n 's/.*restored in \([0-9.]*\) ms.*/\1/p' $run/restore.log | tail -n 1)
	step_ms() {
		v=$(sed -n "s/.*step $1 *\([0-9.]*\) ms.*/\1/p" $run/restore.log | tail -n 1)
		echo "${v:-0}"
	}
	parts="session $(step_ms session) handoff $(step_ms hand-off) decode $(step_ms decode) memfds $(step_ms memfds) replay $(step_ms replay) verify $(step_ms verify)"
	rmaps=$(sed -n 's/.*step replay .* maps in \([0-9.]*\) ms.*/\1/p' $run/restore.log | tail -n 1)
	rbind=$(sed -n 's/.*step replay .*open+bind \([0-9.]*\) ms.*/\1/p' $run/restore.log | tail -n 1)
	ratt=$(sed -n 's/.*step replay .*, attach \([0-9.]*\) ms.*/\1/p' $run/restore.log | tail -n 1)
	test-vmm restart >/tmp/restart.out 2>&1 ||
		khotest_fail "bench: $n maps: restart: $(cat /tmp/restart.out)"
	raw=$(test-vmm stage --raw --maps "$n" --chunk $chunk) ||
		khotest_fail "bench: $n maps: raw loop failed"
	echo "$raw"
	rawms=$(echo "$raw" | sed -n 's/.*maps-first \([0-9.]*\) ms.*/\1/p')
	rawatt=$(echo "$raw" | sed -n 's/.*attach-first \([0-9.]*\) ms.*/\1/p')
	raw_split() { echo "$1" | sed -n 's/.*(maps \([0-9.]*\), open+bind \([0-9.]*\), attach \([0-9.]*\)).*/\1 \2 \3/p'; }
	rawparts=$(raw_split "$raw")
	coldparts=$(raw_split "$cold")
	khotest_log "replay-$n=agent $agent raw $rawms attach-first $rawatt $parts cold $coldms agentsplit $rmaps $rbind $ratt rawsplit $rawparts coldsplit $coldparts"
	khotest_mark "measured-$n"
fi

if [ "$KHO_STAGE" -le 3 ]; then
	n=$(nth "$KHO_STAGE")
	test-vmm stage --maps "$n" --chunk $chunk >/tmp/stage.out 2>&1 &
	i=0
	until grep -q '^test-vmm: ready' /tmp/stage.out; do
		i=$((i + 1))
		[ "$i" -lt 1200 ] || khotest_fail "bench: stage $n: $(cat /tmp/stage.out)"
		sleep 0.1
	done
	cat /tmp/stage.out
	khotest_kexec vanilla kho_agent=off
fi
khotest_done
