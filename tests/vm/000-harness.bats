#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# The harness tested on itself: launch.sh must fail a guest that panics,
# hangs, misses a marker or reports a failure, and say why in a readable
# message with the last serial lines.  A harness that cannot fail proves
# nothing about the suites that run on it.

load helpers

@test "harness: a well-behaved guest passes" {
	run_vm --script "$GUEST_DIR/harness-ok.sh" --expect first --expect second
	assert_vm_ok
	assert_log 'KHOTEST: BOOT stage=1 kernel=7\.2\.13-kho-a'
}

@test "harness: a kernel panic fails the launch" {
	run_vm --script "$GUEST_DIR/harness-panic.sh" --timeout 60
	assert_vm_fails 'FAIL: guest kernel panicked: Kernel panic - not syncing: '
	# The reason comes with the serial lines that led to it.
	assert_vm_fails 'last 30 lines'
	assert_log 'KHOTEST: MARK before-panic'
}

@test "harness: a missing marker fails the launch" {
	run_vm --script "$GUEST_DIR/harness-marks.sh" --expect b --expect c
	assert_vm_fails "marker 'c' missing or out of order .*seen: b a"
}

@test "harness: markers out of order fail the launch" {
	run_vm --script "$GUEST_DIR/harness-marks.sh" --expect a --expect b
	assert_vm_fails "marker 'b' missing or out of order"
}

@test "harness: an unexpected marker fails an exact launch" {
	run_vm --script "$GUEST_DIR/harness-marks.sh" --exact-marks --expect b
	assert_vm_fails "unexpected marker \(expected exactly: b; seen: b a\)"
}

@test "harness: a hung guest fails at the timeout, with its own account of the hang" {
	local start=$SECONDS

	run_vm --script "$GUEST_DIR/harness-hang.sh" --timeout 25
	assert_vm_fails 'FAIL: timed out after 25 s'
	assert_log 'KHOTEST: MARK hanging'
	# The guest's own account of the hang, before the kill, and its
	# summary on the failure's line.
	assert_vm_fails 'timed out after 25 s \(guest hung\); stage 1, last mark hanging; blocked in the kernel: '
	assert_vm_fails "KHOTEST: HANG stage 1: end of the guest's account"
	# The timeout is enforced, not merely reported.
	[ $((SECONDS - start)) -lt 60 ] || die "a 25 s timeout took $((SECONDS - start)) s"
}

@test "harness: khotest_start waits as long as --timeout says, no longer" {
	local start=$SECONDS

	run_vm --script "$GUEST_DIR/harness-start.sh" --timeout 60 \
		--expect slow-ready --expect silent-starting
	assert_vm_fails "FAIL: guest reported: silent: 'sleep 600' not ready after 2s \(khotest_start --timeout\)"
	assert_log 'KHOTEST: MARK slow-ready'
	! grep -aq 'KHOTEST: MARK silent-ready' "$VM_LOG" || die "the silent command counted as ready"
	[ $((SECONDS - start)) -lt 60 ] || die "a 2 s limit took $((SECONDS - start)) s"
}

@test "harness: KHOTEST: FAIL from the guest fails the launch" {
	run_vm --script "$GUEST_DIR/harness-fail.sh" --expect checking
	assert_vm_fails 'FAIL: guest reported: edu 0000:00:03.0: pattern mismatch at byte 17'
}

@test "harness: a failing command in the guest script fails the launch" {
	run_vm --script "$GUEST_DIR/harness-exit.sh" --expect checking
	assert_vm_fails 'FAIL: guest reported: stage 1: /test/script.sh exited with status 1'
}

@test "harness: a missing QEMU fails, it does not skip" {
	KHO_QEMU=/nonexistent/qemu-system-x86_64 \
		run_vm --script "$GUEST_DIR/harness-ok.sh"
	[ "$status" -eq 2 ] || die "expected status 2 (rig cannot run), got $status"
	grep -q 'cannot run the VM: /nonexistent/qemu-system-x86_64 not found' <<<"$output" ||
		die "launch.sh does not say that QEMU is missing"
}
