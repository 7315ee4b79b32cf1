#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# Faults around the restore (issue 21): the restore-agent killed halfway
# through its replay, the OOM killer, switch-root's SIGTERM, a second
# kexec before any VMM adopted, and a hand-off whose plan cannot be
# replayed.  Each ends with the VMM adopting the guest RAM byte for byte
# and the edu DMA working through the restored IOAS.
#
# Guest script: guest/faults.sh (helpers in guest/restore-lib.sh), case
# chosen by khotest.fault=.

load helpers

fault_vm() {
	run_vm --kernel vanilla --script "$GUEST_DIR/faults.sh" \
		--file "$GUEST_DIR/restore-lib.sh:/test/restore-lib.sh" \
		--append "khotest.fault=$1" --timeout 300 "${@:2}"
}

assert_intact() {
	assert_log "test-vmm: restart: memfd token [0-9]+: 524288 bytes intact"
	assert_log "test-vmm: restart: DMA check passed"
	assert_log "restore-agent: step finish .* ok: kho-tool"
}

@test "faults: kill -9 of the agent halfway through its replay, a restart restores intact RAM" {
	fault_vm kill --expect staged --expect stopped-halfway --expect killed \
		--expect held --expect vmm-refused --expect retried \
		--expect adopted --expect finished
	assert_vm_ok
	assert_log "restore-agent: step keeper .* ok: session 'kho-tool' and 1 memfd\(s\) also held by keeper pid [0-9]+"
	assert_log "restore-agent: error: keeper: worker pid [0-9]+ killed by SIGKILL \(signal 9\) after step keeper: its replay objects went with it"
	assert_log "adopt: the agent refused: keeper: worker pid [0-9]+ killed by SIGKILL"
	assert_intact
}

@test "faults: kill -9 of the keeper halfway: the worker's own copies restore intact RAM" {
	fault_vm kill-keeper --expect staged --expect keeper-killed \
		--expect adopted --expect finished
	assert_vm_ok
	assert_intact
}

@test "faults: SIGTERM as switch-root sends it, after the BIND: deferred, the restore completes" {
	fault_vm sigterm --expect staged --expect terminated --expect survived \
		--expect adopted --expect finished
	assert_vm_ok
	assert_log "restore-agent: test hook: pid [0-9]+ stops before replay step 11"
	assert_log "restore-agent: SIGTERM received by pid [0-9]+: deferred"
	assert_intact
}

@test "faults: the OOM killer passes the agent over (oom_score_adj -1000, read back)" {
	fault_vm oom --expect staged --expect oom-survived --expect adopted \
		--expect finished
	assert_vm_ok
	assert_log "OOM request ignored. No task eligible"
	assert_intact
}

@test "faults: a second kexec before any VMM adopted is refused by name, the session kept" {
	fault_vm second-kexec --expect staged --expect agent-ready \
		--expect second-kexec-refused --expect adopted --expect finished
	assert_vm_ok
	assert_log "kho-tool rollback: preflight-running: session 'kho-tool' is held by restore-agent pid"
	assert_log "kho-tool upgrade: preflight-running: session 'kho-tool' is held by restore-agent pid"
	assert_intact
}

@test "faults: a plan naming an unknown object is refused before any device is bound" {
	fault_vm bad-plan --expect staged --expect refused-before-bind \
		--expect held --expect vmm-refused --expect retried \
		--expect adopted --expect finished
	assert_vm_ok
	assert_log "restore-agent: error: replay: plan record [0-9]+ \(DEVICE_ATTACH_IOMMUFD_PT\): pt 99: ENOENT"
	assert_intact
}

@test "faults: /run full halfway through the replay: ENOSPC named, no file half-written, the VMM adopts" {
	fault_vm disk-full --expect staged --expect run-full --expect adopted \
		--expect files-whole
	assert_vm_ok
	assert_log "restore-agent: error: .*/run/kho-tool/handoff.fdt.*ENOSPC"
	assert_log "test-vmm: restart: memfd token [0-9]+: 524288 bytes intact"
	assert_log "test-vmm: restart: DMA check passed"
}

@test "faults: /run read-only halfway through the replay: EROFS named, the agent serves once it is writable" {
	fault_vm read-only --expect staged --expect run-read-only \
		--expect run-writable --expect adopted --expect finished
	assert_vm_ok
	assert_log "restore-agent: error: adopt: /run/kho-tool/agent.sock: bind/listen: EROFS; retrying every 1000 ms"
	assert_log "restore-agent: error: write /run/kho-tool/handoff.fdt: create /run/kho-tool/handoff.fdt.tmp.[0-9]+: Read-only file system \(EROFS\)"
	assert_intact
}

@test "faults: two upgrades at once: the second and a rollback refused by name, the first completes" {
	run_vm --kernel vanilla --script "$GUEST_DIR/upgrade-full.sh" \
		--append "khotest.concurrent=1" --timeout 300 \
		--expect serving --expect second-refused --expect adopted-stage2
	assert_vm_ok
	assert_log "kho-tool upgrade: lock: another upgrade or rollback holds upgrade.lock: pid [0-9]+ \(kho-tool\)"
	assert_log "kho-tool rollback: lock: another upgrade or rollback holds upgrade.lock: pid [0-9]+ \(kho-tool\)"
	assert_log '"command":"upgrade".*"preserved_fds":2.*"result":"ok"'
	assert_log "test-vmm: .*bytes intact"
	assert_log "test-vmm: .*DMA check passed"
}
