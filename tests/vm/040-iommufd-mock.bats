#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# iommufd mock domains (CONFIG_IOMMUFD_TEST): the rig's way to test many
# devices without hardware.  The kernel itself checks each translation
# (IOMMU_TEST_OP_MD_CHECK_MAP), before and after an unmap.

load helpers

mock_run() {
	local n=$1

	echo "KHOTEST_MOCK_DEVICES=$n" > "$BATS_TEST_TMPDIR/mock.env"
	run_vm --exact-marks --script "$GUEST_DIR/iommufd-mock.sh" \
		--file "$BATS_TEST_TMPDIR/mock.env:/test/mock.env" --expect "mock-$n"
	assert_vm_ok
	assert_log "test-vmm: mock: ok: $n devices \([0-9]+ HWPTs\)"
	# Teardown leaks nothing: every mock device is gone from sysfs.
	[ "$(log_value mock_devices_left)" = 0 ] ||
		die "$(log_value mock_devices_left) mock devices left after teardown"
}

@test "mock: one mock device" {
	mock_run 1
}

@test "mock: 256 mock devices on one IOAS" {
	mock_run 256
}
