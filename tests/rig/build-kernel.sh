#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Builds one guest kernel for the rig and caches it outside the checkout.
#
# The cache key hashes everything that changes the image: the Debian source
# package, the config fragments, the flavour's local version and the content
# of every patch applied from patches/series.  A hit costs nothing; a miss
# costs 15 to 25 minutes on two cores for the first flavour of a config,
# and three to seven for its twin (below; docs/testing.md has the figures).
#
# usage: build-kernel.sh FLAVOUR
#   FLAVOUR  vanilla   7.2.13 as Debian ships it (LOCALVERSION -kho-a)
#            patched   7.2.13 + patches/series (LOCALVERSION -kho-b)
#            vanilla-debug, patched-debug
#                      the same plus KASAN, kmemleak, lockdep and the KHO
#                      test (tests/rig/kernel-debug.config; LOCALVERSION
#                      -kho-a-dbg, -kho-b-dbg)
#            vanilla-VERSION, patched-VERSION
#                      another Debian point release, same fragment, same
#                      local versions: 7.2.6 (trixie-backports), 7.3.4
#                      (trixie-backports; patched applies patches/7.3/series).
#                      The unsuffixed flavours are 7.2.13 (sid).
# usage: build-kernel.sh --cached FLAVOUR
#          the build directory if that flavour is cached, else status 3 and
#          no build (.ci/run: the kernel matrix runs when its kernels are)
# usage: build-kernel.sh --source VERSION
#          the pristine source tree of that version (7.2.13, 7.2.6, 7.3.4),
#          fetched and extracted on a miss: the tree every flavour of it is
#          hard-linked from, and what build-selftests.sh builds from
# env:     KHO_CACHE (default ~/.cache/kho-tool), KERNEL_JOBS (default nproc)
#
# Compiles go through ccache ($KHO_CACHE/ccache).  The local version goes on
# make's command line, not into .config, so that vanilla and patched of one
# config have the same autoconf.h: the twin recompiles only the files the
# series touches, and a patch edit costs a link, not a six-minute build.
# prints:  the build directory, which holds bzImage, vmlinux, .config,
#          build.log and usr/include (the uapi headers)
set -euo pipefail

cached_only=0
source_only=
case "${1:-}" in
--cached) cached_only=1; shift ;;
--source) source_only=${2:?usage: build-kernel.sh --source VERSION}; shift 2 ;;
esac
top=$(cd "$(dirname "$0")/../.." && pwd)
cache=${KHO_CACHE:-$HOME/.cache/kho-tool}
fragment="$top/tests/rig/kernel.config"
jobs=${KERNEL_JOBS:-$(nproc)}

# The Debian source of each kernel version the rig builds: suite, package,
# version, and the series its patched flavour applies.  7.2.13 is the rig's
# own kernel: its flavours carry no version suffix.
kernel_source() {
	case "$1" in
	7.2.13) echo "sid linux-source-7.2 7.2.13-1 patches/series" ;;
	7.2.6) echo "trixie-backports linux-source-7.2 7.2.6-1~bpo13+1 patches/series" ;;
	7.3.4) echo "trixie-backports linux-source-7.3 7.3.4-1~bpo13+1 patches/7.3/series" ;;
	*) return 1 ;;
	esac
}

# A version's own fragment, merged last, for what its Kconfig renamed.
version_fragment() {
	local f="$top/tests/rig/kernel-${1%.*}.config"
	[ "$1" = 7.2.13 ] || [ ! -e "$f" ] || echo "$f"
}

# pristine_tree VERSION TARBALL: the version's unpatched tree, extracted
# once under a lock (builds of several flavours share it through hard
# links).  7.2.13 keeps the path it always had; other versions get their own.
pristine_tree() {
	local kver=$1 tarball=$2 pristine v

	pristine="$cache/src/linux-7.2-pristine"
	[ "$kver" = 7.2.13 ] || pristine="$cache/src/linux-$kver-pristine"
	mkdir -p "$cache/src"
	exec 8> "$cache/src/.pristine.lock"
	flock 8
	if [ ! -e "$pristine/.done" ]; then
		echo "kernel: extracting $(basename "$tarball")" >&2
		rm -rf "$pristine" "$pristine.tmp"
		mkdir -p "$pristine.tmp"
		tar -C "$pristine.tmp" --strip-components=1 -xf "$tarball"
		v=$(make -s -C "$pristine.tmp" kernelversion)
		[ "$v" = "$kver" ] || { echo "kernel: $(basename "$tarball") is $v, not $kver" >&2; exit 1; }
		mv "$pristine.tmp" "$pristine"
		touch "$pristine/.done"
	fi
	exec 8>&-
	echo "$pristine"
}

# source_tarball VERSION: the Debian source tarball of that version,
# fetched on a miss.
source_tarball() {
	local src_line suite package debver series

	src_line=$(kernel_source "$1") ||
		{ echo "build-kernel: no Debian source known for $1" >&2; return 2; }
	read -r suite package debver series <<< "$src_line"
	"$top/tests/rig/fetch-kernel-source.sh" "$suite" "$package" "$cache" "$debver"
}

if [ -n "$source_only" ]; then
	tarball=$(source_tarball "$source_only")
	pristine_tree "$source_only" "$tarball"
	exit 0
fi
flavour=${1:?usage: build-kernel.sh vanilla|patched|vanilla-debug|patched-debug|vanilla-VERSION|patched-VERSION}

# Fragments merged on top of tinyconfig, in order; the later one wins.
fragments=("$fragment")
kver=7.2.13
base=$flavour
case "$flavour" in
vanilla-[0-9]*|patched-[0-9]*) kver=${flavour#*-}; base=${flavour%%-*} ;;
esac
case "$base" in
vanilla) localversion=-kho-a; use_patches=0 ;;
patched) localversion=-kho-b; use_patches=1 ;;
vanilla-debug)
	localversion=-kho-a-dbg; use_patches=0
	fragments+=("$top/tests/rig/kernel-debug.config")
	;;
patched-debug)
	localversion=-kho-b-dbg; use_patches=1
	fragments+=("$top/tests/rig/kernel-debug.config")
	;;
*) echo "build-kernel: unknown flavour '$flavour'" >&2; exit 2 ;;
esac
src_line=$(kernel_source "$kver") ||
	{ echo "build-kernel: no Debian source known for $kver (flavour '$flavour')" >&2; exit 2; }
read -r suite package debver series <<< "$src_line"
vfrag=$(version_fragment "$kver")
[ -z "$vfrag" ] || fragments+=("$vfrag")
series="$top/$series"

tarball=$(source_tarball "$kver")

patch_list=()
if [ "$use_patches" = 1 ]; then
	[ -s "$series" ] || { echo "build-kernel: $flavour wants ${series#$top/}, which is missing" >&2; exit 2; }
	while read -r p; do
		case "$p" in ''|'#'*) continue ;; esac
		patch_list+=("$(dirname "$series")/$p")
	done < "$series"
fi

key=$( {
	basename "$(dirname "$(dirname "$(dirname "$tarball")")")"
	echo "$flavour $localversion"
	echo "recipe 2"
	cat "${fragments[@]}"
	for p in "${patch_list[@]}"; do cat "$p"; done
} | sha256sum | cut -c1-16)
out="$cache/kernel/$flavour-$key"

if [ -e "$out/.done" ]; then
	echo "$out"
	exit 0
fi
if [ "$cached_only" = 1 ]; then
	echo "kernel: $flavour ($key) is not cached" >&2
	exit 3
fi

# Two suites may ask for the same kernel at once: the second waits for the
# first instead of deleting the tree under it.
mkdir -p "$cache/kernel"
exec 9> "$cache/kernel/$flavour-$key.lock"
if ! flock -n 9; then
	echo "kernel: waiting for another build of $flavour ($key)" >&2
	flock 9
fi
if [ -e "$out/.done" ]; then
	echo "$out"
	exit 0
fi

pristine=$(pristine_tree "$kver" "$tarball")

echo "kernel: building $flavour ($key), log: $out/build.log" >&2
rm -rf "$out"
mkdir -p "$out"
# A hard-linked copy is cheap; patch(1) and the build replace files rather
# than write through the links, so the pristine tree stays clean.
src="$out/src"
cp -al "$pristine" "$src"
rm -f "$src/.done"

for p in "${patch_list[@]}"; do
	echo "kernel: applying $(basename "$p")" >&2
	patch -s -p1 -d "$src" < "$p"
done

{
	make -C "$src" tinyconfig
	"$src/scripts/kconfig/merge_config.sh" -m -O "$src" "$src/.config" "${fragments[@]}"
	make -C "$src" olddefconfig
} > "$out/build.log" 2>&1

# Every CONFIG_*=y must be set and every "# CONFIG_* is not set" unset in
# the final .config: olddefconfig drops what a dependency does not allow.
# A "# renamed: OLD NEW" line in a fragment checks NEW where OLD is asked.
declare -A renamed=()
while read -r _ _ old new; do
	renamed[$old]=$new
done < <(grep -h '^# renamed: ' "${fragments[@]}" || true)
missing=0
while read -r line; do
	sym=${line%%=*}
	if [ "${line#CONFIG_}" != "$line" ] && [ -n "${renamed[$sym]:-}" ]; then
		line="${renamed[$sym]}=${line#*=}"
	fi
	case "$line" in
	CONFIG_*=y)
		grep -qx "$line" "$src/.config" && continue ;;
	"# CONFIG_"*" is not set")
		sym=${line#\# }; sym=${sym%% *}
		! grep -q "^$sym=" "$src/.config" && continue ;;
	*) continue ;;
	esac
	echo "kernel: '$line' did not land in .config" >&2
	missing=1
done < <(cat "${fragments[@]}")
[ "$missing" = 0 ] || { echo "kernel: config check failed, see $src/.config" >&2; exit 1; }

# Every flavour builds in its own directory: the base dir makes ccache's
# keys relative to it, and fixed build stamps keep init/version.c cacheable.
cc=gcc
if command -v ccache > /dev/null; then
	export CCACHE_DIR="$cache/ccache" CCACHE_BASEDIR="$src" CCACHE_NOHASHDIR=1
	export CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-6G}
	# Depend mode: a miss compiles once, with the dependency file kbuild
	# asks for (-Wp,-MMD), instead of running the preprocessor first to
	# hash its output.  37 % less CPU on a cold cache (156 ACPICA
	# objects: 97 against 153 CPU-seconds, docs/testing.md); hits, the
	# twins' (direct mode), are looked up as before.
	export CCACHE_DEPEND=1
	cc="ccache gcc"
fi
export KBUILD_BUILD_TIMESTAMP="2026-01-01" KBUILD_BUILD_USER=kho KBUILD_BUILD_HOST=rig
start=$(date +%s)
if ! make -C "$src" -j"$jobs" CC="$cc" LOCALVERSION="$localversion" bzImage >> "$out/build.log" 2>&1; then
	echo "kernel: build failed; last lines of $out/build.log:" >&2
	tail -n 30 "$out/build.log" >&2
	exit 1
fi
make -C "$src" LOCALVERSION="$localversion" headers_install INSTALL_HDR_PATH="$out/usr" >> "$out/build.log" 2>&1
cp "$src/arch/x86/boot/bzImage" "$src/vmlinux" "$src/.config" "$out/"
echo "kernel: $flavour built in $(( $(date +%s) - start )) s" >&2
command -v ccache > /dev/null && ccache --show-stats 2>/dev/null | grep -iE 'hits|misses' | head -3 >&2 || true
touch "$out/.done"
echo "$out"
