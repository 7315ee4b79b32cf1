#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# kho-tool upgrade and rollback in the guest: dry runs leave nothing behind,
# a target that cannot read the hand-off is refused before loading, and the
# full vanilla -> patched -> vanilla round trip keeps the VMM's DMA working.

load helpers

@test "upgrade: dry run leaves no image and no session; bad ABI and a foreign owner of /dev/liveupdate refused before load" {
	run_vm --script "$GUEST_DIR/upgrade-dryrun.sh" \
		--file "$(bad_vmlinux):/boot/vmlinux-luo-v9" \
		--expect dry-run-ok --expect no-session-left --expect bad-abi-refused \
		--expect foreign-owner-refused
	assert_vm_ok
	assert_log 'upgrade: dry-run-undo .*the system is as it was'
}

@test "upgrade: dry run with a recording VMM captures, then releases it intact" {
	run_vm --script "$GUEST_DIR/upgrade-vmm-dryrun.sh" --expect captured --expect vmm-intact
	assert_vm_ok
	[ "$(log_value replay_length)" -lt "$(log_value journal_length)" ] ||
		die "replay $(log_value replay_length) not shorter than journal $(log_value journal_length) after churn"
}

# json_field KEY: KEY's number in the first kho-tool JSON timeline line of
# the serial log that has it.
json_field() {
	grep -a -o "\"$1\":[0-9]*" "$VM_LOG" | head -n 1 | cut -d: -f2
}

@test "upgrade: vanilla -> patched -> rollback to vanilla, DMA checked on both" {
	run_vm --script "$GUEST_DIR/upgrade-full.sh" --timeout 400 \
		--expect serving --expect adopted-stage2 --expect adopted-stage3
	assert_vm_ok
	assert_log '"command":"upgrade".*"preserved_fds":2.*"result":"ok"'
	assert_log '"command":"rollback".*"chosen_by".*"preserved_fds":2.*"result":"ok"'
	assert_log 'KHO: exec from: 7.2.13-kho-a'
	assert_log 'KHO: exec from: 7.2.13-kho-b'
	# Which journal each side used: vanilla captures from the userspace
	# record alone; the patched kernel's own iommufd journal (patches/)
	# must match the recorder's before the rollback may use it.
	assert_log 'upgrade: journal source: userspace record \(running kernel has no iommufd journal\)'
	assert_log '"command":"upgrade".*"target_kjournal":true.*"journal_source":"userspace"'
	assert_log 'rollback: journal source: kernel \(iommufd-journal-v2\): the recorder.s journal matches it'
	assert_log '"command":"rollback".*"target_kjournal":false.*"journal_source":"kernel"'
	# patched -> vanilla keeps the iommufd out only because it was asked
	# to (--userspace-journal), and says so (090 covers the refusal).
	assert_log 'rollback: iommufd: degraded: --userspace-journal leaves the VMM.s iommufd out of the session'
	assert_log '"command":"rollback".*"iommufd":\{"decision":"degraded"'
	assert_log '"command":"upgrade".*"iommufd":\{"decision":"userspace"'
	assert_log 'restore: journal source: userspace record \(the capturing kernel had no iommufd journal\)'
	assert_log 'restore: running kernel has the iommufd journal'
	assert_log 'restore: journal source: kernel \(iommufd-journal-v2: the recorder.s journal matched the kernel.s on 7.2.13-kho-b\)'
	assert_log 'restore: running kernel has no iommufd journal'
	# The VMM's 64 live maps (one by VA, the rest by file), one device, both times:
	# the first from the recorder, the second from the adopted record.
	for s in 2 3; do
		[[ "$(log_value verified_s$s)" == "1 IOAS, 64 mappings "*", 1 device(s), 1 attachment(s)"* ]] ||
			die "stage $s verify: '$(log_value verified_s$s)'"
	done
	# Same IDs kept through both kexecs (the agent's map, the VMM's view).
	[ "$(grep -a -c 'test-vmm: restart: IOAS 1 -> 1' "$VM_LOG")" = 2 ] || die "IOAS ID map"
	[ "$(grep -a -c 'test-vmm: restart: HWPT 3 -> 3' "$VM_LOG")" = 2 ] || die "HWPT ID map"
	[ "$(grep -a -c 'bytes intact' "$VM_LOG")" = 2 ] || die "guest RAM not intact twice"
}

# Issue #21 item 4: a VMM that is not root completes the cycle, twice:
# the agent serves uid 1000 (socket and token), the VMM's launcher hands
# it the token, and its recorder journals the adopted state from the
# agent's copy of the hand-off, which the rollback then captures.
@test "upgrade: a VMM of uid 1000: vanilla -> patched -> vanilla, adopted as uid 1000 both times" {
	run_vm --script "$GUEST_DIR/upgrade-nonroot.sh" --timeout 500 \
		--expect serving-as-1000 --expect adopted-as-1000-stage2 \
		--expect adopted-as-1000-stage3
	assert_vm_ok
	assert_log 'restore-agent: serving /run/kho-tool/agent.sock: .* for uid 1000, to the holder of the token'
	assert_log 'restore-agent: step adopt .*ok: pid [0-9]+ uid 1000 ran IOMMU_IOAS_CHANGE_PROCESS'
	assert_log 'rollback: journal source: kernel \(iommufd-journal-v2\): the recorder.s journal matches it'
	[ "$(grep -a -c 'bytes intact' "$VM_LOG")" = 2 ] || die "guest RAM not intact twice"
	[ "$(grep -a -c 'test-vmm: restart: DMA check passed' "$VM_LOG")" = 2 ] ||
		die "no DMA check after both adoptions"
}

# The same round trip with patched-debug (KASAN, kmemleak, lockdep) as the
# target: the patched kernel's journal records the replay and the adopted
# VMM's calls, and is compared with the recorder's before the rollback.
# KASAN's shadow does not fit KHO's default scratch: see 085.
@test "upgrade: vanilla -> patched-debug -> rollback, DMA checked, the kernel log clean" {
	local dbg
	dbg=$(debug_kernel) || die "no patched-debug kernel"
	echo "target=/boot/vmlinuz-dbg" > "$BATS_TEST_TMPDIR/upgrade.env"
	run_vm --script "$GUEST_DIR/upgrade-full.sh" --timeout 900 \
		--file "$BATS_TEST_TMPDIR/upgrade.env:/test/upgrade.env" \
		--file "$dbg/bzImage:/boot/vmlinuz-dbg" \
		--expect serving --expect adopted-stage2 --expect adopted-stage3
	assert_vm_ok
	assert_log 'KHO: exec from: 7.2.13-kho-a'
	assert_log 'KHO: exec from: 7.2.13-kho-b-dbg'
	assert_log 'rollback: journal source: kernel \(iommufd-journal-v2\): the recorder.s journal matches it'
	[ "$(grep -a -c 'bytes intact' "$VM_LOG")" = 2 ] || die "guest RAM not intact twice"
	assert_kernel_clean
}

@test "upgrade: churn: thousands of map/unmap, the hand-off replays only live mappings" {
	run_vm --script "$GUEST_DIR/upgrade-full.sh" --timeout 400 \
		--append "khotest.churn=3000" \
		--expect serving --expect adopted-stage2
	assert_vm_ok
	local journal replay ioctls
	journal=$(json_field journal_length)
	replay=$(json_field replay_length)
	ioctls=$(json_field replay_ioctls)
	echo "# churn 3000: journal $journal records -> replay plan $replay records, $ioctls ioctls" >&3
	# 1 IOAS_ALLOC + 64 live maps + BIND + ATTACH, whatever the churn.
	[ "$ioctls" = 67 ] || die "replay $ioctls ioctls, expected 67 (64 live maps)"
	[ "$journal" -gt 6000 ] || die "journal $journal records: the churn was not recorded"
	[[ "$(log_value verified_s2)" == "1 IOAS, 64 mappings "* ]] ||
		die "stage 2 verify: '$(log_value verified_s2)'"
	assert_log "restore-agent: step replay .*ok: $ioctls ioctls"
}

# A VMM that allocates its HWPT explicitly, as QEMU's iommufd backend
# does: the recorder journals its IOMMU_HWPT_ALLOC, the capture carries it
# into the plan, the replay runs it hwpt-first (every map, then bind,
# HWPT_ALLOC, ATTACH to that HWPT: the domain is filled before the device
# uses it, bench/order-vm.sh), verify accepts it and the VMM adopts it.
@test "upgrade: a VMM with an explicit HWPT (IOMMU_HWPT_ALLOC): captured, replayed hwpt-first, adopted" {
	run_vm --script "$GUEST_DIR/upgrade-full.sh" --timeout 400 \
		--append "khotest.hwpt=1" \
		--expect serving --expect adopted-stage2
	assert_vm_ok
	assert_log 'test-vmm: setup: .*explicit HWPT domain'
	[[ "$(log_value plan_s2)" == *,DEVICE_BIND_IOMMUFD,HWPT_ALLOC,DEVICE_ATTACH_IOMMUFD_PT ]] ||
		die "plan: '$(log_value plan_s2)'"
	# The HWPT the VMM allocated on IOAS 1 for device 2, not an auto one.
	[ "$(log_value hwpts_s2)" = "3: on 1, device 2" ] || die "HWPTs: '$(log_value hwpts_s2)'"
	assert_log 'HWPT_ALLOC device 2 pt 1 .*-> HWPT 3'
	assert_log 'DEVICE_ATTACH_IOMMUFD_PT device 2 to pt 3 -> HWPT 3'
	assert_log 'restore-agent: step replay .*ok: 68 ioctls, .* 1 HWPT alloc\(s\)'
	[[ "$(log_value verified_s2)" == "1 IOAS, 64 mappings "*", 1 device(s), 1 attachment(s)"* ]] ||
		die "stage 2 verify: '$(log_value verified_s2)'"
	assert_log 'test-vmm: restart: HWPT 3 -> 3'
	assert_log 'test-vmm: restart: DMA check passed'
}

@test "upgrade: luod owns /dev/liveupdate: kho-tool is its client, the restore claims the session from it, the VMM adopts" {
	run_vm --script "$GUEST_DIR/upgrade-luod.sh" --timeout 300 \
		--expect serving --expect adopted-from-luod
	assert_vm_ok
	assert_log '"luo_path":"luod"'
	assert_log '"step":"preflight-running"[^}]*LUO path: luod, session from luod \(START_PRESERVATION\): kho-tool'
	assert_log '"step":"kexec"[^}]*luod: READY: luod kexecs into 7.2.13-kho-b with session .kho-tool.'
	assert_log 'restore-agent: step session .* ok: kho-tool from luod \(CLAIM\)'
	assert_log "restore-agent: session 'kho-tool' finished: luod told \(FINISH\)"
}
