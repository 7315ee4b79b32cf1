#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# `make demo`: a live kernel upgrade of a host with a VFIO device in QEMU.
# Boots the vanilla kernel, runs the test VMM under the recorder, upgrades
# into the patched kernel with kho-tool, lets the restore-agent restore and
# the VMM adopt, checks DMA, and prints the timeline.
#
# Blackout is measured on the host: both kernels write to the same serial
# port, so the host stamps each serial line as it arrives and takes the
# time from kho-tool's "reboot(LINUX_REBOOT_CMD_KEXEC)" line (old kernel)
# to the VMM's adoption marker (new kernel).  The guests' own clocks restart
# at the kexec and cannot measure it.
set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
export BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD="$top/$BUILD" ;; esac
logdir=${KHO_VM_LOGDIR:-$BUILD/vm-logs}
name=demo
log="$logdir/$name.log"
stamped="$logdir/$name.stamped.log"
mkdir -p "$logdir"

echo "demo: kernels (cached after the first build, ~6 min each otherwise)"
"$top/tests/rig/build-kernel.sh" vanilla >/dev/null || exit 2
"$top/tests/rig/build-kernel.sh" patched >/dev/null || exit 2

# Stamp serial lines on arrival.  launch.sh truncates the log when QEMU
# starts; tail -F follows it through that.
: > "$log"
# A subshell, so that tail is its child and can be stopped by its pid.
(tail -F -n +1 "$log" 2>/dev/null | while IFS= read -r line; do
	printf '%s %s\n' "$(date +%s.%N)" "${line%$'\r'}"
done > "$stamped") &
stamper=$!

"$top/tests/vm/launch.sh" --name "$name" --script "$top/tests/vm/guest/upgrade-demo.sh" \
	--kernel vanilla --timeout 300 --expect serving --expect adopted
rc=$?
sleep 0.5
kill "$stamper" 2>/dev/null
pkill -P "$stamper" 2>/dev/null
wait "$stamper" 2>/dev/null

stamp_of() {
	grep -a -m1 -- "$1" "$stamped" | cut -d' ' -f1
}

echo
echo "== timeline (old kernel: kho-tool upgrade)"
grep -a -E '^upgrade: ' "$log" | sed 's/^/  /'
echo "== timeline (new kernel: restore-agent)"
grep -a -E 'restore-agent' "$log" | grep -a -E ' ms|step|done|total' | sed 's/^/  /' | head -n 30
echo "== timeline (new kernel: test-vmm)"
grep -a -E '^test-vmm: ' "$log" | sed -n '/ready\|adopt\|dma-check/p' | sed 's/^/  /' | tail -n 10

t_kexec=$(stamp_of 'reboot(LINUX_REBOOT_CMD_KEXEC)')
t_boot=$(stamp_of 'KHOTEST: BOOT stage=2')
t_adopt=$(stamp_of 'KHOTEST: MARK adopted')
echo "== blackout (host clock on the serial line)"
if [ -n "$t_kexec" ] && [ -n "$t_adopt" ]; then
	printf '  kexec -> new kernel userspace: %.3f s\n' "$(echo "$t_boot - $t_kexec" | bc)"
	printf '  kexec -> VMM adopted + DMA ok: %.3f s (TCG; no KVM here)\n' \
		"$(echo "$t_adopt - $t_kexec" | bc)"
else
	echo "  not measured: the kexec or the adoption line is missing from $log"
fi
echo "serial log: $log (stamped: $stamped)"
[ "$rc" -eq 0 ] && echo "demo: ok" || echo "demo: FAILED (launch.sh status $rc)"
exit "$rc"
