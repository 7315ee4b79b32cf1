# SPDX-License-Identifier: GPL-2.0
# Guest side of bench/order-vm.sh: one boot, no kexec.  order-loop builds
# MAPS mappings + the edu device in both legal orders, ROUNDS times each,
# marking each timed window in the edu device's config space for QEMU's
# trace (bench/guest/order-loop.c).  bench/order-vm.sh prepends
# "rounds=R maps=M chunk=C".
order-loop "$rounds" "$maps" "$chunk" >/tmp/order.out 2>&1 ||
	{ cat /tmp/order.out; khotest_fail "bench: order-loop failed"; }
cat /tmp/order.out
khotest_log "order-$maps=$(sed -n 's/^order-loop: medians //p' /tmp/order.out)"
khotest_mark "order-measured-$maps"
khotest_done
