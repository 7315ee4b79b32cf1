#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Runs a command of the Ansible controller (ansible-playbook, ansible-lint)
# in the sid root "controller" of tests/distro/roots.sh: sid's binaries do
# not run on the bookworm host.  The collection ansible/ is installed in
# the root as kho.fleet (a link into this tree, which is bound at its own
# path), and WORKDIR too; the network namespace is the host's, so
# 127.0.0.1 ports (tests/vm/launch.sh --ssh-port) are reachable.
#
# usage: ansible.sh [--bind DIR]... WORKDIR CMD...
#                     unpack the root into WORKDIR/controller (once), run
#                     CMD there as root, in the current directory, with
#                     each DIR (the inventory's, the reports') bound at
#                     its own path
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
binds=(--bind "$top")
while [ "${1:-}" = --bind ]; do
	binds+=(--bind "${2:?ansible: --bind wants a directory}")
	shift 2
done
work=${1:?usage: ansible.sh WORKDIR CMD...}
shift
[ $# -gt 0 ] || { echo "ansible: no command" >&2; exit 2; }
mkdir -p "$work"
work=$(cd "$work" && pwd)
root="$work/controller/root"
if [ ! -x "$root/usr/bin/ansible-playbook" ]; then
	root=$("$top/tests/distro/roots.sh" controller "$work/controller")
fi
coll="$root/usr/share/ansible/collections/ansible_collections/kho"
mkdir -p "$coll"
ln -sfn "$top/ansible" "$coll/fleet"
binds+=(--bind "$work")
case "$PWD" in "$top"/*|"$top"|"$work"/*|"$work") ;; *) binds+=(--bind "$PWD") ;; esac
exec "$top/tests/rig/host-image.sh" run "$root" "${binds[@]}" \
	/usr/bin/env -C "$PWD" HOME=/root LC_ALL=C.UTF-8 "$@"
