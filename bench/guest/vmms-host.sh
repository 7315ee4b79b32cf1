# SPDX-License-Identifier: GPL-2.0
# The guest side of bench/vmms-vm.sh (issue #16 item 5), in the host
# image: one L1 kexec per run of /test/vmms-runs ("N:MODE ...", MODE par
# or seq), each carrying N QEMU 11.1 guests in one hand-off.
#
# Stage s starts run s's N QEMUs (the L2 payload in its idle mode: one
# heartbeat, then halted, so that 16 guests leave L1's CPU to the toolkit)
# and upgrades into the other kernel.  Stage s+1 restores them: the agent,
# N new QEMUs listening, then N `cpr-relay --restore`s, all at once (par,
# as a host's units start them) or one after the other (seq).  It logs on
# the new kernel's clock (seconds since its boot):
#   vmms_agent=R,UPTIME        the restore-agent ready
#   vmms_listening=R,UPTIME    the N new QEMUs listening
#   vmms_restored=R,UPTIME     the last --restore done
# and before each kexec "vmms_upgrade=R,N,MODE", after which kho-tool
# upgrade's own step lines follow on the console.  The bench reads both.

. /test/host-l2.sh

# run_of K: the K-th "N:MODE" of /test/vmms-runs; nr_runs: how many.
run_of() { tr -s ' \n' '  ' < /test/vmms-runs | cut -d' ' -f"$1"; }
nr_runs=$(wc -w < /test/vmms-runs)
up() { cut -d' ' -f1 /proc/uptime; }
# no_qemu: no QEMU left (by its name, which the kernel cuts to 15 bytes).
no_qemu() { ! pgrep -x qemu-system-x86 > /dev/null; }
tags() { local i; for i in $(seq "$2"); do echo "r$1q$i"; done; }

# The previous stage's run, restored.
prev=$((KHO_STAGE - 1))
if [ "$prev" -ge 1 ]; then
	run=$(run_of "$prev")
	n=${run%%:*}
	mode=${run##*:}
	khotest_log "vmms_kernel=$prev,$(uname -r)"
	start_agent
	khotest_log "vmms_agent=$prev,$(up)"
	for t in $(tags "$prev" "$n"); do l2_start "${t}n" incoming; done
	for t in $(tags "$prev" "$n"); do
		khotest_wait 300 test -S "$W/${t}n-cpr.sock" ||
			{ dump; khotest_fail "the new QEMU ${t}n never listened"; }
	done
	khotest_log "vmms_listening=$prev,$(up)"
	pids=
	for t in $(tags "$prev" "$n"); do
		if [ "$mode" = par ]; then
			restore_one "$t" "${t}n" > "$W/relay-$t.log" 2>&1 &
			pids="$pids $!"
		else
			restore_one "$t" "${t}n" > "$W/relay-$t.log" 2>&1 ||
				{ cat "$W/relay-$t.log"; khotest_fail "--restore of $t failed"; }
		fi
	done
	for p in $pids; do
		wait "$p" || { cat "$W"/relay-*.log; khotest_fail "a --restore of run $prev failed"; }
	done
	khotest_log "vmms_restored=$prev,$(up)"
	# Each --restore's own span on the wall clock (restore_one's line).
	for t in $(tags "$prev" "$n"); do
		khotest_log "vmms_span=$prev,$(cat "$W/${t}n.restore-wall")"
	done
	agent_status finished
	for t in $(tags "$prev" "$n"); do
		grep -q 'done: the new QEMU has the descriptors and the stream' "$W/relay-$t.log" ||
			{ cat "$W/relay-$t.log"; khotest_fail "--restore of $t did not finish"; }
	done
	[ "$(grep -l 'restore-agent finishes the session' "$W"/relay-r"$prev"q*.log | wc -l)" = 1 ] ||
		khotest_fail "run $prev: not exactly one --restore ended the session"
	khotest_mark "restored-$prev"
	pkill -x qemu-system-x86 || true
	khotest_wait 30 no_qemu ||
		khotest_fail "run $prev's QEMUs do not exit"
fi
if [ "$KHO_STAGE" -gt "$nr_runs" ]; then
	khotest_done
	return 0
fi

# This stage's run: N idle guests, upgraded into the other kernel.
run=$(run_of "$KHO_STAGE")
n=${run%%:*}
mode=${run##*:}
l2_args="$l2_args -append idle"
[ -f "$initrd" ] || make_initrd
for t in $(tags "$KHO_STAGE" "$n"); do l2_start "$t"; done
for t in $(tags "$KHO_STAGE" "$n"); do
	wait_for "$W/$t.log" '^idle' 600 || { dump; khotest_fail "L2 guest $t never went idle"; }
done
khotest_mark "running-$KHO_STAGE"
khotest_log "vmms_upgrade=$KHO_STAGE,$n,$mode"
if [ $((KHO_STAGE % 2)) = 1 ]; then kernel=/test/vmlinuz-patched; else kernel=/test/vmlinuz-vanilla; fi
# shellcheck disable=SC2046 # one tag a word
kexec_with upgrade "$kernel" $((KHO_STAGE + 1)) $(tags "$KHO_STAGE" "$n")
