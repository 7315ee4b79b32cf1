// SPDX-License-Identifier: LGPL-2.1-or-later
/* The hardware-poisoned pages of a guest-RAM memfd, from pagemap and kpageflags. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/userfaultfd.h>

#include "poison.h"
#include "proc.h"

/* pagemap entries read at once: 4 KiB of them. */
#define BATCH	512

static ssize_t sys_pread(void *ctx, int fd, void *buf, size_t len, off_t off)
{
	ssize_t n = pread(fd, buf, len, off);

	return n < 0 ? -errno : n;
}

const struct kho_poison_io kho_poison_sys = { .pread = sys_pread };

void kho_poison_list_free(struct kho_poison_list *l)
{
	free(l->r);
	memset(l, 0, sizeof(*l));
}

static int add_page(struct kho_poison_list *l, uint64_t off, uint64_t len)
{
	struct kho_poison_range *last = l->nr ? &l->r[l->nr - 1] : NULL;

	if (last && last->offset + last->length == off) {
		last->length += len;
		return 0;
	}
	if (l->nr == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;
		void *p = realloc(l->r, cap * sizeof(*l->r));

		if (!p)
			return -ENOMEM;
		l->r = p;
		l->cap = cap;
	}
	l->r[l->nr++] = (struct kho_poison_range){ off, len };
	return 0;
}

/* A read that must fill its buffer: a short one is -EIO. */
static int read_full(const struct kho_poison_io *io, void *ctx, int fd,
		     void *buf, size_t len, off_t off)
{
	ssize_t n;

	do
		n = io->pread(ctx, fd, buf, len, off);
	while (n == -EINTR);
	if (n < 0)
		return (int)n;
	return (size_t)n == len ? 0 : -EIO;
}

static int page_poisoned(const struct kho_poison_io *io, void *ctx,
			 const struct kho_poison_src *src, uint64_t pme,
			 uint64_t off, bool *poisoned, struct kho_diag *diag)
{
	uint64_t pfn = pme & KHO_PM_PFN_MASK, flags;
	char byte;
	ssize_t n;
	int err;

	if (src->pagemap >= 0 && src->kpageflags >= 0 && pme & KHO_PM_PRESENT) {
		if (!pfn)
			return kho_diag_set(diag, -EPERM,
					    "poison: memfd offset 0x%" PRIx64 ": pagemap hides the frame (reading PFNs needs CAP_SYS_ADMIN)",
					    off);
		err = read_full(io, ctx, src->kpageflags, &flags,
				sizeof(flags), (off_t)(pfn * sizeof(flags)));
		if (err)
			return kho_diag_set(diag, err,
					    "poison: /proc/kpageflags: pfn 0x%" PRIx64 ": %s",
					    pfn, kho_errno_name(err));
		*poisoned = flags >> KHO_KPF_HWPOISON & 1;
		return 0;
	}
	/* Poisoned in this mapping only, over a good page: UFFDIO_POISON. */
	if (src->pagemap >= 0 && pme & KHO_PM_SWAP &&
	    (pme & KHO_PM_SWAP_TYPE_MASK) == KHO_PM_PTE_MARKER &&
	    (pme & KHO_PM_PFN_MASK) >> KHO_PM_SWAP_TYPE_SHIFT &
	    KHO_PTE_MARKER_POISONED) {
		*poisoned = true;
		return 0;
	}
	/* Not mapped (or a hwpoison entry): shmem answers EIO for poison. */
	do
		n = io->pread(ctx, src->memfd, &byte, 1, (off_t)off);
	while (n == -EINTR);
	if (n == -EIO) {
		*poisoned = true;
		return 0;
	}
	if (n < 0)
		return kho_diag_set(diag, (int)n,
				    "poison: memfd offset 0x%" PRIx64 ": read: %s",
				    off, kho_errno_name((int)n));
	*poisoned = false;
	return 0;
}

int kho_poison_scan(const struct kho_poison_io *io, void *ctx,
		    const struct kho_poison_src *src,
		    struct kho_poison_list *out, struct kho_diag *diag)
{
	uint64_t pme[BATCH], ps = src->page_size, pages, i, k;
	bool poisoned = false;
	int err;

	if (!ps || ps & (ps - 1) || src->va % ps || src->offset % ps ||
	    src->length % ps)
		return kho_diag_set(diag, -EINVAL,
				    "poison: mapping 0x%" PRIx64 "+0x%" PRIx64 " at memfd offset 0x%" PRIx64 ": not aligned to pages of %zu bytes",
				    src->va, src->length, src->offset, src->page_size);
	pages = src->length / ps;
	for (i = 0; i < pages; i += BATCH) {
		uint64_t n = pages - i < BATCH ? pages - i : BATCH;

		if (src->pagemap < 0) {
			memset(pme, 0, n * sizeof(pme[0]));
			err = 0;
		} else {
			err = read_full(io, ctx, src->pagemap, pme,
					n * sizeof(pme[0]),
					(off_t)((src->va / ps + i) * sizeof(pme[0])));
		}
		if (err)
			return kho_diag_set(diag, err,
					    "poison: pagemap of 0x%" PRIx64 ": %s",
					    src->va + i * ps, kho_errno_name(err));
		for (k = 0; k < n; k++) {
			uint64_t off = src->offset + (i + k) * ps;

			err = page_poisoned(io, ctx, src, pme[k], off,
					    &poisoned, diag);
			if (err)
				return err;
			if (poisoned && add_page(out, off, ps))
				return kho_diag_set(diag, -ENOMEM,
						    "poison: out of memory");
		}
	}
	return 0;
}

/* A window of a memfd the VMM maps: its VA and the bytes it covers. */
struct window {
	uint64_t va, offset, length;
};

static int window_cmp(const void *a, const void *b)
{
	const struct window *x = a, *y = b;

	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static int range_cmp(const void *a, const void *b)
{
	const struct kho_poison_range *x = a, *y = b;

	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static int poison_cmp(const void *a, const void *b)
{
	const struct kho_poison *x = a, *y = b;

	if (x->memfd_token != y->memfd_token)
		return x->memfd_token < y->memfd_token ? -1 : 1;
	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* The VMM's windows of the file @st, from its maps. */
static int find_windows(FILE *maps, const struct stat *st, uint64_t end,
			struct window **out, size_t *nr)
{
	char line[512];
	size_t cap = 0;

	*nr = 0;
	rewind(maps);
	while (fgets(line, sizeof(line), maps)) {
		struct kho_maps_line m;
		struct window *w;

		if (kho_maps_line_parse(line, &m) ||
		    m.major != major(st->st_dev) || m.minor != minor(st->st_dev) ||
		    m.ino != (uint64_t)st->st_ino || m.offset >= end ||
		    m.end <= m.start)
			continue;
		if (*nr == cap) {
			cap = cap ? cap * 2 : 8;
			w = realloc(*out, cap * sizeof(*w));
			if (!w)
				return -ENOMEM;
			*out = w;
		}
		/* a mapping may reach past EOF: those bytes are no page */
		(*out)[(*nr)++] = (struct window){
			m.start, m.offset,
			m.end - m.start < end - m.offset ? m.end - m.start :
							   end - m.offset };
	}
	return ferror(maps) ? -EIO : 0;
}

/* Sorts @l by offset and merges what overlaps or touches. */
static void merge_ranges(struct kho_poison_list *l)
{
	size_t i, n = 0;

	if (!l->nr)
		return;
	qsort(l->r, l->nr, sizeof(*l->r), range_cmp);
	for (i = 1; i < l->nr; i++) {
		struct kho_poison_range *last = &l->r[n];
		uint64_t end = l->r[i].offset + l->r[i].length;

		if (l->r[i].offset <= last->offset + last->length) {
			if (end > last->offset + last->length)
				last->length = end - last->offset;
			continue;
		}
		l->r[++n] = l->r[i];
	}
	l->nr = n + 1;
}

/* One memfd: its windows through pagemap, the rest through the memfd. */
static int find_one(FILE *maps, int pagemap, int kpageflags,
		    const struct kho_memfd *m, int fd,
		    struct kho_poison_list *l, struct kho_diag *diag)
{
	struct kho_poison_src src = {
		.kpageflags = kpageflags, .memfd = fd,
		.page_size = KHO_POISON_PAGE,
	};
	struct window *w = NULL;
	uint64_t end, done = 0;
	struct stat st;
	size_t nr = 0, i;
	int err;

	if (fstat(fd, &st))
		return kho_diag_set(diag, -errno, "poison: memfd token %llu (%s): %s",
				    (unsigned long long)m->token, m->name,
				    strerror(errno));
	end = ((uint64_t)st.st_size + KHO_POISON_PAGE - 1) &
	      ~(uint64_t)(KHO_POISON_PAGE - 1);
	err = find_windows(maps, &st, end, &w, &nr);
	if (err) {
		free(w);
		return kho_diag_set(diag, err, "poison: memfd token %llu (%s): the VMM's maps: %s",
				    (unsigned long long)m->token, m->name,
				    strerror(-err));
	}
	qsort(w, nr, sizeof(*w), window_cmp);
	for (i = 0; !err && i <= nr; i++) {
		uint64_t upto = i < nr ? w[i].offset : end;

		/* the bytes before this window that no window covered */
		if (upto > done) {
			src.pagemap = -1;
			src.va = 0;
			src.offset = done;
			src.length = upto - done;
			err = kho_poison_scan(&kho_poison_sys, NULL, &src, l,
					      diag);
		}
		if (!err && i < nr) {
			src.pagemap = pagemap;
			src.va = w[i].va;
			src.offset = w[i].offset;
			src.length = w[i].length;
			err = kho_poison_scan(&kho_poison_sys, NULL, &src, l,
					      diag);
			if (w[i].offset + w[i].length > done)
				done = w[i].offset + w[i].length;
		}
	}
	free(w);
	if (err)
		return kho_diag_set(diag, err, "memfd token %llu (%s): %s",
				    (unsigned long long)m->token, m->name,
				    diag ? diag->msg : "");
	merge_ranges(l);
	return 0;
}

int kho_poison_find(const char *proc, pid_t pid, const struct kho_memfd *memfds,
		    const int *fds, size_t nr, struct kho_poison **out,
		    size_t *nr_out, struct kho_diag *diag)
{
	struct kho_poison_list l = { 0 };
	struct kho_poison *all = NULL, *p;
	int pagemap = -1, kpageflags = -1, err = 0;
	size_t i, k, n = 0;
	char path[128];
	FILE *maps;

	*out = NULL;
	*nr_out = 0;
	if (!nr)
		return 0;
	if (sysconf(_SC_PAGESIZE) != KHO_POISON_PAGE)
		return kho_diag_set(diag, -EOPNOTSUPP, "poison: pages of %ld bytes: the hand-off's poison ranges are in pages of %u",
				    sysconf(_SC_PAGESIZE), KHO_POISON_PAGE);
	snprintf(path, sizeof(path), "%s/%d/maps", proc, (int)pid);
	maps = fopen(path, "re");
	if (!maps)
		return kho_diag_set(diag, -errno, "poison: %s: %s", path,
				    strerror(errno));
	snprintf(path, sizeof(path), "%s/%d/pagemap", proc, (int)pid);
	pagemap = open(path, O_RDONLY | O_CLOEXEC);
	if (pagemap < 0)
		err = -errno;
	if (!err) {
		snprintf(path, sizeof(path), "%s/kpageflags", proc);
		kpageflags = open(path, O_RDONLY | O_CLOEXEC);
		if (kpageflags < 0)
			err = -errno;
	}
	/*
	 * A kernel without CONFIG_PROC_PAGE_MONITOR (the rig's plain
	 * kernels): every page is judged by the memfd alone.  And without
	 * CONFIG_MEMORY_FAILURE too, no page can be hwpoisoned and no
	 * marker seen: nothing to look for.
	 */
	if (err == -ENOENT) {
		if (pagemap >= 0)
			close(pagemap);
		pagemap = -1;
		err = 0;
		snprintf(path, sizeof(path), "%s/sys/vm/memory_failure_early_kill",
			 proc);
		if (access(path, F_OK))
			goto out;
	}
	if (err) {
		kho_diag_set(diag, err, "poison: %s: %s%s", path, strerror(-err),
			     err == -EACCES || err == -EPERM ? " (reading frames needs CAP_SYS_ADMIN)" :
			     err == -ENOENT ? " (a kernel without CONFIG_PROC_PAGE_MONITOR)" : "");
		goto out;
	}
	for (i = 0; !err && i < nr; i++) {
		l.nr = 0;
		err = find_one(maps, pagemap, kpageflags, &memfds[i], fds[i],
			       &l, diag);
		if (err || !l.nr)
			continue;
		p = realloc(all, (n + l.nr) * sizeof(*p));
		if (!p) {
			err = -ENOMEM;
			break;
		}
		all = p;
		for (k = 0; k < l.nr; k++)
			all[n++] = (struct kho_poison){ memfds[i].token,
							l.r[k].offset,
							l.r[k].length };
	}
	if (!err && n > KHO_POISON_MAX)
		err = kho_diag_set(diag, -E2BIG, "poison: %zu poisoned ranges, more than a hand-off carries (%u)",
				   n, KHO_POISON_MAX);
	if (!err) {
		qsort(all, n, sizeof(*all), poison_cmp);
		*out = all;
		*nr_out = n;
		all = NULL;
	}
out:
	free(all);
	kho_poison_list_free(&l);
	if (kpageflags >= 0)
		close(kpageflags);
	if (pagemap >= 0)
		close(pagemap);
	fclose(maps);
	return err;
}

int kho_poison_punch(int fd, const struct kho_poison *p, struct kho_diag *diag)
{
	if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      (off_t)p->offset, (off_t)p->length))
		return kho_diag_set(diag, -errno, "poison: memfd token %llu: punching 0x%llx+0x%llx out: %s",
				    (unsigned long long)p->memfd_token,
				    (unsigned long long)p->offset,
				    (unsigned long long)p->length,
				    strerror(errno));
	return 0;
}

/* The child of kho_poison_inject(): 0, or the errno that stopped it. */
static int inject_child(int fd, const struct kho_poison *p)
{
	uint64_t i;
	char *va;

	va = mmap(NULL, p->length, PROT_READ, MAP_SHARED, fd, (off_t)p->offset);
	if (va == MAP_FAILED)
		return errno;
	/*
	 * EBUSY: memory_failure() marked the page but could not recover it
	 * (an IOAS still pins it): poisoned all the same, which the parent's
	 * read decides.
	 */
	for (i = 0; i < p->length; i += KHO_POISON_PAGE)
		if (madvise(va + i, KHO_POISON_PAGE, MADV_HWPOISON) &&
		    errno != EBUSY)
			return errno;
	return 0;
}

int kho_poison_inject(int fd, const struct kho_poison *p, struct kho_diag *diag)
{
	uint64_t i;
	int status;
	char byte;
	pid_t child;

	child = fork();
	if (child < 0)
		return kho_diag_set(diag, -errno, "poison: memfd token %llu 0x%llx+0x%llx: poisoning it again: fork: %s",
				    (unsigned long long)p->memfd_token,
				    (unsigned long long)p->offset,
				    (unsigned long long)p->length,
				    strerror(errno));
	if (!child)
		_exit(inject_child(fd, p));
	while (waitpid(child, &status, 0) < 0)
		if (errno != EINTR)
			return kho_diag_set(diag, -errno, "poison: waitpid: %s",
					    strerror(errno));
	if (WIFEXITED(status) && WEXITSTATUS(status))
		return kho_diag_set(diag, -WEXITSTATUS(status),
				    "poison: memfd token %llu 0x%llx+0x%llx: poisoning it again: madvise(MADV_HWPOISON): %s",
				    (unsigned long long)p->memfd_token,
				    (unsigned long long)p->offset,
				    (unsigned long long)p->length,
				    strerror(WEXITSTATUS(status)));
	/* Whatever the child saw, the memfd must now refuse every page. */
	for (i = 0; i < p->length; i += KHO_POISON_PAGE)
		if (pread(fd, &byte, 1, (off_t)(p->offset + i)) != -1 ||
		    errno != EIO)
			return kho_diag_set(diag, -EIO,
					    "poison: memfd token %llu offset 0x%llx: poisoned again, but it still reads%s%s",
					    (unsigned long long)p->memfd_token,
					    (unsigned long long)(p->offset + i),
					    WIFSIGNALED(status) ? ": the injecting child died of signal " : "",
					    WIFSIGNALED(status) ? strsignal(WTERMSIG(status)) : "");
	return 0;
}

/* One range of the mapping at @addr: registered, poisoned, unregistered. */
static int uffd_poison(int uffd, uint64_t addr, uint64_t len)
{
	struct uffdio_register reg = {
		.range = { .start = addr, .len = len },
		.mode = UFFDIO_REGISTER_MODE_MISSING,
	};
	struct uffdio_poison poison = { .range = { .start = addr, .len = len } };
	int err = 0;

	if (ioctl(uffd, UFFDIO_REGISTER, &reg))
		return -errno;
	if (ioctl(uffd, UFFDIO_POISON, &poison))
		err = -errno;
	else if (poison.updated != (int64_t)len)
		err = poison.updated < 0 ? (int)poison.updated : -EIO;
	/*
	 * Left registered, every other missing fault there would wait for a
	 * handler nobody runs; the markers outlive the registration.
	 */
	if (ioctl(uffd, UFFDIO_UNREGISTER, &reg.range) && !err)
		err = -errno;
	return err;
}

int kho_poison_apply(const struct kho_poison *list, size_t nr, uint64_t token,
		     void *va, uint64_t offset, uint64_t length, size_t *pages,
		     struct kho_diag *diag)
{
	struct uffdio_api api = { .api = UFFD_API,
				  .features = UFFD_FEATURE_POISON };
	int uffd = -1, err = 0;
	size_t i;

	*pages = 0;
	for (i = 0; !err && i < nr; i++) {
		const struct kho_poison *p = &list[i];
		uint64_t start, end;

		if (p->memfd_token != token || p->offset >= offset + length ||
		    p->offset + p->length <= offset)
			continue;
		start = p->offset > offset ? p->offset : offset;
		end = p->offset + p->length < offset + length ?
		      p->offset + p->length : offset + length;
		if (uffd < 0) {
			/* user-mode faults are all a guest's access takes */
			uffd = syscall(SYS_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY);
			if (uffd < 0)
				return kho_diag_set(diag, -errno, "poison: memfd token %llu: userfaultfd: %s",
						    (unsigned long long)token,
						    strerror(errno));
			if (ioctl(uffd, UFFDIO_API, &api)) {
				err = -errno;
				close(uffd);
				return kho_diag_set(diag, err == -EINVAL ? -EOPNOTSUPP : err,
						    "poison: memfd token %llu: UFFDIO_API with UFFD_FEATURE_POISON: %s%s",
						    (unsigned long long)token,
						    strerror(-err),
						    err == -EINVAL ? " (this kernel cannot poison a page of a mapping: Linux 6.6 and CONFIG_USERFAULTFD needed)" : "");
			}
		}
		err = uffd_poison(uffd, (uint64_t)(uintptr_t)va + (start - offset),
				  end - start);
		if (err)
			kho_diag_set(diag, err, "poison: memfd token %llu 0x%llx+0x%llx at %p: UFFDIO_POISON: %s%s",
				     (unsigned long long)token,
				     (unsigned long long)start,
				     (unsigned long long)(end - start),
				     (void *)((uint8_t *)va + (start - offset)),
				     strerror(-err),
				     err == -EEXIST ? " (the page is mapped already: poison before touching the mapping)" : "");
		else
			*pages += (end - start) / KHO_POISON_PAGE;
	}
	if (uffd >= 0)
		close(uffd);
	return err;
}
