/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * LUO sessions (/dev/liveupdate): thin wrappers that return a new fd or a
 * negative errno, so every caller reports failures the same way.
 *
 * Only one process may hold /dev/liveupdate open (the kernel returns
 * -EBUSY); an outgoing session is unpreserved when its fd is closed, so a
 * caller that kexecs must keep the session fd open until reboot().
 */
#ifndef KHO_LUO_H
#define KHO_LUO_H

#include <stdint.h>

#define KHO_LUO_DEV "/dev/liveupdate"
/* The session kho-tool creates, and the restore-agent retrieves. */
#define KHO_LUO_SESSION "kho-tool"
/* Token of the hand-off FDT memfd inside that session. */
#define KHO_LUO_HANDOFF_TOKEN 0x6b686f2d68616e64ULL	/* "kho-hand" */
/*
 * Token of the VMM's iommufd, when capture preserves it (the patched
 * kernel's "iommufd-journal-v1" handler); the hand-off's iommufd node
 * carries it, so a reader never assumes it.
 */
#define KHO_LUO_IOMMUFD_TOKEN 0x6b686f2d696f6d6dULL	/* "kho-iomm" */

/* Return: an fd on /dev/liveupdate, or -errno (-EBUSY: another owner). */
int kho_luo_open(void);
/* Return: a session fd, or -errno (-EEXIST: name in use). */
int kho_luo_create_session(int luo_fd, const char *name);
/* Return: a session fd, or -errno (-ENOENT: no such session). */
int kho_luo_retrieve_session(int luo_fd, const char *name);
/* Return: 0 or -errno (e.g. -EOPNOTSUPP: fd type not preservable). */
int kho_luo_preserve_fd(int session_fd, int fd, uint64_t token);
/* Return: the retrieved fd, or -errno (-ENOENT: no such token). */
int kho_luo_retrieve_fd(int session_fd, uint64_t token);
/* Return: 0 or -errno (-EBUSY: fds not yet retrieved). */
int kho_luo_finish(int session_fd);

#endif /* KHO_LUO_H */
