#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# Debian's own initrd carries an upgrade: tests/distro/check.sh installs the
# kho-tool .deb into sid roots and builds initrds with update-initramfs and
# with dracut (plus a test-only part that switches root into the rig's
# environment).  The rig's guest kexecs into the patched kernel with that
# initrd; kho-tool must use it as is, the distro's init must start the
# agent, and the VMM adopts and passes its DMA check; then a rollback.

load helpers

# need_initrd FLAVOUR: make check-distro builds the test initrds; build
# the one missing here when the suite runs alone, or older than what it
# carries (the package's programs, the test part and its guest scripts).
need_initrd() {
	local deb img=$BUILD/distro/initrd-khotest-$1.img

	[ -s "$img" ] && [ -z "$(find "$BUILD/bin" "$KHO_TOP/tests/distro" \
		"$KHO_TOP/tests/vm/guest" -newer "$img" -type f -print -quit)" ] &&
		return 0
	make -C "$KHO_TOP" BUILD="$BUILD" deb >&3 2>&1 || die "make deb failed"
	deb=$(ls "$BUILD"/deb/kho-tool_*_amd64.deb | tail -n 1)
	"$KHO_TOP/tests/distro/check.sh" "$deb" "$1" >&3 2>&1 ||
		die "tests/distro/check.sh $1 failed"
}

# distro_upgrade FLAVOUR STARTER_LINE: the whole round trip with the
# FLAVOUR initrd; what its kho-tool and its init must have said.
distro_upgrade() {
	local flavour=$1 append=$2 tmp=$BATS_TEST_TMPDIR

	need_initrd "$flavour"
	echo "$append" > "$tmp/append"
	run_vm --script "$GUEST_DIR/distro-upgrade.sh" --timeout 400 \
		--file "$BUILD/distro/initrd-khotest-$flavour.img:/boot/initrd.img-distro" \
		--file "$tmp/append:/boot/distro.append" \
		--expect serving --expect agent-serving-from-distro-initrd \
		--expect agent-files-after-switch --expect adopted-stage2 \
		--expect adopted-stage3
	assert_vm_ok
}

@test "distro initrd: update-initramfs's initrd, used as is, starts the agent; upgrade + rollback" {
	distro_upgrade initramfs-tools \
		"boot=khotest init=/khotest-init vfio_pci.ids=1234:11e8 panic=-1"
	# --json: the step's detail is in the timeline.
	assert_log '"step":"initrd",[^}]*"detail":"/boot/initrd.img-distro \([^)]*\) carries /usr/lib/kho-tool/restore-agent, started by initramfs-tools \(/scripts/init-premount/kho-tool\): used as is"'
	assert_log '"command":"upgrade".*"initrd_path":\{"mode":"as-is","agent":"/usr/lib/kho-tool/restore-agent","starter":"initramfs-tools"'
	assert_log 'kho-tool: starting the restore-agent \(initramfs-tools init-premount\)'
	assert_log '10-restore-agent: agent [0-9]+ is serving /run/kho-tool/agent.sock'
	assert_log 'khotest: test root unpacked into /root'
	assert_log 'KHOTEST: BOOT stage=2 kernel=7.2.13-kho-b init=distro'
	assert_log 'KHO: exec from: 7.2.13-kho-a'
	assert_log 'bytes intact'
	# The rollback's initrd is the rig's own: as is too (/etc/kho/init.d).
	assert_log '"command":"rollback".*"initrd_path":\{"mode":"as-is","agent":"/usr/bin/restore-agent","starter":"kho-init.d"'
	[[ "$(log_value verified_s2)" == "1 IOAS, 64 mappings "*", 1 device(s), 1 attachment(s)"* ]] ||
		die "stage 2 verify: '$(log_value verified_s2)'"
}

@test "distro initrd: dracut's initrd, used as is, starts the agent; upgrade + rollback" {
	distro_upgrade dracut \
		"rd.khotest init=/khotest-init vfio_pci.ids=1234:11e8 rd.shell=0 panic=-1"
	assert_log '"command":"upgrade".*"initrd_path":\{"mode":"as-is","agent":"/usr/lib/kho-tool/restore-agent","starter":"dracut"'
	assert_log '"step":"initrd",[^}]*started by dracut \([^)]*hooks/pre-mount/10-kho-tool-restore.sh\): used as is"'
	assert_log 'kho-tool: starting the restore-agent \(dracut pre-mount\)'
	assert_log '10-restore-agent: agent [0-9]+ is serving /run/kho-tool/agent.sock'
	assert_log 'KHOTEST: BOOT stage=2 kernel=7.2.13-kho-b init=distro'
	assert_log 'bytes intact'
}

@test "distro initrd: an initrd without the agent gets it appended, and it restores" {
	run_vm --script "$GUEST_DIR/distro-append.sh" --timeout 300 \
		--expect serving --expect appended-agent-serving --expect adopted-stage2
	assert_vm_ok
	assert_log '"step":"initrd",[^}]*"detail":"/run/khotest/noagent.img does not carry the restore-agent: appended the agent and /etc/kho/init.d/10-restore-agent as a cpio segment'
	assert_log '"command":"upgrade".*"initrd_path":\{"mode":"appended","agent":"","starter":""'
	assert_log '10-restore-agent: agent [0-9]+ is serving /run/kho-tool/agent.sock'
	assert_log 'bytes intact'
}
