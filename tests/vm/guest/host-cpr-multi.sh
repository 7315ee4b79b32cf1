# SPDX-License-Identifier: GPL-2.0
# Two L2 guests carried across a kexec of their L1 host in one hand-off,
# one restore failing and retried, then both carried back by rollback
# (docs/qemu-cpr.md "Many QEMUs" and "Rollback").
# Stage 1 (vanilla L1): QEMUs a and b run the L2 payload; `kho-tool
# upgrade --qemu-qmp a --qemu-qmp b` kexecs into the patched kernel.
# Stage 2: only a's new QEMU (a2) is started: `cpr-relay --restore --vmm b`
# fails naming b, the step and the cause, and the agent keeps the session;
# a is restored and runs while b waits; then b2 is started and b restored:
# the agent finishes.  `kho-tool rollback --qemu-qmp a2 --qemu-qmp b2`
# kexecs back to the vanilla kernel.  Stage 3: a3 and b3 take them.  The
# host compares each guest's last heartbeat before a kexec with its first
# after it; every log is checked for BAD (the RAM pattern) and a second
# L2 boot.

. /test/host-l2.sh

# restore_one OLD NEW: `cpr-relay --restore` of the hand-off's QEMU OLD
# (its QMP socket before the kexec) into the new QEMU NEW.
restore_one() {
	local rc=0

	kho-tool cpr-relay --restore --vmm "$W/$1-qmp.sock" --to-cpr "$W/$2-cpr.sock" \
		--to-main "$W/$2-main.sock" --timeout 120 > "$W/restore-$2.out" 2>&1 || rc=$?
	cat "$W/restore-$2.out"
	[ "$rc" -eq 0 ] || { dump /run/kho-tool/restore.log; khotest_fail "cpr-relay --restore --vmm $1 failed (exit $rc)"; }
}

# continues TAG: TAG's guest beats twice more, never rebooted, pattern
# intact; logs TAG_first, its first heartbeat, for the host.
continues() {
	local first

	wait_for "$W/$1.log" '^hb [0-9]+ ' 300 || { dump; khotest_fail "QEMU $1's L2 guest printed no heartbeat"; }
	khotest_log "$1_first_wall=$(date +%s.%N)"
	first=$(hb "$W/$1.log" 1p)
	wait_for "$W/$1.log" "^hb $((first + 2)) " 300 || { dump; khotest_fail "QEMU $1's L2 guest does not keep running"; }
	if grep -q '^L2 boot' "$W/$1.log"; then khotest_fail "QEMU $1's L2 guest rebooted"; fi
	if grep -q BAD "$W/$1.log"; then khotest_fail "QEMU $1's L2 RAM pattern changed: $(grep BAD "$W/$1.log" | head -n 1)"; fi
	khotest_log "$1_first=$first"
}

# agent_status WANT: the restore-agent's status begins with WANT (waits 10 s).
agent_status() {
	local i=0

	until grep -q "^$1" /run/kho-tool/agent.status 2>/dev/null; do
		[ "$i" -lt 100 ] || khotest_fail "agent status '$(cat /run/kho-tool/agent.status)', not $1"
		usleep 100000
		i=$((i + 1))
	done
}

# kexec_with CMD KERNEL STAGE A B: kho-tool CMD (upgrade or rollback) of
# the QEMUs A and B into KERNEL; returns only if it failed.
kexec_with() {
	local rc=0

	make_initrd
	sync
	khotest_log "$1_start_wall=$(date +%s.%N)"
	kho-tool "$1" --kernel "$2" --initrd /tmp/l1-initrd.img --append "khotest.stage=$3" \
		--qemu-qmp "$W/$4-qmp.sock" --qemu-qmp "$W/$5-qmp.sock" > /dev/console 2>&1 || rc=$?
	dump /run/kho-tool/restore.log
	khotest_fail "kho-tool $1 with two QEMUs returned (exit $rc)"
}

case "$KHO_STAGE" in
1)
	l2_start a
	l2_console a
	l2_start b
	l2_console b
	wait_for "$W/a.log" '^hb 3 ' 300 || { dump; khotest_fail "L2 guest a never reached hb 3"; }
	wait_for "$W/b.log" '^hb 3 ' 300 || { dump; khotest_fail "L2 guest b never reached hb 3"; }
	khotest_mark l2-running
	kexec_with upgrade /test/vmlinuz-patched 2 a b
	;;
2)
	khotest_log "l1_stage2_kernel=$(uname -r)"
	start_agent
	l2_start a2 incoming
	# b's new QEMU is missing: its restore fails, a's and b's memfds stay.
	khotest_refused "$W/restore-b-missing.out" "a --restore of b with no new QEMU" \
		kho-tool cpr-relay --restore --vmm "$W/b-qmp.sock" --to-cpr "$W/b2-cpr.sock" \
		--to-main "$W/b2-main.sock" --timeout 3
	grep -q "target cpr channel: .*(QEMU $W/b-qmp.sock)" "$W/restore-b-missing.out" ||
		khotest_fail "the failed --restore does not name the step and the QEMU: $(cat "$W/restore-b-missing.out")"
	agent_status ready
	khotest_mark restore-b-failed
	restore_one a a2
	grep -q 'keeps the session for 1 more' "$W/restore-a2.out" ||
		khotest_fail "--restore of a does not say the agent keeps the session for b"
	agent_status ready
	l2_console a2
	continues a2
	# a runs on while b waits: b is still recoverable.
	khotest_mark a-continued
	l2_start b2 incoming
	restore_one b b2
	agent_status finished
	l2_console b2
	continues b2
	khotest_refused "$W/restore-again.out" "a second --restore of a" \
		kho-tool cpr-relay --restore --vmm "$W/a-qmp.sock" --to-cpr "$W/x-cpr.sock" \
		--to-main "$W/x-main.sock" --timeout 3
	grep -q 'given to a new QEMU already' "$W/restore-again.out" ||
		khotest_fail "a second --restore of a is not refused as such"
	khotest_mark b-recovered
	kexec_with rollback /test/vmlinuz-vanilla 3 a2 b2
	;;
3)
	khotest_log "l1_stage3_kernel=$(uname -r)"
	start_agent
	l2_start a3 incoming
	l2_start b3 incoming
	restore_one a2 a3
	restore_one b2 b3
	agent_status finished
	continues a3
	continues b3
	khotest_mark rolled-back
	khotest_done
	;;
esac
