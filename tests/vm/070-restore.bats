#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# Restore after kexec: the restore-agent started by the initramfs hook
# replays and verifies the state `test-vmm stage` recorded, and the VMM
# adopts it (CHANGE_PROCESS) and re-runs the edu DMA check on the RAM
# written before the kexec.  Every failure case must end with a clear
# error and intact state: the agent holds the session unfinished, VMMs are
# told why, and a `restore-agent --retry` then restores the same RAM.
#
# Guest script: guest/restore.sh (helpers in guest/restore-lib.sh), case
# chosen by khotest.restore=.

load helpers

restore_vm() {
	run_vm --kernel vanilla --script "$GUEST_DIR/restore.sh" \
		--file "$GUEST_DIR/restore-lib.sh:/test/restore-lib.sh" \
		--append "khotest.restore=$1" --timeout 300 "${@:2}"
}

held_expects=(--expect staged --expect held --expect vmm-refused
	      --expect retried --expect adopted --expect finished)

@test "restore: agent replays, verifies, VMM adopts and DMA works on preserved RAM" {
	restore_vm ok --expect staged --expect agent-ready --expect adopted \
		--expect finished
	assert_vm_ok
	assert_log "restore-agent: step verify .* ok: 1 IOAS, 8 mappings \(8 probes\), 1 device\(s\), 1 attachment\(s\)"
	assert_log "test-vmm: restart: memfd token [0-9]+: 524288 bytes intact"
	assert_log "test-vmm: restart: DMA check passed"
	assert_log "restore-agent: step finish .* ok: kho-tool"
	[[ "$(log_value timeline)" == *'"result":"adopted"'* ]] ||
		die "no adopted timeline: $(log_value timeline)"
}

@test "restore: corrupted hand-off is refused, session kept, retry restores intact RAM" {
	restore_vm corrupt "${held_expects[@]}"
	assert_vm_ok
	assert_log "restore-agent: error: decode: 1537-byte hand-off refused: .*corrupt"
	assert_log "adopt: the agent refused: decode: "
	assert_log "handed session 'kho-tool' to a retrying agent"
	assert_log "test-vmm: restart: memfd token [0-9]+: 524288 bytes intact"
}

@test "restore: replay failure injected mid-way names object, step and errno" {
	restore_vm fail-at "${held_expects[@]}"
	assert_vm_ok
	assert_log "restore-agent: error: replay: IOAS 1: map 0x130000\+0x10000 from memfd token [0-9]+ offset 0x30000: EIO \(injected failure at step 5\)"
	assert_log "session 'kho-tool' is held by a failed agent: taking it over"
	assert_log "test-vmm: restart: DMA check passed"
}

@test "restore: VMM with the wrong uid is refused, the owner uid adopts" {
	restore_vm uid --expect staged --expect agent-ready --expect refused-root \
		--expect refused-2000 --expect refused-impostor --expect adopted \
		--expect finished
	assert_vm_ok
	assert_log "adopt: refused pid [0-9]+: uid 0 is not the owner uid 1000"
	assert_log "restart: test-vmm: restart: adopt: connect /run/kho-tool/agent.sock: EACCES"
	# Issue #21 item 3: the owner's uid is not enough, the token is.
	assert_log "restore-agent: error: adopt: refused pid [0-9]+ uid 1000: no adoption token"
	assert_log "restore-agent: error: adopt: refused pid [0-9]+ uid 1000: wrong adoption token"
	assert_log "test-vmm: restart: memfd token [0-9]+: 524288 bytes intact"
	assert_log "test-vmm: restart: DMA check passed"
}

@test "restore: a failed restore for uid 1000 is held on its socket; --retry --uid 1000 restores" {
	restore_vm uid-retry --expect staged --expect held --expect vmm-refused \
		--expect retried --expect socket-owned --expect adopted --expect finished
	assert_vm_ok
	assert_log "handed session 'kho-tool' to a retrying agent"
	assert_log "restart: test-vmm: restart: adopt: the agent refused: replay: "
	assert_log "test-vmm: restart: memfd token [0-9]+: 524288 bytes intact"
	assert_log "test-vmm: restart: DMA check passed"
}

@test "restore: a recorded device that is missing is named, state kept" {
	restore_vm nodev "${held_expects[@]}"
	assert_vm_ok
	assert_log "restore-agent: error: replay: device 0000:00:1f.7: not present"
	assert_log "test-vmm: restart: DMA check passed"
}

@test "restore: allow lists with holes on three IOASes, one with the device, verify and adopt" {
	restore_vm allowed --expect staged --expect agent-ready --expect adopted \
		--expect finished
	assert_vm_ok
	assert_log "restore-agent: step verify .* ok: 3 IOAS, 10 mappings .*allow lists probed on 3 IOAS"
	assert_log "test-vmm: restart: DMA check passed"
}

@test "restore: a failed verify is salvaged: the guest RAM comes back byte for byte" {
	restore_vm salvage --expect staged --expect held --expect vmm-refused \
		--expect salvaged --expect still-held
	assert_vm_ok
	assert_log "restore-agent: error: verify: IOAS [0-9]+ \(now [0-9]+\): allowed ranges: a one-page automatic map failed with ENOSPC, the recorded allowed ranges put it at 0x44000"
	assert_log "restore-agent: step salvage .* ok: 1 guest-RAM memfd\(s\), 524288 bytes saved to /var/lib/khotest/salvage"
	assert_log "kho-tool salvage: salvage: guest RAM saved to /var/lib/khotest/salvage"
	[ -n "$(log_value ram-before)" ] || die "no checksum of the RAM before kexec"
	[ "$(log_value ram-before)" = "$(log_value ram-after)" ] ||
		die "RAM before kexec $(log_value ram-before), salvaged $(log_value ram-after)"
}
