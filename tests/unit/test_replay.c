// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of lib/replay.c that need no iommufd: the old->new ID table,
 * device lookup through a fake sysfs tree, plan checks and the replay
 * order (seen through which ioctl a fake iommufd refuses first).
 */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fstree.h"
#include "ktest.h"
#include "journal.h"
#include "replay.h"

static char tmpdir[64];

/*
 * sys/bus/pci/devices/0000:00:03.0 is an edu (1234:11e8) on vfio-pci with
 * cdev vfio0; dev/vfio/devices/vfio0 is a plain file standing in for it.
 */
static void fake_tree(const char *driver)
{
	char path[256], target[256];

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/kho-test-replay.XXXXXX");
	if (!mkdtemp(tmpdir))
		abort();
	fstree_mk(tmpdir, "sys");
	fstree_mk(tmpdir, "sys/bus");
	fstree_mk(tmpdir, "sys/bus/pci");
	fstree_mk(tmpdir, "sys/bus/pci/devices");
	fstree_mk(tmpdir, "sys/bus/pci/drivers");
	fstree_mk(tmpdir, "sys/bus/pci/drivers/vfio-pci");
	fstree_mk(tmpdir, "sys/bus/pci/drivers/edu");
	fstree_mk(tmpdir, "sys/bus/pci/devices/0000:00:03.0");
	fstree_mk(tmpdir, "sys/bus/pci/devices/0000:00:03.0/vfio-dev");
	fstree_mk(tmpdir, "sys/bus/pci/devices/0000:00:03.0/vfio-dev/vfio0");
	fstree_put(tmpdir, "sys/bus/pci/devices/0000:00:03.0/vendor", "0x1234\n");
	fstree_put(tmpdir, "sys/bus/pci/devices/0000:00:03.0/device", "0x11e8\n");
	snprintf(path, sizeof(path), "%s/sys/bus/pci/devices/0000:00:03.0/driver",
		 tmpdir);
	snprintf(target, sizeof(target), "../../bus/pci/drivers/%s", driver);
	if (symlink(target, path))
		abort();
	fstree_mk(tmpdir, "dev");
	fstree_mk(tmpdir, "dev/vfio");
	fstree_mk(tmpdir, "dev/vfio/devices");
	fstree_put(tmpdir, "dev/vfio/devices/vfio0", "");
}

static void rm_tree(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd))
		printf("# could not remove %s\n", tmpdir);
}

static const struct kho_pci_id edu = { .segment = 0, .bus = 0,
				       .devfn = 3 << 3, .vendor = 0x1234,
				       .device = 0x11e8 };

KTEST(idmap_add_lookup_refuses_duplicates)
{
	struct kho_idmap m;
	uint32_t id = 0;
	unsigned int i;

	kho_idmap_init(&m);
	ASSERT_EQ(0, kho_idmap_add(&m, KHO_OBJ_IOAS, 1, 7));
	ASSERT_EQ(-EEXIST, kho_idmap_add(&m, KHO_OBJ_HWPT, 1, 8));
	ASSERT_EQ(-EINVAL, kho_idmap_add(&m, KHO_OBJ_HWPT, 0, 8));
	ASSERT_EQ(-EINVAL, kho_idmap_add(&m, KHO_OBJ_HWPT, 9, 0));
	for (i = 2; i < 100; i++)
		ASSERT_EQ(0, kho_idmap_add(&m, KHO_OBJ_HWPT, i, 1000 + i));
	ASSERT_EQ(0, kho_idmap_lookup(&m, 1, &id));
	ASSERT_EQ(7, id);
	ASSERT_EQ(0, kho_idmap_lookup(&m, 99, &id));
	ASSERT_EQ(1099, id);
	ASSERT_EQ(-ENOENT, kho_idmap_lookup(&m, 100, &id));
	ASSERT_EQ(99, m.nr);
	kho_idmap_free(&m);
	ASSERT_EQ(0, m.nr);
}

KTEST(pci_name_is_sysfs_form)
{
	struct kho_pci_id p = { .segment = 1, .bus = 0x3a, .devfn = 0x1f << 3 | 7 };
	char buf[16];

	ASSERT_STR_CONTAINS(kho_replay_pci_name(&p, buf, sizeof(buf)),
			    "0001:3a:1f.7");
}

KTEST(find_cdev_checks_identity_and_driver)
{
	struct kho_pci_id other = edu;
	struct kho_diag diag = { "" };
	char sys[128], name[32];

	fake_tree("vfio-pci");
	snprintf(sys, sizeof(sys), "%s/sys", tmpdir);
	ASSERT_EQ(0, kho_replay_find_cdev(sys, &edu, "vfio-pci", name,
					  sizeof(name), &diag));
	ASSERT_STR_CONTAINS(name, "vfio0");

	ASSERT_EQ(-ENODEV, kho_replay_find_cdev(sys, &edu, "nvme", name,
						sizeof(name), &diag));
	ASSERT_STR_CONTAINS(diag.msg, "bound to driver 'vfio-pci', recorded 'nvme'");

	other.device = 0x1111;
	ASSERT_EQ(-ENODEV, kho_replay_find_cdev(sys, &other, "vfio-pci", name,
						sizeof(name), &diag));
	ASSERT_STR_CONTAINS(diag.msg, "is 1234:11e8, recorded 1234:1111");

	other = edu;
	other.devfn = 4 << 3;
	ASSERT_EQ(-ENOENT, kho_replay_find_cdev(sys, &other, "vfio-pci", name,
						sizeof(name), &diag));
	ASSERT_STR_CONTAINS(diag.msg, "device 0000:00:04.0: not present");
	rm_tree();
}

/* One IOAS (old 1) with two maps of memfd token 7, one edu attached. */
static void plan_init(struct kho_handoff *h, struct kho_mapping *maps,
		      struct kho_ioas *ioas, struct kho_device *dev, int attach)
{
	struct kho_rec rec;

	memset(h, 0, sizeof(*h));
	maps[0] = (struct kho_mapping){ 0x100000, 0x10000, 0, 7, 3 };
	maps[1] = (struct kho_mapping){ 0x110000, 0x10000, 0x10000, 7, 3 };
	*ioas = (struct kho_ioas){ .id = 1, .huge_pages = -1, .nr_maps = 2,
				   .cap_maps = 2, .maps = maps };
	*dev = (struct kho_device){ .id = 2, .pci = edu, .attached_pt = 3 };
	strcpy(dev->driver, "vfio-pci");
	h->state.ioas = ioas;
	h->state.nr_ioas = 1;
	h->state.dev = dev;
	h->state.nr_dev = 1;
	kho_journal_init(&h->replay);
	/* Deliberately in the original (attach-first) call order. */
	rec = (struct kho_rec){ .op = KHO_OP_DEVICE_BIND };
	rec.bind.pci = edu;
	rec.bind.out_devid = 2;
	kho_journal_append(&h->replay, &rec);
	if (attach) {
		rec = (struct kho_rec){ .op = KHO_OP_DEVICE_ATTACH };
		rec.attach.dev_id = 2;
		rec.attach.pt_id = 1;
		rec.attach.out_hwpt_id = 3;
		kho_journal_append(&h->replay, &rec);
	}
	rec = (struct kho_rec){ .op = KHO_OP_REPLAY_MAPPINGS };
	rec.replay_maps.ioas_id = 1;
	rec.replay_maps.count = 2;
	kho_journal_append(&h->replay, &rec);
}

/*
 * A fake iommufd (/dev/null) refuses the first ioctl with ENOTTY: the
 * message names the op the replay issued first.
 */
static int first_refused(int order, struct kho_diag *diag)
{
	struct kho_replay_memfd memfd = { .token = 7 };
	struct kho_mapping maps[2];
	struct kho_device dev;
	struct kho_ioas ioas;
	struct kho_handoff h;
	struct kho_replay r;
	char sys[128], devdir[128];
	int err;

	fake_tree("vfio-pci");
	snprintf(sys, sizeof(sys), "%s/sys", tmpdir);
	snprintf(devdir, sizeof(devdir), "%s/dev", tmpdir);
	plan_init(&h, maps, &ioas, &dev, 1);
	kho_replay_init(&r);
	r.sysfs = sys;
	r.devdir = devdir;
	r.order = order;
	r.iommufd = open("/dev/null", O_RDWR);
	memfd.fd = open("/dev/null", O_RDWR);
	kho_idmap_add(&r.idmap, KHO_OBJ_IOAS, 1, 1);	/* as if allocated */
	err = kho_replay_run(&r, &h, &memfd, 1, diag);
	kho_replay_release(&r);
	close(memfd.fd);
	kho_journal_free(&h.replay);
	rm_tree();
	return err;
}

KTEST(replay_maps_before_devices_by_default)
{
	struct kho_diag diag = { "" };

	ASSERT_EQ(-ENOTTY, first_refused(KHO_REPLAY_MAPS_FIRST, &diag));
	ASSERT_STR_CONTAINS(diag.msg,
			    "replay: IOAS 1: map 0x100000+0x10000 from memfd token 7 offset 0x0: ENOTTY");
}

KTEST(replay_attach_first_binds_first)
{
	struct kho_diag diag = { "" };

	ASSERT_EQ(-ENOTTY, first_refused(KHO_REPLAY_ATTACH_FIRST, &diag));
	ASSERT_STR_CONTAINS(diag.msg, "device 0000:00:03.0");
	ASSERT_STR_CONTAINS(diag.msg, "bind to iommufd: ENOTTY");
}

KTEST(replay_fail_at_injects_and_names_the_step)
{
	struct kho_replay_memfd memfd = { .token = 7, .fd = -1 };
	struct kho_diag diag = { "" };
	struct kho_mapping maps[2];
	struct kho_device dev;
	struct kho_ioas ioas;
	struct kho_handoff h;
	struct kho_replay r;

	plan_init(&h, maps, &ioas, &dev, 0);
	kho_replay_init(&r);
	r.iommufd = open("/dev/null", O_RDWR);
	memfd.fd = r.iommufd;
	r.fail_at = 1;
	kho_idmap_add(&r.idmap, KHO_OBJ_IOAS, 1, 1);
	ASSERT_EQ(-EIO, kho_replay_run(&r, &h, &memfd, 1, &diag));
	ASSERT_STR_CONTAINS(diag.msg,
			    "map 0x100000+0x10000 from memfd token 7 offset 0x0: EIO (injected failure at step 1)");
	ASSERT_EQ(1, r.steps);
	kho_replay_release(&r);
	kho_journal_free(&h.replay);
}

KTEST(replay_missing_memfd_and_bad_slice)
{
	struct kho_replay_memfd memfd = { .token = 99, .fd = -1 };
	struct kho_diag diag = { "" };
	struct kho_mapping maps[2];
	struct kho_device dev;
	struct kho_ioas ioas;
	struct kho_handoff h;
	struct kho_replay r;

	plan_init(&h, maps, &ioas, &dev, 0);
	kho_replay_init(&r);
	r.iommufd = open("/dev/null", O_RDWR);
	kho_idmap_add(&r.idmap, KHO_OBJ_IOAS, 1, 1);
	ASSERT_EQ(-ENOENT, kho_replay_run(&r, &h, &memfd, 1, &diag));
	ASSERT_STR_CONTAINS(diag.msg, "memfd token 7 was not retrieved");
	ASSERT_EQ(0, r.steps);

	h.replay.recs[1].replay_maps.count = 3;
	ASSERT_EQ(-EBADMSG, kho_replay_run(&r, &h, &memfd, 1, &diag));
	ASSERT_STR_CONTAINS(diag.msg, "mappings [0, +3) are not in the recorded state");
	kho_replay_release(&r);
	kho_journal_free(&h.replay);
}

KTEST(replay_refuses_unreplayable_plan_before_any_ioctl)
{
	struct kho_diag diag = { "" };
	struct kho_mapping maps[2];
	struct kho_device dev;
	struct kho_ioas ioas;
	struct kho_handoff h;
	struct kho_replay r;
	struct kho_rec rec = { .op = KHO_OP_IOAS_UNMAP };

	plan_init(&h, maps, &ioas, &dev, 0);
	kho_journal_append(&h.replay, &rec);
	kho_replay_init(&r);
	ASSERT_EQ(-EOPNOTSUPP, kho_replay_run(&r, &h, NULL, 0, &diag));
	ASSERT_STR_CONTAINS(diag.msg, "cannot be replayed");
	ASSERT_EQ(-1, r.iommufd);	/* /dev/iommu never opened */
	ASSERT_EQ(0, r.steps);
	kho_replay_release(&r);
	kho_journal_free(&h.replay);
}

KTEST(replay_unbound_attach_and_unknown_ioas)
{
	struct kho_diag diag = { "" };
	struct kho_mapping maps[2];
	struct kho_device dev;
	struct kho_ioas ioas;
	struct kho_handoff h;
	struct kho_replay r;
	struct kho_rec rec;

	plan_init(&h, maps, &ioas, &dev, 0);
	kho_journal_free(&h.replay);
	rec = (struct kho_rec){ .op = KHO_OP_DEVICE_ATTACH };
	rec.attach.dev_id = 2;
	rec.attach.pt_id = 1;
	kho_journal_append(&h.replay, &rec);
	kho_replay_init(&r);
	r.iommufd = open("/dev/null", O_RDWR);
	ASSERT_EQ(-ENOENT, kho_replay_run(&r, &h, NULL, 0, &diag));
	/* Found by the plan check, before the first ioctl. */
	ASSERT_STR_CONTAINS(diag.msg, "plan record 0 (DEVICE_ATTACH_IOMMUFD_PT): device 2: ENOENT (no record of the plan makes it); refused before the first ioctl, no device bound");
	ASSERT_EQ(0, r.steps);

	kho_journal_free(&h.replay);
	rec = (struct kho_rec){ .op = KHO_OP_IOAS_ALLOW_IOVAS };
	rec.allow_iovas.ioas_id = 5;
	kho_journal_append(&h.replay, &rec);
	ASSERT_EQ(-ENOENT, kho_replay_run(&r, &h, NULL, 0, &diag));
	ASSERT_STR_CONTAINS(diag.msg, "plan record 0 (IOAS_ALLOW_IOVAS): IOAS 5: ENOENT (no record of the plan makes it)");
	kho_replay_release(&r);
	kho_journal_free(&h.replay);
}
