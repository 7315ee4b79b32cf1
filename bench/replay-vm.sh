#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Replay cost against the raw ioctl loop, measured in one guest run: for
# 1, 64 and 4,096 mappings (16 KiB each), the restore-agent's total
# restore time (session, decode, memfds, replay, verify) divided by the
# time of the same ioctls issued bare in a loop, in the same order.
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
	agent=$2 raw=$4 att=$6
	ratio=$(awk -v a="$agent" -v r="$raw" 'BEGIN { printf "%.2f", a / r }')
	if [ "$json" = 1 ]; then
		[ "$first" = 1 ] || printf ','
		printf '{"maps":%d,"agent_ms":%s,"raw_ms":%s,"raw_attach_first_ms":%s,"ratio":%s}' \
			"$n" "$agent" "$raw" "$att" "$ratio"
	else
		echo "replay: $n maps: agent $agent ms, raw $raw ms, ratio $ratio (raw attach-first $att ms)"
	fi
	first=0
done
[ "$json" = 1 ] && printf ']\n'
exit 0
