// SPDX-License-Identifier: LGPL-2.1-or-later
/* Adoption: the journal of a process that adopted a restore after kexec. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "adopt.h"
#include "compact.h"
#include "file.h"
#include "handoff.h"
#include "mdev.h"
#include "internal.h"
#include "kjournal.h"
#include "op.h"
#include "pci.h"
#include "state.h"

/*
 * Old ID -> new ID of one record's object references, inputs and outputs
 * alike (the op table says which fields they are): the plan record is
 * renamed whole.  A plan holds only ops with a replay phase.
 */
static int kho_record_adopt_ids(struct kho_rec *r, const struct kho_idmap *m)
{
	if (kho_op_phase(r->op) == KHO_PHASE_NONE)
		return -EBADMSG;
	return kho_rec_remap_idmap(r, KHO_OP_ID_IN | KHO_OP_ID_OUT, m);
}

/* The adopted memfd under its hand-off token, so the plan's records hold. */
static int kho_record_adopt_memfd(struct kho_record *rec,
				  const struct kho_adopt_memfd *am,
				  const struct kho_state *s)
{
	struct kho_record_memfd *m;
	struct stat st;
	uint64_t token;
	size_t i;
	int ret;

	if (fstat(am->fd, &st) < 0)
		return -errno;
	ret = kho_record_memfd_add(rec, am->fd, &st, &token);
	if (ret)
		return ret;
	m = kho_record_memfd_find(rec, st.st_dev, st.st_ino);
	m->token = am->token;
	rec->va_hit.end = 0;	/* it may have named the old token */
	for (i = 0; i < s->nr_memfd; i++)
		if (s->memfd[i].token == am->token)
			snprintf(m->name, sizeof(m->name), "%s", s->memfd[i].name);
	if (rec->next_token <= am->token)
		rec->next_token = am->token + 1;
	return 0;
}

/* The kernel names a memfd by inode; the recorder knows its token. */
static int kho_record_ino_to_token(void *ctx, uint64_t ino, uint64_t *token)
{
	const struct kho_record *rec = ctx;
	size_t i;

	for (i = 0; i < rec->nr_memfds; i++)
		if ((uint64_t)rec->memfds[i].ino == ino) {
			*token = rec->memfds[i].token;
			return 0;
		}
	return -ENOENT;
}

/*
 * Seeds the journal from the kernel's record of the adopted iommufd.
 * Called with the lock held, so the IOMMU_JOURNAL_READ calls pass the
 * wrapper unrecorded.  Return: -ENOTTY on a kernel without the journal
 * (the caller seeds from the plan), 0, or why it failed.
 */
/*
 * The kernel journals a device by its PCI address alone, so it records an
 * mdev's BIND with none: the device bound under that devid names it, as
 * the recorder would have.
 */
static void kho_record_name_mdevs(struct kho_record *rec)
{
	struct kho_rec *r;
	size_t i, k;

	for (i = 0; i < rec->journal.nr; i++) {
		r = &rec->journal.recs[i];
		if (r->op != KHO_OP_DEVICE_BIND ||
		    !kho_pci_is_none(&r->bind.pci))
			continue;
		for (k = 0; k < rec->nr_ofds; k++)
			if (rec->ofds[k].refs && rec->ofds[k].bound &&
			    rec->ofds[k].devid == r->bind.out_devid)
				memcpy(r->bind.mdev_uuid, rec->ofds[k].mdev.uuid,
				       sizeof(r->bind.mdev_uuid));
	}
}

/* Does the journal BIND every device this process holds bound? */
static bool kho_record_kjournal_binds_all(const struct kho_record *rec)
{
	size_t i, k;

	for (k = 0; k < rec->nr_ofds; k++) {
		if (!rec->ofds[k].refs || !rec->ofds[k].bound)
			continue;
		for (i = 0; i < rec->journal.nr; i++)
			if (rec->journal.recs[i].op == KHO_OP_DEVICE_BIND &&
			    rec->journal.recs[i].bind.out_devid ==
			    rec->ofds[k].devid)
				break;
		if (i == rec->journal.nr)
			return false;
	}
	return true;
}

static int kho_record_adopt_kjournal(struct kho_record *rec, int iommufd,
				     struct kho_diag *diag)
{
	struct kho_kjournal_status st;
	struct kho_diag why = { "" };
	int ret;

	ret = kho_kjournal_status(iommufd, false, &st);
	if (ret == -ENOTTY)
		return ret;
	if (ret)
		return kho_diag_set(diag, ret,
				    "adopt: iommufd fd %d: kernel journal status: %s",
				    iommufd, strerror(-ret));
	if (st.state != KHO_KJOURNAL_RECORDING &&
	    st.state != KHO_KJOURNAL_VERIFIED)
		return kho_diag_set(diag, -EBUSY,
				    "adopt: iommufd fd %d: kernel journal in state %u, not recording: the replay was not verified",
				    iommufd, st.state);
	ret = kho_kjournal_read(iommufd, false, kho_record_ino_to_token, rec,
				&rec->journal, NULL, &why);
	if (ret)
		return kho_diag_set(diag, ret,
				    "adopt: iommufd fd %d: reading the kernel journal: %s",
				    iommufd, why.msg[0] ? why.msg : strerror(-ret));
	/* as if recorded here: capture elides the kernel's journal alike */
	kho_journal_elide(&rec->journal, &rec->nr_elided);
	kho_record_name_mdevs(rec);
	/*
	 * The kernel journals iommufd devices; an emulated one (an mdev) is
	 * an iommufd access, whose BIND and ATTACH it does not record.  Its
	 * journal then lacks a device this process holds: start from the
	 * plan instead, which has it (the next capture on this kernel finds
	 * the two journals differ, and says so).
	 */
	if (!kho_record_kjournal_binds_all(rec)) {
		kho_journal_free(&rec->journal);
		kho_journal_init(&rec->journal);
		rec->nr_elided = 0;
		return -ENOTTY;
	}
	return 0;
}

static int kho_record_adopt_locked(struct kho_record *rec,
				   const struct kho_handoff *h,
				   const struct kho_adopt_set *set,
				   struct kho_diag *diag)
{
	struct kho_record_ofd *o;
	struct kho_journal plan;
	size_t i, j;
	int ret;

	if (rec->journal.nr || rec->ctx_ofd >= 0)
		return kho_diag_set(diag, -EEXIST,
				    "adopt: the journal already holds %zu records of another iommufd: the adopted one would be a second context",
				    rec->journal.nr);
	o = kho_record_classify(rec, set->iommufd, "/dev/iommu");
	if (!o || o->kind != KHO_RECORD_FD_IOMMUFD)
		return kho_diag_set(diag, -EBADF,
				    "adopt: iommufd fd %d: not an iommufd", set->iommufd);
	rec->ctx_ofd = o - rec->ofds;
	kho_record_hot_forget(rec);
	for (i = 0; i < set->nr_memfd; i++) {
		ret = kho_record_adopt_memfd(rec, &set->memfd[i], &h->state);
		if (ret)
			return kho_diag_set(diag, ret,
					    "adopt: memfd token %llu (fd %d): %s",
					    (unsigned long long)set->memfd[i].token,
					    set->memfd[i].fd, strerror(-ret));
	}
	for (i = 0; i < set->nr_dev; i++) {
		const struct kho_adopt_dev *d = &set->dev[i];

		o = kho_record_classify(rec, d->fd, d->cdev);
		if (!o || o->kind != KHO_RECORD_FD_VFIO_CDEV)
			return kho_diag_set(diag, -EBADF,
					    "adopt: device %u (fd %d, %s): not a VFIO cdev",
					    d->new_id, d->fd, d->cdev);
		o->bound = true;
		o->devid = d->new_id;
		o->attached_pt = d->new_hwpt;
		o->pci = d->pci;
		o->pci_known = true;
		for (j = 0; j < h->state.nr_dev; j++)
			if (h->state.dev[j].id == d->old_id) {
				snprintf(o->driver, sizeof(o->driver), "%s",
					 h->state.dev[j].driver);
				o->mdev = h->state.dev[j].mdev;
			}
	}
	/*
	 * On a kernel that journals, the adopted iommufd's own journal says
	 * what built it (after a kernel-verified restore: the whole preserved
	 * journal, not the plan), so the recorder starts from it and the next
	 * capture compares equal with the kernel record by record.
	 */
	ret = kho_record_adopt_kjournal(rec, set->iommufd, diag);
	if (ret != -ENOTTY) {
		if (ret)
			kho_record_reset(rec);
		return ret;
	}
	/*
	 * Elsewhere the journal starts as the plan the agent replayed, in the
	 * IDs the agent got: compacting it again yields the state this
	 * process adopted, and what it does from now on is recorded on top.
	 */
	ret = kho_plan_expand(&h->replay, &h->state, &plan, diag);
	if (ret)
		return ret;
	for (i = 0; i < plan.nr; i++) {
		ret = kho_record_adopt_ids(&plan.recs[i], &set->idmap);
		if (ret) {
			kho_diag_set(diag, ret,
				     "adopt: plan record %zu (%s): %s", i,
				     kho_op_name(plan.recs[i].op),
				     ret == -ENOENT ? "an object the agent did not rebuild" :
				     "not an op a plan holds");
			break;
		}
		ret = kho_journal_append(&rec->journal, &plan.recs[i]);
		if (ret) {
			kho_diag_set(diag, ret, "adopt: journal: out of memory");
			break;
		}
	}
	kho_journal_free(&plan);
	if (ret)
		kho_record_reset(rec);
	return ret;
}

int kho_record_adopt(struct kho_record *rec, const struct kho_handoff *h,
		     const struct kho_adopt_set *set, struct kho_diag *diag)
{
	int ret;

	kho_record_lock(rec);
	ret = kho_record_adopt_locked(rec, h, set, diag);
	if (ret)
		kho_record_break(rec, diag->msg);
	kho_record_unlock(rec);
	return ret;
}


/*
 * The hand-off comes with the set, as a sealed copy the agent made: a
 * VMM that is not root cannot read the agent's handoff.fdt (root, 0600).
 * Read from offset 0: the agent's copy and every peer's share the offset.
 */
void kho_record_adopted(const struct kho_adopt_set *set, void *ctx)
{
	struct kho_record *rec = ctx;
	struct kho_diag diag = { "" };
	struct kho_handoff h;
	size_t len = 0;
	void *blob = NULL;
	int ret;

	/* the recorder's own calls are not the VMM's */
	if (!rec || kho_record_busy())
		return;
	if (set->handoff_fd < 0) {
		fprintf(stderr, "kho-record: pid %d: adopt: the agent sent no copy of the hand-off: the adopted state is not recorded\n",
			getpid());
		return;
	}
	ret = lseek(set->handoff_fd, 0, SEEK_SET) < 0 ? -errno :
	      kho_read_fd_max(set->handoff_fd, KHO_HANDOFF_MAX, &blob, &len);
	if (ret) {
		fprintf(stderr, "kho-record: pid %d: adopt: reading the hand-off (fd %d): %s: the adopted state is not recorded\n",
			getpid(), set->handoff_fd, strerror(-ret));
		return;
	}
	ret = kho_handoff_decode(blob, len, &h, &diag);
	free(blob);
	if (!ret) {
		ret = kho_record_adopt(rec, &h, set, &diag);
		kho_handoff_free(&h);
	}
	if (ret)
		fprintf(stderr, "kho-record: pid %d: adopt: the agent's hand-off: %s\n",
			getpid(), diag.msg);
}
