// SPDX-License-Identifier: LGPL-2.1-or-later
/* A device's DEVICE_MIG_STATE records: see migrec.h. */
#include <errno.h>
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

int kho_migrec_check(const struct kho_handoff *h, struct kho_diag *diag)
{
	const struct kho_state *s = &h->state;
	const struct kho_device *d;
	size_t i, j;
	int err;

	for (i = 0; i < h->replay.nr; i++) {
		const struct kho_rec *r = &h->replay.recs[i];

		if (r->op != KHO_OP_DEVICE_MIG_STATE)
			continue;
		if (h->min_reader_version < KHO_FORMAT_VERSION_MIG_OP)
			return kho_diag_set(diag, -EBADMSG,
					    "record %zu (DEVICE_MIG_STATE): min-reader-version %u lets a reader that does not know the op refuse it as unknown (needs %u)",
					    i, h->min_reader_version,
					    KHO_FORMAT_VERSION_MIG_OP);
		d = kho_state_find_dev(s, r->mig_state.dev_id);
		if (!d || !d->saved.present)
			return kho_diag_set(diag, -EBADMSG,
					    "record %zu (DEVICE_MIG_STATE): device %u has no device-state node",
					    i, r->mig_state.dev_id);
	}
	/* Devices are few and so are their arcs: one pass per device. */
	for (j = 0; j < s->nr_dev; j++) {
		uint64_t length = 0;
		uint32_t k = 0;

		d = &s->dev[j];
		for (i = 0; i < h->replay.nr; i++) {
			const struct kho_rec *r = &h->replay.recs[i];

			if (r->op != KHO_OP_DEVICE_MIG_STATE ||
			    r->mig_state.dev_id != d->id)
				continue;
			err = check_one(h, d, i, k++, length, diag);
			if (err)
				return err;
			length = r->mig_state.length;
		}
		if (k && (k + 1 != d->saved.nr_path || length != d->saved.length))
			return kho_diag_set(diag, -EBADMSG,
					    "device %u: %u DEVICE_MIG_STATE records ending at %llu bytes, its fsm-path has %u arcs and %llu bytes",
					    d->id, k, (unsigned long long)length,
					    d->saved.nr_path - 1,
					    (unsigned long long)d->saved.length);
	}
	return 0;
}
