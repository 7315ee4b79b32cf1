#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The blackout on the wall clock, step by step (issue #16 item 2):
# bench/upgrade-vm.sh with KHO_BENCH_ICOUNT=off, ROUNDS guest runs (each
# one six-kernel chain: two plain kexecs bracketing one kho-tool upgrade),
# then the median and the range of every step over the rounds.  A plain
# kexec and the upgrade are ratioed only within one round; a round that
# misses a figure fails the bench.
#
# Steps, host stamps of serial lines on arrival:
#   load        kexec_file_load (kho-tool's "load" step; the plain
#               `kexec -s -l` on the guest's CLOCK_BOOTTIME), before the
#               blackout;
#   shutdown    reboot() (plain: the stamp before `kexec -e`) to the old
#               kernel's "kexec_core: Starting new kernel";
#   boot        that line to the new kernel's /init reaching its hooks;
#   agent       /init's hooks to "restore-agent: serving";
#   notice      the agent serving to the guest script starting the VMM;
#   vmm         the VMM's start and adoption ("test-vmm: adopted").
# The toolkit's share is agent + notice + vmm over the whole blackout.
#
# usage: bench/blackout-wall-vm.sh      (ROUNDS=3; env as tests/vm/launch.sh)
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
rounds=${ROUNDS:-3}
case "$rounds" in [1-9]|[1-9][0-9]) ;; *) echo "blackout: ROUNDS=1..99, not '$rounds'" >&2; exit 2 ;; esac
export BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD="$top/$BUILD" ;; esac
logdir=${KHO_VM_LOGDIR:-$BUILD/vm-logs}
out=$(mktemp /tmp/bench-blackout.XXXXXX)
trap 'rm -f "$out"' EXIT

for r in $(seq "$rounds"); do
	# Each round's serial logs kept apart, to read a round's steps again.
	KHO_VM_LOGDIR=$logdir/blackout-r$r KHO_BENCH_ICOUNT=off \
		"$top/bench/upgrade-vm.sh" --json > "$out.$r" ||
		{ echo "blackout: round $r failed" >&2; rm -f "$out".*; exit 1; }
	tail -n1 "$out.$r" >> "$out"
	rm -f "$out.$r"
	echo "blackout: round $r: $(jq -r '"blackout \(.adopted_s) s (shutdown \(.shutdown_s), new kernel to /init \(.new_kernel_boot_s), agent \(.agent_restore_s), notice \(.hook_notice_s), VMM start + adopt \(.vmm_start_adopt_s)), plain \(.plain_s) s (shutdown \(.plain_shutdown_s), new kernel to /init \(.plain_new_kernel_boot_s)), toolkit \(.toolkit_s) s (\(.toolkit_share_pct) %), the agent'"'"'s own restored in \(.agent_restored_in_ms) ms"' < <(tail -n1 "$out"))"
done

fields='plain_s adopted_s ratio toolkit_s toolkit_share_pct shutdown_s new_kernel_boot_s plain_shutdown_s plain_new_kernel_boot_s agent_restore_s hook_notice_s vmm_start_adopt_s agent_restored_in_ms'
for f in $fields; do
	jq -s -e --arg f "$f" 'length == '"$rounds"' and all(.[]; .[$f] | type == "number")' "$out" > /dev/null ||
		{ echo "blackout: figure '$f' missing in a round (bench/upgrade-vm.sh --json)" >&2; exit 1; }
done
jq -s -e 'all(.[]; (.plain_load_s | length == 2) and (.kho_tool_steps_ms.load | type == "number"))' "$out" > /dev/null ||
	{ echo "blackout: a load figure is missing in a round" >&2; exit 1; }

# stat FIELD: "median (min-max)" of a JSON field over the rounds; fails on
# a missing or non-numeric figure.
stat() {
	jq -s -r --arg f "$1" '
		map(.[$f]) as $v
		| if ($v | all(type == "number")) | not then
			error("field \($f) missing in a round")
		  else ($v | sort) as $s
			| ($s | length) as $n
			| (if $n % 2 == 1 then $s[($n - 1) / 2]
			   else ($s[$n / 2 - 1] + $s[$n / 2]) / 2 end) as $m
			| "\($m * 1000 | round) ms (\($s[0] * 1000 | round)-\($s[-1] * 1000 | round))"
		  end' "$out"
}
ms_stat() {
	jq -s -r --arg f "$1" '
		map(.kho_tool_steps_ms[$f]) | sort
		| "\(.[(length - 1) / 2 | floor] | round) ms (\(.[0] | round)-\(.[-1] | round))"' "$out"
}
plain_load=$(jq -s -r 'map(.plain_load_s[]) | sort | "\(.[(length - 1) / 2 | floor] * 1000 | round) ms (\(.[0] * 1000 | round)-\(.[-1] * 1000 | round))"' "$out")
share=$(jq -s -r 'map(.toolkit_share_pct) | sort | "\(.[(length - 1) / 2 | floor]) % (\(.[0])-\(.[-1]))"' "$out")
ratio=$(jq -s -r 'map(.ratio) | sort | "\(.[(length - 1) / 2 | floor]) (\(.[0])-\(.[-1]))"' "$out")

echo "blackout: wall clock, $rounds rounds, median (range); load average $(cut -d' ' -f1-3 /proc/loadavg)"
printf 'blackout: %-28s %-28s %s\n' step plain "kho-tool upgrade"
printf 'blackout: %-28s %-28s %s\n' "kexec load (no blackout)" "$plain_load" "$(ms_stat load)"
printf 'blackout: %-28s %-28s %s\n' shutdown "$(stat plain_shutdown_s)" "$(stat shutdown_s)"
printf 'blackout: %-28s %-28s %s\n' "new kernel to /init" "$(stat plain_new_kernel_boot_s)" "$(stat new_kernel_boot_s)"
printf 'blackout: %-28s %-28s %s\n' "agent restore" - "$(stat agent_restore_s)"
printf 'blackout: %-28s %-28s %s\n' "hook notice" - "$(stat hook_notice_s)"
printf 'blackout: %-28s %-28s %s\n' "VMM start + adopt" - "$(stat vmm_start_adopt_s)"
printf 'blackout: %-28s %-28s %s\n' "blackout" "$(stat plain_s)" "$(stat adopted_s)"
echo "blackout: upgrade / plain kexec (per round): $ratio"
echo "blackout: toolkit (agent + notice + VMM adopt): $(stat toolkit_s), share of the blackout $share"
echo "blackout: the agent's own 'restored in': $(jq -s -r 'map(.agent_restored_in_ms) | sort | "\(.[(length - 1) / 2 | floor]) ms (\(.[0])-\(.[-1]))"' "$out")"
