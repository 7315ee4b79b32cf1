// SPDX-License-Identifier: GPL-2.0
/*
 * The kernel-verified replay (lib/replay_kjournal.c) against a fake
 * restoring iommufd: this binary interposes ioctl(2) for one fd and plays
 * the patched kernel's part - it hands out IDs, counts the records it
 * matched and refuses the record it is told to with EILSEQ, as
 * patches/0003 does for a deviation.  Every other fd goes to the kernel.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/iommufd.h>

#include "handoff.h"
#include "journal.h"
#include "ktest.h"
#include "replay.h"

static int fake_fd = -1;
static unsigned int fake_calls;		/* ioctls the fake saw */
static unsigned int fake_eilseq_at;	/* 1-based call to refuse, 0 none */
static uint32_t fake_next_id = 1;
static uint64_t fake_unmapped = 0x1000;	/* what an UNMAP reports */

int ioctl(int fd, unsigned long cmd, ...);
int ioctl(int fd, unsigned long cmd, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, cmd);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (fd != fake_fd || fd < 0)
		return syscall(SYS_ioctl, fd, cmd, arg);
	fake_calls++;
	if (fake_eilseq_at && fake_calls == fake_eilseq_at) {
		errno = EILSEQ;
		return -1;
	}
	switch (cmd) {
	case IOMMU_IOAS_ALLOC:
		((struct iommu_ioas_alloc *)arg)->out_ioas_id = fake_next_id++;
		return 0;
	case IOMMU_IOAS_UNMAP:
		((struct iommu_ioas_unmap *)arg)->length = fake_unmapped;
		return 0;
	case IOMMU_IOAS_MAP_FILE:
	case IOMMU_DESTROY:
	case IOMMU_IOAS_ALLOW_IOVAS:
		return 0;
	}
	errno = ENOTTY;
	return -1;
}

static void fake_reset(void)
{
	fake_calls = 0;
	fake_eilseq_at = 0;
	fake_next_id = 100;
	fake_unmapped = 0x1000;
}

/* IOAS 1, map, unmap, IOAS 2, destroy IOAS 2, IOAS 2 again (ID reuse). */
static void journal_with_churn(struct kho_journal *j)
{
	struct kho_rec r;

	kho_journal_init(j);
	memset(&r, 0, sizeof(r));
	r.op = KHO_OP_IOAS_ALLOC;
	r.ioas_alloc.out_ioas_id = 1;
	kho_journal_append(j, &r);
	memset(&r, 0, sizeof(r));
	r.op = KHO_OP_IOAS_MAP_FILE;
	r.map.flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE;
	r.map.ioas_id = 1;
	r.map.memfd_token = 7;
	r.map.length = 0x1000;
	r.map.iova = 0x100000;
	kho_journal_append(j, &r);
	memset(&r, 0, sizeof(r));
	r.op = KHO_OP_IOAS_UNMAP;
	r.unmap.ioas_id = 1;
	r.unmap.iova = 0x100000;
	r.unmap.length = 0x1000;
	r.unmap.out_length = 0x1000;
	kho_journal_append(j, &r);
	memset(&r, 0, sizeof(r));
	r.op = KHO_OP_IOAS_ALLOC;
	r.ioas_alloc.out_ioas_id = 2;
	kho_journal_append(j, &r);
	memset(&r, 0, sizeof(r));
	r.op = KHO_OP_DESTROY;
	r.destroy.id = 2;
	kho_journal_append(j, &r);
	memset(&r, 0, sizeof(r));
	r.op = KHO_OP_IOAS_ALLOC;
	r.ioas_alloc.out_ioas_id = 2;
	kho_journal_append(j, &r);
}

static void setup(struct kho_replay *r, struct kho_handoff *h)
{
	fake_reset();
	kho_replay_init(r);
	kho_handoff_init(h);
	fake_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	r->iommufd = fake_fd;
}

static void teardown(struct kho_replay *r, struct kho_handoff *h)
{
	kho_replay_release(r);
	kho_handoff_free(h);
	fake_fd = -1;
}

static const struct kho_replay_memfd memfds[] = { { .token = 7, .fd = 42 } };

KTEST(kjournal_replay_whole_journal_with_id_reuse)
{
	struct kho_diag diag = { "" };
	struct kho_replay r;
	struct kho_handoff h;
	struct kho_journal j;
	uint32_t id;

	setup(&r, &h);
	journal_with_churn(&j);
	ASSERT_EQ(0, kho_replay_kjournal(&r, &h, &j, 0, memfds, 1, &diag));
	/* Every record went to the kernel, unmap and destroy included. */
	ASSERT_EQ(6, fake_calls);
	ASSERT_EQ(6, r.steps);
	/* Old ID 2 died and was reused: it names the last IOAS now. */
	ASSERT_EQ(0, kho_idmap_lookup(&r.idmap, 2, &id));
	ASSERT_EQ(102, id);
	ASSERT_EQ(0, kho_idmap_lookup(&r.idmap, 1, &id));
	ASSERT_EQ(100, id);
	ASSERT_EQ(2, r.idmap.nr);
	kho_journal_free(&j);
	teardown(&r, &h);
}

KTEST(kjournal_replay_eilseq_names_the_record)
{
	struct kho_diag diag = { "" };
	struct kho_replay r;
	struct kho_handoff h;
	struct kho_journal j;

	setup(&r, &h);
	journal_with_churn(&j);
	fake_eilseq_at = 3;
	ASSERT_EQ(-EILSEQ, kho_replay_kjournal(&r, &h, &j, 0, memfds, 1,
					       &diag));
	printf("#   %s\n", diag.msg);
	ASSERT_STR_CONTAINS(diag.msg, "record 3 of 6");
	ASSERT_STR_CONTAINS(diag.msg, "IOAS 1");
	ASSERT_STR_CONTAINS(diag.msg, "EILSEQ");
	ASSERT_STR_CONTAINS(diag.msg, "the kernel refused it: the replay deviates from the preserved journal");
	kho_journal_free(&j);
	teardown(&r, &h);
}

KTEST(kjournal_replay_fail_at_stops_before_and_resumes)
{
	struct kho_diag diag = { "" };
	struct kho_replay r;
	struct kho_handoff h;
	struct kho_journal j;

	setup(&r, &h);
	journal_with_churn(&j);
	r.fail_at = 4;
	ASSERT_EQ(-EIO, kho_replay_kjournal(&r, &h, &j, 0, memfds, 1, &diag));
	ASSERT_STR_CONTAINS(diag.msg, "record 4 of 6");
	ASSERT_STR_CONTAINS(diag.msg, "injected failure before record 4");
	/* Record 4 never reached the kernel. */
	ASSERT_EQ(3, fake_calls);
	/* A retry resumes at the kernel's matched count (3). */
	r.fail_at = 0;
	ASSERT_EQ(0, kho_replay_kjournal(&r, &h, &j, 3, memfds, 1, &diag));
	ASSERT_EQ(6, fake_calls);
	kho_journal_free(&j);
	teardown(&r, &h);
}

KTEST(kjournal_replay_unmap_length_and_missing_memfd)
{
	struct kho_diag diag = { "" };
	struct kho_replay r;
	struct kho_handoff h;
	struct kho_journal j;

	setup(&r, &h);
	journal_with_churn(&j);
	fake_unmapped = 0x2000;
	ASSERT_EQ(-EBADMSG, kho_replay_kjournal(&r, &h, &j, 0, memfds, 1,
						&diag));
	ASSERT_STR_CONTAINS(diag.msg, "record 3 of 6");
	ASSERT_STR_CONTAINS(diag.msg, "diverged");
	kho_replay_release(&r);
	kho_replay_init(&r);
	r.iommufd = fake_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	fake_reset();
	ASSERT_EQ(-ENOENT, kho_replay_kjournal(&r, &h, &j, 0, NULL, 0, &diag));
	ASSERT_STR_CONTAINS(diag.msg, "record 2 of 6");
	ASSERT_STR_CONTAINS(diag.msg, "memfd token 7 was not retrieved");
	kho_journal_free(&j);
	teardown(&r, &h);
}

/* An unbind is a DESTROY of the device: the replay closes its cdev fd. */
KTEST(kjournal_replay_destroy_of_device_closes_it)
{
	struct kho_diag diag = { "" };
	struct kho_replay r;
	struct kho_handoff h;
	struct kho_journal j;
	struct kho_rec rec = { .op = KHO_OP_DESTROY };
	uint32_t id;
	int p[2];

	setup(&r, &h);
	ASSERT_EQ(0, pipe(p));
	r.dev = calloc(1, sizeof(*r.dev));
	r.dev[0].old_id = 5;
	r.dev[0].new_id = 9;
	r.dev[0].fd = p[0];
	r.nr_dev = 1;
	ASSERT_EQ(0, kho_idmap_add(&r.idmap, KHO_OBJ_DEVICE, 5, 9));
	kho_journal_init(&j);
	rec.destroy.id = 5;
	kho_journal_append(&j, &rec);
	ASSERT_EQ(0, kho_replay_kjournal(&r, &h, &j, 0, memfds, 1, &diag));
	ASSERT_EQ(0, fake_calls);
	ASSERT_EQ(0, r.nr_dev);
	ASSERT_EQ(-ENOENT, kho_idmap_lookup(&r.idmap, 5, &id));
	ASSERT_EQ(-1, fcntl(p[0], F_GETFD));
	close(p[1]);
	kho_journal_free(&j);
	teardown(&r, &h);
}

KTEST(kjournal_ino_token_resolves_through_the_file_table)
{
	struct kho_kjournal_file files[] = { { 1041, 7 }, { 1042, 8 } };
	struct kho_handoff_iommufd io = { .present = true, .nr_files = 2,
					  .files = files };
	uint64_t token = 0;

	ASSERT_EQ(0, kho_replay_kjournal_ino_token(&io, 1042, &token));
	ASSERT_EQ(8, token);
	ASSERT_EQ(-ENOENT, kho_replay_kjournal_ino_token(&io, 99, &token));
}
