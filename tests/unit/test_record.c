// SPDX-License-Identifier: GPL-2.0
/* Unit tests of the recorder (lib/record.c) and the journal socket, with real memfds. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/iommufd.h>
#include <pwd.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "handoff.h"
#include "journal.h"
#include "journal_sock.h"
#include "ktest.h"
#include "record.h"

#define PG 4096UL

/*
 * An iommufd stand-in: /dev/null, declared an iommufd through the linked
 * API.  The ioctls are not issued (the host has no /dev/iommu); the
 * recorder journals arguments shaped as the kernel leaves them.
 */
static int fake_iommufd(struct kho_record *rec)
{
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (fd >= 0)
		kho_record_fd_set_kind(rec, fd, KHO_RECORD_FD_IOMMUFD);
	return fd;
}

static int note_ioas_alloc(struct kho_record *rec, int fd, uint32_t id)
{
	struct iommu_ioas_alloc a = { .size = sizeof(a), .out_ioas_id = id };

	return kho_record_note(rec, fd, IOMMU_IOAS_ALLOC, &a, NULL);
}

static int note_map(struct kho_record *rec, int fd, uint32_t ioas,
		    void *va, uint64_t len, uint64_t iova)
{
	struct iommu_ioas_map m = {
		.size = sizeof(m),
		.flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
			 IOMMU_IOAS_MAP_WRITEABLE,
		.ioas_id = ioas,
		.user_va = (uintptr_t)va,
		.length = len,
		.iova = iova,
	};

	return kho_record_note(rec, fd, IOMMU_IOAS_MAP, &m, NULL);
}

static int note_map_file(struct kho_record *rec, int fd, uint32_t ioas,
			 int memfd, uint64_t start, uint64_t len,
			 uint64_t iova)
{
	struct iommu_ioas_map_file m = {
		.size = sizeof(m),
		.flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE,
		.ioas_id = ioas,
		.fd = memfd,
		.start = start,
		.length = len,
		.iova = iova,
	};

	return kho_record_note(rec, fd, IOMMU_IOAS_MAP_FILE, &m, NULL);
}

/* An UNMAP as the VMM passes it, and what the recorder saves before it. */
static void prepare_unmap(struct iommu_ioas_unmap *u,
			  struct kho_record_call *call, uint32_t ioas,
			  uint64_t iova, uint64_t len)
{
	*u = (struct iommu_ioas_unmap){
		.size = sizeof(*u), .ioas_id = ioas, .iova = iova,
		.length = len,
	};
	kho_record_prepare(IOMMU_IOAS_UNMAP, u, call);
}

static int note_unmap(struct kho_record *rec, int fd, uint32_t ioas,
		      uint64_t iova, uint64_t len, uint64_t unmapped)
{
	struct iommu_ioas_unmap u;
	struct kho_record_call call;

	prepare_unmap(&u, &call, ioas, iova, len);
	u.length = unmapped;	/* what the kernel writes back */
	return kho_record_note(rec, fd, IOMMU_IOAS_UNMAP, &u, &call);
}

static int memfd_sized(const char *name, size_t size)
{
	int fd = memfd_create(name, MFD_CLOEXEC);

	if (fd >= 0 && ftruncate(fd, size) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The journal as the snapshot carries it. */
static int journal_of(struct kho_record *rec, struct kho_journal_snapshot *h)
{
	return kho_record_snapshot(rec, h, false);
}

KTEST(va_resolves_to_memfd_offsets)
{
	struct kho_record *rec;
	struct kho_journal_snapshot h;
	int iommufd, mfd;
	char *base, *second;

	ASSERT_EQ(0, kho_record_new(&rec));
	iommufd = fake_iommufd(rec);
	mfd = memfd_sized("guest-ram", 16 * PG);
	ASSERT_TRUE(iommufd >= 0 && mfd >= 0);
	base = mmap(NULL, 8 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	/* a second window on the same memfd, at file offset 8 pages */
	second = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, mfd,
		      8 * PG);
	ASSERT_TRUE(base != MAP_FAILED && second != MAP_FAILED);
	ASSERT_EQ(0, note_ioas_alloc(rec, iommufd, 1));
	ASSERT_EQ(0, note_map(rec, iommufd, 1, base, 2 * PG, 0x100000));
	ASSERT_EQ(0, note_map(rec, iommufd, 1, base + 3 * PG, PG, 0x200000));
	ASSERT_EQ(0, note_map(rec, iommufd, 1, second + PG, 2 * PG, 0x300000));
	/* split the first vma in two: a range across both still resolves */
	ASSERT_EQ(0, mprotect(base + 5 * PG, PG, PROT_READ));
	kho_record_maps_changed(rec);
	ASSERT_EQ(0, note_map(rec, iommufd, 1, base + 4 * PG, 3 * PG, 0x400000));
	ASSERT_EQ(0, kho_record_status(rec, NULL));

	ASSERT_EQ(0, journal_of(rec, &h));
	ASSERT_EQ(5, h.journal.nr);
	ASSERT_EQ(5, h.journal_length);
	ASSERT_EQ(1, h.state.nr_memfd);
	ASSERT_EQ(16 * PG, h.state.memfd[0].size);
	ASSERT_STR_CONTAINS(h.state.memfd[0].name, "guest-ram");
	ASSERT_EQ(KHO_OP_IOAS_MAP_FILE, h.journal.recs[1].op);
	ASSERT_EQ(h.state.memfd[0].token, h.journal.recs[1].map.memfd_token);
	ASSERT_EQ(0, h.journal.recs[1].map.offset);
	ASSERT_EQ(3 * PG, h.journal.recs[2].map.offset);
	ASSERT_EQ(9 * PG, h.journal.recs[3].map.offset);
	ASSERT_EQ(0x300000, h.journal.recs[3].map.iova);
	ASSERT_EQ(4 * PG, h.journal.recs[4].map.offset);
	ASSERT_EQ(3 * PG, h.journal.recs[4].map.length);
	kho_journal_snapshot_free(&h);

	/* the same VA now backed by another memfd: a new token, not a stale one */
	{
		int other = memfd_sized("other", 8 * PG);
		char *p;

		ASSERT_TRUE(other >= 0);
		p = mmap(base, 8 * PG, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_FIXED, other, 0);
		ASSERT_TRUE(p == base);
		kho_record_maps_changed(rec);
		ASSERT_EQ(0, note_map(rec, iommufd, 1, base, PG, 0x500000));
		ASSERT_EQ(0, journal_of(rec, &h));
		ASSERT_EQ(2, h.state.nr_memfd);
		ASSERT_EQ(h.state.memfd[1].token,
			  h.journal.recs[5].map.memfd_token);
		ASSERT_TRUE(h.state.memfd[0].token != h.state.memfd[1].token);
		kho_journal_snapshot_free(&h);
		close(other);
	}
	munmap(base, 8 * PG);
	munmap(second, 4 * PG);
	close(mfd);
	close(iommufd);
	kho_record_free(rec);
}

KTEST(anonymous_private_and_disk_are_refused_with_reason)
{
	struct kho_diag why = { "" };
	struct kho_record *rec;
	struct kho_journal_snapshot h;
	int iommufd, mfd, disk, shm;
	char *anon, *priv;
	char shm_path[64];

	ASSERT_EQ(0, kho_record_new(&rec));
	iommufd = fake_iommufd(rec);
	ASSERT_EQ(0, note_ioas_alloc(rec, iommufd, 1));

	anon = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(anon != MAP_FAILED);
	ASSERT_EQ(-EOPNOTSUPP, note_map(rec, iommufd, 1, anon, 4 * PG, 0x100000));
	ASSERT_EQ(-EOPNOTSUPP, kho_record_status(rec, &why));
	ASSERT_STR_CONTAINS(why.msg, "anonymous memory");
	ASSERT_STR_CONTAINS(why.msg, "IOAS 1: IOVA 0x100000+0x4000");
	/* unmapping the refused area makes the journal whole again ... */
	ASSERT_EQ(0, note_unmap(rec, iommufd, 1, 0x100000, 4 * PG, 4 * PG));
	ASSERT_EQ(0, kho_record_status(rec, NULL));
	/* ... and the UNMAP is not journaled: the map never was */
	ASSERT_EQ(0, journal_of(rec, &h));
	ASSERT_EQ(1, h.journal.nr);
	kho_journal_snapshot_free(&h);

	/* a private mapping of a memfd pins copy-on-write pages */
	mfd = memfd_sized("ram", 4 * PG);
	priv = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, mfd, 0);
	ASSERT_TRUE(priv != MAP_FAILED);
	ASSERT_EQ(-EOPNOTSUPP, note_map(rec, iommufd, 1, priv, PG, 0x200000));
	ASSERT_EQ(-EOPNOTSUPP, kho_record_status(rec, &why));
	ASSERT_STR_CONTAINS(why.msg, "private mapping");
	ASSERT_EQ(0, note_unmap(rec, iommufd, 1, 0, UINT64_MAX, PG));
	ASSERT_EQ(0, kho_record_status(rec, NULL));

	/* a file on disk: the test binary itself */
	disk = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	ASSERT_TRUE(disk >= 0);
	ASSERT_EQ(-EOPNOTSUPP, note_map_file(rec, iommufd, 1, disk, 0, PG,
					     0x300000));
	ASSERT_EQ(-EOPNOTSUPP, kho_record_status(rec, &why));
	ASSERT_STR_CONTAINS(why.msg, "file on disk");
	ASSERT_EQ(0, note_unmap(rec, iommufd, 1, 0x300000, PG, PG));

	/* a linked shmem file (/dev/shm): shmem, but LUO wants it unlinked */
	snprintf(shm_path, sizeof(shm_path), "/dev/shm/kho-test-%d", getpid());
	shm = open(shm_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (shm >= 0) {
		ASSERT_EQ(0, ftruncate(shm, PG));
		ASSERT_EQ(-EOPNOTSUPP, note_map_file(rec, iommufd, 1, shm, 0,
						     PG, 0x400000));
		unlink(shm_path);
		ASSERT_EQ(-EOPNOTSUPP, kho_record_status(rec, &why));
		ASSERT_STR_CONTAINS(why.msg, "linked shmem file");
		ASSERT_EQ(0, note_unmap(rec, iommufd, 1, 0x400000, PG, PG));
		close(shm);
	}
	ASSERT_EQ(0, kho_record_status(rec, NULL));
	munmap(anon, 4 * PG);
	munmap(priv, 4 * PG);
	close(mfd);
	close(disk);
	close(iommufd);
	kho_record_free(rec);
}

KTEST(hugetlb_memfd_is_refused_naming_hugetlb)
{
	struct kho_diag why = { "" };
	struct kho_record *rec;
	int iommufd, hfd;

	/*
	 * MFD_HUGETLB needs CONFIG_HUGETLBFS; creating the memfd needs no
	 * reserved huge page.  Without hugetlbfs there is nothing to refuse,
	 * and the case says so instead of passing on nothing.
	 */
	hfd = memfd_create("huge", MFD_HUGETLB | MFD_CLOEXEC);
	if (hfd < 0) {
		printf("# MFD_HUGETLB: %s: checking the refusal on the host is impossible\n",
		       strerror(errno));
		ASSERT_TRUE(errno == EINVAL || errno == ENOENT ||
			    errno == ENOSYS);
		return;
	}
	ASSERT_EQ(0, kho_record_new(&rec));
	iommufd = fake_iommufd(rec);
	ASSERT_EQ(0, note_ioas_alloc(rec, iommufd, 1));
	ASSERT_EQ(-EOPNOTSUPP, note_map_file(rec, iommufd, 1, hfd, 0,
					     2UL << 20, 0x200000));
	ASSERT_EQ(-EOPNOTSUPP, kho_record_status(rec, &why));
	ASSERT_STR_CONTAINS(why.msg, "hugetlb memfd");
	ASSERT_STR_CONTAINS(why.msg, "memfd-v2");
	close(hfd);
	close(iommufd);
	kho_record_free(rec);
}

/* UNMAP through the full path: no saved call, the length as passed in. */
static int note_unmap_full(struct kho_record *rec, int fd, uint32_t ioas,
			   uint64_t iova, uint64_t len)
{
	struct iommu_ioas_unmap u = {
		.size = sizeof(u), .ioas_id = ioas, .iova = iova,
		.length = len,
	};

	return kho_record_note(rec, fd, IOMMU_IOAS_UNMAP, &u, NULL);
}

/*
 * An UNMAP that removes exactly the map journaled last drops both, on the
 * fast path and the full one alike, nested pairs too; an UNMAP of any
 * other map, of more than one, or of another IOAS is journaled.  The
 * journal's length counts the pairs dropped.
 */
KTEST(churn_pairs_cancelling_at_the_tail_are_elided)
{
	struct kho_record *rec;
	struct kho_journal_snapshot h;
	int iommufd, mfd, i;

	ASSERT_EQ(0, kho_record_new(&rec));
	iommufd = fake_iommufd(rec);
	mfd = memfd_sized("guest-ram", 16 * PG);
	ASSERT_TRUE(iommufd >= 0 && mfd >= 0);
	ASSERT_EQ(0, note_ioas_alloc(rec, iommufd, 1));
	ASSERT_EQ(0, note_ioas_alloc(rec, iommufd, 2));
	for (i = 0; i < 100; i++) {
		ASSERT_EQ(0, note_map_file(rec, iommufd, 1, mfd, 0, PG, 0x100000));
		ASSERT_EQ(0, note_unmap(rec, iommufd, 1, 0x100000, PG, PG));
	}
	/* nested, the inner pair through the full path */
	ASSERT_EQ(0, note_map_file(rec, iommufd, 1, mfd, 0, PG, 0x100000));
	ASSERT_EQ(0, note_map_file(rec, iommufd, 1, mfd, PG, PG, 0x200000));
	ASSERT_EQ(0, note_unmap_full(rec, iommufd, 1, 0x200000, PG));
	ASSERT_EQ(0, note_unmap(rec, iommufd, 1, 0x100000, PG, PG));
	ASSERT_EQ(0, journal_of(rec, &h));
	ASSERT_EQ(2, h.journal.nr);
	ASSERT_EQ(2 + 2 * 102, h.journal_length);
	kho_journal_snapshot_free(&h);

	/* overlapped: the first UNMAP's map is not the last one */
	ASSERT_EQ(0, note_map_file(rec, iommufd, 1, mfd, 0, PG, 0x100000));
	ASSERT_EQ(0, note_map_file(rec, iommufd, 1, mfd, PG, PG, 0x200000));
	ASSERT_EQ(0, note_unmap(rec, iommufd, 1, 0x100000, PG, PG));
	ASSERT_EQ(0, note_unmap(rec, iommufd, 1, 0x200000, PG, PG));
	/* two maps at once */
	ASSERT_EQ(0, note_map_file(rec, iommufd, 1, mfd, 0, PG, 0x300000));
	ASSERT_EQ(0, note_map_file(rec, iommufd, 1, mfd, PG, PG, 0x301000));
	ASSERT_EQ(0, note_unmap(rec, iommufd, 1, 0x300000, 2 * PG, 2 * PG));
	/* the last map is another IOAS's, at the same IOVA */
	ASSERT_EQ(0, note_map_file(rec, iommufd, 1, mfd, 0, PG, 0x400000));
	ASSERT_EQ(0, note_map_file(rec, iommufd, 2, mfd, 0, PG, 0x400000));
	ASSERT_EQ(0, note_unmap(rec, iommufd, 1, 0x400000, PG, PG));
	/* a wider range than the map: only the map's bytes unmapped */
	ASSERT_EQ(0, note_map_file(rec, iommufd, 1, mfd, 0, 2 * PG, 0x500000));
	ASSERT_EQ(0, note_unmap(rec, iommufd, 1, 0x500000, 4 * PG, 2 * PG));
	ASSERT_EQ(0, journal_of(rec, &h));
	ASSERT_EQ(2 + 4 + 3 + 3 + 2, h.journal.nr);
	ASSERT_EQ(2 + 2 * 102 + 12, h.journal_length);
	ASSERT_EQ(KHO_OP_IOAS_UNMAP, h.journal.recs[4].op);
	ASSERT_EQ(KHO_OP_IOAS_UNMAP, h.journal.recs[5].op);
	ASSERT_EQ(KHO_OP_IOAS_UNMAP, h.journal.recs[8].op);
	ASSERT_EQ(KHO_OP_IOAS_UNMAP, h.journal.recs[11].op);
	ASSERT_EQ(KHO_OP_IOAS_UNMAP, h.journal.recs[13].op);
	kho_journal_snapshot_free(&h);
	close(mfd);
	close(iommufd);
	kho_record_free(rec);
}

/* An UNMAP the kernel refused with @err, as the VMM passed it. */
static void note_unmap_failed(struct kho_record *rec, int fd, uint32_t ioas,
			      uint64_t iova, uint64_t len, int err)
{
	struct iommu_ioas_unmap u;
	struct kho_record_call call;

	prepare_unmap(&u, &call, ioas, iova, len);
	kho_record_note_failed(rec, fd, IOMMU_IOAS_UNMAP, &call, err);
}

/*
 * A failed UNMAP may have removed the areas before the one it refused:
 * -ENOENT journals the UNMAP of exactly those, -EBUSY makes the journal
 * unpreservable when the range holds any, other errors change nothing.
 */
KTEST(failed_unmap_journals_what_the_kernel_removed)
{
	struct kho_record *rec;
	struct kho_journal_snapshot h;
	struct kho_diag why;
	int iommufd, mfd;

	ASSERT_EQ(0, kho_record_new(&rec));
	iommufd = fake_iommufd(rec);
	mfd = memfd_sized("guest-ram", 16 * PG);
	ASSERT_TRUE(iommufd >= 0 && mfd >= 0);
	ASSERT_EQ(0, note_ioas_alloc(rec, iommufd, 1));
	ASSERT_EQ(0, note_map_file(rec, iommufd, 1, mfd, 0, PG, 0x100000));
	ASSERT_EQ(0, note_map_file(rec, iommufd, 1, mfd, PG, PG, 0x101000));
	ASSERT_EQ(0, note_map_file(rec, iommufd, 1, mfd, 0, 2 * PG, 0x102000));
	/* nothing was removed: an argument error, an empty range, a cut first */
	note_unmap_failed(rec, iommufd, 1, 0x100000, 3 * PG, EINVAL);
	note_unmap_failed(rec, iommufd, 1, 0x200000, PG, ENOENT);
	note_unmap_failed(rec, iommufd, 1, 0x102000, PG, ENOENT);
	ASSERT_EQ(0, journal_of(rec, &h));
	ASSERT_EQ(4, h.journal.nr);
	kho_journal_snapshot_free(&h);
	/* the two whole areas before the one that sticks out went */
	note_unmap_failed(rec, iommufd, 1, 0x100000, 3 * PG, ENOENT);
	ASSERT_EQ(0, journal_of(rec, &h));
	ASSERT_EQ(5, h.journal.nr);
	ASSERT_EQ(KHO_OP_IOAS_UNMAP, h.journal.recs[4].op);
	ASSERT_EQ(0x100000, h.journal.recs[4].unmap.iova);
	ASSERT_EQ(2 * PG, h.journal.recs[4].unmap.length);
	ASSERT_EQ(2 * PG, h.journal.recs[4].unmap.out_length);
	kho_journal_snapshot_free(&h);
	ASSERT_EQ(0, kho_record_status(rec, NULL));
	/* busy: which areas went cannot be told */
	note_unmap_failed(rec, iommufd, 1, 0x100000, 8 * PG, EBUSY);
	ASSERT_EQ(-EOPNOTSUPP, kho_record_status(rec, &why));
	ASSERT_STR_CONTAINS(why.msg, "IOAS 1: UNMAP 0x100000+0x8000 failed");
	ASSERT_STR_CONTAINS(why.msg, "cannot tell which");
	close(mfd);
	close(iommufd);
	kho_record_free(rec);
}

KTEST(fd_identity_follows_dup_and_close)
{
	struct kho_record *rec;
	struct kho_journal_snapshot h;
	enum kho_record_fd_kind kind;
	int iommufd, dup_iommufd, a, b, c;

	ASSERT_EQ(0, kho_record_new(&rec));
	iommufd = fake_iommufd(rec);
	ASSERT_EQ(0, note_ioas_alloc(rec, iommufd, 1));
	a = memfd_sized("a", 4 * PG);
	ASSERT_TRUE(a >= 0);
	ASSERT_EQ(0, note_map_file(rec, iommufd, 1, a, 0, PG, 0x100000));
	b = dup(a);
	kho_record_fd_dup(rec, a, b);
	ASSERT_EQ(0, note_map_file(rec, iommufd, 1, b, PG, PG, 0x200000));
	close(a);
	kho_record_fd_closed(rec, a);
	/* a new memfd, likely on the number a had: a new token */
	c = memfd_sized("c", 4 * PG);
	kho_record_fd_opened(rec, c, NULL);
	ASSERT_EQ(0, note_map_file(rec, iommufd, 1, c, 0, PG, 0x300000));
	ASSERT_EQ(0, journal_of(rec, &h));
	ASSERT_EQ(4, h.journal.nr);
	ASSERT_EQ(2, h.state.nr_memfd);
	ASSERT_EQ(1, h.journal.recs[1].map.memfd_token);
	ASSERT_EQ(1, h.journal.recs[2].map.memfd_token);
	ASSERT_EQ(2, h.journal.recs[3].map.memfd_token);
	kho_journal_snapshot_free(&h);

	/* the iommufd is journaled through its dup after the original closes */
	dup_iommufd = fcntl(iommufd, F_DUPFD_CLOEXEC, 0);
	kho_record_fd_dup(rec, iommufd, dup_iommufd);
	close(iommufd);
	kho_record_fd_closed(rec, iommufd);
	ASSERT_EQ(0, kho_record_fd_kind(rec, dup_iommufd, &kind));
	ASSERT_EQ(KHO_RECORD_FD_IOMMUFD, kind);
	/* not the last map: journaled, not elided */
	ASSERT_EQ(0, note_unmap(rec, dup_iommufd, 1, 0x100000, PG, PG));
	ASSERT_EQ(0, journal_of(rec, &h));
	ASSERT_EQ(5, h.journal.nr);
	kho_journal_snapshot_free(&h);
	/* the recorder's own memfd references are not the process's to close */
	ASSERT_TRUE(!kho_record_fd_internal(rec, b));

	/* the last close of the iommufd destroys every object: start over */
	close(dup_iommufd);
	kho_record_fd_closed(rec, dup_iommufd);
	ASSERT_EQ(0, journal_of(rec, &h));
	ASSERT_EQ(0, h.journal.nr);
	ASSERT_EQ(0, h.state.nr_memfd);
	kho_journal_snapshot_free(&h);
	close(b);
	close(c);
	kho_record_free(rec);
}

/* libc's close_range, as the preload's wrapper passes it on */
static int libc_close_range(unsigned int first, unsigned int last, int flags)
{
	return close_range(first, last, flags);
}

KTEST(close_range_forgets_the_fds_it_closes_but_not_its_own)
{
	struct kho_record *rec;
	struct kho_journal_snapshot h;
	enum kho_record_fd_kind kind;
	int iommufd, memfd, p[2];

	ASSERT_EQ(0, kho_record_new(&rec));
	iommufd = fake_iommufd(rec);
	ASSERT_EQ(0, note_ioas_alloc(rec, iommufd, 1));
	memfd = memfd_sized("m", PG);
	ASSERT_TRUE(memfd > iommufd);
	/* the recorder now holds its own reference, at 512 or above */
	ASSERT_EQ(0, note_map_file(rec, iommufd, 1, memfd, 0, PG, 0x100000));

	/* CLOEXEC closes nothing now: the table stays */
	ASSERT_EQ(0, kho_record_close_range(rec, iommufd, ~0U,
					    CLOSE_RANGE_CLOEXEC,
					    libc_close_range));
	ASSERT_EQ(0, kho_record_fd_kind(rec, iommufd, &kind));
	ASSERT_EQ(KHO_RECORD_FD_IOMMUFD, kind);
	ASSERT_EQ(0, journal_of(rec, &h));
	ASSERT_EQ(2, h.journal.nr);
	kho_journal_snapshot_free(&h);

	/* "close every fd above the iommufd": the memfd goes, the reference stays */
	ASSERT_EQ(0, kho_record_close_range(rec, iommufd + 1, ~0U, 0,
					    libc_close_range));
	ASSERT_EQ(-1, fcntl(memfd, F_GETFD));
	ASSERT_EQ(0, kho_record_snapshot(rec, &h, true));
	ASSERT_EQ(1, h.state.nr_memfd);
	ASSERT_TRUE(h.memfd_fds[0] >= 0);
	kho_journal_snapshot_free(&h);

	/* first > last: EINVAL, as close_range(2) says, nothing forgotten */
	errno = 0;
	ASSERT_EQ(-1, kho_record_close_range(rec, 5, 4, 0, libc_close_range));
	ASSERT_EQ(EINVAL, errno);

	/* the iommufd's last close: the journal starts over... */
	ASSERT_EQ(0, kho_record_close_range(rec, iommufd, iommufd, 0,
					    libc_close_range));
	ASSERT_EQ(0, journal_of(rec, &h));
	ASSERT_EQ(0, h.journal.nr);
	ASSERT_EQ(0, h.state.nr_memfd);
	kho_journal_snapshot_free(&h);
	/* ...and its number, reused by a pipe the recorder never saw open, is
	 * classified afresh, not taken for the iommufd */
	ASSERT_EQ(0, pipe(p));
	ASSERT_EQ(iommufd, p[0]);
	ASSERT_EQ(0, kho_record_fd_kind(rec, p[0], &kind));
	ASSERT_EQ(KHO_RECORD_FD_OTHER, kind);
	close(p[0]);
	close(p[1]);
	kho_record_free(rec);
}

KTEST(a_call_a_handler_made_while_busy_is_named_not_lost)
{
	struct kho_record *rec;
	struct kho_diag why = { "" };
	int iommufd;

	ASSERT_EQ(0, kho_record_new(&rec));
	iommufd = fake_iommufd(rec);
	ASSERT_EQ(0, note_ioas_alloc(rec, iommufd, 1));
	ASSERT_EQ(0, kho_record_status(rec, &why));
	ASSERT_TRUE(!kho_record_reentered());	/* not in a recorded ioctl */

	kho_record_note_reentry(rec, KHO_RECORD_REENTRY_IOCTL,
				IOMMU_IOAS_MAP_FILE, iommufd);
	/* the first wins */
	kho_record_note_reentry(rec, KHO_RECORD_REENTRY_CLOSE, 0, 9);
	ASSERT_EQ(-EOPNOTSUPP, kho_record_status(rec, &why));
	ASSERT_TRUE(strstr(why.msg, "recorder: ioctl IOAS_MAP_FILE on fd ") != NULL);
	ASSERT_TRUE(strstr(why.msg, " from a signal handler while the recorder was busy: journal unpreservable") != NULL);

	/* the iommufd's last close destroyed what the lost map made */
	close(iommufd);
	kho_record_fd_closed(rec, iommufd);
	ASSERT_EQ(0, kho_record_status(rec, &why));

	/* a lost close leaves the fd table unknown: it outlives the journal */
	iommufd = fake_iommufd(rec);
	ASSERT_EQ(0, note_ioas_alloc(rec, iommufd, 1));
	kho_record_note_reentry(rec, KHO_RECORD_REENTRY_CLOSE, 0, 9);
	close(iommufd);
	kho_record_fd_closed(rec, iommufd);
	ASSERT_EQ(-EOPNOTSUPP, kho_record_status(rec, &why));
	ASSERT_TRUE(strstr(why.msg, "recorder: close of fd 9 from a signal handler") != NULL);
	kho_record_free(rec);
}

/* A private socket directory; nobody may search it (the peer test). */
static int run_dir(char *dir, size_t len)
{
	snprintf(dir, len, "/tmp/kho-test-record-XXXXXX");
	if (!mkdtemp(dir) || chmod(dir, 0755))
		return -1;
	return setenv("KHO_RUN_DIR", dir, 1);
}

KTEST(socket_round_trip_with_memfds)
{
	struct kho_journal_snapshot snap;
	struct kho_diag diag = { "" };
	struct kho_record *rec;
	struct stat st, sst;
	char dir[64], path[128], buf[8] = "";
	int iommufd, mfd, ret;
	char *anon;

	ASSERT_EQ(0, run_dir(dir, sizeof(dir)));
	ASSERT_EQ(0, kho_record_new(&rec));
	iommufd = fake_iommufd(rec);
	mfd = memfd_sized("guest-ram", 4 * PG);
	ASSERT_TRUE(pwrite(mfd, "kexec", 5, PG) == 5);
	ASSERT_EQ(0, note_ioas_alloc(rec, iommufd, 1));
	ASSERT_EQ(0, note_map_file(rec, iommufd, 1, mfd, 0, 4 * PG, 0x100000));
	ASSERT_EQ(0, note_unmap(rec, iommufd, 1, 0x100000, 4 * PG, 4 * PG));
	ASSERT_EQ(0, note_map_file(rec, iommufd, 1, mfd, 0, 2 * PG, 0x100000));
	ASSERT_EQ(0, kho_record_serve(rec, &diag));
	ASSERT_EQ(-EALREADY, kho_record_serve(rec, NULL));
	ASSERT_EQ(0, kho_journal_sock_path(getpid(), path, sizeof(path)));
	ASSERT_EQ(0, stat(path, &sst));
	ASSERT_EQ(0600, sst.st_mode & 0777);
	ASSERT_TRUE(S_ISSOCK(sst.st_mode));

	ret = kho_journal_sock_fetch(getpid(), &snap, &diag);
	if (ret)
		printf("# fetch: %s\n", diag.msg);
	ASSERT_EQ(0, ret);
	/* the map/unmap pair was elided; the length still counts it */
	ASSERT_EQ(2, snap.journal.nr);
	ASSERT_EQ(4, snap.journal_length);
	ASSERT_EQ(KHO_OP_IOAS_MAP_FILE, snap.journal.recs[1].op);
	ASSERT_EQ(2 * PG, snap.journal.recs[1].map.length);
	ASSERT_EQ(1, snap.state.nr_memfd);
	ASSERT_EQ(1, snap.nr_fds);
	/* the fd received is the very memfd, content and all */
	ASSERT_EQ(0, fstat(snap.memfd_fds[0], &st));
	ASSERT_EQ(0, fstat(mfd, &sst));
	ASSERT_EQ(sst.st_ino, st.st_ino);
	ASSERT_TRUE(pread(snap.memfd_fds[0], buf, 5, PG) == 5);
	ASSERT_STR_CONTAINS(buf, "kexec");
	kho_journal_snapshot_free(&snap);

	/* unpreservable: refused with the reason, journal still shown */
	anon = mmap(NULL, PG, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_EQ(-EOPNOTSUPP, note_map(rec, iommufd, 1, anon, PG, 0x800000));
	ret = kho_journal_sock_fetch(getpid(), &snap, &diag);
	ASSERT_EQ(-EOPNOTSUPP, ret);
	ASSERT_STR_CONTAINS(diag.msg, "anonymous memory");
	ASSERT_EQ(0, snap.nr_fds);
	ASSERT_EQ(2, snap.journal.nr);
	kho_journal_snapshot_free(&snap);

	kho_record_free(rec);
	/* the socket goes with the server */
	ASSERT_TRUE(stat(path, &sst) < 0 && errno == ENOENT);
	ASSERT_EQ(-ENOENT, kho_journal_sock_fetch(getpid(), &snap, &diag));
	ASSERT_STR_CONTAINS(diag.msg, "no recorder socket");
	kho_journal_snapshot_free(&snap);
	munmap(anon, PG);
	close(mfd);
	close(iommufd);
	rmdir(dir);
}

/*
 * The server thread has an fd table of its own: a file the VMM closes
 * after the server started is really closed (a pipe's reader sees EOF),
 * and a memfd the VMM opens afterwards is still sent, taken from the
 * VMM's table with pidfd_getfd().
 */
KTEST(server_holds_no_vmm_file)
{
	struct kho_journal_snapshot snap;
	struct kho_diag diag = { "" };
	struct kho_record *rec;
	struct stat st, sst;
	char dir[64], c;
	int iommufd, mfd, p[2], ret;

	ASSERT_EQ(0, run_dir(dir, sizeof(dir)));
	ASSERT_EQ(0, kho_record_new(&rec));
	ASSERT_EQ(0, pipe2(p, O_CLOEXEC | O_NONBLOCK));
	iommufd = fake_iommufd(rec);
	ASSERT_EQ(0, kho_record_serve(rec, &diag));
	/* the first request: the thread has surely unshared by its reply */
	ASSERT_EQ(0, kho_journal_sock_fetch(getpid(), &snap, &diag));
	kho_journal_snapshot_free(&snap);
	close(p[1]);
	ASSERT_EQ(0, (int)read(p[0], &c, 1));

	mfd = memfd_sized("late-ram", 2 * PG);
	ASSERT_TRUE(pwrite(mfd, "late", 4, 0) == 4);
	ASSERT_EQ(0, note_ioas_alloc(rec, iommufd, 1));
	ASSERT_EQ(0, note_map_file(rec, iommufd, 1, mfd, 0, 2 * PG, 0x100000));
	close(mfd);	/* the recorder keeps its own reference */
	ret = kho_journal_sock_fetch(getpid(), &snap, &diag);
	if (ret)
		printf("# fetch: %s\n", diag.msg);
	ASSERT_EQ(0, ret);
	ASSERT_EQ(1, snap.nr_fds);
	ASSERT_EQ(2 * PG, snap.state.memfd[0].size);
	ASSERT_EQ(0, fstat(snap.memfd_fds[0], &st));
	ASSERT_TRUE(pread(snap.memfd_fds[0], &c, 1, 0) == 1 && c == 'l');
	ASSERT_EQ(0, fstat(p[0], &sst));
	kho_journal_snapshot_free(&snap);
	kho_record_free(rec);
	close(p[0]);
	close(iommufd);
	rmdir(dir);
}

/* In a child as nobody: fetch from @pid; exits 0 if refused with EACCES and @want in diag. */
static void fetch_as_nobody(pid_t pid, const char *want)
{
	struct kho_journal_snapshot snap;
	struct kho_diag diag = { "" };
	struct passwd *pw = getpwnam("nobody");
	uid_t uid = pw ? pw->pw_uid : 65534;
	int ret;

	if (setgid(uid) || setuid(uid))
		_exit(3);
	ret = kho_journal_sock_fetch(pid, &snap, &diag);
	printf("# as uid %u: %d: %s\n", uid, ret, diag.msg);
	fflush(stdout);
	_exit(ret == -EACCES && strstr(diag.msg, want) ? 0 : 1);
}

KTEST(socket_refuses_other_uid)
{
	struct kho_diag diag = { "" };
	struct kho_record *rec;
	char dir[64], path[128];
	int status, iommufd;
	pid_t child;

	if (geteuid() != 0) {
		printf("# needs root to become another uid\n");
		ASSERT_TRUE(geteuid() == 0);
	}
	ASSERT_EQ(0, run_dir(dir, sizeof(dir)));
	ASSERT_EQ(0, kho_record_new(&rec));
	iommufd = fake_iommufd(rec);
	ASSERT_EQ(0, note_ioas_alloc(rec, iommufd, 1));
	ASSERT_EQ(0, kho_record_serve(rec, &diag));
	ASSERT_EQ(0, kho_journal_sock_path(getpid(), path, sizeof(path)));

	/* mode 0600: the kernel refuses the connect itself */
	fflush(stdout);
	child = fork();
	if (!child)
		fetch_as_nobody(getppid(), "connect");
	ASSERT_EQ(child, waitpid(child, &status, 0));
	ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	/* a socket left too open: the server's SO_PEERCRED check refuses */
	ASSERT_EQ(0, chmod(path, 0666));
	fflush(stdout);
	child = fork();
	if (!child)
		fetch_as_nobody(getppid(), "neither root nor the VMM's uid");
	ASSERT_EQ(child, waitpid(child, &status, 0));
	ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	kho_record_free(rec);
	close(iommufd);
	rmdir(dir);
}

/* A listening socket at the journal socket path of @pid, made by us. */
static int listen_as(pid_t pid)
{
	struct sockaddr_un sa;
	char path[108];
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || kho_journal_sock_path(pid, path, sizeof(path)) ||
	    kho_unix_addr(path, &sa) ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 1))
		return -1;
	return fd;
}

/* A child that waits until @hold closes; if @uid, it first listens as
 * itself on its own socket path, then becomes @uid (issue #21 item 2) */
static pid_t hold_child(int hold[2], int ready[2], uid_t uid)
{
	pid_t child;
	char c = 'r';

	fflush(stdout);
	child = fork();
	if (child)
		return child;
	close(hold[1]);
	if (uid && (listen_as(getpid()) < 0 || setresuid(uid, uid, uid)))
		c = 'n';
	if (write(ready[1], &c, 1) != 1)
		_exit(2);
	while (read(hold[0], &c, 1) > 0)
		;
	_exit(0);
}

/*
 * Capture talks only to the VMM it asked for: a socket at vmm-PID.sock
 * served by another process, or by PID under another uid than PID's
 * own, is refused naming the server's pid and uid.
 */
KTEST(fetch_refuses_a_server_that_is_not_the_vmm)
{
	struct kho_journal_snapshot snap;
	struct kho_diag diag = { "" };
	struct passwd *pw = getpwnam("nobody");
	uid_t nobody = pw ? pw->pw_uid : 65534;
	int hold[2], ready[2], lfd, status;
	char dir[64], want[128], c;
	pid_t child;

	if (geteuid() != 0) {
		printf("# needs root to become another uid\n");
		ASSERT_TRUE(geteuid() == 0);
	}
	ASSERT_EQ(0, run_dir(dir, sizeof(dir)));
	ASSERT_EQ(0, pipe2(hold, O_CLOEXEC));
	ASSERT_EQ(0, pipe2(ready, O_CLOEXEC));

	/* Another process (us) at the VMM's name. */
	child = hold_child(hold, ready, 0);
	ASSERT_EQ(1, read(ready[0], &c, 1));
	lfd = listen_as(child);
	ASSERT_TRUE(lfd >= 0);
	ASSERT_EQ(-EACCES, kho_journal_sock_fetch(child, &snap, &diag));
	printf("#   %s\n", diag.msg);
	snprintf(want, sizeof(want), "served by pid %d uid 0, not by VMM %d (uid 0)",
		 (int)getpid(), (int)child);
	ASSERT_STR_CONTAINS(diag.msg, want);
	kho_journal_snapshot_free(&snap);
	close(lfd);
	close(hold[1]);
	ASSERT_EQ(child, waitpid(child, &status, 0));

	/* The VMM's pid, but it listened as root and runs as nobody now. */
	ASSERT_EQ(0, pipe2(hold, O_CLOEXEC));
	child = hold_child(hold, ready, nobody);
	ASSERT_EQ(1, read(ready[0], &c, 1));
	ASSERT_EQ('r', c);
	ASSERT_EQ(-EACCES, kho_journal_sock_fetch(child, &snap, &diag));
	printf("#   %s\n", diag.msg);
	snprintf(want, sizeof(want), "served by pid %d uid 0, not by VMM %d (uid %u)",
		 (int)child, (int)child, (unsigned int)nobody);
	ASSERT_STR_CONTAINS(diag.msg, want);
	kho_journal_snapshot_free(&snap);
	close(hold[1]);
	ASSERT_EQ(child, waitpid(child, &status, 0));
	close(hold[0]);
	close(ready[0]);
	close(ready[1]);
	snprintf(want, sizeof(want), "rm -rf %s", dir);
	ASSERT_EQ(0, system(want));
}

/*
 * $KHO_RUN_DIR is checked like /run/kho-tool, by capture and by the
 * recorder: a directory others may write, a symlink, or one owned by a
 * uid that is neither ours nor the VMM's is refused by name.
 */
KTEST(unsafe_run_dir_is_refused_by_both_ends)
{
	struct kho_journal_snapshot snap;
	struct kho_diag diag = { "" };
	struct passwd *pw = getpwnam("nobody");
	uid_t nobody = pw ? pw->pw_uid : 65534;
	struct kho_record *rec;
	char dir[64], link[80], want[96];
	int iommufd;

	if (geteuid() != 0) {
		printf("# needs root to give the directory away\n");
		ASSERT_TRUE(geteuid() == 0);
	}
	ASSERT_EQ(0, run_dir(dir, sizeof(dir)));
	ASSERT_EQ(0, kho_record_new(&rec));
	iommufd = fake_iommufd(rec);
	ASSERT_EQ(0, note_ioas_alloc(rec, iommufd, 1));

	ASSERT_EQ(0, chmod(dir, 01777));
	ASSERT_EQ(-EPERM, kho_journal_sock_fetch(getpid(), &snap, &diag));
	printf("#   %s\n", diag.msg);
	ASSERT_STR_CONTAINS(diag.msg, dir);
	ASSERT_STR_CONTAINS(diag.msg, "mode 1777");
	kho_journal_snapshot_free(&snap);
	ASSERT_EQ(-EPERM, kho_record_serve(rec, &diag));
	printf("#   %s\n", diag.msg);
	ASSERT_STR_CONTAINS(diag.msg, "journal socket: run directory");
	ASSERT_STR_CONTAINS(diag.msg, "mode 1777");

	ASSERT_EQ(0, chmod(dir, 0755));
	ASSERT_EQ(0, chown(dir, nobody, (gid_t)-1));
	ASSERT_EQ(-EPERM, kho_journal_sock_fetch(getpid(), &snap, &diag));
	printf("#   %s\n", diag.msg);
	snprintf(want, sizeof(want), "owner uid %u", (unsigned int)nobody);
	ASSERT_STR_CONTAINS(diag.msg, want);
	kho_journal_snapshot_free(&snap);
	ASSERT_EQ(-EPERM, kho_record_serve(rec, &diag));
	ASSERT_STR_CONTAINS(diag.msg, want);
	ASSERT_EQ(0, chown(dir, 0, (gid_t)-1));

	snprintf(link, sizeof(link), "%s.link", dir);
	ASSERT_EQ(0, symlink(dir, link));
	ASSERT_EQ(0, setenv("KHO_RUN_DIR", link, 1));
	ASSERT_EQ(-ELOOP, kho_journal_sock_fetch(getpid(), &snap, &diag));
	printf("#   %s\n", diag.msg);
	ASSERT_STR_CONTAINS(diag.msg, "is a symlink");
	kho_journal_snapshot_free(&snap);
	ASSERT_EQ(-ELOOP, kho_record_serve(rec, &diag));
	ASSERT_STR_CONTAINS(diag.msg, "is a symlink");
	unlink(link);

	/* a directory that is not there: no socket, and none made by capture */
	ASSERT_EQ(-ENOENT, kho_journal_sock_fetch(getpid(), &snap, &diag));
	ASSERT_STR_CONTAINS(diag.msg, "no recorder socket");
	ASSERT_TRUE(access(link, F_OK) < 0 && errno == ENOENT);
	kho_journal_snapshot_free(&snap);

	kho_record_free(rec);
	close(iommufd);
	rmdir(dir);
}

/*
 * The LD_PRELOAD wrappers leave errno as the real call left it: runs
 * kho-rec-errno (tests/recorder) under build/lib/libkho-record.so, both
 * found next to this test's build directory.
 */
KTEST(preload_keeps_errno)
{
	char self[PATH_MAX], prog[PATH_MAX + 32], lib[PATH_MAX + 32], *p;
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	int status;
	pid_t child;

	ASSERT_TRUE(n > 0);
	self[n] = 0;
	/* BUILD/tests/test_record -> BUILD */
	p = strrchr(self, '/');
	ASSERT_TRUE(p != NULL);
	*p = 0;
	p = strrchr(self, '/');
	ASSERT_TRUE(p != NULL);
	*p = 0;
	snprintf(prog, sizeof(prog), "%s/bin/kho-rec-errno", self);
	snprintf(lib, sizeof(lib), "%s/lib/libkho-record.so", self);
	ASSERT_EQ(0, access(prog, X_OK));
	ASSERT_EQ(0, access(lib, R_OK));
	fflush(stdout);
	child = fork();
	if (!child) {
		setenv("LD_PRELOAD", lib, 1);
		/* In a SANITIZE= build both sides carry ASan; the preload
		 * then comes before its runtime, which ASan would refuse. */
		setenv("ASAN_OPTIONS", "verify_asan_link_order=0", 0);
		execl(prog, prog, (char *)NULL);
		_exit(127);
	}
	ASSERT_EQ(child, waitpid(child, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status));
}
