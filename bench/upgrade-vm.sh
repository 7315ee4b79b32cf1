#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# An upgrade against a plain kexec, measured in one guest run (a kexec
# chain, bench/guest/upgrade-vm.sh): all go from the vanilla kernel to the
# patched one with the same initrd and command line.
#   (a) plain: `kexec -s -l` then `kexec -e`; from a stamp on /dev/kmsg
#       just before `kexec -e` to the new kernel's /init reaching its
#       restore hooks (userspace up, the edu device bound to vfio-pci);
#       taken once before the upgrade and once after it, and the ratio
#       uses their mean;
#   (b) `kho-tool upgrade` of the test VMM (64 live mappings after 1,000
#       map/unmap cycles, under the recorder): from kho-tool's
#       reboot(LINUX_REBOOT_CMD_KEXEC) line to "test-vmm: adopted" and to
#       its DMA re-check, split into kernel boot (to the same /init point),
#       agent restore (to "restore-agent: serving") and VMM adopt (the
#       init hook noticing, the VMM starting and adopting).
# Also the steps before the jump (no blackout): `kexec -s -l` against
# kho-tool's whole run up to reboot() and its own steps.
#
# Clock.  By default QEMU runs with -icount shift=0,sleep=off: guest time
# is the count of guest instructions, immune to the load of a shared host.
# The guest's clocks restart at a kexec, but TCG's RDTSC is then the
# icount clock (in ns) and survives the kexec: bench/guest/tsc.c stamps
# "KHOTEST: TSC" lines with it, test-vmm's and the restore-agent's lines
# go through it (the agent's through a shim, see tsc.c), and
# kho-tool's reboot() line, which gives its CLOCK_BOOTTIME, is placed on
# the TSC through a stamp that pairs both clocks just before kho-tool
# starts.  Each run checks the claim: a 10^8-instruction spin must take
# 10^8 * 2^shift TSC ticks in every kernel, and the TSC must grow across
# every kexec.  QEMU's own work outside guest code (device emulation, the
# IOTLB) costs no time there, for both paths alike.
# KHO_BENCH_ICOUNT=off measures wall clock: the host stamps the same
# serial lines on arrival (as tests/vm/demo.sh measures blackout), and the
# loads are the guest's CLOCK_BOOTTIME.  KHO_BENCH_ICOUNT=N uses shift=N.
#
# usage: bench/upgrade-vm.sh [--json]    (env as tests/vm/launch.sh)
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
json=0
[ "${1:-}" = --json ] && json=1
export BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD="$top/$BUILD" ;; esac
icount=${KHO_BENCH_ICOUNT:-0}
name=bench-upgrade-vm
# Its own log on the wall clock: bench/blackout-wall-vm.sh runs it in
# rounds, after the icount run of the same make bench.
[ "$icount" != off ] || name=bench-upgrade-vm-wall
logdir=${KHO_VM_LOGDIR:-$BUILD/vm-logs}
log=$logdir/$name.log
stamped=$logdir/$name.stamped.log
case "$icount" in off|[0-9]|10) ;; *) echo "upgrade: KHO_BENCH_ICOUNT=off|0..10, not '$icount'" >&2; exit 2 ;; esac
mkdir -p "$logdir"

# The guest's clock: static, like the agent (the guest has no shared
# libraries but the ones the rig copies for its own binaries).
tsc="$BUILD/bench/guest/tsc"
mkdir -p "$(dirname "$tsc")"
# shellcheck disable=SC2086 # CFLAGS is a list of flags
${CC:-cc} ${CFLAGS:--O2 -g} -std=gnu11 -Wall -Wextra -static \
	-o "$tsc" "$top/bench/guest/tsc.c" ||
	{ echo "upgrade: building $tsc failed" >&2; exit 1; }
work=$(mktemp -d /tmp/bench-upgrade.XXXXXX)
trap 'rm -rf "$work"' EXIT
# Runs before 10-restore-agent (hooks run in name order), in every stage.
cat > "$work/00-bench-tsc" <<'HOOK'
#!/bin/sh
# bench/upgrade-vm.sh: /init has reached its restore hooks.
tsc "init-s$KHO_STAGE"
HOOK
chmod 0755 "$work/00-bench-tsc"

qemu=()
if [ "$icount" = off ]; then
	clock="wall clock (host stamps on the serial lines)"
else
	qemu=(--qemu-arg -icount --qemu-arg "shift=$icount,sleep=off")
	clock="-icount shift=$icount (1 guest instruction = $((1 << icount)) ns), guest TSC"
fi

# Wall clock: stamp serial lines on arrival (as tests/vm/demo.sh):
# launch.sh truncates the log when QEMU starts, tail -F follows it through
# that.  The stamp is bash's $EPOCHREALTIME, not a date(1) per line:
# forking one costs ~30 ms here, more than the kernel takes per boot line,
# so stamps would lag.  launch.sh rewrites the log at the end (CRLF -> LF)
# and tail -F reads it again: only the first match of a line counts.
: > "$log"
# Its own process group, ended whole on every way out (tests/vm/procs.bash).
. "$top/tests/vm/procs.bash"
stamp_serial() {
	tail -F -n +1 "$log" 2>/dev/null | while IFS= read -r line; do
		printf '%s %s\n' "$EPOCHREALTIME" "${line%$'\r'}"
	done > "$stamped"
}
stamper=
stop_stamper() {
	helper_stop "$stamper"
	stamper=
}
trap 'stop_stamper; rm -rf "$work"' EXIT
trap 'exit 130' INT TERM HUP
if [ "$icount" = off ]; then
	helper_start stamper stamp_serial
fi

rc=0
"$top/tests/vm/launch.sh" --name "$name" --kernel vanilla \
	--script "$top/bench/guest/upgrade-vm.sh" --timeout 1800 "${qemu[@]}" \
	--file "$tsc:/bin/tsc" --file "$tsc:/usr/lib/kho-tool/restore-agent" \
	--file "$work/00-bench-tsc:/etc/kho/init.d/00-bench-tsc" \
	--expect plain-loaded --expect serving --expect adopted \
	--expect plain-loaded >&2 || rc=$?
if [ -n "$stamper" ]; then
	# Let the stamper reach the end of the run before stopping it.
	for _ in $(seq 50); do
		grep -q -a 'KHOTEST: DONE' "$stamped" && break
		sleep 0.2
	done
fi
stop_stamper
[ "$rc" = 0 ] || { echo "upgrade: the guest run failed, see $log" >&2; exit 1; }

missing() { echo "upgrade: $* (serial log $log)" >&2; exit 1; }
calc() { awk "BEGIN { printf \"%.${1}f\", $2 }"; }

# The events, each one serial line (the first that matches).
declare -A line=(
	[ls1]='KHOTEST: TSC plain-load-start-s1 ' [le1]='KHOTEST: TSC plain-load-end-s1 '
	[x1]='KHOTEST: TSC plain-exec-s1 ' [i2]='KHOTEST: TSC init-s2 '
	[ls5]='KHOTEST: TSC plain-load-start-s5 ' [le5]='KHOTEST: TSC plain-load-end-s5 '
	[x5]='KHOTEST: TSC plain-exec-s5 ' [i6]='KHOTEST: TSC init-s6 '
	[up]='KHOTEST: TSC upgrade-start ' [kexec]='kho-tool: reboot(LINUX_REBOOT_CMD_KEXEC)'
	[i4]='KHOTEST: TSC init-s4 ' [ready]='restore-agent: serving '
	[script]='KHOTEST: TSC script-s4 '
	[adopt]='test-vmm: adopted iommufd' [dma]='test-vmm: restart: DMA check passed'
)
order=(ls1 le1 x1 i2 up kexec i4 ready script adopt dma ls5 le5 x5 i6)
declare -A t=()

# tsc_of LABEL: the TSC and CLOCK_BOOTTIME (ns) of a "KHOTEST: TSC" line.
tsc_of() {
	grep -a -m1 -o "KHOTEST: TSC $1 [0-9]* [0-9]*" "$log" | awk '{ print $4, $5 }'
}

if [ "$icount" != off ]; then
	# The claim first: 1 TSC tick = 1 ns of icount time in every kernel.
	want=$((1 << icount))
	spins=
	for s in 1 2 3 4 5 6; do
		read -r n dt db < <(grep -a -m1 -o "KHOTEST: TSC-SPIN s$s [0-9]* [0-9]* [0-9]*" "$log" |
			awk '{ print $4, $5, $6 }') || missing "no TSC spin in stage $s"
		per=$(calc 4 "$dt / (2 * $n)")
		awk -v p="$per" -v w="$want" 'BEGIN { exit !(p >= w * 0.99 && p <= w * 1.05) }' ||
			missing "stage $s: $((2 * n)) instructions took $dt TSC ticks ($per ns each, not $want): the TSC is not the icount clock"
		spins="$spins $per"
		[ "$s" = 3 ] && rate3=$(calc 9 "$dt / $db")
	done
	for e in ls1 le1 x1 i2 ls5 le5 x5 i6 up i4 script; do
		l=${line[$e]#KHOTEST: TSC }
		read -r v _ < <(tsc_of "${l% }") || missing "no TSC stamp '${l% }'"
		t[$e]=$v
	done
	read -r up_bt < <(tsc_of upgrade-start | awk '{ print $2 }')
	kb=$(grep -a -m1 -o 'kho-tool: reboot(LINUX_REBOOT_CMD_KEXEC) into .* at boottime [0-9.]*' "$log" |
		sed 's/.* at boottime //') || missing "no kho-tool reboot() line"
	# kho-tool's boottime onto the TSC, at stage 3's rate (ticks per ns).
	t[kexec]=$(awk -v t0="${t[up]}" -v b0="$up_bt" -v b="$kb" -v r="$rate3" \
		'BEGIN { printf "%.0f", t0 + (b * 1e9 - b0) * r }')
	for e in ready adopt dma; do
		v=$(grep -a -m1 -o "\[tsc [0-9]*\] ${line[$e]}" "$log" | sed 's/^\[tsc \([0-9]*\)\].*/\1/') ||
			missing "no TSC for '${line[$e]}'"
		t[$e]=$v
	done
	# Along the chain, every kexec included, the TSC only grows.
	prev=0 pe=
	for e in "${order[@]}"; do
		awk -v a="${t[$e]}" -v b="$prev" 'BEGIN { exit !(a > b) }' ||
			missing "TSC at $e (${t[$e]}) is not past $pe ($prev): the TSC did not survive the kexec"
		prev=${t[$e]} pe=$e
	done
	# Seconds of icount time.
	for e in "${order[@]}"; do
		t[$e]=$(awk -v v="${t[$e]}" 'BEGIN { printf "%.9f", v / 1e9 }')
	done
	check="TSC = icount ns: spin of 10^8 instructions in stages 1-6:$spins ns each; grows across all 5 kexecs"
else
	for e in "${order[@]}"; do
		t[$e]=$(awk -v p="${line[$e]}" 'index($0, p) { print $1; exit }' "$stamped")
		[ -n "${t[$e]}" ] || missing "no serial stamp for '${line[$e]}' in $stamped"
	done
	# The loads on the guest's own clock too (one kernel each, ns
	# resolution, no serial line in between).
	for s in 1 5; do
		read -r _ b0 < <(tsc_of "plain-load-start-s$s") || missing "no plain-load-start-s$s"
		read -r _ b1 < <(tsc_of "plain-load-end-s$s") || missing "no plain-load-end-s$s"
		printf -v "load$s" '%s' "$(calc 4 "($b1 - $b0) / 1e9")"
	done
	# The old kernel's last line: reboot() (or kexec -e) to it is the
	# shutdown (devices, LUO's serialisation), from it to /init the new
	# kernel's boot (purgatory, decompression, KHO, init).
	declare -A kstart=()
	for e in x1 x5 kexec; do
		kstart[$e]=$(awk -v a="${line[$e]}" 'seen && /kexec_core: Starting new kernel/ { print $1; exit } index($0, a) { seen = 1 }' "$stamped")
		[ -n "${kstart[$e]}" ] || missing "no 'Starting new kernel' after '${line[$e]}' in $stamped"
	done
	check="load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"
fi

# Seconds to 0.1 ms under icount (the figures repeat to that), to 1 ms on
# the wall clock.
sd=4
[ "$icount" != off ] || sd=3
d() { calc $sd "${t[$1]} - ${t[$2]}"; }
for v in ls1 le1 x1 i2 ls5 le5 x5 i6 up kexec i4 ready script adopt dma; do
	[ -n "${t[$v]:-}" ] || missing "no time for $v"
done
plain1=$(d i2 x1)
plain5=$(d i6 x5)
plain=$(calc $sd "($plain1 + $plain5) / 2")
if [ "$icount" != off ]; then
	load1=$(d le1 ls1)
	load5=$(d le5 ls5)
fi
adopt=$(d adopt kexec)
dma=$(d dma kexec)
boot=$(d i4 kexec)
restore=$(d ready i4)
notice=$(d script ready)
vmm=$(d adopt ready)
vmm_own=$(d adopt script)
before=$(d kexec up)
e2e_plain=$(calc $sd "($(d i2 ls1) + $(d i6 ls5)) / 2")
e2e_up=$(d adopt up)
# The toolkit's share of the blackout: what runs after the new kernel's
# /init reaches its hooks (agent restore, hook notice, VMM adoption).
toolkit=$(d adopt i4)
share=$(calc 2 "100 * $toolkit / $adopt")
shut=null kboot=null pshut=null pboot=null
if [ "$icount" = off ]; then
	shut=$(calc 3 "${kstart[kexec]} - ${t[kexec]}")
	kboot=$(calc 3 "${t[i4]} - ${kstart[kexec]}")
	pshut=$(calc 3 "(${kstart[x1]} - ${t[x1]} + ${kstart[x5]} - ${t[x5]}) / 2")
	pboot=$(calc 3 "(${t[i2]} - ${kstart[x1]} + ${t[i6]} - ${kstart[x5]}) / 2")
fi
# Ratios only of figures measured above, in this run.
for v in plain adopt dma boot e2e_plain e2e_up load1 load5; do
	awk -v x="${!v}" 'BEGIN { exit !(x > 0) }' || missing "$v is not positive: ${!v} s"
done
digits=3
[ "$icount" != off ] || digits=2
ratio=$(calc $digits "$adopt / $plain")
ratio_dma=$(calc $digits "$dma / $plain")
ratio_boot=$(calc $digits "$boot / $plain")
ratio_e2e=$(calc $digits "$e2e_up / $e2e_plain")

up=$(grep -a -m1 '^{"command":"upgrade"' "$log" || :)
[ -n "$up" ] || missing "no kho-tool --json object"
step() { echo "$up" | grep -o "\"step\":\"$1\",\"ms\":[0-9.]*" | cut -d: -f3; }
declare -A ms=()
for s in preflight-running preflight-target capture preserve load; do
	ms[$s]=$(step $s)
	[ -n "${ms[$s]}" ] || missing "kho-tool's JSON has no '$s' step"
done
agent_ms=$(grep -a -m1 -o 'restore-agent: restored in [0-9.]* ms' "$log" | awk '{ print $4 }' || :)
[ -n "$agent_ms" ] || missing "no 'restore-agent: restored in' line"

if [ "$json" = 1 ]; then
	printf '{"clock":"%s","plain_s":%s,"plain_before_s":%s,"plain_after_s":%s,"adopted_s":%s,"ratio":%s,"dma_s":%s,"ratio_dma":%s,"kernel_boot_s":%s,"ratio_kernel_boot":%s,"agent_restore_s":%s,"vmm_adopt_s":%s,"hook_notice_s":%s,"vmm_start_adopt_s":%s,"agent_restored_in_ms":%s,"plain_load_s":[%s,%s],"kho_tool_before_kexec_s":%s,"kho_tool_steps_ms":{"preflight_running":%s,"preflight_target":%s,"capture":%s,"preserve":%s,"load":%s},"end_to_end_plain_s":%s,"end_to_end_upgrade_s":%s,"ratio_end_to_end":%s,"toolkit_s":%s,"toolkit_share_pct":%s,"shutdown_s":%s,"new_kernel_boot_s":%s,"plain_shutdown_s":%s,"plain_new_kernel_boot_s":%s}\n' \
		"$clock" "$plain" "$plain1" "$plain5" "$adopt" "$ratio" "$dma" "$ratio_dma" "$boot" "$ratio_boot" \
		"$restore" "$vmm" "$notice" "$vmm_own" "$agent_ms" "$load1" "$load5" "$before" \
		"${ms[preflight-running]}" "${ms[preflight-target]}" "${ms[capture]}" "${ms[preserve]}" "${ms[load]}" \
		"$e2e_plain" "$e2e_up" "$ratio_e2e" "$toolkit" "$share" "$shut" "$kboot" "$pshut" "$pboot"
	exit 0
fi
echo "upgrade: $clock; $check"
echo "upgrade: plain kexec $plain s, kho-tool upgrade to adoption $adopt s, ratio $ratio"
echo "upgrade: plain kexec before the upgrade $plain1 s, after it $plain5 s (mean above); kho-tool to DMA re-checked $dma s, ratio $ratio_dma"
echo "upgrade: breakdown: kernel boot $boot s (ratio $ratio_boot to the plain kexec), agent restore $restore s (the agent's own "restored in" $agent_ms ms), VMM adopt $vmm s (init hook noticing $notice s, VMM start + adopt $vmm_own s)"
echo "upgrade: before the jump (no blackout): plain kexec -s -l $load1/$load5 s; kho-tool $before s from its start to reboot(): preflight-running ${ms[preflight-running]}, preflight-target ${ms[preflight-target]}, capture ${ms[capture]}, preserve ${ms[preserve]}, load ${ms[load]} ms"
echo "upgrade: end to end (load to /init vs kho-tool start to adoption): plain $e2e_plain s, upgrade $e2e_up s, ratio $ratio_e2e"
echo "upgrade: the toolkit's share of the blackout (agent restore + hook notice + VMM start and adopt): $toolkit s of $adopt s, $share %"
if [ "$icount" = off ]; then
	echo "upgrade: shutdown (reboot() to the old kernel's 'Starting new kernel'): plain $pshut s, kho-tool $shut s; new kernel to /init: plain $pboot s, kho-tool $kboot s"
fi
echo "upgrade: serial log $log"
exit 0
