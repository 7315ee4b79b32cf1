#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Replay cost against the raw ioctl loop, measured in one guest run: for
# 1, 64 and 4,096 mappings (16 KiB each), the restore-agent's total
# restore time (session, decode, memfds, replay, verify) divided by the
# time of the same ioctls issued bare in a loop, in the same order, both
# on a device already opened once since boot (the cold figure is shown).
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
	set -- ${line#*=}
	agent=$2 raw=$4 att=$6 dec=$8 mfd=${10} rep=${12} ver=${14} cold=${16}
	ratio=$(awk -v a="$agent" -v r="$raw" 'BEGIN { printf "%.2f", a / r }')
	if [ "$json" = 1 ]; then
		[ "$first" = 1 ] || printf ','
		printf '{"maps":%d,"agent_ms":%s,"raw_ms":%s,"raw_attach_first_ms":%s,"ratio":%s,"decode_ms":%s,"memfds_ms":%s,"replay_ms":%s,"verify_ms":%s,"raw_cold_ms":%s}' \
			"$n" "$agent" "$raw" "$att" "$ratio" "$dec" "$mfd" "$rep" "$ver" "$cold"
	else
		echo "replay: $n maps: agent $agent ms, raw $raw ms, ratio $ratio (agent: decode $dec, memfd retrieval $mfd, replay $rep, verify $ver ms; raw attach-first $att ms; raw on the cold device $cold ms; replay alone/raw $(awk -v a="$rep" -v r="$raw" 'BEGIN { printf "%.2f", a / r }'))"
	fi
	first=0
done
[ "$json" = 1 ] && printf ']\n'
exit 0
