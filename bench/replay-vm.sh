#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Replay cost against the raw ioctl loop, measured in one guest run: for
# 1, 64 and 4,096 mappings (16 KiB each), after a real kexec,
#  (a) the restore-agent's total restore time ("restored in": LUO
#      retrieval of the session, hand-off and memfds, decode, replay,
#      verify), once per kexec, as it happens;
#  (b) replay + verify alone, the median of ROUNDS rounds that alternate
#      with the same ioctls issued bare (bench/guest/replay-loop.c): same
#      retrieved memfd, same order, same warm device, in the same guest.
# Both are divided by the median raw round.  The kernel's LUO retrieval is
# named apart: it is kernel work a bare loop on a present memfd never does.
#
# By default QEMU runs with -icount shift=0,sleep=off: guest time is the
# count of guest instructions, immune to the load of a shared host.  What
# QEMU does outside guest code (emulating an IOTLB invalidation) is then
# free, for the raw loop and the agent alike, which makes the ratios
# stricter, not kinder.  KHO_BENCH_ICOUNT=off measures wall clock;
# KHO_BENCH_ICOUNT=N uses shift=N.
#
# usage: bench/replay-vm.sh [--json] [ROUNDS]   (env BUILD as launch.sh)
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
json=0
[ "${1:-}" = --json ] && { json=1; shift; }
rounds=${1:-7}
export BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD="$top/$BUILD" ;; esac
name=bench-replay-vm
log=${KHO_VM_LOGDIR:-$BUILD/vm-logs}/$name.log
icount=${KHO_BENCH_ICOUNT:-0}

# The guest loop links libkho like the agent, static (the guest has no
# shared libraries but the ones the rig copies for its own binaries).
loop="$BUILD/bench/guest/replay-loop"
mkdir -p "$(dirname "$loop")"
# shellcheck disable=SC2086 # CFLAGS is a list of flags
${CC:-cc} ${CFLAGS:--O2 -g} -std=gnu11 -Wall -Wextra -Wno-unused-parameter \
	-D_GNU_SOURCE -I"$top/include/uapi-7.2" -I"$top/lib" -static \
	-o "$loop" "$top/bench/guest/replay-loop.c" "$BUILD/lib/libkho.a" \
	-lfdt -lelf -lz -llzma -lzstd ||
	{ echo "replay: building $loop failed" >&2; exit 1; }

script=$(mktemp /tmp/bench-replay.XXXXXX.sh)
trap 'rm -f "$script"' EXIT
{ echo "rounds=$rounds"; cat "$top/bench/guest/replay-vm.sh"; } > "$script"
qemu=()
clock="wall clock"
if [ "$icount" != off ]; then
	qemu=(--qemu-arg -icount --qemu-arg "shift=$icount,sleep=off")
	clock="-icount shift=$icount (1 guest instruction = $((1 << icount)) ns)"
fi

"$top/tests/vm/launch.sh" --name "$name" --kernel vanilla \
	--script "$script" --timeout 1800 "${qemu[@]}" \
	--file "$loop:/bin/replay-loop" \
	--expect measured-1 --expect measured-64 --expect measured-4096 >&2 ||
	{ echo "replay: the guest run failed, see $log" >&2; exit 1; }

first=1
[ "$json" = 1 ] && printf '['
[ "$json" = 1 ] || echo "replay: $clock, host load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"
for n in 1 64 4096; do
	line=$(grep -a -o "KHOTEST: LOG replay-$n=.*" "$log" | tail -n 1 | tr -d '\r')
	# Nothing carries over from the previous size: a figure missing from
	# this line must fail, not reuse the last one.
	unset agent session handoff decode memfds agent_replay agent_verify \
		cold rounds ours replay verify raw best_ours best_raw decode_warm
	[ -n "$line" ] || { echo "replay: no figures for $n maps in $log" >&2; exit 1; }
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
	for v in agent session handoff decode memfds agent_replay agent_verify \
		cold ours replay verify raw best_ours best_raw decode_warm; do
		[ -n "${!v:-}" ] || { echo "replay: $n maps: no '$v' in $log" >&2; exit 1; }
	done
	calc() { awk "BEGIN { printf \"%.${1}f\", $2 }"; }
	retr=$(calc 3 "$session + $handoff + $memfds")
	bare_agent=$(calc 3 "$agent - $retr")
	ratio=$(calc 3 "$agent / $raw")
	ratio_bare=$(calc 3 "$bare_agent / $raw")
	ratio_rv=$(calc 3 "$ours / $raw")
	agent_rv=$(calc 3 "$agent_replay + $agent_verify")
	ratio_best=$(calc 3 "$best_ours / $best_raw")
	if [ "$json" = 1 ]; then
		[ "$first" = 1 ] || printf ','
		printf '{"maps":%d,"rounds":%d,"clock":"%s","agent_ms":%s,"retrieve_ms":%s,"agent_without_retrieve_ms":%s,"decode_ms":%s,"agent_replay_ms":%s,"agent_verify_ms":%s,"replay_verify_ms":%s,"raw_ms":%s,"ratio":%s,"ratio_without_retrieve":%s,"replay_verify_ratio":%s,"best_replay_verify_ratio":%s,"raw_cold_ms":%s}' \
			"$n" "$rounds" "$clock" "$agent" "$retr" "$bare_agent" "$decode" "$agent_replay" "$agent_verify" "$ours" "$raw" "$ratio" "$ratio_bare" "$ratio_rv" "$ratio_best" "$cold"
	else
		echo "replay: $n maps: replay+verify $ours ms (replay $replay, verify $verify), raw $raw ms, medians of $rounds interleaved rounds: ratio $ratio_rv (best rounds: $best_ours / $best_raw ms, ratio $ratio_best)"
		echo "replay: $n maps: agent total $agent ms, raw $raw ms: ratio $ratio; of it kernel LUO retrieve $retr ms (session $session, hand-off $handoff, memfds $memfds); without it $bare_agent ms: ratio $ratio_bare"
		echo "replay: $n maps: agent's own run: decode $decode, replay $agent_rv (replay $agent_replay, verify $agent_verify) ms; warm decode $decode_warm ms"
		echo "replay: $n maps: split maps/open+bind/attach: loop ours $ours_maps/$ours_bind/$ours_attach (sysfs identity $identity), raw $raw_maps/$raw_bind/$raw_attach; agent $agentsplit_maps/$agentsplit_bind/$agentsplit_att; cold raw $coldsplit_maps/$coldsplit_bind/$coldsplit_att ms (total $cold)"
	fi
	first=0
done
[ "$json" = 1 ] && printf ']\n'
exit 0
