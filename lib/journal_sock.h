/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The journal socket: how a recording VMM hands its journal and guest-RAM
 * memfds to `kho-tool capture`.  The recorder (LD_PRELOAD or the linked
 * API in record.h) serves it; capture fetches from it.
 *
 * Path: KHO_RUN_DIR "/vmm-<pid>.sock", a unix stream socket of mode 0600.
 * The server answers only peers whose uid is 0 or its own (SO_PEERCRED).
 */
#ifndef KHO_JOURNAL_SOCK_H
#define KHO_JOURNAL_SOCK_H

#include <sys/types.h>
#include "kho.h"

#define KHO_RUN_DIR "/run/kho-tool"

/*
 * What a VMM hands over: a hand-off whose state holds the memfd table
 * (token, size, name, seals) and the bound devices, and whose replay
 * journal is the RAW canonical journal (not yet compacted;
 * journal_length == replay.nr); plus one fd per state.memfd entry, in the
 * same order, received with SCM_RIGHTS.
 */
struct kho_journal_snapshot {
	struct kho_handoff handoff;
	int *memfd_fds;
	size_t nr_fds;
};

/*
 * kho_journal_sock_fetch() - fetch the snapshot of the VMM process @pid
 * Return: 0; -ENOENT (no recorder socket for @pid); -ECONNREFUSED;
 * -EACCES (refused by peer credentials); -EBADMSG (malformed reply);
 * -ENOMEM.  diag names the socket and the cause.
 */
int kho_journal_sock_fetch(pid_t pid, struct kho_journal_snapshot *snap,
			   struct kho_diag *diag);

/* Closes the fds and frees the hand-off. */
void kho_journal_snapshot_free(struct kho_journal_snapshot *snap);

#endif /* KHO_JOURNAL_SOCK_H */
