#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The LD_PRELOAD recorder's cost per ioctl, measured in one TCG guest run:
# kho-rec-probe's MAP/UNMAP loop on an IOAS with no device, bare and under
# the recorder, alternated ROUNDS times; the best round of each is compared
# (the minimum is the least disturbed by the host).  Prints
# "recorder: per-ioctl overhead ratio X" (target <= 1.05).
#
# usage: bench/recorder-vm.sh [PAIRS] [ROUNDS]   (env BUILD as launch.sh)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
pairs=${1:-4000}
rounds=${2:-5}
export BUILD=${BUILD:-build}
name=bench-recorder
script=$(mktemp /tmp/bench-recorder.XXXXXX.sh)
trap 'rm -f "$script"' EXIT
cat > "$script" <<GUEST
for r in \$(seq $rounds); do
	kho-rec-probe loop $pairs | sed 's/^/bare: /' || khotest_fail "bare loop failed"
	LD_PRELOAD="\$KHOTEST_RECORDER" kho-rec-probe loop $pairs | sed 's/^/recorded: /' ||
		khotest_fail "recorded loop failed"
done
khotest_mark loops-done
khotest_done
GUEST
"$top/tests/vm/launch.sh" --name "$name" --script "$script" --timeout 600 \
	--expect loops-done >/dev/null
log="${KHO_VM_LOGDIR:-$BUILD/vm-logs}/$name.log"
# best ns/pair of a kind ("map-va" or "map-file") for bare or recorded runs
best() {
	grep -a "^$1: kho-rec-probe: loop" "$log" |
		sed -n "s/.*$2+unmap \([0-9]*\) ns\/pair.*/\1/p" | sort -n | head -n 1
}
for kind in map-va map-file; do
	b=$(best bare $kind)
	r=$(best recorded $kind)
	[ -n "$b" ] && [ -n "$r" ] || { echo "recorder-vm: no figures in $log" >&2; exit 1; }
	echo "recorder: $kind+unmap: bare $b ns/pair, recorded $r ns/pair, ratio $(awk "BEGIN{printf \"%.3f\", $r/$b}")"
done
b=$(best bare map-va)
r=$(best recorded map-va)
echo "recorder: per-ioctl overhead ratio $(awk "BEGIN{printf \"%.3f\", $r/$b}") (MAP by VA + UNMAP, $pairs pairs, best of $rounds rounds; target <= 1.05)"
