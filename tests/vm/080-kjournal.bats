#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# The kernel series in patches/: iommufd records its own journal
# (IOMMU_JOURNAL_READ), preserves it through LUO ("iommufd-journal-v1") and
# verifies the replay after kexec.  The guest side is
# tests/kselftest/iommufd_journal.c, in the style of the kernel's iommufd
# selftests; each of its cases prints "ok N name" on the serial console.

load helpers

# The patched kernel must carry the series: skip, saying why, if the
# series is empty (the rig then builds a patched kernel without it).
require_series() {
	[ -s "$KHO_TOP/patches/series" ] ||
		skip "patches/series is empty: the patched kernel has no journal"
}

assert_cases() {
	local c

	for c in "$@"; do
		assert_log "^ok [0-9]+ $c\b"
	done
	! grep -q '^not ok' "$VM_LOG" || die "a case failed: $(grep '^not ok' "$VM_LOG")"
}

# No ACPICA allocation failed under the sweeps (ACPI is fully on).
assert_acpica_untouched() {
	! grep -aq 'AE_NO_MEMORY' "$VM_LOG" ||
		die "an ACPICA allocation failed: $(grep -a -m1 'AE_NO_MEMORY' "$VM_LOG")"
	! grep -aq 'acpi=noirq' "$VM_LOG" || die "the guest ran with acpi=noirq"
}

@test "kjournal: readout matches a known ioctl sequence; length and E2BIG rules" {
	require_series
	run_vm --kernel patched --script "$GUEST_DIR/kjournal-basic.sh" \
		--expect kjournal-basic
	assert_vm_ok
	assert_cases journal_empty journal_length journal_records \
		journal_partial_reads journal_unbind_recorded \
		journal_anon_not_carried luo_preserve
}

@test "kjournal: IOMMU_DESTROY of a mock device returns; a partial UNMAP is journaled" {
	require_series
	run_vm --kernel patched --script "$GUEST_DIR/kjournal-mock.sh" \
		--expect kjournal-mock
	assert_vm_ok
	assert_cases mock_destroy_returns mock_close_returns unmap_partial_recorded
	assert_kernel_clean
}

@test "kjournal: the same under lockdep, KASAN and DEBUG_VM (patched-debug)" {
	require_series
	run_vm --kernel "$(debug_kernel)/bzImage" --script "$GUEST_DIR/kjournal-mock.sh" \
		--timeout 600 --expect kjournal-mock
	assert_vm_ok
	assert_cases mock_destroy_returns mock_close_returns unmap_partial_recorded
	assert_kernel_clean
}

@test "kjournal: deviating replays rejected, matching replay verified, FINISH" {
	require_series
	# A second edu device: the one a deviating replay binds instead.
	# ACPI fully on: kjournal_preenable keeps the replay's fail_nth sweep
	# out of ACPICA's _PRT evaluation, whose allocation-failure path frees
	# a namespace object still in use in 7.2.13 (a bug outside this
	# series, docs/kernel-patches.md; it was acpi=noirq before).
	run_vm --kernel patched --script "$GUEST_DIR/kjournal-kexec.sh" \
		--file "$GUEST_DIR/kjournal-lib.sh:/test/kjournal-lib.sh" \
		--qemu-arg -device --qemu-arg edu \
		--timeout 300 --expect kjournal-preserved \
		--expect kexec-to-vmlinuz-patched --expect kjournal-verified
	assert_vm_ok
	# 6 records of state and 10 of churn; stage 2 expects the 6 alone
	# (ok restoring: the kernel folded the journal, patches/0004)
	assert_log 'iommufd_journal: stage1: preserved a journal of 16 records'
	assert_cases restoring finish_refused deviate_device_order replay_ioas \
		deviate_mapping deviate_device_other deviate_attach verified_finish
	assert_log '^# replay fail_nth: [0-9]+ injected failures left the replay intact\b'
	assert_log 'KHOTEST: LOG preenabled=2$'
	assert_acpica_untouched
	! grep -q '^ok [0-9]* deviate_device_other # SKIP' "$VM_LOG" ||
		die "the second edu device was missing"
}

@test "kjournal: fail_nth sweep of every allocation in the new paths" {
	require_series
	# ACPI fully on: see above (kjournal_preenable).
	run_vm --kernel patched --script "$GUEST_DIR/kjournal-failnth.sh" \
		--file "$GUEST_DIR/kjournal-lib.sh:/test/kjournal-lib.sh" \
		--timeout 840 \
		--expect kjournal-failnth --expect kjournal-clean-dmesg
	assert_vm_ok
	assert_log '^ok 1 failnth: [0-9]+ injection points swept'
	assert_acpica_untouched
}
