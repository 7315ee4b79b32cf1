/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The transport of QEMU's cpr-transfer mode as kho-tool speaks it: unix
 * stream sockets whose bytes carry descriptors in SCM_RIGHTS (the cpr
 * channel), a plain byte stream (the main channel), and a minimal QMP
 * client to drive the source QEMU.  docs/qemu-cpr.md has the sequence.
 */
#ifndef KHO_CPR_CHAN_H
#define KHO_CPR_CHAN_H

#include <stddef.h>
#include <stdint.h>

/* Listens on a fresh unix socket at @path: the fd, or -errno. */
int kho_cpr_listen(const char *path);
/* Accepts one peer within @timeout_ms: the fd, or -ETIMEDOUT / -errno. */
int kho_cpr_accept(int lfd, int timeout_ms);
/*
 * Connects to @path, retrying while it does not exist or nobody listens
 * yet (a starting QEMU), for up to @timeout_ms: the fd, or -errno.
 */
int kho_cpr_connect(const char *path, int timeout_ms);

/**
 * kho_cpr_recv_all() - read a cpr channel to its end, keeping its fds
 * @sock: connected socket
 * @max: most bytes accepted; @maxfds: most descriptors accepted
 * @buf, @len: the bytes (malloc'd); @fds, @nr_fds: the descriptors, in
 *	arrival order (malloc'd, close-on-exec, owned by the caller)
 * @timeout_ms: for each read
 *
 * Return: 0; -E2BIG more than @max bytes or @maxfds fds; -EBADMSG
 * truncated ancillary data; -ETIMEDOUT; -ENOMEM; -errno of recvmsg.
 */
int kho_cpr_recv_all(int sock, size_t max, unsigned int maxfds,
		     uint8_t **buf, size_t *len, int **fds,
		     unsigned int *nr_fds, int timeout_ms);

/*
 * Sends @len bytes of @buf, attaching fds[i] to the byte at
 * fd_offsets[i] (ascending), each in its own sendmsg as QEMU does.
 * Return: 0 or -errno.
 */
int kho_cpr_send_state(int sock, const uint8_t *buf, size_t len,
		       const size_t *fd_offsets, const int *fds,
		       unsigned int nr_fds);

/* Waits until the peer closes @sock (reads 0): 0, -ETIMEDOUT, -EPROTO
 * if it sent bytes instead, or -errno. */
int kho_cpr_wait_hup(int sock, int timeout_ms);

/* Copies @sock to @outfd until EOF, at most @max bytes: 0, -E2BIG,
 * -ETIMEDOUT (@timeout_ms between reads) or -errno. */
int kho_cpr_recv_to_fd(int sock, int outfd, uint64_t max, uint64_t *total,
		       int timeout_ms);
/* Copies @infd to @sock until EOF: 0 or -errno. */
int kho_cpr_send_from_fd(int sock, int infd, uint64_t *total);

/* A QMP connection: one command at a time, events skipped. */
struct kho_qmp {
	int fd;
	size_t len;
	char buf[65536];
};

/*
 * Connects to a QMP socket, reads the greeting and negotiates
 * capabilities.  Return: 0 or -errno; @err says what failed.
 */
int kho_qmp_open(struct kho_qmp *q, const char *path, int timeout_ms,
		 char *err, size_t errlen);
/*
 * Runs @cmd (one JSON object) and copies the reply line to @reply.
 * Return: 0; -EREMOTEIO QEMU answered an error (its desc in @err);
 * -ETIMEDOUT; -EBADMSG a reply line over the buffer; -errno.
 */
int kho_qmp_exec(struct kho_qmp *q, const char *cmd, char *reply,
		 size_t replylen, int timeout_ms, char *err, size_t errlen);
void kho_qmp_close(struct kho_qmp *q);

#endif /* KHO_CPR_CHAN_H */
