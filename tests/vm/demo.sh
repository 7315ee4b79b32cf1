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
. "$top/tests/vm/procs.bash"
. "$top/tests/vm/demo-lib.bash"
name=demo
demo_init "$name"

demo_launch --script "$top/tests/vm/guest/upgrade-demo.sh" \
	--kernel vanilla --timeout 300 --expect serving --expect adopted

echo
echo "== timeline (old kernel: kho-tool upgrade --json)"
up=$(grep -a -m1 '^{"command":"upgrade"' "$log")
echo "$up" | steps
echo "  journal $(echo "$up" | grep -o '"journal_length":[0-9]*' | cut -d: -f2) records -> replay $(echo "$up" | grep -o '"replay_ioctls":[0-9]*' | cut -d: -f2) ioctls"
echo "== timeline (new kernel: restore-agent, /run/kho-tool/timeline.json)"
grep -a -m1 '^agent-timeline: ' "$log" | steps
echo "  verify: $(grep -a -m1 '^agent-verify: ' "$log" | cut -d' ' -f2-)"
echo "== new kernel: test-vmm restart"
grep -a -E '^test-vmm: (adopted|restart: memfd|restart: DMA)' "$log" | sed 's/^/  /'

# kho-tool's /dev/kmsg line, written just before reboot(2).
t_kexec=$(stamp_of 'kho-tool: reboot(LINUX_REBOOT_CMD_KEXEC)')
t_boot=$(stamp_of 'KHOTEST: BOOT stage=2')
t_ready=$(stamp_of 'restore-agent: serving')
t_adopt=$(stamp_of 'test-vmm: adopted iommufd')
t_dma=$(stamp_of 'KHOTEST: MARK adopted')
echo "== blackout (host clock on the serial line)"
if [ -n "$t_kexec" ] && [ -n "$t_adopt" ]; then
	printf '  kexec -> new kernel userspace: %.3f s\n' "$(echo "$t_boot - $t_kexec" | bc)"
	[ -n "$t_ready" ] &&
		printf '  kexec -> agent serving:        %.3f s\n' "$(echo "$t_ready - $t_kexec" | bc)"
	printf '  kexec -> VMM adopted (blackout): %.3f s (TCG; no KVM here)\n' \
		"$(echo "$t_adopt - $t_kexec" | bc)"
	[ -n "$t_dma" ] &&
		printf '  kexec -> DMA checked after adoption: %.3f s\n' "$(echo "$t_dma - $t_kexec" | bc)"
else
	echo "  not measured: the kexec or the adoption line is missing from $log"
fi
echo "serial log: $log (stamped: $stamped)"
[ "$rc" -eq 0 ] && echo "demo: ok" || echo "demo: FAILED (launch.sh status $rc)"
exit "$rc"
