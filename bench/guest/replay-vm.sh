# SPDX-License-Identifier: GPL-2.0
# Guest side of bench/replay-vm.sh: one guest run, chained kexecs.  Stage k
# stages SIZES[k] mappings and kexecs; stage k+1 reads how long the agent
# took to restore them, lets the VMM adopt (so the device is free again),
# and times the same ioctls issued bare (test-vmm stage --raw).

sizes="1 64 4096"
chunk=16384
run=/run/kho-tool

nth() { echo $sizes | cut -d' ' -f"$1"; }

if [ "$KHO_STAGE" -gt 1 ]; then
	n=$(nth $((KHO_STAGE - 1)))
	case "$(cat $run/agent.status)" in
	ready*) ;;
	*) cat $run/restore.log; khotest_fail "bench: $n maps: agent not ready: $(cat $run/agent.status)" ;;
	esac
	agent=$(sed -n 's/.*restored in \([0-9.]*\) ms.*/\1/p' $run/restore.log | tail -n 1)
	grep "step " $run/restore.log
	test-vmm restart >/tmp/restart.out 2>&1 ||
		khotest_fail "bench: $n maps: restart: $(cat /tmp/restart.out)"
	raw=$(test-vmm stage --raw --maps "$n" --chunk $chunk) ||
		khotest_fail "bench: $n maps: raw loop failed"
	echo "$raw"
	rawms=$(echo "$raw" | sed -n 's/.*maps-first \([0-9.]*\) ms.*/\1/p')
	rawatt=$(echo "$raw" | sed -n 's/.*attach-first \([0-9.]*\) ms.*/\1/p')
	khotest_log "replay-$n=agent $agent raw $rawms attach-first $rawatt"
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
	khotest_kexec vanilla
fi
khotest_done
