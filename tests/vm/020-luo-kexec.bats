#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# A LUO-preserved memfd survives real kexecs (kexec -s, i.e.
# kexec_file_load, the call that carries KHO) between the two rig kernels:
# an upgrade vanilla -> patched, and an upgrade followed by a rollback.
# Content, size and token are checked and each session is FINISHed.

load helpers

setup() {
	VANILLA=$(kernel_release vanilla)
	PATCHED=$(kernel_release patched)
}

luo_run() {
	local chain=$1 drop=${2:-0}

	shift 2 || shift
	printf 'KHOTEST_CHAIN="%s"\nKHOTEST_LUO_DROP=%s\n' "$chain" "$drop" \
		> "$BATS_TEST_TMPDIR/luo.env"
	run_vm --exact-marks --kernel vanilla --script "$GUEST_DIR/luo-kexec.sh" \
		--file "$BATS_TEST_TMPDIR/luo.env:/test/luo.env" "$@"
}

@test "luo: a memfd survives kexec from vanilla to patched" {
	luo_run patched 0 --expect kexec-to-vmlinuz-patched \
		--expect stage2-kho --expect stage2-memfd-intact
	assert_vm_ok
	[ "$(log_value stage1)" = "$VANILLA" ] || die "stage 1 ran $(log_value stage1), not $VANILLA"
	[ "$(log_value stage2)" = "$PATCHED" ] || die "stage 2 ran $(log_value stage2), not $PATCHED"
	# The new kernel knows where it came from: KHO's kexec metadata.
	assert_log "KHO: exec from: ${VANILLA//./\\.} \\(count 1\\)"
	assert_log "test-vmm: luo-check: ok: session 'khotest-1' token 4201: 1052672 bytes intact"
}

@test "luo: upgrade then rollback, vanilla -> patched -> vanilla" {
	luo_run "patched vanilla" 0 --timeout 300 \
		--expect kexec-to-vmlinuz-patched --expect stage2-kho \
		--expect stage2-memfd-intact --expect kexec-to-vmlinuz-vanilla \
		--expect stage3-kho --expect stage3-memfd-intact
	assert_vm_ok
	[ "$(log_value stage3)" = "$VANILLA" ] || die "stage 3 ran $(log_value stage3), not $VANILLA"
	assert_log "KHO: exec from: ${PATCHED//./\\.} \\(count 2\\)"
	assert_log "test-vmm: luo-check: ok: session 'khotest-2' token 4202: 1056768 bytes intact"
}

@test "luo: a session closed before kexec does not come back" {
	# The negative control of the two above: the check must be able to
	# fail, and fail for the reason LUO gives.
	luo_run patched 1 --expect dropped --expect kexec-to-vmlinuz-patched \
		--expect stage2-kho
	assert_vm_fails "guest reported: stage 2: memfd of stage 1 not retrieved intact"
	assert_log "test-vmm: luo-check: retrieve session 'khotest-1': "
}
