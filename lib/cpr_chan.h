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

/**
 * kho_cpr_listen() - listen on a fresh unix socket
 * @path: where; an existing socket there is replaced
 *
 * Return: the listening fd, or the -errno of socket(2), bind(2) or
 * listen(2) (-ENAMETOOLONG for a path that does not fit).
 */
int kho_cpr_listen(const char *path);

/**
 * kho_cpr_accept() - accept one peer
 * @lfd: the listening fd
 * @timeout_ms: how long to wait
 *
 * Return: the peer's fd; -ETIMEDOUT; or the -errno of poll(2) or accept(2).
 */
int kho_cpr_accept(int lfd, int timeout_ms);

/**
 * kho_cpr_connect() - connect to a peer that may not listen yet
 * @path: its socket
 * @timeout_ms: how long to retry while @path does not exist or nobody
 *	listens on it yet (a starting QEMU)
 *
 * Return: the connected fd; -ETIMEDOUT; -ENAMETOOLONG; or the -errno of
 * socket(2) or connect(2).
 */
int kho_cpr_connect(const char *path, int timeout_ms);

/**
 * kho_cpr_recv_all() - read a cpr channel to its end, keeping its fds
 * @sock: connected socket
 * @max: most bytes accepted
 * @maxfds: most descriptors accepted
 * @buf: out: the bytes (malloc'd)
 * @len: out: their number
 * @fds: out: the descriptors, in arrival order (malloc'd, close-on-exec,
 *	owned by the caller)
 * @nr_fds: out: their number
 * @timeout_ms: for each read
 *
 * Return: 0; -E2BIG more than @max bytes or @maxfds fds; -EBADMSG
 * truncated ancillary data; -ETIMEDOUT; -ENOMEM; -errno of recvmsg.
 */
int kho_cpr_recv_all(int sock, size_t max, unsigned int maxfds,
		     uint8_t **buf, size_t *len, int **fds,
		     unsigned int *nr_fds, int timeout_ms);

/**
 * kho_cpr_send_state() - send a CPR state with its descriptors
 * @sock: the connected cpr channel
 * @buf: the encoded state
 * @len: its length
 * @fd_offsets: for each fd, the offset of the byte that carries it
 *	(ascending)
 * @fds: the descriptors
 * @nr_fds: their number
 *
 * Each descriptor travels in its own sendmsg(2), on its byte, as QEMU
 * sends them.
 *
 * Return: 0; -EINVAL for offsets out of order or past @len; or the -errno
 * of sendmsg(2).
 */
int kho_cpr_send_state(int sock, const uint8_t *buf, size_t len,
		       const size_t *fd_offsets, const int *fds,
		       unsigned int nr_fds);

/**
 * kho_cpr_wait_hup() - wait until the peer closes a channel
 * @sock: the channel
 * @timeout_ms: how long to wait
 *
 * Return: 0 once a read gives end of file; -ETIMEDOUT; -EPROTO if the
 * peer sent bytes instead; or the -errno of poll(2) or read(2).
 */
int kho_cpr_wait_hup(int sock, int timeout_ms);

/**
 * kho_cpr_recv_to_fd() - store a main channel's stream
 * @sock: the channel
 * @outfd: where the bytes go
 * @max: most bytes accepted
 * @total: out: the bytes copied
 * @timeout_ms: the longest wait between two reads
 *
 * Return: 0 at end of file; -E2BIG past @max; -ETIMEDOUT; or the -errno
 * of poll(2), read(2) or write(2).
 */
int kho_cpr_recv_to_fd(int sock, int outfd, uint64_t max, uint64_t *total,
		       int timeout_ms);
/**
 * kho_cpr_send_from_fd() - send a stored stream on a main channel
 * @sock: the channel
 * @infd: the stored stream
 * @total: out: the bytes sent
 *
 * Return: 0 at @infd's end; or the -errno of read(2) or write(2).
 */
int kho_cpr_send_from_fd(int sock, int infd, uint64_t *total);

/* A QMP connection: one command at a time, events skipped. */
struct kho_qmp {
	int fd;
	size_t len;
	char buf[65536];
};

/**
 * kho_qmp_open() - connect to a QMP monitor
 * @q: the connection
 * @path: the monitor's unix socket
 * @timeout_ms: for the connection, the greeting and qmp_capabilities
 * @err: out: what failed
 * @errlen: room in @err
 *
 * Return: 0; -ETIMEDOUT; -EPROTO for a greeting that is not QMP's;
 * -EREMOTEIO if qmp_capabilities is refused; or the -errno of
 * kho_cpr_connect(), read(2) or write(2).
 */
int kho_qmp_open(struct kho_qmp *q, const char *path, int timeout_ms,
		 char *err, size_t errlen);
/**
 * kho_qmp_exec() - run one QMP command
 * @q: the connection
 * @cmd: the command, one JSON object
 * @reply: out: the reply line (events before it are skipped)
 * @replylen: room in @reply
 * @timeout_ms: how long to wait for the reply
 * @err: out: QEMU's error description, or what failed
 * @errlen: room in @err
 *
 * Return: 0; -EREMOTEIO when QEMU answered an error; -ETIMEDOUT; -EBADMSG
 * for a reply line over the buffer; or the -errno of read(2) or write(2).
 */
int kho_qmp_exec(struct kho_qmp *q, const char *cmd, char *reply,
		 size_t replylen, int timeout_ms, char *err, size_t errlen);

/**
 * kho_qmp_close() - close a QMP connection
 * @q: the connection; closing it twice is harmless
 */
void kho_qmp_close(struct kho_qmp *q);

#endif /* KHO_CPR_CHAN_H */
