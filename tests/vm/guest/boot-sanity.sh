# SPDX-License-Identifier: GPL-2.0
# Boot and sanity: every kernel interface the product stands on is there
# in the rig kernel, and /init left the guest the way the contract says.

check() {
	# check WHAT CONDITION...: fail naming WHAT when CONDITION is false.
	local what="$1"

	shift
	"$@" || khotest_fail "boot: $what"
}

khotest_log "kernel=$(uname -r)"
check "/dev/iommu is not a character device" test -c /dev/iommu
check "/dev/liveupdate is not a character device (liveupdate=on?)" test -c /dev/liveupdate
check "KHO debugfs /sys/kernel/debug/kho is missing (kho=on?)" test -d /sys/kernel/debug/kho
khotest_mark interfaces

# The edu device went to vfio-pci and has its cdev.
edu=
for dev in /sys/bus/pci/devices/*; do
	[ "$(cat "$dev/vendor"):$(cat "$dev/device")" = "0x1234:0x11e8" ] && edu=$dev
done
check "no edu device (1234:11e8) on the PCI bus" test -n "$edu"
check "edu ${edu##*/} is not bound to vfio-pci" \
	test "$(basename "$(readlink "$edu/driver")")" = vfio-pci
check "edu ${edu##*/} has no VFIO cdev" test -d "$edu"/vfio-dev/vfio0
check "/dev/vfio/devices/vfio0 is missing" test -c /dev/vfio/devices/vfio0
# VT-d translates for the device: it sits in an IOMMU group of a DMAR unit.
check "edu ${edu##*/} has no IOMMU group (intel_iommu=on?)" test -e "$edu/iommu_group"
check "no DMAR unit under /sys/class/iommu" test -n "$(ls /sys/class/iommu)"
khotest_mark vfio

config_has() {
	zcat /proc/config.gz | grep -qx "CONFIG_$1=y"
}

for opt in KEXEC_HANDOVER LIVEUPDATE LIVEUPDATE_MEMFD IOMMUFD VFIO_DEVICE_CDEV IOMMUFD_TEST; do
	check "CONFIG_$opt is not set in the running kernel" \
		config_has "$opt"
done
check "kexec_file_load is not available (no kexec tool)" test -x /usr/sbin/kexec
khotest_mark config

# /init's mounts.
for m in /proc /sys /dev /sys/kernel/debug /run /tmp; do
	check "$m is not mounted" grep -q " $m " /proc/mounts
done
check "KHO_STAGE is '$KHO_STAGE', not 1" test "$KHO_STAGE" = 1
khotest_mark init
khotest_done
