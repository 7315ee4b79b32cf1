#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# kho-tool upgrade and rollback in the guest: dry runs leave nothing behind,
# a target that cannot read the hand-off is refused before loading, and the
# full vanilla -> patched -> vanilla round trip keeps the VMM's DMA working.

load helpers

# A vmlinux that declares LUO ABI luo-v9 instead of luo-v5: a kernel that
# could not restore a 7.2 hand-off.
bad_vmlinux() {
	local dir out=$BATS_FILE_TMPDIR/vmlinux-luo-v9

	dir=$("$KHO_TOP/tests/rig/build-kernel.sh" vanilla) || die "no vanilla kernel"
	perl -0777 -pe 's/\x00luo-v5\x00/\x00luo-v9\x00/g' < "$dir/vmlinux" > "$out"
	! grep -qa 'luo-v5' "$out" || die "luo-v5 still in $out"
	echo "$out"
}

@test "upgrade: dry run leaves no image and no session; bad ABI refused before load" {
	run_vm --script "$GUEST_DIR/upgrade-dryrun.sh" \
		--file "$(bad_vmlinux):/boot/vmlinux-luo-v9" \
		--expect dry-run-ok --expect no-session-left --expect bad-abi-refused
	assert_vm_ok
	assert_log 'upgrade: dry-run-undo .*the system is as it was'
}

@test "upgrade: dry run with a recording VMM captures, then releases it intact" {
	run_vm --script "$GUEST_DIR/upgrade-vmm-dryrun.sh" --expect captured --expect vmm-intact
	assert_vm_ok
	[ "$(log_value replay_length)" -lt "$(log_value journal_length)" ] ||
		die "replay $(log_value replay_length) not shorter than journal $(log_value journal_length) after churn"
}

@test "upgrade: vanilla -> patched -> rollback to vanilla, DMA checked on both" {
	run_vm --script "$GUEST_DIR/upgrade-full.sh" --timeout 400 \
		--expect serving --expect adopted-stage2 --expect adopted-stage3
	assert_vm_ok
	assert_log '"command":"upgrade".*"result":"ok"'
	assert_log '"command":"rollback".*"chosen_by"'
	assert_log 'KHO: exec from: 7.2.13-kho-a'
	assert_log 'KHO: exec from: 7.2.13-kho-b'
}
