// SPDX-License-Identifier: LGPL-2.1-or-later
/* The record's life (new, reset, free) and its lock. */
#include <errno.h>
#include <linux/futex.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

/* Keeps errno: the ioctl path restores it only when it journals slowly. */
void kho_record_futex(int *addr, int op, int val)
{
	int err = errno;

	syscall(SYS_futex, addr, op | FUTEX_PRIVATE_FLAG, val, NULL, NULL, 0);
	errno = err;
}

/* Contended: mark the lock "with waiters" and sleep until it is ours. */
__attribute__((noinline)) void kho_record_lock_wait(struct kho_record *rec,
						    int c)
{
	if (c != 2)
		c = __atomic_exchange_n(&rec->lock, 2, __ATOMIC_ACQUIRE);
	while (c) {
		kho_record_futex(&rec->lock, FUTEX_WAIT, 2);
		c = __atomic_exchange_n(&rec->lock, 2, __ATOMIC_ACQUIRE);
	}
}

int kho_record_new(struct kho_record **out)
{
	struct kho_record *rec = calloc(1, sizeof(*rec));

	if (!rec)
		return -ENOMEM;
	kho_journal_init(&rec->journal);
	/* built once: kho_record_note() hands it to every canonicalisation */
	rec->canon.va_to_memfd = kho_record_va_to_memfd;
	rec->canon.fd_to_memfd = kho_record_fd_to_memfd;
	rec->canon.devfd_to_id = kho_record_devfd_to_id;
	rec->canon.devfd_to_devid = kho_record_devfd_to_devid;
	rec->canon.ctx = rec;
	rec->ctx_ofd = -1;
	rec->hot_fd = -1;
	rec->next_token = 1;
	*out = rec;
	return 0;
}

/* Marks the journal unpreservable for a reason that is not one mapping. */
void kho_record_break(struct kho_record *rec, const char *why)
{
	size_t n = strlen(why);

	if (rec->broken[0])
		return;
	if (n >= sizeof(rec->broken))
		n = sizeof(rec->broken) - 1;
	memcpy(rec->broken, why, n);
	rec->broken[n] = 0;
}

/* Forgets everything: the iommufd context the journal described is gone. */
void kho_record_reset(struct kho_record *rec)
{
	size_t i;
	struct kho_record_fdent *e;

	kho_journal_free(&rec->journal);
	rec->nr_elided = 0;
	kho_record_hot_forget(rec);
	for (i = 0; i < rec->nr_memfds; i++) {
		e = kho_record_fdent(rec, rec->memfds[i].fd, false);
		if (e)
			e->internal = false;
		close(rec->memfds[i].fd);
	}
	for (i = 0; i < rec->nr_fds; i++)
		rec->fds[i].memfd_token = 0;
	free(rec->memfds);
	rec->memfds = NULL;
	rec->nr_memfds = 0;
	rec->next_token = 1;
	rec->va_hit.end = 0;	/* its token is gone */
	free(rec->refused);
	rec->refused = NULL;
	rec->nr_refused = 0;
	rec->broken[0] = 0;
	kho_record_reentry_reset(rec);
	if (rec->ctx_ofd >= 0 && !rec->ofds[rec->ctx_ofd].refs)
		memset(&rec->ofds[rec->ctx_ofd], 0, sizeof(rec->ofds[0]));
	rec->ctx_ofd = -1;
}

void kho_record_free(struct kho_record *rec)
{
	size_t i;

	if (!rec)
		return;
	if (rec->srv) {
		if (rec->srv_pid == getpid())
			kho_journal_sock_stop(rec->srv);
		else
			kho_journal_sock_abandon(rec->srv);
	}
	kho_record_enter();
	kho_journal_free(&rec->journal);
	for (i = 0; i < rec->nr_memfds; i++)
		close(rec->memfds[i].fd);
	kho_record_leave();
	free(rec->memfds);
	free(rec->fds);
	free(rec->ofds);
	free(rec->vmas);
	free(rec->refused);
	free(rec);
}
