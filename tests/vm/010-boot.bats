#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# Boot and sanity: both rig kernels boot into /init with /dev/iommu,
# /dev/liveupdate, KHO debugfs and the edu device on vfio-pci; an initrd
# built by appending our files to a distro-style initrd boots too; and a
# KHO that found no room at boot is named by its own words.

load helpers

@test "boot: vanilla kernel has iommufd, VFIO cdev, LUO and KHO" {
	run_vm --exact-marks --kernel vanilla --script "$GUEST_DIR/boot-sanity.sh" \
		--expect interfaces --expect vfio --expect config --expect init
	assert_vm_ok
	[ "$(log_value kernel)" = "$(kernel_release vanilla)" ] ||
		die "vanilla booted $(log_value kernel), not $(kernel_release vanilla)"
}

@test "boot: patched kernel has iommufd, VFIO cdev, LUO and KHO" {
	run_vm --exact-marks --kernel patched --script "$GUEST_DIR/boot-sanity.sh" \
		--expect interfaces --expect vfio --expect config --expect init
	assert_vm_ok
	[ "$(log_value kernel)" = "$(kernel_release patched)" ] ||
		die "patched booted $(log_value kernel), not $(kernel_release patched)"
}

@test "boot: the two kernels are distinct builds" {
	# Upgrade and rollback tests kexec between them: the same image twice
	# would prove nothing.
	local a b

	a=$(kernel_release vanilla)
	b=$(kernel_release patched)
	[ -n "$a" ] && [ -n "$b" ] || die "cannot read the kernel releases ('$a', '$b')"
	[ "$a" != "$b" ] || die "vanilla and patched are both $a"
	! cmp -s "$(kernel_image vanilla)" "$(kernel_image patched)" ||
		die "vanilla and patched are the same image"
}

@test "boot: our files appended to a compressed distro initrd" {
	local tmp=$BATS_TEST_TMPDIR token

	token="payload-$$-$RANDOM"
	# The "distro" initrd: the rig's image, gzip-compressed, as a
	# distribution's generator would ship it.
	run "$KHO_TOP/tests/vm/launch.sh" --name "$(vm_name warmup)" \
		--script "$GUEST_DIR/harness-ok.sh" --expect first
	[ "$status" -eq 0 ] || die "warm-up boot failed: $output"
	gzip -n -c "$BUILD/vm/initramfs-base.cpio" > "$tmp/distro.img"

	mkdir -p "$tmp/payload"
	echo "$token" > "$tmp/payload/hello.txt"
	echo "$token" > "$tmp/expect.txt"
	"$KHO_TOP/initramfs/mkinitramfs.sh" -o "$tmp/host.img" \
		--append-to "$tmp/distro.img" --dir "$tmp/payload:/opt/payload"
	# The distro part is kept byte for byte.
	cmp -n "$(stat -c %s "$tmp/distro.img")" "$tmp/distro.img" "$tmp/host.img" ||
		die "mkinitramfs --append-to changed the distro initrd"

	run_vm --exact-marks --initrd "$tmp/host.img" --script "$GUEST_DIR/boot-payload.sh" \
		--file "$tmp/expect.txt:/test/expect.txt" --expect payload
	assert_vm_ok
}

@test "boot: KHO without room for its scratch areas: kho-tool quotes the kernel's reason, the VMM untouched" {
	# A global scratch area larger than the guest's 1 GiB: KHO disables
	# itself and LUO with it, as it did on some boots of the rig's small
	# guests before the launcher sized the areas (docs/operations.md).
	run_vm --exact-marks --kernel vanilla --script "$GUEST_DIR/kho-no-scratch.sh" \
		--append "kho_scratch=32M,2G,32M" --expect serving --expect refused-with-reason
	assert_vm_ok
	assert_log 'KHO: Failed to reserve global scratch buffer'
}
