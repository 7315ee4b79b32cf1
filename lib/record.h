/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The recorder: keeps the canonical journal of one process's iommufd and
 * VFIO-cdev ioctls, as the process makes them, and serves it to capture.
 *
 * A VMM either links this API and routes its iommufd/VFIO ioctls through
 * kho_record_ioctl(), or runs unmodified under the LD_PRELOAD recorder
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
 */
#ifndef KHO_RECORD_H
#define KHO_RECORD_H

#include <stdbool.h>
#include <sys/types.h>
#include "kho.h"

struct kho_record;

/* What an fd is to the recorder; only the first two are journaled. */
enum kho_record_fd_kind {
	KHO_RECORD_FD_NONE = 0,		/* not classified yet */
	KHO_RECORD_FD_IOMMUFD,		/* /dev/iommu */
	KHO_RECORD_FD_VFIO_CDEV,	/* /dev/vfio/devices/vfioN */
	KHO_RECORD_FD_OTHER,
};

/*
 * kho_record_new() - an empty record for the calling process.
 * Return: 0 or -ENOMEM.
 */
int kho_record_new(struct kho_record **out);

/* Stops the server (if any), closes the memfd references, frees @rec. */
void kho_record_free(struct kho_record *rec);

/*
 * kho_record_ioctl() - issue ioctl(@fd, @cmd, @arg) and journal it when it
 * succeeded.  A recording failure never fails the call: it marks the
 * journal unpreservable (see kho_record_status()).
 * Return: 0 or the ioctl's -errno.
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

/* Fills @call from @arg before ioctl(fd, @cmd, @arg) runs. */
void kho_record_prepare(unsigned long cmd, const void *arg,
			struct kho_record_call *call);

/*
 * kho_record_note() - journal an ioctl the caller already issued and that
 * succeeded; @arg holds the kernel's outputs, @call what
 * kho_record_prepare() saw before (NULL: the outputs are all there is).
 * Used by the LD_PRELOAD wrapper.  Does nothing for fds that are not
 * iommufd or VFIO cdev fds.
 * Return: 0; -EOPNOTSUPP (a refused mapping, journal now unpreservable);
 * or the canonicaliser's error (journal now unpreservable).
 */
int kho_record_note(struct kho_record *rec, int fd, unsigned long cmd,
		    const void *arg, const struct kho_record_call *call);

/*
 * kho_record_note_failed() - report an ioctl that failed with @err, for a
 * VMM that issues its own ioctls and calls kho_record_note() on success.
 * Only a failed IOMMU_IOAS_UNMAP matters: the kernel may have removed the
 * mappings of the range before the one it refused (-ENOENT: journaled as
 * the UNMAP of exactly those; -EBUSY: the journal becomes unpreservable,
 * since it cannot tell which).  @call: kho_record_prepare()'s, required.
 */
void kho_record_note_failed(struct kho_record *rec, int fd, unsigned long cmd,
			    const struct kho_record_call *call, int err);

/*
 * kho_record_ioctl_via() - the LD_PRELOAD ioctl wrapper's whole job in
 * one call: kho_record_prepare(), @real(fd, cmd, arg), and on success
 * kho_record_note() with errno kept; inside the recorder (kho_record_busy())
 * just @real.  One call instead of four, on a VMM's DMA map path.
 * @real NULL: the ioctl system call itself, for a caller whose next
 * ioctl is libc's own, a bare system call stub; only where
 * kho_record_can_syscall().
 * Return: what @real returned (errno as it left it).
 */
/* Whether kho_record_ioctl_via() may be given a NULL @real here. */
bool kho_record_can_syscall(void);

int kho_record_ioctl_via(struct kho_record *rec,
			 int (*real)(int, unsigned long, ...), int fd,
			 unsigned long cmd, void *arg);

/*
 * kho_record_fd_opened() - @fd was opened from @path (NULL: unknown, the
 * fd is classified from its device number on first use).
 */
void kho_record_fd_opened(struct kho_record *rec, int fd, const char *path);

/* Tells the recorder what @fd is, for a VMM that got it another way. */
void kho_record_fd_set_kind(struct kho_record *rec, int fd,
			    enum kho_record_fd_kind kind);

/*
 * kho_record_fd_kind() - how @fd is classified (classifying it now if it
 * was not): KHO_RECORD_FD_* in *@kind.
 * Return: 0 or -EBADF.
 */
int kho_record_fd_kind(struct kho_record *rec, int fd,
		       enum kho_record_fd_kind *kind);

/* @newfd now refers to what @oldfd refers to (dup, dup2, F_DUPFD). */
void kho_record_fd_dup(struct kho_record *rec, int oldfd, int newfd);

/*
 * kho_record_fd_closed() - @fd was closed.  The last close of a bound
 * VFIO device unbinds it, which the journal cannot express: the journal
 * becomes unpreservable.  The last close of the iommufd (with no device
 * left holding it) destroys every object: the journal starts over.
 */
void kho_record_fd_closed(struct kho_record *rec, int fd);

/*
 * kho_record_fd_internal() - true if @fd is one the recorder holds (its
 * references to memfds), which the process must not close under it.
 */
bool kho_record_fd_internal(struct kho_record *rec, int fd);

/* The address space changed (mmap/munmap/mremap): drop the maps cache. */
void kho_record_maps_changed(struct kho_record *rec);

/*
 * kho_record_status() - can the journal cross kexec?
 * Return: 0 if so; -EOPNOTSUPP with the first reason in @why otherwise.
 */
int kho_record_status(struct kho_record *rec, struct kho_diag *why);

/*
 * kho_record_handoff() - the snapshot as a hand-off: state holds the memfd
 * table and the bound devices, replay the journal as recorded
 * (journal_length: replay.nr plus the calls elided online, two a pair).
 * If @fds is not NULL, *@fds gets a
 * malloc'd array of dup'd memfd fds, one per state.memfd entry (the caller
 * closes them).
 * Return: 0, -ENOMEM, or an errno from dup.
 */
int kho_record_handoff(struct kho_record *rec, struct kho_handoff *h,
		       int **fds, size_t *nr_fds);

/*
 * kho_record_serve() - start the journal socket server of this process
 * (journal_sock.h), serving snapshots of @rec.
 * Return: 0, -EALREADY, or the socket's -errno (diag names the path).
 */
int kho_record_serve(struct kho_record *rec, struct kho_diag *diag);

/* Stops this process's server and removes its socket. */
void kho_record_serve_stop(struct kho_record *rec);

/*
 * kho_record_serve_lazily() - start the server on the first iommufd or
 * VFIO fd the process uses, so that a process which never touches one
 * (most processes an LD_PRELOAD reaches) never gets a socket.
 */
void kho_record_serve_lazily(struct kho_record *rec);

struct kho_adopt_set;

/*
 * kho_record_adopt() - start the journal of a process that adopted the
 * restore-agent's objects (@set) rebuilt from hand-off @h: the journal
 * becomes @h's plan in the new IDs, the adopted memfds keep their tokens,
 * so that this process can be captured for the next kexec (a rollback).
 * Return: 0; -EEXIST (the journal already has an iommufd context);
 * -EBADF (an fd is not what the set says); -ENOENT (the plan names an
 * object the ID map lacks); -ENOMEM.  A failure marks the journal
 * unpreservable with the reason.
 */
int kho_record_adopt(struct kho_record *rec, const struct kho_handoff *h,
		     const struct kho_adopt_set *set, struct kho_diag *diag);

/*
 * kho_record_adopted() - defined by the LD_PRELOAD recorder only:
 * kho_adopt_connect() calls it (when present) after a successful
 * adoption, so an unmodified VMM under the recorder stays recordable.
 * It reads the hand-off the agent left in KHO_RUN_DIR/handoff.fdt.
 */
void kho_record_adopted(const struct kho_adopt_set *set)
	__attribute__((weak));

/* fork(2) handlers: hold the record's lock across fork. */
void kho_record_atfork_prepare(struct kho_record *rec);
void kho_record_atfork_parent(struct kho_record *rec);

/*
 * kho_record_atfork_child() - call in a fork child: the server thread did
 * not survive fork, so it is restarted (for the child's pid) on the
 * child's next recorded call.  The child keeps the journal: it shares
 * every iommufd/VFIO file with the parent, and a daemonising VMM lives on
 * in the child.
 */
void kho_record_atfork_child(struct kho_record *rec);

/*
 * kho_record_busy() - true while this thread runs inside the recorder, so
 * that interposed libc wrappers pass the recorder's own calls straight
 * through.
 */
bool kho_record_busy(void);

#endif /* KHO_RECORD_H */
