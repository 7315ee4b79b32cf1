/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The kernel journal: what a kernel carrying patches/ (IOMMU_JOURNAL_READ,
 * the "iommufd-journal-v2" LUO handler) records of an iommufd by itself,
 * read out and converted to the canonical struct kho_rec so that kho-tool
 * and the restore-agent can prefer it to the userspace record.
 */
#ifndef KHO_KJOURNAL_H
#define KHO_KJOURNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "kho.h"

/* The LUO compatible string of the patched iommufd handler. */
#define KHO_KJOURNAL_LUO_COMPATIBLE "iommufd-journal-v2"

/* enum iommu_journal_state, as the patched uapi defines it. */
enum kho_kjournal_state {
	KHO_KJOURNAL_RECORDING = 0,
	KHO_KJOURNAL_PRESERVED = 1,
	KHO_KJOURNAL_RESTORING = 2,
	KHO_KJOURNAL_VERIFIED = 3,
	KHO_KJOURNAL_DIVERGED = 4,
};

struct kho_kjournal_status {
	uint32_t total;		/* records in the journal read */
	uint32_t state;		/* enum kho_kjournal_state */
	uint32_t flags;		/* KHO_KJOURNAL_NOT_CARRIED | _INCOMPLETE */
	uint32_t matched;	/* restoring: expected records replayed */
};

#define KHO_KJOURNAL_NOT_CARRIED (1u << 0)
#define KHO_KJOURNAL_INCOMPLETE (1u << 1)

/* Maps the inode number the kernel recorded to the memfd's LUO token. */
typedef int (*kho_kjournal_ino_fn)(void *ctx, uint64_t ino, uint64_t *token);

/**
 * kho_is_iommufd_link() - is this /proc/PID/fd link an iommufd?
 * @link: the link's target
 *
 * An open of /dev/iommu links to the device node; an iommufd the patched
 * kernel hands out after a live update (LIVEUPDATE_SESSION_RETRIEVE_FD) is
 * an anonymous inode named "[iommufd]" (iommufd_file_create()).
 *
 * Return: true for either.
 */
bool kho_is_iommufd_link(const char *link);

/**
 * kho_kjournal_status() - is this iommufd journaled by the kernel, and how
 * @iommufd: an open /dev/iommu (or a retrieved iommufd)
 * @expected: ask about the journal preserved by the previous kernel
 * @st: filled on success
 *
 * Return: 0 on a patched kernel, -ENOTTY on a kernel without the series
 * (the caller falls back to the userspace record), or the ioctl's -errno.
 */
int kho_kjournal_status(int iommufd, bool expected,
			struct kho_kjournal_status *st);

/**
 * kho_kjournal_available() - does the running kernel carry the series?
 *
 * Opens /dev/iommu and asks.
 *
 * Return: true or false; never fails.
 */
bool kho_kjournal_available(void);

/**
 * kho_kjournal_rec_to_kho() - convert one kernel record to a kho_rec
 * @buf: the record (struct iommu_journal_hdr first)
 * @len: bytes available at @buf
 * @ino_to_token: resolves file identities; NULL leaves the inode number in
 *                memfd_token
 * @ctx: for @ino_to_token
 * @out: the record; owns any inline data on success
 * @used: bytes the record took
 * @diag: why it failed
 *
 * Return: 0, -EBADMSG (malformed record), -EOPNOTSUPP (a record the kernel
 * marked not carried, or an op this library does not know), -ENOMEM, or
 * the resolver's error.
 */
int kho_kjournal_rec_to_kho(const void *buf, size_t len,
			    kho_kjournal_ino_fn ino_to_token, void *ctx,
			    struct kho_rec *out, size_t *used,
			    struct kho_diag *diag);

/**
 * kho_kjournal_read() - read a kernel journal as canonical records
 * @iommufd: the iommufd
 * @expected: read the journal preserved by the previous kernel
 * @ino_to_token: as for kho_kjournal_rec_to_kho()
 * @ctx: for @ino_to_token
 * @out: records are appended (initialised by the caller)
 * @st: the status at the time of the read, or NULL
 * @diag: why it failed
 *
 * Return: 0, -ENOTTY (kernel without the series), -EBADMSG, -EOPNOTSUPP,
 * -ENOMEM, or the ioctl's -errno.
 */
int kho_kjournal_read(int iommufd, bool expected,
		      kho_kjournal_ino_fn ino_to_token, void *ctx,
		      struct kho_journal *out, struct kho_kjournal_status *st,
		      struct kho_diag *diag);

/**
 * kho_kjournal_compare() - check a userspace record against the kernel's
 * @kernel: the kernel's journal (kho_kjournal_read()), authoritative,
 *          passed through kho_journal_elide() as the recorder's was
 * @all:  the recorder's canonical journal of the same iommufd
 * @diag: names the first record that differs, with both sides
 *
 * A DEVICE_MIG_STATE record of @all is left out of the comparison: the
 * kernel journals iommufd and VFIO-cdev ioctls, never a device's FSM
 * arcs, and record numbers in @diag are the kernel's.
 *
 * Return: 0 when both hold the same records in the same order; -EILSEQ
 * otherwise; -ENOMEM.
 */
int kho_kjournal_compare(const struct kho_journal *kernel,
			 const struct kho_journal *all, struct kho_diag *diag);

/**
 * kho_kjournal_pid_iommufd() - a duplicate of the one iommufd @pid holds
 * @pid: the process (a VMM)
 * @diag: why it failed
 *
 * Finds the fd whose /proc/PID/fd link is /dev/iommu and duplicates it
 * with pidfd_getfd(2) (needs ptrace rights over @pid: root).
 *
 * Return: the new fd; -ENOENT (@pid holds no iommufd); -ENOTUNIQ (more
 * than one: which journal is the VMM's is not known); -ESRCH; -EPERM; or
 * the -errno of pidfd_open/pidfd_getfd.
 */
int kho_kjournal_pid_iommufd(pid_t pid, struct kho_diag *diag);

#endif /* KHO_KJOURNAL_H */
