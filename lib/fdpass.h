/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Passing file descriptors over a unix socket (SCM_RIGHTS), and unix
 * socket addresses: the one implementation the journal socket, the
 * adoption socket, the agent's keeper and the CPR channels share.
 */
#ifndef KHO_FDPASS_H
#define KHO_FDPASS_H

#include <stddef.h>
#include <sys/types.h>
#include <sys/un.h>

/* SCM_MAX_FD: the most descriptors one message can carry. */
#define KHO_FDPASS_MAX 253

/**
 * kho_fd_send() - send one message with file descriptors attached
 * @sock:   a connected unix socket
 * @buf:    the message's bytes
 * @len:    their number
 * @fds:    the descriptors, in the order the receiver expects them
 * @nr_fds: their number, 0 for none
 *
 * One sendmsg(2) with MSG_NOSIGNAL, retried on EINTR: the descriptors
 * travel with the first byte, so a short send on a stream socket is for
 * the caller to finish without them.
 *
 * Return: the bytes sent; -E2BIG (@nr_fds above KHO_FDPASS_MAX); or the
 * -errno of sendmsg(2).
 */
ssize_t kho_fd_send(int sock, const void *buf, size_t len, const int *fds,
		    size_t nr_fds);

/**
 * kho_fd_recv() - receive one message and the descriptors it carries
 * @sock:      a connected unix socket
 * @buf:       where the message goes
 * @len:       its room
 * @flags:     recvmsg(2) flags (MSG_WAITALL, ...); MSG_CMSG_CLOEXEC is
 *             always added
 * @fds:       out: the descriptors, room for KHO_FDPASS_MAX; the caller
 *             owns them whatever the message says
 * @nr_fds:    out: their number (0 on error)
 * @msg_flags: out, or NULL: the message's flags (MSG_TRUNC, MSG_CTRUNC)
 *
 * Retried on EINTR.  Descriptors beyond KHO_FDPASS_MAX cannot arrive
 * (the kernel's own limit); a truncated control message shows as
 * MSG_CTRUNC.
 *
 * Return: the bytes received, 0 when the peer closed, or the -errno of
 * recvmsg(2).
 */
ssize_t kho_fd_recv(int sock, void *buf, size_t len, int flags, int *fds,
		    size_t *nr_fds, int *msg_flags);

/**
 * kho_unix_addr() - the address of a unix socket path
 * @path: the socket's path
 * @sa:   out: the address, zeroed first
 *
 * Return: 0, or -ENAMETOOLONG when @path does not fit sun_path with its
 * NUL (it is never cut short).
 */
int kho_unix_addr(const char *path, struct sockaddr_un *sa);

/**
 * kho_unix_addr_at() - the address of a name in an open directory
 * @dirfd: the directory, checked by its holder (kho_rundir_open())
 * @name:  the socket's name in it
 * @sa:    out: "/proc/thread-self/fd/DIRFD/NAME"
 *
 * bind(2) and connect(2) take no directory fd; through the magic link
 * they resolve @name in the directory that was checked, whatever its
 * path names by then.
 *
 * Return: 0, or -ENAMETOOLONG.
 */
int kho_unix_addr_at(int dirfd, const char *name, struct sockaddr_un *sa);

/**
 * kho_unix_connect() - a unix socket connected to a path
 * @path: the socket's path
 * @type: SOCK_STREAM, SOCK_SEQPACKET, ...; the socket is CLOEXEC
 *
 * Return: the fd; -ENAMETOOLONG when @path does not fit (kho_unix_addr());
 * the -errno of socket(2) or connect(2), with nothing left open.
 */
int kho_unix_connect(const char *path, int type);

#endif /* KHO_FDPASS_H */
