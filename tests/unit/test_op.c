// SPDX-License-Identifier: GPL-2.0
/*
 * The op table (lib/op.c): every row against the uapi structs and the
 * record layout, its ID fields remapped, and each op through copy,
 * release, the hand-off's pack and unpack, format and JSON.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <linux/iommufd.h>
#ifndef __counted_by
#define __counted_by(m)
#endif
#include <linux/vfio.h>

#include "ktest.h"
#include "handoff.h"
#include "handoff_format.h"
#include "journal.h"
#include "op.h"

#define offsetofend(T, m) (offsetof(T, m) + sizeof(((T *)0)->m))

/*
 * Written out here, apart from the table, from the kernel's IOCTL_OP()
 * lines (drivers/iommu/iommufd/main.c) and VFIO's minsz
 * (drivers/vfio/device_cdev.c): a row that names the wrong struct or
 * member fails against it.
 */
#define EXP(o, c, T, last) \
	{ o, c, sizeof(T), offsetofend(T, last) }

static const struct {
	uint32_t op;
	unsigned long cmd;
	uint32_t size, min;
} uapi[] = {
	EXP(KHO_OP_IOAS_ALLOC, IOMMU_IOAS_ALLOC, struct iommu_ioas_alloc,
	    out_ioas_id),
	EXP(KHO_OP_DESTROY, IOMMU_DESTROY, struct iommu_destroy, id),
	EXP(KHO_OP_IOAS_ALLOW_IOVAS, IOMMU_IOAS_ALLOW_IOVAS,
	    struct iommu_ioas_allow_iovas, allowed_iovas),
	EXP(KHO_OP_IOAS_MAP, IOMMU_IOAS_MAP, struct iommu_ioas_map, iova),
	EXP(KHO_OP_IOAS_MAP_FILE, IOMMU_IOAS_MAP_FILE,
	    struct iommu_ioas_map_file, iova),
	EXP(KHO_OP_IOAS_COPY, IOMMU_IOAS_COPY, struct iommu_ioas_copy,
	    src_iova),
	EXP(KHO_OP_IOAS_UNMAP, IOMMU_IOAS_UNMAP, struct iommu_ioas_unmap,
	    length),
	EXP(KHO_OP_OPTION, IOMMU_OPTION, struct iommu_option, val64),
	EXP(KHO_OP_HWPT_ALLOC, IOMMU_HWPT_ALLOC, struct iommu_hwpt_alloc,
	    __reserved),
	EXP(KHO_OP_HWPT_SET_DIRTY_TRACKING, IOMMU_HWPT_SET_DIRTY_TRACKING,
	    struct iommu_hwpt_set_dirty_tracking, __reserved),
	EXP(KHO_OP_DEVICE_BIND, VFIO_DEVICE_BIND_IOMMUFD,
	    struct vfio_device_bind_iommufd, out_devid),
	EXP(KHO_OP_DEVICE_ATTACH, VFIO_DEVICE_ATTACH_IOMMUFD_PT,
	    struct vfio_device_attach_iommufd_pt, pt_id),
	EXP(KHO_OP_DEVICE_DETACH, VFIO_DEVICE_DETACH_IOMMUFD_PT,
	    struct vfio_device_detach_iommufd_pt, flags),
	EXP(KHO_OP_VIOMMU_ALLOC, IOMMU_VIOMMU_ALLOC,
	    struct iommu_viommu_alloc, out_viommu_id),
	EXP(KHO_OP_VDEVICE_ALLOC, IOMMU_VDEVICE_ALLOC,
	    struct iommu_vdevice_alloc, virt_id),
	{ KHO_OP_REPLAY_MAPPINGS, 0, 0, 0 },	/* a plan step, no ioctl */
	/* no ioctl the recorder may take for it: a VMM's VFIO_DEVICE_FEATURE
	 * is not journalled */
	{ KHO_OP_DEVICE_MIG_STATE, 0, 0, 0 },
};

/* Cells a field takes in the packed record (docs/format.md). */
static uint32_t field_cells(const struct kho_op_field *f)
{
	if (f->kind == KHO_FIELD_PCI)
		return 5;
	if (f->kind == KHO_FIELD_UUID)
		return 4;
	if (f->kind == KHO_FIELD_INLINE)
		return 1;
	return f->size == 8 ? 2 : 1;
}

KTEST(op_every_row_matches_its_uapi_struct)
{
	size_t i;

	ASSERT_EQ(KHO_OP_MAX, sizeof(uapi) / sizeof(uapi[0]));
	ASSERT_TRUE(kho_op_get(0) == NULL);
	ASSERT_TRUE(kho_op_get(KHO_OP_MAX + 1) == NULL);
	for (i = 0; i < sizeof(uapi) / sizeof(uapi[0]); i++) {
		const struct kho_op_desc *d = kho_op_get(uapi[i].op);

		ASSERT_TRUE(d != NULL);
		ASSERT_EQ(uapi[i].cmd, d->cmd);
		ASSERT_EQ(uapi[i].size, d->size);
		ASSERT_EQ(uapi[i].min, d->min_size);
		ASSERT_TRUE(d->min_size <= d->size);
		if (d->cmd)
			ASSERT_TRUE(kho_op_by_cmd(d->cmd) == d);
		ASSERT_TRUE(strcmp(kho_op_name(uapi[i].op), d->name) == 0);
	}
	ASSERT_TRUE(kho_op_by_cmd(IOMMU_IOAS_IOVA_RANGES) == NULL);
	ASSERT_TRUE(kho_op_by_cmd(VFIO_DEVICE_FEATURE) == NULL);
	/* the arcs come last in a plan, after the device's bind and attach */
	ASSERT_EQ(KHO_PHASE_DEVICE_STATE,
		  kho_op_phase(KHO_OP_DEVICE_MIG_STATE));
	ASSERT_TRUE(KHO_PHASE_DEVICE_STATE > KHO_PHASE_DEVICES);
	ASSERT_TRUE(kho_op_by_cmd(0) == NULL);
	ASSERT_EQ(KHO_PHASE_NONE, kho_op_phase(99));
}

/*
 * Fields lie inside the record, in struct order without overlap; what is
 * marked an ID is a u32; the inline count and pointer are where the row's
 * inline descriptor says; and the packed record fits its cells.
 */
KTEST(op_every_row_describes_its_record)
{
	uint32_t op, i;

	for (op = 1; op <= KHO_OP_MAX; op++) {
		const struct kho_op_desc *d = kho_op_get(op);
		uint32_t cells = 1, end = offsetof(struct kho_rec, ioas_alloc);
		uint32_t counts = 0, ptrs = 0;

		ASSERT_TRUE(d->nr_fields <= KHO_OP_FIELDS_MAX);
		for (i = 0; i < d->nr_fields; i++) {
			const struct kho_op_field *f = &d->fields[i];

			ASSERT_TRUE(f->name && f->name[0]);
			ASSERT_TRUE(f->offset >= end);
			end = f->offset + f->size;
			ASSERT_TRUE(end <= sizeof(struct kho_rec));
			cells += field_cells(f);
			if (f->kind == KHO_FIELD_ID_IN ||
			    f->kind == KHO_FIELD_ID_OUT ||
			    f->kind == KHO_FIELD_FLAGS ||
			    f->kind == KHO_FIELD_COUNT ||
			    f->kind == KHO_FIELD_MIG_STATE)
				ASSERT_EQ(4, f->size);
			if (f->kind == KHO_FIELD_IOVA ||
			    f->kind == KHO_FIELD_LENGTH ||
			    f->kind == KHO_FIELD_OFFSET ||
			    f->kind == KHO_FIELD_TOKEN)
				ASSERT_EQ(8, f->size);
			if (f->kind == KHO_FIELD_COUNT) {
				ASSERT_EQ(d->inl.count, f->offset);
				counts++;
			}
			if (f->kind == KHO_FIELD_INLINE) {
				ASSERT_EQ(d->inl.ptr, f->offset);
				ptrs++;
			}
		}
		ASSERT_EQ(d->inl.kind != KHO_INLINE_NONE, counts);
		ASSERT_EQ(counts, ptrs);
		ASSERT_TRUE(cells <= KHO_RECORD_CELLS);
		/* a plan step or a teardown never gets a phase by accident */
		if (d->phase != KHO_PHASE_NONE)
			ASSERT_TRUE(op != KHO_OP_DESTROY &&
				    op != KHO_OP_IOAS_UNMAP &&
				    op != KHO_OP_IOAS_COPY &&
				    op != KHO_OP_DEVICE_DETACH &&
				    op != KHO_OP_IOAS_MAP);
	}
}

#define ID(m) offsetof(struct kho_rec, m)

/*
 * Which fields name objects, written out here from struct kho_rec apart
 * from the table: the IDs each op takes, and the one it hands out.  A
 * row that forgets an ID (so that replay or adoption would keep an old
 * one) or marks an input as an output fails against it.
 */
static const struct {
	uint32_t op;
	size_t in[3];
	size_t out;
} ids[] = {
	{ KHO_OP_IOAS_ALLOC, { 0 }, ID(ioas_alloc.out_ioas_id) },
	{ KHO_OP_DESTROY, { ID(destroy.id) }, 0 },
	{ KHO_OP_IOAS_ALLOW_IOVAS, { ID(allow_iovas.ioas_id) }, 0 },
	{ KHO_OP_IOAS_MAP, { ID(map.ioas_id) }, 0 },
	{ KHO_OP_IOAS_MAP_FILE, { ID(map.ioas_id) }, 0 },
	{ KHO_OP_IOAS_COPY, { ID(copy.dst_ioas_id), ID(copy.src_ioas_id) }, 0 },
	{ KHO_OP_IOAS_UNMAP, { ID(unmap.ioas_id) }, 0 },
	{ KHO_OP_OPTION, { ID(option.object_id) }, 0 },
	{ KHO_OP_HWPT_ALLOC, { ID(hwpt_alloc.dev_id), ID(hwpt_alloc.pt_id) },
	  ID(hwpt_alloc.out_hwpt_id) },
	{ KHO_OP_HWPT_SET_DIRTY_TRACKING, { ID(dirty_tracking.hwpt_id) }, 0 },
	{ KHO_OP_DEVICE_BIND, { 0 }, ID(bind.out_devid) },
	{ KHO_OP_DEVICE_ATTACH, { ID(attach.dev_id), ID(attach.pt_id) },
	  ID(attach.out_hwpt_id) },
	{ KHO_OP_DEVICE_DETACH, { ID(detach.dev_id) }, 0 },
	{ KHO_OP_VIOMMU_ALLOC, { 0 }, 0 },
	{ KHO_OP_VDEVICE_ALLOC, { 0 }, 0 },
	{ KHO_OP_REPLAY_MAPPINGS, { ID(replay_maps.ioas_id) }, 0 },
	{ KHO_OP_DEVICE_MIG_STATE, { ID(mig_state.dev_id) }, 0 },
};

KTEST(op_every_id_field_is_marked)
{
	size_t i, k;

	ASSERT_EQ(KHO_OP_MAX, sizeof(ids) / sizeof(ids[0]));
	for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		const struct kho_op_desc *d = kho_op_get(ids[i].op);
		size_t nr_in = 0, nr_out = 0, want_in = 0;
		uint32_t j;

		while (want_in < 3 && ids[i].in[want_in])
			want_in++;
		for (j = 0; j < d->nr_fields; j++) {
			const struct kho_op_field *f = &d->fields[j];

			if (f->kind == KHO_FIELD_ID_IN) {
				for (k = 0; k < want_in; k++)
					if (ids[i].in[k] == f->offset)
						break;
				if (k == want_in)
					printf("#   %s: %s is not an input ID\n",
					       d->name, f->name);
				ASSERT_TRUE(k < want_in);
				nr_in++;
			}
			if (f->kind == KHO_FIELD_ID_OUT) {
				ASSERT_EQ(ids[i].out, f->offset);
				nr_out++;
			}
		}
		if (nr_in != want_in)
			printf("#   %s: %zu input IDs, expected %zu\n", d->name,
			       nr_in, want_in);
		ASSERT_EQ(want_in, nr_in);
		ASSERT_EQ(ids[i].out ? 1 : 0, nr_out);
	}
}

static struct kho_iova_range ranges[3] = {
	{ 0x1000, 0x1fff }, { 0x100000, 0x1fffff }, { 1ull << 40, ~0ull }
};
static uint8_t bytes[5] = { 0xde, 0xad, 0xbe, 0xef, 0x01 };

/*
 * A record of @op whose fields hold distinct non-zero values (field i:
 * 0x100 * op + i + 1, u64 fields above 2^32), inline data borrowed.
 */
static void fill(struct kho_rec *r, uint32_t op)
{
	const struct kho_op_desc *d = kho_op_get(op);
	uint32_t i;

	memset(r, 0, sizeof(*r));
	r->op = op;
	for (i = 0; i < d->nr_fields; i++) {
		const struct kho_op_field *f = &d->fields[i];
		uint64_t v = 0x100 * op + i + 1;

		if (f->kind == KHO_FIELD_PCI) {
			memcpy((uint8_t *)r + f->offset,
			       &(struct kho_pci_id){ 0x1234, 0xab, 0x1d, 0x8086,
						     0x10fb },
			       sizeof(struct kho_pci_id));
			continue;
		}
		if (f->kind == KHO_FIELD_INLINE)
			continue;
		if (f->kind == KHO_FIELD_UUID) {
			memset((uint8_t *)r + f->offset, 0xa0 + op, 16);
			continue;
		}
		if (f->kind == KHO_FIELD_MIG_STATE)
			v %= 8;		/* a state the uapi names */
		if (f->size == 8)
			v |= 0x1234ull << 32;
		kho_op_field_set(r, f, v);
	}
	if (d->inl.kind != KHO_INLINE_NONE) {
		void *p = d->inl.kind == KHO_INLINE_RANGES ? (void *)ranges :
							      (void *)bytes;
		uint32_t n = d->inl.kind == KHO_INLINE_RANGES ? 3 : 5;

		memcpy((uint8_t *)r + d->inl.count, &n, sizeof(n));
		memcpy((uint8_t *)r + d->inl.ptr, &p, sizeof(p));
	}
}

static const void *inline_of(const struct kho_rec *r)
{
	const struct kho_op_desc *d = kho_op_get(r->op);
	const void *p = NULL;

	if (d && d->inl.kind != KHO_INLINE_NONE)
		memcpy(&p, (const uint8_t *)r + d->inl.ptr, sizeof(p));
	return p;
}

/* Equal field by field, inline data by content. */
static int rec_equal(const struct kho_rec *a, const struct kho_rec *b)
{
	const struct kho_op_desc *d = kho_op_get(a->op);
	size_t len = kho_rec_inline_len(a);
	uint32_t i;

	if (a->op != b->op || len != kho_rec_inline_len(b))
		return 0;
	for (i = 0; i < d->nr_fields; i++) {
		const struct kho_op_field *f = &d->fields[i];

		if ((f->kind == KHO_FIELD_PCI || f->kind == KHO_FIELD_UUID) &&
		    memcmp((const uint8_t *)a + f->offset,
			   (const uint8_t *)b + f->offset, f->size))
			return 0;
		if (kho_op_field_get(a, f) != kho_op_field_get(b, f))
			return 0;
	}
	return !len || !memcmp(inline_of(a), inline_of(b), len);
}

struct remap_log {
	uint32_t calls;
	uint32_t seen[KHO_OP_FIELDS_MAX];
	int fail_at;		/* 1-based call that fails, 0: none */
};

static int plus_1000(void *ctx, uint32_t old_id, uint32_t *new_id)
{
	struct remap_log *log = ctx;

	if (log->calls < KHO_OP_FIELDS_MAX)
		log->seen[log->calls] = old_id;
	if (++log->calls == (uint32_t)log->fail_at)
		return -ENOENT;
	*new_id = old_id + 1000;
	return 0;
}

/*
 * For each mask, exactly the fields of the matching kinds go through the
 * callback, each once, and change; every other field stays.  0 names no
 * object and is never passed; the callback's error stops the remap.
 */
KTEST(op_remap_rewrites_every_id_field_and_nothing_else)
{
	static const unsigned int masks[] = { KHO_OP_ID_IN, KHO_OP_ID_OUT,
					      KHO_OP_ID_IN | KHO_OP_ID_OUT };
	uint32_t op, i, m;

	for (op = 1; op <= KHO_OP_MAX; op++) {
		const struct kho_op_desc *d = kho_op_get(op);

		for (m = 0; m < 3; m++) {
			struct remap_log log = { 0 };
			struct kho_rec r, orig;
			uint32_t expect = 0;

			fill(&orig, op);
			r = orig;
			ASSERT_EQ(0, kho_rec_remap_ids(&r, masks[m], plus_1000,
						       &log));
			for (i = 0; i < d->nr_fields; i++) {
				const struct kho_op_field *f = &d->fields[i];
				int in = f->kind == KHO_FIELD_ID_IN &&
					 (masks[m] & KHO_OP_ID_IN);
				int out = f->kind == KHO_FIELD_ID_OUT &&
					  (masks[m] & KHO_OP_ID_OUT);
				uint64_t v = kho_op_field_get(&orig, f);

				if (in || out) {
					ASSERT_EQ(v, log.seen[expect]);
					ASSERT_EQ(v + 1000,
						  kho_op_field_get(&r, f));
					expect++;
				} else {
					ASSERT_EQ(v, kho_op_field_get(&r, f));
				}
			}
			ASSERT_EQ(expect, log.calls);
			ASSERT_TRUE(inline_of(&r) == inline_of(&orig));
		}
	}

	/* the kinds: ATTACH takes dev_id and pt_id, hands out out_hwpt_id */
	{
		struct kho_rec r = { .op = KHO_OP_DEVICE_ATTACH };
		struct remap_log log = { 0 };

		r.attach.dev_id = 1;
		r.attach.pt_id = 2;
		r.attach.out_hwpt_id = 0;	/* not known: stays 0 */
		ASSERT_EQ(0, kho_rec_remap_ids(&r, KHO_OP_ID_IN | KHO_OP_ID_OUT,
					       plus_1000, &log));
		ASSERT_EQ(2, log.calls);
		ASSERT_EQ(1001, r.attach.dev_id);
		ASSERT_EQ(1002, r.attach.pt_id);
		ASSERT_EQ(0, r.attach.out_hwpt_id);
	}
	/* the callback's error comes back; the first field is done */
	{
		struct kho_rec r = { .op = KHO_OP_HWPT_ALLOC };
		struct remap_log log = { .fail_at = 2 };

		r.hwpt_alloc.dev_id = 1;
		r.hwpt_alloc.pt_id = 2;
		ASSERT_EQ(-ENOENT, kho_rec_remap_ids(&r, KHO_OP_ID_IN,
						     plus_1000, &log));
		ASSERT_EQ(1001, r.hwpt_alloc.dev_id);
		ASSERT_EQ(2, r.hwpt_alloc.pt_id);
	}
	{
		struct kho_rec r = { .op = 99 };
		struct remap_log log = { 0 };

		ASSERT_EQ(-EBADMSG, kho_rec_remap_ids(&r, KHO_OP_ID_IN,
						      plus_1000, &log));
		r.op = KHO_OP_DESTROY;
		ASSERT_EQ(-EINVAL, kho_rec_remap_ids(&r, 0, plus_1000, &log));
		ASSERT_EQ(0, log.calls);
	}
}

/* Through an ID map, as adoption renames a plan: in and out, or -ENOENT. */
KTEST(op_remap_through_an_idmap)
{
	struct kho_rec r = { .op = KHO_OP_HWPT_ALLOC };
	struct kho_idmap m;

	kho_idmap_init(&m);
	ASSERT_EQ(0, kho_idmap_add(&m, KHO_OBJ_DEVICE, 3, 5));
	ASSERT_EQ(0, kho_idmap_add(&m, KHO_OBJ_IOAS, 1, 2));
	ASSERT_EQ(0, kho_idmap_add(&m, KHO_OBJ_HWPT, 4, 6));
	r.hwpt_alloc.dev_id = 3;
	r.hwpt_alloc.pt_id = 1;
	r.hwpt_alloc.out_hwpt_id = 4;
	ASSERT_EQ(0, kho_rec_remap_idmap(&r, KHO_OP_ID_IN | KHO_OP_ID_OUT, &m));
	ASSERT_EQ(5, r.hwpt_alloc.dev_id);
	ASSERT_EQ(2, r.hwpt_alloc.pt_id);
	ASSERT_EQ(6, r.hwpt_alloc.out_hwpt_id);
	r.op = KHO_OP_IOAS_ALLOC;
	r.ioas_alloc.out_ioas_id = 9;
	ASSERT_EQ(-ENOENT, kho_rec_remap_idmap(&r, KHO_OP_ID_OUT, &m));
	kho_idmap_free(&m);
}

/* Copy owns its inline data; release frees it and leaves NULL. */
KTEST(op_copy_and_release_every_op)
{
	uint32_t op;

	for (op = 1; op <= KHO_OP_MAX; op++) {
		struct kho_rec r, c;

		fill(&r, op);
		ASSERT_EQ(0, kho_rec_copy(&c, &r));
		ASSERT_TRUE(rec_equal(&r, &c));
		if (kho_rec_inline_len(&r))
			ASSERT_TRUE(inline_of(&c) != inline_of(&r));
		kho_rec_release(&c);
		ASSERT_TRUE(inline_of(&c) == NULL);
	}
}

/*
 * One record of every op through the hand-off's pack and unpack: what
 * comes back is what went in.  REPLAY_MAPPINGS needs a slice of a real
 * IOAS, so the state has one with two mappings.
 */
KTEST(op_pack_unpack_round_trip_every_op)
{
	struct kho_mapping maps[2] = {
		{ 0, 0x1000, 0, 7, 6 }, { 0x1000, 0x1000, 0x1000, 7, 6 },
	};
	struct kho_memfd memfd = { .token = 7, .size = 1 << 20, .name = "m" };
	struct kho_ioas ioas = { .id = 1, .huge_pages = -1, .nr_maps = 2,
				 .cap_maps = 2, .maps = maps };
	struct kho_diag diag = { "" };
	struct kho_handoff h, back;
	void *blob;
	size_t len, i;
	uint32_t op;
	int err;

	kho_handoff_init(&h);
	h.format_version = KHO_FORMAT_VERSION;
	h.min_reader_version = 1;
	h.state.nr_memfd = 1;
	h.state.memfd = &memfd;
	h.state.nr_ioas = 1;
	h.state.ioas = &ioas;
	for (op = 1; op <= KHO_OP_MAX; op++) {
		struct kho_rec r;

		/*
		 * Valid only as the arcs of a device-state node (lib/migrec.h):
		 * test_handoff.c's capture_add_devstate_carries_the_memfd
		 * round-trips them.
		 */
		if (op == KHO_OP_DEVICE_MIG_STATE)
			continue;
		fill(&r, op);
		if (op == KHO_OP_REPLAY_MAPPINGS)
			r.replay_maps = (typeof(r.replay_maps)){ 1, 0, 2 };
		ASSERT_EQ(0, kho_journal_append(&h.replay, &r));
	}
	ASSERT_EQ(0, kho_handoff_encode(&h, &blob, &len));
	err = kho_handoff_decode(blob, len, &back, &diag);
	if (err)
		printf("#   %s\n", diag.msg);
	ASSERT_EQ(0, err);
	ASSERT_EQ(h.replay.nr, back.replay.nr);
	for (i = 0; i < h.replay.nr; i++) {
		if (!rec_equal(&h.replay.recs[i], &back.replay.recs[i]))
			printf("#   %s differs\n",
			       kho_op_name(h.replay.recs[i].op));
		ASSERT_TRUE(rec_equal(&h.replay.recs[i], &back.replay.recs[i]));
	}
	free(blob);
	kho_handoff_free(&back);
	kho_journal_free(&h.replay);
}

/*
 * The line and the JSON of one record of every op, as they read before
 * the table (journal.c's switches), so that a template or field kind that
 * changes what a person or a script reads fails here.
 */
static const struct {
	const char *line;
	const char *json;
} golden[KHO_OP_MAX + 1] = {
	[KHO_OP_IOAS_ALLOC] = {
		"IOAS_ALLOC -> IOAS 258",
		"{\"op\": \"IOAS_ALLOC\", \"flags\": 257, \"out_ioas_id\": 258}" },
	[KHO_OP_DESTROY] = {
		"DESTROY 513",
		"{\"op\": \"DESTROY\", \"id\": 513}" },
	[KHO_OP_IOAS_ALLOW_IOVAS] = {
		"IOAS_ALLOW_IOVAS IOAS 769: 0x1000-0x1fff 0x100000-0x1fffff 0x10000000000-0xffffffffffffffff",
		"{\"op\": \"IOAS_ALLOW_IOVAS\", \"ioas_id\": 769, \"iovas\": [{\"start\": \"0x1000\", \"last\": \"0x1fff\"}, {\"start\": \"0x100000\", \"last\": \"0x1fffff\"}, {\"start\": \"0x10000000000\", \"last\": \"0xffffffffffffffff\"}]}" },
	[KHO_OP_IOAS_MAP] = {
		"IOAS_MAP IOAS 1026 0x123400000406+0x123400000405 <- memfd token 20014547600387 offset 0x123400000404 flags 0x401",
		"{\"op\": \"IOAS_MAP\", \"flags\": 1025, \"ioas_id\": 1026, \"memfd_token\": \"0x123400000403\", \"offset\": \"0x123400000404\", \"length\": \"0x123400000405\", \"iova\": \"0x123400000406\"}" },
	[KHO_OP_IOAS_MAP_FILE] = {
		"IOAS_MAP_FILE IOAS 1282 0x123400000506+0x123400000505 <- memfd token 20014547600643 offset 0x123400000504 flags 0x501",
		"{\"op\": \"IOAS_MAP_FILE\", \"flags\": 1281, \"ioas_id\": 1282, \"memfd_token\": \"0x123400000503\", \"offset\": \"0x123400000504\", \"length\": \"0x123400000505\", \"iova\": \"0x123400000506\"}" },
	[KHO_OP_IOAS_COPY] = {
		"IOAS_COPY IOAS 1539 0x123400000606 -> IOAS 1538 0x123400000605 length 0x123400000604 flags 0x601",
		"{\"op\": \"IOAS_COPY\", \"flags\": 1537, \"dst_ioas_id\": 1538, \"src_ioas_id\": 1539, \"length\": \"0x123400000604\", \"dst_iova\": \"0x123400000605\", \"src_iova\": \"0x123400000606\"}" },
	[KHO_OP_IOAS_UNMAP] = {
		"IOAS_UNMAP IOAS 1793 0x123400000702+0x123400000703 (unmapped 0x123400000704)",
		"{\"op\": \"IOAS_UNMAP\", \"ioas_id\": 1793, \"iova\": \"0x123400000702\", \"length\": \"0x123400000703\", \"out_length\": \"0x123400000704\"}" },
	[KHO_OP_OPTION] = {
		"OPTION 2049 op 2050 object 2051 = 20014547601412",
		"{\"op\": \"OPTION\", \"option_id\": 2049, \"option_op\": 2050, \"object_id\": 2051, \"val64\": \"0x123400000804\"}" },
	[KHO_OP_HWPT_ALLOC] = {
		"HWPT_ALLOC device 2306 pt 2307 flags 0x901 data 2309/5 bytes -> HWPT 2308",
		"{\"op\": \"HWPT_ALLOC\", \"flags\": 2305, \"dev_id\": 2306, \"pt_id\": 2307, \"out_hwpt_id\": 2308, \"data_type\": 2309, \"data\": \"deadbeef01\", \"fault_id\": 2312}" },
	[KHO_OP_HWPT_SET_DIRTY_TRACKING] = {
		"HWPT_SET_DIRTY_TRACKING HWPT 2562 enable",
		"{\"op\": \"HWPT_SET_DIRTY_TRACKING\", \"flags\": 2561, \"hwpt_id\": 2562}" },
	[KHO_OP_DEVICE_BIND] = {
		"DEVICE_BIND_IOMMUFD 1234:ab:03.5 [8086:10fb] mdev abababab-abab-abab-abab-abababababab -> device 2819",
		"{\"op\": \"DEVICE_BIND_IOMMUFD\", \"pci\": \"1234:ab:03.5\", \"vendor\": \"8086\", \"device\": \"10fb\", \"flags\": 2818, \"out_devid\": 2819, \"mdev\": \"abababab-abab-abab-abab-abababababab\"}" },
	[KHO_OP_DEVICE_ATTACH] = {
		"DEVICE_ATTACH_IOMMUFD_PT device 3073 to pt 3076 -> HWPT 3077",
		"{\"op\": \"DEVICE_ATTACH_IOMMUFD_PT\", \"dev_id\": 3073, \"flags\": 3074, \"pasid\": 3075, \"pt_id\": 3076, \"out_hwpt_id\": 3077}" },
	[KHO_OP_DEVICE_DETACH] = {
		"DEVICE_DETACH_IOMMUFD_PT device 3329",
		"{\"op\": \"DEVICE_DETACH_IOMMUFD_PT\", \"dev_id\": 3329, \"flags\": 3330, \"pasid\": 3331}" },
	[KHO_OP_VIOMMU_ALLOC] = {
		"VIOMMU_ALLOC",
		"{\"op\": \"VIOMMU_ALLOC\"}" },
	[KHO_OP_VDEVICE_ALLOC] = {
		"VDEVICE_ALLOC",
		"{\"op\": \"VDEVICE_ALLOC\"}" },
	[KHO_OP_REPLAY_MAPPINGS] = {
		"REPLAY_MAPPINGS IOAS 4097 mappings [4098, 8197)",
		"{\"op\": \"REPLAY_MAPPINGS\", \"ioas_id\": 4097, \"first\": 4098, \"count\": 4099}" },
	[KHO_OP_DEVICE_MIG_STATE] = {
		"DEVICE_MIG_STATE dev 4353 RUNNING -> STOP_COPY, 0x123400001104 bytes, memfd token 20014547603717",
		"{\"op\": \"DEVICE_MIG_STATE\", \"dev_id\": 4353, \"from\": \"RUNNING\", \"to\": \"STOP_COPY\", \"length\": \"0x123400001104\", \"memfd_token\": \"0x123400001105\", \"crc32\": 4358}" },
};

KTEST(op_format_and_json_every_op)
{
	char line[512], *out = NULL;
	size_t len = 0;
	uint32_t op;
	FILE *f;

	for (op = 1; op <= KHO_OP_MAX; op++) {
		struct kho_rec r;

		fill(&r, op);
		ASSERT_EQ(0, kho_rec_format(&r, line, sizeof(line)));
		if (strcmp(line, golden[op].line))
			printf("#   got \"%s\"\n", line);
		ASSERT_TRUE(strcmp(line, golden[op].line) == 0);
		f = open_memstream(&out, &len);
		ASSERT_EQ(0, kho_rec_print_json(&r, f));
		fclose(f);
		if (strcmp(out, golden[op].json))
			printf("#   got %s\n", out);
		ASSERT_TRUE(strcmp(out, golden[op].json) == 0);
		free(out);
		out = NULL;
	}
	/* the other branch of a template's choice, and of the range list */
	{
		struct kho_rec r = { .op = KHO_OP_HWPT_SET_DIRTY_TRACKING };

		ASSERT_EQ(0, kho_rec_format(&r, line, sizeof(line)));
		ASSERT_TRUE(strcmp(line, "HWPT_SET_DIRTY_TRACKING HWPT 0 disable") == 0);
		r.op = KHO_OP_IOAS_ALLOW_IOVAS;
		ASSERT_EQ(0, kho_rec_format(&r, line, sizeof(line)));
		ASSERT_TRUE(strcmp(line, "IOAS_ALLOW_IOVAS IOAS 0: (any)") == 0);
		r.op = 99;
		ASSERT_EQ(0, kho_rec_format(&r, line, sizeof(line)));
		ASSERT_TRUE(strcmp(line, "op#99") == 0);
	}
	/* every length short of the line: -ENOSPC, terminated */
	{
		struct kho_rec r;
		size_t n, full;

		fill(&r, KHO_OP_IOAS_ALLOW_IOVAS);
		full = strlen(golden[KHO_OP_IOAS_ALLOW_IOVAS].line);
		for (n = 1; n <= full; n++) {
			ASSERT_EQ(-ENOSPC, kho_rec_format(&r, line, n));
			ASSERT_EQ(n - 1, strlen(line));
		}
	}
}
