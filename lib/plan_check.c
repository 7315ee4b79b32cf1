// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The plan check: every object a replay plan names must exist, be of the
 * right kind and be alive when its record runs, checked before the first
 * ioctl so that a plan that cannot be replayed is never found out after a
 * device was bound.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "compact.h"
#include "idmap.h"
#include "journal.h"

/* One ID of the iommufd's namespace, as the plan leaves it so far. */
struct plan_obj {
	uint32_t id;
	uint32_t kind;		/* enum kho_obj_kind */
	size_t born;		/* the record that created it */
	size_t died;		/* the record that destroyed it, or SIZE_MAX */
};

struct plan_objs {
	struct plan_obj *obj;
	size_t nr;
	size_t cap;
};

/*
 * Linear, as the replay's ID map is: a plan creates a handful of IOASes,
 * HWPTs and devices; its thousands of mappings create nothing.
 */
static struct plan_obj *plan_find(const struct plan_objs *t, uint32_t id)
{
	size_t i;

	for (i = t->nr; i-- > 0;)
		if (t->obj[i].id == id)
			return &t->obj[i];
	return NULL;
}

static const char *born(const struct plan_obj *o, char *buf, size_t len)
{
	if (o->born == SIZE_MAX)
		return "before the plan";
	snprintf(buf, len, "by record %zu", o->born);
	return buf;
}

static int plan_add(struct plan_objs *t, size_t i, const struct kho_rec *rec,
		    const char *what, uint32_t kind, uint32_t id,
		    struct kho_diag *diag)
{
	struct plan_obj *o = plan_find(t, id);
	char buf[32];

	if (!id)
		return kho_diag_set(diag, -EBADMSG,
				    "plan record %zu (%s): %s: ID 0 (the kernel never hands it out)",
				    i, kho_op_name(rec->op), what);
	if (o && o->died == SIZE_MAX)
		return kho_diag_set(diag, -EBADMSG,
				    "plan record %zu (%s): %s %u: the ID already names the %s made %s",
				    i, kho_op_name(rec->op), what, id,
				    kho_obj_kind_name(o->kind), born(o, buf, sizeof(buf)));
	if (t->nr == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		struct plan_obj *obj = realloc(t->obj, cap * sizeof(*obj));

		if (!obj)
			return -ENOMEM;
		t->obj = obj;
		t->cap = cap;
	}
	t->obj[t->nr++] = (struct plan_obj){ id, kind, i, SIZE_MAX };
	return 0;
}

/*
 * @id must name a live object of @kind (or of @kind2, when non-zero) at
 * record @i.  A destroyed object, one made by a later record (a cycle:
 * an object whose parent is itself or made after it) and one never made
 * are each named.
 */
static int plan_use(const struct plan_objs *t, const struct kho_handoff *h,
		    size_t i, const char *what, uint32_t id, uint32_t kind,
		    uint32_t kind2, struct kho_diag *diag)
{
	const struct kho_rec *rec = &h->replay.recs[i];
	const struct plan_obj *o = plan_find(t, id);
	char buf[32];
	size_t j;

	if (o && o->died != SIZE_MAX)
		return kho_diag_set(diag, -ENOENT,
				    "plan record %zu (%s): %s %u: ENOENT (destroyed by record %zu before this use)",
				    i, kho_op_name(rec->op), what, id, o->died);
	if (!o) {
		/* Made later in the plan: a forward reference or a cycle. */
		for (j = i; j < h->replay.nr; j++) {
			const struct kho_rec *n = &h->replay.recs[j];

			if ((n->op == KHO_OP_IOAS_ALLOC &&
			     n->ioas_alloc.out_ioas_id == id) ||
			    (n->op == KHO_OP_HWPT_ALLOC &&
			     n->hwpt_alloc.out_hwpt_id == id) ||
			    (n->op == KHO_OP_DEVICE_BIND &&
			     n->bind.out_devid == id))
				return kho_diag_set(diag, -ENOENT,
						    "plan record %zu (%s): %s %u: ENOENT (made only by record %zu%s: the plan uses it before it exists)",
						    i, kho_op_name(rec->op), what,
						    id, j, j == i ? ", this one (it names itself)" : "");
		}
		return kho_diag_set(diag, -ENOENT,
				    "plan record %zu (%s): %s %u: ENOENT (no record of the plan makes it)",
				    i, kho_op_name(rec->op), what, id);
	}
	if (o->kind != kind && (!kind2 || o->kind != kind2))
		return kho_diag_set(diag, -EINVAL,
				    "plan record %zu (%s): %s %u: EINVAL (the %s made %s, where %s is needed)",
				    i, kho_op_name(rec->op), what, id,
				    kho_obj_kind_name(o->kind), born(o, buf, sizeof(buf)),
				    kind2 ? "an IOAS or HWPT" :
				    kind == KHO_OBJ_IOAS ? "an IOAS" :
				    kind == KHO_OBJ_HWPT ? "a HWPT" : "a device");
	return 0;
}

static int plan_check_rec(struct plan_objs *t, const struct kho_handoff *h,
			  size_t i, struct kho_diag *diag)
{
	const struct kho_rec *rec = &h->replay.recs[i];
	struct plan_obj *o;
	int err;

	switch (rec->op) {
	case KHO_OP_IOAS_ALLOC:
		return plan_add(t, i, rec, "IOAS", KHO_OBJ_IOAS,
				rec->ioas_alloc.out_ioas_id, diag);
	case KHO_OP_DESTROY:
		o = plan_find(t, rec->destroy.id);
		if (!o || o->died != SIZE_MAX)
			return plan_use(t, h, i, "object", rec->destroy.id,
					KHO_OBJ_IOAS, 0, diag);
		o->died = i;
		return 0;
	case KHO_OP_IOAS_ALLOW_IOVAS:
		return plan_use(t, h, i, "IOAS", rec->allow_iovas.ioas_id,
				KHO_OBJ_IOAS, 0, diag);
	case KHO_OP_IOAS_MAP:
	case KHO_OP_IOAS_MAP_FILE:
		return plan_use(t, h, i, "IOAS", rec->map.ioas_id,
				KHO_OBJ_IOAS, 0, diag);
	case KHO_OP_REPLAY_MAPPINGS:
		return plan_use(t, h, i, "IOAS", rec->replay_maps.ioas_id,
				KHO_OBJ_IOAS, 0, diag);
	case KHO_OP_IOAS_COPY:
		err = plan_use(t, h, i, "source IOAS", rec->copy.src_ioas_id,
			       KHO_OBJ_IOAS, 0, diag);
		return err ? err : plan_use(t, h, i, "IOAS",
					    rec->copy.dst_ioas_id,
					    KHO_OBJ_IOAS, 0, diag);
	case KHO_OP_IOAS_UNMAP:
		return plan_use(t, h, i, "IOAS", rec->unmap.ioas_id,
				KHO_OBJ_IOAS, 0, diag);
	case KHO_OP_OPTION:
		/* Object 0 is the global RLIMIT_MODE option. */
		return rec->option.object_id ?
			plan_use(t, h, i, "IOAS", rec->option.object_id,
				 KHO_OBJ_IOAS, 0, diag) : 0;
	case KHO_OP_DEVICE_BIND:
		return plan_add(t, i, rec, "device", KHO_OBJ_DEVICE,
				rec->bind.out_devid, diag);
	case KHO_OP_HWPT_ALLOC:
		err = plan_use(t, h, i, "device", rec->hwpt_alloc.dev_id,
			       KHO_OBJ_DEVICE, 0, diag);
		if (!err)
			err = plan_use(t, h, i, "pt", rec->hwpt_alloc.pt_id,
				       KHO_OBJ_IOAS, KHO_OBJ_HWPT, diag);
		return err ? err : plan_add(t, i, rec, "HWPT", KHO_OBJ_HWPT,
					    rec->hwpt_alloc.out_hwpt_id, diag);
	case KHO_OP_DEVICE_ATTACH:
		err = plan_use(t, h, i, "device", rec->attach.dev_id,
			       KHO_OBJ_DEVICE, 0, diag);
		if (!err)
			err = plan_use(t, h, i, "pt", rec->attach.pt_id,
				       KHO_OBJ_IOAS, KHO_OBJ_HWPT, diag);
		/*
		 * An emulated device's (an mdev's) access attaches to the IOAS
		 * itself: the kernel answers with the IOAS's ID, no HWPT.
		 */
		if (err || !rec->attach.out_hwpt_id ||
		    rec->attach.out_hwpt_id == rec->attach.pt_id)
			return err;
		/* Attaching to an IOAS makes (or shares) an automatic HWPT. */
		o = plan_find(t, rec->attach.out_hwpt_id);
		if (o && o->died == SIZE_MAX)
			return plan_use(t, h, i, "HWPT", rec->attach.out_hwpt_id,
					KHO_OBJ_HWPT, 0, diag);
		return plan_add(t, i, rec, "HWPT", KHO_OBJ_HWPT,
				rec->attach.out_hwpt_id, diag);
	case KHO_OP_DEVICE_DETACH:
		return plan_use(t, h, i, "device", rec->detach.dev_id,
				KHO_OBJ_DEVICE, 0, diag);
	case KHO_OP_HWPT_SET_DIRTY_TRACKING:
		return plan_use(t, h, i, "HWPT", rec->dirty_tracking.hwpt_id,
				KHO_OBJ_HWPT, 0, diag);
	case KHO_OP_DEVICE_MIG_STATE:
		return plan_use(t, h, i, "device", rec->mig_state.dev_id,
				KHO_OBJ_DEVICE, 0, diag);
	}
	/* Ops the replay cannot carry are refused by it, by name. */
	return 0;
}

int kho_plan_check(const struct kho_handoff *h, const struct kho_idmap *known,
		   struct kho_diag *diag)
{
	struct plan_objs t = { NULL, 0, 0 };
	size_t i;
	int err = 0;

	/* Objects the caller made before the plan runs (a resumed replay). */
	if (known && known->nr) {
		t.obj = calloc(known->nr, sizeof(*t.obj));
		if (!t.obj)
			return -ENOMEM;
		t.cap = known->nr;
		for (i = 0; i < known->nr; i++)
			t.obj[t.nr++] = (struct plan_obj){
				known->ent[i].old_id, known->ent[i].kind,
				SIZE_MAX, SIZE_MAX };
	}

	for (i = 0; i < h->replay.nr && !err; i++)
		err = plan_check_rec(&t, h, i, diag);
	free(t.obj);
	return err;
}
