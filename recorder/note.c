// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The full path: any call the fast path does not take is canonicalised
 * and journaled here, mappings that cannot cross kexec are refused, and
 * a failed UNMAP journals what it may have removed.
 */
#include <errno.h>
#include <inttypes.h>
#include <linux/iommufd.h>
#include "compat.h"
#include <linux/vfio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compact.h"
#include "internal.h"
#include "state.h"

static void kho_record_refuse(struct kho_record *rec, uint32_t ioas_id,
			      uint64_t iova, uint64_t length, const char *why)
{
	struct kho_record_refused *p;

	p = realloc(rec->refused, (rec->nr_refused + 1) * sizeof(*p));
	if (!p) {
		kho_record_break(rec, "recording a refused mapping: out of memory");
		return;
	}
	rec->refused = p;
	p = &rec->refused[rec->nr_refused++];
	p->ioas_id = ioas_id;
	p->iova = iova;
	p->length = length;
	snprintf(p->why, sizeof(p->why), "IOAS %u: IOVA 0x%" PRIx64 "+0x%"
		 PRIx64 ": %s", ioas_id, iova, length, why);
}

/*
 * Drops the refused mappings an UNMAP removed (the kernel removes the
 * areas inside [iova, iova + length)); Return: the bytes they covered.
 */
static uint64_t kho_record_unrefuse(struct kho_record *rec, uint32_t ioas_id,
				    uint64_t iova, uint64_t length)
{
	uint64_t last = length ? iova + length - 1 : iova, gone = 0;
	size_t i = 0;

	if (!rec->nr_refused)		/* every UNMAP asks: answer fast */
		return 0;
	if (last < iova)
		last = UINT64_MAX;
	while (i < rec->nr_refused) {
		struct kho_record_refused *r = &rec->refused[i];

		if (r->ioas_id == ioas_id &&
		    r->iova >= iova && r->iova + r->length - 1 <= last) {
			gone += r->length;
			*r = rec->refused[--rec->nr_refused];
			continue;
		}
		i++;
	}
	return gone;
}

static const struct kho_record_refused *
kho_record_refused_in(struct kho_record *rec, uint32_t ioas_id, uint64_t iova,
		      uint64_t length)
{
	size_t i;

	for (i = 0; i < rec->nr_refused; i++) {
		const struct kho_record_refused *r = &rec->refused[i];

		if (r->ioas_id == ioas_id && iova < r->iova + r->length &&
		    r->iova < iova + length)
			return r;
	}
	return NULL;
}

/* The ioctls canonicalisation knows; the rest never reach it. */
bool kho_record_cmd_known(unsigned long cmd)
{
	switch (cmd) {
	case IOMMU_DESTROY:
	case IOMMU_IOAS_ALLOC:
	case IOMMU_IOAS_ALLOW_IOVAS:
	case IOMMU_IOAS_MAP:
	case IOMMU_IOAS_MAP_FILE:
	case IOMMU_IOAS_COPY:
	case IOMMU_IOAS_UNMAP:
	case IOMMU_OPTION:
	case IOMMU_HWPT_ALLOC:
	case IOMMU_HWPT_SET_DIRTY_TRACKING:
	case IOMMU_VIOMMU_ALLOC:
	case IOMMU_VDEVICE_ALLOC:
	case IOMMU_FAULT_QUEUE_ALLOC:
	case IOMMU_VEVENTQ_ALLOC:
	case IOMMU_HW_QUEUE_ALLOC:
	case IOMMU_VFIO_IOAS:
	case VFIO_DEVICE_BIND_IOMMUFD:
	case VFIO_DEVICE_ATTACH_IOMMUFD_PT:
	case VFIO_DEVICE_DETACH_IOMMUFD_PT:
		return true;
	}
	return false;
}

/*
 * Handles what canonicalisation cannot see: refused mappings and the
 * requested UNMAP length.  Return: 1 if the call must not be journaled,
 * 0 to canonicalise it.
 */
static int kho_record_pre_canon(struct kho_record *rec, unsigned long cmd,
				const void *arg,
				const struct kho_record_call *call)
{
	if (cmd == IOMMU_IOAS_UNMAP) {
		const struct iommu_ioas_unmap *u = arg;
		uint64_t len = call && call->cmd == cmd && call->in_len ?
			((const struct iommu_ioas_unmap *)call->in)->length :
			u->length;
		uint64_t gone = kho_record_unrefuse(rec, u->ioas_id, u->iova,
						    len);

		/* removed only refused areas: the journal never had them */
		return gone && gone == u->length;
	}
	if (cmd == IOMMU_IOAS_COPY) {
		const struct iommu_ioas_copy *c = arg;
		const struct kho_record_refused *r =
			kho_record_refused_in(rec, c->src_ioas_id, c->src_iova,
					      c->length);
		char why[400];

		if (!r)
			return 0;
		snprintf(why, sizeof(why), "copy of a refused mapping (%s)",
			 r->why);
		kho_record_refuse(rec, c->dst_ioas_id, c->dst_iova, c->length,
				  why);
		return 1;
	}
	if (cmd == IOMMU_DESTROY) {
		const struct iommu_destroy *d = arg;

		kho_record_unrefuse(rec, d->id, 0, UINT64_MAX);
	}
	return 0;
}

/* Notes a mapping canonicalisation refused, from the kernel's outputs. */
static void kho_record_refuse_map(struct kho_record *rec, unsigned long cmd,
				  const void *arg, const char *why)
{
	if (cmd == IOMMU_IOAS_MAP) {
		const struct iommu_ioas_map *m = arg;

		kho_record_refuse(rec, m->ioas_id, m->iova, m->length, why);
	} else if (cmd == IOMMU_IOAS_MAP_FILE) {
		const struct iommu_ioas_map_file *m = arg;

		kho_record_refuse(rec, m->ioas_id, m->iova, m->length, why);
	} else {
		kho_record_break(rec, why);
	}
}

/* Bookkeeping from a journaled record: device binding and attachment. */
static void kho_record_track(struct kho_record *rec, int fd,
			     struct kho_record_ofd *o, struct kho_rec *r)
{
	switch (r->op) {
	case KHO_OP_DEVICE_BIND:
		o->bound = true;
		o->devid = r->bind.out_devid;
		break;
	case KHO_OP_DEVICE_ATTACH:
		o->attached_pt = r->attach.out_hwpt_id ? r->attach.out_hwpt_id :
			r->attach.pt_id;
		break;
	case KHO_OP_DEVICE_DETACH:
		o->attached_pt = 0;
		break;
	}
}

int kho_record_note_locked(struct kho_record *rec, int fd, unsigned long cmd,
			   const void *arg, const struct kho_record_call *call)
{
	struct kho_record_ofd *o = kho_record_classify(rec, fd, NULL);
	struct kho_diag diag;
	struct kho_rec r;
	int ctx, ret;

	/* not "= { "" }": zeroing 512 bytes per ioctl shows on the hot path */
	diag.msg[0] = 0;

	if (rec->serve_pending)
		kho_record_maybe_serve(rec);
	if (!o || (o->kind != KHO_RECORD_FD_IOMMUFD &&
		   o->kind != KHO_RECORD_FD_VFIO_CDEV) ||
	    !kho_record_cmd_known(cmd) || !arg)
		return 0;
	/* one iommufd context per journal: IDs are per context */
	if (o->kind == KHO_RECORD_FD_IOMMUFD) {
		ctx = o - rec->ofds;
		if (rec->ctx_ofd < 0)
			rec->ctx_ofd = ctx;
		else if (rec->ctx_ofd != ctx) {
			snprintf(diag.msg, sizeof(diag.msg),
				 "fd %d: a second iommufd is in use; the hand-off carries one iommufd context",
				 fd);
			kho_record_break(rec, diag.msg);
			return -EOPNOTSUPP;
		}
	} else if (cmd == VFIO_DEVICE_BIND_IOMMUFD) {
		const struct vfio_device_bind_iommufd *b = arg;
		struct kho_record_ofd *io = kho_record_classify(rec, b->iommufd,
								NULL);

		if (io && io->kind == KHO_RECORD_FD_IOMMUFD) {
			ctx = io - rec->ofds;
			if (rec->ctx_ofd < 0)
				rec->ctx_ofd = ctx;
			if (rec->ctx_ofd != ctx) {
				snprintf(diag.msg, sizeof(diag.msg),
					 "device fd %d: bound to a second iommufd (fd %d)",
					 fd, b->iommufd);
				kho_record_break(rec, diag.msg);
				return -EOPNOTSUPP;
			}
		}
	}
	if (kho_record_pre_canon(rec, cmd, arg, call))
		return 0;
	/* kho_canon_ioctl_inout() clears @r before it fills it */
	ret = kho_canon_ioctl_inout(&rec->canon, fd, cmd,
				    call && call->cmd == cmd && call->in_len ?
				    call->in : NULL, arg, &r, &diag);
	if (ret == KHO_CANON_NOT_JOURNALED)
		return 0;
	if (ret == -EOPNOTSUPP) {
		kho_record_refuse_map(rec, cmd, arg, diag.msg);
		return ret;
	}
	if (ret < 0) {
		char why[sizeof(diag.msg) + 64];

		snprintf(why, sizeof(why), "fd %d: ioctl 0x%lx: %s: %s", fd,
			 cmd, diag.msg[0] ? diag.msg : "cannot canonicalise",
			 strerror(-ret));
		kho_record_break(rec, why);
		return ret;
	}
	ret = kho_journal_append_elided(&rec->journal, &r, &rec->nr_elided);
	if (ret) {
		kho_record_break(rec, "appending to the journal: out of memory");
	} else {
		kho_record_track(rec, fd, o, &r);
		/* the next call on this fd may take the fast path */
		if (o->kind == KHO_RECORD_FD_IOMMUFD && !rec->serve_pending)
			rec->hot_fd = fd;
	}
	kho_rec_release(&r);
	return ret;
}

/*
 * The live mappings of IOAS @ioas_id, folded from the journal, in @s
 * (initialised by the call; the caller frees it).  Return: the IOAS or
 * NULL (none of that ID, or a journal that does not fold: @why says so).
 */
static const struct kho_ioas *
kho_record_fold_ioas(struct kho_record *rec, uint32_t ioas_id,
		     struct kho_state *s, struct kho_diag *why)
{
	struct kho_journal plan;
	size_t i;

	kho_state_init(s);
	for (i = 0; i < rec->nr_memfds; i++) {
		struct kho_memfd m;

		kho_record_describe_memfd(rec, i, rec->memfds[i].fd, &m);
		if (kho_state_add_memfd(s, &m)) {
			kho_diag_set(why, -ENOMEM, "out of memory");
			return NULL;
		}
	}
	if (kho_compact(&rec->journal, s, &plan, why))
		return NULL;
	kho_journal_free(&plan);
	return kho_state_find_ioas(s, ioas_id);
}

/*
 * A failed UNMAP may still have removed mappings: the kernel
 * (iopt_unmap_iova_range()) unmaps the areas of the range in IOVA order
 * and stops at the first it cannot take whole, -ENOENT for one that
 * sticks out of the range, -EBUSY for one pinned by an access or being
 * mapped; what it removed before stays removed, and the caller learns
 * nothing of it.  Other errors come before any removal.  For -ENOENT the
 * journal knows the areas, so the removal is journaled as the UNMAP of
 * exactly them, [@iova, the area that stuck out), the record a
 * successful UNMAP of that range would leave.  For -EBUSY it cannot know
 * which area was busy: if the range holds any, the journal is marked
 * unpreservable, naming the call, rather than left to restore mappings
 * the VMM no longer has.
 */
static void kho_record_unmap_failed_locked(struct kho_record *rec, int fd,
					   uint32_t ioas_id, uint64_t iova,
					   uint64_t length, int err)
{
	struct kho_record_ofd *o = kho_record_ofd_of(rec, fd);
	struct kho_diag why = { "" };
	const struct kho_ioas *a;
	struct kho_rec r = { .op = KHO_OP_IOAS_UNMAP };
	uint64_t last = iova + length - 1, gone = 0;
	bool stuck_out = false;
	struct kho_state s;
	char msg[512];
	size_t i;

	if ((err != ENOENT && err != EBUSY) || !length || last < iova || !o ||
	    o->kind != KHO_RECORD_FD_IOMMUFD || o - rec->ofds != rec->ctx_ofd)
		return;
	a = kho_record_fold_ioas(rec, ioas_id, &s, &why);
	if (!a && why.msg[0]) {
		snprintf(msg, sizeof(msg),
			 "IOAS %u: UNMAP 0x%llx+0x%llx failed (%s) and may have removed mappings, but the journal does not fold to tell which: %s",
			 ioas_id, (unsigned long long)iova,
			 (unsigned long long)length, strerror(err), why.msg);
		kho_record_break(rec, msg);
	}
	for (i = 0; a && i < a->nr_maps; i++) {
		const struct kho_mapping *m = &a->maps[i];
		uint64_t m_last = m->iova + m->length - 1;

		if (m_last < iova)
			continue;
		if (m->iova > last)
			break;
		if (err == EBUSY || kho_record_refused_in(rec, ioas_id, iova,
							  length)) {
			snprintf(msg, sizeof(msg),
				 "IOAS %u: UNMAP 0x%llx+0x%llx failed (%s) after the kernel may have removed some of its mappings, and the journal cannot tell which",
				 ioas_id, (unsigned long long)iova,
				 (unsigned long long)length, strerror(err));
			kho_record_break(rec, msg);
			break;
		}
		if (m->iova < iova || m_last > last) {
			/* the area that stuck out: the ones before it went */
			stuck_out = true;
			r.unmap.ioas_id = ioas_id;
			r.unmap.iova = iova;
			r.unmap.length = m->iova - iova;
			r.unmap.out_length = gone;
			if (gone && kho_journal_append_elided(&rec->journal, &r,
							      &rec->nr_elided))
				kho_record_break(rec, "appending to the journal: out of memory");
			break;
		}
		gone += m->length;
	}
	if (a && err == ENOENT && gone && !stuck_out) {
		/* all of them whole, yet refused: not the state journaled */
		snprintf(msg, sizeof(msg),
			 "IOAS %u: UNMAP 0x%llx+0x%llx failed (%s) where the journal has 0x%llx bytes mapped whole: the journal does not match the kernel",
			 ioas_id, (unsigned long long)iova,
			 (unsigned long long)length, strerror(err),
			 (unsigned long long)gone);
		kho_record_break(rec, msg);
	}
	kho_state_free(&s);
}

/* A failed UNMAP, @in as passed: what it may have removed is journaled. */
void kho_record_unmap_failed(struct kho_record *rec, int fd,
			     const struct iommu_ioas_unmap *in, int err)
{
	kho_record_lock(rec);
	kho_record_unmap_failed_locked(rec, fd, in->ioas_id, in->iova,
				       in->length, err);
	kho_record_unlock(rec);
	errno = err;
}

void kho_record_note_failed(struct kho_record *rec, int fd, unsigned long cmd,
			    const struct kho_record_call *call, int err)
{
	if (cmd == IOMMU_IOAS_UNMAP && call && call->cmd == cmd &&
	    call->in_len >= sizeof(struct iommu_ioas_unmap))
		kho_record_unmap_failed(rec, fd, (const void *)call->in, err);
}
