#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Installs every Debian package kho-tool needs to build, test, fuzz and
# run its QEMU rig, on a fresh Debian 12 machine (run as root).
set -euo pipefail

packages=(
	# build
	build-essential pkg-config libfdt-dev device-tree-compiler libelf-dev
	zlib1g-dev liblzma-dev libzstd-dev
	# guest kernels (tests/rig/build-kernel.sh)
	flex bison bc libssl-dev dwarves rsync xz-utils cpio kmod ccache
	# upstream kselftests (tests/rig/build-selftests.sh): iommufd links -lcap
	libcap-dev
	# the rig and its tests
	qemu-system-x86 kexec-tools bats busybox-static dt-schema python3-yaml
	# fuzzing
	clang
	# the Debian package and its check in sid roots (make deb, check-distro)
	debhelper lintian debootstrap zstd
)

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing+=("$p")
done
if [ "${#missing[@]}" -eq 0 ]; then
	echo "deps: all ${#packages[@]} packages present"
	exit 0
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
