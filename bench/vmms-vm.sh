#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Several VMMs in one hand-off (issue #16 item 5): the blackout of 1, 4
# and 16 QEMU 11.1 guests carried across one kexec of their L1 host, and
# how it grows with N.  One boot of the rig's host image (Debian sid, L1
# with VMMS_SMP vCPUs and VMMS_MEM of RAM, nested TCG), one L1 kexec per
# run of VMMS_RUNS ("N:MODE", MODE par: the N --restores started at once,
# as a host's units start them; seq: one after the other), kernels
# alternating patched and vanilla.  bench/guest/vmms-host.sh is the L1
# side; the L2 guests are tests/cpr/payload.c in its idle mode (halted
# after one heartbeat: 16 busy guests would leave L1 no CPU to measure
# the toolkit on).
#
# Per run, on L1's clocks (wall clock, nested TCG: no icount figure, since
# icount would count L1's instructions, not the guests'):
#   stop -> kexec   kho-tool upgrade's own steps from the guests' stop (the
#                   last CPR state accepted, in the qemu-cpr step) to the
#                   kexec: the rest of qemu-cpr, capture, preserve, load;
#   boot -> agent   the new kernel's uptime when the restore-agent is ready;
#   new QEMUs       agent ready -> the N new QEMUs listening;
#   restores        listening -> the last --restore done;
#   each            the mean of the N --restores' own spans: in par they
#                   share L1's CPUs, so each takes longer than alone;
#   blackout        their sum (less the old kernel's shutdown, not seen);
#   toolkit+QEMU    the blackout less the kernel's boot: the part that
#                   can grow with N (the boot does not depend on N, and
#                   nested TCG with 2 vCPUs makes it vary by tens of
#                   seconds from boot to boot).
# Ratios: each run's blackout, toolkit+QEMU part and restores over the
# second run's (N=1): the first run, also N=1, is the warm-up (the first
# QEMU start, relay and restore of the boot run cold: 1.8 s against
# 0.9 s for the same restore later), printed but not a reference.
#
# usage: bench/vmms-vm.sh      (env BUILD as launch.sh; VMMS_RUNS, default
#        "1:par 1:par 4:par 16:par 16:seq"; VMMS_SMP 2; VMMS_MEM 3G)
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
export BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD="$top/$BUILD" ;; esac
logdir=${KHO_VM_LOGDIR:-$BUILD/vm-logs}
runs=${VMMS_RUNS:-1:par 1:par 4:par 16:par 16:seq}
smp=${VMMS_SMP:-2}
mem=${VMMS_MEM:-3G}
name=bench-vmms-vm
log=$logdir/$name.log

for r in $runs; do
	[[ "$r" =~ ^([1-9]|1[0-6]):(par|seq)$ ]] ||
		{ echo "vmms: VMMS_RUNS: '$r' is not N:par or N:seq with N 1..16" >&2; exit 2; }
done
# The second run is the one each ratio is taken against.
case "$runs" in "1:par 1:par "*) ;; *) echo "vmms: VMMS_RUNS must start with 1:par 1:par (a warm-up, then the reference)" >&2; exit 2 ;; esac
patched=$("$top/tests/rig/build-kernel.sh" --cached patched)/bzImage ||
	{ echo "vmms: the patched kernel is not built (tests/rig/prepare.sh)" >&2; exit 1; }
vanilla=$("$top/tests/rig/build-kernel.sh" --cached vanilla)/bzImage ||
	{ echo "vmms: the vanilla kernel is not built (tests/rig/prepare.sh)" >&2; exit 1; }
payload=$BUILD/tests/cpr/payload.elf
[ -f "$payload" ] || { echo "vmms: no $payload (make)" >&2; exit 1; }
work=$(mktemp -d /tmp/bench-vmms.XXXXXX)
trap 'rm -rf "$work"' EXIT
echo "$runs" > "$work/vmms-runs"

expects=()
i=0
for r in $runs; do
	i=$((i + 1))
	expects+=(--expect "running-$i" --expect "restored-$i")
done
mkdir -p "$logdir"
rc=0
KHO_VM_LOGDIR=$logdir "$top/tests/vm/launch.sh" --name "$name" --exact-marks \
	--host-image khotest-init --timeout 3000 \
	--script "$top/bench/guest/vmms-host.sh" \
	--file "$payload:/test/payload.elf" --file "$top/tests/vm/guest/host-l2.sh:/test/host-l2.sh" --file "$top/tests/cpr/heartbeat.sh:/test/heartbeat.sh" \
	--file "$work/vmms-runs:/test/vmms-runs" \
	--file "$patched:/test/vmlinuz-patched" --file "$vanilla:/test/vmlinuz-vanilla" \
	--file "$top/tests/vm/host/init:/test/host-init" \
	--qemu-arg -smp --qemu-arg "$smp" --qemu-arg -m --qemu-arg "$mem" \
	"${expects[@]}" >&2 || rc=$?
[ "$rc" = 0 ] || { echo "vmms: the guest run failed (exit $rc): $log" >&2; exit 1; }

# Figures per run, from the serial log: R N MODE stop_kexec_s agent_s
# listening_s restored_s mean_restore_s (one --restore's own span).
tr -d '\r' < "$log" | awk '
	function val(s) { sub(/^[^=]*=/, "", s); return s }
	/KHOTEST: LOG vmms_upgrade=/ {
		split(val($0), a, ","); run = a[1]; n[run] = a[2]; mode[run] = a[3]
		cur = run; stop = 0; sum = 0; next
	}
	cur && /^upgrade: [0-9.]+ +ms +received the CPR state/ { stop = $2; next }
	cur && /^upgrade: qemu-cpr / { sum += $3 - stop; next }
	cur && /^upgrade: (capture|preserve|load|kexec) / { sum += $3; if ($2 == "kexec") { sk[cur] = sum / 1000; cur = 0 } next }
	/KHOTEST: LOG vmms_agent=/ { split(val($0), a, ","); ag[a[1]] = a[2] }
	/KHOTEST: LOG vmms_listening=/ { split(val($0), a, ","); li[a[1]] = a[2] }
	/KHOTEST: LOG vmms_restored=/ { split(val($0), a, ","); re[a[1]] = a[2] }
	/KHOTEST: LOG vmms_span=/ { split(val($0), a, ","); sp[a[1]] += a[3] - a[2] }
	END {
		for (r = 1; r in n; r++) {
			if (!(r in sk) || !(r in ag) || !(r in li) || !(r in re)) { print "missing", r; exit 1 }
			print r, n[r], mode[r], sk[r], ag[r], li[r] - ag[r], re[r] - li[r], sp[r] / n[r]
		}
	}' > "$work/figures" || { echo "vmms: a figure is missing in $log: $(tail -n1 "$work/figures")" >&2; exit 1; }
[ "$(wc -l < "$work/figures")" = "$(echo "$runs" | wc -w)" ] ||
	{ echo "vmms: $(wc -l < "$work/figures") runs of $(echo "$runs" | wc -w) in $log" >&2; exit 1; }

echo "vmms: $(echo "$runs" | wc -w) runs in one L1 boot ($smp vCPUs, $mem, nested TCG), wall clock; load average $(cut -d' ' -f1-3 /proc/loadavg)"
printf 'vmms: %-3s %-4s %-11s %-11s %-10s %-10s %-9s %-10s %-12s %s\n' N mode "stop->kexec" "boot->agent" "new QEMUs" restores each blackout "toolkit+QEMU" "ratios to N=1: blackout, toolkit+QEMU, restores"
awk '
	function s(v) { return sprintf("%.3f s", v) }
	function row(f, tail) {
		printf "vmms: %-3s %-4s %-11s %-11s %-10s %-10s %-9s %-10s %-12s %s\n", f[2], f[3],
			s(f[4]), s(f[5]), s(f[6]), s(f[7]), s(f[8]), s(f[4] + f[5] + f[6] + f[7]),
			s(f[4] + f[6] + f[7]), tail
	}
	{ split($0, f) }
	NR == 1 { row(f, "warm-up"); next }
	NR == 2 { b1 = f[4] + f[5] + f[6] + f[7]; t1 = f[4] + f[6] + f[7]; r1 = f[7] }
	{
		row(f, sprintf("%.2f, %.2f, %.2f (N = %d)", (f[4] + f[5] + f[6] + f[7]) / b1,
			(f[4] + f[6] + f[7]) / t1, f[7] / r1, f[2]))
	}' "$work/figures"
