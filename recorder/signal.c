// SPDX-License-Identifier: LGPL-2.1-or-later
/* Signal handlers against the recorder: blocked, or caught re-entering. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>

#include "internal.h"
#include "op.h"

__thread int kho_record_depth __attribute__((tls_model("initial-exec")));
__thread sigset_t kho_record_sigsaved __attribute__((tls_model("initial-exec")));

/*
 * Enters the recorder for its own work: with every signal blocked, so
 * that no handler runs while this thread holds the lock or is inside the
 * allocator, fopen() or the fd table on the recorder's behalf; and with
 * kho_record_depth's own count raised, so that the calls it makes
 * pass the wrappers straight through.  The mask goes up before the depth:
 * a handler that comes in between sees the recorder idle, and is.
 * glibc keeps its own signals (cancellation, setxid) out of the set.
 */
void kho_record_enter(void)
{
	sigset_t all;

	if (!(kho_record_depth & KHO_RECORD_OWN)) {
		sigfillset(&all);
		pthread_sigmask(SIG_BLOCK, &all, &kho_record_sigsaved);
	}
	kho_record_depth++;
}

/* Leaves it: the depth down before the mask, the reverse of the above. */
void kho_record_leave(void)
{
	if (!(--kho_record_depth & KHO_RECORD_OWN))
		pthread_sigmask(SIG_SETMASK, &kho_record_sigsaved, NULL);
}

bool kho_record_busy(void)
{
	return kho_record_depth & KHO_RECORD_OWN;
}

bool kho_record_reentered(void)
{
	return kho_record_depth >= KHO_RECORD_INFLIGHT &&
	       !(kho_record_depth & KHO_RECORD_OWN);
}

/*
 * kind in the top byte, the fd in the next three (the first fd of a
 * range), the ioctl's command in the low word: one word, so that a
 * handler records it with one compare-and-swap and no formatting.
 */
static uint64_t kho_record_reentry_pack(enum kho_record_reentry kind,
					unsigned long cmd, int fd)
{
	return (uint64_t)kind << 56 | (uint64_t)(fd & 0xffffff) << 32 |
	       (uint32_t)cmd;
}

void kho_record_note_reentry(struct kho_record *rec,
			     enum kho_record_reentry kind, unsigned long cmd,
			     int fd)
{
	uint64_t none = 0;

	__atomic_compare_exchange_n(&rec->reentry, &none,
				    kho_record_reentry_pack(kind, cmd, fd),
				    false, __ATOMIC_RELEASE, __ATOMIC_RELAXED);
}

int kho_record_reentry_status(struct kho_record *rec, struct kho_diag *why)
{
	uint64_t r = __atomic_load_n(&rec->reentry, __ATOMIC_ACQUIRE);
	unsigned long cmd = (uint32_t)r;
	int fd = (r >> 32) & 0xffffff;
	const struct kho_op_desc *op;
	char call[64];

	switch ((enum kho_record_reentry)(r >> 56)) {
	case KHO_RECORD_REENTRY_NONE:
		return 0;
	case KHO_RECORD_REENTRY_IOCTL:
		op = kho_op_by_cmd(cmd);
		if (op)
			snprintf(call, sizeof(call), "ioctl %s on fd %d",
				 op->name, fd);
		else
			snprintf(call, sizeof(call), "ioctl 0x%lx on fd %d",
				 cmd, fd);
		break;
	case KHO_RECORD_REENTRY_CLOSE:
		snprintf(call, sizeof(call), "close of fd %d", fd);
		break;
	case KHO_RECORD_REENTRY_CLOSE_RANGE:
		snprintf(call, sizeof(call), "close_range from fd %d", fd);
		break;
	case KHO_RECORD_REENTRY_DUP:
		snprintf(call, sizeof(call), "dup of fd %d", fd);
		break;
	case KHO_RECORD_REENTRY_FORK:
		snprintf(call, sizeof(call), "fork");
		break;
	}
	return kho_diag_set(why, -EOPNOTSUPP,
			    "recorder: %s from a signal handler while the recorder was busy: journal unpreservable",
			    call);
}

/*
 * The objects a lost ioctl touched went with the iommufd context; a lost
 * fd call still leaves the fd table unknown, so it stays.
 */
void kho_record_reentry_reset(struct kho_record *rec)
{
	uint64_t r = __atomic_load_n(&rec->reentry, __ATOMIC_ACQUIRE);

	if (r >> 56 == KHO_RECORD_REENTRY_IOCTL)
		__atomic_compare_exchange_n(&rec->reentry, &r, 0, false,
					    __ATOMIC_RELAXED, __ATOMIC_RELAXED);
}
