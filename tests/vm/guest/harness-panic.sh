# SPDX-License-Identifier: GPL-2.0
# Harness negative case: the guest kernel panics.  The rig kernel has no
# CONFIG_MAGIC_SYSRQ, so without /proc/sysrq-trigger the script kexecs into
# a kernel that has no initrd and no root device: a real "VFS: Unable to
# mount root fs" panic.
khotest_mark before-panic
if [ -w /proc/sysrq-trigger ]; then
	echo c > /proc/sysrq-trigger
fi
kexec -s -l /boot/vmlinuz-vanilla \
	--command-line="console=ttyS0 panic=-1 root=/dev/nonexistent rdinit=/nonexistent"
kexec -e
khotest_fail "could not crash the guest kernel"
