#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# systemd 262 as the owner of /dev/liveupdate (issue #14): the host image
# with systemd as PID 1 and kho-tool's units (distro/systemd).  kho-tool
# upgrade runs in kho-handoff.service with the session systemd passes by
# LUOSession=kho-tool, kexecs through `systemctl kexec` back into a
# systemd boot from the disk, and the restore-agent in the same unit gets
# the session back from systemd and decodes the hand-off.  No VMM yet.

load helpers

@test "systemd LUO owner: upgrade through LUOSession= and systemctl kexec, the session back in the unit" {
	img=$(kernel_image vanilla) || die "no vanilla kernel"
	run_vm --exact-marks --host-image systemd --timeout 900 \
		--script "$GUEST_DIR/host-systemd-luo.sh" \
		--file "$img:/test/bzImage" \
		--file "$KHO_TOP/distro/systemd/kho-handoff.service:/test/kho-handoff.service" \
		--file "$KHO_TOP/distro/systemd/kho-vmm.target:/test/kho-vmm.target" \
		--expect session-from-systemd --expect session-back-in-unit --expect handoff-restored
	assert_vm_ok
	assert_log 'KHOTEST: LOG not_kho_session=anon_inode:\[luo_session\] not-kho'
	assert_log 'luo_path.:.systemd'
	assert_log 'Preserved fd stores in LUO session .systemd. for kexec'
	assert_log 'KHOTEST: LOG kexec_count=1'
}
