// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of the poison scan (lib/poison.c) against fake pagemap,
 * kpageflags and memfd reads: present pages judged by their frame's
 * KPF_HWPOISON, unmapped ones by the memfd's EIO, adjacent pages merged,
 * and each failure named.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <stdbool.h>
#include <sys/types.h>

#include "poison.h"
#include "ktest.h"

enum { PAGEMAP = 10, KPAGEFLAGS = 11, MEMFD = 12 };
#define PS 4096
#define VA 0x7f0000000000ull
#define NPAGES 1100	/* more than one batch of pagemap entries */

struct fake {
	uint64_t pme[NPAGES];		/* the VMM's pagemap at VA */
	uint64_t kpf[64];		/* kpageflags by pfn */
	bool eio[NPAGES];		/* the memfd page reads EIO */
	int fail_fd, fail_err;		/* that file's reads fail */
	bool short_pagemap;
	int memfd_reads;
};

static ssize_t fake_pread(void *ctx, int fd, void *buf, size_t len, off_t off)
{
	struct fake *f = ctx;
	uint64_t first;

	if (fd == f->fail_fd)
		return -f->fail_err;
	switch (fd) {
	case PAGEMAP:
		first = (uint64_t)off / 8 - VA / PS;
		if (off % 8 || len % 8 || first + len / 8 > NPAGES)
			return -EINVAL;
		memcpy(buf, &f->pme[first], len);
		return f->short_pagemap ? (ssize_t)len - 8 : (ssize_t)len;
	case KPAGEFLAGS:
		if (off % 8 || len != 8 || (uint64_t)off / 8 >= 64)
			return -EINVAL;
		memcpy(buf, &f->kpf[off / 8], 8);
		return 8;
	case MEMFD:
		f->memfd_reads++;
		if ((uint64_t)off / PS >= NPAGES + 100)
			return 0;
		if ((uint64_t)off / PS >= 100 && f->eio[off / PS - 100])
			return -EIO;
		memset(buf, 0, len);
		return (ssize_t)len;
	}
	return -EBADF;
}

static const struct kho_poison_io fake_io = { .pread = fake_pread };

/* The mapping: NPAGES pages at VA, from memfd offset 100 pages. */
static const struct kho_poison_src src = {
	.pagemap = PAGEMAP, .kpageflags = KPAGEFLAGS, .memfd = MEMFD,
	.va = VA, .offset = 100 * PS, .length = NPAGES * PS, .page_size = PS,
};

static void fake_init(struct fake *f)
{
	size_t i;

	memset(f, 0, sizeof(*f));
	f->fail_fd = -1;
	/* Every page present on a good frame, pfn 1. */
	for (i = 0; i < NPAGES; i++)
		f->pme[i] = KHO_PM_PRESENT | 1;
}

KTEST(poison_scan_finds_and_merges)
{
	struct kho_poison_list l = { 0 };
	struct kho_diag diag = { "" };
	struct kho_poison_src next = src;
	struct fake f;

	fake_init(&f);
	/*
	 * Pages 1 and 2 on poisoned frames (pfn 2, 3), page 3 unmapped and
	 * the memfd says EIO: one range of 3 pages.  Page 4 on a frame with
	 * every other flag set, page 5 unmapped but readable.  Page 600 (in
	 * the second batch of pagemap) a hwpoison swap entry, the memfd EIO.
	 */
	f.kpf[2] = 1ull << KHO_KPF_HWPOISON;
	f.kpf[3] = 1ull << KHO_KPF_HWPOISON | 1;
	f.kpf[4] = ~(1ull << KHO_KPF_HWPOISON);
	f.pme[1] = KHO_PM_PRESENT | 2;
	f.pme[2] = KHO_PM_PRESENT | 3;
	f.pme[3] = 0;
	f.eio[3] = true;
	f.pme[4] = KHO_PM_PRESENT | 4;
	f.pme[5] = 0;
	f.pme[600] = KHO_PM_SWAP | 0x1234;
	f.eio[600] = true;
	ASSERT_EQ(0, kho_poison_scan(&fake_io, &f, &src, &l, &diag));
	ASSERT_EQ(2, l.nr);
	ASSERT_EQ(101 * PS, l.r[0].offset);
	ASSERT_EQ(3 * PS, l.r[0].length);
	ASSERT_EQ(700 * PS, l.r[1].offset);
	ASSERT_EQ(PS, l.r[1].length);
	ASSERT_EQ(3, f.memfd_reads);	/* only the unmapped pages */

	/* The next mapping's first page, poisoned, extends the last range. */
	next.offset = 701 * PS;
	next.length = PS;
	f.pme[0] = 0;
	f.eio[601] = true;
	ASSERT_EQ(0, kho_poison_scan(&fake_io, &f, &next, &l, &diag));
	ASSERT_EQ(2, l.nr);
	ASSERT_EQ(2 * PS, l.r[1].length);
	kho_poison_list_free(&l);
	ASSERT_EQ(0, l.nr);
}

KTEST(poison_scan_errors_named)
{
	struct kho_poison_list l = { 0 };
	struct kho_diag diag = { "" };
	struct kho_poison_src bad = src;
	struct fake f;

	fake_init(&f);
	bad.va += 1;
	ASSERT_EQ(-EINVAL, kho_poison_scan(&fake_io, &f, &bad, &l, &diag));
	ASSERT_STR_CONTAINS(diag.msg, "not aligned to pages of 4096 bytes");
	bad = src;
	bad.page_size = 3000;
	ASSERT_EQ(-EINVAL, kho_poison_scan(&fake_io, &f, &bad, &l, &diag));

	/* Not root: pagemap shows present pages without their frame. */
	f.pme[7] = KHO_PM_PRESENT;
	ASSERT_EQ(-EPERM, kho_poison_scan(&fake_io, &f, &src, &l, &diag));
	ASSERT_STR_CONTAINS(diag.msg, "memfd offset 0x6b000: pagemap hides the frame");

	fake_init(&f);
	f.short_pagemap = true;
	ASSERT_EQ(-EIO, kho_poison_scan(&fake_io, &f, &src, &l, &diag));
	ASSERT_STR_CONTAINS(diag.msg, "poison: pagemap of 0x7f0000000000: EIO");

	fake_init(&f);
	f.fail_fd = KPAGEFLAGS;
	f.fail_err = EACCES;
	ASSERT_EQ(-EACCES, kho_poison_scan(&fake_io, &f, &src, &l, &diag));
	ASSERT_STR_CONTAINS(diag.msg, "/proc/kpageflags: pfn 0x1: EACCES");

	fake_init(&f);
	f.pme[9] = 0;
	f.fail_fd = MEMFD;
	f.fail_err = EBADF;
	ASSERT_EQ(-EBADF, kho_poison_scan(&fake_io, &f, &src, &l, &diag));
	ASSERT_STR_CONTAINS(diag.msg, "memfd offset 0x6d000: read: EBADF");
	ASSERT_EQ(0, l.nr);
	kho_poison_list_free(&l);
}
