// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of an mdev's identity (lib/mdev.c) on a fake sysfs laid out
 * as Linux 7.2 lays out the kernel's mtty sample: /sys/dev/char/M:m is
 * the cdev vfio-dev/vfioN under the mdev, whose "device" link is the mdev
 * named by its UUID, with subsystem, mdev_type and driver links.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "fstree.h"
#include "mdev.h"
#include "ktest.h"
#include "replay.h"

#define UUID1 "83b8f4f2-509f-382f-3c1e-e6bfe0fa1001"
#define MTTY "devices/virtual/mtty/mtty"

static char root[64];

static void link_at(const char *target, const char *rel)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	if (symlink(target, path))
		abort();
}

/* An mdev NAME of mtty with cdev vfioN at 511:N, its type link TYPE. */
static void fake_mdev(const char *name, int n, const char *type)
{
	char rel[160], target[160];

	snprintf(rel, sizeof(rel), MTTY "/%s", name);
	fstree_mk(root, rel);
	snprintf(rel, sizeof(rel), MTTY "/%s/subsystem", name);
	link_at("../../../../../bus/mdev", rel);
	snprintf(rel, sizeof(rel), MTTY "/%s/mdev_type", name);
	link_at(type, rel);
	snprintf(rel, sizeof(rel), MTTY "/%s/driver", name);
	link_at("../../../../../bus/mdev/drivers/mtty", rel);
	snprintf(rel, sizeof(rel), MTTY "/%s/vfio-dev", name);
	fstree_mk(root, rel);
	snprintf(rel, sizeof(rel), MTTY "/%s/vfio-dev/vfio%d", name, n);
	fstree_mk(root, rel);
	snprintf(rel, sizeof(rel), MTTY "/%s/vfio-dev/vfio%d/device", name, n);
	snprintf(target, sizeof(target), "../../../%s", name);
	link_at(target, rel);
	snprintf(rel, sizeof(rel), "dev/char/511:%d", n);
	snprintf(target, sizeof(target), "../../" MTTY "/%s/vfio-dev/vfio%d",
		 name, n);
	link_at(target, rel);
}

static void fake_sysfs(void)
{
	snprintf(root, sizeof(root), "/tmp/kho-test-mdev.XXXXXX");
	if (!mkdtemp(root))
		abort();
	fstree_mk(root, "devices");
	fstree_mk(root, "devices/virtual");
	fstree_mk(root, "devices/virtual/mtty");
	fstree_mk(root, MTTY);
	fstree_mk(root, MTTY "/mdev_supported_types");
	fstree_mk(root, MTTY "/mdev_supported_types/mtty-1");
	fstree_mk(root, MTTY "/mtty-2");
	fstree_mk(root, "dev");
	fstree_mk(root, "dev/char");
	fake_mdev(UUID1, 0, "../mdev_supported_types/mtty-1");
	fake_mdev("not-a-uuid", 2, "../mdev_supported_types/mtty-1");
	fake_mdev("83b8f4f2-509f-382f-3c1e-e6bfe0fa1003", 3, "../mtty-2");
	/* A PCI function bound to vfio-pci: its cdev is no mdev. */
	fstree_mk(root, "devices/pci0000:00");
	fstree_mk(root, "devices/pci0000:00/0000:00:03.0");
	link_at("../../../bus/pci", "devices/pci0000:00/0000:00:03.0/subsystem");
	fstree_mk(root, "devices/pci0000:00/0000:00:03.0/vfio-dev");
	fstree_mk(root, "devices/pci0000:00/0000:00:03.0/vfio-dev/vfio1");
	link_at("../../../0000:00:03.0",
		"devices/pci0000:00/0000:00:03.0/vfio-dev/vfio1/device");
	link_at("../../devices/pci0000:00/0000:00:03.0/vfio-dev/vfio1",
		"dev/char/511:1");
}

KTEST(mdev_uuid_round_trip)
{
	uint8_t uuid[16];
	char buf[KHO_MDEV_UUID_LEN];

	ASSERT_EQ(0, kho_mdev_parse_uuid("83B8F4F2-509F-382F-3C1E-E6BFE0FA1001",
					 uuid));
	ASSERT_EQ(0x83, uuid[0]);
	ASSERT_EQ(0x01, uuid[15]);
	ASSERT_EQ(0, strcmp(UUID1, kho_mdev_uuid_str(uuid, buf, sizeof(buf))));
	ASSERT_EQ(-EINVAL, kho_mdev_parse_uuid(UUID1 "0", uuid));
	ASSERT_EQ(-EINVAL, kho_mdev_parse_uuid("83b8f4f2-509f-382f-3c1e-e6bfe0fa100", uuid));
	ASSERT_EQ(-EINVAL, kho_mdev_parse_uuid("83b8f4f2x509f-382f-3c1e-e6bfe0fa1001", uuid));
	ASSERT_EQ(-EINVAL, kho_mdev_parse_uuid("83b8f4g2-509f-382f-3c1e-e6bfe0fa1001", uuid));
	ASSERT_EQ(-EINVAL, kho_mdev_parse_uuid("", uuid));
}

KTEST(mdev_of_cdev)
{
	struct kho_mdev_id id;
	char buf[256], name[KHO_MDEV_UUID_LEN];

	fake_sysfs();
	ASSERT_EQ(0, kho_mdev_of_cdev(root, makedev(511, 0), &id));
	ASSERT_EQ(0, strcmp(UUID1, kho_mdev_uuid_str(id.uuid, name, sizeof(name))));
	ASSERT_EQ(0, strcmp("mtty", id.parent));
	ASSERT_EQ(0, strcmp("mtty-1", id.type));
	ASSERT_EQ(0, strcmp("mtty", id.driver));
	ASSERT_EQ(0, kho_mdev_create_path("/sys", &id, buf, sizeof(buf)));
	ASSERT_EQ(0, strcmp("/sys/class/mdev_bus/mtty/mdev_supported_types/mtty-1/create",
			    buf));
	ASSERT_EQ(-ENAMETOOLONG, kho_mdev_create_path("/sys", &id, buf, 20));
	/* A PCI function's cdev, a name that is no UUID, a type link of
	 * another shape, no such cdev. */
	ASSERT_EQ(-ENODEV, kho_mdev_of_cdev(root, makedev(511, 1), &id));
	ASSERT_EQ(-EBADMSG, kho_mdev_of_cdev(root, makedev(511, 2), &id));
	ASSERT_EQ(-EBADMSG, kho_mdev_of_cdev(root, makedev(511, 3), &id));
	ASSERT_EQ(-ENOENT, kho_mdev_of_cdev(root, makedev(511, 9), &id));
	snprintf(buf, sizeof(buf), "rm -rf '%s'", root);
	ASSERT_EQ(0, system(buf));
}

/*
 * The replay's side: an mdev that exists is checked against the type
 * recorded; one that does not is created by writing its UUID to its
 * type's "create" (here a plain file, so the mdev never appears: the
 * message says so); a type the parent does not offer is named.
 */
KTEST(mdev_ensure_and_find_cdev)
{
	struct kho_mdev_id id = { 0 };
	struct kho_diag diag = { "" };
	char buf[256], name[32];
	bool created = true;
	FILE *f;

	fake_sysfs();
	fstree_mk(root, "bus");
	fstree_mk(root, "bus/mdev");
	fstree_mk(root, "bus/mdev/devices");
	link_at("../../../" MTTY "/" UUID1, "bus/mdev/devices/" UUID1);
	fstree_mk(root, "class");
	fstree_mk(root, "class/mdev_bus");
	link_at("../../" MTTY, "class/mdev_bus/mtty");
	fstree_put(root, MTTY "/mdev_supported_types/mtty-1/create", "");

	ASSERT_EQ(0, kho_mdev_parse_uuid(UUID1, id.uuid));
	snprintf(id.parent, sizeof(id.parent), "mtty");
	snprintf(id.type, sizeof(id.type), "mtty-1");
	ASSERT_TRUE(kho_mdev_is(&id));
	ASSERT_TRUE(kho_mdev_names_ok(&id));
	ASSERT_EQ(0, kho_mdev_ensure(root, &id, &created, &diag));
	ASSERT_TRUE(!created);
	ASSERT_EQ(0, kho_replay_find_mdev_cdev(root, &id, "mtty", name,
					       sizeof(name), &created, &diag));
	ASSERT_EQ(0, strcmp("vfio0", name));
	ASSERT_EQ(-ENODEV, kho_replay_find_mdev_cdev(root, &id, "vfio_mdev",
						     name, sizeof(name),
						     &created, &diag));
	ASSERT_TRUE(strstr(diag.msg, "mdev " UUID1 " (type mtty-1 of mtty): bound to driver 'mtty', recorded 'vfio_mdev'"));

	/* The same UUID of another type: not the device recorded. */
	snprintf(id.type, sizeof(id.type), "mtty-2");
	ASSERT_EQ(-ENODEV, kho_mdev_ensure(root, &id, &created, &diag));
	ASSERT_TRUE(strstr(diag.msg, "exists as type mtty-1 of mtty, not the type recorded"));

	/* Not there: created through mtty-1's create. */
	snprintf(id.type, sizeof(id.type), "mtty-1");
	id.uuid[15] = 0x02;
	ASSERT_EQ(-ENODEV, kho_mdev_ensure(root, &id, &created, &diag));
	ASSERT_TRUE(!created);
	ASSERT_TRUE(strstr(diag.msg, "mdev 83b8f4f2-509f-382f-3c1e-e6bfe0fa1002 (type mtty-1 of mtty): create: "));
	ASSERT_TRUE(strstr(diag.msg, "took the UUID, but "));
	snprintf(buf, sizeof(buf), "%s/" MTTY "/mdev_supported_types/mtty-1/create",
		 root);
	f = fopen(buf, "re");
	ASSERT_TRUE(f != NULL);
	ASSERT_TRUE(fgets(buf, sizeof(buf), f) != NULL);
	fclose(f);
	ASSERT_EQ(0, strcmp("83b8f4f2-509f-382f-3c1e-e6bfe0fa1002", buf));

	/* A type the parent does not offer (its driver not built, say). */
	snprintf(id.type, sizeof(id.type), "mtty-9");
	ASSERT_EQ(-ENODEV, kho_replay_find_mdev_cdev(root, &id, NULL, name,
						     sizeof(name), &created,
						     &diag));
	ASSERT_TRUE(strstr(diag.msg, "(type mtty-9 of mtty): create: "));
	ASSERT_TRUE(strstr(diag.msg, "is its driver built in this kernel?"));

	/* Names the replay would build a path of. */
	snprintf(id.type, sizeof(id.type), "..");
	ASSERT_TRUE(!kho_mdev_names_ok(&id));
	snprintf(id.type, sizeof(id.type), "a/b");
	ASSERT_TRUE(!kho_mdev_names_ok(&id));
	snprintf(buf, sizeof(buf), "rm -rf '%s'", root);
	ASSERT_EQ(0, system(buf));
}
