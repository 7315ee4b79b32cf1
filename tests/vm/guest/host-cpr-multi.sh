# SPDX-License-Identifier: GPL-2.0
# Two L2 guests carried across a kexec of their L1 host in one hand-off,
# one restore failing and retried, then both carried back by rollback
# (docs/qemu-cpr.md "Many QEMUs" and "Rollback").
# Stage 1 (vanilla L1): QEMUs a and b run the L2 payload; an upgrade of a
# and c (RAM in a file) is refused naming c before any guest stops, and
# all three run on; `kho-tool upgrade --qemu-qmp a --qemu-qmp b` kexecs
# into the patched kernel.
# Stage 2: only a's new QEMU (a2) is started: `cpr-relay --restore --vmm b`
# fails naming b, the step and the cause, and the agent keeps the session;
# a is restored and runs while b waits; then b2 is started and b restored:
# the agent finishes.  `kho-tool rollback --qemu-qmp a2 --qemu-qmp b2`
# kexecs back to the vanilla kernel.  Stage 3: a3 and b3 take them, both
# --restores at once, side by side, and a second of a2 refused.  The
# host compares each guest's last heartbeat before a kexec with its first
# after it; every log is checked for BAD (the RAM pattern) and a second
# L2 boot.

. /test/host-l2.sh

case "$KHO_STAGE" in
1)
	# Before the guests: under two of them L1's one vCPU builds it slowly.
	make_initrd
	l2_start a
	l2_console a
	l2_start b
	l2_console b
	wait_for "$W/a.log" '^hb 3 ' 300 || { dump; khotest_fail "L2 guest a never reached hb 3"; }
	wait_for "$W/b.log" '^hb 3 ' 300 || { dump; khotest_fail "L2 guest b never reached hb 3"; }
	khotest_mark l2-running
	# A QEMU kho-tool cannot carry (its RAM in a file) after one it can:
	# refused by name before any guest stops, a's migration cancelled.
	l2_args=$(echo "$l2_args" | sed "s|memory-backend-memfd,id=ram0,size=32M,share=on|memory-backend-file,id=ram0,size=32M,share=on,mem-path=$W/c.ram|")
	l2_start c
	c=$!
	l2_args=$(echo "$l2_args" | sed "s|memory-backend-file,id=ram0,size=32M,share=on,mem-path=$W/c.ram|memory-backend-memfd,id=ram0,size=32M,share=on|")
	wait_for "$W/c.log" '^hb 1 ' 300 || { dump; khotest_fail "L2 guest c never beat"; }
	khotest_refused "$W/refused.out" "an upgrade of a and a file-backed c" \
		kho-tool upgrade --kernel /test/vmlinuz-patched --initrd "$initrd" \
		--qemu-qmp "$W/a-qmp.sock" --qemu-qmp "$W/c-qmp.sock"
	grep -q "qemu-cpr: QEMU $W/c-qmp.sock (2 of 2): memory backend 'ram0' is memory-backend-file.*every guest keeps running" "$W/refused.out" ||
		khotest_fail "the refusal does not name c, its backend and the outcome"
	grep -q "qemu $W/a-qmp.sock: migration cancelled, the guest keeps running" "$W/refused.out" ||
		khotest_fail "a's migration, accepted before c was refused, was not cancelled"
	for t in a b c; do
		before=$(hb_last "$W/$t.log")
		wait_for "$W/$t.log" "^hb $((before + 2)) " 120 || { dump; khotest_fail "guest $t stopped after the refused upgrade"; }
	done
	kill "$c"
	wait "$c" || true
	khotest_mark refused-running
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
	l2_console a2
	restore_one a a2
	grep -q 'keeps the session for 1 more' "$W/restore-a2.out" ||
		khotest_fail "--restore of a does not say the agent keeps the session for b"
	agent_status ready
	continues a2 a
	# a runs on while b waits: b is still recoverable.
	khotest_mark a-continued
	l2_start b2 incoming
	l2_console b2
	restore_one b b2
	agent_status finished
	continues b2 b
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
	# Both restores at once, as two units of a host would start them:
	# each claims its own QEMU and they run side by side; the record's
	# lock makes exactly one of them the last, which ends the session.
	restore_one a2 a3 &
	ra=$!
	restore_one b2 b3 &
	rb=$!
	# A second --restore of a2, while its first runs or just after it:
	# refused either way, before it reaches the agent.
	khotest_wait 300 grep -q 'hand-off: QEMU' "$W/restore-a3.out" ||
		khotest_fail "the --restore of a2 never claimed it"
	khotest_refused "$W/restore-a2-twice.out" "a second --restore of a2 beside the first" \
		kho-tool cpr-relay --restore --vmm "$W/a2-qmp.sock" --to-cpr "$W/y-cpr.sock" \
		--to-main "$W/y-main.sock" --timeout 3
	if grep -q "another --restore, is restoring $W/a2-qmp.sock now" "$W/restore-a2-twice.out"; then
		khotest_log "twice_refused=while-running"
	elif grep -q 'given to a new QEMU already' "$W/restore-a2-twice.out"; then
		khotest_log "twice_refused=after"
	else
		khotest_fail "the second --restore of a2 is not refused as such: $(cat "$W/restore-a2-twice.out")"
	fi
	wait "$ra" || khotest_fail "the --restore of a2 failed beside b2's"
	wait "$rb" || khotest_fail "the --restore of b2 failed beside a2's"
	[ "$(grep -l 'every QEMU of the hand-off is restored' "$W/restore-a3.out" "$W/restore-b3.out" | wc -l)" = 1 ] ||
		khotest_fail "two --restores at once: not exactly one of them ended the session"
	khotest_log "restores_overlapped=$(restores_overlap a3 b3)"
	agent_status finished
	continues a3 a2
	continues b3 b2
	khotest_mark rolled-back
	khotest_done
	;;
esac
