// SPDX-License-Identifier: GPL-2.0
/* Canonicalisation and the kernel's size rules for ioctl arguments. */
#include <stdint.h>

#include <linux/iommufd.h>
#include "compat.h"
#include <linux/vfio.h>

#include "ktest.h"
#include "canon.h"
#include "pci.h"
#include "journal.h"

static int va_to_memfd(void *ctx, uint64_t va, uint64_t length,
		       uint64_t *token, uint64_t *offset, struct kho_diag *diag)
{
	if (va < 0x7f0000000000ULL)
		return kho_diag_set(diag, -EOPNOTSUPP, "VA 0x%llx: anonymous",
				    (unsigned long long)va);
	*token = 7;
	*offset = va - 0x7f0000000000ULL;
	return 0;
}

/* fd 9 is an mdev's cdev; any other a PCI function's */
static const uint8_t mdev_uuid[16] = { 0x83, 0xb8, 0xf4, 0xf2, 0x50, 0x9f,
	0x38, 0x2f, 0x3c, 0x1e, 0xe6, 0xbf, 0xe0, 0xfa, 0x10, 0x01 };

static int devfd_to_id(void *ctx, int fd, struct kho_pci_id *pci,
		       struct kho_mdev_id *mdev, struct kho_diag *diag)
{
	memset(pci, 0, sizeof(*pci));
	memset(mdev, 0, sizeof(*mdev));
	if (fd == 9) {
		memcpy(mdev->uuid, mdev_uuid, sizeof(mdev->uuid));
		snprintf(mdev->parent, sizeof(mdev->parent), "mtty");
		snprintf(mdev->type, sizeof(mdev->type), "mtty-1");
		return 0;
	}
	pci->bus = 0;
	pci->devfn = 4 << 3;
	pci->vendor = 0x1234;
	pci->device = 0x11e8;
	return 0;
}

static int devfd_to_devid(void *ctx, int fd, uint32_t *devid, struct kho_diag *diag)
{
	*devid = 2;
	return 0;
}

static const struct kho_canon_ops ops = {
	.va_to_memfd = va_to_memfd, .devfd_to_id = devfd_to_id,
	.devfd_to_devid = devfd_to_devid,
};

/* One byte short -> EINVAL, one byte long with a non-zero tail -> E2BIG,
 * a zero tail accepted: for every size-prefixed iommufd struct. */
KTEST(canon_size_rules)
{
	static const struct { unsigned long cmd; size_t min, size; } t[] = {
		{ IOMMU_DESTROY, 8, sizeof(struct iommu_destroy) },
		{ IOMMU_IOAS_ALLOC, 12, sizeof(struct iommu_ioas_alloc) },
		{ IOMMU_IOAS_ALLOW_IOVAS, 24, sizeof(struct iommu_ioas_allow_iovas) },
		{ IOMMU_IOAS_MAP, 40, sizeof(struct iommu_ioas_map) },
		{ IOMMU_IOAS_MAP_FILE, 40, sizeof(struct iommu_ioas_map_file) },
		{ IOMMU_IOAS_COPY, 40, sizeof(struct iommu_ioas_copy) },
		{ IOMMU_IOAS_UNMAP, 24, sizeof(struct iommu_ioas_unmap) },
		{ IOMMU_OPTION, 24, sizeof(struct iommu_option) },
		{ IOMMU_HWPT_ALLOC, 24, sizeof(struct iommu_hwpt_alloc) },
		{ IOMMU_HWPT_SET_DIRTY_TRACKING, 16,
		  sizeof(struct iommu_hwpt_set_dirty_tracking) },
		{ VFIO_DEVICE_BIND_IOMMUFD, 16, sizeof(struct vfio_device_bind_iommufd) },
	};
	uint8_t buf[128];
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		memset(buf, 0, sizeof(buf));
		ASSERT_EQ(-EINVAL, kho_ioctl_check_size(t[i].cmd, buf, t[i].min - 1));
		ASSERT_EQ(0, kho_ioctl_check_size(t[i].cmd, buf, t[i].min));
		ASSERT_EQ(0, kho_ioctl_check_size(t[i].cmd, buf, t[i].size + 1));
		buf[t[i].size] = 1;
		ASSERT_EQ(-E2BIG, kho_ioctl_check_size(t[i].cmd, buf, t[i].size + 1));
	}
	/* VFIO attach: argsz below minsz is EINVAL; the tail is never read. */
	memset(buf, 0, sizeof(buf));
	ASSERT_EQ(-EINVAL, kho_ioctl_check_size(VFIO_DEVICE_ATTACH_IOMMUFD_PT, buf, 11));
	buf[20] = 1;
	ASSERT_EQ(0, kho_ioctl_check_size(VFIO_DEVICE_ATTACH_IOMMUFD_PT, buf, 24));
	ASSERT_EQ(-ENOTTY, kho_ioctl_check_size(0x1234, buf, 8));
}

KTEST(canon_map_by_va_becomes_map_file)
{
	struct iommu_ioas_map m = {
		.size = sizeof(m), .flags = IOMMU_IOAS_MAP_READABLE,
		.ioas_id = 1, .user_va = 0x7f0000200000ULL,
		.length = 0x200000, .iova = 0x100000, /* the kernel's choice */
	};
	struct kho_rec r;

	ASSERT_EQ(0, kho_canon_ioctl(&ops, 3, IOMMU_IOAS_MAP, &m, &r, NULL));
	ASSERT_EQ(KHO_OP_IOAS_MAP_FILE, r.op);
	ASSERT_EQ(7, r.map.memfd_token);
	ASSERT_EQ(0x200000, r.map.offset);
	ASSERT_EQ(0x100000, r.map.iova);
	/* an auto-allocated IOVA becomes a fixed one */
	ASSERT_TRUE(r.map.flags & IOMMU_IOAS_MAP_FIXED_IOVA);
	/* no VA anywhere in the record */
	ASSERT_TRUE(r.map.offset != m.user_va && r.map.iova != m.user_va);
	m.user_va = 0x1000;
	struct kho_diag d = { "" };
	ASSERT_EQ(-EOPNOTSUPP, kho_canon_ioctl(&ops, 3, IOMMU_IOAS_MAP, &m, &r, &d));
	ASSERT_STR_CONTAINS(d.msg, "anonymous");
}

KTEST(canon_devices_and_outputs)
{
	struct vfio_device_bind_iommufd b = { .argsz = sizeof(b), .iommufd = 3,
					      .out_devid = 2 };
	struct vfio_device_attach_iommufd_pt in = { .argsz = sizeof(in), .pt_id = 1 };
	struct vfio_device_attach_iommufd_pt after = in;
	struct iommu_ioas_unmap uin = { .size = sizeof(uin), .ioas_id = 1,
					.iova = 0, .length = 0x100000 };
	struct iommu_ioas_unmap uafter = uin;
	struct iommu_iova_range rg[2] = { { 0x1000, 0xffff }, { 0x100000, 0x1fffff } };
	struct iommu_ioas_allow_iovas al = { .size = sizeof(al), .ioas_id = 1,
		.num_iovas = 2, .allowed_iovas = (uintptr_t)rg };
	struct iommu_option opt = { .size = sizeof(opt),
		.option_id = IOMMU_OPTION_HUGE_PAGES, .op = IOMMU_OPTION_OP_GET };
	struct kho_rec r;

	ASSERT_EQ(0, kho_canon_ioctl(&ops, 5, VFIO_DEVICE_BIND_IOMMUFD, &b, &r, NULL));
	ASSERT_EQ(KHO_OP_DEVICE_BIND, r.op);
	ASSERT_EQ(0x1234, r.bind.pci.vendor);
	ASSERT_EQ(4, r.bind.pci.devfn >> 3);
	ASSERT_EQ(2, r.bind.out_devid);
	ASSERT_TRUE(!memcmp(r.bind.mdev_uuid, (uint8_t[16]){ 0 }, 16));
	/* an mdev: its UUID, no PCI identity */
	ASSERT_EQ(0, kho_canon_ioctl(&ops, 9, VFIO_DEVICE_BIND_IOMMUFD, &b, &r, NULL));
	ASSERT_EQ(KHO_OP_DEVICE_BIND, r.op);
	ASSERT_TRUE(kho_pci_is_none(&r.bind.pci));
	ASSERT_TRUE(!memcmp(r.bind.mdev_uuid, mdev_uuid, 16));
	after.pt_id = 3;	/* the auto domain the kernel made */
	ASSERT_EQ(0, kho_canon_ioctl_inout(&ops, 5, VFIO_DEVICE_ATTACH_IOMMUFD_PT,
					   &in, &after, &r, NULL));
	ASSERT_EQ(1, r.attach.pt_id);
	ASSERT_EQ(3, r.attach.out_hwpt_id);
	ASSERT_EQ(2, r.attach.dev_id);
	uafter.length = 0x4000;
	ASSERT_EQ(0, kho_canon_ioctl_inout(&ops, 3, IOMMU_IOAS_UNMAP, &uin, &uafter,
					   &r, NULL));
	ASSERT_EQ(0x100000, r.unmap.length);
	ASSERT_EQ(0x4000, r.unmap.out_length);
	ASSERT_EQ(0, kho_canon_ioctl(&ops, 3, IOMMU_IOAS_ALLOW_IOVAS, &al, &r, NULL));
	ASSERT_TRUE(r.allow_iovas.iovas != (void *)rg);	/* stored inline */
	ASSERT_EQ(0x100000, r.allow_iovas.iovas[1].start);
	kho_rec_release(&r);
	ASSERT_EQ(KHO_CANON_NOT_JOURNALED,
		  kho_canon_ioctl(&ops, 3, IOMMU_OPTION, &opt, &r, NULL));
}
