# SPDX-License-Identifier: GPL-2.0
# KHO without room for its scratch areas (tests/vm/010): booted with a
# global scratch larger than the guest's RAM, KHO disables itself and LUO
# with it.  kho-tool must refuse in preflight-running and quote the
# kernel's own reason, and the guest-RAM memfd must be untouched.
[ ! -e /dev/liveupdate ] ||
	khotest_fail "/dev/liveupdate exists although KHO had no scratch room"
khotest_start vmm test-vmm serve --maps 16
khotest_mark serving
if kho-tool upgrade --kernel /boot/vmlinuz-patched --pid "$KHOTEST_PID" \
	> /tmp/noscratch.out 2>&1; then
	khotest_fail "kho-tool upgrade went ahead without LUO"
fi
cat /tmp/noscratch.out
grep -q 'preflight-running: running kernel: /dev/liveupdate missing although liveupdate=on: the kernel said "KHO: Failed to reserve global scratch buffer"; "KHO: Failed to reserve scratch area, disabling kexec handover"; "luo: Disabling liveupdate because KHO is disabled" (KHO found no room for its scratch areas at boot: reboot with an explicit kho_scratch=' /tmp/noscratch.out ||
	khotest_fail "the refusal does not quote the kernel's reason"
khotest_mark refused-with-reason
# Nothing was stopped or preserved: the VMM runs DMA again on SIGUSR1.
kill -USR1 "$KHOTEST_PID"
checked() { [ "$(grep -c 'dma-check: ok:' /tmp/vmm.log)" -ge 2 ]; }
khotest_wait 30 checked ||
	{ cat /tmp/vmm.log; khotest_fail "the VMM no longer passes its DMA check after the refusal"; }
khotest_stop vmm
khotest_done
