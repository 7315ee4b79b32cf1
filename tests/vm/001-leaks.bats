#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# The host side's own helpers, without a guest: a stamper like demo.sh's
# ends whole, and the teardown's leak check sees a process left behind.

load helpers

@test "leaks: a stopped helper leaves no process of its group" {
	local tmp pg
	tmp=$(mktemp -d)
	: > "$tmp/log"
	stamp() {
		tail -F -n +1 "$tmp/log" 2>/dev/null | while IFS= read -r l; do
			echo "$l"
		done > "$tmp/out"
	}
	HELPER_TAG=$VM_PROC_TAG helper_start pg stamp
	echo hello >> "$tmp/log"
	sleep 0.5
	[ -n "$(procs_tagged "$VM_PROC_TAG")" ] || die "the stamper did not start"
	helper_stop "$pg"
	[ -z "$(procs_tagged "$VM_PROC_TAG")" ] ||
		die "left: $(procs_tagged "$VM_PROC_TAG")"
	grep -q hello "$tmp/out"
	rm -rf "$tmp"
}

@test "leaks: the teardown check names a process left behind" {
	KHO_PROC_TAG=$VM_PROC_TAG sleep 600 &
	sleep 0.2
	run vm_teardown
	[ "$status" -ne 0 ] || die "vm_teardown did not fail"
	grep -q "left behind by this test: [0-9]* sleep" <<<"$output" ||
		die "vm_teardown said: $output"
	[ -z "$(procs_tagged "$VM_PROC_TAG")" ] || die "sleep was not killed"
}
