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

@test "kjournal: readout matches a known ioctl sequence; length and E2BIG rules" {
	require_series
	run_vm --kernel patched --script "$GUEST_DIR/kjournal-basic.sh" \
		--expect kjournal-basic
	assert_vm_ok
	assert_cases journal_empty journal_length journal_records \
		journal_partial_reads journal_unbind_recorded \
		journal_anon_not_carried luo_preserve
}

@test "kjournal: deviating replays rejected, matching replay verified, FINISH" {
	require_series
	# A second edu device: the one a deviating replay binds instead.
	# acpi=noirq: the replay's fail_nth sweep would otherwise fail
	# allocations in ACPICA's _PRT evaluation (vfio-pci enabling the
	# device), whose error path oopses in acpi_ut_update_object_reference
	# in 7.2.13, a bug outside this series.
	run_vm --kernel patched --script "$GUEST_DIR/kjournal-kexec.sh" \
		--qemu-arg -device --qemu-arg edu --append acpi=noirq \
		--timeout 300 --expect kjournal-preserved \
		--expect kexec-to-vmlinuz-patched --expect kjournal-verified
	assert_vm_ok
	assert_log 'iommufd_journal: stage1: preserved 6 records'
	assert_cases restoring finish_refused deviate_device_order replay_ioas \
		deviate_mapping deviate_device_other deviate_attach verified_finish
	assert_log '^# replay fail_nth: [0-9]+ injected failures left the replay intact\b'
	! grep -q '^ok [0-9]* deviate_device_other # SKIP' "$VM_LOG" ||
		die "the second edu device was missing"
}

@test "kjournal: fail_nth sweep of every allocation in the new paths" {
	require_series
	# acpi=noirq: see above (ACPICA's own allocation-failure oops).
	run_vm --kernel patched --script "$GUEST_DIR/kjournal-failnth.sh" \
		--append acpi=noirq --timeout 840 \
		--expect kjournal-failnth --expect kjournal-clean-dmesg
	assert_vm_ok
	assert_log '^ok 1 failnth: [0-9]+ injection points swept'
}
