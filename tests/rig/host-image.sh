#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The rig's host image: a Debian sid root with QEMU 11.1, systemd and
# kexec-tools, the root "host" of tests/distro/roots.sh (its package list
# lives there, with the others; tests/distro/chroot.sh builds it by
# debootstrap through a private sources list and caches it under
# $KHO_CACHE/distro keyed by that list; tests/rig/prepare.sh warms it).
# It is used as a chroot on the bookworm host (tests/cpr/roundtrip.sh) and
# booted as the L1 host (tests/vm/launch.sh --host-image): the `disk` form
# makes an ext4 image of the same root, which QEMU attaches read-only with
# a throw-away overlay (snapshot=on).  sid's binaries need sid's libc, so
# run them only inside the root (the `run` form) or in that L1 guest.
#
# usage: host-image.sh root WORKDIR           unpack, print the root's path
#        host-image.sh disk                   print the path of the root's
#                                             ext4 image, built on a cache
#                                             miss ($KHO_CACHE/host, keyed
#                                             by the root's tarball)
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
disk)
	# The root as debootstrap left it, plus the stamps systemd writes
	# after its first boot (/etc/.updated, /var/.updated): each boot of
	# the throw-away overlay would otherwise rerun ldconfig and rebuild
	# the journal catalog.  The project's files and the test's init come
	# in through the L1 guest's initramfs (launch.sh).
	cache=${KHO_CACHE:-$HOME/.cache/kho-tool}/host
	tarball=$("$top/tests/distro/roots.sh" host -)
	key=$(printf '%s ext4 v2\n' "$(basename "$tarball" .tar.zst)" | sha256sum | cut -c1-16)
	img="$cache/host-$key.ext4"
	mkdir -p "$cache"
	if [ ! -s "$img" ]; then
		(
		flock 9
		[ -s "$img" ] && exit 0
		start=$(date +%s)
		tmp=$(mktemp -d "$cache/build.XXXXXX")
		trap 'rm -rf "$tmp"' EXIT
		root=$("$top/tests/distro/roots.sh" host "$tmp")
		touch "$root/etc/.updated" "$root/var/.updated"
		# Room for what a test writes (logs, QEMU's files): the root
		# plus half again plus 256 MiB; sparse, so free space costs
		# nothing on the host.
		mb=$(du -sm "$root" | cut -f1)
		mb=$((mb + mb / 2 + 256))
		mkfs.ext4 -q -F -L kho-host -d "$root" "$tmp/disk.ext4" "${mb}M" >&2
		mv "$tmp/disk.ext4" "$img"
		echo "host-image: built $img (${mb} MiB) in $(( $(date +%s) - start )) s" >&2
		) 9> "$img.lock"
	fi
	echo "$img"
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
	# The host image, or another root of tests/distro/roots.sh run the
	# same way (tests/rig/ansible.sh: the controller).
	[ -x "$root/usr/bin/qemu-system-x86_64" ] || [ -x "$root/usr/bin/ansible-playbook" ] ||
		{ echo "host-image: $root is not a host image or a controller root" >&2; exit 2; }
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
