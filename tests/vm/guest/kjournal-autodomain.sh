# SPDX-License-Identifier: GPL-2.0
# 080's check of patches/0005: order-loop (bench/guest/order-loop.c) builds
# 256 mappings of 16 KiB and the edu device once in each order (maps-first:
# maps, then ATTACH to the IOAS; attach-first; hwpt-first), each window
# marked in the edu's config space for QEMU's VT-d trace.  The host counts
# the invalidations of each window: the kernel's order, not the guest's
# clock, decides them.
order-loop 1 256 16384 >/tmp/order.out 2>&1 ||
	{ cat /tmp/order.out; khotest_fail "order-loop 1 256 16384 failed"; }
cat /tmp/order.out
khotest_mark autodomain-built
khotest_done
