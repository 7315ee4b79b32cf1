#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Test-only dracut module (99khotest; dracut -a khotest): the rig's guest
# environment, and hooks that make rd.khotest a root dracut knows how to
# "mount": the environment unpacked into a tmpfs at $NEWROOT.
check() { return 255; }
depends() { return 0; }
install() {
	inst_simple /khotest/payload.cpio
	# The root has no cpio (sid's dracut uses 3cpio): the host's static
	# busybox unpacks the payload.
	inst_simple /khotest/busybox
	# dracut's shell init switches root with util-linux's switch_root,
	# which this minbase root does not have (a systemd initrd does not
	# need it): busybox's stands in; it leaves /dev, /proc and /sys
	# behind, which the test's init mounts again.
	if ! command -v switch_root >/dev/null; then
		ln -sf /khotest/busybox "${initdir}/usr/sbin/switch_root"
	fi
	inst_hook cmdline 99 "$moddir/khotest-cmdline.sh"
	inst_hook mount 99 "$moddir/khotest-mount.sh"
}
