// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer differential target for the state model and compaction: the
 * input drives a sequence of journal records through kho_state_apply(); the
 * records the model accepted are compacted with kho_compact(), and the plan,
 * expanded and replayed on a fresh model with new IDs, must rebuild exactly
 * the state the journal left.  Any disagreement abort()s.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/iommufd.h>

#include "compact.h"
#include "journal.h"
#include "state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PG KHO_MODEL_PAGE_SIZE

/* A byte source: an exhausted input reads as zeroes and ends the loop. */
struct src {
	const uint8_t *p;
	size_t left;
};

static uint8_t u8(struct src *s)
{
	if (!s->left)
		return 0;
	s->left--;
	return *s->p++;
}

static uint64_t raw64(struct src *s)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = v << 8 | u8(s);
	return v;
}

/*
 * A size or address: mostly small page multiples, where areas collide and
 * the model's interesting rules live; sometimes misaligned; rarely raw 64
 * bits or an edge value, for the overflow checks.
 */
static uint64_t num(struct src *s)
{
	uint8_t b = u8(s);

	if (b < 0xe0)
		return (uint64_t)(b & 0x3f) * PG + (b >= 0xc0 ? 0x800 : 0);
	switch (b & 0xf) {
	case 0:
		return UINT64_MAX;
	case 1:
		return UINT64_MAX - PG + 1;
	case 2:
		return 1ULL << 63;
	case 3:
		return 64ULL << 20;	/* a memfd's size */
	default:
		return raw64(s);
	}
}

/* An object ID: mostly a live one of the wanted kind, else any small one. */
static uint32_t any_id(const struct kho_state *st, struct src *s, int kind)
{
	uint8_t b = u8(s);
	size_t n;

	if (b >= 0xf0)
		return b & 0xf;
	n = kind == 0 ? st->nr_ioas : kind == 1 ? st->nr_hwpt :
	    kind == 2 ? st->nr_dev : st->nr_ioas + st->nr_hwpt + st->nr_dev;
	if (!n)
		return b & 0xf;
	b %= n;
	switch (kind) {
	case 0:
		return st->ioas[b].id;
	case 1:
		return st->hwpt[b].id;
	case 2:
		return st->dev[b].id;
	}
	if (b < st->nr_ioas)
		return st->ioas[b].id;
	b -= st->nr_ioas;
	if (b < st->nr_hwpt)
		return st->hwpt[b].id;
	return st->dev[b - st->nr_hwpt].id;
}

/* Flags: the bits a journal normally carries, rarely any 32 bits. */
static uint32_t flags(struct src *s, uint32_t usual)
{
	uint8_t b = u8(s);

	if (b == 0xff)
		return (uint32_t)raw64(s);
	return b & usual;
}

static void gen_rec(const struct kho_state *st, struct src *s,
		    struct kho_rec *r, struct kho_iova_range *ranges,
		    uint8_t *blob)
{
	uint32_t i;

	memset(r, 0, sizeof(*r));
	/* Offset by 3: a run of zero bytes maps rather than piling up IOASes. */
	switch ((u8(s) + 3) % 14) {
	case 0:
		r->op = KHO_OP_IOAS_ALLOC;
		r->ioas_alloc.flags = flags(s, 0);
		break;
	case 1:
		r->op = KHO_OP_DESTROY;
		r->destroy.id = any_id(st, s, 3);
		break;
	case 2:
		r->op = KHO_OP_IOAS_ALLOW_IOVAS;
		r->allow_iovas.ioas_id = any_id(st, s, 0);
		r->allow_iovas.num_iovas = u8(s) % 5;
		r->allow_iovas.iovas = ranges;
		for (i = 0; i < r->allow_iovas.num_iovas; i++) {
			ranges[i].start = num(s);
			ranges[i].last = ranges[i].start + num(s) - 1;
		}
		break;
	case 3:
	case 4:
		r->op = KHO_OP_IOAS_MAP_FILE;
		r->map.flags = flags(s, IOMMU_IOAS_MAP_FIXED_IOVA |
				     IOMMU_IOAS_MAP_READABLE |
				     IOMMU_IOAS_MAP_WRITEABLE) |
			       IOMMU_IOAS_MAP_FIXED_IOVA;
		r->map.ioas_id = any_id(st, s, 0);
		r->map.memfd_token = 1 + u8(s) % 5;	/* 4 is small, 5 unknown */
		r->map.offset = num(s);
		r->map.length = num(s);
		r->map.iova = num(s);
		break;
	case 5:
	case 6:
		r->op = KHO_OP_IOAS_UNMAP;
		r->unmap.ioas_id = any_id(st, s, 0);
		r->unmap.iova = num(s);
		r->unmap.length = num(s);
		break;
	case 7:
		r->op = KHO_OP_IOAS_COPY;
		r->copy.flags = flags(s, IOMMU_IOAS_MAP_FIXED_IOVA |
				      IOMMU_IOAS_MAP_READABLE |
				      IOMMU_IOAS_MAP_WRITEABLE);
		r->copy.src_ioas_id = any_id(st, s, 0);
		r->copy.dst_ioas_id = any_id(st, s, 0);
		r->copy.src_iova = num(s);
		r->copy.length = num(s);
		r->copy.dst_iova = num(s);
		break;
	case 8:
		r->op = KHO_OP_OPTION;
		r->option.option_id = u8(s) % 3;
		r->option.op = u8(s) % 3;
		r->option.object_id = any_id(st, s, 0);
		r->option.val64 = num(s) / PG;
		break;
	case 9:
		r->op = KHO_OP_DEVICE_BIND;
		r->bind.pci.bus = u8(s) % 4;
		r->bind.pci.devfn = u8(s) % 4;
		r->bind.pci.vendor = 0x1234;
		r->bind.pci.device = 0x11e8;
		r->bind.flags = flags(s, 0);
		break;
	case 10:
		r->op = KHO_OP_HWPT_ALLOC;
		r->hwpt_alloc.flags = flags(s, IOMMU_HWPT_ALLOC_NEST_PARENT |
					    IOMMU_HWPT_ALLOC_DIRTY_TRACKING);
		r->hwpt_alloc.dev_id = any_id(st, s, 2);
		if (u8(s) & 1) {
			r->hwpt_alloc.pt_id = any_id(st, s, 1);
			r->hwpt_alloc.data_type = u8(s) % 4;
			r->hwpt_alloc.data_len = u8(s) % 17;
			for (i = 0; i < r->hwpt_alloc.data_len; i++)
				blob[i] = u8(s);
			r->hwpt_alloc.data = r->hwpt_alloc.data_len ? blob : NULL;
		} else {
			r->hwpt_alloc.pt_id = any_id(st, s, 0);
		}
		break;
	case 11:
		r->op = KHO_OP_DEVICE_ATTACH;
		r->attach.dev_id = any_id(st, s, 2);
		r->attach.pt_id = any_id(st, s, u8(s) & 1 ? 1 : 0);
		r->attach.flags = flags(s, 0);
		break;
	case 12:
		r->op = KHO_OP_DEVICE_DETACH;
		r->detach.dev_id = any_id(st, s, 2);
		r->detach.flags = flags(s, 0);
		break;
	default:
		r->op = KHO_OP_HWPT_SET_DIRTY_TRACKING;
		r->dirty_tracking.hwpt_id = any_id(st, s, 1);
		r->dirty_tracking.flags = flags(s, 1);
		break;
	}
}

/*
 * old <-> new ID pairs, as the restore agent keeps them.  The model takes
 * any free ID the journal names, so old IDs are not bounded: a list, not
 * the unit test's table.
 */
struct idmap {
	uint32_t old[1024], new[1024];
	size_t nr;
};

static uint32_t tr(const struct idmap *m, uint32_t id)
{
	size_t i;

	for (i = m->nr; i-- > 0;)
		if (m->old[i] == id)
			return m->new[i];
	return id;
}

static int tr_cb(void *m, uint32_t id, uint32_t *new_id)
{
	*new_id = tr(m, id);
	return 0;
}

static uint32_t tr_back(const struct idmap *m, uint32_t id)
{
	size_t i;

	if (!id)
		return 0;
	for (i = m->nr; i-- > 0;)
		if (m->new[i] == id)
			return m->old[i];
	return id;
}

static bool known(const struct idmap *m, uint32_t old)
{
	size_t i;

	for (i = 0; i < m->nr; i++)
		if (m->old[i] == old)
			return true;
	return false;
}

static void learn(struct idmap *m, uint32_t old, uint32_t new)
{
	if (m->nr == sizeof(m->old) / sizeof(m->old[0]))
		abort();	/* the harness, not the library, ran out */
	m->old[m->nr] = old;
	m->new[m->nr++] = new;
}

/* Replays one plan step as the agent would: inputs translated, outputs
 * whatever the (model) kernel hands out now. */
static int replay_one(struct kho_state *s, struct idmap *m,
		      const struct kho_rec *in, struct kho_diag *diag)
{
	struct kho_rec r = *in;

	/* A plan rebuilds; it never tears down or copies. */
	if (kho_op_phase(r.op) == KHO_PHASE_NONE)
		return kho_diag_set(diag, -EBADMSG, "plan carries %s",
				    kho_op_name(r.op));
	kho_rec_remap_ids(&r, KHO_OP_ID_IN, tr_cb, m);
	kho_state_predict(s, &r);
	switch (r.op) {
	case KHO_OP_IOAS_ALLOC:
		learn(m, in->ioas_alloc.out_ioas_id, r.ioas_alloc.out_ioas_id);
		break;
	case KHO_OP_HWPT_ALLOC:
		learn(m, in->hwpt_alloc.out_hwpt_id, r.hwpt_alloc.out_hwpt_id);
		break;
	case KHO_OP_DEVICE_BIND:
		learn(m, in->bind.out_devid, r.bind.out_devid);
		break;
	case KHO_OP_DEVICE_ATTACH:
		/*
		 * The model takes a second auto domain on one IOAS as the
		 * kernel's answer (a device incompatible with the first), but
		 * predict() always reuses the first.  Replay as that hardware
		 * would: a domain new in the journal is new on replay too.
		 */
		if (!kho_state_find_ioas(s, r.attach.pt_id))
			break;
		if (known(m, in->attach.out_hwpt_id)) {
			r.attach.out_hwpt_id = tr(m, in->attach.out_hwpt_id);
			break;
		}
		r.attach.out_hwpt_id = kho_state_next_id(s);
		learn(m, in->attach.out_hwpt_id, r.attach.out_hwpt_id);
		break;
	default:
		break;
	}
	return kho_state_apply(s, &r, diag);
}

static void to_old_ids(struct kho_state *s, const struct idmap *m)
{
	size_t i;

	for (i = 0; i < s->nr_ioas; i++)
		s->ioas[i].id = tr_back(m, s->ioas[i].id);
	for (i = 0; i < s->nr_hwpt; i++) {
		s->hwpt[i].id = tr_back(m, s->hwpt[i].id);
		s->hwpt[i].pt_id = tr_back(m, s->hwpt[i].pt_id);
		s->hwpt[i].dev_id = tr_back(m, s->hwpt[i].dev_id);
	}
	for (i = 0; i < s->nr_dev; i++) {
		s->dev[i].id = tr_back(m, s->dev[i].id);
		s->dev[i].attached_pt = tr_back(m, s->dev[i].attached_pt);
	}
}

static void add_memfds(struct kho_state *s)
{
	uint64_t t;

	/* Token 4 is a small memfd whose end a map can run past. */
	for (t = 1; t <= 4; t++) {
		struct kho_memfd m = {
			.token = t,
			.size = t == 4 ? 3 * PG : 64ULL << 20,
		};

		snprintf(m.name, sizeof(m.name), "guest-ram-%llu",
			 (unsigned long long)t);
		if (kho_state_add_memfd(s, &m))
			abort();
	}
}

static uint64_t mapped_bytes(const struct kho_state *s, uint32_t ioas_id)
{
	const struct kho_ioas *a = kho_state_find_ioas(s, ioas_id);
	uint64_t sum = 0;
	size_t i;

	for (i = 0; a && i < a->nr_maps; i++)
		sum += a->maps[i].length;
	return sum;
}

static void __attribute__((noreturn)) mismatch(const char *what,
					       const struct kho_diag *d)
{
	fprintf(stderr, "fuzz_state_apply: %s: %s\n", what, d ? d->msg : "");
	abort();
}

/*
 * A refused UNMAP may have removed the areas before the one it cuts, as
 * iopt_unmap_iova_range() does.  A recorder journals that as the unmap of
 * exactly what went; that record, applied to @before, must give @after.
 */
static int journal_partial_unmap(const struct kho_state *before,
				 const struct kho_state *after,
				 const struct kho_rec *r, struct kho_journal *j)
{
	uint64_t was = mapped_bytes(before, r->unmap.ioas_id);
	uint64_t now = mapped_bytes(after, r->unmap.ioas_id);
	const struct kho_ioas *a = kho_state_find_ioas(after, r->unmap.ioas_id);
	struct kho_diag d = { "" };
	struct kho_state check;
	struct kho_rec eq = *r;
	size_t i;
	int ret;

	if (was == now) {
		if (kho_state_equal(before, after, &d))
			mismatch("a refused UNMAP changed the state without unmapping", &d);
		return 0;
	}
	for (i = 0; a && i < a->nr_maps; i++)
		if (a->maps[i].iova + a->maps[i].length - 1 >= r->unmap.iova)
			break;
	if (!a || i == a->nr_maps)
		mismatch("a refused UNMAP left no area it cut", NULL);
	eq.unmap.length = a->maps[i].iova - r->unmap.iova;
	eq.unmap.out_length = was - now;
	kho_state_init(&check);
	if (kho_state_copy(&check, before))
		return -ENOMEM;
	ret = kho_state_apply(&check, &eq, &d);
	if (ret == -ENOMEM)
		goto out;
	if (ret)
		mismatch("the UNMAP of what a refused UNMAP removed is refused", &d);
	if (kho_state_equal(&check, after, &d))
		mismatch("a refused UNMAP's partial effect is not an UNMAP", &d);
	ret = kho_journal_append(j, &eq);
out:
	kho_state_free(&check);
	return ret;
}

/* Builds the journal: returns 0 or -ENOMEM. */
static int run_journal(struct src *s, struct kho_state *orig,
		       struct kho_journal *j)
{
	struct kho_iova_range ranges[4];
	struct kho_state before;
	uint8_t blob[16];
	int ret = 0;

	kho_state_init(&before);
	while (s->left && j->nr < 512) {
		struct kho_diag d = { "" };
		struct kho_rec r;
		uint8_t perturb;

		gen_rec(orig, s, &r, ranges, blob);
		kho_state_predict(orig, &r);
		/* Now and then an output the kernel might have chosen. */
		perturb = u8(s);
		if (perturb >= 0xf8) {
			uint32_t id = perturb & 1 ? any_id(orig, s, 3) : (uint32_t)raw64(s);

			if (r.op == KHO_OP_IOAS_ALLOC)
				r.ioas_alloc.out_ioas_id = id;
			else if (r.op == KHO_OP_HWPT_ALLOC)
				r.hwpt_alloc.out_hwpt_id = id;
			else if (r.op == KHO_OP_DEVICE_BIND)
				r.bind.out_devid = id;
			else if (r.op == KHO_OP_DEVICE_ATTACH)
				r.attach.out_hwpt_id = id;
		}
		kho_state_free(&before);
		kho_state_init(&before);
		ret = kho_state_copy(&before, orig);
		if (ret)
			break;
		ret = kho_state_apply(orig, &r, &d);
		if (ret == -ENOMEM)
			break;
		if (!ret) {
			ret = kho_journal_append(j, &r);
			if (ret)
				break;
			continue;
		}
		if (r.op == KHO_OP_IOAS_UNMAP) {
			ret = journal_partial_unmap(&before, orig, &r, j);
			if (ret)
				break;
			continue;
		}
		/* The kernel's ioctls are all-or-nothing but UNMAP. */
		if (kho_state_equal(&before, orig, &d))
			mismatch("a refused record changed the state", &d);
		ret = 0;
	}
	kho_state_free(&before);
	return ret;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct src s = { data, size };
	struct kho_state orig, folded, replayed;
	struct kho_journal j, plan, flat;
	struct kho_diag d = { "" };
	struct idmap *m;
	size_t i;
	int ret;

	m = calloc(1, sizeof(*m));
	if (!m)
		return 0;
	kho_state_init(&orig);
	kho_state_init(&folded);
	kho_state_init(&replayed);
	kho_journal_init(&j);
	kho_journal_init(&plan);
	kho_journal_init(&flat);
	add_memfds(&orig);
	add_memfds(&folded);
	add_memfds(&replayed);

	if (run_journal(&s, &orig, &j))
		goto out;
	ret = kho_compact(&j, &folded, &plan, &d);
	if (ret == -ENOMEM)
		goto out;
	if (ret)
		mismatch("compaction refused a journal the model accepted", &d);
	if (kho_state_equal(&orig, &folded, &d))
		mismatch("the batch model disagrees with the flat model", &d);
	ret = kho_plan_expand(&plan, &folded, &flat, &d);
	if (ret == -ENOMEM)
		goto out;
	if (ret)
		mismatch("the plan does not expand", &d);
	for (i = 0; i < flat.nr; i++) {
		struct kho_diag rd = { "" };

		ret = replay_one(&replayed, m, &flat.recs[i], &rd);
		if (ret == -ENOMEM)
			goto out;
		if (ret) {
			kho_diag_set(&d, ret, "replay step %zu (%s): %s", i,
				     kho_op_name(flat.recs[i].op), rd.msg);
			mismatch("the plan does not replay", &d);
		}
	}
	to_old_ids(&replayed, m);
	if (kho_state_equal(&orig, &replayed, &d))
		mismatch("the replayed plan rebuilds another state", &d);
out:
	free(m);
	kho_journal_free(&j);
	kho_journal_free(&plan);
	kho_journal_free(&flat);
	kho_state_free(&orig);
	kho_state_free(&folded);
	kho_state_free(&replayed);
	return 0;
}
