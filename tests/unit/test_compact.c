// SPDX-License-Identifier: GPL-2.0
/*
 * Compaction tests: the plan's shape and order, and the randomised
 * differential test (original journal vs compacted-and-replayed plan).
 */
#include <stdint.h>

#include <linux/iommufd.h>

#include "blob.h"
#include "ktest.h"
#include "compact.h"
#include "handoff.h"
#include "journal.h"
#include "state.h"

#define PG 4096ULL
#define MAX_ID 4096

static void add_memfds(struct kho_state *s)
{
	uint64_t t;

	for (t = 1; t <= 3; t++) {
		struct kho_memfd m = { .token = t, .size = 64 << 20 };

		snprintf(m.name, sizeof(m.name), "guest-ram-%llu",
			 (unsigned long long)t);
		kho_state_add_memfd(s, &m);
	}
}

/* xorshift64*: a seed gives the same journal on every machine. */
static uint64_t rnd(uint64_t *st)
{
	*st ^= *st >> 12;
	*st ^= *st << 25;
	*st ^= *st >> 27;
	return *st * 2685821657736338717ULL;
}

static uint32_t pick(uint64_t *st, uint32_t n)
{
	return n ? rnd(st) % n : 0;
}

static uint32_t any_id(const struct kho_state *s, uint64_t *st)
{
	/* Mostly live IDs, sometimes one that does not exist. */
	uint32_t n = s->nr_ioas + s->nr_hwpt + s->nr_dev, k;

	if (!n || pick(st, 10) == 0)
		return 1 + pick(st, 12);
	k = pick(st, n);
	if (k < s->nr_ioas)
		return s->ioas[k].id;
	k -= s->nr_ioas;
	if (k < s->nr_hwpt)
		return s->hwpt[k].id;
	return s->dev[k - s->nr_hwpt].id;
}

static uint32_t any_ioas(const struct kho_state *s, uint64_t *st)
{
	if (!s->nr_ioas || pick(st, 16) == 0)
		return 1 + pick(st, 12);
	return s->ioas[pick(st, s->nr_ioas)].id;
}

static uint32_t any_dev(const struct kho_state *s, uint64_t *st)
{
	if (!s->nr_dev || pick(st, 16) == 0)
		return 1 + pick(st, 12);
	return s->dev[pick(st, s->nr_dev)].id;
}

static uint64_t any_iova(uint64_t *st)
{
	uint64_t iova = pick(st, 48) * PG;

	if (pick(st, 25) == 0)
		iova += 0x800;		/* misaligned once a domain exists */
	return iova;
}

static void gen_rec(const struct kho_state *s, uint64_t *st, struct kho_rec *r,
		    struct kho_iova_range *ranges)
{
	uint32_t i;

	memset(r, 0, sizeof(*r));
	switch (pick(st, 16)) {
	case 0:
		r->op = KHO_OP_IOAS_ALLOC;
		break;
	case 1:
		r->op = KHO_OP_DESTROY;
		r->destroy.id = any_id(s, st);
		break;
	case 2:
		r->op = KHO_OP_IOAS_ALLOW_IOVAS;
		r->allow_iovas.ioas_id = any_ioas(s, st);
		r->allow_iovas.num_iovas = pick(st, 4);
		r->allow_iovas.iovas = ranges;
		for (i = 0; i < r->allow_iovas.num_iovas; i++) {
			ranges[i].start = pick(st, 64) * PG;
			ranges[i].last = ranges[i].start + pick(st, 16) * PG - 1 +
					 (pick(st, 8) ? PG : 0);
		}
		break;
	case 3: case 4: case 5: case 6:
		r->op = KHO_OP_IOAS_MAP_FILE;
		r->map.flags = IOMMU_IOAS_MAP_FIXED_IOVA |
			       (pick(st, 3) ? IOMMU_IOAS_MAP_READABLE : 0) |
			       (pick(st, 3) ? IOMMU_IOAS_MAP_WRITEABLE : 0);
		r->map.ioas_id = any_ioas(s, st);
		r->map.memfd_token = pick(st, 20) ? 1 + pick(st, 3) : 9;
		r->map.offset = pick(st, 64) * PG + (pick(st, 30) ? 0 : 0x800);
		r->map.length = (1 + pick(st, 6)) * PG - (pick(st, 40) ? 0 : 0x800);
		r->map.iova = any_iova(st);
		break;
	case 7: case 8: case 9:
		r->op = KHO_OP_IOAS_UNMAP;
		r->unmap.ioas_id = any_ioas(s, st);
		if (pick(st, 12) == 0) {
			r->unmap.iova = 0;
			r->unmap.length = UINT64_MAX;
		} else {
			r->unmap.iova = any_iova(st);
			r->unmap.length = pick(st, 12) * PG;
		}
		break;
	case 10:
		r->op = KHO_OP_IOAS_COPY;
		r->copy.flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE;
		r->copy.src_ioas_id = any_ioas(s, st);
		r->copy.dst_ioas_id = any_ioas(s, st);
		r->copy.src_iova = any_iova(st);
		r->copy.length = (1 + pick(st, 6)) * PG;
		r->copy.dst_iova = any_iova(st);
		break;
	case 11:
		r->op = KHO_OP_OPTION;
		r->option.option_id = IOMMU_OPTION_HUGE_PAGES;
		r->option.op = IOMMU_OPTION_OP_SET;
		r->option.object_id = any_ioas(s, st);
		r->option.val64 = pick(st, 2);
		break;
	case 12:
		r->op = KHO_OP_DEVICE_BIND;
		r->bind.pci.bus = 1 + pick(st, 4);
		r->bind.pci.vendor = 0x1234;
		r->bind.pci.device = 0x11e8;
		break;
	case 13:
		r->op = KHO_OP_HWPT_ALLOC;
		r->hwpt_alloc.dev_id = any_dev(s, st);
		if (s->nr_hwpt && pick(st, 4) == 0) {
			static uint8_t data[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };

			r->hwpt_alloc.pt_id = s->hwpt[pick(st, s->nr_hwpt)].id;
			r->hwpt_alloc.data_type = IOMMU_HWPT_DATA_VTD_S1;
			r->hwpt_alloc.data_len = sizeof(data);
			r->hwpt_alloc.data = data;
		} else {
			r->hwpt_alloc.pt_id = any_ioas(s, st);
			r->hwpt_alloc.flags = pick(st, 4) &
				(IOMMU_HWPT_ALLOC_NEST_PARENT |
				 IOMMU_HWPT_ALLOC_DIRTY_TRACKING);
		}
		break;
	case 14:
		r->op = KHO_OP_DEVICE_ATTACH;
		r->attach.dev_id = any_dev(s, st);
		if (s->nr_hwpt && pick(st, 3) == 0)
			r->attach.pt_id = s->hwpt[pick(st, s->nr_hwpt)].id;
		else
			r->attach.pt_id = any_ioas(s, st);
		break;
	default:
		if (pick(st, 2)) {
			r->op = KHO_OP_DEVICE_DETACH;
			r->detach.dev_id = any_dev(s, st);
		} else {
			r->op = KHO_OP_HWPT_SET_DIRTY_TRACKING;
			r->dirty_tracking.hwpt_id = s->nr_hwpt ?
				s->hwpt[pick(st, s->nr_hwpt)].id : 1;
			r->dirty_tracking.flags = pick(st, 2);
		}
		break;
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

/*
 * Generates a journal of n successful ioctls: each candidate is applied to
 * the model and kept only if the model (the kernel) accepted it.  A refused
 * UNMAP that removed the areas before the one it cut (as the kernel does)
 * is journaled as the whole-area unmap of exactly what it removed, the rule
 * a recorder follows for such a refusal.
 */
static int gen_journal_churn(uint64_t seed, size_t n, struct kho_state *s,
			     struct kho_journal *j, size_t *refused,
			     unsigned int churn);

static int gen_journal(uint64_t seed, size_t n, struct kho_state *s,
		       struct kho_journal *j, size_t *refused)
{
	return gen_journal_churn(seed, n, s, j, refused, 0);
}

/* Journals the exact UNMAP of @m (a live map), as the model runs it. */
static int gen_unmap_of(struct kho_state *s, struct kho_journal *j,
			const struct kho_rec *m)
{
	struct kho_rec u = { .op = KHO_OP_IOAS_UNMAP };
	int ret;

	u.unmap.ioas_id = m->map.ioas_id;
	u.unmap.iova = m->map.iova;
	u.unmap.length = m->map.length;
	u.unmap.out_length = m->map.length;
	ret = kho_state_apply(s, &u, NULL);
	return ret ? ret : kho_journal_append(j, &u);
}

/*
 * After a map, 1 in @churn times (0: never), its exact UNMAP; then, half
 * the time, that of the map journaled just before it, if one was: the
 * nested pairs of a VMM's churn, which the recorder elides online.
 */
static int gen_cancel(struct kho_state *s, struct kho_journal *j,
		      uint64_t *st, unsigned int churn)
{
	struct kho_rec m;
	int ret;

	if (!churn || pick(st, churn))
		return 0;
	m = j->recs[j->nr - 1];
	ret = gen_unmap_of(s, j, &m);
	if (ret || j->nr < 3 || pick(st, 2))
		return ret;
	m = j->recs[j->nr - 3];
	/* nothing but the pair follows it: the map is live */
	return m.op == KHO_OP_IOAS_MAP_FILE ? gen_unmap_of(s, j, &m) : 0;
}

static int gen_journal_churn(uint64_t seed, size_t n, struct kho_state *s,
			     struct kho_journal *j, size_t *refused,
			     unsigned int churn)
{
	uint64_t st = seed * 0x9e3779b97f4a7c15ULL + 1;
	struct kho_iova_range ranges[4];
	size_t tries = 0;
	int ret;

	while (j->nr < n && tries++ < n * 8) {
		uint64_t before = 0, after;
		const struct kho_ioas *a;
		struct kho_rec r;
		size_t i;

		gen_rec(s, &st, &r, ranges);
		kho_state_predict(s, &r);
		if (r.op == KHO_OP_IOAS_UNMAP)
			before = mapped_bytes(s, r.unmap.ioas_id);
		ret = kho_state_apply(s, &r, NULL);
		if (ret == -ENOMEM)
			return ret;
		if (!ret) {
			ret = kho_journal_append(j, &r);
			if (!ret && r.op == KHO_OP_IOAS_MAP_FILE)
				ret = gen_cancel(s, j, &st, churn);
			if (ret)
				return ret;
			continue;
		}
		(*refused)++;
		if (r.op != KHO_OP_IOAS_UNMAP)
			continue;
		after = mapped_bytes(s, r.unmap.ioas_id);
		if (after == before)
			continue;
		a = kho_state_find_ioas(s, r.unmap.ioas_id);
		for (i = 0; i < a->nr_maps; i++)
			if (a->maps[i].iova + a->maps[i].length - 1 >= r.unmap.iova)
				break;
		if (i == a->nr_maps)
			return -EBADMSG;	/* a cut area must remain */
		r.unmap.length = a->maps[i].iova - r.unmap.iova;
		r.unmap.out_length = before - after;
		ret = kho_journal_append(j, &r);
		if (ret)
			return ret;
	}
	return 0;
}

/* old -> new ID translation, as the restore agent keeps it */
struct idmap {
	uint32_t to_new[MAX_ID];
	uint32_t to_old[MAX_ID];
};

static uint32_t tr(const struct idmap *m, uint32_t old)
{
	return old < MAX_ID && m->to_new[old] ? m->to_new[old] : old;
}

static int tr_cb(void *m, uint32_t old, uint32_t *new_id)
{
	*new_id = tr(m, old);
	return 0;
}

static void learn(struct idmap *m, uint32_t old, uint32_t new)
{
	if (old < MAX_ID && new < MAX_ID) {
		m->to_new[old] = new;
		m->to_old[new] = old;
	}
}

/* Replays one plan record on the fresh model s, as the agent would on the
 * kernel: inputs translated, outputs whatever the kernel returns. */
static int replay_one(struct kho_state *s, struct idmap *m,
		      const struct kho_rec *in, struct kho_diag *diag)
{
	struct kho_rec r = *in;

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
		learn(m, in->attach.out_hwpt_id, r.attach.out_hwpt_id);
		break;
	default:
		break;
	}
	return kho_state_apply(s, &r, diag);
}

/* Rewrites a replayed state's IDs back to the recorded ones. */
static void to_old_ids(struct kho_state *s, const struct idmap *m)
{
	size_t i;

#define OLD(x) ((x) && (x) < MAX_ID && m->to_old[(x)] ? m->to_old[(x)] : (x))
	for (i = 0; i < s->nr_ioas; i++)
		s->ioas[i].id = OLD(s->ioas[i].id);
	for (i = 0; i < s->nr_hwpt; i++) {
		s->hwpt[i].id = OLD(s->hwpt[i].id);
		s->hwpt[i].pt_id = OLD(s->hwpt[i].pt_id);
		s->hwpt[i].dev_id = OLD(s->hwpt[i].dev_id);
	}
	for (i = 0; i < s->nr_dev; i++) {
		s->dev[i].id = OLD(s->dev[i].id);
		s->dev[i].attached_pt = OLD(s->dev[i].attached_pt);
	}
#undef OLD
}

/* Returns 0 when the compacted plan rebuilds the journal's state. */
static int differential(uint64_t seed, size_t n, size_t *nrec, size_t *nmaps,
			size_t *refused, struct kho_diag *diag)
{
	struct kho_state orig, folded, replayed;
	struct kho_journal j, plan, flat;
	struct idmap *m;
	size_t i;
	int ret;

	kho_state_init(&orig);
	kho_state_init(&folded);
	kho_state_init(&replayed);
	kho_journal_init(&j);
	kho_journal_init(&plan);
	kho_journal_init(&flat);
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	add_memfds(&orig);
	add_memfds(&folded);
	add_memfds(&replayed);
	ret = gen_journal(seed, n, &orig, &j, refused);
	if (ret) {
		kho_diag_set(diag, ret, "generator failed");
		goto out;
	}
	*nrec += j.nr;
	ret = kho_compact(&j, &folded, &plan, diag);
	if (ret)
		goto out;
	/* The batch form and the flat form of the model must agree. */
	ret = kho_state_equal(&orig, &folded, diag);
	if (ret)
		goto out;
	ret = kho_plan_expand(&plan, &folded, &flat, diag);
	if (ret)
		goto out;
	for (i = 0; i < flat.nr; i++) {
		struct kho_diag d;

		ret = replay_one(&replayed, m, &flat.recs[i], &d);
		if (ret) {
			kho_diag_set(diag, ret, "replay step %zu (%s): %s", i,
				     kho_op_name(flat.recs[i].op), d.msg);
			goto out;
		}
		if (flat.recs[i].op == KHO_OP_IOAS_MAP_FILE)
			(*nmaps)++;
	}
	to_old_ids(&replayed, m);
	ret = kho_state_equal(&orig, &replayed, diag);
out:
	free(m);
	kho_journal_free(&j);
	kho_journal_free(&plan);
	kho_journal_free(&flat);
	kho_state_free(&orig);
	kho_state_free(&folded);
	kho_state_free(&replayed);
	return ret;
}

KTEST(compact_differential_5000_seeds)
{
	size_t nrec = 0, nmaps = 0, refused = 0;
	uint64_t seed;

	for (seed = 1; seed <= 5000; seed++) {
		struct kho_diag d = { "" };
		int ret = differential(seed, 20 + seed % 280, &nrec, &nmaps,
				       &refused, &d);

		if (ret) {
			printf("#   seed %llu: %s (%d)\n",
			       (unsigned long long)seed, d.msg, ret);
			ASSERT_EQ(0, ret);
		}
	}
	printf("#   %zu records journaled, %zu refused by the model, %zu mappings replayed\n",
	       nrec, refused, nmaps);
	/* The generator must really exercise the model. */
	ASSERT_TRUE(nrec > 500000 && refused > 50000 && nmaps > 20000);
}

/*
 * The recorder drops an UNMAP with the MAP it cancels at the journal's
 * tail (kho_journal_elide()): the journal left must fold into the very
 * state the whole one folds into, and count every pair it dropped.
 */
KTEST(elided_journal_folds_into_the_same_state)
{
	size_t refused = 0, nrec = 0, nkept = 0;
	uint64_t seed, pairs = 0;

	for (seed = 1; seed <= 2000; seed++) {
		struct kho_state model, whole, elided;
		struct kho_journal j, e, plan;
		struct kho_diag d = { "" };
		uint64_t p = 0;
		size_t i;
		int ret;

		kho_state_init(&model);
		kho_state_init(&whole);
		kho_state_init(&elided);
		kho_journal_init(&j);
		kho_journal_init(&e);
		kho_journal_init(&plan);
		add_memfds(&model);
		add_memfds(&whole);
		add_memfds(&elided);
		ret = gen_journal_churn(seed, 20 + seed % 280, &model, &j,
					&refused, 3);
		for (i = 0; !ret && i < j.nr; i++)
			ret = kho_journal_append(&e, &j.recs[i]);
		if (!ret) {
			kho_journal_elide(&e, &p);
			ret = kho_compact(&j, &whole, &plan, &d);
			kho_journal_free(&plan);
		}
		if (!ret) {
			ret = kho_compact(&e, &elided, &plan, &d);
			kho_journal_free(&plan);
		}
		if (!ret)
			ret = kho_state_equal(&whole, &elided, &d);
		if (ret)
			printf("#   seed %llu: %s (%d)\n",
			       (unsigned long long)seed, d.msg, ret);
		ASSERT_EQ(0, ret);
		ASSERT_EQ(j.nr, e.nr + 2 * p);
		nrec += j.nr;
		nkept += e.nr;
		pairs += p;
		kho_journal_free(&j);
		kho_journal_free(&e);
		kho_state_free(&model);
		kho_state_free(&whole);
		kho_state_free(&elided);
	}
	printf("#   %zu records, %zu kept, %llu pairs elided\n", nrec, nkept,
	       (unsigned long long)pairs);
	/* the generator must really make cancelling pairs, nested too */
	ASSERT_TRUE(pairs > nrec / 20);
}

/*
 * Churn on one IOAS large enough that the batch table splits, refills and
 * empties many chunks (the 5,000 short journals above never fill one):
 * maps of 1-4 pages and unmaps of 1-6 pages at random slots, so unmaps
 * remove several areas or cut one.  The flat model (kho_state_apply(),
 * one sorted array) is the reference the batch must match exactly.
 */
static int gen_churn(uint64_t seed, size_t n, struct kho_state *s,
		     struct kho_journal *j, size_t *multi, size_t *cut)
{
	uint64_t st = seed * 0x9e3779b97f4a7c15ULL + 1;
	struct kho_rec r;
	int ret;

	memset(&r, 0, sizeof(r));
	r.op = KHO_OP_IOAS_ALLOC;
	kho_state_predict(s, &r);
	ret = kho_state_apply(s, &r, NULL);
	if (!ret)
		ret = kho_journal_append(j, &r);
	while (!ret && j->nr < n) {
		uint64_t before, after;
		const struct kho_ioas *a;
		size_t i;

		memset(&r, 0, sizeof(r));
		if (pick(&st, 100) < 60) {
			r.op = KHO_OP_IOAS_MAP_FILE;
			r.map.flags = IOMMU_IOAS_MAP_FIXED_IOVA |
				      IOMMU_IOAS_MAP_READABLE;
			r.map.ioas_id = 1;
			r.map.memfd_token = 1 + pick(&st, 3);
			r.map.iova = pick(&st, 8192) * PG;
			r.map.length = (1 + pick(&st, 4)) * PG;
			r.map.offset = pick(&st, 1024) * PG;
			ret = kho_state_apply(s, &r, NULL);
			if (!ret)
				ret = kho_journal_append(j, &r);
			else if (ret == -EEXIST)
				ret = 0;
			continue;
		}
		r.op = KHO_OP_IOAS_UNMAP;
		r.unmap.ioas_id = 1;
		r.unmap.iova = pick(&st, 8192) * PG;
		r.unmap.length = (1 + pick(&st, 6)) * PG;
		kho_state_predict(s, &r);
		before = mapped_bytes(s, 1);
		ret = kho_state_apply(s, &r, NULL);
		if (!ret) {
			*multi += r.unmap.out_length > 4 * PG;
			ret = kho_journal_append(j, &r);
			continue;
		}
		if (ret != -ENOENT)
			return ret;
		ret = 0;
		after = mapped_bytes(s, 1);
		if (after == before)
			continue;
		/* As gen_journal(): the legal record for what was removed. */
		(*cut)++;
		a = kho_state_find_ioas(s, 1);
		for (i = 0; i < a->nr_maps; i++)
			if (a->maps[i].iova + a->maps[i].length - 1 >= r.unmap.iova)
				break;
		if (i == a->nr_maps)
			return -EBADMSG;
		r.unmap.length = a->maps[i].iova - r.unmap.iova;
		r.unmap.out_length = before - after;
		ret = kho_journal_append(j, &r);
	}
	return ret;
}

KTEST(compact_batch_matches_flat_model_on_large_tables)
{
	size_t multi = 0, cut = 0, peak = 0;
	struct kho_journal j, plan;
	struct kho_state flat, folded;
	struct kho_diag d = { "" };
	uint64_t seed;

	for (seed = 1; seed <= 4; seed++) {
		kho_journal_init(&j);
		kho_state_init(&flat);
		kho_state_init(&folded);
		add_memfds(&flat);
		add_memfds(&folded);
		ASSERT_EQ(0, gen_churn(seed, 20000, &flat, &j, &multi, &cut));
		if (flat.ioas[0].nr_maps > peak)
			peak = flat.ioas[0].nr_maps;
		ASSERT_EQ(0, kho_compact(&j, &folded, &plan, &d));
		if (kho_state_equal(&flat, &folded, &d))
			printf("#   seed %llu: %s\n", (unsigned long long)seed,
			       d.msg);
		ASSERT_EQ(0, kho_state_equal(&flat, &folded, &d));
		kho_journal_free(&plan);
		kho_journal_free(&j);
		kho_state_free(&flat);
		kho_state_free(&folded);
	}
	printf("#   up to %zu live areas, %zu multi-area unmaps, %zu cut unmaps\n",
	       peak, multi, cut);
	/* Many chunks of TAB_CHUNK (64) areas, and both unmap shapes. */
	ASSERT_TRUE(peak > 1000 && multi > 100 && cut > 100);
}

/*
 * The library path of `kho-tool journal --compact` on a real hand-off
 * blob: the plan it carries must fold back into exactly the state it
 * records, re-compact to a plan no longer than itself, and a hand-off
 * whose state disagrees with its plan must be refused.
 */
KTEST(compact_handoff_blob_edu_vm)
{
	struct kho_journal plan;
	struct kho_state folded;
	struct kho_diag d = { "" };
	struct kho_handoff h;
	size_t nr_expanded, maps = 0, i;

	ASSERT_EQ(0, ktest_load_blob("edu-vm.dtb", &h));
	ASSERT_EQ(0, kho_compact_handoff(&h, &folded, &plan, &nr_expanded, &d));
	for (i = 0; i < h.state.nr_ioas; i++)
		maps += h.state.ioas[i].nr_maps;
	ASSERT_TRUE(maps > 0);
	ASSERT_EQ(folded.ioas[0].nr_maps, h.state.ioas[0].nr_maps);
	/* Slices expand to one record per mapping. */
	ASSERT_TRUE(nr_expanded >= h.replay.nr && nr_expanded > plan.nr);
	ASSERT_TRUE(plan.nr <= h.replay.nr);
	ASSERT_TRUE(h.journal_length >= h.replay.nr);
	kho_journal_free(&plan);
	kho_state_free(&folded);

	/* A recorded state that lost a mapping no longer matches its plan. */
	h.state.ioas[0].nr_maps--;
	ASSERT_EQ(-ENOENT, kho_compact_handoff(&h, &folded, &plan, &nr_expanded, &d));
	h.state.ioas[0].nr_maps++;
	/* A recorded state with a changed option does not either. */
	h.state.ioas[0].huge_pages = h.state.ioas[0].huge_pages == 1 ? 0 : 1;
	ASSERT_EQ(-EBADMSG, kho_compact_handoff(&h, &folded, &plan, &nr_expanded, &d));
	ASSERT_EQ(0, folded.nr_ioas);
	kho_handoff_free(&h);
}

/*
 * A VMM that allocates its HWPT explicitly (QEMU's iommufd backend), in
 * its own order: bind, IOMMU_HWPT_ALLOC on the IOAS, ATTACH to that HWPT,
 * then the guest-RAM maps.  The plan keeps the HWPT_ALLOC, and in the
 * replay's phase order (kho_replay_run(): objects, maps, devices) runs
 * hwpt-first: every map, then bind, HWPT_ALLOC, ATTACH to the HWPT, so
 * the domain is filled before a device uses it (bench/order-vm.sh).
 */
KTEST(compact_explicit_hwpt_vmm_plan_runs_hwpt_first)
{
	static const uint32_t want[] = {
		KHO_OP_IOAS_ALLOC, KHO_OP_REPLAY_MAPPINGS, KHO_OP_DEVICE_BIND,
		KHO_OP_HWPT_ALLOC, KHO_OP_DEVICE_ATTACH,
	};
	static const int phases[] = { KHO_PHASE_OBJECTS, KHO_PHASE_MAPS,
				      KHO_PHASE_DEVICES };
	struct kho_journal j, plan;
	struct kho_state flat, folded;
	struct kho_diag d = { "" };
	struct kho_rec r;
	uint32_t ioas, dev, hwpt;
	size_t i, p, n = 0;

	kho_journal_init(&j);
	kho_state_init(&flat);
	kho_state_init(&folded);
	add_memfds(&flat);
	add_memfds(&folded);
#define RECORD(rec) do {						\
		kho_state_predict(&flat, &(rec));			\
		ASSERT_EQ(0, kho_state_apply(&flat, &(rec), NULL));	\
		ASSERT_EQ(0, kho_journal_append(&j, &(rec)));		\
	} while (0)
	r = (struct kho_rec){ .op = KHO_OP_IOAS_ALLOC };
	RECORD(r);
	ioas = r.ioas_alloc.out_ioas_id;
	r = (struct kho_rec){ .op = KHO_OP_DEVICE_BIND };
	r.bind.pci = (struct kho_pci_id){ .bus = 1, .vendor = 0x1234,
					  .device = 0x11e8 };
	RECORD(r);
	dev = r.bind.out_devid;
	r = (struct kho_rec){ .op = KHO_OP_HWPT_ALLOC };
	r.hwpt_alloc.dev_id = dev;
	r.hwpt_alloc.pt_id = ioas;
	RECORD(r);
	hwpt = r.hwpt_alloc.out_hwpt_id;
	r = (struct kho_rec){ .op = KHO_OP_DEVICE_ATTACH };
	r.attach.dev_id = dev;
	r.attach.pt_id = hwpt;
	RECORD(r);
	ASSERT_EQ(hwpt, r.attach.out_hwpt_id);
	for (i = 0; i < 4; i++) {
		r = (struct kho_rec){ .op = KHO_OP_IOAS_MAP_FILE };
		r.map.flags = IOMMU_IOAS_MAP_FIXED_IOVA |
			      IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE;
		r.map.ioas_id = ioas;
		r.map.memfd_token = 1;
		r.map.offset = i * 4 * PG;
		r.map.length = 4 * PG;
		r.map.iova = 0x100000 + i * 4 * PG;
		RECORD(r);
	}
#undef RECORD

	ASSERT_EQ(0, kho_compact(&j, &folded, &plan, &d));
	ASSERT_EQ(0, kho_state_equal(&flat, &folded, &d));
	ASSERT_EQ(1, folded.nr_hwpt);
	ASSERT_TRUE(!folded.hwpt[0].auto_domain);
	ASSERT_EQ(dev, folded.hwpt[0].dev_id);
	ASSERT_EQ(ioas, folded.hwpt[0].pt_id);
	ASSERT_EQ(hwpt, folded.dev[0].attached_pt);
	for (p = 0; p < 3; p++) {
		for (i = 0; i < plan.nr; i++) {
			const struct kho_rec *rec = &plan.recs[i];

			if (kho_op_phase(rec->op) != phases[p])
				continue;
			ASSERT_TRUE(n < sizeof(want) / sizeof(want[0]));
			ASSERT_EQ(want[n], rec->op);
			n++;
			if (rec->op == KHO_OP_HWPT_ALLOC) {
				ASSERT_EQ(dev, rec->hwpt_alloc.dev_id);
				ASSERT_EQ(ioas, rec->hwpt_alloc.pt_id);
				ASSERT_EQ(hwpt, rec->hwpt_alloc.out_hwpt_id);
			}
			if (rec->op == KHO_OP_DEVICE_ATTACH)
				ASSERT_EQ(hwpt, rec->attach.pt_id);
		}
	}
	ASSERT_EQ(sizeof(want) / sizeof(want[0]), n);
	kho_journal_free(&plan);
	kho_journal_free(&j);
	kho_state_free(&flat);
	kho_state_free(&folded);
}
