#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# `make demo-qemu`: an unmodified QEMU 11.1 guest crosses a kexec of its
# host.  Boots the rig's Debian sid host image (tests/rig/host-image.sh;
# QEMU 11.1, built and cached on first use) as an L1 guest with the vanilla
# kernel; in it QEMU runs the L2 payload (RAM pattern, heartbeat on its
# serial); `kho-tool upgrade --qemu-qmp` migrates it to kho-tool by QEMU's
# own cpr-transfer and kexecs L1 into the patched kernel, where a new QEMU
# gets the guest from `kho-tool cpr-relay --restore` (docs/qemu-cpr.md).
# Prints the guest's last heartbeat before and first after, the blackout
# on the host's clock (stamped serial lines, tests/vm/demo-lib.bash), and
# the per-step timelines.
set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/vm/procs.bash"
. "$top/tests/vm/demo-lib.bash"
name=demo-qemu
# The host image is built (and cached) by launch.sh --host-image.
demo_init "$name"
patched=$KHO_KERNEL_PATCHED
[ -d "$patched" ] && patched="$patched/bzImage"
payload="$BUILD/tests/cpr/payload.elf"
make -s -C "$top" BUILD="$BUILD" "$payload" || exit 2

g="$top/tests/vm/guest"
demo_launch --host-image khotest-init --timeout 900 \
	--script "$g/host-cpr-demo.sh" --file "$payload:/test/payload.elf" \
	--file "$g/host-l2.sh:/test/host-l2.sh" --file "$top/tests/cpr/heartbeat.sh:/test/heartbeat.sh" --file "$patched:/test/vmlinuz-patched" \
	--file "$top/tests/vm/host/init:/test/host-init" \
	--expect l2-running --expect l2-continued

# The old QEMU's last heartbeat before L1's new kernel booted, the new
# QEMU's first: number and host time of each.
last_old=$(sed -n '/KHOTEST: BOOT stage=2/q; /L2a: hb [0-9]/p' "$stamped" | tail -n 1)
first_new=$(grep -a -m1 'L2a2: hb [0-9]' "$stamped")
hb_of() { sed -n 's/.*hb \([0-9][0-9]*\).*/\1/p' <<<"$1"; }

echo
echo "== the L2 guest (its serial, through L1's console)"
echo "  old QEMU, last before the kexec: $(hb_of "$last_old")"
echo "  new QEMU, first after:           $(hb_of "$first_new")"
if [ -n "$last_old" ] && [ -n "$first_new" ] &&
   [ "$(hb_of "$first_new")" = $(($(hb_of "$last_old") + 1)) ]; then
	echo "  the heartbeat goes on; no second L2 boot, RAM pattern intact (the payload checks it on every beat)"
else
	echo "  the heartbeat does NOT continue"
	rc=1
fi
echo "== timeline (old kernel: kho-tool upgrade --json)"
up=$(grep -a -m1 '^{"command":"upgrade"' "$log")
echo "$up" | steps
echo "  JSON: $up"
echo "== timeline (new kernel: restore-agent, /run/kho-tool/timeline.json)"
grep -a -m1 '^agent-timeline: ' "$log" | steps
echo "== new kernel: kho-tool cpr-relay --restore"
grep -a '^cpr-relay: ' "$log" | sed 's/^/  /'
echo "== blackout (host clock on the serial line)"
t_kexec=$(stamp_of 'kho-tool: reboot(LINUX_REBOOT_CMD_KEXEC)')
t_boot=$(stamp_of 'KHOTEST: BOOT stage=2')
if [ -n "$last_old" ] && [ -n "$first_new" ] && [ -n "$t_kexec" ]; then
	t_old=${last_old%% *}
	t_new=${first_new%% *}
	printf '  last old heartbeat -> kexec:      %.3f s\n' "$(echo "$t_kexec - $t_old" | bc)"
	[ -n "$t_boot" ] &&
		printf '  kexec -> new L1 userspace:        %.3f s\n' "$(echo "$t_boot - $t_kexec" | bc)"
	printf '  kexec -> first new heartbeat:     %.3f s\n' "$(echo "$t_new - $t_kexec" | bc)"
	printf '  the guest, last beat -> next beat: %.3f s (its beat is ~1 s; L1 and L2 under TCG)\n' \
		"$(echo "$t_new - $t_old" | bc)"
else
	echo "  not measured: a heartbeat or the kexec line is missing from $log"
	rc=1
fi
echo "serial log: $log (stamped: $stamped)"
[ "$rc" -eq 0 ] && echo "demo-qemu: ok" || echo "demo-qemu: FAILED (status $rc)"
exit "$rc"
