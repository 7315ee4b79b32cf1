// SPDX-License-Identifier: LGPL-2.1-or-later
/* The recorder: one process's canonical iommufd/VFIO journal, its fd and memfd tables. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/iommufd.h>
#include <linux/magic.h>
/* Bookworm's <linux/stddef.h> predates the 7.2 uapi's __counted_by. */
#ifndef __counted_by
#define __counted_by(m)
#endif
#include <linux/vfio.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>
#include <linux/futex.h>

#include "adopt.h"
#include "canon.h"
#include "compact.h"
#include "handoff.h"
#include "journal.h"
#include "journal_sock.h"
#include "kjournal.h"
#include "record.h"
#include "state.h"

/*
 * The recorder keeps its own references to the memfds it has seen, so that
 * capture gets them even if the VMM closed its fd after mmap.  They sit
 * above the fds a VMM normally uses.
 */
#define KHO_RECORD_FD_FLOOR 512

/* An open file description; fds made by dup share one. */
struct kho_record_ofd {
	enum kho_record_fd_kind kind;
	unsigned int refs;
	dev_t rdev;
	bool bound;
	uint32_t devid;
	uint32_t attached_pt;
	bool pci_known;
	struct kho_pci_id pci;
	char driver[32];
};

struct kho_record_fdent {
	int ofd;		/* index + 1 into rec->ofds; 0: none */
	bool internal;		/* one of the recorder's memfd references */
	uint64_t memfd_token;	/* cached fd -> memfd, 0: not known */
};

struct kho_record_memfd {
	uint64_t token;
	dev_t dev;
	ino_t ino;
	int fd;			/* the recorder's own reference */
	char name[64];
};

struct kho_record_vma {
	uint64_t start, end, off;
	unsigned int maj, min;
	uint64_t ino;
	bool shared;
	bool shm_anon;		/* /dev/zero or SysV shm: no memfd behind it */
	char path[128];
};

/* A live mapping the journal cannot carry, and why. */
struct kho_record_refused {
	uint32_t ioas_id;
	uint64_t iova;
	uint64_t length;
	char why[320];
};

/*
 * The last VA range a MAP by VA resolved: [start, end) is one shared
 * mapping of memfd @token at contiguous offsets, @off at @start.  A VMM
 * maps and unmaps the same RAM block over and over; this answers those
 * MAPs without the binary search and the memfd table.  Cleared whenever
 * the vma cache or the memfd tokens change.
 */
struct kho_record_va_hit {
	uint64_t start, end, off;
	uint64_t token;
};

struct kho_record {
	/*
	 * 0 free, 1 held, 2 held with waiters: a futex lock, cheaper than a
	 * pthread mutex on the ioctl path (two atomics, no owner or count
	 * bookkeeping), and like it reset in the child after fork.
	 */
	int lock;
	struct kho_journal journal;
	/*
	 * MAP/UNMAP pairs dropped as they happened: an UNMAP that removed
	 * exactly the MAP at the journal's tail (kho_journal_cancels_tail()).
	 * The journal's length, as reported, counts them.
	 */
	uint64_t nr_elided;
	struct kho_canon_ops canon;	/* the resolvers below, ctx = this */

	struct kho_record_fdent *fds;
	size_t nr_fds;
	struct kho_record_ofd *ofds;
	size_t nr_ofds;
	int ctx_ofd;		/* the iommufd the journal belongs to, or -1 */
	/*
	 * The fd the fast path journals on, -1: none.  The full path sets
	 * it once it journaled a call on an fd of the journal's iommufd;
	 * kho_record_hot_forget() drops it whenever that may stop being
	 * true (the fd closed or reused, the context or a kind changed, a
	 * server start pending), so the fast path checks one number
	 * instead of the fd's entry, its file and the file's kind.
	 */
	int hot_fd;

	struct kho_record_memfd *memfds;
	size_t nr_memfds;
	uint64_t next_token;

	struct kho_record_vma *vmas;
	size_t nr_vmas;
	bool vmas_valid;
	struct kho_record_va_hit va_hit;	/* end == 0: none */

	struct kho_record_refused *refused;
	size_t nr_refused;
	char broken[400];	/* a non-mapping reason, first one wins */

	struct kho_jsock_server *srv;
	bool serve_lazily;
	bool serve_pending;
	pid_t srv_pid;
};

/*
 * initial-exec: read on every wrapped call, and libkho-record.so is
 * preloaded (never dlopen'ed late), so its TLS fits the static block and
 * the access needs no __tls_get_addr() call.
 */
static __thread int kho_record_depth __attribute__((tls_model("initial-exec")));

bool kho_record_busy(void)
{
	return kho_record_depth > 0;
}

/* Keeps errno: the ioctl path restores it only when it journals slowly. */
static void kho_record_futex(int *addr, int op, int val)
{
	int err = errno;

	syscall(SYS_futex, addr, op | FUTEX_PRIVATE_FLAG, val, NULL, NULL, 0);
	errno = err;
}

/* Contended: mark the lock "with waiters" and sleep until it is ours. */
static __attribute__((noinline)) void kho_record_lock_wait(struct kho_record *rec,
							   int c)
{
	if (c != 2)
		c = __atomic_exchange_n(&rec->lock, 2, __ATOMIC_ACQUIRE);
	while (c) {
		kho_record_futex(&rec->lock, FUTEX_WAIT, 2);
		c = __atomic_exchange_n(&rec->lock, 2, __ATOMIC_ACQUIRE);
	}
}

/*
 * Drepper's "Futexes Are Tricky" mutex 3: one CAS when uncontended,
 * inlined on every path, the rest out of line.
 */
static inline __attribute__((always_inline)) void
kho_record_lock(struct kho_record *rec)
{
	int c = 0;

	kho_record_depth++;
	if (!__atomic_compare_exchange_n(&rec->lock, &c, 1, false,
					 __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
		kho_record_lock_wait(rec, c);
}

static inline __attribute__((always_inline)) void
kho_record_unlock(struct kho_record *rec)
{
	if (__atomic_exchange_n(&rec->lock, 0, __ATOMIC_RELEASE) == 2)
		kho_record_futex(&rec->lock, FUTEX_WAKE, 1);
	kho_record_depth--;
}

static int kho_record_va_to_memfd(void *ctx, uint64_t va, uint64_t length,
				  uint64_t *token, uint64_t *offset,
				  struct kho_diag *diag);
static int kho_record_fd_to_memfd(void *ctx, int fd, uint64_t *token,
				  struct kho_diag *diag);
static int kho_record_devfd_to_pci(void *ctx, int devfd,
				   struct kho_pci_id *pci,
				   struct kho_diag *diag);
static int kho_record_devfd_to_devid(void *ctx, int devfd, uint32_t *devid,
				     struct kho_diag *diag);

int kho_record_new(struct kho_record **out)
{
	struct kho_record *rec = calloc(1, sizeof(*rec));

	if (!rec)
		return -ENOMEM;
	kho_journal_init(&rec->journal);
	/* built once: kho_record_note() hands it to every canonicalisation */
	rec->canon.va_to_memfd = kho_record_va_to_memfd;
	rec->canon.fd_to_memfd = kho_record_fd_to_memfd;
	rec->canon.devfd_to_pci = kho_record_devfd_to_pci;
	rec->canon.devfd_to_devid = kho_record_devfd_to_devid;
	rec->canon.ctx = rec;
	rec->ctx_ofd = -1;
	rec->hot_fd = -1;
	rec->next_token = 1;
	*out = rec;
	return 0;
}

static void kho_record_hot_forget(struct kho_record *rec)
{
	rec->hot_fd = -1;
}

/* Marks the journal unpreservable for a reason that is not one mapping. */
static void kho_record_break(struct kho_record *rec, const char *why)
{
	size_t n = strlen(why);

	if (rec->broken[0])
		return;
	if (n >= sizeof(rec->broken))
		n = sizeof(rec->broken) - 1;
	memcpy(rec->broken, why, n);
	rec->broken[n] = 0;
}

static struct kho_record_fdent *kho_record_fdent(struct kho_record *rec,
						 int fd, bool grow)
{
	size_t n;
	struct kho_record_fdent *p;

	if (fd < 0)
		return NULL;
	if ((size_t)fd < rec->nr_fds)
		return &rec->fds[fd];
	if (!grow)
		return NULL;
	n = rec->nr_fds ? rec->nr_fds : 64;
	while (n <= (size_t)fd)
		n *= 2;
	p = realloc(rec->fds, n * sizeof(*p));
	if (!p)
		return NULL;
	memset(p + rec->nr_fds, 0, (n - rec->nr_fds) * sizeof(*p));
	rec->fds = p;
	rec->nr_fds = n;
	return &rec->fds[fd];
}

static struct kho_record_ofd *kho_record_ofd_of(struct kho_record *rec, int fd)
{
	struct kho_record_fdent *e = kho_record_fdent(rec, fd, false);

	if (!e || !e->ofd)
		return NULL;
	return &rec->ofds[e->ofd - 1];
}

/* A new open file description for @fd; Return: its index + 1, 0 on ENOMEM. */
static int kho_record_ofd_new(struct kho_record *rec, int fd,
			      enum kho_record_fd_kind kind, dev_t rdev)
{
	struct kho_record_fdent *e = kho_record_fdent(rec, fd, true);
	struct kho_record_ofd *p;
	size_t i;

	if (!e)
		return 0;
	for (i = 0; i < rec->nr_ofds; i++)
		if (!rec->ofds[i].refs && (int)i != rec->ctx_ofd)
			break;
	if (i == rec->nr_ofds) {
		p = realloc(rec->ofds, (rec->nr_ofds + 1) * sizeof(*p));
		if (!p)
			return 0;
		rec->ofds = p;
		rec->nr_ofds++;
	}
	memset(&rec->ofds[i], 0, sizeof(rec->ofds[i]));
	rec->ofds[i].kind = kind;
	rec->ofds[i].refs = 1;
	rec->ofds[i].rdev = rdev;
	if (fd == rec->hot_fd)
		kho_record_hot_forget(rec);
	e->ofd = i + 1;
	e->memfd_token = 0;
	return e->ofd;
}

/*
 * Classifies a char device by the name sysfs gives it, so that fds the
 * VMM got without open(2) (SCM_RIGHTS from a management daemon, as
 * libvirt passes them) are recognised too.
 */
static enum kho_record_fd_kind kho_record_classify_rdev(dev_t rdev)
{
	char path[96], buf[256], *p;
	enum kho_record_fd_kind kind = KHO_RECORD_FD_OTHER;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/dev/char/%u:%u/uevent",
		 major(rdev), minor(rdev));
	f = fopen(path, "re");
	if (!f)
		return kind;
	while (fgets(buf, sizeof(buf), f)) {
		if (strncmp(buf, "DEVNAME=", 8))
			continue;
		p = buf + 8;
		p[strcspn(p, "\n")] = 0;
		if (!strcmp(p, "iommu"))
			kind = KHO_RECORD_FD_IOMMUFD;
		else if (!strncmp(p, "vfio/devices/", 13))
			kind = KHO_RECORD_FD_VFIO_CDEV;
		break;
	}
	fclose(f);
	return kind;
}

static void kho_record_maybe_serve(struct kho_record *rec);

/* Classifies @fd if it is not yet; Return: its ofd or NULL. */
/* An iommufd retrieved after a live update is an anonymous inode. */
static enum kho_record_fd_kind kho_record_classify_anon(int fd)
{
	char proc[64], link[64];
	ssize_t n;

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	n = readlink(proc, link, sizeof(link) - 1);
	if (n < 0)
		return KHO_RECORD_FD_OTHER;
	link[n] = '\0';
	return kho_is_iommufd_link(link) ? KHO_RECORD_FD_IOMMUFD :
					   KHO_RECORD_FD_OTHER;
}

static struct kho_record_ofd *kho_record_classify(struct kho_record *rec,
						  int fd, const char *path)
{
	struct kho_record_ofd *o = kho_record_ofd_of(rec, fd);
	enum kho_record_fd_kind kind = KHO_RECORD_FD_OTHER;
	struct stat st;
	int idx;

	if (o)
		return o;
	if (fstat(fd, &st) < 0)
		return NULL;
	if (!S_ISCHR(st.st_mode))
		kind = kho_record_classify_anon(fd);
	else if (path && !strcmp(path, "/dev/iommu"))
		kind = KHO_RECORD_FD_IOMMUFD;
	else if (path && !strncmp(path, "/dev/vfio/devices/", 18))
		kind = KHO_RECORD_FD_VFIO_CDEV;
	else
		kind = kho_record_classify_rdev(st.st_rdev);
	idx = kho_record_ofd_new(rec, fd, kind, st.st_rdev);
	if (!idx)
		return NULL;
	if (kind == KHO_RECORD_FD_IOMMUFD || kind == KHO_RECORD_FD_VFIO_CDEV)
		kho_record_maybe_serve(rec);
	return &rec->ofds[idx - 1];
}

/* --- memfds ------------------------------------------------------------ */

static void kho_record_fd_name(int fd, char *buf, size_t len)
{
	char link[64];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, buf, len - 1);
	if (n < 0)
		n = 0;
	buf[n] = 0;
}

/*
 * Whether LUO can preserve the file behind @fd: memfd_luo in 7.2 takes a
 * shmem file with no links (mm/memfd_luo.c: can_preserve) and nothing
 * else.  Return: 0 or -EOPNOTSUPP with the reason in @diag.
 */
static int kho_record_check_memfd(int fd, const char *what, struct stat *st,
				  struct kho_diag *diag)
{
	char path[256];
	struct statfs sfs;

	if (fstat(fd, st) < 0 || fstatfs(fd, &sfs) < 0)
		return kho_diag_set(diag, -EOPNOTSUPP, "%s: fd %d: %s", what,
				    fd, strerror(errno));
	kho_record_fd_name(fd, path, sizeof(path));
	if ((uint32_t)sfs.f_type == (uint32_t)HUGETLBFS_MAGIC)
		return kho_diag_set(diag, -EOPNOTSUPP,
				    "%s: %s is a hugetlb memfd: LUO in Linux 7.2 preserves only shmem memfds (memfd-v2), not hugetlbfs",
				    what, path);
	if (!S_ISREG(st->st_mode))
		return kho_diag_set(diag, -EOPNOTSUPP,
				    "%s: %s is not a memfd (not a regular file): only memfds cross kexec",
				    what, path);
	if ((uint32_t)sfs.f_type != (uint32_t)TMPFS_MAGIC)
		return kho_diag_set(diag, -EOPNOTSUPP,
				    "%s: %s is a file on disk (filesystem magic 0x%lx): only memfds cross kexec",
				    what, path, (unsigned long)sfs.f_type);
	if (st->st_nlink)
		return kho_diag_set(diag, -EOPNOTSUPP,
				    "%s: %s is a linked shmem file: LUO preserves only unlinked memfds",
				    what, path);
	return 0;
}

static struct kho_record_memfd *kho_record_memfd_find(struct kho_record *rec,
						      dev_t dev, ino_t ino)
{
	size_t i;

	for (i = 0; i < rec->nr_memfds; i++)
		if (rec->memfds[i].dev == dev && rec->memfds[i].ino == ino)
			return &rec->memfds[i];
	return NULL;
}

/* Gives the memfd behind @fd (already checked) its token, in first-use order. */
static int kho_record_memfd_add(struct kho_record *rec, int fd,
				const struct stat *st, uint64_t *token)
{
	struct kho_record_memfd *m = kho_record_memfd_find(rec, st->st_dev,
							   st->st_ino);
	struct kho_record_fdent *e;
	char name[256];
	int own;

	if (m) {
		*token = m->token;
		return 0;
	}
	m = realloc(rec->memfds, (rec->nr_memfds + 1) * sizeof(*m));
	if (!m)
		return -ENOMEM;
	rec->memfds = m;
	own = fcntl(fd, F_DUPFD_CLOEXEC, KHO_RECORD_FD_FLOOR);
	if (own < 0)
		own = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (own < 0)
		return -errno;
	e = kho_record_fdent(rec, own, true);
	if (!e) {
		close(own);
		return -ENOMEM;
	}
	e->internal = true;
	m = &rec->memfds[rec->nr_memfds++];
	memset(m, 0, sizeof(*m));
	m->token = rec->next_token++;
	m->dev = st->st_dev;
	m->ino = st->st_ino;
	m->fd = own;
	kho_record_fd_name(fd, name, sizeof(name));
	/* "/memfd:guest-ram (deleted)" -> "guest-ram" */
	if (!strncmp(name, "/memfd:", 7)) {
		memmove(name, name + 7, strlen(name + 7) + 1);
		if (strlen(name) > 10 &&
		    !strcmp(name + strlen(name) - 10, " (deleted)"))
			name[strlen(name) - 10] = 0;
	}
	snprintf(m->name, sizeof(m->name), "%.63s", name);
	*token = m->token;
	return 0;
}

static int kho_record_fd_to_memfd(void *ctx, int fd, uint64_t *token,
				  struct kho_diag *diag)
{
	struct kho_record *rec = ctx;
	struct kho_record_fdent *e = kho_record_fdent(rec, fd, true);
	struct stat st;
	char what[48];
	int ret;

	if (e && e->memfd_token) {
		*token = e->memfd_token;
		return 0;
	}
	snprintf(what, sizeof(what), "MAP_FILE fd %d", fd);
	ret = kho_record_check_memfd(fd, what, &st, diag);
	if (ret)
		return ret;
	ret = kho_record_memfd_add(rec, fd, &st, token);
	if (ret)
		return kho_diag_set(diag, ret, "%s: keeping a reference: %s",
				    what, strerror(-ret));
	/* memfd_add() grew the fd table for its own reference: look @fd up
	 * again rather than write through a stale pointer. */
	e = kho_record_fdent(rec, fd, true);
	if (e)
		e->memfd_token = *token;
	return 0;
}

/* --- VA -> (memfd, offset) through /proc/self/maps ------------------- */

static int kho_record_maps_read(struct kho_record *rec)
{
	struct kho_record_vma *v = NULL, *p;
	size_t nr = 0, cap = 0;
	char line[512];
	FILE *f = fopen("/proc/self/maps", "re");

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		struct kho_record_vma vma = { 0 };
		char perms[8] = "";
		int pos = 0;

		if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %7s %" SCNx64
			   " %x:%x %" SCNu64 " %n", &vma.start, &vma.end,
			   perms, &vma.off, &vma.maj, &vma.min, &vma.ino,
			   &pos) < 7)
			continue;
		vma.shared = perms[3] == 's';
		if (pos)
			snprintf(vma.path, sizeof(vma.path), "%.*s",
				 (int)strcspn(line + pos, "\n"), line + pos);
		/* decided here, once, not on every MAP that hits the vma */
		vma.shm_anon = !strncmp(vma.path, "/dev/zero", 9) ||
			       !strncmp(vma.path, "/SYSV", 5);
		if (nr == cap) {
			cap = cap ? cap * 2 : 64;
			p = realloc(v, cap * sizeof(*v));
			if (!p) {
				free(v);
				fclose(f);
				return -ENOMEM;
			}
			v = p;
		}
		v[nr++] = vma;
	}
	fclose(f);
	free(rec->vmas);
	rec->vmas = v;
	rec->nr_vmas = nr;
	rec->vmas_valid = true;
	rec->va_hit.end = 0;
	return 0;
}

/* The vma holding @va, from the cache. */
static const struct kho_record_vma *kho_record_vma_at(struct kho_record *rec,
						      uint64_t va)
{
	size_t lo = 0, hi = rec->nr_vmas;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		const struct kho_record_vma *v = &rec->vmas[mid];

		if (va < v->start)
			hi = mid;
		else if (va >= v->end)
			lo = mid + 1;
		else
			return v;
	}
	return NULL;
}

/*
 * Checks that [va, va + length) is one shared mapping of one file at
 * contiguous offsets (a VMM's RAM block may be split into several vmas by
 * mprotect or madvise); Return: 0 with the first vma, the offset of @va
 * in the file and the end of the last vma checked (so [first->start,
 * run_end) is all one file at contiguous offsets), -ENOENT if the cache
 * does not cover it, or -EOPNOTSUPP.
 */
static int kho_record_vma_range(struct kho_record *rec, uint64_t va,
				uint64_t length,
				const struct kho_record_vma **first,
				uint64_t *offset, uint64_t *run_end,
				struct kho_diag *diag)
{
	const struct kho_record_vma *v = kho_record_vma_at(rec, va), *n;
	uint64_t end = va + length;
	char what[64];

	/* formatted only for a refusal: this is the hot path of every MAP */
#define KHO_RECORD_WHAT() snprintf(what, sizeof(what), "VA 0x%" PRIx64 "+0x%" PRIx64, va, length)
	if (!v)
		return -ENOENT;
	*first = v;
	*offset = v->off + (va - v->start);
	if (!v->ino)
		return KHO_RECORD_WHAT(), kho_diag_set(diag, -EOPNOTSUPP,
				    "%s: anonymous memory%s%s: it has no memfd to preserve, so it cannot cross kexec",
				    what, v->path[0] ? " " : "", v->path);
	if (!v->shared)
		return KHO_RECORD_WHAT(), kho_diag_set(diag, -EOPNOTSUPP,
				    "%s: private mapping of %s: the pinned pages are copy-on-write anonymous memory, not the file's",
				    what, v->path);
	if (v->shm_anon)
		return KHO_RECORD_WHAT(), kho_diag_set(diag, -EOPNOTSUPP,
				    "%s: shared anonymous memory (%s): it has no memfd fd to preserve",
				    what, v->path);
	while (v->end < end) {
		n = v + 1;
		if (n >= rec->vmas + rec->nr_vmas || n->start != v->end)
			return -ENOENT;
		if (n->ino != v->ino || n->maj != v->maj || n->min != v->min ||
		    !n->shared || n->off != v->off + (v->end - v->start))
			return KHO_RECORD_WHAT(), kho_diag_set(diag, -EOPNOTSUPP,
					    "%s: spans more than one file or non-contiguous offsets (%s, then %s at 0x%" PRIx64 ")",
					    what, v->path, n->path, n->start);
		v = n;
	}
	*run_end = v->end;
	return 0;
#undef KHO_RECORD_WHAT
}

static void kho_record_va_hit_set(struct kho_record *rec,
				  const struct kho_record_vma *first,
				  uint64_t run_end, uint64_t token)
{
	rec->va_hit = (struct kho_record_va_hit){
		.start = first->start, .end = run_end, .off = first->off,
		.token = token,
	};
}

/* An fd for the file behind @v: one the process holds, else map_files. */
static int kho_record_vma_open(const struct kho_record_vma *v)
{
	char path[96];
	struct dirent *d;
	struct stat st;
	DIR *dir;
	int fd = -1;

	dir = opendir("/proc/self/fd");
	while (dir && (d = readdir(dir))) {
		int n = atoi(d->d_name);

		if (d->d_name[0] == '.' || n == dirfd(dir))
			continue;
		if (fstat(n, &st) == 0 && st.st_ino == v->ino &&
		    major(st.st_dev) == v->maj && minor(st.st_dev) == v->min) {
			fd = fcntl(n, F_DUPFD_CLOEXEC, 3);
			break;
		}
	}
	if (dir)
		closedir(dir);
	if (fd >= 0)
		return fd;
	/* needs CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE */
	snprintf(path, sizeof(path), "/proc/self/map_files/%" PRIx64 "-%" PRIx64,
		 v->start, v->end);
	fd = open(path, O_RDWR | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

static int kho_record_va_to_memfd(void *ctx, uint64_t va, uint64_t length,
				  uint64_t *token, uint64_t *offset,
				  struct kho_diag *diag)
{
	struct kho_record *rec = ctx;
	const struct kho_record_vma *v;
	struct kho_record_memfd *m;
	uint64_t run_end;
	struct stat st;
	char what[64];
	int ret = -ENOENT, fd;

	if (rec->vmas_valid && length && va + length > va) {
		/* the hot path: a cached vma of a memfd already known */
		ret = kho_record_vma_range(rec, va, length, &v, offset,
					   &run_end, diag);
		if (!ret) {
			m = kho_record_memfd_find(rec, makedev(v->maj, v->min),
						  v->ino);
			if (m) {
				*token = m->token;
				kho_record_va_hit_set(rec, v, run_end, m->token);
				return 0;
			}
		}
		if (ret != -ENOENT && ret)
			return ret;
	}
	snprintf(what, sizeof(what), "VA 0x%" PRIx64 "+0x%" PRIx64, va,
		 length);
	ret = -ENOENT;
	if (!length || va + length < va)
		return kho_diag_set(diag, -EINVAL, "%s: empty or wrapping range",
				    what);
	if (rec->vmas_valid)
		ret = kho_record_vma_range(rec, va, length, &v, offset,
					   &run_end, diag);
	if (ret == -ENOENT) {
		/* a miss may be a mapping made since the last read */
		ret = kho_record_maps_read(rec);
		if (ret)
			return kho_diag_set(diag, ret, "%s: reading /proc/self/maps: %s",
					    what, strerror(-ret));
		ret = kho_record_vma_range(rec, va, length, &v, offset,
					   &run_end, diag);
	}
	if (ret == -ENOENT)
		return kho_diag_set(diag, -EOPNOTSUPP,
				    "%s: not mapped in /proc/self/maps", what);
	if (ret)
		return ret;
	m = kho_record_memfd_find(rec, makedev(v->maj, v->min), v->ino);
	if (m) {
		*token = m->token;
		kho_record_va_hit_set(rec, v, run_end, m->token);
		return 0;
	}
	fd = kho_record_vma_open(v);
	if (fd < 0)
		return kho_diag_set(diag, -EOPNOTSUPP,
				    "%s: cannot open %s behind it to keep it: %s",
				    what, v->path, strerror(-fd));
	ret = kho_record_check_memfd(fd, what, &st, diag);
	if (!ret) {
		ret = kho_record_memfd_add(rec, fd, &st, token);
		if (ret)
			kho_diag_set(diag, ret, "%s: keeping a reference: %s",
				     what, strerror(-ret));
	}
	close(fd);
	return ret;
}

/* --- devices ----------------------------------------------------------- */

static int kho_record_read_hex(const char *dir, const char *file,
			       unsigned int *val)
{
	char path[512];
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	ok = fscanf(f, "%x", val) == 1;
	fclose(f);
	return ok ? 0 : -EBADMSG;
}

static int kho_record_devfd_to_pci(void *ctx, int devfd,
				   struct kho_pci_id *pci,
				   struct kho_diag *diag)
{
	struct kho_record *rec = ctx;
	struct kho_record_ofd *o = kho_record_classify(rec, devfd, NULL);
	char dir[96], link[256], target[256], *base;
	unsigned int seg, bus, dev, fn, vendor, device;
	ssize_t n;
	int ret;

	if (!o || o->kind != KHO_RECORD_FD_VFIO_CDEV)
		return kho_diag_set(diag, -EINVAL,
				    "device fd %d: not a VFIO cdev", devfd);
	if (o->pci_known) {
		*pci = o->pci;
		return 0;
	}
	snprintf(dir, sizeof(dir), "/sys/dev/char/%u:%u/device",
		 major(o->rdev), minor(o->rdev));
	n = readlink(dir, target, sizeof(target) - 1);
	if (n < 0)
		return kho_diag_set(diag, -ENOENT, "device fd %d: %s: %s",
				    devfd, dir, strerror(errno));
	target[n] = 0;
	base = strrchr(target, '/');
	base = base ? base + 1 : target;
	if (sscanf(base, "%x:%x:%x.%x", &seg, &bus, &dev, &fn) != 4)
		return kho_diag_set(diag, -EOPNOTSUPP,
				    "device fd %d: %s is not a PCI function: only PCI devices are recorded",
				    devfd, base);
	ret = kho_record_read_hex(dir, "vendor", &vendor);
	if (!ret)
		ret = kho_record_read_hex(dir, "device", &device);
	if (ret)
		return kho_diag_set(diag, -ENOENT,
				    "device fd %d: %s: vendor/device: %s", devfd,
				    dir, strerror(-ret));
	o->pci.segment = seg;
	o->pci.bus = bus;
	o->pci.devfn = (dev << 3) | (fn & 7);
	o->pci.vendor = vendor;
	o->pci.device = device;
	snprintf(link, sizeof(link), "%s/driver", dir);
	n = readlink(link, target, sizeof(target) - 1);
	if (n > 0) {
		target[n] = 0;
		base = strrchr(target, '/');
		snprintf(o->driver, sizeof(o->driver), "%.31s",
			 base ? base + 1 : target);
	}
	o->pci_known = true;
	*pci = o->pci;
	return 0;
}

static int kho_record_devfd_to_devid(void *ctx, int devfd, uint32_t *devid,
				     struct kho_diag *diag)
{
	struct kho_record_ofd *o = kho_record_ofd_of(ctx, devfd);

	if (!o || !o->bound)
		return kho_diag_set(diag, -ENOENT,
				    "device fd %d: not bound to an iommufd", devfd);
	*devid = o->devid;
	return 0;
}

/* --- the journal ------------------------------------------------------- */

/* Forgets everything: the iommufd context the journal described is gone. */
static void kho_record_reset(struct kho_record *rec)
{
	size_t i;
	struct kho_record_fdent *e;

	kho_journal_free(&rec->journal);
	rec->nr_elided = 0;
	kho_record_hot_forget(rec);
	for (i = 0; i < rec->nr_memfds; i++) {
		e = kho_record_fdent(rec, rec->memfds[i].fd, false);
		if (e)
			e->internal = false;
		close(rec->memfds[i].fd);
	}
	for (i = 0; i < rec->nr_fds; i++)
		rec->fds[i].memfd_token = 0;
	free(rec->memfds);
	rec->memfds = NULL;
	rec->nr_memfds = 0;
	rec->next_token = 1;
	rec->va_hit.end = 0;	/* its token is gone */
	free(rec->refused);
	rec->refused = NULL;
	rec->nr_refused = 0;
	rec->broken[0] = 0;
	if (rec->ctx_ofd >= 0 && !rec->ofds[rec->ctx_ofd].refs)
		memset(&rec->ofds[rec->ctx_ofd], 0, sizeof(rec->ofds[0]));
	rec->ctx_ofd = -1;
}

static void kho_record_refuse(struct kho_record *rec, uint32_t ioas_id,
			      uint64_t iova, uint64_t length, const char *why)
{
	struct kho_record_refused *p;

	p = realloc(rec->refused, (rec->nr_refused + 1) * sizeof(*p));
	if (!p) {
		kho_record_break(rec, "recording a refused mapping: out of memory");
		return;
	}
	rec->refused = p;
	p = &rec->refused[rec->nr_refused++];
	p->ioas_id = ioas_id;
	p->iova = iova;
	p->length = length;
	snprintf(p->why, sizeof(p->why), "IOAS %u: IOVA 0x%" PRIx64 "+0x%"
		 PRIx64 ": %s", ioas_id, iova, length, why);
}

/*
 * Drops the refused mappings an UNMAP removed (the kernel removes the
 * areas inside [iova, iova + length)); Return: the bytes they covered.
 */
static uint64_t kho_record_unrefuse(struct kho_record *rec, uint32_t ioas_id,
				    uint64_t iova, uint64_t length)
{
	uint64_t last = length ? iova + length - 1 : iova, gone = 0;
	size_t i = 0;

	if (!rec->nr_refused)		/* every UNMAP asks: answer fast */
		return 0;
	if (last < iova)
		last = UINT64_MAX;
	while (i < rec->nr_refused) {
		struct kho_record_refused *r = &rec->refused[i];

		if (r->ioas_id == ioas_id &&
		    r->iova >= iova && r->iova + r->length - 1 <= last) {
			gone += r->length;
			*r = rec->refused[--rec->nr_refused];
			continue;
		}
		i++;
	}
	return gone;
}

static const struct kho_record_refused *
kho_record_refused_in(struct kho_record *rec, uint32_t ioas_id, uint64_t iova,
		      uint64_t length)
{
	size_t i;

	for (i = 0; i < rec->nr_refused; i++) {
		const struct kho_record_refused *r = &rec->refused[i];

		if (r->ioas_id == ioas_id && iova < r->iova + r->length &&
		    r->iova < iova + length)
			return r;
	}
	return NULL;
}

static inline __attribute__((always_inline)) void
kho_record_prepare_inline(unsigned long cmd, const void *arg,
			  struct kho_record_call *call)
{
	uint32_t size;

	call->cmd = cmd;
	call->in_len = 0;
	if (!arg)
		return;
	/* never read past what the caller said it passed */
	memcpy(&size, arg, sizeof(size));
	/*
	 * The usual case, a caller passing exactly the struct it knows:
	 * fixed-size copies the compiler inlines.
	 */
	if (cmd == IOMMU_IOAS_UNMAP && size == sizeof(struct iommu_ioas_unmap)) {
		_Static_assert(sizeof(struct iommu_ioas_unmap) <= sizeof(call->in),
			       "call->in holds an UNMAP argument");
		memcpy(call->in, arg, sizeof(struct iommu_ioas_unmap));
		memset(call->in + sizeof(struct iommu_ioas_unmap), 0,
		       sizeof(call->in) - sizeof(struct iommu_ioas_unmap));
		call->in_len = sizeof(struct iommu_ioas_unmap);
		return;
	}
	if (cmd != IOMMU_IOAS_UNMAP && cmd != VFIO_DEVICE_ATTACH_IOMMUFD_PT)
		return;
	if (size > sizeof(call->in))
		size = sizeof(call->in);
	memset(call->in, 0, sizeof(call->in));
	call->in_len = size;
	memcpy(call->in, arg, size);
}

void kho_record_prepare(unsigned long cmd, const void *arg,
			struct kho_record_call *call)
{
	kho_record_prepare_inline(cmd, arg, call);
}

/* The ioctls canonicalisation knows; the rest never reach it. */
static bool kho_record_cmd_known(unsigned long cmd)
{
	switch (cmd) {
	case IOMMU_DESTROY:
	case IOMMU_IOAS_ALLOC:
	case IOMMU_IOAS_ALLOW_IOVAS:
	case IOMMU_IOAS_MAP:
	case IOMMU_IOAS_MAP_FILE:
	case IOMMU_IOAS_COPY:
	case IOMMU_IOAS_UNMAP:
	case IOMMU_OPTION:
	case IOMMU_HWPT_ALLOC:
	case IOMMU_HWPT_SET_DIRTY_TRACKING:
	case IOMMU_VIOMMU_ALLOC:
	case IOMMU_VDEVICE_ALLOC:
	case IOMMU_FAULT_QUEUE_ALLOC:
	case IOMMU_VEVENTQ_ALLOC:
	case IOMMU_HW_QUEUE_ALLOC:
	case IOMMU_VFIO_IOAS:
	case VFIO_DEVICE_BIND_IOMMUFD:
	case VFIO_DEVICE_ATTACH_IOMMUFD_PT:
	case VFIO_DEVICE_DETACH_IOMMUFD_PT:
		return true;
	}
	return false;
}

/*
 * Handles what canonicalisation cannot see: refused mappings and the
 * requested UNMAP length.  Return: 1 if the call must not be journaled,
 * 0 to canonicalise it.
 */
static int kho_record_pre_canon(struct kho_record *rec, unsigned long cmd,
				const void *arg,
				const struct kho_record_call *call)
{
	if (cmd == IOMMU_IOAS_UNMAP) {
		const struct iommu_ioas_unmap *u = arg;
		uint64_t len = call && call->cmd == cmd && call->in_len ?
			((const struct iommu_ioas_unmap *)call->in)->length :
			u->length;
		uint64_t gone = kho_record_unrefuse(rec, u->ioas_id, u->iova,
						    len);

		/* removed only refused areas: the journal never had them */
		return gone && gone == u->length;
	}
	if (cmd == IOMMU_IOAS_COPY) {
		const struct iommu_ioas_copy *c = arg;
		const struct kho_record_refused *r =
			kho_record_refused_in(rec, c->src_ioas_id, c->src_iova,
					      c->length);
		char why[400];

		if (!r)
			return 0;
		snprintf(why, sizeof(why), "copy of a refused mapping (%s)",
			 r->why);
		kho_record_refuse(rec, c->dst_ioas_id, c->dst_iova, c->length,
				  why);
		return 1;
	}
	if (cmd == IOMMU_DESTROY) {
		const struct iommu_destroy *d = arg;

		kho_record_unrefuse(rec, d->id, 0, UINT64_MAX);
	}
	return 0;
}

/* Notes a mapping canonicalisation refused, from the kernel's outputs. */
static void kho_record_refuse_map(struct kho_record *rec, unsigned long cmd,
				  const void *arg, const char *why)
{
	if (cmd == IOMMU_IOAS_MAP) {
		const struct iommu_ioas_map *m = arg;

		kho_record_refuse(rec, m->ioas_id, m->iova, m->length, why);
	} else if (cmd == IOMMU_IOAS_MAP_FILE) {
		const struct iommu_ioas_map_file *m = arg;

		kho_record_refuse(rec, m->ioas_id, m->iova, m->length, why);
	} else {
		kho_record_break(rec, why);
	}
}

/* Bookkeeping from a journaled record: device binding and attachment. */
static void kho_record_track(struct kho_record *rec, int fd,
			     struct kho_record_ofd *o, struct kho_rec *r)
{
	switch (r->op) {
	case KHO_OP_DEVICE_BIND:
		o->bound = true;
		o->devid = r->bind.out_devid;
		break;
	case KHO_OP_DEVICE_ATTACH:
		o->attached_pt = r->attach.out_hwpt_id ? r->attach.out_hwpt_id :
			r->attach.pt_id;
		break;
	case KHO_OP_DEVICE_DETACH:
		o->attached_pt = 0;
		break;
	}
}

static int kho_record_note_locked(struct kho_record *rec, int fd,
				  unsigned long cmd, const void *arg,
				  const struct kho_record_call *call)
{
	struct kho_record_ofd *o = kho_record_classify(rec, fd, NULL);
	struct kho_diag diag;
	struct kho_rec r;
	int ctx, ret;

	/* not "= { "" }": zeroing 512 bytes per ioctl shows on the hot path */
	diag.msg[0] = 0;

	if (rec->serve_pending)
		kho_record_maybe_serve(rec);
	if (!o || (o->kind != KHO_RECORD_FD_IOMMUFD &&
		   o->kind != KHO_RECORD_FD_VFIO_CDEV) ||
	    !kho_record_cmd_known(cmd) || !arg)
		return 0;
	/* one iommufd context per journal: IDs are per context */
	if (o->kind == KHO_RECORD_FD_IOMMUFD) {
		ctx = o - rec->ofds;
		if (rec->ctx_ofd < 0)
			rec->ctx_ofd = ctx;
		else if (rec->ctx_ofd != ctx) {
			snprintf(diag.msg, sizeof(diag.msg),
				 "fd %d: a second iommufd is in use; the hand-off carries one iommufd context",
				 fd);
			kho_record_break(rec, diag.msg);
			return -EOPNOTSUPP;
		}
	} else if (cmd == VFIO_DEVICE_BIND_IOMMUFD) {
		const struct vfio_device_bind_iommufd *b = arg;
		struct kho_record_ofd *io = kho_record_classify(rec, b->iommufd,
								NULL);

		if (io && io->kind == KHO_RECORD_FD_IOMMUFD) {
			ctx = io - rec->ofds;
			if (rec->ctx_ofd < 0)
				rec->ctx_ofd = ctx;
			if (rec->ctx_ofd != ctx) {
				snprintf(diag.msg, sizeof(diag.msg),
					 "device fd %d: bound to a second iommufd (fd %d)",
					 fd, b->iommufd);
				kho_record_break(rec, diag.msg);
				return -EOPNOTSUPP;
			}
		}
	}
	if (kho_record_pre_canon(rec, cmd, arg, call))
		return 0;
	/* kho_canon_ioctl_inout() clears @r before it fills it */
	ret = kho_canon_ioctl_inout(&rec->canon, fd, cmd,
				    call && call->cmd == cmd && call->in_len ?
				    call->in : NULL, arg, &r, &diag);
	if (ret == KHO_CANON_NOT_JOURNALED)
		return 0;
	if (ret == -EOPNOTSUPP) {
		kho_record_refuse_map(rec, cmd, arg, diag.msg);
		return ret;
	}
	if (ret < 0) {
		char why[sizeof(diag.msg) + 64];

		snprintf(why, sizeof(why), "fd %d: ioctl 0x%lx: %s: %s", fd,
			 cmd, diag.msg[0] ? diag.msg : "cannot canonicalise",
			 strerror(-ret));
		kho_record_break(rec, why);
		return ret;
	}
	ret = kho_journal_append_elided(&rec->journal, &r, &rec->nr_elided);
	if (ret) {
		kho_record_break(rec, "appending to the journal: out of memory");
	} else {
		kho_record_track(rec, fd, o, &r);
		/* the next call on this fd may take the fast path */
		if (o->kind == KHO_RECORD_FD_IOMMUFD && !rec->serve_pending)
			rec->hot_fd = fd;
	}
	kho_rec_release(&r);
	return ret;
}

/* Recorded memfd @i as the hand-off's table has it, read through @fd. */
static void kho_record_describe_memfd(const struct kho_record *rec, size_t i,
				      int fd, struct kho_memfd *m)
{
	struct stat st;
	int seals;

	memset(m, 0, sizeof(*m));
	m->token = rec->memfds[i].token;
	if (fstat(fd, &st) == 0)
		m->size = st.st_size;
	seals = fcntl(fd, F_GET_SEALS);
	m->seals = seals < 0 ? 0 : seals;
	snprintf(m->name, sizeof(m->name), "%s", rec->memfds[i].name);
}

/*
 * The live mappings of IOAS @ioas_id, folded from the journal, in @s
 * (initialised by the call; the caller frees it).  Return: the IOAS or
 * NULL (none of that ID, or a journal that does not fold: @why says so).
 */
static const struct kho_ioas *
kho_record_fold_ioas(struct kho_record *rec, uint32_t ioas_id,
		     struct kho_state *s, struct kho_diag *why)
{
	struct kho_journal plan;
	size_t i;

	kho_state_init(s);
	for (i = 0; i < rec->nr_memfds; i++) {
		struct kho_memfd m;

		kho_record_describe_memfd(rec, i, rec->memfds[i].fd, &m);
		if (kho_state_add_memfd(s, &m)) {
			kho_diag_set(why, -ENOMEM, "out of memory");
			return NULL;
		}
	}
	if (kho_compact(&rec->journal, s, &plan, why))
		return NULL;
	kho_journal_free(&plan);
	return kho_state_find_ioas(s, ioas_id);
}

/*
 * A failed UNMAP may still have removed mappings: the kernel
 * (iopt_unmap_iova_range()) unmaps the areas of the range in IOVA order
 * and stops at the first it cannot take whole, -ENOENT for one that
 * sticks out of the range, -EBUSY for one pinned by an access or being
 * mapped; what it removed before stays removed, and the caller learns
 * nothing of it.  Other errors come before any removal.  For -ENOENT the
 * journal knows the areas, so the removal is journaled as the UNMAP of
 * exactly them, [@iova, the area that stuck out), the record a
 * successful UNMAP of that range would leave.  For -EBUSY it cannot know
 * which area was busy: if the range holds any, the journal is marked
 * unpreservable, naming the call, rather than left to restore mappings
 * the VMM no longer has.
 */
static void kho_record_unmap_failed_locked(struct kho_record *rec, int fd,
					   uint32_t ioas_id, uint64_t iova,
					   uint64_t length, int err)
{
	struct kho_record_ofd *o = kho_record_ofd_of(rec, fd);
	struct kho_diag why = { "" };
	const struct kho_ioas *a;
	struct kho_rec r = { .op = KHO_OP_IOAS_UNMAP };
	uint64_t last = iova + length - 1, gone = 0;
	bool stuck_out = false;
	struct kho_state s;
	char msg[512];
	size_t i;

	if ((err != ENOENT && err != EBUSY) || !length || last < iova || !o ||
	    o->kind != KHO_RECORD_FD_IOMMUFD || o - rec->ofds != rec->ctx_ofd)
		return;
	a = kho_record_fold_ioas(rec, ioas_id, &s, &why);
	if (!a && why.msg[0]) {
		snprintf(msg, sizeof(msg),
			 "IOAS %u: UNMAP 0x%llx+0x%llx failed (%s) and may have removed mappings, but the journal does not fold to tell which: %s",
			 ioas_id, (unsigned long long)iova,
			 (unsigned long long)length, strerror(err), why.msg);
		kho_record_break(rec, msg);
	}
	for (i = 0; a && i < a->nr_maps; i++) {
		const struct kho_mapping *m = &a->maps[i];
		uint64_t m_last = m->iova + m->length - 1;

		if (m_last < iova)
			continue;
		if (m->iova > last)
			break;
		if (err == EBUSY || kho_record_refused_in(rec, ioas_id, iova,
							  length)) {
			snprintf(msg, sizeof(msg),
				 "IOAS %u: UNMAP 0x%llx+0x%llx failed (%s) after the kernel may have removed some of its mappings, and the journal cannot tell which",
				 ioas_id, (unsigned long long)iova,
				 (unsigned long long)length, strerror(err));
			kho_record_break(rec, msg);
			break;
		}
		if (m->iova < iova || m_last > last) {
			/* the area that stuck out: the ones before it went */
			stuck_out = true;
			r.unmap.ioas_id = ioas_id;
			r.unmap.iova = iova;
			r.unmap.length = m->iova - iova;
			r.unmap.out_length = gone;
			if (gone && kho_journal_append_elided(&rec->journal, &r,
							      &rec->nr_elided))
				kho_record_break(rec, "appending to the journal: out of memory");
			break;
		}
		gone += m->length;
	}
	if (a && err == ENOENT && gone && !stuck_out) {
		/* all of them whole, yet refused: not the state journaled */
		snprintf(msg, sizeof(msg),
			 "IOAS %u: UNMAP 0x%llx+0x%llx failed (%s) where the journal has 0x%llx bytes mapped whole: the journal does not match the kernel",
			 ioas_id, (unsigned long long)iova,
			 (unsigned long long)length, strerror(err),
			 (unsigned long long)gone);
		kho_record_break(rec, msg);
	}
	kho_state_free(&s);
}

/* A failed UNMAP, @in as passed: what it may have removed is journaled. */
static void kho_record_unmap_failed(struct kho_record *rec, int fd,
				    const struct iommu_ioas_unmap *in, int err)
{
	kho_record_lock(rec);
	kho_record_unmap_failed_locked(rec, fd, in->ioas_id, in->iova,
				       in->length, err);
	kho_record_unlock(rec);
	errno = err;
}

void kho_record_note_failed(struct kho_record *rec, int fd, unsigned long cmd,
			    const struct kho_record_call *call, int err)
{
	if (cmd == IOMMU_IOAS_UNMAP && call && call->cmd == cmd &&
	    call->in_len >= sizeof(struct iommu_ioas_unmap))
		kho_record_unmap_failed(rec, fd, (const void *)call->in, err);
}


/*
 * The fast path's records, written field by field with the padding
 * zeroed, every byte as kho_canon_ioctl_inout() leaves it (the capture
 * compares records whole with the kernel's journal).  memset() plus the
 * fields compiled to a rep stos, one instruction per word under TCG.
 * The asserts pin the layout the stores cover.
 */
_Static_assert(offsetof(struct kho_rec, map.flags) == 8 &&
	       offsetof(struct kho_rec, map.iova) == 40 &&
	       offsetof(struct kho_rec, unmap.ioas_id) == 8 &&
	       offsetof(struct kho_rec, unmap.iova) == 16 &&
	       offsetof(struct kho_rec, unmap.out_length) == 32 &&
	       sizeof(struct kho_rec) == 48,
	       "the fast path writes every byte of a MAP or UNMAP record");

/*
 * flags and ioas_id sit side by side in both map structs and in the
 * record: one 8-byte copy, FIXED_IOVA set in place after it.
 */
_Static_assert(offsetof(struct iommu_ioas_map, ioas_id) ==
	       offsetof(struct iommu_ioas_map, flags) + 4 &&
	       offsetof(struct iommu_ioas_map_file, ioas_id) ==
	       offsetof(struct iommu_ioas_map_file, flags) + 4 &&
	       offsetof(struct kho_rec, map.ioas_id) ==
	       offsetof(struct kho_rec, map.flags) + 4,
	       "flags then ioas_id, as one 8-byte word");

static inline __attribute__((always_inline)) void
kho_record_put_map(struct kho_rec *r, const void *flags_ioas_id,
		   uint64_t token, uint64_t offset, uint64_t length,
		   uint64_t iova)
{
	static const uint32_t head[2] = { KHO_OP_IOAS_MAP_FILE, 0 };

	memcpy(r, head, sizeof(head));
	memcpy(&r->map.flags, flags_ioas_id, 8);
	r->map.flags |= IOMMU_IOAS_MAP_FIXED_IOVA;
	r->map.memfd_token = token;
	r->map.offset = offset;
	r->map.length = length;
	r->map.iova = iova;
}

static inline __attribute__((always_inline)) void
kho_record_put_unmap(struct kho_rec *r, uint32_t ioas_id, uint64_t iova,
		     uint64_t length, uint64_t out_length)
{
	uint32_t *w32 = (uint32_t *)r;
	uint64_t *w64 = (uint64_t *)r;

	r->op = KHO_OP_IOAS_UNMAP;
	w32[1] = 0;
	r->unmap.ioas_id = ioas_id;
	w32[3] = 0;
	r->unmap.iova = iova;
	r->unmap.length = length;
	r->unmap.out_length = out_length;
	w64[5] = 0;
}

/*
 * The hot path: MAP_FILE, MAP by VA and UNMAP on the fd the full path
 * last journaled on (rec->hot_fd, an fd of the journal's own iommufd),
 * with an argument of exactly the struct's size, a memfd (or VA range)
 * already resolved, nothing refused and room in the journal.  A
 * VMM's DMA map/unmap churn is all of this kind.  It writes the record
 * kho_canon_ioctl_inout() would have written straight into the journal:
 * no size table, no resolver calls, no copy of a temporary.  Anything
 * else takes the full path.  @unmap_len: UNMAP's length as passed in (the
 * kernel overwrote it with the bytes unmapped), NULL if not known.
 * Return: 0 journaled, 1 not handled.
 */
static inline __attribute__((always_inline)) int
kho_record_note_fast(struct kho_record *rec, int fd, unsigned long cmd,
		     const void *arg, const uint64_t *unmap_len)
{
	struct kho_journal *j = &rec->journal;
	struct kho_rec *r;

	if (fd != rec->hot_fd || j->nr == j->cap)
		return 1;
	r = &j->recs[j->nr];
	switch (cmd) {
	case IOMMU_IOAS_MAP_FILE: {
		const struct iommu_ioas_map_file *a = arg;
		uint64_t token;

		if (a->size != sizeof(*a) || a->fd < 0 ||
		    (size_t)a->fd >= rec->nr_fds)
			return 1;
		token = rec->fds[a->fd].memfd_token;
		if (!token)
			return 1;
		kho_record_put_map(r, &a->flags, token, a->start, a->length,
				   a->iova);
		break;
	}
	case IOMMU_IOAS_MAP: {
		const struct iommu_ioas_map *a = arg;
		const struct kho_record_va_hit *hit = &rec->va_hit;

		if (a->size != sizeof(*a) || !a->length ||
		    a->user_va < hit->start || a->user_va >= hit->end ||
		    a->length > hit->end - a->user_va)
			return 1;
		kho_record_put_map(r, &a->flags, hit->token,
				   hit->off + (a->user_va - hit->start),
				   a->length, a->iova);
		break;
	}
	case IOMMU_IOAS_UNMAP: {
		const struct iommu_ioas_unmap *a = arg;

		/* a refused area may be what this UNMAP removes */
		if (a->size != sizeof(*a) || rec->nr_refused || !unmap_len)
			return 1;
		/* a VMM's churn: the pair leaves nothing to journal */
		if (kho_journal_cancels_tail(j, a->ioas_id, a->iova,
					     *unmap_len, a->length)) {
			j->nr--;
			rec->nr_elided++;
			return 0;
		}
		kho_record_put_unmap(r, a->ioas_id, a->iova, *unmap_len,
				     a->length);
		break;
	}
	default:
		return 1;
	}
	j->nr++;
	return 0;
}

/* UNMAP's length as passed in, if @call saved it. */
static inline const uint64_t *
kho_record_call_unmap_len(unsigned long cmd, const struct kho_record_call *call)
{
	if (cmd != IOMMU_IOAS_UNMAP || !call || call->cmd != cmd ||
	    call->in_len != sizeof(struct iommu_ioas_unmap))
		return NULL;
	return (const uint64_t *)(call->in +
				  offsetof(struct iommu_ioas_unmap, length));
}

int kho_record_note(struct kho_record *rec, int fd, unsigned long cmd,
		    const void *arg, const struct kho_record_call *call)
{
	int ret;

	kho_record_lock(rec);
	ret = !arg || kho_record_note_fast(rec, fd, cmd, arg,
					   kho_record_call_unmap_len(cmd, call));
	if (ret)
		ret = kho_record_note_locked(rec, fd, cmd, arg, call);
	kho_record_unlock(rec);
	return ret;
}

/*
 * A hot ioctl the fast path could not journal (the first MAP of a range,
 * a journal that must grow, ...): the full path, with the call that
 * kho_record_prepare() would have saved rebuilt from @unmap_len (the
 * kernel changes no other field of UNMAP's argument), and errno kept,
 * since the full path makes system calls.  Out of line, so that the hit
 * path keeps few registers.
 */
static __attribute__((noinline)) void
kho_record_note_hot_miss(struct kho_record *rec, int fd, unsigned long cmd,
			 const void *arg, uint64_t unmap_len)
{
	struct kho_record_call call;
	int err = errno;

	memset(&call, 0, sizeof(call));
	call.cmd = cmd;
	if (cmd == IOMMU_IOAS_UNMAP) {
		struct iommu_ioas_unmap in;

		memcpy(&in, arg, sizeof(in));
		in.length = unmap_len;
		memcpy(call.in, &in, sizeof(in));
		call.in_len = sizeof(in);
	}
	kho_record_note_locked(rec, fd, cmd, arg, &call);
	errno = err;
}

/*
 * The ioctl system call itself, for a caller whose next ioctl is libc's
 * (kho_record_ioctl_via() with @real NULL): on x86-64 and arm64 libc's
 * ioctl is a bare system call stub, so issuing the call here changes
 * nothing but its cost.  A system call clobbers only the registers named
 * below, so the hot path keeps rec, fd and arg where they arrived across
 * it: no stack frame, no callee-saved register saved and restored.
 * Return: the kernel's result or -errno.
 */
#if defined(__x86_64__)
#define KHO_RECORD_SYS_IOCTL 1
static inline long kho_record_sys_ioctl(int fd, unsigned long cmd, void *arg)
{
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "0"((long)SYS_ioctl), "D"((long)fd), "S"(cmd),
			   "d"(arg)
			 : "rcx", "r11", "memory");
	return ret;
}
#elif defined(__aarch64__)
#define KHO_RECORD_SYS_IOCTL 1
static inline long kho_record_sys_ioctl(int fd, unsigned long cmd, void *arg)
{
	register long x8 __asm__("x8") = SYS_ioctl;
	register long x0 __asm__("x0") = fd;
	register unsigned long x1 __asm__("x1") = cmd;
	register void *x2 __asm__("x2") = arg;

	__asm__ volatile("svc 0"
			 : "+r"(x0)
			 : "r"(x8), "r"(x1), "r"(x2)
			 : "memory");
	return x0;
}
#endif

bool kho_record_can_syscall(void)
{
#ifdef KHO_RECORD_SYS_IOCTL
	return true;
#else
	return false;
#endif
}

/* A failed system call, as libc reports it. */
static __attribute__((noinline, cold)) int kho_record_sys_failed(long ret)
{
	errno = (int)-ret;
	return -1;
}

/* @real(fd, cmd, arg), or the system call itself when @real is NULL. */
static inline __attribute__((always_inline)) int
kho_record_real_ioctl(int (*real)(int, unsigned long, ...), int fd,
		      unsigned long cmd, void *arg)
{
#ifdef KHO_RECORD_SYS_IOCTL
	if (!real) {
		long ret = kho_record_sys_ioctl(fd, cmd, arg);

		return ret < 0 ? kho_record_sys_failed(ret) : (int)ret;
	}
#endif
	return real(fd, cmd, arg);
}

/*
 * The hot path's slow ends, each a tail call, so that the path itself
 * makes no call and keeps no register across one: the lock contended,
 * the call not journaled fast, a waiter to wake.
 */
static __attribute__((noinline, cold)) int
kho_record_hot_contended(struct kho_record *rec, int fd, unsigned long cmd,
			 void *arg, uint64_t unmap_len, int ret)
{
	kho_record_lock_wait(rec, 1);
	if (kho_record_note_fast(rec, fd, cmd, arg, &unmap_len))
		kho_record_note_hot_miss(rec, fd, cmd, arg, unmap_len);
	kho_record_unlock(rec);
	return ret;
}

static __attribute__((noinline)) int
kho_record_hot_missed(struct kho_record *rec, int fd, unsigned long cmd,
		      void *arg, uint64_t unmap_len, int ret)
{
	kho_record_note_hot_miss(rec, fd, cmd, arg, unmap_len);
	kho_record_unlock(rec);
	return ret;
}

static __attribute__((noinline, cold)) int
kho_record_hot_unmap_failed(struct kho_record *rec, int fd, const void *arg,
			    uint64_t unmap_len, int ret)
{
	struct iommu_ioas_unmap in;

	memcpy(&in, arg, sizeof(in));	/* a failed call writes nothing back */
	in.length = unmap_len;
	kho_record_unmap_failed(rec, fd, &in, errno);
	return ret;
}

static __attribute__((noinline, cold)) int
kho_record_hot_wake(struct kho_record *rec, int ret)
{
	kho_record_futex(&rec->lock, FUTEX_WAKE, 1);
	kho_record_depth--;
	return ret;
}

/*
 * MAP, MAP_FILE and UNMAP, the calls a VMM repeats: nothing is copied
 * before the call but UNMAP's length, and on the fast path nothing
 * touches errno, so it needs no saving.  One out-of-line copy per
 * command and way of calling (below), each with @cmd a constant: no
 * dispatch after the call, and, with the system call issued here, no
 * stack frame at all.  The lock is kho_record_lock()/_unlock() spelt
 * out, so that their slow ends are tail calls too.
 */
static inline __attribute__((always_inline)) int
kho_record_ioctl_hot(struct kho_record *rec,
		     int (*real)(int, unsigned long, ...), int fd,
		     unsigned long cmd, void *arg)
{
	uint64_t unmap_len = 0;
	int c = 0, ret;

	if (cmd == IOMMU_IOAS_UNMAP)
		unmap_len = ((const struct iommu_ioas_unmap *)arg)->length;
	ret = kho_record_real_ioctl(real, fd, cmd, arg);
	if (ret < 0)
		return cmd == IOMMU_IOAS_UNMAP ?
		       kho_record_hot_unmap_failed(rec, fd, arg, unmap_len, ret) :
		       ret;
	kho_record_depth++;
	if (!__atomic_compare_exchange_n(&rec->lock, &c, 1, false,
					 __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
		return kho_record_hot_contended(rec, fd, cmd, arg, unmap_len,
						ret);
	if (kho_record_note_fast(rec, fd, cmd, arg, &unmap_len))
		return kho_record_hot_missed(rec, fd, cmd, arg, unmap_len, ret);
	if (__atomic_exchange_n(&rec->lock, 0, __ATOMIC_RELEASE) == 2)
		return kho_record_hot_wake(rec, ret);
	kho_record_depth--;
	return ret;
}

/* @call: real, the ioctl the caller passed; NULL, the system call itself */
#define KHO_RECORD_IOCTL_HOT(name, cmd, call)				\
static __attribute__((noinline)) int					\
name(struct kho_record *rec, int (*real)(int, unsigned long, ...),	\
     int fd, void *arg)							\
{									\
	return kho_record_ioctl_hot(rec, call, fd, cmd, arg);		\
}
KHO_RECORD_IOCTL_HOT(kho_record_ioctl_map, IOMMU_IOAS_MAP, real)
KHO_RECORD_IOCTL_HOT(kho_record_ioctl_map_file, IOMMU_IOAS_MAP_FILE, real)
KHO_RECORD_IOCTL_HOT(kho_record_ioctl_unmap, IOMMU_IOAS_UNMAP, real)
#ifdef KHO_RECORD_SYS_IOCTL
KHO_RECORD_IOCTL_HOT(kho_record_sys_map, IOMMU_IOAS_MAP, NULL)
KHO_RECORD_IOCTL_HOT(kho_record_sys_map_file, IOMMU_IOAS_MAP_FILE, NULL)
KHO_RECORD_IOCTL_HOT(kho_record_sys_unmap, IOMMU_IOAS_UNMAP, NULL)
#else
#define kho_record_sys_map kho_record_ioctl_map
#define kho_record_sys_map_file kho_record_ioctl_map_file
#define kho_record_sys_unmap kho_record_ioctl_unmap
#endif

static int kho_record_ioctl_full(struct kho_record *rec,
				 int (*real)(int, unsigned long, ...), int fd,
				 unsigned long cmd, void *arg);

int kho_record_ioctl_via(struct kho_record *rec,
			 int (*real)(int, unsigned long, ...), int fd,
			 unsigned long cmd, void *arg)
{
	if (kho_record_depth)
		return kho_record_real_ioctl(real, fd, cmd, arg);
	/*
	 * Every iommufd argument starts with its u32 size; UNMAP's length is
	 * read only when the caller's struct has one.
	 */
	if (arg) {
		switch (cmd) {
		case IOMMU_IOAS_MAP:
			if (!real)
				return kho_record_sys_map(rec, real, fd, arg);
			return kho_record_ioctl_map(rec, real, fd, arg);
		case IOMMU_IOAS_MAP_FILE:
			if (!real)
				return kho_record_sys_map_file(rec, real, fd, arg);
			return kho_record_ioctl_map_file(rec, real, fd, arg);
		case IOMMU_IOAS_UNMAP:
			if (*(const uint32_t *)arg !=
			    sizeof(struct iommu_ioas_unmap))
				break;
			if (!real)
				return kho_record_sys_unmap(rec, real, fd, arg);
			return kho_record_ioctl_unmap(rec, real, fd, arg);
		}
	}
	return kho_record_ioctl_full(rec, real, fd, cmd, arg);
}

/*
 * Any other ioctl: the argument saved before the call, the full path
 * after it, errno kept.  Out of line, like kho_record_ioctl_hot(): each
 * saves only the registers it needs.
 */
static __attribute__((noinline)) int
kho_record_ioctl_full(struct kho_record *rec,
		      int (*real)(int, unsigned long, ...), int fd,
		      unsigned long cmd, void *arg)
{
	struct kho_record_call call;
	int ret, err;

	kho_record_prepare_inline(cmd, arg, &call);
	ret = kho_record_real_ioctl(real, fd, cmd, arg);
	if (ret < 0) {
		kho_record_note_failed(rec, fd, cmd, &call, errno);
		return ret;
	}
	err = errno;
	kho_record_lock(rec);
	kho_record_note_locked(rec, fd, cmd, arg, &call);
	kho_record_unlock(rec);
	errno = err;
	return ret;
}

int kho_record_ioctl(struct kho_record *rec, int fd, unsigned long cmd,
		     void *arg)
{
	struct kho_record_call call;

	kho_record_prepare(cmd, arg, &call);
	if (ioctl(fd, cmd, arg) < 0) {
		int err = errno;

		kho_record_note_failed(rec, fd, cmd, &call, err);
		return -err;
	}
	kho_record_note(rec, fd, cmd, arg, &call);
	return 0;
}

/* --- fds --------------------------------------------------------------- */

static void kho_record_drop_fd(struct kho_record *rec, int fd);


void kho_record_fd_opened(struct kho_record *rec, int fd, const char *path)
{
	kho_record_lock(rec);
	/* the number may be reused after a close we did not see */
	kho_record_drop_fd(rec, fd);
	if (path && (!strcmp(path, "/dev/iommu") ||
		     !strncmp(path, "/dev/vfio/devices/", 18)))
		kho_record_classify(rec, fd, path);
	kho_record_unlock(rec);
}

void kho_record_fd_set_kind(struct kho_record *rec, int fd,
			    enum kho_record_fd_kind kind)
{
	struct kho_record_ofd *o;
	struct stat st;

	kho_record_lock(rec);
	o = kho_record_ofd_of(rec, fd);
	kho_record_hot_forget(rec);
	if (o) {
		o->kind = kind;
	} else if (fstat(fd, &st) == 0) {
		int idx = kho_record_ofd_new(rec, fd, kind, st.st_rdev);

		if (idx && kind != KHO_RECORD_FD_OTHER)
			kho_record_maybe_serve(rec);
	}
	kho_record_unlock(rec);
}

int kho_record_fd_kind(struct kho_record *rec, int fd,
		       enum kho_record_fd_kind *kind)
{
	struct kho_record_ofd *o;

	kho_record_lock(rec);
	o = kho_record_classify(rec, fd, NULL);
	if (o)
		*kind = o->kind;
	kho_record_unlock(rec);
	return o ? 0 : -EBADF;
}

static void kho_record_drop_fd(struct kho_record *rec, int fd)
{
	struct kho_record_fdent *e = kho_record_fdent(rec, fd, false);
	struct kho_record_ofd *o;
	char why[160];
	bool devices = false;
	size_t i;

	if (fd == rec->hot_fd)
		kho_record_hot_forget(rec);
	if (!e)
		return;
	e->memfd_token = 0;
	if (!e->ofd)
		return;
	o = &rec->ofds[e->ofd - 1];
	e->ofd = 0;
	if (!o->refs || --o->refs)
		return;
	for (i = 0; i < rec->nr_ofds; i++)
		if (rec->ofds[i].refs && rec->ofds[i].bound)
			devices = true;
	if (o->kind == KHO_RECORD_FD_VFIO_CDEV && o->bound) {
		/* the device held the context open; was it the last? */
		if (rec->ctx_ofd >= 0 && !rec->ofds[rec->ctx_ofd].refs &&
		    !devices) {
			kho_record_reset(rec);
			return;
		}
		snprintf(why, sizeof(why),
			 "VFIO device %04x:%02x:%02x.%x (devid %u) was unbound by closing its fd: the journal has no record for unbind",
			 o->pci.segment, o->pci.bus, o->pci.devfn >> 3,
			 o->pci.devfn & 7, o->devid);
		kho_record_break(rec, why);
		o->bound = false;
	} else if (o->kind == KHO_RECORD_FD_IOMMUFD &&
		   o - rec->ofds == rec->ctx_ofd && !devices) {
		kho_record_reset(rec);
	}
}

void kho_record_fd_closed(struct kho_record *rec, int fd)
{
	kho_record_lock(rec);
	kho_record_drop_fd(rec, fd);
	kho_record_unlock(rec);
}

void kho_record_fd_dup(struct kho_record *rec, int oldfd, int newfd)
{
	struct kho_record_fdent *o, *n;

	if (oldfd == newfd || newfd < 0)
		return;
	kho_record_lock(rec);
	kho_record_drop_fd(rec, newfd);
	o = kho_record_fdent(rec, oldfd, false);
	if (o && o->ofd) {
		n = kho_record_fdent(rec, newfd, true);
		o = kho_record_fdent(rec, oldfd, false); /* fds moved */
		if (n) {
			n->ofd = o->ofd;
			n->memfd_token = o->memfd_token;
			rec->ofds[o->ofd - 1].refs++;
		}
	} else if (o && o->memfd_token) {
		n = kho_record_fdent(rec, newfd, true);
		o = kho_record_fdent(rec, oldfd, false);
		if (n)
			n->memfd_token = o->memfd_token;
	}
	kho_record_unlock(rec);
}

bool kho_record_fd_internal(struct kho_record *rec, int fd)
{
	struct kho_record_fdent *e;
	bool ret;

	kho_record_lock(rec);
	e = kho_record_fdent(rec, fd, false);
	ret = e && e->internal;
	kho_record_unlock(rec);
	return ret;
}

void kho_record_maps_changed(struct kho_record *rec)
{
	kho_record_lock(rec);
	rec->vmas_valid = false;
	rec->va_hit.end = 0;
	kho_record_unlock(rec);
}

/* --- status and snapshots ---------------------------------------------- */

static int kho_record_status_locked(struct kho_record *rec,
				    struct kho_diag *why)
{
	if (rec->broken[0])
		return kho_diag_set(why, -EOPNOTSUPP, "%s", rec->broken);
	if (rec->nr_refused)
		return kho_diag_set(why, -EOPNOTSUPP, "%s%s",
				    rec->refused[0].why,
				    rec->nr_refused > 1 ? " (and more)" : "");
	return 0;
}

int kho_record_status(struct kho_record *rec, struct kho_diag *why)
{
	int ret;

	kho_record_lock(rec);
	ret = kho_record_status_locked(rec, why);
	kho_record_unlock(rec);
	return ret;
}

/*
 * A new descriptor for the recorder's own reference @fd: a dup in this
 * table, or from the socket server's thread, which has a table of its
 * own, pidfd_getfd(2) from the VMM's (@vmm_pidfd >= 0).  Both are
 * close-on-exec.  Return: the fd or -errno.
 */
static int kho_record_fd_get(int fd, int vmm_pidfd)
{
	int ret;

	if (vmm_pidfd < 0)
		ret = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	else
		ret = syscall(SYS_pidfd_getfd, vmm_pidfd, fd, 0);
	return ret < 0 ? -errno : ret;
}

static int kho_record_handoff_locked(struct kho_record *rec,
				     struct kho_handoff *h, int **fds,
				     size_t *nr_fds, int vmm_pidfd)
{
	struct kho_state *s = &h->state;
	struct utsname uts;
	size_t i, nr_dev = 0;
	int ret = -ENOMEM;

	kho_handoff_init(h);
	h->format_version = KHO_FORMAT_VERSION;
	h->min_reader_version = 1;
	snprintf(h->tool_version, sizeof(h->tool_version), "%s",
		 KHO_TOOL_VERSION);
	if (uname(&uts) == 0)
		snprintf(h->kernel_release, sizeof(h->kernel_release), "%s",
			 uts.release);
	h->created = time(NULL);
	if (fds) {
		*fds = calloc(rec->nr_memfds ? rec->nr_memfds : 1,
			      sizeof(**fds));
		*nr_fds = 0;
		if (!*fds)
			goto err;
	}
	s->memfd = calloc(rec->nr_memfds ? rec->nr_memfds : 1,
			  sizeof(*s->memfd));
	if (!s->memfd)
		goto err;
	for (i = 0; i < rec->nr_memfds; i++) {
		struct kho_memfd *m = &s->memfd[i];
		int fd = rec->memfds[i].fd;

		/* a new descriptor only to send, or to reach the VMM's table */
		if (fds || vmm_pidfd >= 0) {
			fd = kho_record_fd_get(fd, vmm_pidfd);
			if (fd < 0) {
				ret = fd;
				goto err;
			}
		}
		kho_record_describe_memfd(rec, i, fd, m);
		s->nr_memfd++;
		if (fds)
			(*fds)[(*nr_fds)++] = fd;
		else if (fd != rec->memfds[i].fd)
			close(fd);
	}
	for (i = 0; i < rec->nr_ofds; i++)
		nr_dev += rec->ofds[i].refs && rec->ofds[i].bound;
	s->dev = calloc(nr_dev ? nr_dev : 1, sizeof(*s->dev));
	if (!s->dev)
		goto err;
	for (i = 0; i < rec->nr_ofds; i++) {
		const struct kho_record_ofd *o = &rec->ofds[i];
		struct kho_device *d;

		if (!o->refs || !o->bound)
			continue;
		d = &s->dev[s->nr_dev++];
		d->id = o->devid;
		d->pci = o->pci;
		snprintf(d->driver, sizeof(d->driver), "%s", o->driver);
		/*
		 * The snapshot's state holds no HWPTs: the attachment lives
		 * in the journal, and compaction derives it from there.
		 */
		d->attached_pt = 0;
	}
	for (i = 0; i < rec->journal.nr; i++) {
		ret = kho_journal_append(&h->replay, &rec->journal.recs[i]);
		if (ret)
			goto err;
	}
	h->journal_length = rec->journal.nr + 2 * rec->nr_elided;
	return 0;
err:
	if (fds && *fds) {
		while (*nr_fds)
			close((*fds)[--*nr_fds]);
		free(*fds);
		*fds = NULL;
	}
	kho_handoff_free(h);
	return ret;
}

int kho_record_handoff(struct kho_record *rec, struct kho_handoff *h,
		       int **fds, size_t *nr_fds)
{
	int ret;

	kho_record_lock(rec);
	ret = kho_record_handoff_locked(rec, h, fds, nr_fds, -1);
	kho_record_unlock(rec);
	return ret;
}

/* --- adoption after kexec --------------------------------------------- */

/* Old ID -> new ID of one record's object references, in place. */
static int kho_record_adopt_ids(struct kho_rec *r, const struct kho_idmap *m)
{
	uint32_t *ids[3] = { NULL, NULL, NULL };
	size_t i;

	switch (r->op) {
	case KHO_OP_IOAS_ALLOC:
		ids[0] = &r->ioas_alloc.out_ioas_id;
		break;
	case KHO_OP_IOAS_ALLOW_IOVAS:
		ids[0] = &r->allow_iovas.ioas_id;
		break;
	case KHO_OP_IOAS_MAP_FILE:
		ids[0] = &r->map.ioas_id;
		break;
	case KHO_OP_OPTION:
		ids[0] = &r->option.object_id;
		break;
	case KHO_OP_HWPT_ALLOC:
		ids[0] = &r->hwpt_alloc.dev_id;
		ids[1] = &r->hwpt_alloc.pt_id;
		ids[2] = &r->hwpt_alloc.out_hwpt_id;
		break;
	case KHO_OP_HWPT_SET_DIRTY_TRACKING:
		ids[0] = &r->dirty_tracking.hwpt_id;
		break;
	case KHO_OP_DEVICE_BIND:
		ids[0] = &r->bind.out_devid;
		break;
	case KHO_OP_DEVICE_ATTACH:
		ids[0] = &r->attach.dev_id;
		ids[1] = &r->attach.pt_id;
		ids[2] = &r->attach.out_hwpt_id;
		break;
	default:
		/* A plan holds only the ops above (rec_phase() in replay.c). */
		return -EBADMSG;
	}
	for (i = 0; i < 3; i++)
		if (ids[i] && *ids[i] && kho_idmap_lookup(m, *ids[i], ids[i]))
			return -ENOENT;
	return 0;
}

/* The adopted memfd under its hand-off token, so the plan's records hold. */
static int kho_record_adopt_memfd(struct kho_record *rec,
				  const struct kho_adopt_memfd *am,
				  const struct kho_state *s)
{
	struct kho_record_memfd *m;
	struct stat st;
	uint64_t token;
	size_t i;
	int ret;

	if (fstat(am->fd, &st) < 0)
		return -errno;
	ret = kho_record_memfd_add(rec, am->fd, &st, &token);
	if (ret)
		return ret;
	m = kho_record_memfd_find(rec, st.st_dev, st.st_ino);
	m->token = am->token;
	rec->va_hit.end = 0;	/* it may have named the old token */
	for (i = 0; i < s->nr_memfd; i++)
		if (s->memfd[i].token == am->token)
			snprintf(m->name, sizeof(m->name), "%s", s->memfd[i].name);
	if (rec->next_token <= am->token)
		rec->next_token = am->token + 1;
	return 0;
}

/* The kernel names a memfd by inode; the recorder knows its token. */
static int kho_record_ino_to_token(void *ctx, uint64_t ino, uint64_t *token)
{
	const struct kho_record *rec = ctx;
	size_t i;

	for (i = 0; i < rec->nr_memfds; i++)
		if ((uint64_t)rec->memfds[i].ino == ino) {
			*token = rec->memfds[i].token;
			return 0;
		}
	return -ENOENT;
}

/*
 * Seeds the journal from the kernel's record of the adopted iommufd.
 * Called with the lock held, so the IOMMU_JOURNAL_READ calls pass the
 * wrapper unrecorded.  Return: -ENOTTY on a kernel without the journal
 * (the caller seeds from the plan), 0, or why it failed.
 */
static int kho_record_adopt_kjournal(struct kho_record *rec, int iommufd,
				     struct kho_diag *diag)
{
	struct kho_kjournal_status st;
	struct kho_diag why = { "" };
	int ret;

	ret = kho_kjournal_status(iommufd, false, &st);
	if (ret == -ENOTTY)
		return ret;
	if (ret)
		return kho_diag_set(diag, ret,
				    "adopt: iommufd fd %d: kernel journal status: %s",
				    iommufd, strerror(-ret));
	if (st.state != KHO_KJOURNAL_RECORDING &&
	    st.state != KHO_KJOURNAL_VERIFIED)
		return kho_diag_set(diag, -EBUSY,
				    "adopt: iommufd fd %d: kernel journal in state %u, not recording: the replay was not verified",
				    iommufd, st.state);
	ret = kho_kjournal_read(iommufd, false, kho_record_ino_to_token, rec,
				&rec->journal, NULL, &why);
	if (ret)
		return kho_diag_set(diag, ret,
				    "adopt: iommufd fd %d: reading the kernel journal: %s",
				    iommufd, why.msg[0] ? why.msg : strerror(-ret));
	/* as if recorded here: capture elides the kernel's journal alike */
	kho_journal_elide(&rec->journal, &rec->nr_elided);
	return 0;
}

static int kho_record_adopt_locked(struct kho_record *rec,
				   const struct kho_handoff *h,
				   const struct kho_adopt_set *set,
				   struct kho_diag *diag)
{
	struct kho_record_ofd *o;
	struct kho_journal plan;
	size_t i, j;
	int ret;

	if (rec->journal.nr || rec->ctx_ofd >= 0)
		return kho_diag_set(diag, -EEXIST,
				    "adopt: the journal already holds %zu records of another iommufd: the adopted one would be a second context",
				    rec->journal.nr);
	o = kho_record_classify(rec, set->iommufd, "/dev/iommu");
	if (!o || o->kind != KHO_RECORD_FD_IOMMUFD)
		return kho_diag_set(diag, -EBADF,
				    "adopt: iommufd fd %d: not an iommufd", set->iommufd);
	rec->ctx_ofd = o - rec->ofds;
	kho_record_hot_forget(rec);
	for (i = 0; i < set->nr_memfd; i++) {
		ret = kho_record_adopt_memfd(rec, &set->memfd[i], &h->state);
		if (ret)
			return kho_diag_set(diag, ret,
					    "adopt: memfd token %llu (fd %d): %s",
					    (unsigned long long)set->memfd[i].token,
					    set->memfd[i].fd, strerror(-ret));
	}
	for (i = 0; i < set->nr_dev; i++) {
		const struct kho_adopt_dev *d = &set->dev[i];

		o = kho_record_classify(rec, d->fd, d->cdev);
		if (!o || o->kind != KHO_RECORD_FD_VFIO_CDEV)
			return kho_diag_set(diag, -EBADF,
					    "adopt: device %u (fd %d, %s): not a VFIO cdev",
					    d->new_id, d->fd, d->cdev);
		o->bound = true;
		o->devid = d->new_id;
		o->attached_pt = d->new_hwpt;
		o->pci = d->pci;
		o->pci_known = true;
		for (j = 0; j < h->state.nr_dev; j++)
			if (h->state.dev[j].id == d->old_id)
				snprintf(o->driver, sizeof(o->driver), "%s",
					 h->state.dev[j].driver);
	}
	/*
	 * On a kernel that journals, the adopted iommufd's own journal says
	 * what built it (after a kernel-verified restore: the whole preserved
	 * journal, not the plan), so the recorder starts from it and the next
	 * capture compares equal with the kernel record by record.
	 */
	ret = kho_record_adopt_kjournal(rec, set->iommufd, diag);
	if (ret != -ENOTTY) {
		if (ret)
			kho_record_reset(rec);
		return ret;
	}
	/*
	 * Elsewhere the journal starts as the plan the agent replayed, in the
	 * IDs the agent got: compacting it again yields the state this
	 * process adopted, and what it does from now on is recorded on top.
	 */
	ret = kho_plan_expand(&h->replay, &h->state, &plan, diag);
	if (ret)
		return ret;
	for (i = 0; i < plan.nr; i++) {
		ret = kho_record_adopt_ids(&plan.recs[i], &set->idmap);
		if (ret) {
			kho_diag_set(diag, ret,
				     "adopt: plan record %zu (%s): %s", i,
				     kho_op_name(plan.recs[i].op),
				     ret == -ENOENT ? "an object the agent did not rebuild" :
				     "not an op a plan holds");
			break;
		}
		ret = kho_journal_append(&rec->journal, &plan.recs[i]);
		if (ret) {
			kho_diag_set(diag, ret, "adopt: journal: out of memory");
			break;
		}
	}
	kho_journal_free(&plan);
	if (ret)
		kho_record_reset(rec);
	return ret;
}

int kho_record_adopt(struct kho_record *rec, const struct kho_handoff *h,
		     const struct kho_adopt_set *set, struct kho_diag *diag)
{
	int ret;

	kho_record_lock(rec);
	ret = kho_record_adopt_locked(rec, h, set, diag);
	if (ret)
		kho_record_break(rec, diag->msg);
	kho_record_unlock(rec);
	return ret;
}

/* The server's view: an encoded hand-off, and the memfds unless refused. */
static int kho_record_snapshot(void *ctx, int vmm_pidfd, void **blob,
			       size_t *len, int **fds, size_t *nr_fds,
			       struct kho_diag *diag)
{
	struct kho_record *rec = ctx;
	struct kho_handoff h;
	int status, ret;

	kho_record_lock(rec);
	status = kho_record_status_locked(rec, diag);
	ret = kho_record_handoff_locked(rec, &h, status ? NULL : fds, nr_fds,
					vmm_pidfd);
	kho_record_unlock(rec);
	if (ret)
		return kho_diag_set(diag, ret, "snapshot: %s", strerror(-ret));
	if (status) {
		*fds = NULL;
		*nr_fds = 0;
	} else if (*nr_fds > KHO_JSOCK_MAX_FDS) {
		status = kho_diag_set(diag, -E2BIG,
				      "snapshot: %zu memfds, one message carries at most %d",
				      *nr_fds, KHO_JSOCK_MAX_FDS);
	}
	kho_record_depth++;
	ret = kho_handoff_encode(&h, blob, len);
	kho_record_depth--;
	kho_handoff_free(&h);
	if (ret)
		status = kho_diag_set(diag, ret, "snapshot: encoding the hand-off: %s",
				      strerror(-ret));
	if (status && *fds) {
		while (*nr_fds)
			close((*fds)[--*nr_fds]);
		free(*fds);
		*fds = NULL;
	}
	return status;
}

static int kho_record_serve_locked(struct kho_record *rec,
				   struct kho_diag *diag)
{
	int ret;

	if (rec->srv && rec->srv_pid == getpid())
		return -EALREADY;
	ret = kho_journal_sock_serve(kho_record_snapshot, rec, &rec->srv,
				     diag);
	if (!ret)
		rec->srv_pid = getpid();
	rec->serve_pending = false;
	return ret;
}

int kho_record_serve(struct kho_record *rec, struct kho_diag *diag)
{
	int ret;

	kho_record_lock(rec);
	ret = kho_record_serve_locked(rec, diag);
	kho_record_unlock(rec);
	return ret;
}

static void kho_record_maybe_serve(struct kho_record *rec)
{
	struct kho_diag diag;

	if (!rec->serve_lazily && !rec->serve_pending)
		return;
	if (rec->srv && rec->srv_pid == getpid())
		return;
	rec->serve_lazily = false;
	if (kho_record_serve_locked(rec, &diag))
		fprintf(stderr, "kho-record: pid %d: %s\n", getpid(), diag.msg);
}

void kho_record_serve_stop(struct kho_record *rec)
{
	struct kho_jsock_server *srv;
	bool ours;

	kho_record_lock(rec);
	srv = rec->srv;
	ours = rec->srv_pid == getpid();
	rec->srv = NULL;
	rec->serve_lazily = false;
	rec->serve_pending = false;
	kho_record_unlock(rec);
	/* outside the lock: a request in flight takes it to snapshot */
	kho_record_depth++;
	if (ours)
		kho_journal_sock_stop(srv);
	else
		kho_journal_sock_abandon(srv);
	kho_record_depth--;
}

void kho_record_serve_lazily(struct kho_record *rec)
{
	kho_record_lock(rec);
	rec->serve_lazily = true;
	kho_record_unlock(rec);
}

void kho_record_atfork_prepare(struct kho_record *rec)
{
	kho_record_lock(rec);
}

void kho_record_atfork_parent(struct kho_record *rec)
{
	kho_record_unlock(rec);
}

void kho_record_atfork_child(struct kho_record *rec)
{
	/* the lock was held across fork by the prepare handler */
	rec->lock = 0;
	kho_record_depth = 0;
	if (rec->srv) {
		kho_journal_sock_abandon(rec->srv);
		rec->srv = NULL;
		rec->serve_pending = true;
		kho_record_hot_forget(rec);
	}
}

void kho_record_free(struct kho_record *rec)
{
	size_t i;

	if (!rec)
		return;
	if (rec->srv) {
		if (rec->srv_pid == getpid())
			kho_journal_sock_stop(rec->srv);
		else
			kho_journal_sock_abandon(rec->srv);
	}
	kho_record_depth++;
	kho_journal_free(&rec->journal);
	for (i = 0; i < rec->nr_memfds; i++)
		close(rec->memfds[i].fd);
	kho_record_depth--;
	free(rec->memfds);
	free(rec->fds);
	free(rec->ofds);
	free(rec->vmas);
	free(rec->refused);
	free(rec);
}
