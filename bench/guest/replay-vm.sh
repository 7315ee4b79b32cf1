# SPDX-License-Identifier: GPL-2.0
# Guest side of bench/replay-vm.sh: one guest run, chained kexecs.  Stage k
# stages SIZES[k] mappings twice over and kexecs with the hook off
# (kho_agent=off): test-vmm stage builds the VMM's state and preserves its
# hand-off and guest-RAM memfd in session "kho-tool" for the agent, and
# bare-restore preserves a memfd of the same size, written the same way,
# in session "kho-bench-bare" for the bare side (one memfd cannot be in
# two sessions).  Stage k+1 then, in this order:
#  - times the bare ioctls once on a fresh memfd (test-vmm stage --raw):
#    the device's first open, bind and attach after boot cost more,
#    whoever does them; this run takes that, the "cold" figure;
#  - opens /dev/liveupdate once (bare-restore first-open): the first open
#    deserializes both sessions, which neither side should pay for the
#    other; timed apart;
#  - starts the agent and reads how long its one real restore took;
#  - replay-loop (bench/guest/replay-loop.c) adopts like a VMM and
#    alternates, ROUNDS times, the agent's replay + verify and the same
#    ioctls issued bare, on the same retrieved memfd and the same warm
#    device, and prints medians;
#  - bare-restore restore: retrieves its session and memfd with the raw
#    LUO ioctls and issues the same ioctls bare, timed end to end, once
#    (a session is retrieved once per boot, like the agent's).
#
# The guest has one CPU: anything this script runs while the agent
# restores is charged to the agent.  So it waits with shell builtins only
# (read with a timeout on a FIFO nobody writes), never forking a grep or
# a sleep per poll.
#
# bench/replay-vm.sh prepends "rounds=N" to this script.

sizes="1 64 4096"
chunk=16384
run=/run/kho-tool
# test-vmm stage's guest-RAM token ("ram0"): the bare session uses it too,
# and bare-restore retrieves the tokens the agent's hand-off names.
ram_token=0x72616d30

nth() { echo $sizes | cut -d' ' -f"$1"; }

if [ "$KHO_STAGE" -gt 1 ]; then
	n=$(nth $((KHO_STAGE - 1)))
	cold=$(test-vmm stage --raw --maps "$n" --chunk $chunk) ||
		khotest_fail "bench: $n maps: cold raw loop failed"
	echo "cold $cold"
	coldms=$(echo "$cold" | sed -n 's/.*maps-first \([0-9.]*\) ms.*/\1/p')
	first_open=$(bare-restore first-open) ||
		khotest_fail "bench: $n maps: first open of /dev/liveupdate failed"
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
	# A step missing from the log must fail on the host, not read as 0.
	step_ms() {
		v=$(sed -n "s/.*step $1 *\([0-9.]*\) ms.*/\1/p" $run/restore.log | tail -n 1)
		echo "${v:-missing}"
	}
	parts="session $(step_ms session) handoff $(step_ms hand-off) decode $(step_ms decode) memfds $(step_ms memfds) agent-replay $(step_ms replay) agent-verify $(step_ms verify)"
	rmaps=$(sed -n 's/.*step replay .* maps in \([0-9.]*\) ms.*/\1/p' $run/restore.log | tail -n 1)
	rbind=$(sed -n 's/.*step replay .*open+bind \([0-9.]*\) ms.*/\1/p' $run/restore.log | tail -n 1)
	ratt=$(sed -n 's/.*step replay .*, attach \([0-9.]*\) ms.*/\1/p' $run/restore.log | tail -n 1)
	replay-loop "${rounds:-7}" >/tmp/loop.out 2>&1 ||
		khotest_fail "bench: $n maps: replay-loop: $(cat /tmp/loop.out)"
	cat /tmp/loop.out
	loop=$(sed -n 's/^replay-loop: medians //p' /tmp/loop.out)
	bare-restore restore "${rounds:-7}" >/tmp/bare.out 2>&1 ||
		khotest_fail "bench: $n maps: bare-restore: $(cat /tmp/bare.out)"
	cat /tmp/bare.out
	bare=$(grep -E '^bare-(total|warm) ' /tmp/bare.out | tr '\n' ' ')
	raw_split() { echo "$1" | sed -n 's/.*(maps \([0-9.]*\), open+bind \([0-9.]*\), attach \([0-9.]*\)).*/\1 \2 \3/p'; }
	coldparts=$(raw_split "$cold")
	khotest_log "replay-$n=agent $agent $parts agentsplit $rmaps $rbind $ratt cold $coldms coldsplit $coldparts $loop $bare $first_open"
	khotest_mark "measured-$n"
fi

if [ "$KHO_STAGE" -le 3 ]; then
	n=$(nth "$KHO_STAGE")
	# First: test-vmm stage holds /dev/liveupdate until the kexec.
	bare-restore preserve $((n * chunk)) $ram_token >/tmp/bare-stage.out 2>&1 &
	i=0
	until grep -q '^bare-restore: ready' /tmp/bare-stage.out; do
		i=$((i + 1))
		[ "$i" -lt 1200 ] || khotest_fail "bench: bare stage $n: $(cat /tmp/bare-stage.out)"
		sleep 0.1
	done
	cat /tmp/bare-stage.out
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
