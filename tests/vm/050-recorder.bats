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
	# 1 IOAS_ALLOC + 2000 x (map + unmap) + 16 maps + BIND + ATTACH
	[ "$(log_value journal_length)" = 4019 ] ||
		die "journal length $(log_value journal_length), want 4019"
	[ "$(log_value live_maps)" = 16 ] || die "live maps $(log_value live_maps), want 16"
	[ "$(log_value replay_length)" -lt 4019 ] ||
		die "replay length $(log_value replay_length) not below the journal's 4019"
	echo "# recorder: journal $(log_value journal_length) records, replay $(log_value replay_length)" >&3
}

@test "recorder: an anonymous map is refused at record and capture, naming why" {
	run_vm --script "$GUEST_DIR/recorder-refuse.sh" --timeout 200 \
		--expect record-refuses --expect capture-refuses \
		--expect whole-after-unmap
	assert_vm_ok
	assert_log 'kho-tool capture: .*IOVA 0x800000\+0x10000: .*anonymous memory'
	assert_log 'preservable: no: .*IOAS [0-9]+: IOVA 0x800000\+0x10000: .*anonymous memory'
}
