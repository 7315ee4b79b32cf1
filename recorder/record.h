/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The recorder: keeps the canonical journal of one process's iommufd and
 * VFIO-cdev ioctls, as the process makes them, and serves it to capture.
 *
 * A VMM either links this API (build/lib/libkho-recorder.a, before
 * libkho.a) and routes its iommufd/VFIO ioctls through kho_record_ioctl(),
 * or runs unmodified under the LD_PRELOAD recorder
 * (build/lib/libkho-record.so), which calls the same functions from its
 * ioctl/open/close/dup wrappers.  Either way the journal is canonical at
 * record time: a user VA is already (memfd token, offset), a device fd is
 * already a PCI identity.
 *
 * Refusal policy: a mapping that cannot cross kexec (anonymous memory, a
 * private mapping, a hugetlb memfd, a file on disk, a linked shmem file)
 * does not fail the VMM's ioctl: the kernel already did it and the VMM
 * relies on it.  The recorder instead marks the mapping refused, with the
 * reason, and the journal is unpreservable while any refused mapping is
 * live (an UNMAP that removes it makes the journal whole again).
 * kho_record_status() and the journal socket report the first reason, so
 * capture fails naming it.
 *
 * The functions given a record take its lock, so none of them may be
 * called from inside the recorder (kho_record_busy()).  They hold it
 * with every signal blocked, so a VMM's signal handler may call them.
 */
#ifndef KHO_RECORD_H
#define KHO_RECORD_H

#include <stdbool.h>
#include <sys/types.h>
#include "journal_sock.h"
#include "kho.h"

struct kho_record;
struct kho_adopt_set;

/* What an fd is to the recorder; only the first two are journaled. */
enum kho_record_fd_kind {
	KHO_RECORD_FD_NONE = 0,		/* not classified yet */
	KHO_RECORD_FD_IOMMUFD,		/* /dev/iommu */
	KHO_RECORD_FD_VFIO_CDEV,	/* /dev/vfio/devices/vfioN */
	KHO_RECORD_FD_OTHER,
};

/**
 * kho_record_new() - an empty record for the calling process
 * @out: the record; kho_record_free() frees it
 *
 * Return: 0, or -ENOMEM.
 */
int kho_record_new(struct kho_record **out);

/**
 * kho_record_free() - stop the server, close the memfd references, free
 * @rec: the record, or NULL
 */
void kho_record_free(struct kho_record *rec);

/**
 * kho_record_ioctl() - issue an ioctl and journal it when it succeeded
 * @rec: the record
 * @fd: the fd, as for ioctl(2)
 * @cmd: the request
 * @arg: the argument
 *
 * A recording failure never fails the call: it marks the journal
 * unpreservable (see kho_record_status()).
 *
 * Return: 0, or the ioctl's -errno.
 */
int kho_record_ioctl(struct kho_record *rec, int fd, unsigned long cmd,
		     void *arg);

/*
 * What the recorder must see of an argument before the kernel overwrites
 * it: IOMMU_IOAS_UNMAP returns the bytes unmapped where the requested
 * length was, VFIO_DEVICE_ATTACH_IOMMUFD_PT the HWPT where the IOAS was
 * named (kho_canon_ioctl_inout()).
 */
struct kho_record_call {
	unsigned long cmd;
	size_t in_len;			/* 0: nothing saved */
	unsigned char in[32];		/* zero-filled past in_len */
};

/**
 * kho_record_prepare() - save what the kernel will overwrite
 * @cmd: the request about to be issued
 * @arg: its argument, or NULL
 * @call: filled before ioctl(fd, @cmd, @arg) runs
 */
void kho_record_prepare(unsigned long cmd, const void *arg,
			struct kho_record_call *call);

/**
 * kho_record_note() - journal an ioctl the caller issued and that succeeded
 * @rec: the record
 * @fd: the fd it was issued on
 * @cmd: the request
 * @arg: the argument, holding the kernel's outputs
 * @call: what kho_record_prepare() saw before; NULL: the outputs are all
 *        there is
 *
 * Used by the LD_PRELOAD wrapper.  Does nothing for fds that are not
 * iommufd or VFIO cdev fds.
 *
 * Return: 0; -EOPNOTSUPP (a refused mapping or a second iommufd, the
 * journal now unpreservable); -ENOMEM (the journal could not grow, now
 * unpreservable); or the canonicaliser's error (-EINVAL, -ENOENT,
 * -EBADMSG..., the journal now unpreservable).
 */
int kho_record_note(struct kho_record *rec, int fd, unsigned long cmd,
		    const void *arg, const struct kho_record_call *call);

/**
 * kho_record_note_failed() - report an ioctl that failed
 * @rec: the record
 * @fd: the fd it was issued on
 * @cmd: the request
 * @call: kho_record_prepare()'s, required
 * @err: the positive errno it failed with
 *
 * For a VMM that issues its own ioctls and calls kho_record_note() on
 * success.  Only a failed IOMMU_IOAS_UNMAP matters: the kernel may have
 * removed the mappings of the range before the one it refused (ENOENT:
 * journaled as the UNMAP of exactly those; EBUSY: the journal becomes
 * unpreservable, since it cannot tell which).  errno is @err on return.
 */
void kho_record_note_failed(struct kho_record *rec, int fd, unsigned long cmd,
			    const struct kho_record_call *call, int err);

/**
 * kho_record_can_syscall() - may kho_record_ioctl_via() issue the system
 * call itself here
 *
 * Return: true on x86-64 and arm64, where it may be given a NULL @real.
 */
bool kho_record_can_syscall(void);

/**
 * kho_record_ioctl_via() - the LD_PRELOAD ioctl wrapper's whole job
 * @rec: the record
 * @real: the next ioctl in the symbol chain; NULL: the ioctl system call
 *        itself, for a caller whose next ioctl is libc's own, a bare
 *        system call stub (only where kho_record_can_syscall())
 * @fd: the fd
 * @cmd: the request
 * @arg: the argument
 *
 * kho_record_prepare(), @real(fd, cmd, arg), and on success
 * kho_record_note() with errno kept; inside the recorder
 * (kho_record_busy()) just @real.  One call instead of four, on a VMM's
 * DMA map path.
 *
 * Return: what @real returned, errno as it left it (-1 and the
 * ioctl's errno on failure).
 */
int kho_record_ioctl_via(struct kho_record *rec,
			 int (*real)(int, unsigned long, ...), int fd,
			 unsigned long cmd, void *arg);

/**
 * kho_record_fd_opened() - an fd was opened
 * @rec: the record
 * @fd: the new fd
 * @path: what it was opened from; NULL: unknown, the fd is classified
 *        from its device number on first use
 */
void kho_record_fd_opened(struct kho_record *rec, int fd, const char *path);

/**
 * kho_record_fd_set_kind() - tell the recorder what an fd is
 * @rec: the record
 * @fd: the fd, which the VMM got another way
 * @kind: what it is
 */
void kho_record_fd_set_kind(struct kho_record *rec, int fd,
			    enum kho_record_fd_kind kind);

/**
 * kho_record_fd_kind() - how an fd is classified, classifying it now if
 * it was not
 * @rec: the record
 * @fd: the fd
 * @kind: KHO_RECORD_FD_*
 *
 * Return: 0, or -EBADF (not an open fd, or no memory to track it).
 */
int kho_record_fd_kind(struct kho_record *rec, int fd,
		       enum kho_record_fd_kind *kind);

/**
 * kho_record_fd_dup() - an fd was duplicated (dup, dup2, F_DUPFD)
 * @rec: the record
 * @oldfd: the fd duplicated
 * @newfd: now refers to what @oldfd refers to
 */
void kho_record_fd_dup(struct kho_record *rec, int oldfd, int newfd);

/**
 * kho_record_fd_closed() - an fd was closed
 * @rec: the record
 * @fd: the fd
 *
 * The last close of a bound VFIO device unbinds it, which the journal
 * cannot express: the journal becomes unpreservable.  The last close of
 * the iommufd (with no device left holding it) destroys every object:
 * the journal starts over.
 */
void kho_record_fd_closed(struct kho_record *rec, int fd);

/**
 * kho_record_fd_internal() - is an fd one the recorder holds
 * @rec: the record
 * @fd: the fd
 *
 * Return: true for the recorder's references to memfds, which the
 * process must not close under it.
 */
bool kho_record_fd_internal(struct kho_record *rec, int fd);

/**
 * kho_record_maps_changed() - the address space changed
 * @rec: the record
 *
 * For mmap, munmap and mremap: drops the VA cache.
 */
void kho_record_maps_changed(struct kho_record *rec);

/**
 * kho_record_status() - can the journal cross kexec
 * @rec: the record
 * @why: the first reason it cannot, or NULL
 *
 * Return: 0 if it can, -EOPNOTSUPP otherwise.
 */
int kho_record_status(struct kho_record *rec, struct kho_diag *why);

/**
 * kho_record_snapshot() - what the journal socket would serve now
 * @rec: the record
 * @snap: initialised by the call: the memfd table, the bound devices and
 *        the journal as recorded (journal_length: journal.nr plus the
 *        calls elided online, two a pair); kho_journal_snapshot_free()
 *        frees it
 * @fds: also dup each memfd into @snap->memfd_fds, one per state.memfd
 *       entry, which kho_journal_snapshot_free() closes
 *
 * Return: 0, -ENOMEM, or dup's -errno (-EMFILE).
 */
int kho_record_snapshot(struct kho_record *rec,
			struct kho_journal_snapshot *snap, bool fds);

/**
 * kho_record_serve() - start the journal socket server of this process
 * @rec: the record the server serves snapshots of (journal_sock.h)
 * @diag: names the path and the step on failure
 *
 * Return: 0; -EALREADY (this process serves already); or the socket's
 * -errno (-EACCES, -EADDRINUSE, -ENAMETOOLONG, -ENOMEM...).
 */
int kho_record_serve(struct kho_record *rec, struct kho_diag *diag);

/**
 * kho_record_serve_stop() - stop this process's server, remove its socket
 * @rec: the record
 */
void kho_record_serve_stop(struct kho_record *rec);

/**
 * kho_record_serve_lazily() - serve from the first iommufd or VFIO fd
 * @rec: the record
 *
 * So that a process which never touches one (most processes an
 * LD_PRELOAD reaches) never gets a socket.
 */
void kho_record_serve_lazily(struct kho_record *rec);

/**
 * kho_record_adopt() - start the journal of a process that adopted a restore
 * @rec: the record
 * @h: the hand-off the restore-agent rebuilt from
 * @set: the agent's objects, as kho_adopt_connect() received them
 * @diag: why it failed
 *
 * The journal becomes @h's plan in the new IDs (or, on a kernel with the
 * iommufd journal, the kernel's record of the adopted iommufd), the
 * adopted memfds keep their tokens, so that this process can be captured
 * for the next kexec (a rollback).
 *
 * Return: 0; -EEXIST (the journal already has an iommufd context);
 * -EBADF (an fd is not what the set says); -ENOENT (the plan names an
 * object the ID map lacks); -EBADMSG (the plan holds an op a plan
 * cannot); -EBUSY (the kernel's journal is not recording); -ENOMEM; or
 * the kernel journal's -errno.  A failure marks the journal
 * unpreservable with the reason.
 */
int kho_record_adopt(struct kho_record *rec, const struct kho_handoff *h,
		     const struct kho_adopt_set *set, struct kho_diag *diag);

/**
 * kho_record_adopted() - the adoption notifier, for kho_adopt_set_notify()
 * @set: the objects kho_adopt_connect() adopted
 * @ctx: the record
 *
 * Reads the sealed copy of the hand-off the agent sent with @set
 * (@set->handoff_fd: a VMM that is not root cannot read the agent's
 * handoff.fdt) and calls kho_record_adopt().  A failure is reported on stderr, never fatal: the
 * VMM runs on, and capture refuses with the reason.
 */
void kho_record_adopted(const struct kho_adopt_set *set, void *ctx);

/**
 * kho_record_atfork_prepare() - fork(2) handler: hold the lock across fork
 * @rec: the record
 */
void kho_record_atfork_prepare(struct kho_record *rec);

/**
 * kho_record_atfork_parent() - fork(2) handler: release the lock
 * @rec: the record
 */
void kho_record_atfork_parent(struct kho_record *rec);

/**
 * kho_record_atfork_child() - fork(2) handler for the child
 * @rec: the record
 *
 * The server thread did not survive fork, so it is restarted (for the
 * child's pid) on the child's next recorded call.  The child keeps the
 * journal: it shares every iommufd/VFIO file with the parent, and a
 * daemonising VMM lives on in the child.
 */
void kho_record_atfork_child(struct kho_record *rec);

/**
 * kho_record_busy() - is this thread inside the recorder
 *
 * So that interposed libc wrappers pass the recorder's own calls
 * straight through.  The recorder does its own work with every signal
 * blocked, so this is never true in a signal handler.
 *
 * Return: true while it is.
 */
bool kho_record_busy(void);

/**
 * kho_record_reentered() - is this a signal handler that interrupted a
 * recorded ioctl on this thread
 *
 * The ioctl wrapper runs its system call and writes the record with
 * signals open (blocking them would cost two system calls per ioctl);
 * a handler that runs in between may not take the record's lock, which
 * this thread may hold, and may not be skipped either.  A wrapper that
 * finds this true makes its call and, if the call changes what the
 * record tracks, reports it with kho_record_note_reentry().
 *
 * Return: true in such a handler.
 */
bool kho_record_reentered(void);

/* What a handler did that the record could not follow. */
enum kho_record_reentry {
	KHO_RECORD_REENTRY_NONE = 0,
	KHO_RECORD_REENTRY_IOCTL,	/* a journaled ioctl succeeded */
	KHO_RECORD_REENTRY_CLOSE,
	KHO_RECORD_REENTRY_CLOSE_RANGE,
	KHO_RECORD_REENTRY_DUP,
	KHO_RECORD_REENTRY_FORK,
};

/**
 * kho_record_note_reentry() - mark the journal unpreservable, naming a
 * call a signal handler made while the recorder was busy
 * @rec: the record
 * @kind: the call
 * @cmd: the ioctl's command, for KHO_RECORD_REENTRY_IOCTL
 * @fd: the fd it was made on (the first of a range), or -1
 *
 * Async-signal-safe: one compare-and-swap, no lock; the first call wins.
 * kho_record_status(), record and capture then refuse the journal with
 * "recorder: ioctl IOAS_MAP on fd 5 from a signal handler while the
 * recorder was busy: journal unpreservable".  An ioctl's mark goes when
 * the journal starts over (the iommufd's last close); an fd call's
 * stays, since the fd table no longer follows the process.
 */
void kho_record_note_reentry(struct kho_record *rec,
			     enum kho_record_reentry kind, unsigned long cmd,
			     int fd);

/**
 * kho_record_close_range() - close a range of fds, as close_range(2),
 * and forget them
 * @rec: the record
 * @first: the first fd
 * @last: the last fd (~0U: every fd from @first)
 * @flags: close_range(2)'s CLOSE_RANGE_* flags
 * @real: the close_range to call: libc's, or the next in the symbol chain
 *
 * The recorder's own memfd references are left out of the range (a VMM's
 * "close every fd" would otherwise take the memfds capture sends).  The
 * fds closed leave the fd table, as close() would leave it (an iommufd's
 * last close starts the journal over); with CLOSE_RANGE_CLOEXEC nothing
 * is closed now and the table stays.  The lock is held across the call,
 * so that an fd another thread opens in the range meanwhile is not
 * forgotten with it.
 *
 * Return: what @real returned (0, or -1 with errno: EINVAL for @first >
 * @last or an unknown flag).
 */
int kho_record_close_range(struct kho_record *rec, unsigned int first,
			   unsigned int last, int flags,
			   int (*real)(unsigned int, unsigned int, int));

#endif /* KHO_RECORD_H */
