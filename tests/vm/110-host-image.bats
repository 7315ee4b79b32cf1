#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# The rig's host image as an L1 host (issue #13): Debian sid with QEMU 11.1
# and systemd, booted by launch.sh --host-image from its ext4 disk
# (read-only base, QEMU's snapshot overlay) with the rig's vanilla kernel,
# first with our shell init, then with systemd as PID 1; inside it, QEMU
# 11.1 runs an L2 guest and kho-tool cpr-relay hands it to a new QEMU.
# Nothing here skips: a launch.sh that cannot run QEMU fails with its
# reason.

load helpers

# The L2 payload rides in /test; make builds it.
need_payload() {
	PAYLOAD="$BUILD/tests/cpr/payload.elf"
	HWPOISON="$BUILD/tests/cpr/hwpoison"
	MCE_LATE="$BUILD/tests/cpr/mce-late.so"
	make -C "$KHO_TOP" BUILD="$BUILD" "$PAYLOAD" "$HWPOISON" "$MCE_LATE" >&3 2>&1 ||
		die "cannot build the L2 payload and its helpers"
}

@test "host image: Debian sid boots from its disk with our init, QEMU 11.1 and kho-tool run" {
	run_vm --exact-marks --host-image khotest-init --timeout 300 \
		--script "$GUEST_DIR/host-boot.sh" \
		--expect pid1 --expect root-from-disk --expect userspace --expect interfaces
	assert_vm_ok
	assert_log 'KHOTEST: BOOT stage=1 kernel=7\.2\.13-kho-a init=khotest-init'
	assert_log 'KHOTEST: LOG qemu=QEMU emulator version 11\.1\.'
	echo "# L1 boot to the test script: $(log_value l1_boot_s) s" >&3
}

@test "host image: systemd 262 as PID 1 runs the test in a unit and powers off" {
	run_vm --exact-marks --host-image systemd --timeout 400 \
		--script "$GUEST_DIR/host-boot.sh" \
		--expect pid1 --expect root-from-disk --expect userspace --expect interfaces
	assert_vm_ok
	assert_log 'KHOTEST: BOOT stage=1 kernel=7\.2\.13-kho-a init=systemd'
	assert_log 'KHOTEST: LOG systemd=systemd 262'
	echo "# L1 boot to the test unit: $(log_value l1_boot_s) s" >&3
}

@test "host image: nested cpr-transfer, an L2 guest moved to a new QEMU by kho-tool in L1" {
	need_payload
	run_vm --exact-marks --host-image khotest-init --timeout 900 \
		--script "$GUEST_DIR/host-cpr.sh" --file "$PAYLOAD:/test/payload.elf" \
		--file "$GUEST_DIR/host-l2.sh:/test/host-l2.sh" --file "$KHO_TOP/tests/cpr/heartbeat.sh:/test/heartbeat.sh" \
		--expect l2-running --expect relayed --expect l2-continued
	assert_vm_ok
	assert_log 'cpr-relay: .*source quit'
	echo "# L2: $(log_value heartbeat); relay $(log_value relay_s) s" >&3
}

@test "host image: L2 with L1's edu passed through: its CPR state, refused without KVM, the guest runs on" {
	# QEMU 11.1.3 cannot finish a cpr-transfer of a vfio-pci device
	# without KVM (docs/qemu-cpr.md): kho-tool reads the CPR state, then
	# refuses by name and cancels with the L2 guest running.
	need_payload
	run_vm --exact-marks --host-image khotest-init --timeout 600 \
		--script "$GUEST_DIR/host-cpr.sh" --file "$PAYLOAD:/test/payload.elf" \
		--file "$GUEST_DIR/host-l2.sh:/test/host-l2.sh" --file "$KHO_TOP/tests/cpr/heartbeat.sh:/test/heartbeat.sh" \
		--append khotest.l2=vfio-state \
		--expect l2-running --expect cpr-state-read --expect l2-continued
	assert_vm_ok
	assert_log 'cpr-relay: fd [0-9]+ +iommufd0 +id 0 +iommufd +/dev/iommu'
	assert_log 'cpr-relay: fd [0-9]+ +0000:00:0[0-9a-f]\.0 +id 0 +vfio-device +/dev/vfio/devices/vfio0'
	assert_log 'cpr-relay: vfio device 0000:00:0[0-9a-f]\.0: devid [0-9]+ ioas [0-9]+ hwpt [0-9]+'
	assert_log "cpr-relay: check KVM: .*vfio device '0000:00:0[0-9a-f]\.0' in a QEMU without KVM"
	echo "# L2 (vfio): $(log_value heartbeat)" >&3
}

@test "host image: an L2 guest carried across a kexec of L1 by cpr-transfer, kho-tool its peer on both sides" {
	# upgrade --qemu-qmp in the vanilla L1, the restore-agent and
	# cpr-relay --restore in the patched one (docs/qemu-cpr.md).
	need_payload
	local patched old_last new_first
	patched=$(kernel_image patched) || die "no patched kernel"
	run_vm --exact-marks --host-image khotest-init --timeout 1500 \
		--script "$GUEST_DIR/host-cpr-kexec.sh" --file "$PAYLOAD:/test/payload.elf" \
		--file "$GUEST_DIR/host-l2.sh:/test/host-l2.sh" --file "$KHO_TOP/tests/cpr/heartbeat.sh:/test/heartbeat.sh" \
		--file "$patched:/test/vmlinuz-patched" \
		--file "$KHO_TOP/tests/vm/host/init:/test/host-init" \
		--expect l2-running --expect initrd --expect dry-run-resumed --expect agent-ready --expect restore-refused \
		--expect restored \
		--expect l2-continued
	assert_vm_ok
	assert_log 'KHOTEST: BOOT stage=2 kernel=7\.2\.13-kho-b init=khotest-init'
	assert_log 'upgrade: qemu-cpr .*migrated to kho-tool'
	assert_log 'upgrade: dry-run-undo .*image unloaded, session released'
	assert_log 'cpr-relay: .*done: the new QEMU has the descriptors and the stream'
	# The last heartbeat the old QEMU wrote before the kexec, and the
	# first of the new QEMU after it: the next number.
	old_last=$(log_value old_last)
	new_first=$(log_value new_first)
	[ -n "$old_last" ] && [ -n "$new_first" ] || die "no heartbeat before ($old_last) or after ($new_first) the kexec"
	[ "$new_first" = $((old_last + 1)) ] ||
		die "the heartbeat does not continue across the kexec: old ended at $old_last, new began at $new_first"
	if grep -aqE 'L2(new)?: hb [0-9]+ BAD' "$VM_LOG"; then die "the L2 RAM pattern changed"; fi
	echo "# L2 across the L1 kexec: hb $old_last -> $new_first; wall clock from the upgrade's start to the first new heartbeat seen: $(awk -v a="$(log_value upgrade_start_wall)" -v b="$(log_value first_new_hb_wall)" 'BEGIN { printf "%.1f", b - a }') s" >&3
}

# hb_continues OLD NEW STAGE: the last heartbeat QEMU OLD's guest wrote
# before the kexec into STAGE (OLD_last, read from its serial log on the
# disk), and the first of NEW after it (NEW_first): the next number.
# Appends "OLD -> NEW: hb X -> Y" to $continued.
hb_continues() {
	local last first

	last=$(log_value "$1_last")
	first=$(log_value "$2_first")
	[ -n "$last" ] && [ -n "$first" ] || die "no heartbeat of $1 before ($last) or of $2 after ($first) the kexec into stage $3"
	[ "$first" = $((last + 1)) ] ||
		die "$1 -> $2: the heartbeat does not continue across the kexec: $last, then $first"
	continued="$continued $1 -> $2: hb $last -> $first;"
}

# wall_between A B: seconds from the logged wall clock A to B.
wall_between() {
	awk -v a="$(log_value "$1")" -v b="$(log_value "$2")" 'BEGIN { printf "%.1f", b - a }'
}

@test "host image: two L2 guests across an L1 kexec in one hand-off, one restore failing and retried, then rolled back" {
	# upgrade --qemu-qmp a --qemu-qmp b (after one of a and a file-backed
	# c, refused with all running); cpr-relay --restore --vmm per QEMU;
	# rollback --qemu-qmp of the new ones (docs/qemu-cpr.md).
	need_payload
	local patched vanilla continued=""
	patched=$(kernel_image patched) || die "no patched kernel"
	vanilla=$(kernel_image vanilla) || die "no vanilla kernel"
	run_vm --exact-marks --host-image khotest-init --timeout 1800 \
		--script "$GUEST_DIR/host-cpr-multi.sh" --file "$PAYLOAD:/test/payload.elf" \
		--file "$GUEST_DIR/host-l2.sh:/test/host-l2.sh" --file "$KHO_TOP/tests/cpr/heartbeat.sh:/test/heartbeat.sh" \
		--file "$patched:/test/vmlinuz-patched" --file "$vanilla:/test/vmlinuz-vanilla" \
		--file "$KHO_TOP/tests/vm/host/init:/test/host-init" \
		--expect l2-running --expect refused-running --expect restore-b-failed --expect a-continued \
		--expect b-recovered --expect rolled-back
	assert_vm_ok
	assert_log 'KHOTEST: BOOT stage=2 kernel=7\.2\.13-kho-b init=khotest-init'
	assert_log 'KHOTEST: BOOT stage=3 kernel=7\.2\.13-kho-a init=khotest-init'
	assert_log 'upgrade: qemu-cpr .*2 QEMUs migrated to kho-tool'
	assert_log 'rollback: qemu-cpr .*2 QEMUs migrated to kho-tool'
	hb_continues a a2 2
	hb_continues b b2 2
	hb_continues a2 a3 3
	hb_continues b2 b3 3
	if grep -aqE 'L2[a-z0-9]*: hb [0-9]+ BAD' "$VM_LOG"; then die "an L2 RAM pattern changed"; fi
	echo "#$continued" >&3
	echo "# stage 3's two --restores at once ran side by side: $(log_value restores_overlapped) ($(log_value a3_restore_wall) and $(log_value b3_restore_wall)); a second --restore of a2 refused $(log_value twice_refused)" >&3
	echo "# L1 wall clock to the first new heartbeat: upgrade -> a2 $(wall_between upgrade_start_wall a2_first_wall) s (after b's failed --restore), b2 $(wall_between upgrade_start_wall b2_first_wall) s; rollback -> a3 $(wall_between rollback_start_wall a3_first_wall) s, b3 $(wall_between rollback_start_wall b3_first_wall) s" >&3
}

@test "host image: a poisoned page of a QEMU guest's RAM: the upgrade refused by name before the guest stops" {
	# vanilla-debug has CONFIG_MEMORY_FAILURE; the plain kernels do not.
	need_payload
	local debug patched
	debug=$(kernel_image vanilla-debug) || die "no vanilla-debug kernel"
	patched=$(kernel_image patched) || die "no patched kernel"
	run_vm --exact-marks --host-image khotest-init --timeout 900 --kernel "$debug" \
		--script "$GUEST_DIR/host-cpr-poison.sh" --file "$PAYLOAD:/test/payload.elf" \
		--file "$HWPOISON:/test/hwpoison" --file "$MCE_LATE:/test/mce-late.so" \
		--file "$GUEST_DIR/host-l2.sh:/test/host-l2.sh" --file "$KHO_TOP/tests/cpr/heartbeat.sh:/test/heartbeat.sh" \
		--file "$patched:/test/vmlinuz-patched" \
		--file "$KHO_TOP/tests/vm/host/init:/test/host-init" \
		--expect l2-running --expect poisoned --expect refused-running
	assert_vm_ok
	assert_log "upgrade: check poison: .*fd 'ram0': 1 poisoned range of guest RAM, the first 0x1800000\\+0x1000"
}
