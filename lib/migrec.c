// SPDX-License-Identifier: LGPL-2.1-or-later
/* A device's DEVICE_MIG_STATE records: see migrec.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "compat.h"
#include <linux/vfio.h>

#include "devstate.h"
#include "journal.h"
#include "migrec.h"
#include "state.h"

int kho_migrec_append(struct kho_journal *plan, uint32_t dev_id,
		      const struct kho_device_state *saved,
		      uint64_t precopy_length)
{
	struct kho_rec r;
	uint32_t k;
	int err;

	if (saved->nr_path < 2 || saved->nr_path > KHO_DEVSTATE_PATH_MAX ||
	    precopy_length > saved->length)
		return -EINVAL;
	for (k = 1; k < saved->nr_path; k++) {
		memset(&r, 0, sizeof(r));
		r.op = KHO_OP_DEVICE_MIG_STATE;
		r.mig_state.dev_id = dev_id;
		r.mig_state.from = saved->path[k - 1];
		r.mig_state.to = saved->path[k];
		r.mig_state.length = saved->path[k] == VFIO_DEVICE_STATE_STOP_COPY ?
				     saved->length : precopy_length;
		r.mig_state.memfd_token = saved->memfd_token;
		r.mig_state.crc32 = saved->crc32;
		err = kho_journal_append(plan, &r);
		if (err)
			return err;
	}
	return 0;
}

const struct kho_rec *kho_migrec_find(const struct kho_journal *plan,
				      uint32_t dev_id, size_t *nr)
{
	const struct kho_rec *last = NULL;
	size_t i, n = 0;

	for (i = 0; i < plan->nr; i++) {
		const struct kho_rec *r = &plan->recs[i];

		if (r->op != KHO_OP_DEVICE_MIG_STATE ||
		    r->mig_state.dev_id != dev_id)
			continue;
		last = r;
		n++;
	}
	if (nr)
		*nr = n;
	return last;
}

/* Record @i, the @k-th of device @d's, against its node. */
static int check_one(const struct kho_handoff *h, const struct kho_device *d,
		     size_t i, uint32_t k, uint64_t prev_length,
		     struct kho_diag *diag)
{
	const struct kho_rec *r = &h->replay.recs[i];
	const struct kho_device_state *ds = &d->saved;

	if (k + 1 >= ds->nr_path || r->mig_state.from != ds->path[k] ||
	    r->mig_state.to != ds->path[k + 1])
		return kho_diag_set(diag, -EBADMSG,
				    "record %zu (DEVICE_MIG_STATE): device %u: arc %u %s -> %s is not arc %u of its fsm-path",
				    i, d->id, k, kho_devstate_name(r->mig_state.from),
				    kho_devstate_name(r->mig_state.to), k);
	if (r->mig_state.memfd_token != ds->memfd_token ||
	    r->mig_state.crc32 != ds->crc32)
		return kho_diag_set(diag, -EBADMSG,
				    "record %zu (DEVICE_MIG_STATE): device %u: memfd token %llu crc32 0x%08x, its device-state node says %llu and 0x%08x",
				    i, d->id,
				    (unsigned long long)r->mig_state.memfd_token,
				    r->mig_state.crc32,
				    (unsigned long long)ds->memfd_token, ds->crc32);
	if (r->mig_state.length < prev_length ||
	    r->mig_state.length > ds->length)
		return kho_diag_set(diag, -EBADMSG,
				    "record %zu (DEVICE_MIG_STATE): device %u: length %llu: not in %llu..%llu",
				    i, d->id,
				    (unsigned long long)r->mig_state.length,
				    (unsigned long long)prev_length,
				    (unsigned long long)ds->length);
	return 0;
}

/* A device with a device-state node, and how far its records got. */
struct progress {
	uint32_t id;
	uint32_t arcs;		/* its records seen so far */
	uint64_t length;	/* the last one's */
	const struct kho_device *d;
};

static int progress_cmp(const void *a, const void *b)
{
	uint32_t x = ((const struct progress *)a)->id;
	uint32_t y = ((const struct progress *)b)->id;

	return x < y ? -1 : x > y;
}

int kho_migrec_check(const struct kho_handoff *h, struct kho_diag *diag)
{
	const struct kho_state *s = &h->state;
	struct progress *tab, key, *p;
	size_t i, nr = 0, nr_recs = 0;
	int err = 0;

	for (i = 0; i < h->replay.nr; i++) {
		if (h->replay.recs[i].op != KHO_OP_DEVICE_MIG_STATE)
			continue;
		if (h->min_reader_version < KHO_FORMAT_VERSION_MIG_OP)
			return kho_diag_set(diag, -EBADMSG,
					    "record %zu (DEVICE_MIG_STATE): min-reader-version %u lets a reader that does not know the op refuse it as unknown (needs %u)",
					    i, h->min_reader_version,
					    KHO_FORMAT_VERSION_MIG_OP);
		nr_recs++;
	}
	if (!nr_recs)
		return 0;	/* a hand-off of format 6 or below: nothing to do */
	/* Sorted by ID: a blob of many devices and records stays O(n log n). */
	tab = calloc(s->nr_dev ? s->nr_dev : 1, sizeof(*tab));
	if (!tab)
		return -ENOMEM;
	for (i = 0; i < s->nr_dev; i++)
		if (s->dev[i].saved.present)
			tab[nr++] = (struct progress){ .id = s->dev[i].id,
						       .d = &s->dev[i] };
	qsort(tab, nr, sizeof(*tab), progress_cmp);
	for (i = 0; i < h->replay.nr && !err; i++) {
		const struct kho_rec *r = &h->replay.recs[i];

		if (r->op != KHO_OP_DEVICE_MIG_STATE)
			continue;
		key.id = r->mig_state.dev_id;
		p = bsearch(&key, tab, nr, sizeof(*tab), progress_cmp);
		if (!p) {
			err = kho_diag_set(diag, -EBADMSG,
					   "record %zu (DEVICE_MIG_STATE): device %u has no device-state node",
					   i, r->mig_state.dev_id);
			break;
		}
		err = check_one(h, p->d, i, p->arcs++, p->length, diag);
		p->length = r->mig_state.length;
	}
	for (i = 0; i < nr && !err; i++) {
		const struct kho_device_state *ds = &tab[i].d->saved;

		if (tab[i].arcs && (tab[i].arcs + 1 != ds->nr_path ||
				    tab[i].length != ds->length))
			err = kho_diag_set(diag, -EBADMSG,
					   "device %u: %u DEVICE_MIG_STATE records ending at %llu bytes, its fsm-path has %u arcs and %llu bytes",
					   tab[i].id, tab[i].arcs,
					   (unsigned long long)tab[i].length,
					   ds->nr_path - 1,
					   (unsigned long long)ds->length);
	}
	free(tab);
	return err;
}
