# SPDX-License-Identifier: GPL-2.0
# Running upstream's own selftests (tests/rig/build-selftests.sh) in a
# guest and checking their results, for the suites that do it:
# 095-upstream-selftests.bats (7.2.13) and 106-upstream-selftests-7.3.bats.
# A suite sets SELFTESTS (the build's output directory), the plans and
# pass counts IOMMUFD_PLAN, IOMMUFD_PASS, FAIL_NTH_PLAN, FAIL_NTH_PASS,
# LIVEUPDATE_PLAN, LIVEUPDATE_PASS, and EXPECTED_NOT_PASSING, the
# "PROG TEST RESULT" lines of every test that may not pass.

# The iommufd test skips its own no_viommu variant (SKIP(return,
# "Skipping test for variant no_viommu")): on every kernel of 7.2 and 7.3.
NO_VIOMMU_SKIPS=(
	"iommufd iommufd_viommu.no_viommu.hw_queue skip"
	"iommufd iommufd_viommu.no_viommu.vdevice_cache skip"
	"iommufd iommufd_viommu.no_viommu.vdevice_tombstone skip"
	"iommufd iommufd_viommu.no_viommu.viommu_alloc_nested_iopf skip"
	"iommufd iommufd_viommu.no_viommu.viommu_alloc_with_data skip"
)

require_selftests() {
	[ -n "$SELFTESTS" ] && [ -x "$SELFTESTS/bin/iommufd" ] ||
		die "building upstream's selftests failed (tests/rig/build-selftests.sh)"
}

# selftest_files PROG...: launch.sh --file arguments shipping PROGs, from
# $SELFTESTS/bin, or from $SELFTESTS/bin/slow where that has the program
# and SELFTESTS_SLOW=1 (the debug kernels: see build-selftests.sh).
selftest_files() {
	local p bin

	for p in "$@"; do
		bin=$SELFTESTS/bin
		[ "${SELFTESTS_SLOW:-0}" = 1 ] && [ -x "$bin/slow/$p" ] && bin=$bin/slow
		echo "--file"
		echo "$bin/$p:/test/selftests/$p"
	done
}

# results: the guest's per-test results, "PROG TEST RESULT", sorted.
results() {
	grep -a -o 'KHOTEST: RESULT .*' "$VM_LOG" | sed 's/^KHOTEST: RESULT //' | sort
}

# assert_no_hang: no test hung; a hang fails naming the tests, with the
# hung-task detector's and sysrq's reports of blocked tasks.
assert_no_hang() {
	local hung stacks

	if grep -aq 'KHOTEST: HUNG ' "$VM_LOG"; then
		hung=$(grep -a -o 'KHOTEST: HUNG .*' "$VM_LOG" | sed 's/^KHOTEST: HUNG //' | paste -sd, -)
	elif [ "$status" -ne 0 ] && grep -q 'timed out after' <<<"$output"; then
		# The whole guest hung: the last test that started and never
		# ended is the one.
		hung=$(grep -a -o 'KHOTEST: TAP [^:]*: #  RUN .*' "$VM_LOG" | tail -n 1 |
			sed 's/^KHOTEST: TAP \([^:]*\): #  RUN *\([^ ]*\).*/\1 \2 (guest timed out)/')
		hung=${hung:-"(no test started; guest timed out)"}
	else
		return 0
	fi
	# The blocked tasks: each report from its first line to the end of its
	# stack.
	stacks=$(awk '/blocked for more than|state:D / { p = 1; n = 0 }
		p { print; if (++n > 40 || /<\/TASK>/) p = 0 }' "$VM_LOG" | head -n 120)
	echo "# blocked tasks in the serial log:" >&2
	sed 's/^/#   /' <<<"${stacks:-(none reported)}" >&2
	die "hung: $hung"
}

# assert_kernel_clean: the guest kernel reported no bug, oops, warning or
# lockdep splat while the selftests ran; the first report, with its
# call trace, goes into the failure output.
assert_kernel_clean() {
	local re='BUG:|Oops:|WARNING:|possible circular locking|possible recursive locking|INFO: task .* blocked'

	grep -aEq "$re" "$VM_LOG" || return 0
	echo "# the first kernel report in the serial log:" >&2
	awk -v re="$re" '$0 ~ re { p = 1 } p { print; if (++n > 40 || /<\/TASK>/) exit }' "$VM_LOG" |
		grep -av '^KHOTEST: ' | sed 's/^/#   /' >&2
	die "the kernel reported: $(grep -aE -m1 "$re" "$VM_LOG")"
}

# assert_plan PROG N: PROG planned N tests.
assert_plan() {
	local plan

	plan=$(log_value "$1_plan")
	[ "$plan" = "$2" ] || die "$1 planned ${plan:-no} tests, expected $2"
}

# assert_passed PROG N: exactly N of PROG's tests passed.
assert_passed() {
	local n

	n=$(results | grep -c "^$1 .* pass$" || true)
	[ "$n" = "$2" ] || die "$n $1 tests passed, expected exactly $2"
}

# assert_expected_results: every test passed but those in
# EXPECTED_NOT_PASSING, and those gave exactly the result named there.
assert_expected_results() {
	local got want

	got=$(results | grep -v ' pass$' || true)
	want=$(printf '%s\n' "${EXPECTED_NOT_PASSING[@]}" | grep . | sort || true)
	[ "$got" = "$want" ] || {
		echo "# tests not passing, expected (<) against seen (>):" >&2
		diff <(echo "$want") <(echo "$got") | grep '^[<>]' | sed 's/^/#   /' >&2
		die "the results differ from the expected ones"
	}
}

# run_harness_tests KERNEL [GUEST_ENV]: iommufd, iommufd_fail_nth and
# liveupdate in one guest on KERNEL, checked against the expected results;
# GUEST_ENV adds lines to the guest script's environment.
run_harness_tests() {
	require_selftests
	printf 'KHOTEST_SELFTESTS="%s"\nKHOTEST_HUGEPAGES=128\n%s\n' \
		"iommufd iommufd_fail_nth liveupdate" "${2:-}" > "$BATS_TEST_TMPDIR/upstream.env"
	# shellcheck disable=SC2046 # one argument per line
	run_vm --kernel "$1" --script "$GUEST_DIR/upstream-selftests.sh" \
		--file "$BATS_TEST_TMPDIR/upstream.env:/test/upstream.env" \
		$(selftest_files iommufd iommufd_fail_nth liveupdate) \
		--timeout "${HARNESS_VM_TIMEOUT:-2400}" --exact-marks \
		--expect run-iommufd --expect run-iommufd_fail_nth --expect run-liveupdate
	results > "$KHO_VM_LOGDIR/$(vm_name).results"
	assert_no_hang
	assert_kernel_clean
	assert_vm_ok
	[ "$(log_value hugepages)" = 128 ] || die "the guest reserved no huge pages"
	assert_plan iommufd "$IOMMUFD_PLAN"
	assert_plan iommufd_fail_nth "$FAIL_NTH_PLAN"
	assert_plan liveupdate "$LIVEUPDATE_PLAN"
	[ "$(results | wc -l)" = $((IOMMUFD_PLAN + FAIL_NTH_PLAN + LIVEUPDATE_PLAN)) ] ||
		die "$(results | wc -l) results, expected $((IOMMUFD_PLAN + FAIL_NTH_PLAN + LIVEUPDATE_PLAN))"
	assert_passed iommufd "$IOMMUFD_PASS"
	assert_passed iommufd_fail_nth "$FAIL_NTH_PASS"
	assert_passed liveupdate "$LIVEUPDATE_PASS"
	echo "# results: $KHO_VM_LOGDIR/$(vm_name).results" >&2
}
