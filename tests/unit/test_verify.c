// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of lib/verify.c that need no iommufd: the allow-list rules
 * against the usable ranges IOMMU_IOAS_IOVA_RANGES reports, and the
 * model of the kernel's automatic IOVA allocation that the allow-list
 * probe is checked against (drivers/iommu/iommufd/io_pagetable.c:120-181).
 */
#include <stdint.h>

#include "ktest.h"
#include "verify.h"

#define ALL { 0, UINT64_MAX }

/* An IOAS with no device: IOVA_RANGES reports the whole 64-bit space. */
KTEST(allowed_ranges_with_holes_pass_in_an_ioas_without_device)
{
	struct kho_iova_range allowed[] = { { 0x10000, 0x1ffff },
					    { 0x40000, 0x7ffff } };
	struct kho_iova_range usable[] = { ALL };
	struct kho_ioas ioas = { .id = 1, .nr_allowed = 2,
				 .allowed = allowed };
	struct kho_diag diag = { "" };

	ASSERT_EQ(0, kho_verify_allowed(&ioas, usable, 1, &diag));
}

/* VT-d's MSI window is reserved once a device is attached. */
KTEST(allowed_ranges_must_avoid_reserved_regions)
{
	struct kho_iova_range allowed[] = { { 0x100000, 0xfffffff },
					    { 0xfe000000, 0xfeffffff } };
	struct kho_iova_range usable[] = { { 0, 0xfedfffff },
					   { 0xfef00000, UINT64_MAX } };
	struct kho_ioas ioas = { .id = 3, .nr_allowed = 1,
				 .allowed = allowed };
	struct kho_diag diag = { "" };

	ASSERT_EQ(0, kho_verify_allowed(&ioas, usable, 2, &diag));
	ioas.nr_allowed = 2;
	ASSERT_EQ(-EBADMSG, kho_verify_allowed(&ioas, usable, 2, &diag));
	ASSERT_STR_CONTAINS(diag.msg,
			    "allowed range 0xfe000000-0xfeffffff meets a reserved region");
}

/* The first range is full: the allocator must cross the hole. */
KTEST(auto_iova_crosses_a_hole_between_allowed_ranges)
{
	struct kho_iova_range allowed[] = { { 0x40000, 0x7ffff },
					    { 0x10000, 0x1ffff } };
	struct kho_mapping maps[] = { { 0x10000, 0x10000, 0, 7, 3 },
				      { 0x40000, 0x4000, 0x10000, 7, 3 } };
	struct kho_iova_range usable[] = { ALL };
	struct kho_ioas ioas = { .id = 2, .nr_allowed = 2, .allowed = allowed,
				 .nr_maps = 2, .maps = maps };
	uint64_t iova = 0;

	ASSERT_EQ(0, kho_verify_auto_iova(&ioas, usable, 1, 4096, &iova));
	ASSERT_EQ(0x44000, iova);
	/* Without the allow list the kernel would answer PAGE_SIZE. */
	ioas.nr_allowed = 0;
	ASSERT_EQ(0, kho_verify_auto_iova(&ioas, usable, 1, 4096, &iova));
	ASSERT_EQ(0x1000, iova);
}

KTEST(auto_iova_skips_reserved_regions_and_mappings)
{
	struct kho_iova_range usable[] = { { 0, 0x1fff },
					   { 0x10000, UINT64_MAX } };
	struct kho_mapping maps[] = { { 0x1000, 0x1000, 0, 7, 3 },
				      { 0x10000, 0x3000, 0, 7, 3 } };
	struct kho_ioas ioas = { .id = 2, .nr_maps = 2, .maps = maps };
	uint64_t iova = 0;

	ASSERT_EQ(0, kho_verify_auto_iova(&ioas, usable, 2, 4096, &iova));
	ASSERT_EQ(0x13000, iova);
}

/* interval_tree_span_iter joins touching ranges into one span. */
KTEST(auto_iova_joins_touching_allowed_ranges)
{
	struct kho_iova_range allowed[] = { { 0x1000, 0x17ff },
					    { 0x1800, 0x1fff },
					    { 0x5000, 0x5fff } };
	struct kho_iova_range usable[] = { ALL };
	struct kho_ioas ioas = { .id = 2, .nr_allowed = 3,
				 .allowed = allowed };
	uint64_t iova = 0;

	ASSERT_EQ(0, kho_verify_auto_iova(&ioas, usable, 1, 4096, &iova));
	ASSERT_EQ(0x1000, iova);
	/* Unaligned and too small alone: the next whole page is 0x5000. */
	allowed[1] = (struct kho_iova_range){ 0x1900, 0x1fff };
	ASSERT_EQ(0, kho_verify_auto_iova(&ioas, usable, 1, 4096, &iova));
	ASSERT_EQ(0x5000, iova);
}

KTEST(auto_iova_full_or_clipped_ranges_leave_no_space)
{
	struct kho_iova_range allowed[] = { { 0x10000, 0x10fff },
					    { 0, 0xfff },
					    { UINT64_MAX - 0xfff, UINT64_MAX } };
	struct kho_mapping maps[] = { { 0x10000, 0x1000, 0, 7, 3 } };
	struct kho_iova_range usable[] = { ALL };
	struct kho_ioas ioas = { .id = 2, .nr_allowed = 3, .allowed = allowed,
				 .nr_maps = 1, .maps = maps };
	uint64_t iova = 0;

	ASSERT_EQ(-ENOSPC,
		  kho_verify_auto_iova(&ioas, usable, 1, 4096, &iova));
}
