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

#include <stddef.h>
#include <stdint.h>

#define KHO_LUO_DEV "/dev/liveupdate"
/* The session kho-tool creates, and the restore-agent retrieves. */
#define KHO_LUO_SESSION "kho-tool"
/* Token of the hand-off FDT memfd inside that session. */
#define KHO_LUO_HANDOFF_TOKEN 0x6b686f2d68616e64ULL	/* "kho-hand" */
/*
 * Token of the VMM's iommufd, when capture preserves it (the patched
 * kernel's "iommufd-journal-v2" handler); the hand-off's iommufd node
 * carries it, so a reader never assumes it.
 */
#define KHO_LUO_IOMMUFD_TOKEN 0x6b686f2d696f6d6dULL	/* "kho-iomm" */
/*
 * What the kernel shows as the link of a session fd in /proc/self/fd:
 * "anon_inode:[luo_session] NAME" (kernel/liveupdate/luo_session.c).
 */
#define KHO_LUO_SESSION_LINK "anon_inode:[luo_session] "

/*
 * First token of a QEMU's memfds carried by cpr-transfer (kho-tool
 * upgrade --qemu-qmp): the CPR state's fds in order, then its stream.
 */
#define KHO_LUO_CPR_TOKEN_BASE 0x6b686f2d63707200ULL	/* "kho-cpr\0" */

/**
 * kho_luo_open() - open /dev/liveupdate
 *
 * Return: the fd; -EBUSY (another process holds it); or the -errno of
 * open(2).
 */
int kho_luo_open(void);

/**
 * kho_luo_owner() - who holds /dev/liveupdate open
 * @buf: out: "pid N (COMM), unit UNIT" (the systemd unit from the
 *       process's cgroup, "no unit" outside one)
 * @len: size of @buf
 *
 * The kernel lets one process open the device: when kho_luo_open() says
 * -EBUSY, this names the one, found through /proc/PID/fd.
 *
 * Return: the owner's pid; -ENOENT (no process of ours can see one).
 */
int kho_luo_owner(char *buf, size_t len);

/**
 * kho_luo_create_session() - create an outgoing session
 * @luo_fd: /dev/liveupdate
 * @name:   the session's name
 *
 * Return: the session fd; -EINVAL (@name too long); -EEXIST (the name is
 * in use); or the ioctl's -errno.
 */
int kho_luo_create_session(int luo_fd, const char *name);

/**
 * kho_luo_retrieve_session() - retrieve an incoming session
 * @luo_fd: /dev/liveupdate
 * @name:   the session's name
 *
 * Return: the session fd; -EINVAL (@name too long); -ENOENT (no such
 * session); or the ioctl's -errno.
 */
int kho_luo_retrieve_session(int luo_fd, const char *name);

/**
 * kho_luo_preserve_fd() - preserve a file in an outgoing session
 * @session_fd: the session
 * @fd:         the file
 * @token:      the token it is retrieved by after the kexec
 *
 * Return: 0; -EOPNOTSUPP (the file's type cannot be preserved); or the
 * ioctl's -errno.
 */
int kho_luo_preserve_fd(int session_fd, int fd, uint64_t token);

/**
 * kho_luo_retrieve_fd() - retrieve a preserved file
 * @session_fd: the incoming session
 * @token:      the token it was preserved under
 *
 * Return: the new fd; -ENOENT (no such token); or the ioctl's -errno.
 */
int kho_luo_retrieve_fd(int session_fd, uint64_t token);

/**
 * kho_luo_finish() - end an incoming session
 * @session_fd: the session
 *
 * Return: 0; -EBUSY (files not yet retrieved); or the ioctl's -errno.
 */
int kho_luo_finish(int session_fd);

/**
 * kho_luo_session_name() - the kernel's name of a LUO session fd
 * @fd:   any fd
 * @name: out: the session's name (NUL-terminated)
 * @size: room in @name
 *
 * Return: 0; -EMEDIUMTYPE (@fd is not a LUO session); -ENAMETOOLONG; or
 * the -errno of readlink(2) on /proc/self/fd/@fd.
 */
int kho_luo_session_name(int fd, char *name, size_t size);

/**
 * kho_luo_listen_session() - the session the service manager passed
 * @fdname: the name it was passed under (systemd's LUOSession=NAME puts
 *          it in the unit's fd store under FDNAME=NAME and passes it by
 *          LISTEN_FDS/LISTEN_FDNAMES, sd_listen_fds(3))
 * @kname:  out: the kernel's name of the session (systemd derives it from
 *          the unit's name: "khoprobe.serv-f752d9fab7db484d9f848067")
 * @size:   room in @kname
 *
 * Only fds passed to this very process count (LISTEN_PID).  The fd found
 * is made close-on-exec, so that nothing this process runs inherits it.
 *
 * Return: the session fd; -ENOENT (none passed under @fdname: the caller
 * takes the direct path); -EMEDIUMTYPE (an fd is passed under @fdname but
 * it is not a LUO session); -EBADF (LISTEN_FDS names an fd that is not
 * open); -EINVAL (LISTEN_FDS or LISTEN_FDNAMES malformed).
 */
int kho_luo_listen_session(const char *fdname, char *kname, size_t size);

#endif /* KHO_LUO_H */
