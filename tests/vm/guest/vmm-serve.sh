# SPDX-License-Identifier: GPL-2.0
# test-vmm serve: builds its state (with map/unmap churn first), passes the
# DMA check, holds its fds while other programs run, checks again on
# SIGUSR1 and exits cleanly on SIGTERM.
khotest_start vmm test-vmm serve --maps 64 --churn 200
grep -q 'setup: ioas=[0-9]* devid=[0-9]* hwpt=[0-9]* maps=64 unmapped=0 churn=200' /tmp/vmm.log ||
	khotest_fail "serve: setup line does not show 64 maps and 200 churn cycles"
khotest_mark serving
# The fds are held: the device is bound, so a second bind must fail.
if test-vmm dma-check > /tmp/second.log 2>&1; then
	cat /tmp/second.log
	khotest_fail "serve: a second VMM could bind the edu device the first one holds"
fi
cat /tmp/second.log
khotest_mark held
kill -USR1 "$KHOTEST_PID"
i=0
while [ "$(grep -c 'dma-check: ok:' /tmp/vmm.log)" -lt 2 ]; do
	kill -0 "$KHOTEST_PID" || { cat /tmp/vmm.log; khotest_fail "serve: died after SIGUSR1"; }
	[ "$i" -lt 300 ] || khotest_fail "serve: no second DMA check after SIGUSR1"
	i=$((i + 1))
	usleep 100000
done
khotest_mark recheck
khotest_stop vmm
khotest_mark stopped
khotest_done
