/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The hardware-poisoned pages of a guest-RAM memfd (issue #15,
 * docs/device-state.md "Finding the poisoned pages"), found before the
 * kexec so that capture never asks LUO to preserve a poisoned folio
 * (7.2's memfd_luo_preserve_folios() would carry it as ordinary memory).
 *
 * A page the VMM still maps is judged by its frame: /proc/PID/pagemap
 * gives the PFN (root only: CAP_SYS_ADMIN), /proc/kpageflags its
 * KPF_HWPOISON bit.  A page the VMM does not map (never touched, or
 * unmapped by the memory failure itself) is judged by the memfd: shmem's
 * read path returns EIO for a hwpoisoned page (shmem_file_read_iter), so
 * a one-byte pread(2) of it answers without handing out poisoned bytes.
 * Read from the 7.2 source; not yet run on a kernel that can poison.
 */
#ifndef KHO_POISON_H
#define KHO_POISON_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "kho.h"

/* /proc/PID/pagemap (Documentation/admin-guide/mm/pagemap.rst) */
#define KHO_PM_PRESENT		(1ull << 63)
#define KHO_PM_SWAP		(1ull << 62)
#define KHO_PM_PFN_MASK		((1ull << 55) - 1)
/* /proc/kpageflags: include/uapi/linux/kernel-page-flags.h */
#define KHO_KPF_HWPOISON	19

/* The reads, injectable for tests: the count or a negative errno. */
struct kho_poison_io {
	ssize_t (*pread)(void *ctx, int fd, void *buf, size_t len, off_t off);
};

/* pread(2) itself. */
extern const struct kho_poison_io kho_poison_sys;

/* A run of poisoned bytes of one memfd, page-aligned. */
struct kho_poison_range {
	uint64_t offset;
	uint64_t length;
};

struct kho_poison_list {
	size_t nr, cap;
	struct kho_poison_range *r;	/* sorted, adjacent pages merged */
};

/* Where the VMM maps a piece of a memfd, and the files to read. */
struct kho_poison_src {
	int pagemap;		/* /proc/PID/pagemap of the VMM */
	int kpageflags;		/* /proc/kpageflags */
	int memfd;		/* the memfd (a duplicate of the VMM's) */
	uint64_t va;		/* the VMM's mapping of it */
	uint64_t offset;	/* the memfd offset mapped at @va */
	uint64_t length;	/* bytes mapped */
	size_t page_size;
};

/**
 * kho_poison_scan() - append a mapping's poisoned pages to a list
 * @io:   &kho_poison_sys, or a test's fake
 * @ctx:  passed to @io
 * @src:  the mapping and the files
 * @out:  the list; ranges are added in offset order, a page adjacent to
 *        the list's last range extends it
 * @diag: why it failed, or NULL
 *
 * Return: 0; -EINVAL (@va, @offset or @length not page-aligned, or a
 * page size that is not a power of two); -EPERM (pagemap shows a present
 * page without its PFN: the caller lacks CAP_SYS_ADMIN); -EIO (a short
 * read of pagemap or kpageflags); -ENOMEM; the -errno of a read, except
 * the memfd's EIO, which is the answer "poisoned".
 */
int kho_poison_scan(const struct kho_poison_io *io, void *ctx,
		    const struct kho_poison_src *src,
		    struct kho_poison_list *out, struct kho_diag *diag);

/**
 * kho_poison_list_free() - free a list's ranges
 * @l: the list; left empty
 */
void kho_poison_list_free(struct kho_poison_list *l);

#endif /* KHO_POISON_H */
