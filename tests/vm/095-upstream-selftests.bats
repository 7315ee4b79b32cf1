#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# Upstream's own selftests, built from the rig's kernel source tree by
# tests/rig/build-selftests.sh: a check of both kernels that nobody here
# wrote.  One guest per kernel runs iommufd, iommufd_fail_nth and
# liveupdate (kselftest harness, TAP); vanilla must give exactly the
# results below, and patched the same results test for test.  The
# two-stage luo_* tests cross kexecs both ways, vanilla -> patched and
# patched -> vanilla, in one chained guest; kho's init.c runs upstream's
# KHO test across a kexec both ways between the two debug kernels
# (CONFIG_TEST_KEXEC_HANDOVER); and the patched-debug kernel (lockdep,
# KASAN) runs iommufd, iommufd_fail_nth and liveupdate too, with the same
# results as vanilla, test for test, and a clean log.
#
# Every test runs under a timeout in the guest
# (tests/vm/guest/upstream-selftests.sh): a hang fails naming the test,
# with the blocked tasks' stacks from the serial log (a control proves it);
# a kernel bug, oops, warning or lockdep report fails too.  A skip is a
# failure unless it is expected below by name.
#
# env: KHO_KERNEL_PATCHED_DEBUG, KHO_KERNEL_VANILLA_DEBUG
#      build dirs instead of the cached debug builds

load helpers
load upstream

# What vanilla 7.2.13 gives on the rig's kernel config (HUGETLBFS and THP
# on, 128 huge pages reserved): the tests each program plans, how many
# pass, and every test that does not pass, by name and result.
# docs/testing.md says why.  Everything else must pass.
IOMMUFD_PLAN=246
IOMMUFD_PASS=241
FAIL_NTH_PLAN=8
FAIL_NTH_PASS=8
LIVEUPDATE_PLAN=15
LIVEUPDATE_PASS=15
EXPECTED_NOT_PASSING=(
	"${NO_VIOMMU_SKIPS[@]}"
)

setup_file() {
	SELFTESTS=$("$KHO_TOP/tests/rig/build-selftests.sh") || SELFTESTS=
	export SELFTESTS
}

@test "upstream: iommufd, iommufd_fail_nth, liveupdate on vanilla give the expected results" {
	run_harness_tests vanilla
	results > "$BATS_FILE_TMPDIR/vanilla.results"
	assert_expected_results
}

@test "upstream: iommufd, iommufd_fail_nth, liveupdate on patched: the same results, test for test" {
	run_harness_tests patched
	# Against vanilla's run of this file, when there was one, and always
	# against the results vanilla must give.
	if [ -s "$BATS_FILE_TMPDIR/vanilla.results" ]; then
		diff "$BATS_FILE_TMPDIR/vanilla.results" <(results) > "$BATS_TEST_TMPDIR/diff" || {
			sed 's/^/#   /' "$BATS_TEST_TMPDIR/diff" >&2
			die "patched and vanilla differ (< vanilla, > patched)"
		}
	fi
	assert_expected_results
}

# The same programs under lockdep, KASAN and DEBUG_VM: every path a
# selftest takes through the journal, checked by the kernel's own
# detectors.  The harness's 30 s per-test default is far too short there
# (iommufd_fail_nth's sweeps under KASAN on TCG), so the programs are the
# bin/slow build, whose default is 600 s; the guest's own hang check gets
# the same.
@test "upstream: iommufd, iommufd_fail_nth, liveupdate on patched-debug: the same results, the log clean" {
	local dbg

	dbg=$(debug_kernel patched) || die "building the patched-debug kernel failed"
	[ -x "$SELFTESTS/bin/slow/iommufd_fail_nth" ] ||
		die "no slow build of the iommufd selftests in $SELFTESTS/bin/slow"
	SELFTESTS_SLOW=1 HARNESS_VM_TIMEOUT=5400 \
		run_harness_tests "$dbg/bzImage" \
		"$(printf 'KHOTEST_TEST_TIMEOUT=600\nKHOTEST_PROG_TIMEOUT=4800')"
	assert_expected_results
}

# Every kexec of the luo chain carries one luo_* test: stage 1 on one
# kernel, stage 2 on the other.  Each test crosses once vanilla -> patched
# and once patched -> vanilla; /dev/liveupdate admits one opener at a time,
# so one test per kexec.
LUO_TESTS="luo_kexec_simple luo_multi_session luo_stress_sessions luo_stress_files"

@test "upstream: luo_* across kexec, each vanilla -> patched and patched -> vanilla" {
	require_selftests
	local vanilla patched t want got k n=0

	vanilla=$(kernel_release vanilla)
	patched=$(kernel_release patched)
	printf 'KHOTEST_LUO_TESTS="%s"\nKHOTEST_LUO_KERNELS="vanilla patched"\n' "$LUO_TESTS" \
		> "$BATS_TEST_TMPDIR/upstream.env"
	# shellcheck disable=SC2046,SC2086 # one argument per line
	run_vm --kernel vanilla --script "$GUEST_DIR/upstream-selftests.sh" \
		--file "$BATS_TEST_TMPDIR/upstream.env:/test/upstream.env" \
		$(selftest_files $LUO_TESTS) --timeout 900
	assert_no_hang
	assert_kernel_clean
	assert_vm_ok
	# Exactly these results, in this order: each test's stage 1 on the
	# kernel it leaves, stage 2 on the kernel it reaches.
	want=
	for t in $LUO_TESTS; do
		want+="$t stage1@$vanilla pass"$'\n'"$t stage2@$patched pass"$'\n'
		want+="$t stage1@$patched pass"$'\n'"$t stage2@$vanilla pass"$'\n'
	done
	got=$(grep -a -o 'KHOTEST: RESULT .*' "$VM_LOG" | sed 's/^KHOTEST: RESULT //')
	[ "$got" = "${want%$'\n'}" ] || {
		diff <(echo "${want%$'\n'}") <(echo "$got") | sed 's/^/#   /' >&2
		die "the luo_* results differ from the expected ones (< expected, > seen)"
	}
	# Every kexec really happened, into the kernel each stage names.
	for k in $(grep -a -o 'KHOTEST: LOG stage[0-9]*=.*' "$VM_LOG" | sed 's/.*=//'); do
		n=$((n + 1))
		if [ $((n % 2)) = 1 ]; then want=$vanilla; else want=$patched; fi
		[ "$k" = "$want" ] || die "stage $n ran $k, not $want"
	done
	t=$(echo $LUO_TESTS | wc -w)
	[ "$n" = $((2 * t + 1)) ] || die "$n stages ran, expected $((2 * t + 1))"
	assert_log "KHO: exec from: ${patched//./\\.} \\(count $((2 * t))\\)"
}

# run_kho_selftest FIRST SECOND: kho/init.c as upstream's kho/vmtest.sh
# runs it, the guest's /init, with a kernel image as /kernel.  It kexecs
# (kexec_file_load, no initramfs) with the same command line; vmtest.sh
# boots the same kernel twice, here the first is FIRST and the second
# SECOND, each vanilla-debug or patched-debug (the test module and its
# checks, CONFIG_TEST_KEXEC_HANDOVER and DEBUG_VM, are in the debug
# fragment).  The kernel's own test (lib/test_kho.c) preserves folios and
# an FDT in the first kernel and checks them in the second, which then
# finds no root file system and panics, as upstream's does; vmtest.sh
# judges by "KHO restore succeeded" alone.
run_kho_selftest() {
	require_selftests
	local first second rel1 rel2 img="$BATS_TEST_TMPDIR/kho-initrd" root="$BATS_TEST_TMPDIR/kho-root"

	first=$(debug_kernel "$1") || die "building the $1-debug kernel failed"
	second=$(debug_kernel "$2") || die "building the $2-debug kernel failed"
	for k in "$first" "$second"; do
		grep -q '^CONFIG_TEST_KEXEC_HANDOVER=y' "$k/.config" ||
			die "$k lacks CONFIG_TEST_KEXEC_HANDOVER"
	done
	# vmtest.sh's cpio list.
	rm -rf "$root"
	mkdir -p "$root/dev" "$root/proc" "$root/debugfs"
	mknod "$root/dev/console" c 5 1
	cp "$SELFTESTS/bin/kho-init" "$root/init"
	cp "$second/bzImage" "$root/kernel"
	(cd "$root" && find . | cpio -o -H newc --quiet) > "$img"
	run_vm --kernel "$first/bzImage" --initrd "$img" --script /dev/null \
		--timeout 600
	# The second kernel has no initramfs: its end is the expected panic.
	assert_vm_fails 'guest kernel panicked: .*(VFS: Unable to mount root fs|No working init found)'
	# Both kernels ran, in order, and the second restored what the first
	# preserved.
	rel1=$(kernel_release_of "$first/bzImage")
	rel2=$(kernel_release_of "$second/bzImage")
	[ "$(grep -a -o 'Linux version [^ ]*' "$VM_LOG" | cut -d' ' -f3 | paste -sd' ' -)" = "$rel1 $rel2" ] ||
		die "expected the boots $rel1 then $rel2 in $VM_LOG"
	assert_log "KHO: exec from: ${rel1//./\\.} \\(count 1\\)"
	assert_log 'test_kho: KHO restore succeeded'
	! grep -aq 'KHO restore failed' "$VM_LOG" || die "test_kho: KHO restore failed"
	assert_kernel_clean
}

@test "upstream: kho selftest (init.c, test_kho) across kexec, vanilla-debug -> patched-debug" {
	run_kho_selftest vanilla patched
}

@test "upstream: kho selftest (init.c, test_kho) across kexec, patched-debug -> vanilla-debug" {
	run_kho_selftest patched vanilla
}

# The control of the hang check: a "selftest" whose second test never
# ends must fail the suite's way, naming that test, while the first one's
# result is kept.  (A real D-state hang also gets the kernel's reports of
# blocked tasks; this one sleeps, so it only names the test.)
@test "upstream: a test that hangs fails naming it (control)" {
	local ctl="$BATS_TEST_TMPDIR/hang-control"

	cat > "$ctl" <<-'EOS'
	#!/bin/sh
	echo "TAP version 13"
	echo "1..2"
	echo "#  RUN           ctl.returns ..."
	echo "#            OK  ctl.returns"
	echo "ok 1 ctl.returns"
	echo "#  RUN           ctl.never_returns ..."
	exec sleep 600
	EOS
	chmod +x "$ctl"
	printf 'KHOTEST_SELFTESTS=hang-control\nKHOTEST_TEST_TIMEOUT=5\n' > "$BATS_TEST_TMPDIR/upstream.env"
	run_vm --kernel vanilla --script "$GUEST_DIR/upstream-selftests.sh" \
		--file "$BATS_TEST_TMPDIR/upstream.env:/test/upstream.env" \
		--file "$ctl:/test/selftests/hang-control" --timeout 120
	assert_vm_fails 'guest reported: hung: hang-control:ctl\.never_returns'
	assert_log 'KHOTEST: RESULT hang-control ctl\.returns pass'
	# The suite's own check says the same.
	run assert_no_hang
	[ "$status" -ne 0 ] || die "assert_no_hang passed a hung guest"
	grep -q 'hung: hang-control ctl\.never_returns' <<<"$output" ||
		die "assert_no_hang did not name the test: $output"
}
