/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Canonicalisation: turns one successful iommufd/VFIO-cdev ioctl, as a
 * process issued it, into a struct kho_rec that means the same thing in
 * another process and another kernel.
 */
#ifndef KHO_CANON_H
#define KHO_CANON_H

#include <linux/iommufd.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kho.h"

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

/*
 * The canonical MAP_FILE record of a map, written field by field: canon.c
 * and the recorder's hot path (recorder/hotpath.c, always inlined there)
 * both write it through this, so the two cannot disagree.  @r is zeroed
 * or a journal slot whose unused bytes are zero.
 */
static inline __attribute__((always_inline)) void
kho_canon_put_map(struct kho_rec *r, const void *flags_ioas_id,
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

/* The canonical UNMAP record; @length as passed in, @out_length unmapped. */
static inline __attribute__((always_inline)) void
kho_canon_put_unmap(struct kho_rec *r, uint32_t ioas_id, uint64_t iova,
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
 * What only the calling process knows.  The recorder implements these with
 * /proc/self/maps and its fd table; a VMM that links libkho implements them
 * from its own bookkeeping.  Each returns 0 or a negative errno and, on
 * failure, fills diag with why (e.g. "VA 0x7f..: anonymous memory cannot
 * cross kexec").
 */
struct kho_canon_ops {
	/* user VA range -> (memfd token, offset); -EOPNOTSUPP if the range
	 * is not backed by one preservable memfd */
	int (*va_to_memfd)(void *ctx, uint64_t va, uint64_t length,
			   uint64_t *token, uint64_t *offset,
			   struct kho_diag *diag);
	/* fd passed to MAP_FILE -> memfd token */
	int (*fd_to_memfd)(void *ctx, int fd, uint64_t *token,
			   struct kho_diag *diag);
	/* VFIO cdev fd -> its PCI identity, or its mdev identity (the other
	 * one zeroed) */
	int (*devfd_to_id)(void *ctx, int devfd, struct kho_pci_id *pci,
			   struct kho_mdev_id *mdev, struct kho_diag *diag);
	/* VFIO cdev fd -> devid returned by its BIND */
	int (*devfd_to_devid)(void *ctx, int devfd, uint32_t *devid,
			      struct kho_diag *diag);
	void *ctx;
};

/* Return value of kho_canon_ioctl() for ioctls that change no state. */
#define KHO_CANON_NOT_JOURNALED 1

/**
 * kho_canon_ioctl() - canonicalise one ioctl that already succeeded
 * @ops:  resolvers for process-specific inputs
 * @fd:   the fd the ioctl was issued on (iommufd or VFIO cdev)
 * @cmd:  the ioctl number
 * @arg:  the argument after the call (outputs filled in by the kernel)
 * @out:  the record; owns any inline data on success
 * @diag: why it failed
 *
 * Applies the kernel's size rules to the size-prefixed argument first.
 *
 * Return: 0, KHO_CANON_NOT_JOURNALED, -EINVAL (size below the minimum),
 * -E2BIG (non-zero bytes past the known struct), -EOPNOTSUPP (input that
 * cannot cross kexec), -ENOMEM, or a resolver's error.
 */
int kho_canon_ioctl(const struct kho_canon_ops *ops, int fd,
		    unsigned long cmd, const void *arg, struct kho_rec *out,
		    struct kho_diag *diag);

/**
 * kho_canon_ioctl_inout() - kho_canon_ioctl() with the inputs as passed
 * @ops:  resolvers for process-specific inputs
 * @fd:   the fd the ioctl was issued on (iommufd or VFIO cdev)
 * @cmd:  the ioctl number
 * @in:   a copy of the argument made before the call, or NULL
 * @arg:  the argument after the call
 * @out:  the record; owns any inline data on success
 * @diag: why it failed
 *
 * The kernel overwrites two inputs that replay needs: IOAS_UNMAP's length
 * (with the bytes unmapped) and ATTACH_IOMMUFD_PT's pt_id (with the HWPT
 * attached, an auto domain when an IOAS was named).  Without @in, the
 * outputs stand in for them: an attach then names the auto domain's ID,
 * which does not exist on replay, so recorders must pass @in.
 *
 * Return: as kho_canon_ioctl().
 */
int kho_canon_ioctl_inout(const struct kho_canon_ops *ops, int fd,
			  unsigned long cmd, const void *in, const void *arg,
			  struct kho_rec *out, struct kho_diag *diag);

/**
 * kho_ioctl_check_size() - the kernel's rule for a size-prefixed struct
 * @cmd:       the ioctl number
 * @arg:       the argument, @user_size bytes of it readable
 * @user_size: the size the argument declares
 *
 * Return: 0; -EINVAL (@user_size below the ioctl's minimum); -E2BIG (above
 * the struct the library knows, with a non-zero byte in the tail);
 * -ENOTTY (an ioctl the library does not know).
 */
int kho_ioctl_check_size(unsigned long cmd, const void *arg,
			 uint32_t user_size);

#endif /* KHO_CANON_H */
