// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of lib/verify.c that need no iommufd: the allow-list rules
 * against the usable ranges IOMMU_IOAS_IOVA_RANGES reports, the model of
 * the kernel's automatic IOVA allocation that the allow-list probe is
 * checked against (drivers/iommu/iommufd/io_pagetable.c:120-181), and a
 * resumed device's final state against its DEVICE_MIG_STATE records,
 * through a fake of struct kho_devstate_ops.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include "compat.h"
#include <linux/vfio.h>

#include "handoff.h"
#include "journal.h"
#include "ktest.h"
#include "migrec.h"
#include "verify.h"

#define ALL { 0, UINT64_MAX }

/* An IOAS with no device: IOVA_RANGES reports the whole 64-bit space. */
KTEST(allowed_ranges_with_holes_pass_in_an_ioas_without_device)
{
	struct kho_iova_range allowed[] = { { 0x10000, 0x1ffff },
					    { 0x40000, 0x7ffff } };
	struct kho_iova_range usable[] = { ALL };
	struct kho_ioas ioas = { .id = 1, .nr_allowed = 2,
				 .allowed = allowed };
	struct kho_diag diag = { "" };

	ASSERT_EQ(0, kho_verify_allowed(&ioas, usable, 1, &diag));
}

/* VT-d's MSI window is reserved once a device is attached. */
KTEST(allowed_ranges_must_avoid_reserved_regions)
{
	struct kho_iova_range allowed[] = { { 0x100000, 0xfffffff },
					    { 0xfe000000, 0xfeffffff } };
	struct kho_iova_range usable[] = { { 0, 0xfedfffff },
					   { 0xfef00000, UINT64_MAX } };
	struct kho_ioas ioas = { .id = 3, .nr_allowed = 1,
				 .allowed = allowed };
	struct kho_diag diag = { "" };

	ASSERT_EQ(0, kho_verify_allowed(&ioas, usable, 2, &diag));
	ioas.nr_allowed = 2;
	ASSERT_EQ(-EBADMSG, kho_verify_allowed(&ioas, usable, 2, &diag));
	ASSERT_STR_CONTAINS(diag.msg,
			    "allowed range 0xfe000000-0xfeffffff meets a reserved region");
}

/* The first range is full: the allocator must cross the hole. */
KTEST(auto_iova_crosses_a_hole_between_allowed_ranges)
{
	struct kho_iova_range allowed[] = { { 0x40000, 0x7ffff },
					    { 0x10000, 0x1ffff } };
	struct kho_mapping maps[] = { { 0x10000, 0x10000, 0, 7, 3 },
				      { 0x40000, 0x4000, 0x10000, 7, 3 } };
	struct kho_iova_range usable[] = { ALL };
	struct kho_ioas ioas = { .id = 2, .nr_allowed = 2, .allowed = allowed,
				 .nr_maps = 2, .maps = maps };
	uint64_t iova = 0;

	ASSERT_EQ(0, kho_verify_auto_iova(&ioas, usable, 1, 4096, &iova));
	ASSERT_EQ(0x44000, iova);
	/* Without the allow list the kernel would answer PAGE_SIZE. */
	ioas.nr_allowed = 0;
	ASSERT_EQ(0, kho_verify_auto_iova(&ioas, usable, 1, 4096, &iova));
	ASSERT_EQ(0x1000, iova);
}

KTEST(auto_iova_skips_reserved_regions_and_mappings)
{
	struct kho_iova_range usable[] = { { 0, 0x1fff },
					   { 0x10000, UINT64_MAX } };
	struct kho_mapping maps[] = { { 0x1000, 0x1000, 0, 7, 3 },
				      { 0x10000, 0x3000, 0, 7, 3 } };
	struct kho_ioas ioas = { .id = 2, .nr_maps = 2, .maps = maps };
	uint64_t iova = 0;

	ASSERT_EQ(0, kho_verify_auto_iova(&ioas, usable, 2, 4096, &iova));
	ASSERT_EQ(0x13000, iova);
}

/* interval_tree_span_iter joins touching ranges into one span. */
KTEST(auto_iova_joins_touching_allowed_ranges)
{
	struct kho_iova_range allowed[] = { { 0x1000, 0x17ff },
					    { 0x1800, 0x1fff },
					    { 0x5000, 0x5fff } };
	struct kho_iova_range usable[] = { ALL };
	struct kho_ioas ioas = { .id = 2, .nr_allowed = 3,
				 .allowed = allowed };
	uint64_t iova = 0;

	ASSERT_EQ(0, kho_verify_auto_iova(&ioas, usable, 1, 4096, &iova));
	ASSERT_EQ(0x1000, iova);
	/* Unaligned and too small alone: the next whole page is 0x5000. */
	allowed[1] = (struct kho_iova_range){ 0x1900, 0x1fff };
	ASSERT_EQ(0, kho_verify_auto_iova(&ioas, usable, 1, 4096, &iova));
	ASSERT_EQ(0x5000, iova);
}

KTEST(auto_iova_full_or_clipped_ranges_leave_no_space)
{
	struct kho_iova_range allowed[] = { { 0x10000, 0x10fff },
					    { 0, 0xfff },
					    { UINT64_MAX - 0xfff, UINT64_MAX } };
	struct kho_mapping maps[] = { { 0x10000, 0x1000, 0, 7, 3 } };
	struct kho_iova_range usable[] = { ALL };
	struct kho_ioas ioas = { .id = 2, .nr_allowed = 3, .allowed = allowed,
				 .nr_maps = 1, .maps = maps };
	uint64_t iova = 0;

	ASSERT_EQ(-ENOSPC,
		  kho_verify_auto_iova(&ioas, usable, 1, 4096, &iova));
}

/* --- a resumed device's final state (kho_verify_devstate()) ------------- */

/* The kernel, as far as verification asks it: the FSM state GET. */
struct fake_dev {
	uint32_t state;		/* what GET reads */
	int get_err;		/* GET fails with it */
	int gets;
};

static int fake_dev_ioctl(void *ctx, int fd, unsigned long req, void *arg)
{
	struct vfio_device_feature *hdr = arg;
	struct vfio_device_feature_mig_state *mig = (void *)hdr->data;
	struct fake_dev *f = ctx;

	if (req != VFIO_DEVICE_FEATURE ||
	    hdr->flags != (VFIO_DEVICE_FEATURE_GET |
			   VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE) ||
	    hdr->argsz < sizeof(*hdr) + sizeof(*mig))
		return -EINVAL;
	f->gets++;
	if (f->get_err)
		return -f->get_err;
	mig->device_state = f->state;
	return 0;
}

static const struct kho_devstate_ops fake_dev_ops = {
	.ioctl = fake_dev_ioctl,
};

#define HELLO_CRC32 0x3610a686u	/* zlib crc32 of "hello" */

/* Device 3, carried: the hand-off, the device, its resume, the memfd. */
struct carried {
	struct kho_handoff h;
	struct kho_device dev;
	struct kho_devstate ds;
	struct fake_dev f;
	struct kho_diag diag;
	int memfd;
};

/*
 * Device 3 carried 5 bytes, "hello", saved RUNNING -> PRE_COPY ->
 * STOP_COPY (2 of them in PRE_COPY), its records in the plan; @c->ds as a
 * resume that wrote them all leaves it, the device reading RUNNING; the
 * memfd holds @data.
 */
static int carried(struct carried *c, const char *data)
{
	memset(c, 0, sizeof(*c));
	c->dev.id = 3;
	c->dev.migration_probed = true;
	c->dev.migration_flags = VFIO_MIGRATION_STOP_COPY |
				 VFIO_MIGRATION_PRE_COPY;
	c->dev.saved = (struct kho_device_state){
		.present = true, .memfd_token = 9, .length = 5,
		.flags = c->dev.migration_flags, .crc32 = HELLO_CRC32,
		.nr_path = 3,
		.path = { VFIO_DEVICE_STATE_RUNNING,
			  VFIO_DEVICE_STATE_PRE_COPY,
			  VFIO_DEVICE_STATE_STOP_COPY },
	};
	kho_handoff_init(&c->h);
	c->h.format_version = KHO_FORMAT_VERSION_MIG_OP;
	c->h.min_reader_version = KHO_FORMAT_VERSION_MIG_OP;
	c->h.state.nr_dev = 1;
	c->h.state.dev = &c->dev;
	if (kho_migrec_append(&c->h.replay, 3, &c->dev.saved, 2))
		return -1;
	c->f.state = VFIO_DEVICE_STATE_RUNNING;
	kho_devstate_init(&c->ds, 99, c->dev.migration_flags, &fake_dev_ops,
			  &c->f);
	c->ds.length = 5;
	c->ds.crc32 = HELLO_CRC32;
	c->memfd = kho_devstate_memfd("kho-devstate:test");
	if (c->memfd < 0 ||
	    write(c->memfd, data, strlen(data)) != (ssize_t)strlen(data))
		return -1;
	return 0;
}

static void carried_free(struct carried *c)
{
	kho_journal_free(&c->h.replay);
	close(c->memfd);
}

/* kho_verify_devstate() of device @id of @c. */
static int verify(struct carried *c, uint32_t id)
{
	return kho_verify_devstate(&c->h, id, &c->ds, c->memfd, &c->diag);
}

KTEST(verify_devstate_running_with_what_was_saved)
{
	struct carried c;

	ASSERT_EQ(0, carried(&c, "hello"));
	ASSERT_EQ(0, verify(&c, 3));
	ASSERT_EQ(1, c.f.gets);	/* read back, not taken from ds */
	/* A hand-off of format 4 to 6 has no record: the node says it. */
	c.h.replay.nr = 0;
	ASSERT_EQ(0, verify(&c, 3));
	carried_free(&c);
}

KTEST(verify_devstate_fails_when_not_running)
{
	struct carried c;

	ASSERT_EQ(0, carried(&c, "hello"));
	c.f.state = VFIO_DEVICE_STATE_STOP;
	ASSERT_EQ(-EILSEQ, verify(&c, 3));
	ASSERT_STR_CONTAINS(c.diag.msg, "verify: device 3: state: reads STOP, RUNNING expected");
	c.f.state = VFIO_DEVICE_STATE_RUNNING;
	c.f.get_err = EIO;
	ASSERT_EQ(-EIO, verify(&c, 3));
	ASSERT_STR_CONTAINS(c.diag.msg, "verify: device 3: state: VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE GET: EIO");
	carried_free(&c);
}

KTEST(verify_devstate_fails_on_bytes_written)
{
	struct carried c;

	ASSERT_EQ(0, carried(&c, "hello"));
	c.ds.length = 4;
	ASSERT_EQ(-EBADMSG, verify(&c, 3));
	ASSERT_STR_CONTAINS(c.diag.msg, "verify: device 3: bytes written: 4 with crc32 0x3610a686, the DEVICE_MIG_STATE record says 5");
	c.ds.length = 5;
	c.ds.crc32 = HELLO_CRC32 ^ 1;
	ASSERT_EQ(-EBADMSG, verify(&c, 3));
	ASSERT_STR_CONTAINS(c.diag.msg, "bytes written: 5 with crc32 0x3610a687");
	/* the record, not the node, is what the resume is held to */
	c.ds.crc32 = HELLO_CRC32;
	c.h.replay.recs[c.h.replay.nr - 1].mig_state.length = 6;
	ASSERT_EQ(-EBADMSG, verify(&c, 3));
	ASSERT_STR_CONTAINS(c.diag.msg, "the DEVICE_MIG_STATE record says 6");
	carried_free(&c);
}

KTEST(verify_devstate_fails_on_the_memfd)
{
	struct carried c;

	ASSERT_EQ(0, carried(&c, "hellp"));
	ASSERT_EQ(-EBADMSG, verify(&c, 3));
	ASSERT_STR_CONTAINS(c.diag.msg, "verify: device 3: memfd token 9: device state: memfd crc32");
	carried_free(&c);
	ASSERT_EQ(0, carried(&c, "hell"));
	ASSERT_EQ(-EBADMSG, verify(&c, 3));
	ASSERT_STR_CONTAINS(c.diag.msg, "memfd holds 4 bytes, the hand-off says 5");
	carried_free(&c);
}

KTEST(verify_devstate_fails_for_a_device_without_state)
{
	struct carried c;

	ASSERT_EQ(0, carried(&c, "hello"));
	ASSERT_EQ(-ENOENT, verify(&c, 4));
	ASSERT_STR_CONTAINS(c.diag.msg, "verify: device 4: state: the hand-off carries none");
	c.dev.saved.present = false;
	ASSERT_EQ(-ENOENT, verify(&c, 3));
	ASSERT_EQ(0, c.f.gets);
	carried_free(&c);
}
