#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# Device state across the upgrade (issue #15), the part the rig's kernels
# can prove: capture probes each passed-through device's VFIO migration v2
# support; the edu device under vfio-pci has none, and the pre-flight, its
# JSON and inspect say its state will be reset; --require-device-state
# refuses before anything is touched, and a normal upgrade then goes on.
# The mtty state transfer and the poison tests need kernel options the rig
# lacks (docs/device-state.md).

load helpers

@test "device state: edu has no migration support: said, refused under --require-device-state, then upgraded" {
	run_vm --script "$GUEST_DIR/device-state.sh" --timeout 300 \
		--expect serving --expect json-says-reset --expect inspect-shows \
		--expect require-refused --expect adopted
	assert_vm_ok
	assert_log 'upgrade: device 0000:00:03.0: no migration support: its state will be reset'
	assert_log '"command":"upgrade".*"devices":\[\{"id":[0-9]+,"bdf":"0000:00:03.0".*"migration":"none".*"state":"reset".*"result":"ok"'
	assert_log 'kho-tool upgrade: preflight-devices: --require-device-state: 1 of 1 devices would be reset'
	assert_log 'kho-tool rollback: preflight-devices: --require-device-state: 1 of 1 devices would be reset'
	assert_log 'KHO: exec from: 7.2.13-kho-a'
}
