# SPDX-License-Identifier: GPL-2.0
# A memory failure on a QEMU guest's RAM before an upgrade (issue #15,
# docs/qemu-cpr.md "Poisoned guest RAM"): in the L1 host on a kernel with
# CONFIG_MEMORY_FAILURE (vanilla-debug), QEMU 11.1 runs the L2 payload
# with its RAM in a memfd; one page of that memfd outside the payload's
# pattern is poisoned (tests/cpr/hwpoison through /proc/PID/fd), with
# QEMU declining early kills (tests/cpr/mce-late.c) as a KVM QEMU in
# effect survives them.  7.2's
# memfd preservation would carry the broken frame as ordinary memory, and
# a new QEMU cannot be told to keep the page poisoned, so kho-tool upgrade
# --qemu-qmp must refuse before the guest stops, naming the QEMU, the fd,
# the range and the outcome, and the guest must beat on in its QEMU.

. /test/host-l2.sh

make_initrd
# QEMU under TCG aborts on a memory failure of its RAM, where under KVM
# it would run on: tests/cpr/mce-late.c says why and how this avoids it.
export LD_PRELOAD=/test/mce-late.so
l2_start p
qemu=$!
unset LD_PRELOAD
wait_for "$W/p.log" '^hb 2 ' 600 || { dump; khotest_fail "the L2 guest never reached hb 2"; }
khotest_mark l2-running
ram=
for fd in /proc/"$qemu"/fd/*; do
	case "$(readlink "$fd")" in "/memfd:memory-backend-memfd "*) ram=$fd ;; esac
done
[ -n "$ram" ] || { ls -l /proc/"$qemu"/fd; khotest_fail "no guest-RAM memfd in QEMU $qemu"; }
# 24 MiB: guest RAM the payload never touches (its pattern is 16-20 MiB),
# so the guest runs on; a real failure could hit any page.
/test/hwpoison "$ram" 0x1800000 || khotest_fail "could not poison the guest's RAM"
sleep 2
kill -0 "$qemu" 2>/dev/null || { tail -n 5 "$W/p.out"; khotest_fail "QEMU exited on the memory failure"; }
grep -q '^HardwareCorrupted: *4 kB' /proc/meminfo ||
	khotest_fail "the kernel did not count the failure: $(grep HardwareCorrupted /proc/meminfo)"
khotest_mark poisoned
khotest_refused "$W/refused.out" "an upgrade of a QEMU with a poisoned page" \
	kho-tool upgrade --kernel /test/vmlinuz-patched --initrd "$initrd" \
	--qemu-qmp "$W/p-qmp.sock" --dry-run
grep -q "check poison: .*fd 'ram0': 1 poisoned range of guest RAM, the first 0x1800000+0x1000: a new QEMU cannot be told to keep it poisoned" "$W/refused.out" ||
	khotest_fail "the refusal does not name the fd, the range and the cause"
grep -q "qemu-cpr: QEMU $W/p-qmp.sock (1 of 1): .*every guest keeps running, nothing changed" "$W/refused.out" ||
	khotest_fail "the refusal does not say the guest keeps running"
before=$(hb_last "$W/p.log")
wait_for "$W/p.log" "^hb $((before + 2)) " 300 || { dump; khotest_fail "the guest stopped after the refused upgrade"; }
if grep -q BAD "$W/p.log"; then khotest_fail "the L2 RAM pattern changed"; fi
khotest_mark refused-running
kill "$qemu"
khotest_done
