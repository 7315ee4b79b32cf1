#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# An upgrade against a plain kexec, measured in one guest run (a kexec
# chain, bench/guest/upgrade-vm.sh): all go from the vanilla kernel to the
# patched one with the same initrd and command line.
#   (a) plain: `kexec -s -l` then `kexec -e`; from the announcement on
#       /dev/kmsg just before `kexec -e` to the new kernel's /init marker
#       (userspace up); taken once before the upgrade and once after it,
#       and the ratio uses their mean;
#   (b) `kho-tool upgrade` of the test VMM (64 live mappings after 1,000
#       map/unmap cycles, under the recorder): from kho-tool's
#       reboot(LINUX_REBOOT_CMD_KEXEC) line to "test-vmm: adopted" and to
#       its DMA re-check, split into kernel boot (to /init's marker), agent
#       restore (to "restore-agent: serving", the edu bind included) and
#       VMM adopt.
# The times are the host's clock on the serial line, as tests/vm/demo.sh
# measures blackout (the guests' clocks restart at the kexec).  The load
# step (kexec_file_load) of each is the guest's: kho-tool's "load" step,
# and /proc/uptime around `kexec -s -l` (10 ms resolution).
#
# usage: bench/upgrade-vm.sh [--json]    (env as tests/vm/launch.sh)
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
json=0
[ "${1:-}" = --json ] && json=1
export BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD="$top/$BUILD" ;; esac
name=bench-upgrade-vm
logdir=${KHO_VM_LOGDIR:-$BUILD/vm-logs}
log=$logdir/$name.log
stamped=$logdir/$name.stamped.log
mkdir -p "$logdir"

# Stamp serial lines on arrival (as tests/vm/demo.sh): launch.sh truncates
# the log when QEMU starts, tail -F follows it through that.  The stamp is
# bash's $EPOCHREALTIME, not a date(1) per line: forking one costs ~30 ms
# here, more than the kernel takes per boot line, so stamps would lag.
# launch.sh rewrites the log at the end (CRLF -> LF) and tail -F reads it
# again: only the first match of a line counts.
: > "$log"
(tail -F -n +1 "$log" 2>/dev/null | while IFS= read -r line; do
	printf '%s %s\n' "$EPOCHREALTIME" "${line%$'\r'}"
done > "$stamped") &
stamper=$!
stop_stamper() {
	kill "$stamper" 2>/dev/null || :
	pkill -P "$stamper" 2>/dev/null || :
	wait "$stamper" 2>/dev/null || :
}

rc=0
"$top/tests/vm/launch.sh" --name "$name" --kernel vanilla \
	--script "$top/bench/guest/upgrade-vm.sh" --timeout 900 \
	--expect plain-loaded --expect serving --expect adopted \
	--expect plain-loaded >&2 || rc=$?
# Let the stamper reach the end of the run before stopping it.
for _ in $(seq 50); do
	grep -q -a 'KHOTEST: DONE' "$stamped" && break
	sleep 0.2
done
stop_stamper
[ "$rc" = 0 ] || { echo "upgrade: the guest run failed, see $log" >&2; exit 1; }

# stamp_after AFTER PATTERN: the host stamp of the first line matching
# PATTERN that comes after the first line matching AFTER.
stamp_after() {
	awk -v a="$1" -v p="$2" 'seen && index($0, p) { print $1; exit }
		!seen && index($0, a) { seen = 1; if (a == p) { print $1; exit } }' "$stamped"
}
# Each tool's announcement is the kexec call; "kexec_core: Starting new
# kernel" is the kernel's own line in both paths (for kexec -e it comes
# after the binary's start-up and its ifdown).
a1='khotest: plain kexec -e from stage 1'
a5='khotest: plain kexec -e from stage 5'
t_plain1=$(stamp_after "$a1" "$a1")
k_plain1=$(stamp_after "$a1" 'kexec_core: Starting new kernel')
t_boot2=$(stamp_after "$a1" 'KHOTEST: BOOT stage=2')
t_plain5=$(stamp_after "$a5" "$a5")
k_plain5=$(stamp_after "$a5" 'kexec_core: Starting new kernel')
t_boot6=$(stamp_after "$a5" 'KHOTEST: BOOT stage=6')
t_kexec=$(stamp_after 'kho-tool: reboot(LINUX_REBOOT_CMD_KEXEC)' 'kho-tool: reboot(LINUX_REBOOT_CMD_KEXEC)')
k_kexec=$(stamp_after 'kho-tool: reboot(LINUX_REBOOT_CMD_KEXEC)' 'kexec_core: Starting new kernel')
t_boot4=$(stamp_after 'kho-tool: reboot(LINUX_REBOOT_CMD_KEXEC)' 'KHOTEST: BOOT stage=4')
t_ready=$(stamp_after 'KHOTEST: BOOT stage=4' 'restore-agent: serving')
t_adopt=$(stamp_after 'KHOTEST: BOOT stage=4' 'test-vmm: adopted iommufd')
t_dma=$(stamp_after 'KHOTEST: BOOT stage=4' 'test-vmm: restart: DMA check passed')
for v in t_plain1 k_plain1 t_boot2 t_plain5 k_plain5 t_boot6 t_kexec k_kexec t_boot4 t_ready t_adopt t_dma; do
	[ -n "${!v}" ] || { echo "upgrade: no serial stamp for $v in $stamped" >&2; exit 1; }
done

plain_load1=$(grep -a -o 'KHOTEST: LOG plain-load-ms-s1=[0-9]*' "$log" | head -n 1 | cut -d= -f2)
plain_load5=$(grep -a -o 'KHOTEST: LOG plain-load-ms-s5=[0-9]*' "$log" | head -n 1 | cut -d= -f2)
up=$(grep -a -m1 '^{"command":"upgrade"' "$log" || :)
kt_load=$(echo "$up" | grep -o '"step":"load","ms":[0-9.]*' | cut -d: -f3)
kt_pre=$(echo "$up" | grep -o '"step":"preflight-target","ms":[0-9.]*' | cut -d: -f3)
agent_ms=$(grep -a -m1 '^agent-timeline: ' "$log" | grep -o '"total_ms":[0-9.]*' | cut -d: -f2 || :)

s() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a - b }'; }
plain1=$(s "$t_boot2" "$t_plain1")
plain5=$(s "$t_boot6" "$t_plain5")
plain=$(awk -v a="$plain1" -v b="$plain5" 'BEGIN { printf "%.3f", (a + b) / 2 }')
adopt=$(s "$t_adopt" "$t_kexec")
dma=$(s "$t_dma" "$t_kexec")
boot=$(s "$t_boot4" "$t_kexec")
restore=$(s "$t_ready" "$t_boot4")
vmm=$(s "$t_adopt" "$t_ready")
ratio=$(awk -v a="$adopt" -v b="$plain" 'BEGIN { printf "%.2f", a / b }')
ratio_dma=$(awk -v a="$dma" -v b="$plain" 'BEGIN { printf "%.2f", a / b }')
ratio_boot=$(awk -v a="$boot" -v b="$plain" 'BEGIN { printf "%.2f", a / b }')
kplain1=$(s "$t_boot2" "$k_plain1")
kplain5=$(s "$t_boot6" "$k_plain5")
kboot=$(s "$t_boot4" "$k_kexec")

if [ "$json" = 1 ]; then
	printf '{"plain_s":%s,"plain_before_s":%s,"plain_after_s":%s,"adopted_s":%s,"ratio":%s,"dma_s":%s,"kernel_boot_s":%s,"agent_restore_s":%s,"vmm_adopt_s":%s,"kernel_plain_before_s":%s,"kernel_plain_after_s":%s,"kernel_upgrade_s":%s,"plain_load_ms":[%s,%s],"kho_tool_load_ms":%s}\n' \
		"$plain" "$plain1" "$plain5" "$adopt" "$ratio" "$dma" "$boot" "$restore" "$vmm" \
		"$kplain1" "$kplain5" "$kboot" "${plain_load1:-null}" "${plain_load5:-null}" "${kt_load:-null}"
	exit 0
fi
echo "upgrade: plain kexec $plain s, kho-tool upgrade to adoption $adopt s, ratio $ratio"
echo "upgrade: plain kexec before the upgrade $plain1 s, after it $plain5 s (mean above); kho-tool to DMA re-checked $dma s, ratio $ratio_dma"
echo "upgrade: breakdown: kernel boot $boot s (ratio $ratio_boot to the plain kexec), agent restore $restore s, VMM adopt $vmm s${agent_ms:+ (the agent timeline: $agent_ms ms)}"
echo "upgrade: load (kexec_file_load): plain kexec -s -l ${plain_load1:-?}/${plain_load5:-?} ms, kho-tool load ${kt_load:-?} ms (before the kexec: no blackout; kho-tool's preflight-target ${kt_pre:-?} ms)"
echo "upgrade: from the kernel's 'Starting new kernel' to /init: plain $kplain1/$kplain5 s, kho-tool $kboot s; serial log $log"
exit 0
