# SPDX-License-Identifier: GPL-2.0
# The L1 host guest (launch.sh --host-image): Debian sid booted from the
# host image's disk with the rig's kernel, our programs in /opt/kho/bin,
# the kernel interfaces the product needs, and QEMU 11.1 able to run.
# The init it was booted with (khotest-init or systemd) is PID 1.

check() {
	# check WHAT CONDITION...: fail naming WHAT when CONDITION is false.
	local what="$1"

	shift
	"$@" || khotest_fail "host: $what"
}

init=$(khotest_cmdline_value init none)
pid1=$(cat /proc/1/comm)
khotest_log "pid1=$pid1"
case "$init" in
*/systemd)
	check "PID 1 is '$pid1', not systemd" test "$pid1" = systemd
	ver=$(systemctl --version | head -n 1)
	khotest_log "systemd=$ver"
	# Running the test unit: still "starting" (khotest.target waits on it).
	khotest_log "system_state=$(systemctl is-system-running || true)"
	check "systemd is '$ver', not 262" test "${ver#systemd 262}" != "$ver"
	;;
*)
	check "PID 1 is '$pid1', not our khotest init" test "$pid1" = khotest-run
	;;
esac
khotest_mark pid1

# The root is the disk, ext4, writable (QEMU's snapshot overlay).
check "/ is not /dev/vda ext4 rw: $(grep ' / ' /proc/mounts | tail -n 1)" \
	grep -Eq '^/dev/vda / ext4 rw' /proc/mounts
mkdir -p /var/lib/khotest
check "cannot write to the root" sh -c 'echo written > /var/lib/khotest/probe'
. /etc/os-release
khotest_log "os=$PRETTY_NAME"
check "not Debian sid: $PRETTY_NAME" test "${PRETTY_NAME%sid}" != "$PRETTY_NAME"
khotest_mark root-from-disk

qver=$(qemu-system-x86_64 --version | head -n 1)
khotest_log "qemu=$qver"
check "QEMU is '$qver', not 11.1" test "${qver#QEMU emulator version 11.1.}" != "$qver"
check "kho-tool does not run" kho-tool --version
khotest_log "kho_tool=$(kho-tool --version)"
khotest_mark userspace

check "/dev/iommu is not a character device" test -c /dev/iommu
check "/dev/liveupdate is not a character device (liveupdate=on?)" test -c /dev/liveupdate
check "/dev/vfio/devices/vfio0 is missing (edu bound to vfio-pci?)" test -c /dev/vfio/devices/vfio0
check "KHO debugfs is missing" test -d /sys/kernel/debug/kho
khotest_mark interfaces
khotest_done
