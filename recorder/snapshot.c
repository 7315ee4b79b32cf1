// SPDX-License-Identifier: LGPL-2.1-or-later
/* What the recorder hands out: its status, and snapshots of the journal, the memfds and the devices. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "handoff.h"
#include "internal.h"

int kho_record_status_locked(struct kho_record *rec, struct kho_diag *why)
{
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

static int kho_record_handoff_locked(struct kho_record *rec,
				     struct kho_handoff *h, int **fds,
				     size_t *nr_fds, int vmm_pidfd)
{
	struct kho_state *s = &h->state;
	size_t i, nr_dev = 0;
	int ret = -ENOMEM;

	kho_handoff_init(h);
	kho_handoff_header(h, KHO_FORMAT_VERSION);
	if (fds) {
		*fds = calloc(rec->nr_memfds ? rec->nr_memfds : 1,
			      sizeof(**fds));
		*nr_fds = 0;
		if (!*fds)
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
			(*fds)[(*nr_fds)++] = fd;
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
		snprintf(d->driver, sizeof(d->driver), "%s", o->driver);
		/*
		 * The snapshot's state holds no HWPTs: the attachment lives
		 * in the journal, and compaction derives it from there.
		 */
		d->attached_pt = 0;
	}
	for (i = 0; i < rec->journal.nr; i++) {
		ret = kho_journal_append(&h->replay, &rec->journal.recs[i]);
		if (ret)
			goto err;
	}
	h->journal_length = rec->journal.nr + 2 * rec->nr_elided;
	return 0;
err:
	if (fds && *fds) {
		while (*nr_fds)
			close((*fds)[--*nr_fds]);
		free(*fds);
		*fds = NULL;
	}
	kho_handoff_free(h);
	return ret;
}

int kho_record_handoff(struct kho_record *rec, struct kho_handoff *h,
		       int **fds, size_t *nr_fds)
{
	int ret;

	kho_record_lock(rec);
	ret = kho_record_handoff_locked(rec, h, fds, nr_fds, -1);
	kho_record_unlock(rec);
	return ret;
}

/* The server's view: an encoded hand-off, and the memfds unless refused. */
int kho_record_snapshot(void *ctx, int vmm_pidfd, void **blob, size_t *len,
			int **fds, size_t *nr_fds, struct kho_diag *diag)
{
	struct kho_record *rec = ctx;
	struct kho_handoff h;
	int status, ret;

	kho_record_lock(rec);
	status = kho_record_status_locked(rec, diag);
	ret = kho_record_handoff_locked(rec, &h, status ? NULL : fds, nr_fds,
					vmm_pidfd);
	kho_record_unlock(rec);
	if (ret)
		return kho_diag_set(diag, ret, "snapshot: %s", strerror(-ret));
	if (status) {
		*fds = NULL;
		*nr_fds = 0;
	} else if (*nr_fds > KHO_JSOCK_MAX_FDS) {
		status = kho_diag_set(diag, -E2BIG,
				      "snapshot: %zu memfds, one message carries at most %d",
				      *nr_fds, KHO_JSOCK_MAX_FDS);
	}
	kho_record_depth++;
	ret = kho_handoff_encode(&h, blob, len);
	kho_record_depth--;
	kho_handoff_free(&h);
	if (ret)
		status = kho_diag_set(diag, ret, "snapshot: encoding the hand-off: %s",
				      strerror(-ret));
	if (status && *fds) {
		while (*nr_fds)
			close((*fds)[--*nr_fds]);
		free(*fds);
		*fds = NULL;
	}
	return status;
}
