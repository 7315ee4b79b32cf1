#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# Device state across the upgrade (issue #15), the part the rig's kernels
# can prove: capture probes each passed-through device's VFIO migration v2
# support; the edu device under vfio-pci has none, and the pre-flight, its
# JSON and inspect say its state will be reset; --require-device-state
# refuses before anything is touched, and a normal upgrade then goes on.
# The second test drives the VFIO migration v2 FSM itself (lib/devstate.c)
# against the kernel's mtty sample, which only the debug flavours build
# (tests/rig/kernel-debug.config).  The state transfer across the kexec
# is 066; the poisoned pages are 067 (docs/device-state.md).

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

# Written on 2026-12-06 (branch h/devstate2) with lib/devstate.c, first
# run and passed on 2026-12-07 (branch h/devstate3, 39 s), unchanged.
# No kexec: it proves the save, the failure path back to RUNNING and the
# load against the real driver, which the upgrade's wiring then reuses.
@test "device state: mtty's FIFO saved through the FSM, kept by the failure path, loaded into a second mtty" {
	DBG=$(debug_kernel patched) ||
		die "no patched-debug kernel: building it failed (tests/rig/build-kernel.sh patched-debug)"
	run_vm --kernel "$DBG/bzImage" --script "$GUEST_DIR/device-state-mtty.sh" \
		--timeout 900 --expect mtty-migrated --expect mtty-removed
	assert_vm_ok
	assert_log 'KHOTEST: LOG kernel=7\.2\.13-kho-b-dbg'
	assert_log '^mtty: migration stop-copy\+p2p\+pre-copy$'
	# mtty sends its header in PRE_COPY, the ports in STOP_COPY.
	assert_log '^mtty: saved [0-9]+ bytes \([1-9][0-9]* in PRE_COPY, estimate [0-9]+\), crc32 0x[0-9a-f]{8}, RUNNING -> PRE_COPY -> PRE_COPY_P2P -> STOP_COPY$'
	assert_log '^mtty: recover: device state: back from STOP_COPY to RUNNING, its state kept$'
	assert_log 'after recover: FIFO gave "kho-mtty-fifo" in order'
	assert_log '^mtty: corrupt load: EFAULT: device state: RESUMING: write of the data fd .*reset to RUNNING: its state is lost$'
	assert_log '^mtty: loaded [0-9]+ bytes, RUNNING -> RUNNING_P2P -> STOP -> RESUMING -> STOP -> RUNNING_P2P -> RUNNING$'
	assert_log 'after load: FIFO gave "kho-mtty-fifo" in order'
	assert_log '^mtty-migrate: ok$'
	assert_kernel_clean
}
