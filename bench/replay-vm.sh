#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Replay cost against the raw ioctl loop, measured in one guest run: for
# 1, 64 and 4,096 mappings (16 KiB each), (a) the restore-agent's total
# restore time (LUO retrieval of the session, hand-off and memfds, decode,
# replay, verify) and (b) its replay + verify alone, each divided by the
# time of the same ioctls issued bare in a loop, maps first.  Agent and
# raw both run on a device already opened once since boot (the cold raw
# figure is shown).  The LUO retrieval is the kernel's cost: it is named.
#
# usage: bench/replay-vm.sh [--json]    (env as tests/vm/launch.sh)
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
json=0
[ "${1:-}" = --json ] && json=1
export BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD="$top/$BUILD" ;; esac
name=bench-replay-vm
log=${KHO_VM_LOGDIR:-$BUILD/vm-logs}/$name.log

"$top/tests/vm/launch.sh" --name "$name" --kernel vanilla \
	--script "$top/bench/guest/replay-vm.sh" --timeout 900 \
	--expect measured-1 --expect measured-64 --expect measured-4096 >&2 ||
	{ echo "replay: the guest run failed, see $log" >&2; exit 1; }

first=1
[ "$json" = 1 ] && printf '['
for n in 1 64 4096; do
	line=$(grep -a -o "KHOTEST: LOG replay-$n=.*" "$log" | tail -n 1 | tr -d '\r')
	# key value pairs; *split carry three: maps, open+bind, attach
	eval "$(echo "${line#*=}" | awk '{
		for (i = 1; i < NF; i += 2) {
			k = $i
			if (k ~ /split$/) {
				printf "%s_maps=%s %s_bind=%s %s_att=%s\n", k, $(i+1), k, $(i+2), k, $(i+3)
				i += 2
				continue
			}
			gsub(/-/, "_", k)
			printf "%s=%s\n", k, $(i+1)
		}
	}')"
	retr=$(awk -v a="$session" -v b="$handoff" -v c="$memfds" 'BEGIN { printf "%.3f", a + b + c }')
	rv=$(awk -v a="$replay" -v b="$verify" 'BEGIN { printf "%.3f", a + b }')
	other=$(awk -v t="$agent" -v r="$retr" -v d="$decode" -v p="$rv" 'BEGIN { printf "%.3f", t - r - d - p }')
	ratio=$(awk -v a="$agent" -v r="$raw" 'BEGIN { printf "%.2f", a / r }')
	ratio_rv=$(awk -v a="$rv" -v r="$raw" 'BEGIN { printf "%.2f", a / r }')
	if [ "$json" = 1 ]; then
		[ "$first" = 1 ] || printf ','
		printf '{"maps":%d,"agent_ms":%s,"retrieve_ms":%s,"decode_ms":%s,"replay_ms":%s,"verify_ms":%s,"raw_ms":%s,"ratio":%s,"replay_verify_ratio":%s,"raw_attach_first_ms":%s,"raw_cold_ms":%s}' \
			"$n" "$agent" "$retr" "$decode" "$replay" "$verify" "$raw" "$ratio" "$ratio_rv" "$attach_first" "$cold"
	else
		echo "replay: $n maps: agent $agent ms (retrieve $retr, decode $decode, replay $replay, verify $verify), raw $raw ms, ratio $ratio"
		echo "replay: $n maps: replay+verify $rv ms, raw $raw ms, ratio $ratio_rv; kernel LUO retrieve $retr ms (session $session, hand-off $handoff, memfds $memfds) of the agent's $agent; other $other ms"
		echo "replay: $n maps: split maps/open+bind/attach: agent $agentsplit_maps/$agentsplit_bind/$agentsplit_att ms, raw $rawsplit_maps/$rawsplit_bind/$rawsplit_att ms; cold raw $coldsplit_maps/$coldsplit_bind/$coldsplit_att ms; raw attach-first $attach_first ms, raw cold $cold ms"
	fi
	first=0
done
[ "$json" = 1 ] && printf ']\n'
exit 0
