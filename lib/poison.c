// SPDX-License-Identifier: LGPL-2.1-or-later
/* The hardware-poisoned pages of a guest-RAM memfd, from pagemap and kpageflags. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "poison.h"

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

	if (pme & KHO_PM_PRESENT) {
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

		err = read_full(io, ctx, src->pagemap, pme, n * sizeof(pme[0]),
				(off_t)((src->va / ps + i) * sizeof(pme[0])));
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
