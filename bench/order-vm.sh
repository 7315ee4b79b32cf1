#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The replay order (issue #16 item 1): every map into the IOAS before the
# device attaches (the restore plan's order) against attach first, then
# map (a VMM's own order), at MAPS mappings of 16 KiB (default 4,096), in
# one guest boot per clock (vanilla kernel, VT-d with caching-mode=on, the
# edu device through its VFIO cdev; bench/guest/order-loop.c):
#
#  (1) under -icount shift=0,sleep=off (guest instructions; what QEMU does
#      outside guest code, e.g. emulating an invalidation, is free), with
#      QEMU's trace of every VT-d invalidation descriptor (vtd_inv_desc*,
#      vtd_inv_qi_tail) and of a marker the guest writes to the edu
#      device's config space around each timed window (pci_cfg_write), so
#      the invalidations each order issues are counted per window,
#      independently of any clock;
#  (2) on the wall clock, without the trace, ROUNDS_WALL rounds.
#
# A third order, hwpt-first (map, bind, IOMMU_HWPT_ALLOC, attach to that
# HWPT), fills the VT-d domain before any device is attached to it: 7.2's
# ATTACH to an IOAS attaches its new auto domain first and fills it after
# (drivers/iommu/iommufd/hw_pagetable.c, iommufd_hwpt_paging_alloc(),
# immediate_attach), so under caching mode every fill step is flushed
# (drivers/iommu/intel/iommu.c, intel_iommu_iotlb_sync_map()) whatever the
# order of the maps.  docs/benchmarks.md has the figures.
#
#  (3) "agent": the restore-agent's real restore, after a kexec, of a
#      hand-off of MAPS mappings staged by an auto-domain VMM (ATTACH to
#      the IOAS) against one staged by a VMM that allocates its HWPT
#      explicitly (IOMMU_HWPT_ALLOC, ATTACH to it: test-vmm stage --hwpt,
#      as QEMU's iommufd backend does), whose journal the replay's phase
#      order replays hwpt-first; KHO_BENCH_ORDER_AGENT_ROUNDS (default 3)
#      restores of each, alternating, in one guest run of 2R+1 boots under
#      -icount with the same trace, the markers bracketing each restore
#      from the agent's start to "ready" (bench/guest/order-agent.sh);
#      test-vmm restart adopts each and checks DMA.
#  (4) "agent-wall": the same run on the wall clock, without icount or
#      the trace, where each invalidation the fill flushes costs the
#      host a trap into QEMU.
#
# Ratios: attach-first / maps-first, medians of the rounds of the same
# boot; invalidation counts: per window (every round of a boot must give
# the same counts, else the bench fails).  A missing figure fails.
#
# usage: bench/order-vm.sh [ROUNDS_ICOUNT [ROUNDS_WALL [MAPS]]]
#        (env BUILD as launch.sh; KHO_BENCH_ORDER_CLOCKS="icount wall agent
#        agent-wall";
#        KHO_BENCH_ORDER_KERNELS="vanilla patched": every run is made on
#        each kernel)
#
# On the patched kernel (patches/0005) an ATTACH to an IOAS fills its new
# automatic domain before it attaches the device, as IOMMU_HWPT_ALLOC
# does, so maps-first and the auto-domain VMM's restore should count the
# invalidations hwpt-first counts; each line names its kernel.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
rounds_ic=${1:-5}
rounds_wall=${2:-31}
maps=${3:-4096}
chunk=16384
export BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD="$top/$BUILD" ;; esac
logdir=${KHO_VM_LOGDIR:-$BUILD/vm-logs}
clocks=${KHO_BENCH_ORDER_CLOCKS:-icount wall agent agent-wall}
kernels=${KHO_BENCH_ORDER_KERNELS:-vanilla patched}
agent_rounds=${KHO_BENCH_ORDER_AGENT_ROUNDS:-3}
# The wall clock varies from boot to boot by more than the invalidations
# cost, so it takes more restores to resolve.
agent_wall_rounds=${KHO_BENCH_ORDER_AGENT_WALL_ROUNDS:-7}

mkdir -p "$logdir"
# make all builds it (tests/vm/080 runs it too), and launch.sh ships it.
[ -x "$BUILD/bin/order-loop" ] ||
	{ echo "order: $BUILD/bin/order-loop is missing: run make first" >&2; exit 1; }

calc() { awk "BEGIN { printf \"%.${1}f\", $2 }"; }
num() { [[ "${2:-}" =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "order: $1 missing or not a number ('${2:-}')" >&2; exit 1; }; }

# The medians line of a boot: "maps-first T maps M bind B attach A
# attach-first T af-bind B af-attach A af-maps M".
medians() {
	local line
	line=$(grep -a -o "KHOTEST: LOG order-$maps=.*" "$1" | tail -n 1 | tr -d '\r')
	[ -n "$line" ] || { echo "order: no figures in $1" >&2; exit 1; }
	echo "${line#*=}"
}
field() { awk -v k="$2" '{ for (i = 1; i < NF; i++) if ($i == k) { print $(i+1); exit } }' <<<"$1"; }

script=$(mktemp /tmp/bench-order.XXXXXX.sh)
trap 'rm -f "$script"' EXIT
echo "order: $maps maps of $chunk bytes, host load average $(cut -d' ' -f1-3 /proc/loadavg) at the start"
# The VT-d invalidation events of QEMU's trace that are one descriptor
# each (vtd_inv_desc_cc_device is traced for each device a cc_devices
# descriptor hits, so it is left out).
inv_events="vtd_inv_desc_iotlb_pages vtd_inv_desc_iotlb_domain vtd_inv_desc_iotlb_global
	vtd_inv_desc_cc_domain vtd_inv_desc_cc_global vtd_inv_desc_cc_devices
	vtd_inv_desc_iotlb_pasid_pages vtd_inv_desc_iotlb_pasid"
trace_qemu=(--qemu-arg -icount --qemu-arg "shift=0,sleep=off"
	--qemu-arg -trace --qemu-arg 'enable=vtd_inv_desc*'
	--qemu-arg -trace --qemu-arg 'enable=vtd_inv_qi_tail'
	--qemu-arg -trace --qemu-arg 'enable=vtd_page_walk_one'
	--qemu-arg -trace --qemu-arg 'enable=pci_cfg_write')
# Per kernel, for the lines that compare the kernels at the end.
declare -A mf_inv mf_ms auto_inv auto_ms
runs=
for clock in $clocks; do
	case "$clock" in agent|agent-wall) continue ;; esac
	for kernel in $kernels; do
		runs="$runs $clock:$kernel"
	done
done
for run in $runs; do
	clock=${run%:*} kernel=${run#*:}
	name=bench-order-$clock-$kernel
	log=$logdir/$name.log
	trace=$logdir/$name.trace
	rm -f "$trace"
	qemu=()
	if [ "$clock" = icount ]; then
		r=$rounds_ic
		qemu=("${trace_qemu[@]}" --qemu-arg -D --qemu-arg "$trace")
	else
		r=$rounds_wall
	fi
	{ echo "rounds=$r maps=$maps chunk=$chunk"; cat "$top/bench/guest/order-vm.sh"; } >"$script"
	"$top/tests/vm/launch.sh" --name "$name" --kernel "$kernel" \
		--script "$script" --timeout 1200 "${qemu[@]}" \
		--expect "order-measured-$maps" >&2 ||
		{ echo "order: the $clock guest run failed, see $log" >&2; exit 1; }
	m=$(medians "$log")
	mf=$(field "$m" maps-first); af=$(field "$m" attach-first)
	mf_maps=$(field "$m" maps); mf_att=$(field "$m" attach)
	af_maps=$(field "$m" af-maps); af_att=$(field "$m" af-attach)
	hf=$(field "$m" hwpt-first); hf_maps=$(field "$m" hf-maps); hf_att=$(field "$m" hf-attach)
	for v in mf af mf_maps mf_att af_maps af_att hf hf_maps hf_att; do num "$clock $v" "${!v}"; done
	[ "$(calc 0 "($hf > 0)")" = 1 ] || { echo "order: hwpt-first is 0" >&2; exit 1; }
	[ "$(calc 0 "($mf > 0)")" = 1 ] || { echo "order: maps-first is 0" >&2; exit 1; }
	mf_ms[$clock:$kernel]=$mf
	label="$kernel, -icount shift=0 (guest instructions)"
	[ "$clock" = icount ] || label="$kernel, wall clock"
	echo "order: $maps maps, $label, medians of $r rounds: attach-first $af ms (maps $af_maps, attach $af_att) / maps-first $mf ms (maps $mf_maps, attach $mf_att): ratio $(calc 2 "$af / $mf")"
	echo "order: $maps maps, $label, medians of $r rounds: attach-first $af ms / hwpt-first $hf ms (maps $hf_maps, hwpt-alloc+attach $hf_att): ratio $(calc 2 "$af / $hf"); maps-first / hwpt-first: $(calc 2 "$mf / $hf")"
	# The spread of the rounds, to show the medians are resolved: the
	# slowest round of the faster order against the fastest of the slower.
	spread=$(grep -a -o 'order-loop: round [0-9]* maps-first .*' "$log" | tr -d '\r' | awk '
		{ for (i = 1; i < NF; i++) {
			if ($i == "maps-first") mf[NR] = $(i+1)
			if ($i == "attach-first") af[NR] = $(i+1)
			if ($i == "hwpt-first") hf[NR] = $(i+1) } }
		function mn(a,  k, v) { v = -1; for (k in a) if (v < 0 || a[k] + 0 < v) v = a[k] + 0; return v }
		function mx(a,  k, v) { v = -1; for (k in a) if (a[k] + 0 > v) v = a[k] + 0; return v }
		function med(a, n,  i, j, t) {
			for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
			return a[int((n + 1) / 2)]
		}
		END {
			for (k = 1; k <= NR; k++) { r1[k] = af[k] / mf[k]; r2[k] = af[k] / hf[k] }
			# How well the rounds resolve the order: in how many of
			# them attach-first was the slower, and the quartiles of
			# the per-round ratios (med() sorts r1 and r2 in place).
			for (k = 1; k <= NR; k++) { w1 += (r1[k] > 1); w2 += (r2[k] > 1) }
			printf "maps-first %.3f-%.3f, attach-first %.3f-%.3f, hwpt-first %.3f-%.3f ms over %d rounds; median of the per-round ratios (the three orders run back to back in a round): attach-first/maps-first %.2f, attach-first/hwpt-first %.2f", mn(mf), mx(mf), mn(af), mx(af), mn(hf), mx(hf), NR, med(r1, NR), med(r2, NR)
			printf "; quartiles of the per-round ratios %.2f-%.2f and %.2f-%.2f; attach-first the slower in %d/%d and %d/%d rounds", r1[int((NR + 3) / 4)], r1[int((3 * NR + 3) / 4)], r2[int((NR + 3) / 4)], r2[int((3 * NR + 3) / 4)], w1, NR, w2, NR
		}')
	echo "order: $maps maps, $label: range of the rounds: $spread"
	[ "$clock" = icount ] || continue

	# Count, per timed window, each trace event between its markers.
	counts=$(awk -v rounds="$r" -f "$top/bench/host/edu-marker.awk" -f <(printf '%s\n' '
		edu_marker() {
			ph = edu_phase
			if (ph == 1 || ph == 3 || ph == 7) { cur = (ph == 1 ? "mf" : ph == 3 ? "af" : "hf"); half = 1; rnd = edu_round; next }
			if (ph == 5 || ph == 6 || ph == 8) { half = 2; next }
			if (ph == 2 || ph == 4 || ph == 9) { w[cur]++; cur = ""; next }
		}
		cur != "" && /^vtd_/ {
			ev = $1
			if (ev == "vtd_inv_desc") ev = "vtd_inv_desc(any)"
			c[cur, rnd, ev]++; evs[ev] = 1
			if (ev != "vtd_inv_desc(any)") { c[cur, rnd, "h" half ":" ev]++; evs["h" half ":" ev] = 1 }
		}
		END {
			if (w["mf"] != rounds || w["af"] != rounds || w["hf"] != rounds) { printf "ERROR windows mf %d af %d hf %d, want %d\n", w["mf"], w["af"], w["hf"], rounds; exit }
			for (ev in evs) for (o = 0; o < 3; o++) {
				od = o == 0 ? "mf" : o == 1 ? "af" : "hf"
				first = c[od, 0, ev] + 0
				for (k = 1; k < rounds; k++) if (c[od, k, ev] + 0 != first) { printf "ERROR %s %s round %d: %d, round 0: %d\n", od, ev, k, c[od, k, ev], first; exit }
				printf "%s %s %d\n", od, ev, first
			}
		}') "$trace")
	case "$counts" in *ERROR*|"") echo "order: trace counts: ${counts:-none in $trace}" >&2; exit 1 ;; esac
	get() { awk -v o="$1" -v e="$2" '$1 == o && $2 == e { print $3; f = 1 } END { if (!f) print 0 }' <<<"$counts"; }
	echo "order: $maps maps, $kernel: VT-d invalidations per window (QEMU trace, identical in each of the $r rounds of each order; h1:/h2: the first/second half of the window, maps-first and hwpt-first: h1 maps, h2 bind+attach; attach-first: h1 bind+attach, h2 maps):"
	printf 'order:   %-31s %12s %12s %12s %8s %8s\n' event attach-first maps-first hwpt-first af/mf af/hf
	for ev in $(awk '{ print $2 }' <<<"$counts" | sort -u); do
		a=$(get af "$ev"); b=$(get mf "$ev"); h=$(get hf "$ev")
		ratio=n/a; [ "$b" = 0 ] || ratio=$(calc 1 "$a / $b")
		ratio2=n/a; [ "$h" = 0 ] || ratio2=$(calc 1 "$a / $h")
		printf 'order:   %-31s %12d %12d %12d %8s %8s\n' "$ev" "$a" "$b" "$h" "$ratio" "$ratio2"
	done
	# One descriptor per event below; vtd_inv_desc_cc_device is left out:
	# QEMU traces it for each device a cc_devices descriptor hits.
	inv_af=0; inv_mf=0; inv_hf=0
	for ev in $inv_events; do
		inv_af=$((inv_af + $(get af "$ev"))); inv_mf=$((inv_mf + $(get mf "$ev"))); inv_hf=$((inv_hf + $(get hf "$ev")))
	done
	[ "$inv_mf" -gt 0 ] || { echo "order: no invalidation counted in the maps-first windows: trace broken? ($trace)" >&2; exit 1; }
	mf_inv[$kernel]=$inv_mf
	echo "order: $maps maps, $kernel: IOTLB + context invalidations per window: attach-first $inv_af / maps-first $inv_mf: ratio $(calc 1 "$inv_af / $inv_mf") (goal 4x)"
	[ "$inv_hf" -gt 0 ] || { echo "order: no invalidation counted in the hwpt-first windows: trace broken? ($trace)" >&2; exit 1; }
	echo "order: $maps maps, $kernel: IOTLB + context invalidations per window: attach-first $inv_af / hwpt-first $inv_hf: ratio $(calc 1 "$inv_af / $inv_hf") (goal 4x)"
	echo "order: $maps maps, $kernel: queued-invalidation tail writes (each one a trap to QEMU): attach-first $(get af vtd_inv_qi_tail) / maps-first $(get mf vtd_inv_qi_tail) / hwpt-first $(get hf vtd_inv_qi_tail)"
done

# (3) The agent's restore of an auto-domain VMM's hand-off against an
# explicit-HWPT VMM's: one guest run per kernel, kexec after kexec.
# The "agent-wall" clock is the same run on the wall clock, without the
# trace: the time an invalidation costs the host shows there.
agent_run() {
kernel=$1 aclock=$2
ar=$agent_rounds
[ "$aclock" = icount ] || ar=$agent_wall_rounds
name=bench-order-agent-$kernel
[ "$aclock" = icount ] || name=bench-order-agent-wall-$kernel
log=$logdir/$name.log
trace=$logdir/$name.trace
rm -f "$trace"
qemu=()
[ "$aclock" = icount ] && qemu=("${trace_qemu[@]}" --qemu-arg -D --qemu-arg "$trace")
seq=
for ((k = 0; k < ar; k++)); do seq="$seq auto hwpt"; done
{ echo "maps=$maps chunk=$chunk seq=\"${seq# }\" kernel=$kernel"; cat "$top/bench/guest/order-agent.sh"; } >"$script"
"$top/tests/vm/launch.sh" --name "$name" --kernel "$kernel" \
	--script "$script" --timeout 1800 "${qemu[@]}" \
	--expect "order-agent-measured-$maps" >&2 ||
	{ echo "order: the agent guest run failed, see $log" >&2; exit 1; }
# One line per restore: "agent-BOOT=KIND restored T replay R ioctls N
# hwpt-alloc H attach A plan-hwpt-allocs P".
lines=$(grep -a -o 'KHOTEST: LOG agent-[0-9]*=.*' "$log" | tr -d '\r' | sed 's/^KHOTEST: LOG agent-//; s/=/ /')
[ "$(grep -c . <<<"$lines")" = $((2 * ar)) ] ||
	{ echo "order: agent: $(grep -c . <<<"$lines") restores logged, want $((2 * ar)) ($log)" >&2; exit 1; }
while read -r boot kind rest; do
	for k in restored replay ioctls hwpt-alloc attach plan-hwpt-allocs; do
		num "agent boot $boot ($kind) $k" "$(field "$rest" "$k")"
	done
	want=0; [ "$kind" = hwpt ] && want=1
	[ "$(field "$rest" plan-hwpt-allocs)" = "$want" ] ||
		{ echo "order: agent boot $boot ($kind): $(field "$rest" plan-hwpt-allocs) HWPT_ALLOC in the plan kho-tool inspect shows, want $want" >&2; exit 1; }
done <<<"$lines"
# kind FIELD: the median of FIELD over the restores of kind KIND.
agent_median() {
	awk -v kind="$1" -v k="$2" '$2 == kind { for (i = 3; i < NF; i++) if ($i == k) v[++n] = $(i+1) }
		END {
			for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (v[j] + 0 < v[i] + 0) { t = v[i]; v[i] = v[j]; v[j] = t }
			if (n) print v[int((n + 1) / 2)]
		}' <<<"$lines"
}
for kind in auto hwpt; do
	for k in restored replay ioctls hwpt-alloc attach; do
		v=$(agent_median "$kind" "$k")
		num "agent $kind $k median" "$v"
		printf -v "a_${kind}_${k//-/_}" '%s' "$v"
	done
done
# shellcheck disable=SC2154 # assigned by printf -v above
{
[ "$a_hwpt_ioctls" = $((a_auto_ioctls + 1)) ] ||
	{ echo "order: agent: $a_hwpt_ioctls ioctls replayed for the explicit HWPT, $a_auto_ioctls for the auto domain: want one more (its HWPT_ALLOC)" >&2; exit 1; }
[ "$(calc 0 "($a_hwpt_restored > 0 && $a_hwpt_replay > 0)")" = 1 ] || { echo "order: agent: explicit-HWPT restore time 0" >&2; exit 1; }
if [ "$aclock" = wall ]; then
	auto_ms[wall:$kernel]=$a_auto_restored
	echo "order: $maps maps, $kernel, restore-agent after kexec, wall clock, medians of $ar restores each: auto-domain VMM restored in $a_auto_restored ms (replay $a_auto_replay, attach $a_auto_attach) / explicit-HWPT VMM $a_hwpt_restored ms (replay $a_hwpt_replay, HWPT_ALLOC $a_hwpt_hwpt_alloc, attach $a_hwpt_attach): ratio $(calc 2 "$a_auto_restored / $a_hwpt_restored"); restored in, every restore: $(awk '{ for (i = 3; i < NF; i++) if ($i == "restored") printf "%s%s %s", (NR > 1 ? ", " : ""), $2, $(i+1) }' <<<"$lines")"
	return 0
fi
# Invalidations per restore window: 10/11 auto, 12/13 explicit HWPT.
# Unlike order-loop's rounds, each restore runs in its own boot: the
# auto domain's count follows the memfd's physically contiguous runs,
# which each boot's page allocator lays out anew, so the counts are
# printed per restore and compared by their medians and extremes.
counts=$(awk -v events="$inv_events" -f "$top/bench/host/edu-marker.awk" -f <(printf '%s\n' '
	BEGIN { n = split(events, e, /[ \t\n]+/); for (i = 1; i <= n; i++) one[e[i]] = 1 }
	edu_marker() {
		ph = edu_phase
		if (ph == 10 || ph == 12) { cur = (ph == 10 ? "auto" : "hwpt"); rnd = edu_round; inv = 0; pages = 0; qi = 0; next }
		if (ph == 11 || ph == 13) { if (cur != "") printf "%s %d %d %d %d\n", cur, rnd, inv, pages, qi; cur = ""; next }
	}
	cur != "" && ($1 in one) { inv++; pages += ($1 == "vtd_inv_desc_iotlb_pages") }
	cur != "" && $1 == "vtd_inv_qi_tail" { qi++ }') "$trace")
# kind COLUMN STAT: min, median or max of COLUMN (3 invalidations,
# 4 page-selective, 5 tail writes) over the restores of KIND.
inv_stat() {
	awk -v kind="$1" -v c="$2" -v s="$3" '$1 == kind { v[++n] = $c }
		END {
			for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (v[j] + 0 < v[i] + 0) { t = v[i]; v[i] = v[j]; v[j] = t }
			if (n) print (s == "min" ? v[1] : s == "max" ? v[n] : v[int((n + 1) / 2)])
		}' <<<"$counts"
}
for kind in auto hwpt; do
	w=$(awk -v kind="$kind" '$1 == kind' <<<"$counts" | grep -c . || :)
	[ "$w" = "$ar" ] ||
		{ echo "order: agent trace: $w $kind restore windows, want $ar ($trace)" >&2; exit 1; }
	[ "$(inv_stat "$kind" 3 min)" -gt 0 ] ||
		{ echo "order: agent: a $kind restore window counted no invalidation: trace broken? ($trace)" >&2; exit 1; }
done
inv_auto=$(inv_stat auto 3 median); inv_hwpt=$(inv_stat hwpt 3 median)
for v in inv_auto inv_hwpt; do num "agent $v" "${!v}"; done
auto_inv[$kernel]=$inv_auto auto_ms[icount:$kernel]=$a_auto_restored
echo "order: $maps maps, $kernel, restore-agent after kexec, -icount shift=0, medians of $ar restores each: auto-domain VMM restored in $a_auto_restored ms (replay $a_auto_replay: $a_auto_ioctls ioctls, attach $a_auto_attach) / explicit-HWPT VMM $a_hwpt_restored ms (replay $a_hwpt_replay: $a_hwpt_ioctls ioctls, HWPT_ALLOC $a_hwpt_hwpt_alloc, attach $a_hwpt_attach): ratio $(calc 2 "$a_auto_restored / $a_hwpt_restored"), replay step alone $(calc 2 "$a_auto_replay / $a_hwpt_replay")"
echo "order: $maps maps, $kernel, restore-agent after kexec: IOTLB + context invalidations per restore (QEMU trace; boot kind invalidations page-selective tail-writes): $(tr '\n' ';' <<<"$counts" | sed 's/;$//; s/;/; /g')"
echo "order: $maps maps, $kernel, restore-agent after kexec: IOTLB + context invalidations, medians of $ar restores each: auto-domain $inv_auto / explicit-HWPT $inv_hwpt: ratio $(calc 1 "$inv_auto / $inv_hwpt") (goal 4x; fewest auto / most explicit: $(inv_stat auto 3 min) / $(inv_stat hwpt 3 max) = $(calc 1 "$(inv_stat auto 3 min) / $(inv_stat hwpt 3 max)")); queued-invalidation tail writes $(inv_stat auto 5 median) / $(inv_stat hwpt 5 median)"
}
}

for clock in $clocks; do
	case "$clock" in agent) aclock=icount ;; agent-wall) aclock=wall ;; *) continue ;; esac
	for kernel in $kernels; do
		agent_run "$kernel" "$aclock"
	done
done

# The kernels against each other: what patches/0005 (an automatic domain
# filled before its attach) saves a maps-first ATTACH and the agent's
# restore of an auto-domain VMM.
# ratio_line WHAT HOW UNIT DIGITS VANILLA PATCHED [NOTE]: one line, when
# the run measured both kernels.
ratio_line() {
	[ -n "$5" ] && [ -n "$6" ] || return 0
	echo "order: $maps maps, $1, vanilla / patched$2 $5 / $6$3: ratio $(calc "$4" "$5 / $6")${7:-}"
}
# compare WHAT INV MS [NOTE]: WHAT's lines, from the arrays named INV
# (invalidations per kernel) and MS (milliseconds per clock:kernel).
compare() {
	local -n inv=$2 ms=$3
	local clock

	ratio_line "$1" ": invalidations" "" 1 "${inv[vanilla]:-}" "${inv[patched]:-}" "${4:-}"
	for clock in icount wall; do
		ratio_line "$1" ", $clock:" " ms" 2 "${ms[$clock:vanilla]:-}" "${ms[$clock:patched]:-}"
	done
}
compare "maps-first ATTACH to the IOAS" mf_inv mf_ms
compare "the restore-agent's restore of an auto-domain VMM" auto_inv auto_ms " (goal 4x)"
