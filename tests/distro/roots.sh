#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The Debian sid roots of the distro checks and the rig's host image
# (tests/rig/host-image.sh), by name, with their package lists in this one
# place (tests/distro/chroot.sh builds and caches them).
# initramfs-tools and dracut conflict, so each has a root of its own; both
# get the package's shared libraries, installed from the cache, so that
# dpkg -i needs no network.
#
# usage: roots.sh NAME WORKDIR   unpack root NAME into WORKDIR, print its path
#        roots.sh NAME -         only build (or find) NAME's cached tarball
#        roots.sh all -          the same for every root
#   NAME  initramfs-tools | dracut | host | controller | all
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
name=${1:?usage: roots.sh initramfs-tools|dracut|host|controller|all WORKDIR|-}
work=${2:?usage: roots.sh NAME WORKDIR|-}
libs=(libfdt1 libelf1t64 zlib1g liblzma5 libzstd1)

packages() {
	case "$1" in
	initramfs-tools) echo initramfs-tools busybox zstd "${libs[@]}" ;;
	dracut) echo dracut "${libs[@]}" ;;
	# QEMU 11.1 and systemd for the L1 host (issue #13).  debootstrap
	# installs Depends only: qemu-system-x86 brings seabios and ipxe-qemu,
	# the roms q35 needs; its Recommends stay out.
	# openssh-server and python3: the managed side of an Ansible rollout
	# (ansible/, tests/vm/130-fleet.bats).
	host) echo qemu-system-x86 systemd systemd-sysv kexec-tools busybox-static openssh-server python3 ;;
	# The Ansible controller of tests/vm/130 and `make check-ansible`.
	controller) echo ansible-core ansible-lint openssh-client ;;
	*) echo "roots: unknown root '$1'" >&2; return 2 ;;
	esac
}

if [ "$name" = all ]; then
	[ "$work" = - ] || { echo "roots: 'all' only builds the tarballs (WORKDIR -)" >&2; exit 2; }
	for n in initramfs-tools dracut host controller; do
		"$0" "$n" - || exit
	done
	exit 0
fi
pkgs=$(packages "$name") || exit
# shellcheck disable=SC2086 # a word per package
exec "$top/tests/distro/chroot.sh" sid "$work" $pkgs
