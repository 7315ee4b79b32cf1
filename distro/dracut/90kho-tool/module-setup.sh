#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# dracut module (installed as /usr/lib/dracut/modules.d/90kho-tool):
# puts the kho-tool restore-agent and its start script into the initrd and
# starts the agent in the pre-mount hook, as the initramfs-tools script does.

check() {
	[ -x /usr/lib/kho-tool/restore-agent ] || return 1
	return 0
}

depends() {
	return 0
}

install() {
	inst_simple /usr/lib/kho-tool/restore-agent
	inst_simple /usr/lib/kho-tool/init.d/10-restore-agent
	chmod 0755 "${initdir}/usr/lib/kho-tool/init.d/10-restore-agent"
	inst_multiple cat mkdir chmod rm mkfifo sleep
	# dracut's /bin/sh may be dash, whose read has no -t: the start
	# script waits for the agent with it, so run it under bash when the
	# initrd can have bash.
	inst_multiple -o bash
	# pre-mount: udev has settled, before the root is mounted.
	inst_hook pre-mount 10 "$moddir/kho-tool-restore.sh"
}
