#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Fetches Debian's linux-source package of a given suite into the cache,
# reading the archive through a private sources list so that the system's
# apt configuration is never touched.
#
# usage: fetch-kernel-source.sh SUITE PACKAGE CACHE_DIR [VERSION]
#   VERSION  the Debian version to fetch (7.2.13-1, 7.3.4-1~bpo13+1); pinned,
#            because the cache holds several point releases of one package
#            (linux-source-7.2 7.2.6 and 7.2.13) and "the first .deb" is then
#            a guess.  Without it, the one .deb of PACKAGE in the cache, or the
#            suite's newest; two in the cache and no VERSION is an error.
# prints the path of the unpacked linux-source-*.tar.xz
set -euo pipefail

suite=${1:?suite}
pkg=${2:?package}
cache=${3:?cache dir}
version=${4:-}

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

# apt-get download names the file PKG_VERSION_ARCH.deb, an epoch's ':' as %3a.
if [ -n "$version" ]; then
	pattern="${pkg}_${version//:/%3a}_*.deb"
	want="$pkg=$version"
else
	pattern="${pkg}_*.deb"
	want=$pkg
fi
find_deb() {
	local debs
	debs=$(cd "$cache/debs" && ls -- $pattern 2>/dev/null || true)
	if [ "$(printf '%s\n' "$debs" | grep -c .)" -gt 1 ]; then
		echo "fetch: several $pkg in $cache/debs ($(echo $debs)); name a VERSION" >&2
		exit 2
	fi
	[ -z "$debs" ] || echo "$cache/debs/$debs"
}
deb=$(find_deb)
if [ -z "$deb" ]; then
	echo "fetch: apt-get update ($suite, private list)" >&2
	apt-get "${apt_opts[@]}" -qq update >&2
	(cd "$cache/debs" && apt-get "${apt_opts[@]}" -qq download "$want" >&2)
	deb=$(find_deb)
	[ -n "$deb" ] || { echo "fetch: $want from $suite gave no $pattern" >&2; exit 1; }
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
