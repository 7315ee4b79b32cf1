// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Compaction: folds a journal into its live state and emits the ordered
 * replay plan that rebuilds exactly that state, in the cheapest legal order.
 */
#include <errno.h>
#include <string.h>

#include <linux/iommufd.h>

#include "compact.h"
#include "journal.h"
#include "state.h"

static int plan_add(struct kho_journal *plan, const struct kho_rec *rec)
{
	return kho_journal_append(plan, rec);
}

static int emit_ioas(struct kho_journal *plan, const struct kho_ioas *ioas)
{
	struct kho_rec r;
	size_t first;
	int ret;

	memset(&r, 0, sizeof(r));
	r.op = KHO_OP_IOAS_ALLOC;
	r.ioas_alloc.out_ioas_id = ioas->id;
	ret = plan_add(plan, &r);
	if (ret)
		return ret;
	if (ioas->nr_allowed) {
		memset(&r, 0, sizeof(r));
		r.op = KHO_OP_IOAS_ALLOW_IOVAS;
		r.allow_iovas.ioas_id = ioas->id;
		r.allow_iovas.num_iovas = ioas->nr_allowed;
		r.allow_iovas.iovas = ioas->allowed;	/* deep-copied */
		ret = plan_add(plan, &r);
		if (ret)
			return ret;
	}
	/* Before any map: disabling large pages is refused once a domain
	 * holds mappings (iopt_disable_large_pages()). */
	if (ioas->huge_pages >= 0) {
		memset(&r, 0, sizeof(r));
		r.op = KHO_OP_OPTION;
		r.option.option_id = IOMMU_OPTION_HUGE_PAGES;
		r.option.op = IOMMU_OPTION_OP_SET;
		r.option.object_id = ioas->id;
		r.option.val64 = ioas->huge_pages;
		ret = plan_add(plan, &r);
		if (ret)
			return ret;
	}
	for (first = 0; first < ioas->nr_maps; first += KHO_COMPACT_SLICE) {
		size_t n = ioas->nr_maps - first;

		memset(&r, 0, sizeof(r));
		r.op = KHO_OP_REPLAY_MAPPINGS;
		r.replay_maps.ioas_id = ioas->id;
		r.replay_maps.first = first;
		r.replay_maps.count = n > KHO_COMPACT_SLICE ? KHO_COMPACT_SLICE : n;
		ret = plan_add(plan, &r);
		if (ret)
			return ret;
	}
	return 0;
}

static int emit_plan(const struct kho_state *s, struct kho_journal *plan)
{
	struct kho_rec r;
	size_t i;
	int pass, ret;

	/*
	 * Every IOAS is filled before any device attaches: a map into an
	 * attached domain costs an IOTLB flush each, filling the domain on
	 * attach costs one pass (4.6x cheaper at 4,096 maps, RIG.md).
	 */
	for (i = 0; i < s->nr_ioas; i++) {
		ret = emit_ioas(plan, &s->ioas[i]);
		if (ret)
			return ret;
	}
	for (i = 0; i < s->nr_dev; i++) {
		memset(&r, 0, sizeof(r));
		r.op = KHO_OP_DEVICE_BIND;
		r.bind.pci = s->dev[i].pci;
		memcpy(r.bind.mdev_uuid, s->dev[i].mdev.uuid,
		       sizeof(r.bind.mdev_uuid));
		r.bind.out_devid = s->dev[i].id;
		ret = plan_add(plan, &r);
		if (ret)
			return ret;
	}
	/* Paging HWPTs first (pass 0), then HWPTs nested on them. */
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < s->nr_hwpt; i++) {
			const struct kho_hwpt *h = &s->hwpt[i];
			bool paging = kho_state_find_ioas(s, h->pt_id);

			if (h->auto_domain || paging != (pass == 0))
				continue;
			memset(&r, 0, sizeof(r));
			r.op = KHO_OP_HWPT_ALLOC;
			r.hwpt_alloc.flags = h->flags;
			r.hwpt_alloc.dev_id = h->dev_id;
			r.hwpt_alloc.pt_id = h->pt_id;
			r.hwpt_alloc.out_hwpt_id = h->id;
			r.hwpt_alloc.data_type = h->data_type;
			r.hwpt_alloc.data_len = h->data_len;
			r.hwpt_alloc.data = h->data;
			ret = plan_add(plan, &r);
			if (ret)
				return ret;
		}
	}
	for (i = 0; i < s->nr_dev; i++) {
		const struct kho_device *d = &s->dev[i];
		const struct kho_hwpt *h;

		if (!d->attached_pt)
			continue;
		h = kho_state_find_hwpt(s, d->attached_pt);
		if (!h && !kho_state_find_ioas(s, d->attached_pt))
			return -EBADMSG;
		memset(&r, 0, sizeof(r));
		r.op = KHO_OP_DEVICE_ATTACH;
		r.attach.dev_id = d->id;
		r.attach.flags = d->attach_flags;
		r.attach.pasid = d->pasid;
		/*
		 * An auto domain is recreated by attaching to its IOAS; an
		 * emulated device's access (no HWPT) by attaching to the IOAS,
		 * which the kernel answers with the IOAS's own ID.
		 */
		r.attach.pt_id = !h ? d->attached_pt :
				 h->auto_domain ? h->pt_id : h->id;
		r.attach.out_hwpt_id = h ? h->id : d->attached_pt;
		ret = plan_add(plan, &r);
		if (ret)
			return ret;
	}
	for (i = 0; i < s->nr_hwpt; i++) {
		if (!s->hwpt[i].dirty_tracking)
			continue;
		memset(&r, 0, sizeof(r));
		r.op = KHO_OP_HWPT_SET_DIRTY_TRACKING;
		r.dirty_tracking.flags = IOMMU_HWPT_DIRTY_TRACKING_ENABLE;
		r.dirty_tracking.hwpt_id = s->hwpt[i].id;
		ret = plan_add(plan, &r);
		if (ret)
			return ret;
	}
	return 0;
}

int kho_compact(const struct kho_journal *in, struct kho_state *state,
		struct kho_journal *plan, struct kho_diag *diag)
{
	struct kho_state_batch *b;
	struct kho_diag d = { "" };
	size_t i;
	int ret;

	kho_journal_init(plan);
	if (state->nr_ioas || state->nr_hwpt || state->nr_dev)
		return kho_diag_set(diag, -EINVAL,
				    "compact: EINVAL (the state must hold only memfds)");
	ret = kho_state_batch_begin(state, &b);
	if (ret)
		return ret;
	for (i = 0; i < in->nr; i++) {
		ret = kho_state_batch_apply(state, b, &in->recs[i], &d);
		if (ret) {
			kho_state_batch_abort(state, b);
			return kho_diag_set(diag, ret, "compact: journal record %zu (%s): %s",
					    i, kho_op_name(in->recs[i].op), d.msg);
		}
	}
	ret = kho_state_batch_end(state, b);
	if (ret)
		return ret;
	ret = emit_plan(state, plan);
	if (ret) {
		kho_journal_free(plan);
		return kho_diag_set(diag, ret, "compact: emitting the plan: %s",
				    ret == -ENOMEM ? "ENOMEM" : "EBADMSG (state inconsistent)");
	}
	return 0;
}

size_t kho_plan_ioctls(const struct kho_journal *plan)
{
	size_t i, n = 0;

	for (i = 0; i < plan->nr; i++) {
		const struct kho_rec *r = &plan->recs[i];

		/* a device's FSM arc is the agent's, after the replay */
		if (r->op == KHO_OP_DEVICE_MIG_STATE)
			continue;
		n += r->op == KHO_OP_REPLAY_MAPPINGS ? r->replay_maps.count : 1;
	}
	return n;
}

int kho_plan_expand(const struct kho_journal *plan,
		    const struct kho_state *state, struct kho_journal *out,
		    struct kho_diag *diag)
{
	size_t i, j;
	int ret;

	kho_journal_init(out);
	for (i = 0; i < plan->nr; i++) {
		const struct kho_rec *p = &plan->recs[i];
		const struct kho_ioas *ioas;

		/* a device's FSM arcs are no iommufd ioctl: not journalled */
		if (p->op == KHO_OP_DEVICE_MIG_STATE)
			continue;
		if (p->op != KHO_OP_REPLAY_MAPPINGS) {
			ret = kho_journal_append(out, p);
			if (ret)
				goto out_free;
			continue;
		}
		ioas = kho_state_find_ioas(state, p->replay_maps.ioas_id);
		if (!ioas || (size_t)p->replay_maps.first +
			     p->replay_maps.count > ioas->nr_maps) {
			ret = kho_diag_set(diag, -ENOENT,
					   "plan step %zu: REPLAY_MAPPINGS IOAS %u [%u, +%u): ENOENT (no such IOAS or mappings)",
					   i, p->replay_maps.ioas_id,
					   p->replay_maps.first, p->replay_maps.count);
			goto out_free;
		}
		for (j = p->replay_maps.first;
		     j < (size_t)p->replay_maps.first + p->replay_maps.count; j++) {
			const struct kho_mapping *m = &ioas->maps[j];
			struct kho_rec r;

			memset(&r, 0, sizeof(r));
			r.op = KHO_OP_IOAS_MAP_FILE;
			r.map.flags = m->flags | IOMMU_IOAS_MAP_FIXED_IOVA;
			r.map.ioas_id = ioas->id;
			r.map.memfd_token = m->memfd_token;
			r.map.offset = m->offset;
			r.map.length = m->length;
			r.map.iova = m->iova;
			ret = kho_journal_append(out, &r);
			if (ret)
				goto out_free;
		}
	}
	return 0;

out_free:
	kho_journal_free(out);
	return ret;
}

int kho_compact_handoff(const struct kho_handoff *h, struct kho_state *folded,
			struct kho_journal *plan, size_t *nr_expanded,
			struct kho_diag *diag)
{
	struct kho_journal expanded;
	size_t i;
	int ret;

	kho_state_init(folded);
	kho_journal_init(plan);
	*nr_expanded = 0;
	for (i = 0; i < h->state.nr_memfd; i++) {
		ret = kho_state_add_memfd(folded, &h->state.memfd[i]);
		if (ret) {
			ret = kho_diag_set(diag, ret, "memfd token %llu: %s",
					   (unsigned long long)h->state.memfd[i].token,
					   ret == -EEXIST ? "EEXIST (listed twice)" : "ENOMEM");
			goto out_free_state;
		}
	}
	ret = kho_plan_expand(&h->replay, &h->state, &expanded, diag);
	if (ret)
		goto out_free_state;
	*nr_expanded = expanded.nr;
	ret = kho_compact(&expanded, folded, plan, diag);
	if (!ret)
		ret = kho_state_equal(&h->state, folded, diag);
	/* The save's arcs are no state to fold: they stay as they were, last. */
	for (i = 0; !ret && i < h->replay.nr; i++)
		if (h->replay.recs[i].op == KHO_OP_DEVICE_MIG_STATE)
			ret = kho_journal_append(plan, &h->replay.recs[i]);
	kho_journal_free(&expanded);
	if (!ret)
		return 0;
	kho_journal_free(plan);
out_free_state:
	kho_state_free(folded);
	return ret;
}
