#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# init= of a test stage booted through a distro initrd (tests/distro): the
# distro's init mounted /proc, /sys, /dev and moved /run (where the agent
# serves) into this root before switching to it; mount only what it did not,
# and run no restore hooks: the distro initrd started the agent.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root
[ -e /proc/mounts ] || mount -t proc proc /proc
mounted() { grep -q " $1 " /proc/mounts; }
mounted /sys || mount -t sysfs sysfs /sys
mounted /dev || mount -t devtmpfs devtmpfs /dev
mounted /run || { echo "KHOTEST: FAIL the distro init did not move /run into the root"; poweroff -f; }
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
mount -t tmpfs -o mode=1777 tmpfs /tmp

KHO_STAGE=1
for word in $(cat /proc/cmdline); do
	case "$word" in
	khotest.stage=*) KHO_STAGE=${word#khotest.stage=} ;;
	esac
done
export KHO_STAGE
echo "KHOTEST: BOOT stage=$KHO_STAGE kernel=$(uname -r) init=distro"

. /test/lib.sh
(set -e; . /test/script.sh)
rc=$?
[ "$rc" -eq 0 ] || khotest_fail "stage $KHO_STAGE: /test/script.sh exited with status $rc"
khotest_poweroff
