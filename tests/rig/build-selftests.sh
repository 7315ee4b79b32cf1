#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Builds upstream's own selftests from the rig's kernel source tree, static,
# for tests/vm/095-upstream-selftests.bats, and caches them outside the
# checkout.
#
#   tools/testing/selftests/iommu       iommufd, iommufd_fail_nth (-lcap)
#   tools/testing/selftests/liveupdate  liveupdate, luo_kexec_simple,
#                                       luo_multi_session, luo_stress_sessions,
#                                       luo_stress_files (+ luo_test_utils.c)
#   tools/testing/selftests/kho/init.c  kho-init, upstream's recipe (nolibc)
#   iommu again, as bin/slow/: the same tests with the harness's default
#   per-test timeout (TEST_TIMEOUT_DEFAULT, 30 s, fixed at compile time) at
#   SLOW_TIMEOUT s, for the debug kernels: under KASAN, lockdep and TCG,
#   iommufd_fail_nth's sweeps take minutes, not seconds.
#
# Each is built with its own Makefile (lib.mk) or, for kho, the command of
# kho/vmtest.sh, against the uapi headers of the same tree (make
# headers_install).  The selftests are copied out of the tree first: the
# liveupdate Makefile writes its objects into the current directory, and
# the pristine tree is shared by every kernel build (hard links).
# Static linking goes through USERLDFLAGS: CFLAGS+=-static on make's command
# line would replace the Makefile's CFLAGS, kernel header path included.
#
# The cache key hashes the source package and this script: a hit costs
# nothing, a miss about a minute (most of it headers_install).
#
# usage: build-selftests.sh [VERSION]
#   VERSION  the kernel version whose selftests to build, from the pristine
#            tree build-kernel.sh --source gives (7.2.13, the default;
#            7.2.6, 7.3.4): each kernel runs its own version's selftests
# env:   KHO_CACHE (default ~/.cache/kho-tool)
#        KHO_SELFTESTS_SRC  a kernel source tree to build from instead
# prints: the output directory: bin/ (the programs), usr/include, build.log
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
cache=${KHO_CACHE:-$HOME/.cache/kho-tool}
slow_timeout=600
version=${1:-7.2.13}

if [ -n "${KHO_SELFTESTS_SRC:-}" ]; then
	src=$(cd "$KHO_SELFTESTS_SRC" && pwd)
	ident="tree $src $(stat -c %Y "$src/Makefile")"
else
	# The tree build-kernel.sh builds that version's kernels from; the
	# key follows its table of Debian sources.
	src=$("$top/tests/rig/build-kernel.sh" --source "$version")
	ident="$version $(sed -n '/^kernel_source()/,/^}/p' "$top/tests/rig/build-kernel.sh")"
fi

key=$( { echo "$ident"; cat "$0"; } | sha256sum | cut -c1-16)
out="$cache/selftests/$key"
if [ -e "$out/.done" ]; then
	echo "$out"
	exit 0
fi

mkdir -p "$cache/selftests"
exec 9> "$cache/selftests/$key.lock"
if ! flock -n 9; then
	echo "selftests: waiting for another build ($key)" >&2
	flock 9
fi
if [ -e "$out/.done" ]; then
	echo "$out"
	exit 0
fi

if ! gcc -xc -o /dev/null - -static -lcap <<<'int main(void){return 0;}' 2>/dev/null; then
	echo "selftests: cannot link -static -lcap (install libcap-dev: make deps)" >&2
	exit 1
fi

echo "selftests: building ($key) from $src, log: $out/build.log" >&2
start=$(date +%s)
rm -rf "$out" "$out.tmp"
mkdir -p "$out.tmp/bin" "$out.tmp/tree"
log="$out.tmp/build.log"
tree="$out.tmp/tree"
st=tools/testing/selftests

{
	# The uapi headers of this very tree (O= keeps the tree clean).
	make -C "$src" O="$out.tmp/hdr-obj" ARCH=x86 headers_install \
		INSTALL_HDR_PATH="$out.tmp/usr"
	rm -rf "$out.tmp/hdr-obj"

	# What the three selftests read, at the same relative paths (7.3's
	# liveupdate lib includes scripts/subarch.include):
	# iommufd_utils.h includes ../../../../drivers/iommu/iommufd/iommufd_test.h.
	for p in $st/lib.mk $st/kselftest.h $st/kselftest_harness.h \
		$st/kselftest $st/iommu $st/liveupdate $st/kho \
		drivers/iommu/iommufd/iommufd_test.h tools/include/nolibc \
		scripts/subarch.include; do
		mkdir -p "$tree/$(dirname "$p")"
		cp -a "$src/$p" "$tree/$p"
	done

	hdr="-isystem $out.tmp/usr/include"
	for t in iommu liveupdate; do
		mkdir -p "$out.tmp/obj/$t"
		make -C "$tree/$st/$t" OUTPUT="$out.tmp/obj/$t" \
			KHDR_INCLUDES="$hdr" USERLDFLAGS=-static V=1
	done
	sed -i "s/^#define TEST_TIMEOUT_DEFAULT 30\$/#define TEST_TIMEOUT_DEFAULT $slow_timeout/" \
		"$tree/$st/kselftest_harness.h"
	grep -q "^#define TEST_TIMEOUT_DEFAULT $slow_timeout\$" "$tree/$st/kselftest_harness.h"
	mkdir -p "$out.tmp/obj/iommu-slow"
	make -C "$tree/$st/iommu" OUTPUT="$out.tmp/obj/iommu-slow" \
		KHDR_INCLUDES="$hdr" USERLDFLAGS=-static V=1

	# kho/vmtest.sh's mkinitrd, verbatim but for the paths.
	gcc -s -static -Os -nostdinc -nostdlib \
		-fno-asynchronous-unwind-tables -fno-ident \
		-I "$out.tmp/usr/include" -I "$tree/tools/include/nolibc" \
		-o "$out.tmp/bin/kho-init" "$tree/$st/kho/init.c"
} > "$log" 2>&1 || {
	echo "selftests: build failed; last lines of $log:" >&2
	tail -n 30 "$log" >&2
	exit 1
}

progs=(iommu/iommufd iommu/iommufd_fail_nth liveupdate/liveupdate
	liveupdate/luo_kexec_simple liveupdate/luo_multi_session
	liveupdate/luo_stress_sessions liveupdate/luo_stress_files)
for p in "${progs[@]}"; do
	if ! file -L "$out.tmp/obj/$p" | grep -q 'statically linked'; then
		echo "selftests: $p was not built static; see $log" >&2
		exit 1
	fi
	cp "$out.tmp/obj/$p" "$out.tmp/bin/"
done
mkdir -p "$out.tmp/bin/slow"
for p in iommufd iommufd_fail_nth; do
	file -L "$out.tmp/obj/iommu-slow/$p" | grep -q 'statically linked' ||
		{ echo "selftests: slow $p was not built static; see $log" >&2; exit 1; }
	cp "$out.tmp/obj/iommu-slow/$p" "$out.tmp/bin/slow/"
done
cp "$tree/$st/liveupdate/do_kexec.sh" "$out.tmp/bin/"
rm -rf "$out.tmp/obj" "$out.tmp/tree"
echo "selftests: built in $(( $(date +%s) - start )) s" >&2
touch "$out.tmp/.done"
mv "$out.tmp" "$out"
echo "$out"
