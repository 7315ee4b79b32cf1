#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Replay cost against the same ioctls issued bare, measured in one guest
# run: for 1, 64, 4,096 and 65,536 mappings (16 KiB each) and one mapping
# of one memfd as large as the guest allows (KHO_BENCH_BIG bytes, default
# 3 GiB, in a guest of KHO_BENCH_MEM, default 6G, where the rig's is 1G),
# after real kexecs,
#  (A) the restore-agent's total restore time ("restored in": LUO retrieve
#      of its session, hand-off and memfd, decode, replay, verify), once,
#      against bare-restore (bench/guest/bare-restore.c) one boot later:
#      the raw LUO ioctls that retrieve its own session and the same
#      guest-RAM memfd (replay-loop preserved it again), then the same
#      iommufd/VFIO ioctls bare, timed end to end, once;
#  (B) replay + verify alone against the same ioctls issued bare, the
#      medians of ROUNDS rounds that alternate in replay-loop
#      (bench/guest/replay-loop.c): same retrieved memfd, same order, same
#      warm device, same boot.
# The LUO retrieve figures of both sides are printed apart, and sanity
# figures that the two boots compare: the kernel's retrieve of the same
# memfd in each, and the bare ioctls, warm, on the same memfd in each.
#
# By default QEMU runs with -icount shift=0,sleep=off: guest time is the
# count of guest instructions, immune to the load of a shared host.  What
# QEMU does outside guest code (emulating an IOTLB invalidation) is then
# free, for both sides alike, which makes the ratios stricter, not kinder.
# KHO_BENCH_ICOUNT=off measures wall clock; KHO_BENCH_ICOUNT=N uses shift=N.
#
# Then restore time against pinned bytes: each size's bytes, the agent's
# and the bare restore's ms per GiB, and the largest size's per-GiB cost
# times 1024 (a 1 TiB guest, on paper: a straight line through one
# measured point, which the smaller sizes' figures let the reader judge).
#
# usage: bench/replay-vm.sh [--json] [ROUNDS]   (env BUILD as launch.sh;
#        KHO_BENCH_SIZES="1 64 4096 65536 1xBYTES", KHO_BENCH_MEM=6G)
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
mem=${KHO_BENCH_MEM:-6G}
big=${KHO_BENCH_BIG:-3221225472}
sizes=${KHO_BENCH_SIZES:-1 64 4096 65536 1x$big}

# The guest programs link libkho like the agent, static (the guest has no
# shared libraries but the ones the rig copies for its own binaries).
mkdir -p "$BUILD/bench/guest"
for prog in replay-loop bare-restore; do
	# shellcheck disable=SC2086 # CFLAGS is a list of flags
	${CC:-cc} ${CFLAGS:--O2 -g} -std=gnu11 -Wall -Wextra -Wno-unused-parameter \
		-D_GNU_SOURCE -I"$top/include/uapi-7.2" -I"$top/lib" -static \
		-o "$BUILD/bench/guest/$prog" "$top/bench/guest/$prog.c" \
		"$BUILD/lib/libkho.a" -lfdt -lelf -lz -llzma -lzstd ||
		{ echo "replay: building $BUILD/bench/guest/$prog failed" >&2; exit 1; }
done

script=$(mktemp /tmp/bench-replay.XXXXXX.sh)
trap 'rm -f "$script"' EXIT
# KHO_BENCH_SHMEM_THP=always (or within_size, advise): the guest's shmem
# THP policy in every boot, for large folios in the guest-RAM memfd.
thp=${KHO_BENCH_SHMEM_THP:-}
case "$thp" in ''|always|within_size|advise|never) ;; *) echo "replay: KHO_BENCH_SHMEM_THP=always|within_size|advise|never, not '$thp'" >&2; exit 2 ;; esac
{ echo "rounds=$rounds sizes=\"$sizes\" thp=\"$thp\""; cat "$top/bench/guest/replay-vm.sh"; } > "$script"
qemu=(--qemu-arg -m --qemu-arg "$mem")
expects=()
for n in $sizes; do expects+=(--expect "measured-$n" --expect "bare-measured-$n"); done
clock="wall clock"
if [ "$icount" != off ]; then
	qemu+=(--qemu-arg -icount --qemu-arg "shift=$icount,sleep=off")
	clock="-icount shift=$icount (1 guest instruction = $((1 << icount)) ns)"
fi

"$top/tests/vm/launch.sh" --name "$name" --kernel vanilla \
	--script "$script" --timeout 3600 "${qemu[@]}" \
	--file "$BUILD/bench/guest/replay-loop:/bin/replay-loop" \
	--file "$BUILD/bench/guest/bare-restore:/bin/bare-restore" \
	"${expects[@]}" >&2 ||
	{ echo "replay: the guest run failed, see $log" >&2; exit 1; }

calc() { awk "BEGIN { printf \"%.${1}f\", $2 }"; }
first=1
[ "$json" = 1 ] && printf '['
[ "$json" = 1 ] || echo "replay: $clock, host load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"
figures="agent session handoff decode memfds agent_replay agent_verify
	agentsplit_maps agentsplit_bind agentsplit_att cold coldsplit_maps
	coldsplit_bind coldsplit_att ours replay verify raw ours_maps raw_maps
	ours_bind raw_bind ours_attach raw_attach identity best_ours best_raw
	decode_warm bare_total bare_session bare_memfds bare_ioctls
	baresplit_maps baresplit_bind baresplit_att bare_warm bare_warm_maps
	bare_warm_attach luo_first_open bare_first_open"
bytes_tab=
# shellcheck disable=SC2154 # the figures are assigned by the eval below
for n in $sizes; do
	case "$n" in *x*) bytes=$(( ${n%%x*} * ${n#*x} )) ;; *) bytes=$((n * 16384)) ;; esac
	# The agent's boot and the bare side's, one boot later.
	line=$(grep -a -o "KHOTEST: LOG replay-$n=.*" "$log" | tail -n 1 | tr -d '\r')
	bline=$(grep -a -o "KHOTEST: LOG bare-$n=.*" "$log" | tail -n 1 | tr -d '\r')
	# Nothing carries over from the previous size: a figure missing from
	# these lines must fail, not reuse the last one.
	# shellcheck disable=SC2086 # a list of names
	unset $figures
	[ -n "$line" ] || { echo "replay: no agent figures for $n maps in $log" >&2; exit 1; }
	[ -n "$bline" ] || { echo "replay: no bare figures for $n maps in $log" >&2; exit 1; }
	# key value pairs; *split carry three: maps, open+bind, attach
	# A pair that is not "name number" (a figure left out shifts the rest)
	# stops the parse: nothing but plain assignments reaches the eval.
	malformed=
	eval "$(echo "${line#*=} ${bline#*=}" | awk '{
		for (i = 1; i < NF; i += 2) {
			k = $i
			if (k !~ /^[a-z][a-z_-]*$/ || $(i+1) !~ /^[0-9.]+$/) {
				printf "malformed=%d\n", i
				exit
			}
			if (k ~ /split$/) {
				if ($(i+2) !~ /^[0-9.]+$/ || $(i+3) !~ /^[0-9.]+$/) {
					printf "malformed=%d\n", i
					exit
				}
				printf "%s_maps=%s %s_bind=%s %s_att=%s\n", k, $(i+1), k, $(i+2), k, $(i+3)
				i += 2
				continue
			}
			gsub(/-/, "_", k)
			printf "%s=%s\n", k, $(i+1)
		}
	}')"
	[ -z "$malformed" ] ||
		{ echo "replay: $n maps: malformed figures at field $malformed of the lines in $log" >&2; exit 1; }
	# Every ratio below comes from figures of this run only: a missing or
	# non-numeric one fails the bench instead of printing a ratio.
	for v in $figures; do
		[[ "${!v:-}" =~ ^[0-9]+(\.[0-9]+)?$ ]] ||
			{ echo "replay: $n maps: '$v' missing or not a number ('${!v:-}') in $log" >&2; exit 1; }
	done
	for v in raw bare_total bare_ioctls bare_memfds bare_warm; do
		[ "$(calc 0 "(${!v} > 0)")" = 1 ] ||
			{ echo "replay: $n maps: '$v' is 0 in $log: no ratio" >&2; exit 1; }
	done
	agent_retr=$(calc 3 "$session + $handoff + $memfds")
	bare_retr=$(calc 3 "$bare_session + $bare_memfds")
	agent_noretr=$(calc 3 "$agent - $agent_retr")
	ratio_total=$(calc 3 "$agent / $bare_total")
	ratio_noretr=$(calc 3 "$agent_noretr / $bare_ioctls")
	ratio_rv=$(calc 3 "$ours / $raw")
	ratio_best=$(calc 3 "$best_ours / $best_raw")
	sanity_memfd=$(calc 3 "$memfds / $bare_memfds")
	sanity_ioctls=$(calc 3 "$bare_ioctls / $bare_warm")
	sanity_boots=$(calc 3 "$bare_warm / $raw")
	agent_rv=$(calc 3 "$agent_replay + $agent_verify")
	gib=$(calc 6 "$bytes / 1073741824")
	bytes_tab="$bytes_tab$n $bytes $gib $agent $bare_total $ours $raw $agent_noretr $bare_ioctls
"

	if [ "$json" = 1 ]; then
		[ "$first" = 1 ] || printf ','
		printf '{"maps":%d,"rounds":%d,"clock":"%s","agent_ms":%s,"bare_ms":%s,"ratio":%s,"agent_retrieve_ms":%s,"agent_session_ms":%s,"agent_handoff_ms":%s,"agent_memfds_ms":%s,"bare_retrieve_ms":%s,"bare_session_ms":%s,"bare_memfds_ms":%s,"agent_without_retrieve_ms":%s,"bare_ioctls_ms":%s,"ratio_without_retrieve":%s,"decode_ms":%s,"agent_replay_ms":%s,"agent_verify_ms":%s,"replay_verify_ms":%s,"raw_ms":%s,"replay_verify_ratio":%s,"best_replay_verify_ratio":%s,"sanity_memfd_retrieve_ratio":%s,"sanity_bare_ioctls_ratio":%s,"bare_warm_ms":%s,"sanity_boots_ratio":%s,"luo_first_open_ms":%s,"bare_luo_first_open_ms":%s,"raw_cold_ms":%s}' \
			"$n" "$rounds" "$clock" "$agent" "$bare_total" "$ratio_total" \
			"$agent_retr" "$session" "$handoff" "$memfds" "$bare_retr" \
			"$bare_session" "$bare_memfds" "$agent_noretr" "$bare_ioctls" \
			"$ratio_noretr" "$decode" "$agent_replay" "$agent_verify" \
			"$ours" "$raw" "$ratio_rv" "$ratio_best" "$sanity_memfd" \
			"$sanity_ioctls" "$bare_warm" "$sanity_boots" \
			"$luo_first_open" "$bare_first_open" "$cold"
	else
		echo "replay: $n maps: (A) agent total $agent ms / bare restore $bare_total ms, both with their LUO retrieve: ratio $ratio_total"
		echo "replay: $n maps: (B) replay+verify $ours ms (replay $replay, verify $verify) / bare ioctls $raw ms, medians of $rounds interleaved rounds: ratio $ratio_rv (best rounds: $best_ours / $best_raw ms, ratio $ratio_best)"
		echo "replay: $n maps: LUO retrieve: agent $agent_retr ms (session $session, hand-off $handoff, memfds $memfds), bare $bare_retr ms (session $bare_session, memfds $bare_memfds); without it: agent $agent_noretr / bare ioctls $bare_ioctls ms: ratio $ratio_noretr"
		echo "replay: $n maps: sanity: the same memfd, one boot apart: memfd retrieve agent $memfds / bare $bare_memfds ms: $sanity_memfd; bare ioctls warm median $bare_warm (maps $bare_warm_maps, attach $bare_warm_attach) / agent's boot $raw ms: $sanity_boots; bare ioctls once $bare_ioctls / warm $bare_warm ms: $sanity_ioctls; first open of /dev/liveupdate (deserializes the incoming sessions, before either side) $luo_first_open ms in the agent's boot, $bare_first_open in the bare one's"
		echo "replay: $n maps: agent's own run: decode $decode, replay $agent_rv (replay $agent_replay, verify $agent_verify) ms; warm decode $decode_warm ms"
		echo "replay: $n maps: split maps/open+bind/attach: loop ours $ours_maps/$ours_bind/$ours_attach (sysfs identity $identity), raw $raw_maps/$raw_bind/$raw_attach; agent $agentsplit_maps/$agentsplit_bind/$agentsplit_att; bare restore $baresplit_maps/$baresplit_bind/$baresplit_att; cold raw $coldsplit_maps/$coldsplit_bind/$coldsplit_att ms (total $cold)"
	fi
	first=0
done
[ "$json" = 1 ] && printf ']\n'
[ "$json" = 1 ] && exit 0
# Restore time against pinned bytes, every figure from the lines above.
echo "replay: restore time against pinned bytes ($clock; agent = its whole restore, bare = bare-restore's, rv = replay+verify and raw = the same ioctls bare, medians of $rounds rounds):"
printf 'replay:   %-14s %12s %10s %10s %10s %10s %12s %12s %12s\n' size bytes agent_ms bare_ms rv_ms raw_ms agent_ms/GiB bare_ms/GiB raw_ms/GiB
last=
while read -r n bytes gib agent bare rv raw _ _; do
	[ -n "$n" ] || continue
	printf 'replay:   %-14s %12d %10s %10s %10s %10s %12s %12s %12s\n' "$n" "$bytes" "$agent" "$bare" "$rv" "$raw" \
		"$(calc 1 "$agent / $gib")" "$(calc 1 "$bare / $gib")" "$(calc 1 "$raw / $gib")"
	last="$n $bytes $gib $agent $bare $rv $raw"
done <<<"$bytes_tab"
read -r n bytes gib agent bare rv raw <<<"$last"
echo "replay: largest memfd ($n: $(calc 2 "$gib") GiB in one mapping): agent restore $(calc 1 "$agent / $gib") ms/GiB, bare restore $(calc 1 "$bare / $gib") ms/GiB, the bare ioctls (pinning + VT-d page tables) $(calc 1 "$raw / $gib") ms/GiB; a 1 TiB guest at that rate, on paper: agent $(calc 2 "$agent / $gib * 1024 / 1000") s, bare $(calc 2 "$bare / $gib * 1024 / 1000") s ($clock; linear extrapolation from this one run's $n figure)"
exit 0
