#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# iommufd mock domains (CONFIG_IOMMUFD_TEST): the rig's way to test many
# devices without hardware.  The kernel itself checks each translation
# (IOMMU_TEST_OP_MD_CHECK_MAP), before and after an unmap.  Teardown
# destroys every mock device with IOMMU_DESTROY, which on the patched
# kernel journals a detach and an unbind from inside the ioctl: the suite
# runs on every flavour, the debug one under lockdep.

load helpers

mock_run() {
	local n=$1 kernel=${2:-vanilla}

	echo "KHOTEST_MOCK_DEVICES=$n" > "$BATS_TEST_TMPDIR/mock.env"
	run_vm --exact-marks --kernel "$kernel" --script "$GUEST_DIR/iommufd-mock.sh" \
		--timeout 600 \
		--file "$BATS_TEST_TMPDIR/mock.env:/test/mock.env" --expect "mock-$n"
	assert_vm_ok
	assert_log "test-vmm: mock: ok: $n devices \([0-9]+ HWPTs\)"
	# Teardown leaks nothing: every mock device is gone from sysfs.
	[ "$(log_value mock_devices_left)" = 0 ] ||
		die "$(log_value mock_devices_left) mock devices left after teardown"
	assert_kernel_clean
}

@test "mock: one mock device" {
	mock_run 1
}

@test "mock: 256 mock devices on one IOAS" {
	mock_run 256
}

@test "mock: 256 mock devices on the patched kernel" {
	mock_run 256 patched
}

@test "mock: 16 mock devices on the patched-debug kernel (lockdep, KASAN)" {
	mock_run 16 "$(debug_kernel)/bzImage"
}
