// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of the poison scan (lib/poison.c) against fake pagemap,
 * kpageflags and memfd reads: present pages judged by their frame's
 * KPF_HWPOISON, unmapped ones by the memfd's EIO, adjacent pages merged,
 * and each failure named; the VMM's mappings found in a fake /proc; a
 * real memfd punched.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdbool.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "poison.h"
#include "cpr_state.h"
#include "fstree.h"
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
	/*
	 * Page 800: a PTE marker poisoned by UFFDIO_POISON over a good page
	 * (an adopted poison list); page 801 a guard marker, not poison.
	 */
	f.pme[800] = KHO_PM_SWAP | KHO_PM_PTE_MARKER |
		     KHO_PTE_MARKER_POISONED << KHO_PM_SWAP_TYPE_SHIFT;
	f.pme[801] = KHO_PM_SWAP | KHO_PM_PTE_MARKER |
		     (1ull << 2) << KHO_PM_SWAP_TYPE_SHIFT;
	ASSERT_EQ(0, kho_poison_scan(&fake_io, &f, &src, &l, &diag));
	ASSERT_EQ(3, l.nr);
	ASSERT_EQ(900 * PS, l.r[2].offset);
	ASSERT_EQ(PS, l.r[2].length);
	l.nr = 2;
	ASSERT_EQ(101 * PS, l.r[0].offset);
	ASSERT_EQ(3 * PS, l.r[0].length);
	ASSERT_EQ(700 * PS, l.r[1].offset);
	ASSERT_EQ(PS, l.r[1].length);
	ASSERT_EQ(4, f.memfd_reads);	/* only the unmapped pages */

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

/* A mapping with no pagemap: every page is judged by the memfd alone. */
KTEST(poison_scan_without_a_mapping_reads_the_memfd)
{
	struct kho_poison_list l = { 0 };
	struct kho_diag diag = { "" };
	struct kho_poison_src none = src;
	struct fake f;

	fake_init(&f);
	none.pagemap = -1;
	none.va = 0;
	f.eio[10] = true;
	f.kpf[1] = 1ull << KHO_KPF_HWPOISON;	/* never asked */
	ASSERT_EQ(0, kho_poison_scan(&fake_io, &f, &none, &l, &diag));
	ASSERT_EQ(1, l.nr);
	ASSERT_EQ(110 * PS, l.r[0].offset);
	ASSERT_EQ(PS, l.r[0].length);
	ASSERT_EQ(NPAGES, f.memfd_reads);
	kho_poison_list_free(&l);
}

static char proc[64];

KTEST(poison_find_reads_the_vmms_mappings)
{
	struct kho_memfd m = { .token = 7, .name = "guest-ram" };
	char path[128];
	struct kho_diag diag = { "" };
	struct kho_poison *p;
	size_t nr;
	int fd = memfd_create("guest-ram", 0);

	ASSERT_TRUE(fd >= 0);
	ASSERT_EQ(0, ftruncate(fd, 32 * PS));
	/* The VMM maps pages 8..23; its page 5 (memfd page 13) is poisoned. */
	fstree_vmm_proc(proc, sizeof(proc), fd, 0x10000000, 8 * PS, 16, 5, 3);
	ASSERT_EQ(0, kho_poison_find(proc, 4242, &m, &fd, 1, &p, &nr, &diag));
	ASSERT_EQ(1, nr);
	ASSERT_EQ(7, p[0].memfd_token);
	ASSERT_EQ(13 * PS, p[0].offset);
	ASSERT_EQ(PS, p[0].length);
	free(p);
	fstree_rm(proc);

	/* A good frame: nothing, and the unmapped pages read fine. */
	fstree_vmm_proc(proc, sizeof(proc), fd, 0x10000000, 8 * PS, 16, 5, 2);
	ASSERT_EQ(0, kho_poison_find(proc, 4242, &m, &fd, 1, &p, &nr, &diag));
	ASSERT_EQ(0, nr);
	ASSERT_TRUE(p == NULL);

	/*
	 * No pagemap, no kpageflags (no CONFIG_PROC_PAGE_MONITOR): judged
	 * by the memfd alone, which reads fine; and without
	 * CONFIG_MEMORY_FAILURE either, nothing is looked for.
	 */
	snprintf(path, sizeof(path), "%s/4242/pagemap", proc);
	ASSERT_EQ(0, unlink(path));
	snprintf(path, sizeof(path), "%s/kpageflags", proc);
	ASSERT_EQ(0, unlink(path));
	ASSERT_EQ(0, kho_poison_find(proc, 4242, &m, &fd, 1, &p, &nr, &diag));
	ASSERT_EQ(0, nr);
	snprintf(path, sizeof(path), "%s/sys/vm/memory_failure_early_kill", proc);
	ASSERT_EQ(0, unlink(path));
	ASSERT_EQ(0, kho_poison_find(proc, 4242, &m, &fd, 1, &p, &nr, &diag));
	ASSERT_EQ(0, nr);

	/* No such VMM: named. */
	ASSERT_EQ(-ENOENT, kho_poison_find(proc, 4243, &m, &fd, 1, &p, &nr,
					   &diag));
	ASSERT_STR_CONTAINS(diag.msg, "/4243/maps: No such file or directory");
	fstree_rm(proc);
	close(fd);
}

/*
 * A QEMU's guest RAM, as cpr-relay looks for poison in it before the
 * guest stops: the CPR state's memfds (its eventfd left out), each
 * token its index in the state, so that a poisoned range names the fd.
 */
KTEST(poison_find_in_a_qemus_cpr_state)
{
	struct kho_cpr_fd cfd[3] = {
		{ .name = "pc.bios" }, { .name = "irq-notifier" }, { .name = "ram0" },
	};
	struct kho_cpr_state st = { .nr_fds = 3, .fds = cfd };
	struct kho_diag diag = { "" };
	struct kho_memfd *m;
	struct kho_poison *p;
	size_t nr, nr_p;
	int *fds;

	cfd[0].fd = memfd_create("pc.bios", 0);
	cfd[1].fd = eventfd(0, 0);
	cfd[2].fd = memfd_create("memory-backend-memfd", 0);
	ASSERT_TRUE(cfd[0].fd >= 0 && cfd[1].fd >= 0 && cfd[2].fd >= 0);
	ASSERT_EQ(0, ftruncate(cfd[2].fd, 32 * PS));
	ASSERT_EQ(0, kho_cpr_state_memfds(&st, &m, &fds, &nr));
	ASSERT_EQ(2, nr);
	ASSERT_EQ(0, m[0].token);
	ASSERT_TRUE(!strcmp(m[0].name, "pc.bios"));
	ASSERT_EQ(2, m[1].token);
	ASSERT_TRUE(!strcmp(m[1].name, "ram0"));
	ASSERT_EQ(cfd[2].fd, fds[1]);

	/* QEMU maps ram0's pages 0..15; its page 9 sits on a bad frame. */
	fstree_vmm_proc(proc, sizeof(proc), cfd[2].fd, 0x7f0000000000, 0, 16, 9, 3);
	ASSERT_EQ(0, kho_poison_find(proc, 4242, m, fds, nr, &p, &nr_p, &diag));
	ASSERT_EQ(1, nr_p);
	ASSERT_TRUE(!strcmp(cfd[p[0].memfd_token].name, "ram0"));
	ASSERT_EQ(9 * PS, p[0].offset);
	ASSERT_EQ(PS, p[0].length);
	free(p);
	fstree_rm(proc);
	free(m);
	free(fds);

	/* No memfd at all: an empty table, nothing to look in. */
	st.nr_fds = 1;
	st.fds = &cfd[1];
	ASSERT_EQ(0, kho_cpr_state_memfds(&st, &m, &fds, &nr));
	ASSERT_EQ(0, nr);
	ASSERT_TRUE(m == NULL && fds == NULL);
	close(cfd[0].fd);
	close(cfd[1].fd);
	close(cfd[2].fd);
}

KTEST(poison_punch_leaves_a_hole_of_zeroes)
{
	struct kho_poison p = { 7, PS, PS };
	struct kho_diag diag = { "" };
	char buf[3 * PS];
	struct stat st;
	int fd = memfd_create("guest-ram", MFD_ALLOW_SEALING), i;

	ASSERT_TRUE(fd >= 0);
	memset(buf, 0xa5, sizeof(buf));
	ASSERT_EQ((ssize_t)sizeof(buf), pwrite(fd, buf, sizeof(buf), 0));
	ASSERT_EQ(0, kho_poison_punch(fd, &p, &diag));
	ASSERT_EQ((ssize_t)sizeof(buf), pread(fd, buf, sizeof(buf), 0));
	for (i = 0; i < 3 * PS; i++)
		ASSERT_EQ(i >= PS && i < 2 * PS ? 0 : 0xa5, (uint8_t)buf[i]);
	ASSERT_EQ(0, fstat(fd, &st));
	ASSERT_EQ(3 * PS, st.st_size);
	/* A memfd sealed against writes refuses: said, with the range. */
	ASSERT_EQ(0, fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE));
	ASSERT_EQ(-EPERM, kho_poison_punch(fd, &p, &diag));
	ASSERT_STR_CONTAINS(diag.msg, "poison: memfd token 7: punching 0x1000+0x1000 out: Operation not permitted");
	close(fd);
}

static sigjmp_buf sigbus_jmp;
static volatile int sigbus_si_code;
/*
 * x86's do_sigbus() says BUS_MCEERR_AR for VM_FAULT_HWPOISON only with
 * CONFIG_MEMORY_FAILURE (whose sysctl tells), BUS_ADRERR without.
 */
static int expected_si_code;

static void sigbus_code(int sig, siginfo_t *si, void *uc)
{
	sigbus_si_code = si->si_code;
	siglongjmp(sigbus_jmp, 1);
}

/*
 * Reads @addr here (the markers are this mapping's: a fork's copy of a
 * shared mapping starts without PTEs): 42 = SIGBUS with the si_code a
 * memory failure gives, 0 = it read 0xa5, anything else wrong.
 */
static int read_here(volatile const uint8_t *addr)
{
	struct sigaction sa = { .sa_sigaction = sigbus_code,
				.sa_flags = SA_SIGINFO }, old;
	int ret;

	sigbus_si_code = 0;
	sigaction(SIGBUS, &sa, &old);
	if (sigsetjmp(sigbus_jmp, 1))
		ret = sigbus_si_code == expected_si_code ? 42 : 100 + sigbus_si_code;
	else
		ret = *addr == 0xa5 ? 0 : 44;
	sigaction(SIGBUS, &old, NULL);
	return ret;
}

/*
 * The VMM's side after the kexec, on this kernel: a mapping of a memfd
 * poisoned again by UFFDIO_POISON faults with BUS_MCEERR_AR on exactly
 * the listed pages; the memfd itself (and its other pages) read as before.
 */
KTEST(poison_apply_makes_the_mapping_fail_like_a_memory_failure)
{
	struct kho_poison list[] = { { 6, 0, PS }, { 7, 2 * PS, PS },
				     { 7, 9 * PS, 2 * PS } };
	struct kho_diag diag = { "" };
	uint8_t buf[PS], *va;
	size_t pages;
	int fd = memfd_create("guest-ram", 0), i;

	ASSERT_TRUE(fd >= 0);
	expected_si_code = access("/proc/sys/vm/memory_failure_early_kill", F_OK) ?
			   BUS_ADRERR : BUS_MCEERR_AR;
	printf("#   this kernel: SIGBUS %s expected\n",
	       expected_si_code == BUS_MCEERR_AR ? "BUS_MCEERR_AR" :
	       "BUS_ADRERR (no CONFIG_MEMORY_FAILURE)");
	memset(buf, 0xa5, sizeof(buf));
	for (i = 0; i < 8; i++)
		ASSERT_EQ((ssize_t)PS, pwrite(fd, buf, PS, i * PS));
	/* The VMM maps memfd pages 1..8 of token 7. */
	va = mmap(NULL, 8 * PS, PROT_READ | PROT_WRITE, MAP_SHARED, fd, PS);
	ASSERT_TRUE(va != MAP_FAILED);
	ASSERT_EQ(0, kho_poison_apply(list, 3, 7, va, PS, 8 * PS, &pages,
				      &diag));
	ASSERT_EQ(1, pages);	/* token 6 is another memfd, 9.. unmapped */
	ASSERT_EQ(42, read_here(va + PS));		/* memfd page 2 */
	ASSERT_EQ(42, read_here(va + 2 * PS - 1));
	ASSERT_EQ(0, read_here(va));		/* its neighbours */
	ASSERT_EQ(0, read_here(va + 2 * PS));
	ASSERT_EQ((ssize_t)PS, pread(fd, buf, PS, 2 * PS));
	ASSERT_EQ(0xa5, buf[0]);
	/* A page the VMM touched already cannot be poisoned: said. */
	ASSERT_EQ(0xa5, va[3 * PS]);
	list[1].offset = 4 * PS;
	ASSERT_EQ(-EEXIST, kho_poison_apply(list, 3, 7, va, PS, 8 * PS,
					    &pages, &diag));
	ASSERT_STR_CONTAINS(diag.msg, "memfd token 7 0x4000+0x1000 at ");
	ASSERT_STR_CONTAINS(diag.msg, "UFFDIO_POISON: File exists (the page is mapped already");
	munmap(va, 8 * PS);
	close(fd);
}
