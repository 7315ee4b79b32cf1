/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The recorder's inside: the record and its tables, the lock, and the
 * functions its files share.  Only the recorder's own files include
 * this; a VMM sees record.h.
 *
 * Who owns what: record.c the record's life and its lock, fdtable.c the
 * fd table and what each file is, memfd.c the memfd references, maps.c
 * the VA resolver over /proc/self/maps, note.c the full path that
 * journals any call, hotpath.c the ioctl fast path, snapshot.c what the
 * socket serves, serve.c the server's life across fork, adopt.c the
 * journal of a process that adopted a restore.
 */
#ifndef KHO_RECORDER_INTERNAL_H
#define KHO_RECORDER_INTERNAL_H

#include <linux/futex.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "canon.h"
#include "journal.h"
#include "journal_sock.h"
#include "record.h"

struct iommu_ioas_unmap;


/*
 * The recorder keeps its own references to the memfds it has seen, so that
 * capture gets them even if the VMM closed its fd after mmap.  They sit
 * above the fds a VMM normally uses.
 */
#define KHO_RECORD_FD_FLOOR 512

/* An open file description; fds made by dup share one. */
struct kho_record_ofd {
	enum kho_record_fd_kind kind;
	unsigned int refs;
	dev_t rdev;
	bool bound;
	uint32_t devid;
	uint32_t attached_pt;
	bool pci_known;		/* pci, or mdev for an mdev, read */
	struct kho_pci_id pci;
	struct kho_mdev_id mdev;	/* all zero for a PCI function */
	char driver[32];
};

struct kho_record_fdent {
	int ofd;		/* index + 1 into rec->ofds; 0: none */
	/* the recorder's own: a memfd reference, or the socket it serves on */
	bool internal;
	uint64_t memfd_token;	/* cached fd -> memfd, 0: not known */
};

struct kho_record_memfd {
	uint64_t token;
	dev_t dev;
	ino_t ino;
	int fd;			/* the recorder's own reference */
	char name[64];
};

struct kho_record_vma {
	uint64_t start, end, off;
	unsigned int maj, min;
	uint64_t ino;
	bool shared;
	bool shm_anon;		/* /dev/zero or SysV shm: no memfd behind it */
	char path[128];
};

/* A live mapping the journal cannot carry, and why. */
struct kho_record_refused {
	uint32_t ioas_id;
	uint64_t iova;
	uint64_t length;
	char why[320];
};

/*
 * The last VA range a MAP by VA resolved: [start, end) is one shared
 * mapping of memfd @token at contiguous offsets, @off at @start.  A VMM
 * maps and unmaps the same RAM block over and over; this answers those
 * MAPs without the binary search and the memfd table.  Cleared whenever
 * the vma cache or the memfd tokens change.
 */
struct kho_record_va_hit {
	uint64_t start, end, off;
	uint64_t token;
};

struct kho_record {
	/*
	 * 0 free, 1 held, 2 held with waiters: a futex lock, cheaper than a
	 * pthread mutex on the ioctl path (two atomics, no owner or count
	 * bookkeeping), and like it reset in the child after fork.
	 */
	int lock;
	struct kho_journal journal;
	/*
	 * MAP/UNMAP pairs dropped as they happened: an UNMAP that removed
	 * exactly the MAP at the journal's tail (kho_journal_cancels_tail()).
	 * The journal's length, as reported, counts them.
	 */
	uint64_t nr_elided;
	struct kho_canon_ops canon;	/* the resolvers below, ctx = this */

	struct kho_record_fdent *fds;
	size_t nr_fds;
	struct kho_record_ofd *ofds;
	size_t nr_ofds;
	int ctx_ofd;		/* the iommufd the journal belongs to, or -1 */
	/*
	 * The fd the fast path journals on, -1: none.  The full path sets
	 * it once it journaled a call on an fd of the journal's iommufd;
	 * kho_record_hot_forget() drops it whenever that may stop being
	 * true (the fd closed or reused, the context or a kind changed, a
	 * server start pending), so the fast path checks one number
	 * instead of the fd's entry, its file and the file's kind.
	 */
	int hot_fd;

	struct kho_record_memfd *memfds;
	size_t nr_memfds;
	uint64_t next_token;

	struct kho_record_vma *vmas;
	size_t nr_vmas;
	bool vmas_valid;
	struct kho_record_va_hit va_hit;	/* end == 0: none */
	/*
	 * The address space changed under a signal handler that could not
	 * take the lock (kho_record_maps_changed() while
	 * kho_record_reentered()): the cache above is dropped by whoever
	 * next resolves a VA.  Set and cleared atomically.
	 */
	int maps_stale;

	struct kho_record_refused *refused;
	size_t nr_refused;
	char broken[400];	/* a non-mapping reason, first one wins */
	/*
	 * A call the recorder could not follow because it came from a signal
	 * handler that interrupted this thread inside a recorded ioctl
	 * (kho_record_reentered()), packed by kho_record_reentry_pack():
	 * 0 none.  Written with one compare-and-swap, outside the lock,
	 * since the interrupted thread may hold it; first one wins.
	 */
	uint64_t reentry;

	struct kho_jsock_server *srv;
	bool serve_lazily;
	bool serve_pending;
	pid_t srv_pid;
};


/*
 * Where this thread is in the recorder, two counts in one word, so that
 * the ioctl wrapper tests both with one load:
 * - the low 16 bits (KHO_RECORD_OWN): the recorder's own work
 *   (kho_record_enter()), whose calls pass the wrappers straight through;
 * - above them, in units of KHO_RECORD_INFLIGHT: a recorded ioctl with
 *   signals open, from before its system call until its record is
 *   written.  A wrapper entered with this and not the other runs in a
 *   signal handler that interrupted it, and may neither take the lock
 *   (this thread may hold it) nor skip the call silently
 *   (kho_record_reentered()).
 * initial-exec: read on every wrapped call, and libkho-record.so is
 * preloaded (never dlopen'ed late), so its TLS fits the static block and
 * the access needs no __tls_get_addr() call.
 */
extern __thread int kho_record_depth __attribute__((tls_model("initial-exec")));
#define KHO_RECORD_OWN		0xffff
#define KHO_RECORD_INFLIGHT	0x10000
/* The signal mask kho_record_enter() replaced, for kho_record_leave(). */
extern __thread sigset_t kho_record_sigsaved __attribute__((tls_model("initial-exec")));

/* record.c: the record's life and its lock */
void kho_record_enter(void);
void kho_record_leave(void);
void kho_record_futex(int *addr, int op, int val);
void kho_record_lock_wait(struct kho_record *rec, int c);
void kho_record_break(struct kho_record *rec, const char *why);
void kho_record_reset(struct kho_record *rec);

/*
 * Drepper's "Futexes Are Tricky" mutex 3: one CAS when uncontended,
 * inlined on every path, the rest out of line.  Held with every signal
 * blocked (kho_record_enter()): a handler can then never run on a thread
 * that holds it, so never re-enter it or the allocator under it.  The
 * ioctl hot path takes it without, under KHO_RECORD_INFLIGHT.
 */
static inline __attribute__((always_inline)) void
kho_record_lock(struct kho_record *rec)
{
	int c = 0;

	kho_record_enter();
	if (!__atomic_compare_exchange_n(&rec->lock, &c, 1, false,
					 __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
		kho_record_lock_wait(rec, c);
}

static inline __attribute__((always_inline)) void
kho_record_unlock(struct kho_record *rec)
{
	if (__atomic_exchange_n(&rec->lock, 0, __ATOMIC_RELEASE) == 2)
		kho_record_futex(&rec->lock, FUTEX_WAKE, 1);
	kho_record_leave();
}

/* The fast path stops trusting rec->hot_fd until the full path sets it. */
static inline void kho_record_hot_forget(struct kho_record *rec)
{
	rec->hot_fd = -1;
}

/* fdtable.c: the fd table, open files and what each is */
struct kho_record_fdent *kho_record_fdent(struct kho_record *rec, int fd,
					  bool grow);
struct kho_record_ofd *kho_record_ofd_of(struct kho_record *rec, int fd);
void kho_record_fd_set_internal(struct kho_record *rec, int fd, bool internal);
int kho_record_ofd_new(struct kho_record *rec, int fd,
		       enum kho_record_fd_kind kind, dev_t rdev);
struct kho_record_ofd *kho_record_classify(struct kho_record *rec, int fd,
					   const char *path);
int kho_record_devfd_to_id(void *ctx, int devfd, struct kho_pci_id *pci,
			   struct kho_mdev_id *mdev, struct kho_diag *diag);
int kho_record_devfd_to_devid(void *ctx, int devfd, uint32_t *devid,
			      struct kho_diag *diag);

/* memfd.c: the recorder's own references to the memfds it has seen */
int kho_record_check_memfd(int fd, const char *what, struct stat *st,
			   struct kho_diag *diag);
struct kho_record_memfd *kho_record_memfd_find(struct kho_record *rec,
					       dev_t dev, ino_t ino);
int kho_record_memfd_add(struct kho_record *rec, int fd,
			 const struct stat *st, uint64_t *token);
int kho_record_fd_to_memfd(void *ctx, int fd, uint64_t *token,
			   struct kho_diag *diag);
void kho_record_describe_memfd(const struct kho_record *rec, size_t i, int fd,
			       struct kho_memfd *m);

/* maps.c: VA -> (memfd token, offset) */
int kho_record_va_to_memfd(void *ctx, uint64_t va, uint64_t length,
			   uint64_t *token, uint64_t *offset,
			   struct kho_diag *diag);

/* signal.c: handlers kept out, or caught re-entering */
int kho_record_reentry_status(struct kho_record *rec, struct kho_diag *why);
void kho_record_reentry_reset(struct kho_record *rec);

/* note.c: the full path */
bool kho_record_cmd_known(unsigned long cmd);
int kho_record_note_locked(struct kho_record *rec, int fd, unsigned long cmd,
			   const void *arg, const struct kho_record_call *call);
void kho_record_unmap_failed(struct kho_record *rec, int fd,
			     const struct iommu_ioas_unmap *in, int err);

/* snapshot.c: what the journal socket serves */
int kho_record_status_locked(struct kho_record *rec, struct kho_diag *why);
int kho_record_serve_snapshot(void *ctx, int vmm_pidfd, void **blob,
			      size_t *len, int **fds, size_t *nr_fds,
			      struct kho_diag *diag);

/* serve.c: the server, started lazily and again after fork */
void kho_record_maybe_serve(struct kho_record *rec);

#endif /* KHO_RECORDER_INTERNAL_H */
