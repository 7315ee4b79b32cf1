#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Replay length over live mappings (issue #12 item 4), on both restore
# paths, after churn: for each "MAPS:CHURN" in SIZES, test-vmm serve (under
# the recorder) builds MAPS live mappings after CHURN map/unmap cycles and
# is upgraded with kho-tool into the same kernel flavour
# (bench/guest/replen-vm.sh):
#
#   vanilla  the userspace plan path: the agent replays the compacted plan;
#   patched  the kernel-verified path: the VMM's iommufd is preserved, the
#            kernel folds its journal to the live state (patches/0004) and
#            the agent replays that journal into it, each record checked.
#
# Figures: the map records replayed (IOAS_MAP + IOAS_MAP_FILE + IOAS_COPY
# in the adopted VMM's journal, which starts from what the agent replayed)
# over the live mappings N (test-vmm's own count), and the agent's logged
# counts ("replaying X ..."; on the kernel path "plan would be Y; the
# kernel folded a journal of Z records").  Both ratios must be 1.000, and
# the replayed map records must equal the agent's count less its
# non-map records; a missing figure fails the bench.
#
# usage: bench/replen-vm.sh ["MAPS:CHURN ..."]   (env BUILD as launch.sh)
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
sizes=${1:-64:1000 1024:4000}
export BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD="$top/$BUILD" ;; esac
logdir=${KHO_VM_LOGDIR:-$BUILD/vm-logs}
flavours=${KHO_BENCH_REPLEN_FLAVOURS:-vanilla patched}

script=$(mktemp /tmp/bench-replen.XXXXXX.sh)
trap 'rm -f "$script"' EXIT
calc() { awk "BEGIN { printf \"%.${1}f\", $2 }"; }
fail=0
for flavour in $flavours; do
	name=bench-replen-$flavour
	log=$logdir/$name.log
	{ echo "flavour=$flavour sizes=\"$sizes\""; cat "$top/bench/guest/replen-vm.sh"; } >"$script"
	expects=()
	for s in $sizes; do expects+=(--expect "replen-${s%%:*}"); done
	"$top/tests/vm/launch.sh" --name "$name" --kernel "$flavour" \
		--script "$script" --timeout 1500 \
		--file "$top/tests/vm/guest/verified-lib.sh:/test/verified-lib.sh" \
		"${expects[@]}" >&2 ||
		{ echo "replen: the $flavour guest run failed, see $log" >&2; exit 1; }
	path="userspace plan (vanilla)"
	[ "$flavour" = vanilla ] || path="kernel-verified (patched)"
	for s in $sizes; do
		n=${s%%:*}
		line=$(grep -a -o "KHOTEST: LOG replen-$flavour-$n=.*" "$log" | tail -n 1 | tr -d '\r')
		setup=$(grep -a -o "KHOTEST: LOG replen-setup-$flavour-$n=.*" "$log" | tail -n 1 | tr -d '\r')
		[ -n "$line" ] && [ -n "$setup" ] ||
			{ echo "replen: $flavour $n maps: no figures in $log" >&2; exit 1; }
		f() { awk -v k="$1" '{ for (i = 1; i < NF; i++) if ($i == k) { print $(i+1); exit } }' <<<"${2#*=}"; }
		live=$(f live "$line"); replayed=$(f replayed "$line"); plan=$(f plan "$line")
		journal=$(f journal "$line"); records=$(f adopted-records "$line")
		m=$(f map "$line"); mf=$(f map-file "$line"); cp=$(f copy "$line"); um=$(f unmap "$line")
		vmaps=$(f maps "$setup"); churn=$(f churn "$setup")
		for v in live replayed plan journal records m mf cp um vmaps churn; do
			[[ "${!v:-}" =~ ^[0-9]+$ ]] ||
				{ echo "replen: $flavour $n maps: '$v' missing or not a number ('${!v:-}') in $log" >&2; exit 1; }
		done
		[ "$vmaps" -gt 0 ] || { echo "replen: $flavour $n maps: no live mappings" >&2; exit 1; }
		maprec=$((m + mf + cp))
		ratio=$(calc 3 "$maprec / $vmaps")
		echo "replen: $path: $vmaps live mappings after $churn churn cycles (journal $journal records): replayed $replayed ioctls (plan $plan), of which $maprec map records (MAP $m, MAP_FILE $mf, COPY $cp; UNMAP $um): map records / live mappings = $ratio; whole replay / plan = $(calc 3 "$replayed / $plan"); history folded: $journal -> $replayed records"
		[ "$ratio" = 1.000 ] && [ "$replayed" = "$plan" ] && [ "$records" = "$replayed" ] && [ "$live" = "$vmaps" ] || {
			echo "replen: $flavour $n maps: NOT O(live state): map records $maprec for $vmaps live mappings, replayed $replayed, plan $plan, adopted journal $records records, its live maps $live" >&2
			fail=1
		}
	done
done
exit $fail
