// SPDX-License-Identifier: LGPL-2.1-or-later
/* The journal socket server: started lazily, stopped, restarted after fork. */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "internal.h"

static int kho_record_serve_locked(struct kho_record *rec,
				   struct kho_diag *diag)
{
	int ret;

	if (rec->srv && rec->srv_pid == getpid())
		return -EALREADY;
	ret = kho_journal_sock_serve(kho_record_serve_snapshot, rec, &rec->srv,
				     diag);
	if (!ret) {
		rec->srv_pid = getpid();
		/* a VMM's close_range(3, ~0U) would stop the server waking */
		kho_record_fd_set_internal(rec, kho_journal_sock_fd(rec->srv),
					   true);
	}
	rec->serve_pending = false;
	return ret;
}

int kho_record_serve(struct kho_record *rec, struct kho_diag *diag)
{
	int ret;

	kho_record_lock(rec);
	ret = kho_record_serve_locked(rec, diag);
	kho_record_unlock(rec);
	return ret;
}

void kho_record_maybe_serve(struct kho_record *rec)
{
	struct kho_diag diag;

	if (!rec->serve_lazily && !rec->serve_pending)
		return;
	if (rec->srv && rec->srv_pid == getpid())
		return;
	rec->serve_lazily = false;
	if (kho_record_serve_locked(rec, &diag))
		fprintf(stderr, "kho-record: pid %d: %s\n", getpid(), diag.msg);
}

void kho_record_serve_stop(struct kho_record *rec)
{
	struct kho_jsock_server *srv;
	bool ours;

	kho_record_lock(rec);
	srv = rec->srv;
	ours = rec->srv_pid == getpid();
	if (srv)
		kho_record_fd_set_internal(rec, kho_journal_sock_fd(srv), false);
	rec->srv = NULL;
	rec->serve_lazily = false;
	rec->serve_pending = false;
	kho_record_unlock(rec);
	/* outside the lock: a request in flight takes it to snapshot */
	kho_record_enter();
	if (ours)
		kho_journal_sock_stop(srv);
	else
		kho_journal_sock_abandon(srv);
	kho_record_leave();
}

void kho_record_serve_lazily(struct kho_record *rec)
{
	kho_record_lock(rec);
	rec->serve_lazily = true;
	kho_record_unlock(rec);
}

/*
 * The lock is held across fork, with every signal blocked, so that no
 * other thread is inside the record when the child is made and no
 * handler runs in the fork window.  A fork from a handler that
 * interrupted a recorded ioctl cannot take it: this thread may hold it.
 */
void kho_record_atfork_prepare(struct kho_record *rec)
{
	if (!kho_record_reentered())
		kho_record_lock(rec);
}

void kho_record_atfork_parent(struct kho_record *rec)
{
	if (!kho_record_reentered())
		kho_record_unlock(rec);
}

void kho_record_atfork_child(struct kho_record *rec)
{
	/* the child's one thread: the lock needs no owner */
	rec->lock = 0;
	if (kho_record_reentered()) {
		/* another thread may have been halfway through the record */
		kho_record_note_reentry(rec, KHO_RECORD_REENTRY_FORK, 0, -1);
	} else {
		kho_record_depth = 1;	/* prepare's */
		kho_record_leave();
	}
	if (rec->srv) {
		kho_record_fd_set_internal(rec, kho_journal_sock_fd(rec->srv),
					   false);
		kho_journal_sock_abandon(rec->srv);
		rec->srv = NULL;
		rec->serve_pending = true;
		kho_record_hot_forget(rec);
	}
}
