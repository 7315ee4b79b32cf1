// SPDX-License-Identifier: LGPL-2.1-or-later
/* What the recorder hands out: its status, and snapshots of its journal. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"
#include "journal.h"
#include "state.h"

int kho_record_status_locked(struct kho_record *rec, struct kho_diag *why)
{
	if (kho_record_reentry_status(rec, why))
		return -EOPNOTSUPP;
	if (rec->broken[0])
		return kho_diag_set(why, -EOPNOTSUPP, "%s", rec->broken);
	if (rec->nr_refused)
		return kho_diag_set(why, -EOPNOTSUPP, "%s%s",
				    rec->refused[0].why,
				    rec->nr_refused > 1 ? " (and more)" : "");
	return 0;
}

int kho_record_status(struct kho_record *rec, struct kho_diag *why)
{
	int ret;

	kho_record_lock(rec);
	ret = kho_record_status_locked(rec, why);
	kho_record_unlock(rec);
	return ret;
}

/*
 * A new descriptor for the recorder's own reference @fd: a dup in this
 * table, or from the socket server's thread, which has a table of its
 * own, pidfd_getfd(2) from the VMM's (@vmm_pidfd >= 0).  Both are
 * close-on-exec.  Return: the fd or -errno.
 */
static int kho_record_fd_get(int fd, int vmm_pidfd)
{
	int ret;

	if (vmm_pidfd < 0)
		ret = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	else
		ret = syscall(SYS_pidfd_getfd, vmm_pidfd, fd, 0);
	return ret < 0 ? -errno : ret;
}

/*
 * The snapshot: the memfd table, the bound devices and a copy of the
 * journal; with @fds, a new descriptor for each memfd, to send.
 */
static int kho_record_snapshot_locked(struct kho_record *rec,
				      struct kho_journal_snapshot *snap,
				      bool fds, int vmm_pidfd)
{
	struct kho_state *s = &snap->state;
	size_t i, nr_dev = 0;
	int ret = -ENOMEM;

	kho_journal_snapshot_init(snap);
	if (fds) {
		snap->memfd_fds = calloc(rec->nr_memfds ? rec->nr_memfds : 1,
					 sizeof(*snap->memfd_fds));
		if (!snap->memfd_fds)
			goto err;
	}
	s->memfd = calloc(rec->nr_memfds ? rec->nr_memfds : 1,
			  sizeof(*s->memfd));
	if (!s->memfd)
		goto err;
	for (i = 0; i < rec->nr_memfds; i++) {
		struct kho_memfd *m = &s->memfd[i];
		int fd = rec->memfds[i].fd;

		/* a new descriptor only to send, or to reach the VMM's table */
		if (fds || vmm_pidfd >= 0) {
			fd = kho_record_fd_get(fd, vmm_pidfd);
			if (fd < 0) {
				ret = fd;
				goto err;
			}
		}
		kho_record_describe_memfd(rec, i, fd, m);
		s->nr_memfd++;
		if (fds)
			snap->memfd_fds[snap->nr_fds++] = fd;
		else if (fd != rec->memfds[i].fd)
			close(fd);
	}
	for (i = 0; i < rec->nr_ofds; i++)
		nr_dev += rec->ofds[i].refs && rec->ofds[i].bound;
	s->dev = calloc(nr_dev ? nr_dev : 1, sizeof(*s->dev));
	if (!s->dev)
		goto err;
	for (i = 0; i < rec->nr_ofds; i++) {
		const struct kho_record_ofd *o = &rec->ofds[i];
		struct kho_device *d;

		if (!o->refs || !o->bound)
			continue;
		d = &s->dev[s->nr_dev++];
		d->id = o->devid;
		d->pci = o->pci;
		d->mdev = o->mdev;
		snprintf(d->driver, sizeof(d->driver), "%s", o->driver);
		/*
		 * The snapshot's state holds no HWPTs: the attachment lives
		 * in the journal, and compaction derives it from there.
		 */
		d->attached_pt = 0;
	}
	for (i = 0; i < rec->journal.nr; i++) {
		ret = kho_journal_append(&snap->journal, &rec->journal.recs[i]);
		if (ret)
			goto err;
	}
	snap->journal_length = rec->journal.nr + 2 * rec->nr_elided;
	return 0;
err:
	kho_journal_snapshot_free(snap);
	return ret;
}

int kho_record_snapshot(struct kho_record *rec,
			struct kho_journal_snapshot *snap, bool fds)
{
	int ret;

	kho_record_lock(rec);
	ret = kho_record_snapshot_locked(rec, snap, fds, -1);
	kho_record_unlock(rec);
	return ret;
}

/* The server's view: an encoded snapshot, and the memfds unless refused. */
int kho_record_serve_snapshot(void *ctx, int vmm_pidfd, void **blob,
			      size_t *len, int **fds, size_t *nr_fds,
			      struct kho_diag *diag)
{
	struct kho_record *rec = ctx;
	struct kho_journal_snapshot snap;
	int status, ret;

	kho_record_lock(rec);
	status = kho_record_status_locked(rec, diag);
	ret = kho_record_snapshot_locked(rec, &snap, !status, vmm_pidfd);
	kho_record_unlock(rec);
	if (ret)
		return kho_diag_set(diag, ret, "snapshot: %s", strerror(-ret));
	if (!status && snap.nr_fds > KHO_JSOCK_MAX_FDS)
		status = kho_diag_set(diag, -E2BIG,
				      "snapshot: %zu memfds, one message carries at most %d",
				      snap.nr_fds, KHO_JSOCK_MAX_FDS);
	kho_record_enter();
	ret = kho_journal_snapshot_encode(&snap, blob, len);
	kho_record_leave();
	if (ret)
		status = kho_diag_set(diag, ret, "snapshot: encoding the hand-off: %s",
				      strerror(-ret));
	*fds = NULL;
	*nr_fds = 0;
	if (!status) {
		/* the server sends and closes them */
		*fds = snap.memfd_fds;
		*nr_fds = snap.nr_fds;
		snap.memfd_fds = NULL;
		snap.nr_fds = 0;
	}
	kho_journal_snapshot_free(&snap);
	return status;
}
