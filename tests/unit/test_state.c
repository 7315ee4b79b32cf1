// SPDX-License-Identifier: GPL-2.0
/* The state model against the kernel's rules, one case per rule. */
#include <stdint.h>

#include <linux/iommufd.h>

#include "ktest.h"
#include "state.h"

#define RW (IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE | \
	    IOMMU_IOAS_MAP_FIXED_IOVA)

static int do_rec(struct kho_state *s, struct kho_rec r)
{
	kho_state_predict(s, &r);
	return kho_state_apply(s, &r, NULL);
}

static int map(struct kho_state *s, uint32_t ioas, uint64_t iova, uint64_t len)
{
	struct kho_rec r = { .op = KHO_OP_IOAS_MAP_FILE };

	r.map.flags = RW;
	r.map.ioas_id = ioas;
	r.map.memfd_token = 1;
	r.map.iova = iova;
	r.map.length = len;
	return do_rec(s, r);
}

static int unmap(struct kho_state *s, uint32_t ioas, uint64_t iova, uint64_t len)
{
	struct kho_rec r = { .op = KHO_OP_IOAS_UNMAP };

	r.unmap.ioas_id = ioas;
	r.unmap.iova = iova;
	r.unmap.length = len;
	return do_rec(s, r);
}

static void setup(struct kho_state *s)
{
	struct kho_memfd m = { .token = 1, .size = 1 << 30 };
	struct kho_rec r = { .op = KHO_OP_IOAS_ALLOC };

	kho_state_init(s);
	kho_state_add_memfd(s, &m);
	do_rec(s, r);
}

KTEST(state_map_unmap_rules)
{
	struct kho_state s;

	setup(&s);
	ASSERT_EQ(1, s.ioas[0].id);
	ASSERT_EQ(0, map(&s, 1, 0x100000, 0x4000));
	ASSERT_EQ(-EEXIST, map(&s, 1, 0x103000, 0x2000));
	ASSERT_EQ(-ENOENT, map(&s, 9, 0x200000, 0x1000));
	ASSERT_EQ(-EINVAL, map(&s, 1, 0x200000, 0));
	ASSERT_EQ(-EOVERFLOW, map(&s, 1, UINT64_MAX - 0xfff, 0x2000));
	ASSERT_EQ(0, map(&s, 1, 0x104000, 0x4000));
	/* a range that cuts an area: the kernel says ENOENT */
	ASSERT_EQ(-ENOENT, unmap(&s, 1, 0x100000, 0x2000));
	ASSERT_EQ(2, s.ioas[0].nr_maps);
	/* cutting the second area after a whole first one: the first stays
	 * unmapped (iopt_unmap_iova_range() has no rollback) */
	ASSERT_EQ(-ENOENT, unmap(&s, 1, 0x100000, 0x6000));
	ASSERT_EQ(1, s.ioas[0].nr_maps);
	ASSERT_EQ(-ENOENT, unmap(&s, 1, 0x300000, 0x1000));
	ASSERT_EQ(0, unmap(&s, 1, 0, UINT64_MAX));
	ASSERT_EQ(0, s.ioas[0].nr_maps);
	ASSERT_EQ(0, unmap(&s, 1, 0, UINT64_MAX));	/* all of nothing is fine */
	kho_state_free(&s);
}

KTEST(state_ids_domains_and_busy)
{
	struct kho_state s;
	struct kho_rec r;

	setup(&s);
	ASSERT_EQ(0, map(&s, 1, 0x100800, 0x800));	/* no domain: alignment 1 */
	memset(&r, 0, sizeof(r));
	r.op = KHO_OP_DEVICE_BIND;
	r.bind.pci.bus = 1;
	ASSERT_EQ(0, do_rec(&s, r));
	ASSERT_EQ(2, s.dev[0].id);
	memset(&r, 0, sizeof(r));
	r.op = KHO_OP_DEVICE_ATTACH;
	r.attach.dev_id = 2;
	r.attach.pt_id = 1;
	/* the auto domain needs 4K alignment of every area */
	ASSERT_EQ(-EADDRINUSE, do_rec(&s, r));
	ASSERT_EQ(0, unmap(&s, 1, 0x100800, 0x800));
	ASSERT_EQ(0, map(&s, 1, 0x100000, 0x1000));
	ASSERT_EQ(0, do_rec(&s, r));
	ASSERT_EQ(3, s.dev[0].attached_pt);
	ASSERT_TRUE(s.hwpt[0].auto_domain);
	ASSERT_EQ(-EINVAL, map(&s, 1, 0x200800, 0x800));
	memset(&r, 0, sizeof(r));
	r.op = KHO_OP_DESTROY;
	r.destroy.id = 1;
	ASSERT_EQ(-EBUSY, do_rec(&s, r));	/* the auto domain holds it */
	r.destroy.id = 3;
	ASSERT_EQ(-EBUSY, do_rec(&s, r));	/* the device holds it */
	r.destroy.id = 2;
	ASSERT_EQ(-EBUSY, do_rec(&s, r));	/* bound devices stay */
	memset(&r, 0, sizeof(r));
	r.op = KHO_OP_DEVICE_DETACH;
	r.detach.dev_id = 2;
	ASSERT_EQ(0, do_rec(&s, r));
	ASSERT_EQ(0, s.nr_hwpt);		/* died with its last user */
	ASSERT_EQ(3, kho_state_next_id(&s));	/* lowest free ID reused */
	memset(&r, 0, sizeof(r));
	r.op = KHO_OP_DESTROY;
	r.destroy.id = 1;
	ASSERT_EQ(0, do_rec(&s, r));
	ASSERT_EQ(1, kho_state_next_id(&s));
	ASSERT_EQ(-ENOENT, do_rec(&s, r));
	kho_state_free(&s);
}

/*
 * An mdev binds by its UUID: two of one parent and type are two devices,
 * one UUID twice is VFIO's EBUSY, a record naming a PCI function too is
 * refused; a PCI function of all-zero identity is not taken for one.
 */
KTEST(state_bind_mdev_by_uuid)
{
	struct kho_state s;
	struct kho_rec r;

	setup(&s);
	memset(&r, 0, sizeof(r));
	r.op = KHO_OP_DEVICE_BIND;
	memset(r.bind.mdev_uuid, 0x11, sizeof(r.bind.mdev_uuid));
	ASSERT_EQ(0, do_rec(&s, r));
	ASSERT_EQ(1, s.nr_dev);
	ASSERT_TRUE(!memcmp(s.dev[0].mdev.uuid, r.bind.mdev_uuid, 16));
	ASSERT_EQ(0, s.dev[0].driver[0]);	/* capture reads it */
	ASSERT_EQ(-EBUSY, do_rec(&s, r));
	r.bind.mdev_uuid[15] = 0x12;
	ASSERT_EQ(0, do_rec(&s, r));
	ASSERT_EQ(2, s.nr_dev);
	r.bind.mdev_uuid[15] = 0x13;
	r.bind.pci.bus = 1;
	ASSERT_EQ(-EINVAL, do_rec(&s, r));
	/* a PCI function: its own identity, however like an mdev's */
	memset(r.bind.mdev_uuid, 0, sizeof(r.bind.mdev_uuid));
	r.bind.pci.bus = 0;
	ASSERT_EQ(0, do_rec(&s, r));
	ASSERT_EQ(3, s.nr_dev);
	ASSERT_EQ(0, strcmp("vfio-pci", s.dev[2].driver));
	ASSERT_EQ(-EBUSY, do_rec(&s, r));

	/*
	 * An emulated device (mtty) attaches an access to the IOAS: the
	 * kernel answers with the IOAS's own ID, no domain is made, no
	 * alignment is imposed, and the IOAS is busy until it detaches.
	 */
	ASSERT_EQ(0, map(&s, 1, 0x100800, 0x800));
	memset(&r, 0, sizeof(r));
	r.op = KHO_OP_DEVICE_ATTACH;
	r.attach.dev_id = s.dev[0].id;
	r.attach.pt_id = 1;
	r.attach.out_hwpt_id = 1;
	ASSERT_EQ(0, do_rec(&s, r));
	ASSERT_EQ(1, s.dev[0].attached_pt);
	ASSERT_EQ(0, s.nr_hwpt);
	memset(&r, 0, sizeof(r));
	r.op = KHO_OP_DESTROY;
	r.destroy.id = 1;
	ASSERT_EQ(-EBUSY, do_rec(&s, r));
	memset(&r, 0, sizeof(r));
	r.op = KHO_OP_DEVICE_DETACH;
	r.detach.dev_id = s.dev[0].id;
	ASSERT_EQ(0, do_rec(&s, r));
	ASSERT_EQ(0, s.dev[0].attached_pt);
	kho_state_free(&s);
}

KTEST(state_allow_iovas_and_option)
{
	struct kho_iova_range bad[2] = { { 0x1000, 0x1fff }, { 0x1800, 0x3fff } };
	struct kho_iova_range ok[1] = { { 0x10000000, 0x1fffffff } };
	struct kho_state s;
	struct kho_rec r;

	setup(&s);
	ASSERT_EQ(0, map(&s, 1, 0x100000, 0x1000));
	memset(&r, 0, sizeof(r));
	r.op = KHO_OP_IOAS_ALLOW_IOVAS;
	r.allow_iovas.ioas_id = 1;
	r.allow_iovas.num_iovas = 2;
	r.allow_iovas.iovas = bad;
	ASSERT_EQ(-EINVAL, do_rec(&s, r));	/* overlapping ranges */
	/* existing maps outside the new ranges do not matter: the kernel
	 * checks allowed ranges against reserved regions only */
	r.allow_iovas.num_iovas = 1;
	r.allow_iovas.iovas = ok;
	ASSERT_EQ(0, do_rec(&s, r));
	ASSERT_EQ(0, map(&s, 1, 0x200800, 0x800));
	memset(&r, 0, sizeof(r));
	r.op = KHO_OP_OPTION;
	r.option.option_id = IOMMU_OPTION_HUGE_PAGES;
	r.option.object_id = 1;
	r.option.val64 = 0;
	ASSERT_EQ(-EADDRINUSE, do_rec(&s, r));
	r.option.val64 = 2;
	ASSERT_EQ(-EINVAL, do_rec(&s, r));
	kho_state_free(&s);
}
