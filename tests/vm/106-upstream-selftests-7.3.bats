#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# Upstream's own selftests on the 7.3 kernels (issue #19): 7.3.4's
# iommufd, iommufd_fail_nth and liveupdate, built from 7.3.4's own tree
# (tests/rig/build-selftests.sh 7.3.4), on vanilla 7.3.4 with the results
# below, and on 7.3.4 with patches/7.3/series with the same results, test
# for test: the port of the series breaks nothing upstream tests.
#
# Part of the kernel-version matrix: `make check-matrix` runs it, `make
# check` does not (its kernels are not built on a cold run;
# docs/testing.md).

load helpers
load upstream

# What vanilla 7.3.4 gives on the rig's kernel config; as 095 says for
# 7.2.13, everything else must pass.  Besides 7.2.13's five skips, 7.3.4
# fails its eight dmabuf tests on every kernel: its selftest mock's
# IOMMU_TEST_OP_DMABUF_GET (drivers/iommu/iommufd/selftest.c,
# iommufd_test_dmabuf_get()) installs the new dmabuf's fd and returns 0
# where 7.2.13 returned the fd, so the test maps its fd 0 instead of the
# dmabuf (docs/testing.md).
IOMMUFD_PLAN=246
IOMMUFD_PASS=233
FAIL_NTH_PLAN=8
FAIL_NTH_PASS=8
LIVEUPDATE_PLAN=15
LIVEUPDATE_PASS=15
EXPECTED_NOT_PASSING=(
	"iommufd iommufd_ioas.mock_domain.dmabuf_revoke fail"
	"iommufd iommufd_ioas.mock_domain.dmabuf_simple fail"
	"iommufd iommufd_ioas.mock_domain_limit.dmabuf_revoke fail"
	"iommufd iommufd_ioas.mock_domain_limit.dmabuf_simple fail"
	"iommufd iommufd_ioas.no_domain.dmabuf_revoke fail"
	"iommufd iommufd_ioas.no_domain.dmabuf_simple fail"
	"iommufd iommufd_ioas.two_mock_domain.dmabuf_revoke fail"
	"iommufd iommufd_ioas.two_mock_domain.dmabuf_simple fail"
	"${NO_VIOMMU_SKIPS[@]}"
)

setup_file() {
	SELFTESTS=$("$KHO_TOP/tests/rig/build-selftests.sh" 7.3.4) || SELFTESTS=
	export SELFTESTS
}

@test "upstream 7.3.4: iommufd, iommufd_fail_nth, liveupdate on vanilla 7.3.4 give the expected results" {
	local img

	img=$(kernel_image vanilla-7.3.4) || die "no vanilla-7.3.4 kernel"
	run_harness_tests "$img"
	assert_log 'KHOTEST: BOOT stage=1 kernel=7\.3\.4-kho-a([[:space:]]|$)'
	results > "$BATS_FILE_TMPDIR/vanilla.results"
	assert_expected_results
}

@test "upstream 7.3.4: iommufd, iommufd_fail_nth, liveupdate on patched 7.3.4: the same results, test for test" {
	local img

	img=$(kernel_image patched-7.3.4) || die "no patched-7.3.4 kernel"
	run_harness_tests "$img"
	assert_log 'KHOTEST: BOOT stage=1 kernel=7\.3\.4-kho-b([[:space:]]|$)'
	if [ -s "$BATS_FILE_TMPDIR/vanilla.results" ]; then
		diff "$BATS_FILE_TMPDIR/vanilla.results" <(results) > "$BATS_TEST_TMPDIR/diff" || {
			sed 's/^/#   /' "$BATS_TEST_TMPDIR/diff" >&2
			die "patched and vanilla differ (< vanilla, > patched)"
		}
	fi
	assert_expected_results
}
