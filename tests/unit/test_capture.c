// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of capture's device claims (issue #21 item 1): a VMM's claim
 * stands only if the VMM holds the device's VFIO cdev.  A fake sysfs
 * gives the edu function cdev number = /dev/full's and legacy group 7
 * number = /dev/zero's, so that child processes can hold (or not) the
 * "cdev" and the "group" by opening those.  And the poisoned guest pages
 * a capture carries, found through a fake /proc.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/iommufd.h>

#include "capture.h"
#include "fstree.h"
#include "handoff.h"
#include "journal.h"
#include "state.h"
#include "vfio_mig.h"
#include "ktest.h"

static char tmpdir[64];

static void put_devt(const char *rel, const char *node)
{
	struct stat st;
	char buf[32];

	if (stat(node, &st))
		abort();
	snprintf(buf, sizeof(buf), "%u:%u\n", major(st.st_rdev),
		 minor(st.st_rdev));
	fstree_put(tmpdir, rel, buf);
}

static void link_to(const char *target, const char *rel)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
	if (symlink(target, path))
		abort();
}

static void fake_sysfs(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/kho-test-capture.XXXXXX");
	if (!mkdtemp(tmpdir))
		abort();
	fstree_mk(tmpdir, "bus");
	fstree_mk(tmpdir, "bus/pci");
	fstree_mk(tmpdir, "bus/pci/drivers");
	fstree_mk(tmpdir, "bus/pci/drivers/vfio-pci");
	fstree_mk(tmpdir, "bus/pci/devices");
	fstree_mk(tmpdir, "bus/pci/devices/0000:00:03.0");
	fstree_put(tmpdir, "bus/pci/devices/0000:00:03.0/vendor", "0x1234\n");
	fstree_put(tmpdir, "bus/pci/devices/0000:00:03.0/device", "0x11e8\n");
	link_to("../../drivers/vfio-pci", "bus/pci/devices/0000:00:03.0/driver");
	fstree_mk(tmpdir, "bus/pci/devices/0000:00:03.0/vfio-dev");
	fstree_mk(tmpdir, "bus/pci/devices/0000:00:03.0/vfio-dev/vfio0");
	put_devt("bus/pci/devices/0000:00:03.0/vfio-dev/vfio0/dev", "/dev/full");
	fstree_mk(tmpdir, "kernel");
	fstree_mk(tmpdir, "kernel/iommu_groups");
	fstree_mk(tmpdir, "kernel/iommu_groups/7");
	link_to("../../../kernel/iommu_groups/7",
		"bus/pci/devices/0000:00:03.0/iommu_group");
	fstree_mk(tmpdir, "class");
	fstree_mk(tmpdir, "class/vfio");
	fstree_mk(tmpdir, "class/vfio/7");
	put_devt("class/vfio/7/dev", "/dev/zero");
}

/*
 * A child holding @node open (none if NULL), and nothing of ours, until
 * its end of @sv closes; returns once it has opened @node.
 */
static pid_t vmm_holding(const char *node, int sv[2])
{
	pid_t child;
	int fd, i;
	char c;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return -1;
	fflush(stdout);
	child = fork();
	if (child) {
		close(sv[1]);
		return read(sv[0], &c, 1) == 1 && c == 'r' ? child : -1;
	}
	fd = node ? open(node, O_RDONLY) : -1;
	/* what the parent holds is not the child's to prove with */
	for (i = 3; i < 1024; i++)
		if (i != fd && i != sv[1])
			close(i);
	c = node && fd < 0 ? 'n' : 'r';
	if (write(sv[1], &c, 1) != 1)
		_exit(2);
	while (read(sv[1], &c, 1) > 0)
		;
	_exit(0);
}

static void vmm_end(pid_t child, int sv[2])
{
	int status;

	close(sv[0]);
	waitpid(child, &status, 0);
}

static void one_edu(struct kho_state *s, struct kho_device *d)
{
	memset(s, 0, sizeof(*s));
	memset(d, 0, sizeof(*d));
	d->id = 2;
	d->pci = (struct kho_pci_id){ .devfn = 3 << 3, .vendor = 0x1234,
				      .device = 0x11e8 };
	s->dev = d;
	s->nr_dev = 1;
}

KTEST(vfio_migration_flags_named)
{
	char buf[48];

	ASSERT_STR_CONTAINS(kho_vfio_migration_str(0, buf, sizeof(buf)), "none");
	ASSERT_EQ(0, strcmp(kho_vfio_migration_str(0x1, buf, sizeof(buf)),
			    "stop-copy"));
	ASSERT_EQ(0, strcmp(kho_vfio_migration_str(0x5, buf, sizeof(buf)),
			    "stop-copy+pre-copy"));
	ASSERT_EQ(0, strcmp(kho_vfio_migration_str(0x107, buf, sizeof(buf)),
			    "stop-copy+p2p+pre-copy+0x100"));
	/* Cut short, never overrun. */
	ASSERT_EQ(0, strcmp(kho_vfio_migration_str(0x7, buf, 10), "stop-copy"));
}

/* A non-VFIO fd answers the query as VFIO does for a device without it. */
KTEST(vfio_migration_query_enotty_is_none)
{
	uint32_t flags = 0xff;
	int fd = open("/dev/null", O_RDONLY);

	ASSERT_TRUE(fd >= 0);
	ASSERT_EQ(0, kho_vfio_migration_query(fd, &flags));
	ASSERT_EQ(0, (int)flags);
	close(fd);
	ASSERT_EQ(-EBADF, kho_vfio_migration_query(fd, &flags));
}

KTEST(device_claim_needs_the_vmm_to_hold_its_cdev)
{
	struct kho_diag diag = { "" };
	struct kho_state s;
	struct kho_device d;
	char want[160];
	int sv[2], mine;
	pid_t vmm;

	fake_sysfs();
	one_edu(&s, &d);
	/* Someone else holds the cdev (us): the VMM holding nothing lies. */
	mine = open("/dev/full", O_RDONLY | O_CLOEXEC);
	ASSERT_TRUE(mine >= 0);
	vmm = vmm_holding(NULL, sv);
	ASSERT_TRUE(vmm > 0);
	ASSERT_EQ(-EPERM, kho_capture_check_devices(&s, vmm, tmpdir, &diag));
	printf("#   %s\n", diag.msg);
	snprintf(want, sizeof(want),
		 "device 2 (0000:00:03.0): VMM %d holds no fd of its VFIO cdev /dev/vfio/devices/vfio0",
		 (int)vmm);
	ASSERT_STR_CONTAINS(diag.msg, want);
	vmm_end(vmm, sv);
	close(mine);

	/* The VMM holds the cdev: the claim stands, the driver is read. */
	vmm = vmm_holding("/dev/full", sv);
	ASSERT_TRUE(vmm > 0);
	d.migration_probed = false;
	d.migration_flags = 0xff;
	ASSERT_EQ(0, kho_capture_check_devices(&s, vmm, tmpdir, &diag));
	ASSERT_STR_CONTAINS(d.driver, "vfio-pci");
	/*
	 * Its migration support was asked of the VMM's own fd, duplicated
	 * by pidfd_getfd(): /dev/full has no ioctls, ENOTTY, which is what
	 * VFIO answers for a device without migration v2 (no mig_ops).
	 */
	if (!d.migration_probed)
		printf("#   probe failed: %s\n", strerror(-d.migration_err));
	ASSERT_TRUE(d.migration_probed);
	ASSERT_EQ(0, (int)d.migration_flags);
	vmm_end(vmm, sv);

	/* Held only through the legacy group: refused, saying so. */
	vmm = vmm_holding("/dev/zero", sv);
	ASSERT_TRUE(vmm > 0);
	ASSERT_EQ(-EPERM, kho_capture_check_devices(&s, vmm, tmpdir, &diag));
	printf("#   %s\n", diag.msg);
	ASSERT_STR_CONTAINS(diag.msg, "only through VFIO group 7 (/dev/vfio/7)");
	vmm_end(vmm, sv);

	/* A claim with no VMM behind it. */
	ASSERT_EQ(-EPERM, kho_capture_check_devices(&s, 0, tmpdir, &diag));
	ASSERT_STR_CONTAINS(diag.msg, "no VMM to prove them against");

	snprintf(want, sizeof(want), "rm -rf '%s'", tmpdir);
	ASSERT_EQ(0, system(want));
}

#define PS 4096ull
#define IOVA 0x100000ull

/*
 * A VMM's snapshot: IOAS 1 maps memfd token 7 (32 pages) whole at IOVA
 * 1 MiB; the VMM (pid 4242 of the fake /proc) maps it at 0x10000000.
 */
static int poison_snapshot(struct kho_journal_snapshot *snap)
{
	struct kho_memfd m = { .token = 7, .size = 32 * PS, .name = "guest-ram" };
	struct kho_rec r;
	int fd = memfd_create("guest-ram", 0);

	if (fd < 0 || ftruncate(fd, 32 * PS))
		abort();
	kho_journal_snapshot_init(snap);
	snap->pid = 4242;
	snap->memfd_fds = malloc(sizeof(int));
	if (!snap->memfd_fds || kho_state_add_memfd(&snap->state, &m))
		abort();
	snap->memfd_fds[0] = fd;
	snap->nr_fds = 1;
	memset(&r, 0, sizeof(r));
	r.op = KHO_OP_IOAS_ALLOC;
	r.ioas_alloc.out_ioas_id = 1;
	if (kho_journal_append(&snap->journal, &r))
		abort();
	memset(&r, 0, sizeof(r));
	r.op = KHO_OP_IOAS_MAP_FILE;
	r.map.flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
		      IOMMU_IOAS_MAP_WRITEABLE;
	r.map.ioas_id = 1;
	r.map.memfd_token = 7;
	r.map.length = 32 * PS;
	r.map.iova = IOVA;
	if (kho_journal_append(&snap->journal, &r))
		abort();
	snap->journal_length = snap->journal.nr;
	return fd;
}

KTEST(capture_carries_poison_and_cuts_the_mapping)
{
	struct kho_journal_snapshot snap;
	struct kho_diag diag = { "" };
	struct kho_capture cap;
	const struct kho_ioas *a;
	struct kho_handoff back;
	char proc[64];
	int fd = poison_snapshot(&snap);

	/* The VMM's page 13 is on frame 3, which is poisoned. */
	fstree_vmm_proc(proc, sizeof(proc), fd, 0x10000000, 0, 32, 13, 3);
	ASSERT_EQ(0, kho_capture_build(&snap, &cap, &diag));
	ASSERT_EQ(1, (int)cap.handoff.format_version);
	ASSERT_EQ(0, kho_capture_poison(&cap, &snap, proc, &diag));
	ASSERT_EQ(1, cap.handoff.nr_poison);
	ASSERT_EQ(7, cap.handoff.poison[0].memfd_token);
	ASSERT_EQ(13 * PS, cap.handoff.poison[0].offset);
	ASSERT_EQ(PS, cap.handoff.poison[0].length);
	ASSERT_EQ(KHO_FORMAT_VERSION_POISON, (int)cap.handoff.format_version);
	ASSERT_EQ(KHO_FORMAT_VERSION_POISON,
		  (int)cap.handoff.min_reader_version);
	/* The mapping, cut around the page: the IOVA of the page is a hole. */
	a = kho_state_find_ioas(&cap.handoff.state, 1);
	ASSERT_TRUE(a != NULL);
	ASSERT_EQ(2, a->nr_maps);
	ASSERT_EQ(IOVA, a->maps[0].iova);
	ASSERT_EQ(13 * PS, a->maps[0].length);
	ASSERT_EQ(0, a->maps[0].offset);
	ASSERT_EQ(IOVA + 14 * PS, a->maps[1].iova);
	ASSERT_EQ(18 * PS, a->maps[1].length);
	ASSERT_EQ(14 * PS, a->maps[1].offset);
	ASSERT_EQ(IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE,
		  a->maps[1].flags);
	/* The recorded calls and the UNMAP and two MAPs of the cut. */
	ASSERT_EQ(5, cap.handoff.journal_length);
	/* The blob says the same to a reader. */
	ASSERT_EQ(0, kho_handoff_decode(cap.blob, cap.blob_len, &back, &diag));
	ASSERT_EQ(1, back.nr_poison);
	ASSERT_EQ(13 * PS, back.poison[0].offset);
	ASSERT_EQ(2, kho_state_find_ioas(&back.state, 1)->nr_maps);
	kho_handoff_free(&back);
	kho_capture_release(&cap);

	/* With the VMM's iommufd in the hand-off, its kernel journal still
	 * maps the page: refused, named, the capture as it was. */
	ASSERT_EQ(0, kho_capture_build(&snap, &cap, &diag));
	cap.handoff.iommufd.present = true;
	ASSERT_EQ(-EOPNOTSUPP, kho_capture_poison(&cap, &snap, proc, &diag));
	ASSERT_STR_CONTAINS(diag.msg, "memfd token 7 0xd000+0x1000 is poisoned and mapped for DMA, and the hand-off carries the VMM's iommufd");
	ASSERT_EQ(0, cap.handoff.nr_poison);
	ASSERT_EQ(1, kho_state_find_ioas(&cap.handoff.state, 1)->nr_maps);
	cap.handoff.iommufd.present = false;
	kho_capture_release(&cap);
	fstree_rm(proc);

	/* No poison: the hand-off keeps its format, older readers read it. */
	fstree_vmm_proc(proc, sizeof(proc), fd, 0x10000000, 0, 32, 13, 2);
	ASSERT_EQ(0, kho_capture_build(&snap, &cap, &diag));
	ASSERT_EQ(0, kho_capture_poison(&cap, &snap, proc, &diag));
	ASSERT_EQ(0, cap.handoff.nr_poison);
	ASSERT_EQ(1, (int)cap.handoff.min_reader_version);
	ASSERT_EQ(1, kho_state_find_ioas(&cap.handoff.state, 1)->nr_maps);
	kho_capture_release(&cap);
	fstree_rm(proc);
	kho_journal_snapshot_free(&snap);
}
