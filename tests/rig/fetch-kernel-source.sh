#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Fetches Debian's linux-source package of a given suite into the cache,
# reading the archive through a private sources list so that the system's
# apt configuration is never touched.
#
# usage: fetch-kernel-source.sh SUITE PACKAGE CACHE_DIR
# prints the path of the unpacked linux-source-*.tar.xz
set -euo pipefail

suite=${1:?suite}
pkg=${2:?package}
cache=${3:?cache dir}

apt_dir="$cache/apt-$suite"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/archives/partial" "$cache/debs"

# Reuse the mirror the system already trusts; only the suite differs.
mirror=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n1)
[ -n "$mirror" ] || mirror=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list 2>/dev/null)
[ -n "$mirror" ] || mirror=http://deb.debian.org/debian

echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror $suite main" > "$apt_dir/sources.list"
apt_opts=(-o "Dir::Etc::sourcelist=$apt_dir/sources.list"
	  -o "Dir::Etc::sourceparts=-"
	  -o "Dir::State::Lists=$apt_dir/lists"
	  -o "Dir::Cache::Archives=$apt_dir/archives"
	  -o "APT::Get::List-Cleanup=0")

deb=$(ls "$cache"/debs/"${pkg}"_*.deb 2>/dev/null | head -n1 || true)
if [ -z "$deb" ]; then
	echo "fetch: apt-get update ($suite, private list)" >&2
	apt-get "${apt_opts[@]}" -qq update >&2
	(cd "$cache/debs" && apt-get "${apt_opts[@]}" -qq download "$pkg" >&2)
	deb=$(ls "$cache"/debs/"${pkg}"_*.deb | head -n1)
fi

unpack="$cache/src/$(basename "$deb" .deb)"
if [ ! -e "$unpack/.done" ]; then
	echo "fetch: unpacking $(basename "$deb")" >&2
	rm -rf "$unpack"
	mkdir -p "$unpack"
	dpkg-deb -x "$deb" "$unpack"
	touch "$unpack/.done"
fi
ls "$unpack"/usr/src/linux-source-*.tar.xz | head -n1
