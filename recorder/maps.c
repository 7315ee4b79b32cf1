// SPDX-License-Identifier: LGPL-2.1-or-later
/* The VA resolver: user VA -> (memfd token, offset), via /proc/self/maps. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "internal.h"
#include "proc.h"

static int kho_record_maps_read(struct kho_record *rec)
{
	struct kho_record_vma *v = NULL, *p;
	size_t nr = 0, cap = 0;
	char line[512];
	FILE *f = fopen("/proc/self/maps", "re");

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		struct kho_record_vma vma;
		struct kho_maps_line m;

		if (kho_maps_line_parse(line, &m))
			continue;
		vma = (struct kho_record_vma){
			.start = m.start, .end = m.end, .off = m.offset,
			.maj = m.major, .min = m.minor, .ino = m.ino,
			.shared = m.perms[3] == 's',
		};
		snprintf(vma.path, sizeof(vma.path), "%.*s", (int)m.path_len,
			 m.path);
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

int kho_record_va_to_memfd(void *ctx, uint64_t va, uint64_t length,
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

	if (__atomic_exchange_n(&rec->maps_stale, 0, __ATOMIC_ACQUIRE)) {
		rec->vmas_valid = false;
		rec->va_hit.end = 0;
	}
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

/*
 * Every cached vma may be stale: the next MAP by VA reads maps again.  A
 * handler that interrupted a recorded ioctl may not take the lock: it
 * leaves the word that the next resolution reads first.
 */
void kho_record_maps_changed(struct kho_record *rec)
{
	if (kho_record_reentered()) {
		__atomic_store_n(&rec->maps_stale, 1, __ATOMIC_RELEASE);
		return;
	}
	kho_record_lock(rec);
	rec->vmas_valid = false;
	rec->va_hit.end = 0;
	kho_record_unlock(rec);
}
