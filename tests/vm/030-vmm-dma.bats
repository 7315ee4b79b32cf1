#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# The test VMM against the emulated VT-d and edu device: its DMA round trip
# proves that the IOAS it built translates, and that an unmapped IOVA does
# not; serve holds that state while other programs run.

load helpers

@test "vmm: edu DMA through maps by VA and by file, unmapped IOVA blocked" {
	run_vm --exact-marks --script "$GUEST_DIR/vmm-dma.sh" --expect dma-ok --expect unmapped-blocked
	assert_vm_ok
	assert_log 'test-vmm: setup: ioas=[0-9]+ devid=[0-9]+ hwpt=[0-9]+ maps=8 .*edu=0x010000ed'
	# VT-d saw the stray DMA and refused it.
	assert_log 'DMAR: \[DMA Write NO_PASID\] Request device \[0000:00:03.0\] fault addr 0x110000'
}

@test "vmm: serve holds its state, rechecks on SIGUSR1, exits on SIGTERM" {
	run_vm --exact-marks --script "$GUEST_DIR/vmm-serve.sh" \
		--expect serving --expect held --expect recheck --expect stopped
	assert_vm_ok
	assert_log 'test-vmm: ready pid=[0-9]+'
	assert_log 'test-vmm: serve: Terminated, exiting'
}
