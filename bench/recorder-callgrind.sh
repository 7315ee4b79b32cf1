#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The recorder's own cost, in instructions, on the host: kho-rec-probe's
# MAP/UNMAP loops under valgrind's callgrind, over the fake iommufd of
# bench/host/fake-iommufd.c, bare and under libkho-record.so (or
# KHO_RECORDER=path, to measure another build).  Each side runs N and
# 3N pairs of each kind; the difference, divided by the 4N extra pairs,
# cancels start-up and the untimed first pairs.  The guest bench
# (recorder-vm.sh) gives the ratio against a real iommufd; this one says
# where the recorder's part of it goes, function by function, with
# `callgrind_annotate` on the files it leaves in $BUILD/bench/callgrind.
# Not part of `make bench`: it needs valgrind (apt-get install valgrind).
#
# usage: bench/recorder-callgrind.sh [N]   (env BUILD, default build)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-1000}
BUILD=${BUILD:-build}
rec=${KHO_RECORDER:-$BUILD/lib/libkho-record.so}
out=$BUILD/bench/callgrind
command -v valgrind >/dev/null ||
	{ echo "recorder-callgrind: valgrind is not installed" >&2; exit 1; }
[ -x "$BUILD/bin/kho-rec-probe" ] && [ -f "$rec" ] ||
	{ echo "recorder-callgrind: build first (make all)" >&2; exit 1; }
mkdir -p "$out"
fake=$out/libfake-iommufd.so
${CC:-cc} -O2 -shared -fPIC -I"$top/include/uapi-7.2" -o "$fake" \
	"$top/bench/host/fake-iommufd.c" -ldl
run=$(mktemp -d /tmp/recorder-callgrind.XXXXXX)
trap 'rm -rf "$run"' EXIT
# total instructions of one probe run: $1 LD_PRELOAD, $2 pairs, $3 tag
total() {
	KHO_RUN_DIR=$run LD_PRELOAD=$1 valgrind --tool=callgrind \
		--callgrind-out-file="$out/$3.$2.out" \
		"$BUILD/bin/kho-rec-probe" loop "$2" 2>&1 >/dev/null |
		sed -n 's/.*Collected : //p'
}
b1=$(total "$fake" "$n" bare)
b3=$(total "$fake" $((3 * n)) bare)
r1=$(total "$rec:$fake" "$n" recorded)
r3=$(total "$rec:$fake" $((3 * n)) recorded)
[ -n "$b1" ] && [ -n "$b3" ] && [ -n "$r1" ] && [ -n "$r3" ] ||
	{ echo "recorder-callgrind: a run reported no total" >&2; exit 1; }
pairs=$((4 * n))
echo "recorder-callgrind: per MAP+UNMAP pair (both kinds, $pairs pairs): bare $(((b3 - b1) / pairs)) instructions (fake ioctl), recorded $(((r3 - r1) / pairs)), recorder's own $(((r3 - r1 - b3 + b1) / pairs))"
