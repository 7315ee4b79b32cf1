#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Runs the VM suites with bats and closes with the one summary line CI
# reads: "vm: N passed, N failed".  A skipped test counts as failed: on a
# machine that can run QEMU nothing may skip, and one that cannot must not
# look green.
#
# usage: run.sh [bats options] [tests/vm/NNN-name.bats...]
#   with no suite given, every tests/vm/*.bats in name order, but of
#   105-cross-version.bats (the kernel-version matrix) only its first pair,
#   vanilla 7.2.13 -> 7.3.4 -> 7.2.13, and not 106-upstream-selftests-7.3:
#   `make check-matrix` runs the whole of both (docs/testing.md); nor
#   130-fleet: `make check-fleet` runs it; e.g.
#   run.sh -f 'kexec' tests/vm/020-luo-kexec.bats
#
# The suites run in lanes: KHO_VM_LANES bats processes side by side
# (default: one per CPU, since every guest is one TCG vCPU thread and
# keeps one host CPU busy), each taking whole suites, longest first, so
# that the lanes end together.  Each line a lane prints carries its
# number ("L1 ok 3 ..."); its bare TAP goes to $BUILD/vm-logs/lane-N.tap.
# KHO_VM_LANES=1 runs the suites one after the other, in name order.
set -uo pipefail

dir=$(cd "$(dirname "$0")" && pwd)
opts=()
suites=()
while [ $# -gt 0 ]; do
	case "$1" in
	*.bats) suites+=("$1") ;;
	-f|--filter|-j|--jobs) opts+=("$1" "${2:?$1 wants a value}"); shift ;;
	*) opts+=("$1") ;;
	esac
	shift
done
matrix_pair=()
if [ "${#suites[@]}" -eq 0 ]; then
	for f in "$dir"/[0-9]*.bats; do
		case "$f" in
		# A --filter of the caller's picks from every suite as it is.
		*/105-cross-version.bats)
			case " ${opts[*]:-} " in
			*" -f "* | *" --filter "*) suites+=("$f") ;;
			*) matrix_pair=("$f") ;;
			esac
			;;
		# Upstream's selftests on the 7.3 kernels: the matrix's kernels,
		# not built on a cold run; `make check-matrix` runs it.  The
		# fleet rollout: three L1 hosts at once, 40 minutes and more on
		# two cores, and its batch stalled past the hosts' hour in a run
		# next to other guests (docs/testing.md); `make check-fleet`
		# runs it alone.
		*/106-upstream-selftests-7.3.bats | */130-fleet.bats)
			case " ${opts[*]:-} " in
			*" -f "* | *" --filter "*) suites+=("$f") ;;
			esac
			;;
		*) suites+=("$f") ;;
		esac
	done
fi
# The one pair of the matrix every run checks (tests/vm/105-cross-version.bats).
MATRIX_PAIR_FILTER='^cross-version: vanilla 7\.2\.13 -> 7\.3\.4 -> 7\.2\.13'

if ! command -v bats >/dev/null; then
	echo "vm: bats not found (install bats: make deps)"
	echo "vm: 0 passed, 1 failed"
	exit 1
fi
if ! command -v "${KHO_QEMU:-qemu-system-x86_64}" >/dev/null; then
	# The suites fail on their own with this reason; say it once up front.
	echo "vm: ${KHO_QEMU:-qemu-system-x86_64} not found: every VM test will fail" \
		"(install qemu-system-x86: make deps)"
fi

start=$(date +%s)
# Resolve (on a cold cache: build) both kernels once, before any test runs,
# so that a six-minute build shows its progress here instead of inside the
# first test, and every launch reuses the answer.
for flavour in vanilla patched; do
	var=KHO_KERNEL_${flavour^^}
	[ -n "${!var:-}" ] && continue
	if ! kdir=$("$dir/../rig/build-kernel.sh" "$flavour"); then
		echo "vm: building the $flavour kernel failed"
		echo "vm: 0 passed, 1 failed"
		exit 1
	fi
	export "$var=$kdir"
	echo "vm: $flavour kernel $kdir"
done

# suite_weight SUITE: the seconds it took in the last measured run, with
# two lanes (the warm CI run of 2026-12-07, stop 21, docs/testing.md
# "Wall times"; 105 and 106 whole, as check-matrix runs them, and 130
# alone, from earlier runs; each job's "# vm: SUITE took N s" line gives
# the next figures), so that the lanes can be balanced before any of
# them starts; a suite not listed counts as a minute.
suite_weight() {
	case "${1##*/}" in
	000-*) echo 68 ;;   001-*) echo 8 ;;   010-*) echo 20 ;;
	020-*) echo 40 ;;   030-*) echo 12 ;;  040-*) echo 47 ;;
	045-*) echo 199 ;;  050-*) echo 117 ;; 060-*) echo 195 ;;
	065-*) echo 54 ;;   066-*) echo 396 ;; 067-*) echo 445 ;;
	070-*) echo 111 ;;
	075-*) echo 130 ;;
	080-*) echo 59 ;;   085-*) echo 566 ;; 090-*) echo 274 ;;
	095-*) echo 877 ;;  100-*) echo 116 ;; 105-*) echo 165 ;;
	106-*) echo 45 ;;   110-*) echo 371 ;; 120-*) echo 344 ;;
	130-*) echo 1390 ;;
	*) echo 60 ;;
	esac
}

# job_weight JOB: a suite's weight; the matrix pair is one test of 105
# (31 s in that run).
job_weight() {
	if [ -n "${1#*|}" ]; then echo 31; else suite_weight "${1%%|*}"; fi
}

# A job is one bats run: a suite, and the filter of the matrix pair.
jobs=()
for f in "${suites[@]}"; do jobs+=("$f|"); done
for f in "${matrix_pair[@]}"; do jobs+=("$f|$MATRIX_PAIR_FILTER"); done

lanes=${KHO_VM_LANES:-$(nproc 2>/dev/null || echo 1)}
case "$lanes" in ''|*[!0-9]*|0) echo "vm: KHO_VM_LANES=$lanes: not a lane count"; exit 2 ;; esac
[ "$lanes" -le "${#jobs[@]}" ] || lanes=${#jobs[@]}
[ "$lanes" -ge 1 ] || lanes=1

# Longest first, each to the lane with the least work so far.  One lane
# keeps the name order, which a reader of a single-lane log expects.
declare -A lane_jobs=() lane_load=()
for ((l = 1; l <= lanes; l++)); do lane_jobs[$l]=; lane_load[$l]=0; done
if [ "$lanes" -eq 1 ]; then
	order=("${jobs[@]}")
else
	mapfile -t order < <(for j in "${jobs[@]}"; do
		echo "$(job_weight "$j") $j"; done | sort -k1,1nr -s | cut -d' ' -f2-)
fi
for j in "${order[@]}"; do
	best=1
	for ((l = 2; l <= lanes; l++)); do
		[ "${lane_load[$l]}" -lt "${lane_load[$best]}" ] && best=$l
	done
	lane_jobs[$best]+="$j"$'\n'
	lane_load[$best]=$(( lane_load[$best] + $(job_weight "$j") ))
done

logdir=${KHO_VM_LOGDIR:-${BUILD:-$dir/../../build}/vm-logs}
mkdir -p "$logdir" || { echo "vm: cannot create $logdir"; exit 2; }

# run_lane N: that lane's jobs one after the other, its TAP kept in
# lane-N.tap and shown as it comes; the lane's status is bats's worst.
run_lane() {
	local n=$1 tap=$logdir/lane-$1.tap rc=0 job suite filter prefix="" t0 fargs
	[ "$lanes" -eq 1 ] || prefix="L$n "
	# The jobs come on fd 8: the suites' commands may read stdin.
	while IFS= read -r -u 8 job; do
		[ -n "$job" ] || continue
		suite=${job%%|*} filter=${job#*|}
		t0=$SECONDS
		fargs=()
		[ -z "$filter" ] || fargs=(-f "$filter")
		{
			if [ -n "$filter" ]; then
				echo "# vm: of ${suite##*/}, one cross-version pair (make check-matrix runs all)"
			else
				echo "# vm: ${suite##*/}"
			fi
			bats --tap "${opts[@]}" "${fargs[@]}" "$suite" 2>&1
		} | tee -a "$tap" | sed -u "s/^/$prefix/"
		[ "${PIPESTATUS[0]}" -eq 0 ] || rc=1
		# suite_weight's figures come from these lines.
		echo "# vm: ${suite##*/} took $((SECONDS - t0)) s" | tee -a "$tap" | sed "s/^/$prefix/"
	done 8<<< "${lane_jobs[$n]}"
	return "$rc"
}

rm -f "$logdir"/lane-*.tap
pids=()
for ((l = 1; l <= lanes; l++)); do
	[ "$lanes" -eq 1 ] || echo "vm: lane $l: $(printf '%s' "${lane_jobs[$l]}" |
		sed 's/|.*//; s|.*/||' | tr '\n' ' ')(about ${lane_load[$l]} s)"
	: > "$logdir/lane-$l.tap"
	run_lane "$l" &
	pids+=($!)
done
rc=0
for p in "${pids[@]}"; do wait "$p" || rc=1; done

out=$(mktemp)
trap 'rm -f "$out"' EXIT
cat "$logdir"/lane-*.tap > "$out"
if [ "${#matrix_pair[@]}" -gt 0 ] &&
	! grep -Eq '^ok [0-9]+ cross-version: vanilla 7.2.13 -> 7.3.4' "$out"; then
	echo "vm: the cross-version pair did not run"
	rc=1
	echo "not ok 0 cross-version pair missing" >> "$out"
fi

passed=$(grep -Ec '^ok [0-9]+ ' "$out")
skipped=$(grep -Ec '^ok [0-9]+ .*# skip' "$out")
failed=$(grep -Ec '^not ok [0-9]+ ' "$out")
passed=$((passed - skipped))
failed=$((failed + skipped))
[ "$skipped" -eq 0 ] || echo "vm: $skipped test(s) skipped, counted as failed"
if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
	echo "vm: bats exited with status $rc without a failed test"
	failed=1
fi
if [ $((passed + failed)) -eq 0 ]; then
	echo "vm: no test ran"
	failed=1
fi
echo "vm: wall time $(( $(date +%s) - start )) s"
# CI keeps only the tail of a run: name each failure again here, with the
# first lines of bats's diagnosis (less its call trace) and the guest's
# last console lines (the "    | " tail launch.sh prints), so that the
# tail says what failed and why: a guest's own error is in its console,
# above its FAIL line.
if [ "$failed" -ne 0 ]; then
	awk 'function flush(  i) {
		for (i = m > 12 ? m - 11 : 1; i <= m; i++) print "vm:   " tail[i]
		indiag = 0; m = 0
	     }
	     /^# vm: .*\.bats$/ { flush(); sub(/^# vm: /, ""); suite = $0; next }
	     /^(not ok [0-9]+ |ok [0-9]+ .*# skip)/ {
		flush(); print "vm: FAILED " suite ": " $0; indiag = 1; n = 0; next }
	     indiag && /^#/ {
		if ($0 ~ /^# +\| /) tail[++m] = $0
		else if ($0 !~ /^# +\(?(from function|in test file) / && n++ < 6)
			print "vm:   " $0
		next
	     }
	     { flush() }
	     END { flush() }' "$out" | head -n 80
	echo "vm: the guests' logs are in $logdir"
fi
echo "vm: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
