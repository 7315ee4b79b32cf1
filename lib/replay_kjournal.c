// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The kernel-verified replay: the hand-off carries the VMM's iommufd,
 * preserved by the patched kernel's "iommufd-journal-v2" LUO handler.  Its
 * RETRIEVE_FD gives an iommufd in RESTORING state that compares every
 * journaled ioctl with the next record of the journal it preserved and
 * refuses a deviation with EILSEQ before it runs.  So the replay here is
 * the whole journal as recorded, record by record and in order, not the
 * compacted plan of lib/replay.c: the kernel verifies what was recorded,
 * and an unmap cancelling a map must be replayed for the kernel to see it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/iommufd.h>
#include "compat.h"
#include <linux/vfio.h>

#include "journal.h"
#include "kjournal.h"
#include "replay.h"

int kho_replay_kjournal_ino_token(void *ctx, uint64_t ino, uint64_t *token)
{
	const struct kho_handoff_iommufd *io = ctx;
	size_t i;

	for (i = 0; i < io->nr_files; i++) {
		if (io->files[i].ino == ino) {
			*token = io->files[i].token;
			return 0;
		}
	}
	return -ENOENT;
}

static const char *state_name(uint32_t state)
{
	static const char *const names[] = {
		"RECORDING", "PRESERVED", "RESTORING", "VERIFIED", "DIVERGED",
	};

	return state < sizeof(names) / sizeof(names[0]) ? names[state] : "?";
}

int kho_replay_kjournal_load(int iommufd, const struct kho_handoff *h,
			     struct kho_journal *expected, uint32_t *matched,
			     struct kho_diag *diag)
{
	const struct kho_handoff_iommufd *io = &h->iommufd;
	struct kho_kjournal_status st;
	int err;

	err = kho_kjournal_status(iommufd, false, &st);
	if (err)
		return kho_diag_set(diag, err,
				    "kernel journal: iommufd token 0x%llx: status: %s%s",
				    (unsigned long long)io->token,
				    kho_errno_name(err),
				    err == -ENOTTY ? " (this kernel has no iommufd journal)" : "");
	if (st.state != KHO_KJOURNAL_RESTORING)
		return kho_diag_set(diag, -EPROTO,
				    "kernel journal: iommufd token 0x%llx: state %s, not RESTORING (%u of its records matched): the kernel would not verify a replay",
				    (unsigned long long)io->token,
				    state_name(st.state), st.matched);
	err = kho_kjournal_read(iommufd, true, kho_replay_kjournal_ino_token,
				(void *)io, expected, NULL, diag);
	if (err == -ENOENT)
		return kho_diag_set(diag, -EBADMSG,
				    "%s: the hand-off's file-tokens do not map it",
				    diag ? diag->msg : "kernel journal");
	if (err)
		return err;
	/*
	 * The kernel preserves its journal folded to the live state
	 * (patches/0004), so the count differs from the one captured; a
	 * journal of records that leaves nothing is the one thing that
	 * cannot be the hand-off's.
	 */
	if (!expected->nr && io->journal_length)
		return kho_diag_set(diag, -EBADMSG,
				    "kernel journal: iommufd token 0x%llx: the kernel preserved no record, the hand-off describes a journal of %llu",
				    (unsigned long long)io->token,
				    (unsigned long long)io->journal_length);
	*matched = st.matched;
	return 0;
}

int kho_replay_kjournal_verified(int iommufd, size_t nr, struct kho_diag *diag)
{
	struct kho_kjournal_status st;
	int err;

	err = kho_kjournal_status(iommufd, false, &st);
	if (err)
		return kho_diag_set(diag, err, "kernel journal: status after the replay: %s",
				    kho_errno_name(err));
	if (st.state != KHO_KJOURNAL_VERIFIED || st.matched != nr)
		return kho_diag_set(diag, -EPROTO,
				    "kernel journal: after %zu records the kernel says %s with %u matched, not VERIFIED with %zu",
				    nr, state_name(st.state), st.matched, nr);
	return 0;
}

/* --- the ops lib/replay.c does not replay (a plan never holds them) ------ */

static int map_old(struct kho_replay *r, uint32_t old_id, uint32_t *new_id,
		   const char *what, struct kho_diag *diag)
{
	if (!kho_idmap_lookup(&r->idmap, old_id, new_id))
		return 0;
	return kho_diag_set(diag, -ENOENT,
			    "replay: %s: object %u was never created by the replay",
			    what, old_id);
}

static int kjr_map_file(struct kho_replay *r, const struct kho_rec *rec,
			const struct kho_replay_memfd *memfds, size_t nr_memfds,
			struct kho_diag *diag)
{
	const struct kho_mapping m = {
		.iova = rec->map.iova,
		.length = rec->map.length,
		.offset = rec->map.offset,
		.memfd_token = rec->map.memfd_token,
	};
	uint32_t new_ioas;
	int err;

	err = map_old(r, rec->map.ioas_id, &new_ioas, "map", diag);
	if (err)
		return err;
	/* The recorded flags: the kernel compares them word by word. */
	return kho_replay_map(r, rec->map.ioas_id, new_ioas, &m, rec->map.flags,
			      kho_replay_memfd_find(memfds, nr_memfds,
						    rec->map.memfd_token),
			      diag);
}

static int kjr_copy(struct kho_replay *r, const struct kho_rec *rec,
		    struct kho_diag *diag)
{
	struct iommu_ioas_copy arg = {
		.size = sizeof(arg),
		.flags = rec->copy.flags,
		.length = rec->copy.length,
		.dst_iova = rec->copy.dst_iova,
		.src_iova = rec->copy.src_iova,
	};
	char why[96];
	int err;

	err = map_old(r, rec->copy.dst_ioas_id, &arg.dst_ioas_id, "copy", diag);
	if (!err)
		err = map_old(r, rec->copy.src_ioas_id, &arg.src_ioas_id,
			      "copy", diag);
	if (err)
		return err;
	err = kho_replay_ioctl(r, rec->op, r->iommufd, IOMMU_IOAS_COPY, &arg);
	if (err)
		return kho_diag_set(diag, err,
				    "replay: IOAS %u 0x%llx -> IOAS %u 0x%llx: copy 0x%llx: %s",
				    rec->copy.src_ioas_id,
				    (unsigned long long)rec->copy.src_iova,
				    rec->copy.dst_ioas_id,
				    (unsigned long long)rec->copy.dst_iova,
				    (unsigned long long)rec->copy.length,
				    kho_replay_cause(r, err, why, sizeof(why)));
	return 0;
}

static int kjr_unmap(struct kho_replay *r, const struct kho_rec *rec,
		     struct kho_diag *diag)
{
	struct iommu_ioas_unmap arg = {
		.size = sizeof(arg),
		.iova = rec->unmap.iova,
		.length = rec->unmap.length,
	};
	char why[96];
	int err;

	err = map_old(r, rec->unmap.ioas_id, &arg.ioas_id, "unmap", diag);
	if (err)
		return err;
	err = kho_replay_ioctl(r, rec->op, r->iommufd, IOMMU_IOAS_UNMAP, &arg);
	if (err)
		return kho_diag_set(diag, err,
				    "replay: IOAS %u: unmap 0x%llx+0x%llx: %s",
				    rec->unmap.ioas_id,
				    (unsigned long long)rec->unmap.iova,
				    (unsigned long long)rec->unmap.length,
				    kho_replay_cause(r, err, why, sizeof(why)));
	/* The kernel cannot refuse an unmap that ran: it marks DIVERGED. */
	if (arg.length != rec->unmap.out_length)
		return kho_diag_set(diag, -EBADMSG,
				    "replay: IOAS %u: unmap 0x%llx+0x%llx removed 0x%llx bytes, the journal recorded 0x%llx: the iommufd diverged",
				    rec->unmap.ioas_id,
				    (unsigned long long)rec->unmap.iova,
				    (unsigned long long)rec->unmap.length,
				    (unsigned long long)arg.length,
				    (unsigned long long)rec->unmap.out_length);
	return 0;
}

/* Forgets a device the replay bound: its fd is closed by the caller. */
static void drop_dev(struct kho_replay *r, struct kho_replay_dev *dev)
{
	size_t idx = dev - r->dev;

	memmove(dev, dev + 1, (r->nr_dev - idx - 1) * sizeof(*dev));
	r->nr_dev--;
}

/*
 * DESTROY of a device is its unbind, which the kernel records when the
 * device fd is released: close the only fd of it this process holds.
 */
static int kjr_destroy(struct kho_replay *r, const struct kho_rec *rec,
		       struct kho_diag *diag)
{
	struct kho_replay_dev *dev = kho_replay_find_dev(r, rec->destroy.id);
	struct iommu_destroy arg = { .size = sizeof(arg) };
	char why[96];
	int err;

	if (dev) {
		r->stat[KHO_OP_DESTROY].calls++;
		if (dev->fd >= 0 && close(dev->fd))
			err = -errno;
		else
			err = 0;
		dev->fd = -1;
		drop_dev(r, dev);
		if (err)
			return kho_diag_set(diag, err,
					    "replay: device %u: unbind (close its cdev): %s",
					    rec->destroy.id, kho_errno_name(err));
		return kho_replay_idmap_forget(&r->idmap, rec->destroy.id);
	}
	err = map_old(r, rec->destroy.id, &arg.id, "destroy", diag);
	if (err)
		return err;
	err = kho_replay_ioctl(r, rec->op, r->iommufd, IOMMU_DESTROY, &arg);
	if (err)
		return kho_diag_set(diag, err, "replay: object %u: destroy: %s",
				    rec->destroy.id,
				    kho_replay_cause(r, err, why, sizeof(why)));
	return kho_replay_idmap_forget(&r->idmap, rec->destroy.id);
}

static int kjr_detach(struct kho_replay *r, const struct kho_rec *rec,
		      struct kho_diag *diag)
{
	struct kho_replay_dev *dev = kho_replay_find_dev(r, rec->detach.dev_id);
	struct vfio_device_detach_iommufd_pt arg = {
		.argsz = sizeof(arg),
		.flags = rec->detach.flags,
		.pasid = rec->detach.pasid,
	};
	char why[96];
	int err;

	if (!dev || dev->fd < 0)
		return kho_diag_set(diag, -ENOENT,
				    "replay: device %u: detach: the device was never bound",
				    rec->detach.dev_id);
	err = kho_replay_ioctl(r, rec->op, dev->fd,
			       VFIO_DEVICE_DETACH_IOMMUFD_PT, &arg);
	if (err)
		return kho_diag_set(diag, err, "replay: device %u (%s): detach: %s",
				    rec->detach.dev_id, dev->cdev,
				    kho_replay_cause(r, err, why, sizeof(why)));
	dev->old_hwpt = 0;
	dev->new_hwpt = 0;
	return 0;
}

/* A bind that failed leaves no device: the retry opens it again. */
static int kjr_bind(struct kho_replay *r, const struct kho_handoff *h,
		    const struct kho_rec *rec, struct kho_diag *diag)
{
	size_t nr = r->nr_dev;
	int err = kho_replay_bind(r, h, rec, diag);

	if (err && r->nr_dev > nr) {
		struct kho_replay_dev *dev = &r->dev[r->nr_dev - 1];

		if (dev->fd >= 0)
			close(dev->fd);
		r->nr_dev--;
	}
	return err;
}

static int kjr_attach(struct kho_replay *r, const struct kho_rec *rec,
		      struct kho_diag *diag)
{
	struct kho_replay_dev *dev;
	int err = kho_replay_attach(r, rec, diag);

	dev = kho_replay_find_dev(r, rec->attach.dev_id);
	if (!err && dev)
		dev->old_hwpt = rec->attach.out_hwpt_id ?
				rec->attach.out_hwpt_id : rec->attach.pt_id;
	return err;
}

static int kjr_record(struct kho_replay *r, const struct kho_handoff *h,
		      const struct kho_rec *rec,
		      const struct kho_replay_memfd *memfds, size_t nr_memfds,
		      struct kho_diag *diag)
{
	switch (rec->op) {
	case KHO_OP_IOAS_ALLOC:
		return kho_replay_ioas_alloc(r, rec, diag);
	case KHO_OP_DESTROY:
		return kjr_destroy(r, rec, diag);
	case KHO_OP_IOAS_ALLOW_IOVAS:
		return kho_replay_allow(r, rec, diag);
	case KHO_OP_IOAS_MAP_FILE:
		return kjr_map_file(r, rec, memfds, nr_memfds, diag);
	case KHO_OP_IOAS_COPY:
		return kjr_copy(r, rec, diag);
	case KHO_OP_IOAS_UNMAP:
		return kjr_unmap(r, rec, diag);
	case KHO_OP_OPTION:
		return kho_replay_option(r, rec, diag);
	case KHO_OP_HWPT_ALLOC:
		return kho_replay_hwpt_alloc(r, rec, diag);
	case KHO_OP_HWPT_SET_DIRTY_TRACKING:
		return kho_replay_dirty(r, rec, diag);
	case KHO_OP_DEVICE_BIND:
		return kjr_bind(r, h, rec, diag);
	case KHO_OP_DEVICE_ATTACH:
		return kjr_attach(r, rec, diag);
	case KHO_OP_DEVICE_DETACH:
		return kjr_detach(r, rec, diag);
	}
	return kho_diag_set(diag, -EOPNOTSUPP, "replay: %s cannot be replayed",
			    kho_op_name(rec->op));
}

/*
 * The deviate_at test hook: the record replayed one page off its recorded
 * IOVA.  The kernel compares before the map runs, so nothing changes.
 */
static int kjr_deviate(struct kho_replay *r, const struct kho_handoff *h,
		       const struct kho_rec *rec,
		       const struct kho_replay_memfd *memfds, size_t nr_memfds,
		       struct kho_diag *diag)
{
	struct kho_rec bent = *rec;

	if (rec->op != KHO_OP_IOAS_MAP_FILE)
		return kho_diag_set(diag, -EINVAL,
				    "deviate-at: the record is %s, not an IOAS_MAP_FILE",
				    kho_op_name(rec->op));
	bent.map.iova += 4096;
	return kjr_record(r, h, &bent, memfds, nr_memfds, diag);
}

int kho_replay_kjournal(struct kho_replay *r, const struct kho_handoff *h,
			const struct kho_journal *journal, size_t start,
			const struct kho_replay_memfd *memfds, size_t nr_memfds,
			struct kho_diag *diag)
{
	struct kho_diag sub = { "" };
	char what[256];
	size_t i;
	int err;

	if (r->iommufd < 0)
		return kho_diag_set(diag, -EINVAL,
				    "replay: no restoring iommufd to replay into");
	r->remap_outputs = true;
	for (i = start; i < journal->nr; i++) {
		const struct kho_rec *rec = &journal->recs[i];

		/*
		 * Steps are records (1-based), so that kho_replay_ioctl()
		 * injects r->fail_at at the record of that number; records
		 * that issue no ioctl (an unbind is a close) check it here.
		 */
		r->steps = i;
		if (r->fail_at && i + 1 == r->fail_at)
			err = kho_diag_set(&sub, -EIO,
					   "EIO (injected failure before record %zu)",
					   i + 1);
		else if (r->deviate_at && i + 1 == r->deviate_at)
			err = kjr_deviate(r, h, rec, memfds, nr_memfds, &sub);
		else
			err = kjr_record(r, h, rec, memfds, nr_memfds, &sub);
		if (!err) {
			if (r->checkpoint && rec->op != KHO_OP_IOAS_MAP_FILE &&
			    rec->op != KHO_OP_IOAS_UNMAP)
				r->checkpoint(r);
			continue;
		}
		kho_rec_format(rec, what, sizeof(what));
		/* Only a deviation fails with EILSEQ: nothing else does. */
		return kho_diag_set(diag, err,
				    "replay: record %zu of %zu (%s): %s%s",
				    i + 1, journal->nr, what,
				    strncmp(sub.msg, "replay: ", 8) ? sub.msg :
				    sub.msg + 8,
				    err == -EILSEQ ? ": the kernel refused it: the replay deviates from the preserved journal" : "");
	}
	r->steps = journal->nr;
	return 0;
}
