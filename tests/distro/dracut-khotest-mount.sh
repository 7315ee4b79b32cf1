#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# dracut mount hook of the test-only 99khotest module: see khotest-boot.
mount -t tmpfs -o mode=0755 khotest "$NEWROOT" &&
	(cd "$NEWROOT" && /khotest/busybox cpio -i -d -m < /khotest/payload.cpio) &&
	echo "khotest: test root unpacked into $NEWROOT"
