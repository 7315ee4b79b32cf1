# SPDX-License-Identifier: GPL-2.0
# A device's state through the VFIO migration v2 FSM, against the kernel's
# own mtty sample (issue #15, docs/device-state.md), on one kernel: the
# patched-debug kernel, whose fragment builds mtty in.  Two mtty instances
# of one port each; test-vmm mtty-migrate leaves bytes in the first one's
# FIFO, saves its state with lib/devstate.c (PRE_COPY, then STOP_COPY,
# into a sealed memfd), walks it back to RUNNING with the bytes still
# there, has a corrupted copy refused by the second instance, then loads
# the real one into it and reads the same bytes back in order.
# Passed 2026-12-07 on its first run (39 s).
src=83b8f4f2-509f-382f-3c1e-e6bfe0fa1001
dst=83b8f4f2-509f-382f-3c1e-e6bfe0fa1002

khotest_log "kernel=$(uname -r)"
for u in "$src" "$dst"; do
	khotest_mtty_create "$u"
done

a=$(khotest_mdev_cdev "$src")
b=$(khotest_mdev_cdev "$dst")
khotest_log "mtty cdevs: $a $b"

test-vmm mtty-migrate "$a" "$b" > /tmp/mtty.log 2>&1 ||
	{ cat /tmp/mtty.log; khotest_fail "test-vmm mtty-migrate failed"; }
cat /tmp/mtty.log
khotest_mark mtty-migrated

for u in "$src" "$dst"; do
	khotest_mdev_remove "$u"
done
khotest_mark mtty-removed
khotest_done
