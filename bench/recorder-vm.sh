#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The LD_PRELOAD recorder's cost per ioctl, measured in one TCG guest run:
# kho-rec-probe's MAP/UNMAP loops (MAP by VA and MAP_FILE, each with
# UNMAP) on an IOAS with no device, and on an IOAS with the edu device
# bound and attached (each map then costs an IOTLB invalidation, as for a
# VMM with a device assigned), bare, bare with one idle thread
# ("bare+thread", bench/guest/idle-thread.c: a second thread sharing the
# fd table makes every ioctl's fdget() take a file reference, which a
# real, multi-threaded VMM pays bare already; the recorder's own server
# thread unshares its table, so "bare" is the strict baseline) and under
# the recorder, alternated ROUNDS times.  Prints one line per loop and baseline:
# "recorder: <loop>: bare X ns, recorded Y ns, ratio Z" (target <= 1.05).
#
# With KHO_RECORDER_BASE=path/to/another/libkho-record.so (say, one built
# from an older commit) the same guest also runs each loop under it, as
# "base", so that a change is measured before and after in one boot.
#
# By default QEMU runs with -icount shift=0,sleep=off (KHO_BENCH_ICOUNT=N
# for shift=N): guest time is then the count of guest instructions (2^N ns
# each), immune to the load of a shared host, but everything QEMU does
# outside guest code (an IOTLB invalidation's trap, TLB refills) costs no
# time at all.  The rounds are compared by their median: what varies is
# no longer host noise but the guest's own polling for the IOMMU.
# KHO_BENCH_ICOUNT=off measures wall clock and compares the best rounds
# (the minimum is the least disturbed by the host).
#
# usage: bench/recorder-vm.sh [PAIRS] [ROUNDS] [DEV_PAIRS]
#        (env BUILD as launch.sh; DEV_PAIRS defaults to PAIRS / 4)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
pairs=${1:-4000}
rounds=${2:-5}
dev_pairs=${3:-$((pairs / 4))}
export BUILD=${BUILD:-build}
name=bench-recorder
base=${KHO_RECORDER_BASE:-}
icount=${KHO_BENCH_ICOUNT:-0}
files=()
kinds=(recorded)
if [ "$icount" != off ]; then
	files+=(--qemu-arg -icount --qemu-arg "shift=$icount,sleep=off")
fi
thread="$BUILD/bench/guest/libkho-idle-thread.so"
mkdir -p "$(dirname "$thread")"
${CC:-cc} -O2 -shared -fPIC -o "$thread" "$top/bench/guest/idle-thread.c" -lpthread ||
	{ echo "recorder-vm: building $thread failed" >&2; exit 1; }
files+=(--file "$thread:/usr/lib/kho-tool/libkho-idle-thread.so")
if [ -n "$base" ]; then
	files+=(--file "$base:/usr/lib/kho-tool/libkho-record-base.so")
	kinds=(base recorded)
fi
script=$(mktemp /tmp/bench-recorder.XXXXXX.sh)
trap 'rm -f "$script"' EXIT
cat > "$script" <<GUEST
# run LABEL PRELOAD ARGS...: one probe loop, its lines prefixed with LABEL
run() {
	label=\$1 pre=\$2
	shift 2
	LD_PRELOAD="\$pre" kho-rec-probe loop "\$@" | sed "s/^/\$label: /" ||
		khotest_fail "\$label loop \$* failed"
}
for r in \$(seq $rounds); do
	for args in "$pairs" "$dev_pairs dev"; do
		run bare "" \$args
		run bare+thread /usr/lib/kho-tool/libkho-idle-thread.so \$args
		run recorded "\$KHOTEST_RECORDER" \$args
		[ -z "$base" ] || run base /usr/lib/kho-tool/libkho-record-base.so \$args
	done
done
khotest_mark loops-done
khotest_done
GUEST
"$top/tests/vm/launch.sh" --name "$name" --script "$script" --timeout 900 \
	"${files[@]}" --expect loops-done >/dev/null
log="${KHO_VM_LOGDIR:-$BUILD/vm-logs}/$name.log"
stat=median
[ "$icount" != off ] || stat=best
if [ "$icount" = off ]; then
	echo "recorder: wall clock, host load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"
else
	echo "recorder: -icount shift=$icount (1 guest instruction = $((1 << icount)) ns)"
fi
# ns/pair of the rounds (best or median): $1 bare|bare+thread|recorded|base,
# $2 ioas|ioas+device, $3 map-va|map-file
best() {
	grep -a "^$1: kho-rec-probe: loop [0-9]* pairs on $2:" "$log" |
		sed -n "s/.* $3+unmap \([0-9]*\) ns\/pair.*/\1/p" | sort -n |
		if [ $stat = best ]; then head -n 1; else
			awk '{v[NR] = $1} END {if (NR) print v[int((NR + 1) / 2)]}'
		fi
}
for on in ioas ioas+device; do
	for kind in map-va map-file; do
		n=$pairs
		[ "$on" = ioas ] || n=$dev_pairs
		b=$(best bare "$on" $kind)
		bt=$(best bare+thread "$on" $kind)
		for k in "${kinds[@]}"; do
			r=$(best $k "$on" $kind)
			[ -n "$b" ] && [ -n "$bt" ] && [ -n "$r" ] || {
				echo "recorder-vm: no $on $kind figures in $log" >&2
				exit 1
			}
			tag=
			[ $k = recorded ] || tag=" ($k)"
			echo "recorder$tag: $kind+unmap on $on ($n pairs, $stat of $rounds): bare $b ns, recorded $r ns, ratio $(awk "BEGIN{printf \"%.3f\", $r/$b}"); bare+thread $bt ns, ratio $(awk "BEGIN{printf \"%.3f\", $r/$bt}")"
		done
	done
done
