# SPDX-License-Identifier: GPL-2.0
# Guest side of bench/replay-vm.sh: one guest run, chained kexecs.  Stage k
# stages SIZES[k] mappings and kexecs with the hook off (kho_agent=off);
# stage k+1 first times the bare ioctls once (the device's first open,
# bind and attach after boot cost ~100 ms more, whoever does them), then
# starts the agent, reads how long it took to restore, lets the VMM adopt
# (so the device is free again) and times the same ioctls bare again
# (test-vmm stage --raw): agent and raw are then both warm.

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
	restore-agent </dev/null &
	i=0
	until grep -Eq '^(ready|held|failed|none)' $run/agent.status 2>/dev/null; do
		i=$((i + 1))
		[ "$i" -lt 1200 ] || khotest_fail "bench: $n maps: agent never answered"
		sleep 0.1
	done
	case "$(cat $run/agent.status)" in
	ready*) ;;
	*) cat $run/restore.log; khotest_fail "bench: $n maps: agent not ready: $(cat $run/agent.status)" ;;
	esac
	agent=$(sed -n 's/.*restored in \([0-9.]*\) ms.*/\1/p' $run/restore.log | tail -n 1)
	grep "step " $run/restore.log
	step_ms() { sed -n "s/.*step $1 *\([0-9.]*\) ms.*/\1/p" $run/restore.log | tail -n 1; }
	parts="decode $(step_ms decode) memfds $(step_ms memfds) replay $(step_ms replay) verify $(step_ms verify)"
	test-vmm restart >/tmp/restart.out 2>&1 ||
		khotest_fail "bench: $n maps: restart: $(cat /tmp/restart.out)"
	raw=$(test-vmm stage --raw --maps "$n" --chunk $chunk) ||
		khotest_fail "bench: $n maps: raw loop failed"
	echo "$raw"
	rawms=$(echo "$raw" | sed -n 's/.*maps-first \([0-9.]*\) ms.*/\1/p')
	rawatt=$(echo "$raw" | sed -n 's/.*attach-first \([0-9.]*\) ms.*/\1/p')
	khotest_log "replay-$n=agent $agent raw $rawms attach-first $rawatt $parts cold $coldms"
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
