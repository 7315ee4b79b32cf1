// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Canonicalisation: turns a successful iommufd/VFIO-cdev ioctl into a
 * struct kho_rec that names no VA, fd or process, and applies the kernel's
 * size rules to size-prefixed ioctl arguments.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <linux/iommufd.h>
#include "compat.h"
#include <linux/vfio.h>

#include "canon.h"
#include "op.h"

#define offsetofend(T, m) (offsetof(T, m) + sizeof(((T *)0)->m))

/* The size rule of an ioctl: from its op's row, or from size_ops[]. */
struct size_op {
	unsigned long cmd;
	uint32_t min, size;
};

/*
 * The ioctls no op records (queries, cache invalidation, the objects that
 * cannot cross kexec yet): their sizes, for the kernel's size rule.  The
 * journaled ones declare theirs in their row of lib/op.c.  Indexed by the
 * ioctl's number: every iommufd ioctl is _IO(';', nr), so the number
 * alone picks the entry and the full command confirms it.  A linear scan
 * of this table was the largest single cost of a recorded MAP/UNMAP pair.
 * Two commands with one number would be an initializer overridden twice:
 * -Woverride-init (-Wextra) refuses that.
 */
#define OP(c, T, last) [_IOC_NR(c)] = { c, offsetofend(T, last), sizeof(T) }

/* The minimum sizes are the kernel's: IOCTL_OP() in
 * drivers/iommu/iommufd/main.c. */
static const struct size_op size_ops[1 << _IOC_NRBITS] = {
	OP(IOMMU_FAULT_QUEUE_ALLOC, struct iommu_fault_alloc, out_fault_fd),
	OP(IOMMU_GET_HW_INFO, struct iommu_hw_info, __reserved),
	OP(IOMMU_HW_QUEUE_ALLOC, struct iommu_hw_queue_alloc, length),
	OP(IOMMU_HWPT_GET_DIRTY_BITMAP, struct iommu_hwpt_get_dirty_bitmap, data),
	OP(IOMMU_HWPT_INVALIDATE, struct iommu_hwpt_invalidate, __reserved),
	OP(IOMMU_IOAS_CHANGE_PROCESS, struct iommu_ioas_change_process, __reserved),
	OP(IOMMU_IOAS_IOVA_RANGES, struct iommu_ioas_iova_ranges, out_iova_alignment),
	OP(IOMMU_VEVENTQ_ALLOC, struct iommu_veventq_alloc, out_veventq_fd),
	OP(IOMMU_VFIO_IOAS, struct iommu_vfio_ioas, __reserved),
};

int kho_ioctl_check_size(unsigned long cmd, const void *arg, uint32_t user_size)
{
	const struct kho_op_desc *d = kho_op_by_cmd(cmd);
	const struct size_op *op = &size_ops[_IOC_NR(cmd)];
	const uint8_t *p = arg;
	uint32_t i, flags, min, size;

	if (d) {
		min = d->min_size;
		size = d->size;
	} else if (op->cmd == cmd) {
		/* entries never filled in have cmd 0, which no ioctl is */
		min = op->min;
		size = op->size;
	} else {
		return -ENOTTY;
	}
	if (user_size < min)
		return -EINVAL;
	if (d && d->size_rule == KHO_SIZE_ARGSZ) {
		/* With the PASID flag the kernel reads up to pasid too. */
		memcpy(&flags, p + 4, sizeof(flags));
		if (cmd == VFIO_DEVICE_ATTACH_IOMMUFD_PT &&
		    (flags & VFIO_DEVICE_ATTACH_PASID) &&
		    user_size < offsetofend(struct vfio_device_attach_iommufd_pt, pasid))
			return -EINVAL;
		if (cmd == VFIO_DEVICE_DETACH_IOMMUFD_PT &&
		    (flags & VFIO_DEVICE_DETACH_PASID) &&
		    user_size < offsetofend(struct vfio_device_detach_iommufd_pt, pasid))
			return -EINVAL;
		return 0;
	}
	/* check_zeroed_user() on the bytes past what this kernel knows */
	for (i = size; i < user_size; i++)
		if (p[i])
			return -E2BIG;
	return 0;
}

static int need(const struct kho_canon_ops *ops, const void *fn, const char *what,
		struct kho_diag *diag)
{
	if (!ops || !fn)
		return kho_diag_set(diag, -EOPNOTSUPP,
				    "canon: no resolver for %s: EOPNOTSUPP", what);
	return 0;
}

/* The argument as the kernel read it: the copy made before the call, or
 * the argument after it for the fields the kernel does not overwrite. */
#define IN(T) ((const T *)(in ? in : arg))

int kho_canon_ioctl_inout(const struct kho_canon_ops *ops, int fd,
			  unsigned long cmd, const void *in, const void *arg,
			  struct kho_rec *out, struct kho_diag *diag)
{
	uint64_t token, offset;
	uint32_t size;
	int ret;

	memcpy(&size, arg, sizeof(size));
	ret = kho_ioctl_check_size(cmd, arg, size);
	if (ret == -ENOTTY)
		return KHO_CANON_NOT_JOURNALED;	/* not iommufd/VFIO-cdev state */
	if (ret)
		return kho_diag_set(diag, ret, "canon: ioctl 0x%lx: size %u: %s", cmd,
				    size, ret == -EINVAL ? "EINVAL (below the minimum)" :
				    "E2BIG (non-zero bytes past the known struct)");
	memset(out, 0, sizeof(*out));
	switch (cmd) {
	case IOMMU_DESTROY:
		out->op = KHO_OP_DESTROY;
		out->destroy.id = ((const struct iommu_destroy *)arg)->id;
		return 0;
	case IOMMU_IOAS_ALLOC: {
		const struct iommu_ioas_alloc *a = arg;

		out->op = KHO_OP_IOAS_ALLOC;
		out->ioas_alloc.flags = a->flags;
		out->ioas_alloc.out_ioas_id = a->out_ioas_id;
		return 0;
	}
	case IOMMU_IOAS_ALLOW_IOVAS: {
		const struct iommu_ioas_allow_iovas *a = arg;
		const struct kho_iova_range *src =
			(const void *)(uintptr_t)a->allowed_iovas;

		out->op = KHO_OP_IOAS_ALLOW_IOVAS;
		out->allow_iovas.ioas_id = a->ioas_id;
		out->allow_iovas.num_iovas = a->num_iovas;
		if (!a->num_iovas)
			return 0;
		/* The pointed-to array is stored inline: the pointer means
		 * nothing after kexec. */
		out->allow_iovas.iovas = calloc(a->num_iovas, sizeof(*src));
		if (!out->allow_iovas.iovas)
			return -ENOMEM;
		memcpy(out->allow_iovas.iovas, src, a->num_iovas * sizeof(*src));
		return 0;
	}
	case IOMMU_IOAS_MAP: {
		const struct iommu_ioas_map *a = arg;

		ret = need(ops, ops ? (void *)ops->va_to_memfd : NULL, "user VA", diag);
		if (ret)
			return ret;
		/* A VA means nothing in another process or kernel: the map
		 * becomes MAP_FILE on the memfd behind it. */
		ret = ops->va_to_memfd(ops->ctx, a->user_va, a->length,
				       &token, &offset, diag);
		if (ret)
			return ret;
		/* iova: the kernel's choice if not fixed */
		kho_canon_put_map(out, &a->flags, token, offset, a->length,
				  a->iova);
		return 0;
	}
	case IOMMU_IOAS_MAP_FILE: {
		const struct iommu_ioas_map_file *a = arg;

		ret = need(ops, ops ? (void *)ops->fd_to_memfd : NULL, "memfd", diag);
		if (ret)
			return ret;
		ret = ops->fd_to_memfd(ops->ctx, a->fd, &token, diag);
		if (ret)
			return ret;
		kho_canon_put_map(out, &a->flags, token, a->start, a->length,
				  a->iova);
		return 0;
	}
	case IOMMU_IOAS_COPY: {
		const struct iommu_ioas_copy *a = arg;

		out->op = KHO_OP_IOAS_COPY;
		out->copy.flags = a->flags | IOMMU_IOAS_MAP_FIXED_IOVA;
		out->copy.dst_ioas_id = a->dst_ioas_id;
		out->copy.src_ioas_id = a->src_ioas_id;
		out->copy.length = a->length;
		out->copy.dst_iova = a->dst_iova;
		out->copy.src_iova = a->src_iova;
		return 0;
	}
	case IOMMU_IOAS_UNMAP: {
		const struct iommu_ioas_unmap *a = arg;

		/* The kernel overwrites length with the bytes unmapped. */
		kho_canon_put_unmap(out, a->ioas_id, a->iova,
				    IN(struct iommu_ioas_unmap)->length,
				    a->length);
		return 0;
	}
	case IOMMU_OPTION: {
		const struct iommu_option *a = arg;

		/* GET is a query; RLIMIT_MODE is accounting, redone by
		 * IOMMU_IOAS_CHANGE_PROCESS on adoption. */
		if (a->op != IOMMU_OPTION_OP_SET ||
		    a->option_id != IOMMU_OPTION_HUGE_PAGES)
			return KHO_CANON_NOT_JOURNALED;
		out->op = KHO_OP_OPTION;
		out->option.option_id = a->option_id;
		out->option.op = a->op;
		out->option.object_id = a->object_id;
		out->option.val64 = a->val64;
		return 0;
	}
	case IOMMU_HWPT_ALLOC: {
		const struct iommu_hwpt_alloc *a = arg;

		out->op = KHO_OP_HWPT_ALLOC;
		out->hwpt_alloc.flags = a->flags;
		out->hwpt_alloc.dev_id = a->dev_id;
		out->hwpt_alloc.pt_id = a->pt_id;
		out->hwpt_alloc.out_hwpt_id = a->out_hwpt_id;
		out->hwpt_alloc.data_type = a->data_type;
		out->hwpt_alloc.data_len = a->data_len;
		out->hwpt_alloc.fault_id = a->fault_id;
		if (!a->data_len)
			return 0;
		out->hwpt_alloc.data = malloc(a->data_len);
		if (!out->hwpt_alloc.data)
			return -ENOMEM;
		memcpy(out->hwpt_alloc.data, (const void *)(uintptr_t)a->data_uptr,
		       a->data_len);
		return 0;
	}
	case IOMMU_HWPT_SET_DIRTY_TRACKING: {
		const struct iommu_hwpt_set_dirty_tracking *a = arg;

		out->op = KHO_OP_HWPT_SET_DIRTY_TRACKING;
		out->dirty_tracking.flags = a->flags;
		out->dirty_tracking.hwpt_id = a->hwpt_id;
		return 0;
	}
	case VFIO_DEVICE_BIND_IOMMUFD: {
		const struct vfio_device_bind_iommufd *a = arg;
		struct kho_mdev_id mdev;

		if (a->flags & VFIO_DEVICE_BIND_FLAG_TOKEN)
			return kho_diag_set(diag, -EOPNOTSUPP,
					    "canon: BIND fd %d: EOPNOTSUPP (VF token binds are not carried yet)",
					    fd);
		ret = need(ops, ops ? (void *)ops->devfd_to_id : NULL, "device fd", diag);
		if (ret)
			return ret;
		ret = ops->devfd_to_id(ops->ctx, fd, &out->bind.pci, &mdev,
				       diag);
		if (ret)
			return ret;
		memcpy(out->bind.mdev_uuid, mdev.uuid, sizeof(mdev.uuid));
		out->op = KHO_OP_DEVICE_BIND;
		out->bind.flags = a->flags;
		out->bind.out_devid = a->out_devid;
		return 0;
	}
	case VFIO_DEVICE_ATTACH_IOMMUFD_PT:
	case VFIO_DEVICE_DETACH_IOMMUFD_PT: {
		uint32_t devid;

		ret = need(ops, ops ? (void *)ops->devfd_to_devid : NULL, "device fd", diag);
		if (ret)
			return ret;
		ret = ops->devfd_to_devid(ops->ctx, fd, &devid, diag);
		if (ret)
			return ret;
		if (cmd == VFIO_DEVICE_DETACH_IOMMUFD_PT) {
			const struct vfio_device_detach_iommufd_pt *a = arg;

			out->op = KHO_OP_DEVICE_DETACH;
			out->detach.dev_id = devid;
			out->detach.flags = a->flags;
			out->detach.pasid = a->flags & VFIO_DEVICE_DETACH_PASID ?
					    a->pasid : 0;
			return 0;
		}
		out->op = KHO_OP_DEVICE_ATTACH;
		out->attach.dev_id = devid;
		out->attach.flags = ((const struct vfio_device_attach_iommufd_pt *)arg)->flags;
		out->attach.pasid = out->attach.flags & VFIO_DEVICE_ATTACH_PASID ?
			((const struct vfio_device_attach_iommufd_pt *)arg)->pasid : 0;
		/* The kernel writes the HWPT it attached to back into pt_id. */
		out->attach.pt_id = IN(struct vfio_device_attach_iommufd_pt)->pt_id;
		out->attach.out_hwpt_id =
			((const struct vfio_device_attach_iommufd_pt *)arg)->pt_id;
		return 0;
	}
	case IOMMU_VIOMMU_ALLOC:
	case IOMMU_VDEVICE_ALLOC:
	case IOMMU_FAULT_QUEUE_ALLOC:
	case IOMMU_VEVENTQ_ALLOC:
	case IOMMU_HW_QUEUE_ALLOC:
		return kho_diag_set(diag, -EOPNOTSUPP,
				    "canon: ioctl 0x%lx: EOPNOTSUPP (its object cannot cross kexec yet)",
				    cmd);
	case IOMMU_VFIO_IOAS:
		if (((const struct iommu_vfio_ioas *)arg)->op == IOMMU_VFIO_IOAS_GET)
			return KHO_CANON_NOT_JOURNALED;
		return kho_diag_set(diag, -EOPNOTSUPP,
				    "canon: IOMMU_VFIO_IOAS: EOPNOTSUPP (the VFIO compat container is not carried)");
	default:
		/*
		 * queries, cache invalidation, CHANGE_PROCESS; and a VMM's own
		 * VFIO_DEVICE_FEATURE (its migration FSM is its business: the
		 * arcs kho-tool takes itself are DEVICE_MIG_STATE records,
		 * lib/migrec.h)
		 */
		return KHO_CANON_NOT_JOURNALED;
	}
}

int kho_canon_ioctl(const struct kho_canon_ops *ops, int fd, unsigned long cmd,
		    const void *arg, struct kho_rec *out, struct kho_diag *diag)
{
	return kho_canon_ioctl_inout(ops, fd, cmd, NULL, arg, out, diag);
}
