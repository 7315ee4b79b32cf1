#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# The LD_PRELOAD recorder around unmodified programs in the guest: it
# journals every state-changing iommufd/VFIO ioctl, canonically; churn
# compacts to the live maps; memory that cannot cross kexec is refused by
# record and capture, with the reason.

load helpers

@test "recorder: test-vmm serve journaled in full, churn compacts to live maps" {
	run_vm --script "$GUEST_DIR/recorder-serve.sh" --timeout 300 \
		--expect socket-0600 --expect journal-complete \
		--expect churn-compacted --expect identities \
		--expect snapshot-valid --expect dma-under-recorder \
		--expect socket-removed
	assert_vm_ok
	# The attachment comes from the folded journal: test-vmm attaches its
	# one device to the auto HWPT of its IOAS, never "pt 0".
	assert_log "device [0-9]+: 0000:[0-9a-f:.]+ \[1234:11e8\] vfio-pci, attached to HWPT [1-9][0-9]*"
	assert_log '"attached_pt":[1-9][0-9]*,"driver":"vfio-pci"'
	# 1 IOAS_ALLOC + 2000 x (map + unmap) + 16 maps + BIND + ATTACH
	[ "$(log_value journal_length)" = 4019 ] ||
		die "journal length $(log_value journal_length), want 4019"
	[ "$(log_value live_maps)" = 16 ] || die "live maps $(log_value live_maps), want 16"
	# the 1000 pairs made one after the other elided as they happened
	[ "$(log_value elided_pairs)" = 1000 ] ||
		die "elided pairs $(log_value elided_pairs), want 1000"
	[ "$(log_value journal_held)" = 2019 ] ||
		die "journal holds $(log_value journal_held) records, want 2019"
	[ "$(log_value replay_length)" -lt 2019 ] ||
		die "replay length $(log_value replay_length) not below the 2019 records held"
	echo "# recorder: journal $(log_value journal_length) calls, $(log_value journal_held) records held ($(log_value elided_pairs) pairs elided online), replay $(log_value replay_length)" >&3
}

@test "recorder: an anonymous map is refused at record and capture, naming why" {
	run_vm --script "$GUEST_DIR/recorder-refuse.sh" --timeout 200 \
		--expect record-refuses --expect capture-refuses \
		--expect whole-after-unmap
	assert_vm_ok
	assert_log 'kho-tool capture: .*IOVA 0x800000\+0x10000: .*anonymous memory'
	assert_log 'preservable: no: .*IOAS [0-9]+: IOVA 0x800000\+0x10000: .*anonymous memory'
}

# Issue #21 items 1 and 2, on vanilla: capture has only the VMM's word.
@test "recorder: a device the VMM does not hold, an impostor socket, an unsafe KHO_RUN_DIR: refused by name" {
	run_vm --script "$GUEST_DIR/recorder-claims.sh" --timeout 300 \
		--expect capture-refuses-claim --expect upgrade-refuses-claim \
		--expect impostor-refused --expect rundir-refused
	assert_vm_ok
	assert_log 'kho-tool capture: VMM [0-9]+: capture: device [0-9]+ \(0000:00:03.0\): VMM [0-9]+ holds no fd of its VFIO cdev /dev/vfio/devices/vfio[0-9]+'
}

@test "recorder: an UNMAP the kernel refuses halfway is journaled as what it removed" {
	run_vm --script "$GUEST_DIR/recorder-cut.sh" --timeout 200 \
		--expect kernel-removes-before-the-cut \
		--expect journal-matches-kernel
	assert_vm_ok
}

# On the patched kernel `kho-tool record` compares the recorder's journal
# with the kernel's, as capture does: both must journal the removal alike.
@test "recorder: the same on the patched kernel, whose journal agrees record for record" {
	run_vm --kernel patched --script "$GUEST_DIR/recorder-cut.sh" --timeout 200 \
		--expect kernel-removes-before-the-cut \
		--expect journal-matches-kernel
	assert_vm_ok
}

@test "recorder: the cut and the bypass on patched-debug, the kernel log clean" {
	local dbg
	dbg=$(debug_kernel) || die "no patched-debug kernel"
	run_vm --name "$(vm_name cut)" --kernel "$dbg/bzImage" \
		--script "$GUEST_DIR/recorder-cut.sh" --timeout 400 \
		--expect kernel-removes-before-the-cut \
		--expect journal-matches-kernel
	assert_vm_ok
	assert_kernel_clean
	run_vm --name "$(vm_name bypass)" --kernel "$dbg/bzImage" \
		--script "$GUEST_DIR/recorder-bypass.sh" --timeout 400 \
		--expect record-refuses --expect capture-refuses \
		--expect userspace-journal-degrades
	assert_vm_ok
	assert_kernel_clean
}

@test "recorder: a map that bypasses the recorder: record and capture refuse, --userspace-journal degrades" {
	run_vm --kernel patched --script "$GUEST_DIR/recorder-bypass.sh" --timeout 200 \
		--expect record-refuses --expect capture-refuses \
		--expect userspace-journal-degrades
	assert_vm_ok
}

@test "recorder: maps from a signal handler are journaled or refused by name, never lost; across fork too" {
	run_vm --script "$GUEST_DIR/recorder-signal.sh" --timeout 400 \
		--expect storm-journaled --expect ioctl-journaled-or-named \
		--expect fork-parent-journaled --expect fork-child-journaled
	assert_vm_ok
	echo "# recorder: a handler's maps during a recorded ioctl: $(log_value signal_ioctl)" >&3
}

@test "recorder: close_range keeps the recorder's references, drops a closed iommufd; the server's own closes leave the VMM's fds" {
	run_vm --script "$GUEST_DIR/recorder-closerange.sh" --timeout 200 \
		--expect references-survive --expect iommufd-dropped \
		--expect server-closes-its-own
	assert_vm_ok
}
