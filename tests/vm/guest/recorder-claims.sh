# SPDX-License-Identifier: GPL-2.0
# Issue #21 items 1 and 2, on a kernel without the iommufd journal, where
# capture has only the VMM's word.  A VMM whose journal claims a device it
# does not hold (it closed the cdev behind the recorder; another process
# holds it now) is refused by capture and upgrade --dry-run, naming the
# device and the VMM.  A journal socket served by another process, and a
# KHO_RUN_DIR others may write, that is a symlink or that another uid
# owns, are refused by name.
khotest_start probe env LD_PRELOAD="$KHOTEST_RECORDER" kho-rec-probe disown
vmm=$KHOTEST_PID
cdev=$(sed -n 's|.*\(/dev/vfio/devices/vfio[0-9]*\) bound.*|\1|p' /tmp/probe.log)
[ -c "$cdev" ] || khotest_fail "claims: no VFIO cdev named in the probe's log"
ls -l /proc/"$vmm"/fd
# Someone holds the device, but not the VMM: that proves nothing.
sleep 600 9<"$cdev" &
holder=$!
want="device [0-9]* (0000:00:03.0): VMM $vmm holds no fd of its VFIO cdev $cdev"
if kho-tool capture --pid "$vmm" --out /tmp/cap.blob > /tmp/cap.out 2>&1; then
	cat /tmp/cap.out
	khotest_fail "claims: capture took a device VMM $vmm does not hold"
fi
cat /tmp/cap.out
grep -q "$want" /tmp/cap.out ||
	khotest_fail "claims: capture refused, but not naming the device and VMM $vmm"
[ ! -e /tmp/cap.blob ] || khotest_fail "claims: capture wrote a hand-off"
khotest_mark capture-refuses-claim
if kho-tool upgrade --kernel /boot/vmlinuz-vanilla --initrd "$(khotest_initrd)" \
	--pid "$vmm" --dry-run > /tmp/up.out 2>&1; then
	cat /tmp/up.out
	khotest_fail "claims: upgrade --dry-run took a device VMM $vmm does not hold"
fi
cat /tmp/up.out
grep -q "$want" /tmp/up.out ||
	khotest_fail "claims: upgrade refused, but not naming the device and VMM $vmm"
[ "$(cat /sys/kernel/kexec_loaded)" = 0 ] || khotest_fail "claims: an image is loaded"
khotest_mark upgrade-refuses-claim
kill "$holder"

# A process that is not the VMM serves the VMM's socket name.
sleep 600 &
victim=$!
khotest_start impostor kho-rec-probe impostor "$victim"
impostor=$KHOTEST_PID
if kho-tool capture --pid "$victim" > /tmp/imp.out 2>&1; then
	cat /tmp/imp.out
	khotest_fail "claims: capture took a snapshot from an impostor"
fi
cat /tmp/imp.out
grep -q "vmm-$victim.sock: served by pid $impostor uid 0, not by VMM $victim (uid 0)" /tmp/imp.out ||
	khotest_fail "claims: the impostor was refused, but not by its pid and uid"
khotest_stop impostor
kill "$victim"
khotest_mark impostor-refused

# $KHO_RUN_DIR is checked like /run/kho-tool.
refused() {
	if env KHO_RUN_DIR="$1" kho-tool capture --pid "$vmm" > /tmp/dir.out 2>&1; then
		cat /tmp/dir.out
		khotest_fail "claims: capture used KHO_RUN_DIR=$1"
	fi
	cat /tmp/dir.out
	grep -q "run directory $1: $2" /tmp/dir.out ||
		khotest_fail "claims: KHO_RUN_DIR=$1 refused, but not saying '$2'"
}
mkdir -m 1777 /tmp/shared
refused /tmp/shared "owner uid 0, mode 1777"
ln -s /run/kho-tool /tmp/link
refused /tmp/link "is a symlink"
mkdir -m 0700 /tmp/other
chown 1000 /tmp/other
refused /tmp/other "owner uid 1000, mode 0700"
khotest_mark rundir-refused

KHOTEST_PID=$vmm
khotest_stop probe
khotest_done
