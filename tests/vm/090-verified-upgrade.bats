#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# The kernel-verified upgrade (issue #5): on kernels carrying patches/,
# kho-tool preserves the VMM's iommufd in the LUO session (the kernel
# folds its journal to the live state) and the restore-agent replays the
# preserved journal into it, each record
# checked by the kernel, before the VMM adopts; a target without the
# kernel's handler is refused unless the operator degrades explicitly.
# Guest scripts: guest/verified-*.sh (helpers in guest/verified-lib.sh).

load helpers

LIB="$GUEST_DIR/verified-lib.sh:/test/verified-lib.sh"

@test "verified: patched -> patched upgrade twice, the kernel verifies the whole replay, VMM adopts" {
	run_vm --kernel patched --script "$GUEST_DIR/verified-upgrade.sh" \
		--file "$LIB" --timeout 600 \
		--expect serving --expect adopted-verified --expect adopted-verified-again
	assert_vm_ok
	assert_log '"command":"upgrade".*"iommufd":\{"decision":"preserve","running_kjournal":true,"target_kjournal":true,"userspace_journal_flag":false,"preserved":true,"compatible":"iommufd-journal-v2"'
	assert_log 'upgrade: iommufd: preserved in the session \(iommufd-journal-v2, [0-9]+ journal records\)'
	assert_log 'restore-agent: step iommufd .*ok: token 0x6b686f2d696f6d6d RESTORING'
	local full plan history
	full=$(grep -a -o 'replaying [0-9]* recorded ioctls into the preserved iommufd, each checked by the kernel (plan would be [0-9]*; the kernel folded a journal of [0-9]* records' "$VM_LOG" | head -n 1)
	[ -n "$full" ] || die "no kernel-path line in the agent's log"
	plan=$(sed 's/.*plan would be \([0-9]*\);.*/\1/' <<<"$full")
	history=$(sed 's/.*a journal of \([0-9]*\) records/\1/' <<<"$full")
	full=$(sed 's/replaying \([0-9]*\) .*/\1/' <<<"$full")
	echo "# kernel path: the kernel folded $history records to $full, each replayed and checked by the kernel; the plan would be $plan ioctls" >&3
	[ "$plan" = 67 ] || die "plan $plan ioctls, expected 67 (64 live maps)"
	[ "$history" -gt 2000 ] || die "journal $history records: the churn did not happen"
	# O(live state): the kernel's fold replays what the plan does, 64
	# maps for 64 live mappings, not the history (patches/0004).
	[ "$full" = "$plan" ] || die "the kernel replay is $full records for a plan of $plan: not folded to the live state"
	assert_log "restore: kernel verified the replay: $full/$full records"
	assert_log "\"journal_length\":$history\}"
	assert_log 'test-vmm: adopted'
	assert_log 'bytes intact'
	assert_log 'DMA check passed'
	# The second upgrade: the adopted VMM's journal starts with the folded
	# first replay and its churn goes on; the kernel folds it again.
	local second plan2
	[ "$(grep -a -c 'upgrade: iommufd: preserved in the session' "$VM_LOG")" -ge 2 ] ||
		die "the second upgrade did not preserve the iommufd"
	second=$(grep -a -o 'restore: kernel verified the replay: [0-9]*/' "$VM_LOG" |
		tail -n 1 | sed 's/[^0-9]*\([0-9]*\)\//\1/')
	plan2=$(grep -a -o 'plan would be [0-9]*;' "$VM_LOG" | tail -n 1 | tr -dc 0-9)
	[ -n "$second" ] || die "no second kernel-verified restore"
	echo "# second upgrade: the kernel verified $second records, the plan $plan2" >&3
	[ "$second" = "$plan2" ] || die "second kernel replay $second records for a plan of $plan2"
	[ "$(grep -a -c 'DMA check passed' "$VM_LOG")" -ge 2 ] ||
		die "no DMA check after the second upgrade"
}

# The same two upgrades on the debug kernel (KASAN, kmemleak, lockdep,
# DEBUG_VM): the journal's whole cycle, record, fold at preserve, verify of
# the replay, record again after adoption, must leave no kernel report.
# KASAN's shadow does not fit KHO's default scratch: see 085.
@test "verified: the same two upgrades on patched-debug, the kernel log clean" {
	local dbg
	dbg=$(debug_kernel) || die "no patched-debug kernel"
	echo "target=/boot/vmlinuz-dbg" > "$BATS_TEST_TMPDIR/verified.env"
	run_vm --kernel "$dbg/bzImage" --script "$GUEST_DIR/verified-upgrade.sh" \
		--file "$LIB" --file "$BATS_TEST_TMPDIR/verified.env:/test/verified.env" \
		--file "$dbg/bzImage:/boot/vmlinuz-dbg" \
		--timeout 1200 \
		--expect serving --expect adopted-verified --expect adopted-verified-again
	assert_vm_ok
	assert_log 'restore: kernel verified the replay: 67/67 records'
	assert_log 'DMA check passed'
	assert_kernel_clean
}

@test "verified: patched -> vanilla rollback refused before loading; --userspace-journal degrades" {
	run_vm --kernel patched --script "$GUEST_DIR/verified-rollback.sh" \
		--file "$LIB" --timeout 400 \
		--expect serving --expect refused-before-load --expect adopted-degraded
	assert_vm_ok
	assert_log 'kho-tool rollback: preflight-target: /boot/vmlinuz-vanilla \(7.2.13-kho-a\) does not carry iommufd-journal-v2'
	assert_log 'rollback: iommufd: degraded: --userspace-journal leaves the VMM.s iommufd out of the session; .*the replay will not be verified by the kernel'
	assert_log '"command":"rollback".*"iommufd":\{"decision":"degraded".*"preserved":false\}.*"result":"ok"'
	assert_log 'restore: journal source: kernel \(iommufd-journal-v2: .*the iommufd was not preserved: replaying the plan'
	assert_log 'restore: running kernel has no iommufd journal'
	assert_log 'DMA check passed'
}

@test "verified: dry run with the iommufd preserved leaves no image, no session, and the VMM maps again" {
	run_vm --kernel patched --script "$GUEST_DIR/verified-dryrun.sh" \
		--file "$LIB" --timeout 300 \
		--expect dry-run-preserved --expect vmm-maps-again
	assert_vm_ok
	assert_log 'test-vmm: probe-map: IOAS [0-9]+ IOVA 0x[0-9a-f]+: ok'
}

@test "verified: mid-replay failure holds the restoring iommufd; --retry resumes to VERIFIED" {
	run_vm --kernel patched --script "$GUEST_DIR/verified-retry.sh" \
		--file "$LIB" --timeout 400 \
		--expect serving --expect held --expect retried \
		--expect adopted-after-retry
	assert_vm_ok
	assert_log 'restore-agent: .*record 40 of [0-9]+ \(IOAS_[A-Z_]+ IOAS [0-9]+ .*EIO \(injected failure before record 40\); the kernel matched 39 of [0-9]+ records \(state RESTORING\)'
	assert_log 'handed session .kho-tool. to a retrying agent'
	assert_log 'restore: kernel verified the replay: ([0-9]+)/\1 records'
	assert_log 'DMA check passed'
}

@test "verified: a replayed record that deviates is refused by the kernel (EILSEQ); --retry resumes to VERIFIED" {
	run_vm --kernel patched --script "$GUEST_DIR/verified-retry.sh" \
		--file "$LIB" --timeout 400 --append "khotest.inject=deviate" \
		--expect serving --expect held --expect retried \
		--expect adopted-after-retry
	assert_vm_ok
	assert_log 'restore-agent: .*record 40 of [0-9]+ \(IOAS_MAP_FILE IOAS [0-9]+ .*EILSEQ.*: the kernel refused it: the replay deviates from the preserved journal'
	assert_log 'the kernel matched 39 of [0-9]+ records \(state RESTORING\)|stays RESTORING with 39 of [0-9]+ records matched'
	assert_log 'restore: kernel verified the replay: ([0-9]+)/\1 records'
	assert_log 'DMA check passed'
}

@test "verified: kill -9 of the agent at record 67 (its last, after the bind) on the kernel path: the keeper holds, a restart restores" {
	run_vm --kernel patched --script "$GUEST_DIR/verified-retry.sh" \
		--file "$LIB" --timeout 400 --append "khotest.inject=kill" \
		--expect serving --expect killed --expect retried \
		--expect adopted-after-retry
	assert_vm_ok
	assert_log 'restore-agent: error: keeper: worker pid [0-9]+ killed by SIGKILL \(signal 9\) after step iommufd: keeper pid [0-9]+ holds session .kho-tool., 1 memfd\(s\), the restoring iommufd, 1 device\(s\) and [0-9]+ ID\(s\) of its progress'
	assert_log 'restore: resumed at record 67: the kernel had matched 66 records before'
	assert_log 'restore: kernel verified the replay: ([0-9]+)/\1 records'
	assert_log 'DMA check passed'
}
