#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Prints the path of a Debian root (debootstrap --variant=minbase) of SUITE
# with PACKAGES installed, unpacked fresh into a work directory from a
# tarball cached under $KHO_CACHE/distro, keyed by suite + package list.
# The archive is read through a private sources list (as
# tests/rig/fetch-kernel-source.sh does): the system's apt configuration is
# never touched.  A cold build takes minutes; a warm one is an untar.
#
# usage: chroot.sh SUITE WORKDIR PACKAGE...
#        WORKDIR "-" builds (or finds) the cached tarball and unpacks
#        nothing: tests/rig/prepare.sh warms the cache that way.
set -euo pipefail

suite=${1:?suite}
work=${2:?work dir}
shift 2
cache=${KHO_CACHE:-$HOME/.cache/kho-tool}/distro
mkdir -p "$cache"
[ "$work" = - ] || mkdir -p "$work"

mirror=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n1)
[ -n "$mirror" ] || mirror=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list 2>/dev/null)
[ -n "$mirror" ] || mirror=http://deb.debian.org/debian

pkgs=$(printf '%s\n' "$@" | LC_ALL=C sort -u | paste -sd, -)
key=$(printf '%s %s minbase v1\n' "$suite" "$pkgs" | sha256sum | cut -c1-16)
tarball="$cache/$suite-$key.tar.zst"
root="$work/root"

command -v debootstrap >/dev/null ||
	{ echo "chroot: debootstrap not found (apt-get install debootstrap)" >&2; exit 2; }

if [ ! -s "$tarball" ]; then
	(
	# One builder at a time per tarball; a second waits and reuses it.
	flock 9
	[ -s "$tarball" ] && exit 0
	start=$(date +%s)
	tmp=$(mktemp -d "$cache/build.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	echo "chroot: debootstrap $suite (minbase + $pkgs) from $mirror" >&2
	if ! debootstrap --variant=minbase --include="$pkgs" \
		--keyring=/usr/share/keyrings/debian-archive-keyring.gpg \
		"$suite" "$tmp/root" "$mirror" > "$tmp/debootstrap.log" 2>&1; then
		tail -n 30 "$tmp/debootstrap.log" >&2
		tail -n 30 "$tmp/root/debootstrap/debootstrap.log" >&2 2>/dev/null
		echo "chroot: debootstrap $suite failed" >&2
		exit 1
	fi
	rm -rf "$tmp/root/var/cache/apt/archives/"*.deb "$tmp/root/var/lib/apt/lists/"*_Packages
	tar -C "$tmp/root" --numeric-owner -cf - . | zstd -q -T0 -3 > "$tmp/root.tar.zst"
	mv "$tmp/root.tar.zst" "$tarball"
	echo "chroot: built $tarball in $(( $(date +%s) - start )) s" >&2
	) 9> "$tarball.lock"
fi

if [ "$work" = - ]; then
	echo "$tarball"
	exit 0
fi
rm -rf "$root"
mkdir -p "$root"
zstd -q -d -c "$tarball" | tar -C "$root" --numeric-owner -xf -
echo "$root"
