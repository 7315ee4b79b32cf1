#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# The model-based test (tests/model/kho-model.c, docs/testing.md): random
# legal sequences of the journaled iommufd ioctls (allowed ranges, COPY,
# partial and failing UNMAPs, auto IOVAs, HUGE_PAGES, maps by VA and from
# two memfds, destroy and re-alloc, several IOASes, mock devices) run
# against the kernel, recorded through the linked recorder, captured,
# replayed into a fresh iommufd and verified by the product, then probed
# page by page against the original by the test itself.
#
# MODEL_SEEDS: the fixed seed range both kernels run (sized so the two
# guests take about 4 minutes together under TCG; docs/testing.md).
# MODEL_EXCLUDE_<KERNEL>: features left out because of a known bug, so
# that the rest is exercised (kho-model -x).  CI must run with both empty
# once the fixes are merged: set them to "" below, or check a fix with
#   MODEL_EXCLUDE_VANILLA= MODEL_EXCLUDE_PATCHED= tests/vm/run.sh tests/vm/045-model.bats
# Known today: none.  Before 9c8fa58 patched needed destroy,mock (any
# successful IOMMU_DESTROY oopsed); before verify-fixes both needed allow.
#
# On patched a sequence that bound a mock device must be refused by the
# kernel journal check (the journal marks a non-PCI bind not carriable);
# the rest of its path runs from the recorder's journal.

load helpers

MODEL_SEEDS=${MODEL_SEEDS:-1-3000}
MODEL_EXCLUDE_VANILLA=${MODEL_EXCLUDE_VANILLA-}
MODEL_EXCLUDE_PATCHED=${MODEL_EXCLUDE_PATCHED-}

# covered FEATURE PATTERN: unless left out, the run reached FEATURE.
covered() {
	[[ ,$exclude, == *,$1,* ]] || assert_log "$2"
}

model_run() {
	local kernel=$1 exclude=$2

	{
		echo "KHOTEST_MODEL_SEEDS=$MODEL_SEEDS"
		echo "KHOTEST_MODEL_EXCLUDE=$exclude"
	} > "$BATS_TEST_TMPDIR/model.env"
	run_vm --exact-marks --kernel "$kernel" --timeout 900 \
		--script "$GUEST_DIR/model.sh" \
		--file "$BATS_TEST_TMPDIR/model.env:/test/model.env" --expect model
	assert_vm_ok
	assert_log "kho-model: ok: [0-9]+ sequences .* 0 failed"
	# The sequences reached what they are about (not vacuous).
	covered cut "kho-model: [1-9][0-9]* partial UNMAPs"
	covered allow "ALLOW_IOVAS [1-9][0-9]*/"
	covered copy "COPY [1-9][0-9]*/"
	covered mock "MOCK_DOMAIN [1-9][0-9]*/"
	covered destroy " DESTROY [1-9][0-9]*/"
	covered auto "kho-model: .* [1-9][0-9]* auto IOVAs"
	covered option "OPTION_HUGE_PAGES [1-9][0-9]*/"
	covered va "MAP_VA [1-9][0-9]*/"
	[ "$(log_value mock_devices_left)" = 0 ] ||
		die "$(log_value mock_devices_left) mock devices left after the run"
	grep -a "kho-model: " "$VM_LOG" | tail -n 4 >&3
}

@test "model: random sequences replay to the same state on vanilla" {
	model_run vanilla "$MODEL_EXCLUDE_VANILLA"
}

@test "model: random sequences replay to the same state on patched, its journal checked" {
	model_run patched "$MODEL_EXCLUDE_PATCHED"
	assert_log "kernel journal: checked against the recorder"
	assert_log "[1-9][0-9]* kernel journals checked, [1-9][0-9]* refused for a mock device"
}

# The same sequences under lockdep, KASAN and DEBUG_VM: every path by which
# the journal records (maps, cut and failed UNMAPs, COPY, destroys, mock
# devices bound and destroyed) must leave no report.  Fewer seeds: KASAN
# and lockdep make each call several times slower under TCG.
@test "model: on patched-debug (lockdep, KASAN), the same, and the kernel log clean" {
	MODEL_SEEDS=${MODEL_SEEDS_DEBUG:-1-300} model_run "$(debug_kernel)/bzImage" "$MODEL_EXCLUDE_PATCHED"
	assert_log "kernel journal: checked against the recorder"
	assert_kernel_clean
}

@test "model: one sequence across a real kexec, restored by the agent, observes the same" {
	# Seed 47: 55 calls, two IOASes with allowed ranges, partial UNMAPs,
	# COPY, auto IOVAs, destroy and re-alloc.  Mock devices cannot cross
	# (the hand-off carries PCI devices only).
	{
		echo "KHOTEST_MODEL_SEED=47"
		echo "KHOTEST_MODEL_EXCLUDE=mock"
	} > "$BATS_TEST_TMPDIR/model.env"
	run_vm --exact-marks --kernel vanilla --timeout 300 \
		--script "$GUEST_DIR/model-kexec.sh" \
		--file "$BATS_TEST_TMPDIR/model.env:/test/model.env" \
		--expect saved --expect kexec-to-vmlinuz-vanilla --expect restored
	assert_vm_ok
	assert_log "restore-agent: step verify .* ok: 2 IOAS"
	assert_log "restore-agent: step adopt .* ok"
	assert_log "kho-model: ok after kexec: [0-9]+ observations equal"
}
