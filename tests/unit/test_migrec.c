// SPDX-License-Identifier: GPL-2.0
/*
 * A device's DEVICE_MIG_STATE records (lib/migrec.c): the arcs a save
 * appends, the rules the writer and the reader hold them to against the
 * device-state node, and what compaction and the kernel-journal
 * comparison do with them.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "compat.h"
#include <linux/vfio.h>

#include "compact.h"
#include "handoff.h"
#include "journal.h"
#include "kjournal.h"
#include "ktest.h"
#include "migrec.h"
#include "state.h"

/*
 * One device (id 3) carrying 60 bytes in memfd token 9, saved RUNNING ->
 * PRE_COPY -> PRE_COPY_P2P -> STOP_COPY as mtty does, 24 of them in
 * PRE_COPY; bound and attached to IOAS 1 by the plan, its arcs last.
 */
static void carried(struct kho_handoff *h)
{
	static struct kho_memfd memfd = { .token = 9, .size = 60,
					  .name = "kho-devstate:test" };
	struct kho_device *d;
	struct kho_rec r;

	kho_handoff_init(h);
	h->format_version = h->min_reader_version = KHO_FORMAT_VERSION_MIG_OP;
	snprintf(h->tool_version, sizeof(h->tool_version), "test");
	snprintf(h->kernel_release, sizeof(h->kernel_release), "7.2.13");
	h->state.nr_memfd = 1;
	h->state.memfd = &memfd;
	h->state.nr_dev = 1;
	h->state.dev = d = calloc(1, sizeof(*d));
	d->id = 3;
	d->pci = (struct kho_pci_id){ 0, 0, 0x18, 0x1234, 0x11e8 };
	snprintf(d->driver, sizeof(d->driver), "vfio-pci");
	d->migration_probed = true;
	d->migration_flags = VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_P2P |
			     VFIO_MIGRATION_PRE_COPY;
	d->saved = (struct kho_device_state){
		.present = true, .memfd_token = 9, .length = 60,
		.flags = d->migration_flags, .crc32 = 0x1c291ca3,
		.nr_path = 4,
		.path = { VFIO_DEVICE_STATE_RUNNING,
			  VFIO_DEVICE_STATE_PRE_COPY,
			  VFIO_DEVICE_STATE_PRE_COPY_P2P,
			  VFIO_DEVICE_STATE_STOP_COPY },
	};
	memset(&r, 0, sizeof(r));
	r.op = KHO_OP_DEVICE_BIND;
	r.bind.pci = d->pci;
	r.bind.out_devid = 3;
	kho_journal_append(&h->replay, &r);
	kho_migrec_append(&h->replay, 3, &d->saved, 24);
}

static void carried_free(struct kho_handoff *h)
{
	free(h->state.dev);
	kho_journal_free(&h->replay);
}

KTEST(migrec_append_one_record_per_arc)
{
	static const char *const lines[] = {
		"DEVICE_MIG_STATE dev 3 RUNNING -> PRE_COPY, 0x18 bytes, memfd token 9",
		"DEVICE_MIG_STATE dev 3 PRE_COPY -> PRE_COPY_P2P, 0x18 bytes, memfd token 9",
		"DEVICE_MIG_STATE dev 3 PRE_COPY_P2P -> STOP_COPY, 0x3c bytes, memfd token 9",
	};
	struct kho_device_state bad;
	struct kho_handoff h;
	char line[160];
	size_t i, nr;

	carried(&h);
	ASSERT_EQ(4, h.replay.nr);
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, kho_rec_format(&h.replay.recs[i + 1], line,
					    sizeof(line)));
		ASSERT_STR_CONTAINS(line, lines[i]);
		ASSERT_EQ(0x1c291ca3, h.replay.recs[i + 1].mig_state.crc32);
	}
	ASSERT_TRUE(kho_migrec_find(&h.replay, 3, &nr) == &h.replay.recs[3]);
	ASSERT_EQ(3, nr);
	ASSERT_TRUE(kho_migrec_find(&h.replay, 4, &nr) == NULL);
	ASSERT_EQ(0, nr);
	ASSERT_EQ(0, kho_migrec_check(&h, NULL));
	/* a path of one state is no arc; PRE_COPY cannot read more than all */
	bad = h.state.dev[0].saved;
	bad.nr_path = 1;
	ASSERT_EQ(-EINVAL, kho_migrec_append(&h.replay, 3, &bad, 0));
	ASSERT_EQ(-EINVAL, kho_migrec_append(&h.replay, 3,
					     &h.state.dev[0].saved, 61));
	ASSERT_EQ(4, h.replay.nr);
	carried_free(&h);
}

/* Each rule, broken once: the writer refuses, the message names it. */
KTEST(migrec_check_refuses_records_the_node_does_not_say)
{
	static const struct {
		const char *what;
		size_t rec;		/* 1..3: the arcs */
		int field;		/* 0 from, 1 to, 2 token, 3 crc, 4 length, 5 device */
		uint64_t v;
	} cases[] = {
		{ "is not arc 0 of its fsm-path", 1, 0, VFIO_DEVICE_STATE_STOP },
		{ "is not arc 1 of its fsm-path", 2, 1, VFIO_DEVICE_STATE_STOP_COPY },
		{ "memfd token 8 crc32 0x1c291ca3, its device-state node says 9", 2, 2, 8 },
		{ "crc32 0x1c291ca2, its device-state node says 9 and 0x1c291ca3", 3, 3, 0x1c291ca2 },
		{ "length 23: not in 24..60", 2, 4, 23 },
		{ "length 61: not in 24..60", 3, 4, 61 },
		{ "3 DEVICE_MIG_STATE records ending at 59 bytes, its fsm-path has 3 arcs and 60 bytes", 3, 4, 59 },
		{ "device 4 has no device-state node", 1, 5, 4 },
	};
	struct kho_diag diag = { "" };
	struct kho_handoff h;
	void *blob = NULL;
	size_t i, len;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct kho_rec *r;

		carried(&h);
		r = &h.replay.recs[cases[i].rec];
		switch (cases[i].field) {
		case 0: r->mig_state.from = cases[i].v; break;
		case 1: r->mig_state.to = cases[i].v; break;
		case 2: r->mig_state.memfd_token = cases[i].v; break;
		case 3: r->mig_state.crc32 = cases[i].v; break;
		case 4: r->mig_state.length = cases[i].v; break;
		case 5: r->mig_state.dev_id = cases[i].v; break;
		}
		ASSERT_EQ(-EBADMSG, kho_migrec_check(&h, &diag));
		if (!strstr(diag.msg, cases[i].what))
			printf("#   case %zu: %s\n", i, diag.msg);
		ASSERT_STR_CONTAINS(diag.msg, cases[i].what);
		ASSERT_EQ(-EINVAL, kho_handoff_encode(&h, &blob, &len));
		carried_free(&h);
	}
	/* an arc left out */
	carried(&h);
	h.replay.nr--;
	ASSERT_EQ(-EBADMSG, kho_migrec_check(&h, &diag));
	ASSERT_STR_CONTAINS(diag.msg, "device 3: 2 DEVICE_MIG_STATE records ending at 24 bytes, its fsm-path has 3 arcs and 60 bytes");
	/* none at all: a hand-off of format 4 to 6 */
	h.replay.nr = 1;
	ASSERT_EQ(0, kho_migrec_check(&h, &diag));
	carried_free(&h);
	/* below format 7 an older reader would say "unknown op 17" */
	carried(&h);
	h.min_reader_version = KHO_FORMAT_VERSION_POISON;
	ASSERT_EQ(-EBADMSG, kho_migrec_check(&h, &diag));
	ASSERT_STR_CONTAINS(diag.msg, "record 1 (DEVICE_MIG_STATE): min-reader-version 6 lets a reader that does not know the op refuse it as unknown (needs 7)");
	ASSERT_EQ(-EINVAL, kho_handoff_encode(&h, &blob, &len));
	carried_free(&h);
}

/* Through the blob: written at format 7, read back the same. */
KTEST(migrec_round_trip_through_the_handoff)
{
	struct kho_diag diag = { "" };
	struct kho_handoff h, back;
	void *blob;
	size_t len, i;
	int err;

	carried(&h);
	ASSERT_EQ(0, kho_handoff_encode(&h, &blob, &len));
	err = kho_handoff_decode(blob, len, &back, &diag);
	if (err)
		printf("#   %s\n", diag.msg);
	ASSERT_EQ(0, err);
	ASSERT_EQ(KHO_FORMAT_VERSION_MIG_OP, back.min_reader_version);
	ASSERT_EQ(h.replay.nr, back.replay.nr);
	for (i = 1; i < h.replay.nr; i++)
		ASSERT_EQ(0, memcmp(&h.replay.recs[i].mig_state,
				    &back.replay.recs[i].mig_state,
				    sizeof(h.replay.recs[i].mig_state)));
	free(blob);
	kho_handoff_free(&back);
	carried_free(&h);
}

/*
 * Compaction: no iommufd ioctl, so expanding the plan drops them (the
 * journal an adopted recorder starts from never holds them); the plan
 * compacted again keeps them, last, as the hand-off had them.
 */
KTEST(migrec_compaction_keeps_them_last)
{
	struct kho_diag diag = { "" };
	struct kho_journal expanded, plan;
	struct kho_state folded;
	struct kho_handoff h;
	size_t nr_expanded, i;
	int err;

	carried(&h);
	ASSERT_EQ(0, kho_plan_expand(&h.replay, &h.state, &expanded, &diag));
	ASSERT_EQ(1, expanded.nr);
	ASSERT_EQ(KHO_OP_DEVICE_BIND, expanded.recs[0].op);
	ASSERT_EQ(1, kho_plan_ioctls(&h.replay));
	kho_journal_free(&expanded);
	err = kho_compact_handoff(&h, &folded, &plan, &nr_expanded, &diag);
	if (err)
		printf("#   %s\n", diag.msg);
	ASSERT_EQ(0, err);
	ASSERT_EQ(1, nr_expanded);
	ASSERT_EQ(4, plan.nr);
	for (i = 1; i < 4; i++)
		ASSERT_EQ(0, memcmp(&h.replay.recs[i], &plan.recs[i],
				    sizeof(plan.recs[i])));
	kho_journal_free(&plan);
	kho_state_free(&folded);
	carried_free(&h);
}

/* The state: a device's own, not the iommufd's; it must be bound. */
KTEST(migrec_state_rule)
{
	struct kho_diag diag = { "" };
	struct kho_handoff h;
	struct kho_state s;

	carried(&h);
	kho_state_init(&s);
	ASSERT_EQ(-ENOENT, kho_state_apply(&s, &h.replay.recs[1], &diag));
	ASSERT_STR_CONTAINS(diag.msg, "DEVICE_MIG_STATE: device 3: ENOENT (not bound)");
	ASSERT_EQ(0, kho_state_apply(&s, &h.replay.recs[0], &diag));
	ASSERT_EQ(0, kho_state_apply(&s, &h.replay.recs[1], &diag));
	ASSERT_EQ(1, s.nr_dev);
	ASSERT_TRUE(!s.dev[0].saved.present);
	kho_state_free(&s);
	carried_free(&h);
}

/*
 * A kernel's journal (patches/) never has them: a recorder's journal with
 * them compares equal to it, and a difference is numbered as the kernel's.
 */
KTEST(migrec_kernel_journal_comparison_leaves_them_out)
{
	struct kho_diag diag = { "" };
	struct kho_journal kernel;
	struct kho_handoff h;

	carried(&h);
	kho_journal_init(&kernel);
	ASSERT_EQ(0, kho_journal_append(&kernel, &h.replay.recs[0]));
	ASSERT_EQ(0, kho_kjournal_compare(&kernel, &h.replay, &diag));
	kernel.recs[0].bind.out_devid = 4;
	ASSERT_EQ(-EILSEQ, kho_kjournal_compare(&kernel, &h.replay, &diag));
	ASSERT_STR_CONTAINS(diag.msg, "record 0 differs");
	kernel.recs[0].bind.out_devid = 3;
	ASSERT_EQ(0, kho_journal_append(&kernel, &h.replay.recs[0]));
	ASSERT_EQ(-EILSEQ, kho_kjournal_compare(&kernel, &h.replay, &diag));
	ASSERT_STR_CONTAINS(diag.msg, "the recorder stops at 1 records");
	kho_journal_free(&kernel);
	carried_free(&h);
}
