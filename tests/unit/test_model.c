// SPDX-License-Identifier: GPL-2.0
/*
 * The model-based test's generator (tests/model/gen.c) on the host, with
 * the in-process state model (lib/state.c) standing in for the kernel:
 * every sequence is journaled as the recorder journals it, compacted,
 * expanded and replayed on a fresh model, and both are probed page by page
 * against the test's own shadow.  The guest program kho-model runs the same
 * sequences against the kernel (tests/vm/045-model.bats).
 */
#include <linux/iommufd.h>

#include "compact.h"
#include "journal.h"
#include "ktest.h"
#include "model.h"
#include "state.h"

#define MAX_ID 64
#define TOKEN(memfd) ((uint64_t)(memfd) + 1)

struct host {
	struct kho_state k;		/* the "kernel" */
	struct kho_journal j;		/* what the recorder would journal */
	struct mdl_shadow s;
	uint32_t id[MDL_SLOTS];
	unsigned long partial;
};

static void add_memfds(struct kho_state *s)
{
	unsigned int i;

	for (i = 0; i < 2; i++) {
		struct kho_memfd m = { .token = TOKEN(i),
				       .size = MDL_MEM_PAGES * MDL_PAGE };

		kho_state_add_memfd(s, &m);
	}
}

/* One call on the model: the kernel's answer, the recorder's record. */
static int host_call(struct host *h, const struct mdl_call *c)
{
	struct mdl_slot *sl = &h->s.slot[c->slot];
	struct kho_iova_range r[MDL_MAX_RANGES];
	struct kho_diag d;
	struct kho_rec rec = { 0 };
	uint64_t removed;
	unsigned int i;
	int ret;

	if (c->op != MDL_ALLOC && !sl->live)
		return 0;
	switch (c->op) {
	case MDL_ALLOC:
		rec.op = KHO_OP_IOAS_ALLOC;
		break;
	case MDL_DESTROY:
		rec.op = KHO_OP_DESTROY;
		rec.destroy.id = h->id[c->slot];
		break;
	case MDL_ALLOW:
		for (i = 0; i < c->nr_ranges; i++)
			r[i] = (struct kho_iova_range){ c->range[i].start, c->range[i].last };
		rec.op = KHO_OP_IOAS_ALLOW_IOVAS;
		rec.allow_iovas.ioas_id = h->id[c->slot];
		rec.allow_iovas.num_iovas = c->nr_ranges;
		rec.allow_iovas.iovas = r;
		break;
	case MDL_MAP_VA:
	case MDL_MAP_FILE:
		/* Canonical: by VA is by file; the IOVA is always fixed. */
		rec.op = KHO_OP_IOAS_MAP_FILE;
		rec.map.flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
				(c->readonly ? 0 : IOMMU_IOAS_MAP_WRITEABLE);
		rec.map.ioas_id = h->id[c->slot];
		rec.map.memfd_token = TOKEN(c->op == MDL_MAP_VA ? 0 : c->memfd);
		rec.map.offset = c->offset;
		rec.map.length = c->length;
		rec.map.iova = c->iova;
		break;
	case MDL_COPY:
		if (!h->s.slot[c->src].live)
			return 0;
		rec.op = KHO_OP_IOAS_COPY;
		rec.copy.flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
				 IOMMU_IOAS_MAP_WRITEABLE;
		rec.copy.dst_ioas_id = h->id[c->slot];
		rec.copy.src_ioas_id = h->id[c->src];
		rec.copy.length = c->length;
		rec.copy.dst_iova = c->iova;
		rec.copy.src_iova = c->offset;
		break;
	case MDL_UNMAP:
	case MDL_UNMAP_ALL:
		rec.op = KHO_OP_IOAS_UNMAP;
		rec.unmap.ioas_id = h->id[c->slot];
		rec.unmap.iova = c->op == MDL_UNMAP ? c->iova : 0;
		rec.unmap.length = c->op == MDL_UNMAP ? c->length : UINT64_MAX;
		break;
	case MDL_OPTION:
		rec.op = KHO_OP_OPTION;
		rec.option.option_id = IOMMU_OPTION_HUGE_PAGES;
		rec.option.op = IOMMU_OPTION_OP_SET;
		rec.option.object_id = h->id[c->slot];
		rec.option.val64 = c->value;
		break;
	default:
		return 0;	/* mock devices: the kernel's test module only */
	}
	kho_state_predict(&h->k, &rec);
	ret = kho_state_apply(&h->k, &rec, &d);
	if (!ret && kho_journal_append(&h->j, &rec))
		return -ENOMEM;

	/* The shadow follows the model's answer. */
	switch (c->op) {
	case MDL_ALLOC:
		if (!ret) {
			memset(sl, 0, sizeof(*sl));
			sl->live = true;
			sl->huge_pages = -1;
			h->id[c->slot] = rec.ioas_alloc.out_ioas_id;
		}
		break;
	case MDL_DESTROY:
		if (!ret)
			memset(sl, 0, sizeof(*sl));
		break;
	case MDL_ALLOW:
		if (!ret)
			sl->nr_ranges = c->nr_ranges;
		break;
	case MDL_MAP_VA:
	case MDL_MAP_FILE:
		if (!ret) {
			struct mdl_area a = { c->iova, c->length,
					      c->op == MDL_MAP_VA ? 0 : c->memfd,
					      c->offset };

			if (mdl_shadow_add(sl, &a))
				return -ENOSPC;
		}
		break;
	case MDL_COPY:
		if (!ret && mdl_shadow_copy(sl, &h->s.slot[c->src], c->offset,
					    c->length, c->iova))
			return -ENOSPC;
		break;
	case MDL_UNMAP:
		removed = mdl_shadow_unmap(sl, c->iova, c->length, ret);
		if (ret == -ENOENT && removed) {
			/*
			 * What the recorder journals: the UNMAP of exactly the
			 * areas before the one that stuck out of the range.
			 */
			uint64_t end = c->iova;

			for (i = 0; i < sl->nr; i++)
				if (sl->area[i].iova >= c->iova &&
				    sl->area[i].iova < c->iova + c->length) {
					end = sl->area[i].iova;
					break;
				}
			rec.unmap.length = end - c->iova;
			rec.unmap.out_length = removed;
			h->partial++;
			if (kho_journal_append(&h->j, &rec))
				return -ENOMEM;
		}
		break;
	case MDL_UNMAP_ALL:
		if (!ret)
			sl->nr = 0;
		break;
	case MDL_OPTION:
		if (!ret)
			sl->huge_pages = c->value;
		break;
	}
	return 0;
}

static const struct kho_mapping *model_find(const struct kho_state *s,
					    uint32_t ioas, uint64_t iova)
{
	const struct kho_ioas *io = kho_state_find_ioas(s, ioas);
	size_t i;

	for (i = 0; io && i < io->nr_maps; i++)
		if (io->maps[i].iova <= iova && iova - io->maps[i].iova < io->maps[i].length)
			return &io->maps[i];
	return NULL;
}

/* Page by page, and area by area: @s (IDs @ids) against the shadow. */
static int probe_model(const struct host *h, const struct kho_state *s,
		       const uint32_t *ids, const char *what, struct kho_diag *diag)
{
	unsigned int slot, p;

	for (slot = 0; slot < MDL_SLOTS; slot++) {
		const struct mdl_slot *sl = &h->s.slot[slot];
		const struct kho_ioas *io;

		if (!sl->live)
			continue;
		io = kho_state_find_ioas(s, ids[slot]);
		if (!io)
			return kho_diag_set(diag, -ENOENT, "%s: slot %u: no IOAS %u", what,
					    slot, ids[slot]);
		if (io->huge_pages != sl->huge_pages || io->nr_allowed != sl->nr_ranges)
			return kho_diag_set(diag, -EBADMSG,
					    "%s: slot %u: HUGE_PAGES %lld and %u allowed ranges, the shadow %d and %u",
					    what, slot, (long long)io->huge_pages,
					    io->nr_allowed, sl->huge_pages, sl->nr_ranges);
		for (p = 0; p < MDL_WIN_PAGES + MDL_MAX_LEN; p++) {
			uint64_t iova = MDL_WIN_BASE + p * MDL_PAGE;
			const struct mdl_area *a = mdl_shadow_find(sl, iova);
			const struct kho_mapping *m = model_find(s, ids[slot], iova);

			if (!a != !m || (a && (a->iova != m->iova || a->length != m->length ||
					       TOKEN(a->memfd) != m->memfd_token ||
					       a->offset != m->offset)))
				return kho_diag_set(diag, -EBADMSG,
						    "%s: slot %u: IOVA 0x%llx: the shadow has %s, the model %s",
						    what, slot, (unsigned long long)iova,
						    a ? "an area" : "a hole",
						    m ? "an area" : "a hole");
		}
	}
	return 0;
}

static int host_sequence(uint64_t seed, unsigned int exclude, unsigned long *calls,
			 unsigned long *partial, struct kho_diag *diag)
{
	struct kho_state folded, replayed;
	struct kho_journal plan, flat;
	uint32_t to_new[MAX_ID] = { 0 }, ids[MDL_SLOTS];
	struct mdl_rng rng;
	struct host h;
	size_t i, n = 8 + seed % 48;
	int ret;

	memset(&h, 0, sizeof(h));
	kho_state_init(&h.k);
	kho_state_init(&folded);
	kho_state_init(&replayed);
	kho_journal_init(&h.j);
	kho_journal_init(&plan);
	kho_journal_init(&flat);
	add_memfds(&h.k);
	add_memfds(&folded);
	add_memfds(&replayed);
	mdl_shadow_init(&h.s);
	mdl_rng_seed(&rng, seed);
	for (i = 0; i < n; i++) {
		struct mdl_call c;

		mdl_gen(&rng, &h.s, exclude, &c);
		ret = host_call(&h, &c);
		if (ret) {
			kho_diag_set(diag, ret, "call %zu: %s", i + 1, mdl_op_name(c.op));
			goto out;
		}
	}
	*calls += n;
	*partial += h.partial;
	ret = probe_model(&h, &h.k, h.id, "the model", diag);
	if (ret)
		goto out;
	ret = kho_compact(&h.j, &folded, &plan, diag);
	if (!ret)
		ret = kho_state_equal(&h.k, &folded, diag);
	if (!ret)
		ret = kho_plan_expand(&plan, &folded, &flat, diag);
	if (ret)
		goto out;
	/* Replay on a fresh model as the agent would: IDs translated. */
	for (i = 0; i < flat.nr; i++) {
		struct kho_rec r = flat.recs[i];
		uint32_t *id = r.op == KHO_OP_IOAS_ALLOC ? NULL :
			       r.op == KHO_OP_IOAS_ALLOW_IOVAS ? &r.allow_iovas.ioas_id :
			       r.op == KHO_OP_IOAS_MAP_FILE ? &r.map.ioas_id :
			       r.op == KHO_OP_OPTION ? &r.option.object_id : NULL;

		if (id && *id < MAX_ID)
			*id = to_new[*id];
		kho_state_predict(&replayed, &r);
		ret = kho_state_apply(&replayed, &r, diag);
		if (ret)
			goto out;
		if (r.op == KHO_OP_IOAS_ALLOC && flat.recs[i].ioas_alloc.out_ioas_id < MAX_ID)
			to_new[flat.recs[i].ioas_alloc.out_ioas_id] = r.ioas_alloc.out_ioas_id;
	}
	for (i = 0; i < MDL_SLOTS; i++)
		ids[i] = h.id[i] < MAX_ID ? to_new[h.id[i]] : 0;
	ret = probe_model(&h, &replayed, ids, "the replayed model", diag);
out:
	kho_journal_free(&h.j);
	kho_journal_free(&plan);
	kho_journal_free(&flat);
	kho_state_free(&h.k);
	kho_state_free(&folded);
	kho_state_free(&replayed);
	return ret;
}

/* Auto IOVAs and mock devices need the kernel: kho-model covers them. */
#define HOST_EXCLUDE (MDL_F_AUTO | MDL_F_MOCK)

KTEST(model_sequences_replay_to_the_same_pages_10000_seeds)
{
	unsigned long calls = 0, partial = 0;
	struct kho_diag diag = { "" };
	uint64_t seed;
	int ret;

	for (seed = 1; seed <= 10000; seed++) {
		ret = host_sequence(seed, HOST_EXCLUDE, &calls, &partial, &diag);
		if (ret)
			printf("#   seed %llu: %s\n", (unsigned long long)seed, diag.msg);
		ASSERT_EQ(0, ret);
	}
	printf("#   %lu calls, %lu partial UNMAPs journaled as the shorter one\n",
	       calls, partial);
	/* The generator must reach the cases the test is about. */
	ASSERT_TRUE(partial > 1000);
}

KTEST(model_generator_honours_exclusions)
{
	struct mdl_shadow s;
	struct mdl_rng rng;
	struct mdl_call c;
	unsigned int i, mask = 0;
	const char *bad;

	ASSERT_EQ(0, mdl_features_parse("allow,copy,cut,auto,option,va,file2,destroy,mock",
					 &mask, &bad));
	ASSERT_EQ(MDL_F_ALL, mask);
	ASSERT_EQ(-1, mdl_features_parse("allow,bogus", &mask, &bad));
	ASSERT_TRUE(!strcmp(bad, "bogus"));
	mdl_shadow_init(&s);
	s.slot[0].live = true;
	mdl_rng_seed(&rng, 7);
	for (i = 0; i < 20000; i++) {
		mdl_gen(&rng, &s, MDL_F_ALL, &c);
		ASSERT_TRUE(c.op == MDL_ALLOC || c.op == MDL_MAP_FILE ||
			    c.op == MDL_UNMAP || c.op == MDL_UNMAP_ALL);
		ASSERT_TRUE(c.op != MDL_MAP_FILE || (c.fixed && c.memfd == 0));
	}
}
