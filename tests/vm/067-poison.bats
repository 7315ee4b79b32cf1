#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# Poisoned guest pages stay poisoned across a real kexec (issue #15,
# docs/device-state.md): a memory failure on the test VMM's guest RAM
# (MADV_HWPOISON) before the upgrade; after it and after the rollback,
# the adopted VMM's read of that page takes SIGBUS BUS_MCEERR_AR, the
# pages around it are intact byte for byte, an edu DMA to its IOVA
# reaches no page.  Only the debug flavours have CONFIG_MEMORY_FAILURE
# and CONFIG_USERFAULTFD (tests/rig/kernel-debug.config), so every stage
# runs them: vanilla-debug -> patched-debug -> rollback to vanilla-debug.
# The failure paths: a dry run that punches the page and poisons it
# again, and a rollback refused by name because the kernel-journalled
# iommufd it would preserve still maps a poisoned page.
#
# Passed 2026-12-07 (branch h/poison) in 276 s, 318 s and 338 s (the
# last on the branch's final code, next to the lead's CI run).

load helpers

@test "poison: a poisoned guest page across vanilla-debug -> patched-debug -> rollback" {
	local vdbg pdbg
	vdbg=$(debug_kernel vanilla) ||
		die "no vanilla-debug kernel: building it failed (tests/rig/build-kernel.sh vanilla-debug)"
	pdbg=$(debug_kernel patched) ||
		die "no patched-debug kernel: building it failed (tests/rig/build-kernel.sh patched-debug)"
	printf 'target=/boot/vmlinuz-patched-dbg\nsource=/boot/vmlinuz-vanilla-dbg\n' \
		> "$BATS_TEST_TMPDIR/kexec.env"
	# KASAN's shadow does not fit KHO's default scratch (085).
	run_vm --kernel "$vdbg/bzImage" --script "$GUEST_DIR/poison.sh" \
		--timeout 1200 \
		--file "$BATS_TEST_TMPDIR/kexec.env:/test/kexec.env" \
		--file "$pdbg/bzImage:/boot/vmlinuz-patched-dbg" \
		--file "$vdbg/bzImage:/boot/vmlinuz-vanilla-dbg" \
		--append "kho_scratch=32M,192M,32M" \
		--expect serving --expect inspect-shows-poison \
		--expect dry-run-kept-poison --expect adopted-stage2 \
		--expect kjournal-refused --expect adopted-stage3
	assert_vm_ok
	assert_log 'KHOTEST: LOG kernel=7\.2\.13-kho-a-dbg'
	assert_log 'KHO: exec from: 7\.2\.13-kho-a-dbg'
	assert_log 'KHO: exec from: 7\.2\.13-kho-b-dbg'
	[ "$(grep -a -c 'poison: read of memfd token [0-9]* offset 0x53000: SIGBUS BUS_MCEERR_AR at the page' "$VM_LOG")" -ge 2 ] ||
		die "the first poisoned page did not fail after both kexecs"
	assert_log 'poison: read of memfd token [0-9]* offset 0xa7000: SIGBUS BUS_MCEERR_AR at the page'
	[ "$(grep -a -c 'bytes intact around the poisoned range' "$VM_LOG")" -ge 2 ] ||
		die "guest RAM around the poison not intact twice"
	assert_kernel_clean
}
