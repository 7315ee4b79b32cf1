# SPDX-License-Identifier: GPL-2.0
# Guest side of bench/order-vm.sh's agent run: the restore-agent's real
# restore of a hand-off of MAPS mappings staged by an auto-domain VMM
# (ATTACH to the IOAS) against one staged by an explicit-HWPT VMM
# (IOMMU_HWPT_ALLOC, ATTACH to that HWPT: test-vmm stage --hwpt), whose
# plan the replay then runs hwpt-first.  One guest run, boots chained by
# kexec (the hook off, kho_agent=off), SEQ naming each boot's staging:
#
#   boot 1: stage SEQ[1]
#   boot k: agent restores SEQ[k-1], test-vmm restart adopts it (DMA
#           check), stage SEQ[k]
#
# The agent's restore, from its start to "ready", is bracketed by markers
# in the edu's config space (order-loop mark R P; P 10 begins and 11 ends
# an auto-domain restore, 12 and 13 an explicit-HWPT one, R the boot), so
# the host counts the VT-d invalidations of each restore in QEMU's trace.
# The guest has one CPU: while the agent restores, this script waits with
# shell builtins only (khotest_agent_ready, tests/vm/guest/lib.sh).
#
# bench/order-vm.sh prepends "maps=M chunk=C seq=\"auto hwpt ...\"
# kernel=K", K the kernel every boot runs (vanilla or patched).
run=/run/kho-tool

nth() {
	[ "$1" -ge 1 ] || return 0
	echo $seq | awk -v k="$1" '{ print $k }'
}
stage_kind=$(nth "$KHO_STAGE")
agent_kind=$(nth $((KHO_STAGE - 1)))

if [ -n "$agent_kind" ]; then
	case "$agent_kind" in auto) ph=10 ;; hwpt) ph=12 ;; *) khotest_fail "bench: seq '$agent_kind'" ;; esac
	order-loop mark "$KHO_STAGE" "$ph" || khotest_fail "bench: marker $ph"
	khotest_agent_ready
	order-loop mark "$KHO_STAGE" $((ph + 1)) || khotest_fail "bench: marker $((ph + 1))"
	khotest_agent_restored "bench: $agent_kind"
	agent=$agent_ms
	rline=$(grep 'step replay ' $run/restore.log | tail -n 1)
	replay=$(echo "$rline" | sed -n 's/.*step replay *\([0-9.]*\) ms.*/\1/p')
	ioctls=$(echo "$rline" | sed -n 's/.* ok: \([0-9]*\) ioctls.*/\1/p')
	halloc=$(echo "$rline" | sed -n 's/.* HWPT alloc(s) \([0-9.]*\) ms.*/\1/p')
	attach=$(echo "$rline" | sed -n 's/.*, attach \([0-9.]*\) ms.*/\1/p')
	# The plan the agent replayed: its HWPT_ALLOCs, as kho-tool shows them.
	kho-tool inspect $run/handoff.fdt >/tmp/inspect.out ||
		khotest_fail "bench: $agent_kind: kho-tool inspect $run/handoff.fdt failed"
	nalloc=$(grep -c ' HWPT_ALLOC' /tmp/inspect.out || :)
	grep -E '^ +[0-9]+ (HWPT_ALLOC|DEVICE|VFIO)|^  HWPT' /tmp/inspect.out || :
	test-vmm restart >/tmp/restart.out 2>&1 ||
		{ cat /tmp/restart.out; khotest_fail "bench: $agent_kind: adoption failed"; }
	cat /tmp/restart.out
	grep -q 'DMA check passed' /tmp/restart.out ||
		khotest_fail "bench: $agent_kind: no DMA check after adoption"
	khotest_log "agent-$KHO_STAGE=$agent_kind restored ${agent:-missing} replay ${replay:-missing} ioctls ${ioctls:-missing} hwpt-alloc ${halloc:-missing} attach ${attach:-missing} plan-hwpt-allocs ${nalloc:-missing}"
fi

if [ -n "$stage_kind" ]; then
	flag=
	[ "$stage_kind" = hwpt ] && flag=--hwpt
	khotest_stage --maps "$maps" --chunk "$chunk" $flag
	khotest_kexec "$kernel" kho_agent=off
fi
khotest_mark "order-agent-measured-$maps"
khotest_done
