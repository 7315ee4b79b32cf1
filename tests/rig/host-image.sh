#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The rig's host image: a Debian sid root with QEMU 11.1, systemd and
# kexec-tools, the root "host" of tests/distro/roots.sh (its package list
# lives there, with the others; tests/distro/chroot.sh builds it by
# debootstrap through a private sources list and caches it under
# $KHO_CACHE/distro keyed by that list; tests/rig/prepare.sh warms it).
# Today it is used as a chroot on the bookworm host; later it is booted as
# the L1 host.  sid's binaries need sid's libc, so run them only inside
# the root (the `run` form).
#
# usage: host-image.sh root WORKDIR           unpack, print the root's path
#        host-image.sh run ROOT [--bind DIR]... CMD...
#                                             run CMD chrooted, with /proc,
#                                             /sys, /dev and /dev/shm, and
#                                             each DIR at the same path, in a
#                                             private mount namespace (so
#                                             nothing stays mounted); CMD
#                                             replaces this script (exec)
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)

case "${1:-}" in
root)
	work=${2:?usage: host-image.sh root WORKDIR}
	exec "$top/tests/distro/roots.sh" host "$work"
	;;
run)
	root=${2:?usage: host-image.sh run ROOT CMD...}
	shift 2
	binds=()
	while [ "${1:-}" = --bind ]; do
		binds+=("$(cd "$2" && pwd)")
		shift 2
	done
	[ $# -gt 0 ] || { echo "host-image: run: no command" >&2; exit 2; }
	[ -x "$root/usr/bin/qemu-system-x86_64" ] ||
		{ echo "host-image: $root is not a host image" >&2; exit 2; }
	exec unshare -m --propagation private sh -c '
		root=$1; nb=$2; shift 2
		mount -t proc proc "$root/proc" &&
		mount --rbind /sys "$root/sys" &&
		mount --rbind /dev "$root/dev" &&
		mount -t tmpfs -o mode=1777 shm "$root/dev/shm" || exit 1
		while [ "$nb" -gt 0 ]; do
			mkdir -p "$root$1" && mount --bind "$1" "$root$1" || exit 1
			shift; nb=$((nb - 1))
		done
		exec chroot "$root" "$@"' sh "$root" "${#binds[@]}" "${binds[@]}" "$@"
	;;
*)
	sed -n '/^# usage/,/^# *replaces this/p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
	;;
esac
