#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# The kernel series under KASAN and kmemleak: the patched-debug flavour of
# tests/rig/build-kernel.sh (patches/ + tests/rig/kernel-debug.config) runs
# the fail_nth sweep and the kexec replay of 080-kjournal.bats; afterwards a
# KASAN report, a warning, or a kmemleak suspect allocated through iommufd,
# LUO, KHO or VFIO fails the test (tests/vm/guest/kjournal-debug-lib.sh).
#
# No acpi=noirq here: the fail_nth sweep skips ACPICA's allocations through
# the failslab stack filter instead (see debug_append).
#
# env: KHO_KERNEL_PATCHED_DEBUG  a patched-debug build dir (with vmlinux and
#                                src/) instead of the cached build

load helpers

setup_file() {
	[ -s "$KHO_TOP/patches/series" ] || return 0
	if [ -z "${KHO_KERNEL_PATCHED_DEBUG:-}" ]; then
		KHO_KERNEL_PATCHED_DEBUG=$("$KHO_TOP/tests/rig/build-kernel.sh" patched-debug)
	fi
	export KHO_KERNEL_PATCHED_DEBUG
}

require_debug_kernel() {
	[ -s "$KHO_TOP/patches/series" ] ||
		skip "patches/series is empty: the patched kernel has no journal"
	[ -r "$KHO_KERNEL_PATCHED_DEBUG/bzImage" ] ||
		die "no patched-debug kernel: building it failed (tests/rig/build-kernel.sh patched-debug)"
	DBG=$KHO_KERNEL_PATCHED_DEBUG
}

# debug_append: the command line that keeps fail_nth out of ACPICA.  With
# ACPI on, the sweep would fail an allocation in ACPICA's evaluation of a PCI
# link (vfio-pci enabling edu), whose error path oopses in 7.2.13
# (docs/kernel-patches.md).  ACPICA's code is one contiguous range of
# vmlinux: the failslab stack filter (reject-start/end), which 7.2 applies
# to fail_nth too, keeps every allocation made under it out of the count.
# nokaslr, so that the addresses of vmlinux are those of the running kernel.
debug_append() {
	local names range

	names=$(nm --defined-only "$DBG"/src/drivers/acpi/acpica/*.o |
		awk '$2 == "T" { print $3 }' | sort -u) ||
		die "cannot read ACPICA's objects in $DBG/src"
	# From ACPICA's first global function (by address) to the global
	# function that follows its last one in .text; every global function
	# in between must be ACPICA's.  (Static names repeat across objects.)
	range=$(nm -n "$DBG/vmlinux" | awk -v names="$names" '
		BEGIN { n = split(names, a, "\n"); for (i = 1; i <= n; i++) ours[a[i]] = 1 }
		$3 == "_etext" { done = 1 }	# .init.text is not of interest
		done || $2 != "T" { next }
		($3 in ours) { if (start == "") start = $1; if (end != "") bad = $3; last = $3; next }
		start != "" && end == "" { end = $1 }
		END {
			if (bad != "") print "split:" bad
			else print "0x" start "-0x" end
		}')
	case "$range" in
	0x?*-0x?*) ;;
	*) die "cannot find ACPICA's text range in $DBG/vmlinux ($range)" ;;
	esac
	echo "nokaslr khotest.failslab_reject=$range"
}

# The stack filter worked: no ACPICA allocation failed (ACPI on, no noirq).
assert_acpica_untouched() {
	! grep -aq 'AE_NO_MEMORY' "$VM_LOG" ||
		die "an ACPICA allocation failed: $(grep -a -m1 'AE_NO_MEMORY' "$VM_LOG")"
}

# No KASAN report, and the sweep stayed out of ACPICA.
assert_kasan_clean() {
	! grep -aq 'BUG: KASAN' "$VM_LOG" || die "KASAN reported: $(grep -a -m1 'BUG: KASAN' "$VM_LOG")"
	assert_acpica_untouched
}

# The kexec replay (kjournal-debug-kexec.sh) on the debug kernel, with the
# debug command line plus $1; it must reach every stage clean, and no case
# may fail.
run_debug_kexec() {
	run_vm --kernel "$DBG/bzImage" --script "$GUEST_DIR/kjournal-debug-kexec.sh" \
		--file "$GUEST_DIR/kjournal-debug-lib.sh:/test/kjournal-debug-lib.sh" \
		--file "$DBG/bzImage:/boot/vmlinuz-dbg" \
		--qemu-arg -device --qemu-arg edu --append "$(debug_append)$1" \
		--timeout 1500 --expect kjournal-preserved --expect kdebug-clean-stage1 \
		--expect kexec-to-vmlinuz-dbg --expect kjournal-verified \
		--expect kdebug-clean-stage2
	assert_vm_ok
	assert_log '^ok [0-9]+ verified_finish\b'
	! grep -q '^not ok' "$VM_LOG" || die "a case failed: $(grep '^not ok' "$VM_LOG")"
	assert_kasan_clean
}

@test "kjournal-debug: fail_nth sweep under KASAN, no kmemleak leak in the new code" {
	require_debug_kernel
	run_vm --kernel "$DBG/bzImage" --script "$GUEST_DIR/kjournal-debug-failnth.sh" \
		--file "$GUEST_DIR/kjournal-debug-lib.sh:/test/kjournal-debug-lib.sh" \
		--append "$(debug_append)" --timeout 1500 \
		--expect kjournal-failnth --expect kdebug-clean
	assert_vm_ok
	assert_log 'KHOTEST: BOOT stage=1 kernel=7\.2\.13-kho-b-dbg'
	assert_log 'KHOTEST: LOG failslab_reject=0x'
	assert_log '^ok 1 failnth: [0-9]+ injection points swept'
	assert_log 'KHOTEST: LOG kmemleak_ours=0$'
	assert_kasan_clean
}

@test "kjournal-debug: kexec replay and its fail_nth sweep under KASAN and kmemleak" {
	require_debug_kernel
	run_debug_kexec ""
	# 6 records of state and 10 of churn; stage 2 expects the 6 alone
	# (ok restoring: the kernel folded the journal, patches/0004)
	assert_log 'iommufd_journal: stage1: preserved a journal of 16 records'
	assert_log 'KHOTEST: LOG stage2=7\.2\.13-kho-b-dbg'
	assert_log '^# replay fail_nth: [0-9]+ injected failures left the replay intact\b'
	assert_log 'KHOTEST: LOG kmemleak_ours=0$'
}

# Under kmemleak the replay sweep of the test above stops at each record's
# first allocation: kmemleak allocates its own metadata right after it, so
# fail_nth's next failure lands there, kmemleak falls back to its pool and
# the replay step succeeds, which ends that record's sweep.  Sweep it again
# with kmemleak off, KASAN only: it must go past the first allocations.
@test "kjournal-debug: kexec replay fail_nth sweep under KASAN alone (kmemleak=off)" {
	require_debug_kernel
	run_debug_kexec " kmemleak=off"
	assert_log 'KHOTEST: LOG kmemleak=off'
	local records injected
	# the records replayed: the 6 of the state (the churn is folded away)
	records=6
	injected=$(sed -n 's/^# replay fail_nth: \([0-9]*\) injected.*/\1/p' "$VM_LOG" | head -n 1)
	[ -n "$records" ] && [ -n "$injected" ] || die "no record or injection count in $VM_LOG"
	[ "$injected" -gt "$records" ] ||
		die "the replay sweep injected $injected failures for $records records: it stopped at first allocations"
}

@test "kjournal-debug: the checks catch a provoked KASAN report and a journal leak" {
	require_debug_kernel
	run_vm --kernel "$DBG/bzImage" --script "$GUEST_DIR/kjournal-debug-control.sh" \
		--file "$GUEST_DIR/kjournal-debug-lib.sh:/test/kjournal-debug-lib.sh" \
		--timeout 600 --expect kdebug-clean-before --expect kdebug-leak-filter \
		--expect kdebug-caught-kasan
	assert_vm_ok
	assert_log 'BUG: KASAN: slab-out-of-bounds in lkdtm_SLAB_LINEAR_OVERFLOW'
}
