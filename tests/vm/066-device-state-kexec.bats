#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# A device carried across a real kexec by its mdev identity (issue #15,
# docs/device-state.md): the kernel's mtty sample, which only the debug
# flavours build (tests/rig/kernel-debug.config), so both stages run the
# debug kernels: vanilla-debug -> patched-debug -> rollback to
# vanilla-debug.  The restore-agent creates the mdev again with its UUID
# before it binds it; the VMM adopts it each time.
#
# Passed 2026-12-07 (branch h/devstate3) in 215 s; an earlier version,
# with the state reset, passed in 173 s; with the DEVICE_MIG_STATE
# records checked (branch h/migop) in 144 s.  Between the two, an
# upgrade patched-debug -> patched-debug preserves the iommufd itself: the
# kernel journals the mdev through its access (patches/0006) and verifies
# the agent's replay.  The rollback to vanilla-debug needs
# --userspace-journal, as every patched -> vanilla one does.  The second
# test holds both kinds in one VMM: edu refused by name under
# --require-device-state, then reset while mtty is carried; first passed
# 2026-12-07 (branch h/twodev) in 255 s.

load helpers

@test "device state: an mtty mdev and its FIFO across vanilla-debug -> patched-debug -> patched-debug (kernel-verified) -> rollback" {
	run_debug_round_trip "$GUEST_DIR/device-state-kexec.sh" \
		--expect serving --expect preflight-names-mdev \
		--expect adopted-stage2 --expect adopted-stage2v \
		--expect kernel-verified-mdev --expect adopted-stage3
	assert_log '^upgrade: device mdev 83b8f4f2-509f-382f-3c1e-e6bfe0fa1001 \(type mtty-1 of mtty\): migration v2 \(stop-copy\+p2p\+pre-copy\): its state will be carried$'
	assert_log '^upgrade: device mdev 83b8f4f2-509f-382f-3c1e-e6bfe0fa1001 \(type mtty-1 of mtty\): state saved, [0-9]+ bytes \([0-9]+ in PRE_COPY\), crc32 0x[0-9a-f]{8}, RUNNING -> PRE_COPY -> PRE_COPY_P2P -> STOP_COPY$'
	assert_log '^rollback: device mdev 83b8f4f2-509f-382f-3c1e-e6bfe0fa1001 .*: state saved, '
	assert_log 'DEVICE_BIND_IOMMUFD mdev 83b8f4f2-509f-382f-3c1e-e6bfe0fa1001 -> device [0-9]+$'
	[ "$(grep -a -c 'restore-agent: device-state: device [0-9]* (mdev 83b8f4f2-509f-382f-3c1e-e6bfe0fa1001 .*): RUNNING, [0-9]* bytes written (crc32 0x[0-9a-f]*), as 3 DEVICE_MIG_STATE record(s) say; saved RUNNING -> PRE_COPY -> PRE_COPY_P2P -> STOP_COPY, resumed ' "$VM_LOG")" -ge 3 ] ||
		die "the agent did not resume the mdev's state after all three kexecs"
	# patched-debug -> patched-debug: the kernel journalled the mdev
	# (patches/0006), so the iommufd itself was preserved and the
	# kernel verified the agent's replay of it.
	assert_log '^upgrade: journal source: kernel \(iommufd-journal-v2\): the recorder.s journal matches it'
	assert_log '^upgrade: iommufd: preserved in the session \(iommufd-journal-v2, [0-9]+ journal records\)'
	assert_log 'restore: kernel verified the replay: ([0-9]+)/\1 records'
	[ "$(grep -a -c 'bytes intact' "$VM_LOG")" = 3 ] || die "guest RAM not intact three times"
	[ "$(grep -a -c 'after adoption: FIFO gave "kho-mtty-fifo" in order' "$VM_LOG")" = 3 ] ||
		die "the mtty's FIFO bytes did not come back in order after all three adoptions"
	assert_kernel_clean
}

# The --require-device-state pair in one guest: the test VMM owns the edu
# function and two mtty mdevs in one IOAS (test-vmm serve --mtty twice),
# each mtty's FIFO holding its own bytes.  The refusal names edu alone and
# changes nothing; the plain upgrade and rollback reset edu and carry both
# mttys, each state into its own device, and the VMM adopts all three
# each time.
@test "device state: edu and two mttys in one IOAS: refused by edu's name, then edu reset and each mtty carried into its own device, both ways" {
	local edu='"id":[0-9]+,"bdf":"0000:00:03\.0","driver":"vfio-pci","migration":"none","migration_flags":0,"state":"reset","reason":"no migration support"'
	local mtty='"id":[0-9]+,"bdf":null,"mdev":"83b8f4f2-509f-382f-3c1e-e6bfe0fa100[23]","driver":"mtty","migration":"stop-copy\+p2p\+pre-copy","migration_flags":[0-9]+,"state":"carried"'
	local cmd u bytes

	run_debug_round_trip "$GUEST_DIR/device-state-twodev.sh" \
		--expect serving --expect require-refused \
		--expect adopted-stage2 --expect rollback-refused \
		--expect adopted-stage3
	for cmd in upgrade rollback; do
		assert_log "kho-tool $cmd: preflight-devices: --require-device-state: 1 of 3 devices would be reset across the kexec: 0000:00:03\.0 \(vfio-pci\): no migration support; refused before anything was preserved or loaded"
		assert_log "\"command\":\"$cmd\".*\"devices\":\[.*\{$edu\}.*\].*\"result\":\"ok\""
		assert_log "\"command\":\"$cmd\".*\"devices\":\[.*\{$mtty,.*\{$mtty,.*\].*\"result\":\"ok\""
		for u in 2 3; do
			assert_log "^$cmd: device mdev 83b8f4f2-509f-382f-3c1e-e6bfe0fa100$u \(type mtty-1 of mtty\): state saved, [0-9]+ bytes"
		done
	done
	# after the refused upgrade, on SIGUSR1 ...
	[ "$(grep -a -c 'dma-check: ok:' "$VM_LOG")" -ge 2 ] ||
		die "the edu's DMA check did not pass after the refused upgrade"
	# ... after both adoptions and the refused rollback
	[ "$(grep -a -c 'restart: DMA check passed' "$VM_LOG")" -ge 3 ] ||
		die "the edu's DMA check did not pass after both adoptions and the refused rollback"
	# each mtty's own bytes: the second holds the first's reversed
	for bytes in kho-two-devices secived-owt-ohk; do
		[ "$(grep -a -c "on SIGUSR1: FIFO gave \"$bytes\" in order" "$VM_LOG")" -ge 2 ] ||
			die "an mtty's FIFO lost \"$bytes\" after a refused upgrade or rollback"
		[ "$(grep -a -c "after adoption: FIFO gave \"$bytes\" in order" "$VM_LOG")" = 2 ] ||
			die "an mtty's FIFO did not give \"$bytes\" back in order after both adoptions"
	done
	assert_kernel_clean
}
