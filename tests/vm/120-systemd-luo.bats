#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# systemd 262 as the owner of /dev/liveupdate (issue #14): the host image
# with systemd as PID 1 and kho-tool's units (distro/systemd).  kho-tool
# upgrade runs in kho-handoff.service with the session systemd passes by
# LUOSession=kho-tool, kexecs through `systemctl kexec` back into a
# systemd boot from the disk, and the restore-agent in the same unit gets
# the session back from systemd and decodes the hand-off; with the VMM,
# kho-vmm@edu.service adopts after it; then a rollback the same way.

load helpers

# run_luo [--append ARGS] --expect...: the host image under systemd with
# the rig's kernel as the kexec target and the units.
run_luo() {
	local img

	img=$(kernel_image vanilla) || die "no vanilla kernel"
	run_vm --exact-marks --host-image systemd --timeout 900 \
		--script "$GUEST_DIR/host-systemd-luo.sh" \
		--file "$img:/test/bzImage" \
		--file "$KHO_TOP/distro/systemd/kho-handoff.service:/test/kho-handoff.service" \
		--file "$KHO_TOP/distro/systemd/kho-vmm.target:/test/kho-vmm.target" \
		--file "$KHO_TOP/distro/systemd/kho-vmm@.service:/test/kho-vmm@.service" \
		"$@"
	assert_vm_ok
	# A unit that is not kho-tool's gets its own session, never ours.
	assert_log 'KHOTEST: LOG not_kho_session=anon_inode:\[luo_session\] not-kho\.servi-[0-9a-f]+$'
	assert_log 'session .kho-handoff\.s-[0-9a-f]+. from systemd \(LUOSession=kho-tool\) is a new, outgoing one'
	assert_log 'KHOTEST: LOG s1 kho-tool: \{"command":"upgrade".*"luo_path":"systemd"'
	assert_log 'systemd-shutdown\[1\]: Preserved fd stores in LUO session .systemd. for kexec'
	assert_log 'KHOTEST: LOG kexec_count=1'
	assert_log 'step session .*ok: kho-handoff\.s-[0-9a-f]+ from systemd \(LUOSession=kho-tool\)'
}

@test "systemd LUO owner: upgrade through LUOSession= and systemctl kexec, the session back in the unit" {
	run_luo --expect session-from-systemd --expect session-back-in-unit-s2
}

@test "systemd LUO owner: the VMM unit adopts after the restore unit, RAM and DMA checked" {
	run_luo --append khotest.vmm=1 \
		--expect session-from-systemd --expect vmm-serving \
		--expect session-back-in-unit-s2 --expect vmm-adopted-s2
	assert_log 'KHOTEST: LOG s2 vmm: .*bytes intact'
	assert_log 'KHOTEST: LOG s2 vmm: .*DMA check passed'
	assert_log 'asked systemd to drop it from the unit.s fd store'
	assert_log 'KHOTEST: LOG fdstore_after_s2=0'
}

@test "systemd LUO owner: a rollback the same way, in a new session, and the VMM adopts again" {
	run_luo --append "khotest.vmm=1 khotest.rollback=1" \
		--expect session-from-systemd --expect vmm-serving \
		--expect session-back-in-unit-s2 --expect vmm-adopted-s2 \
		--expect session-back-in-unit-s3 --expect vmm-adopted-s3
	assert_log 'KHOTEST: LOG s2 kho-tool: \{"command":"rollback".*"luo_path":"systemd"'
	assert_log 'KHOTEST: LOG kexec_count=2'
	assert_log 'KHOTEST: LOG s3 vmm: .*bytes intact'
	assert_log 'KHOTEST: LOG s3 vmm: .*DMA check passed'
	assert_log 'KHOTEST: LOG fdstore_after_s3=0'
}
