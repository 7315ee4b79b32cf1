# SPDX-License-Identifier: GPL-2.0
# Sourced by kjournal-failnth.sh and kjournal-kexec.sh (080-kjournal.bats
# ships it as /test/kjournal-lib.sh).

# kjournal_preenable: enable every edu device once through sysfs before a
# fail_nth sweep, so that vfio-pci's pci_enable_device() under the sweep
# only takes another reference.  The first enable evaluates ACPI's _PRT
# (pcibios_enable_device -> acpi_pci_irq_enable), whose allocation-failure
# path in 7.2.13 frees a namespace object still in use
# (docs/kernel-patches.md); done here, it runs outside the sweep, with ACPI
# fully on.  sysfs "enable" refuses a bound device: unbind, enable, rebind.
kjournal_preenable() {
	local dev addr n=0

	for dev in /sys/bus/pci/devices/*; do
		[ "$(cat "$dev/vendor"):$(cat "$dev/device")" = "0x1234:0x11e8" ] ||
			continue
		addr=${dev##*/}
		[ -e "$dev/driver" ] && echo "$addr" > "$dev/driver/unbind"
		echo 1 > "$dev/enable" ||
			khotest_fail "kjournal: cannot enable $addr through sysfs"
		echo "$addr" > /sys/bus/pci/drivers_probe
		[ "$(basename "$(readlink "$dev/driver")")" = vfio-pci ] ||
			khotest_fail "kjournal: $addr did not rebind to vfio-pci"
		[ "$(cat "$dev/enable")" = 1 ] ||
			khotest_fail "kjournal: $addr is not enabled"
		[ -d "$dev/vfio-dev" ] ||
			khotest_fail "kjournal: $addr has no vfio cdev after rebinding"
		n=$((n + 1))
	done
	[ "$n" -gt 0 ] || khotest_fail "kjournal: no edu device to enable"
	khotest_log "preenabled=$n"
}
