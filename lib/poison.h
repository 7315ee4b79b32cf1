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
 * A page the VMM itself poisoned after an adoption (UFFDIO_POISON: a
 * PTE marker over a good, zeroed page) is judged by that marker, which
 * pagemap shows as a swap entry: a later upgrade or rollback carries it
 * on.  Read from the 7.2 source.
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
/*
 * A non-present entry's frame is its swap entry: type in bits 0-4, offset
 * above.  Type 31 is SWP_PTE_MARKER (the last of 1 << MAX_SWAPFILES_SHIFT
 * types, whatever the config: include/linux/swap.h), and a marker's offset
 * holds its bits, PTE_MARKER_POISONED = BIT(1) (include/linux/swapops.h):
 * the PTE UFFDIO_POISON installs.  Read from the 7.2 source.
 */
#define KHO_PM_SWAP_TYPE_MASK	0x1full
#define KHO_PM_SWAP_TYPE_SHIFT	5
#define KHO_PM_PTE_MARKER	31
#define KHO_PTE_MARKER_POISONED	(1ull << 1)
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
	int pagemap;		/* /proc/PID/pagemap of the VMM; -1: no
				 * mapping, every page judged by the memfd */
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

/**
 * kho_poison_find() - the poisoned pages of a VMM's guest-RAM memfds
 * @proc:   the procfs mount, "/proc" but in tests
 * @pid:    the VMM
 * @memfds: the memfd table (token, name)
 * @fds:    a duplicate of each of them, in table order
 * @nr:     table entries
 * @out:    out: the ranges, malloc'd, sorted by token then offset,
 *          adjacent pages merged; NULL when there are none
 * @nr_out: out: how many
 * @diag:   out: the memfd, the step and the cause
 *
 * Every mapping of a memfd in /proc/PID/maps (matched by device and
 * inode) is scanned with kho_poison_scan() through /proc/PID/pagemap and
 * /proc/kpageflags; the bytes of the memfd no mapping covers are judged
 * by the memfd alone.  Needs CAP_SYS_ADMIN (the PFNs, kpageflags).
 * Without /proc/PID/pagemap or /proc/kpageflags (no
 * CONFIG_PROC_PAGE_MONITOR) every page is judged by the memfd; without
 * them and without CONFIG_MEMORY_FAILURE (no
 * /proc/sys/vm/memory_failure_early_kill) nothing is looked for: no page
 * can be poisoned there.
 *
 * Return: 0; -EOPNOTSUPP (a page size other than KHO_POISON_PAGE);
 * -EPERM (not allowed to read the frames); -ENOMEM; or kho_poison_scan()'s
 * errno, or the -errno of opening or reading the /proc files.
 */
int kho_poison_find(const char *proc, pid_t pid, const struct kho_memfd *memfds,
		    const int *fds, size_t nr, struct kho_poison **out,
		    size_t *nr_out, struct kho_diag *diag);

/**
 * kho_poison_punch() - take a poisoned range out of a memfd
 * @fd:   the memfd
 * @p:    the range
 * @diag: out: the range and the cause
 *
 * fallocate(PUNCH_HOLE | KEEP_SIZE): shmem truncates the poisoned folio
 * without reading it, its frame stays isolated, and LUO, which pins a
 * zeroed folio for every hole (memfd_pin_folios()), never sees it.
 *
 * Return: 0 or the -errno of fallocate(2).
 */
int kho_poison_punch(int fd, const struct kho_poison *p, struct kho_diag *diag);

/**
 * kho_poison_inject() - poison a range of a memfd again
 * @fd:   the memfd
 * @p:    the range, punched before
 * @diag: out: the range and the cause
 *
 * Undoes kho_poison_punch() when the kexec does not happen: a child maps
 * the range and injects a memory failure on each page
 * (madvise(MADV_HWPOISON), CAP_SYS_ADMIN, CONFIG_MEMORY_FAILURE), so a
 * fresh frame is poisoned where the old one was and every access to it
 * fails again as it did before the punch.  Checked by reading each page
 * back: shmem must answer EIO.  The child takes the injection's SIGBUS,
 * if the kernel sends it one, not the caller.
 *
 * Return: 0; -EIO (a page still reads: not poisoned); the -errno of
 * fork, mmap or madvise.
 */
int kho_poison_inject(int fd, const struct kho_poison *p, struct kho_diag *diag);

/**
 * kho_poison_apply() - poison a mapping of an adopted memfd again
 * @list:   the hand-off's poison list (sorted by token, offset)
 * @nr:     its ranges
 * @token:  the memfd's token
 * @va:     where the caller mapped it, MAP_SHARED
 * @offset: the memfd offset mapped at @va
 * @length: bytes mapped
 * @pages:  out: pages poisoned
 * @diag:   out: the range, the step and the cause
 *
 * The VMM's side after the kexec (docs/device-state.md): for each range
 * of @token inside the mapping, userfaultfd registers just that range,
 * UFFDIO_POISON installs a poison PTE marker on every page of it
 * (mfill_atomic_pte_poison(), any non-hugetlb VMA), and the range is
 * unregistered again; the markers stay.  A guest access then faults with
 * VM_FAULT_HWPOISON and the VMM gets SIGBUS with BUS_MCEERR_AR, as for a
 * fresh memory failure.  The marker belongs to this mapping: another
 * mapping, or read(2), of the memfd sees the zeroed page LUO carried,
 * never old bytes.  Call it before touching the mapping: the ioctl will
 * not replace a page already faulted in.
 *
 * Return: 0; -EOPNOTSUPP (no UFFD_FEATURE_POISON: a kernel before 6.6
 * or without CONFIG_USERFAULTFD); -EEXIST (a page of a range is already
 * mapped); the -errno of userfaultfd(2) or its ioctls.
 */
int kho_poison_apply(const struct kho_poison *list, size_t nr, uint64_t token,
		     void *va, uint64_t offset, uint64_t length, size_t *pages,
		     struct kho_diag *diag);

#endif /* KHO_POISON_H */
