// SPDX-License-Identifier: LGPL-2.1-or-later
/* The sockets of QEMU's cpr-transfer mode, and a minimal QMP client. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cpr_chan.h"
#include "escape.h"
#include "fdpass.h"
#include "file.h"

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static int wait_fd(int fd, short events, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = events };
	int ret;

	do
		ret = poll(&p, 1, timeout_ms);
	while (ret < 0 && errno == EINTR);
	if (ret < 0)
		return -errno;
	return ret ? 0 : -ETIMEDOUT;
}

int kho_cpr_listen(const char *path)
{
	struct sockaddr_un sa;
	int fd, ret;

	ret = kho_unix_addr(path, &sa);
	if (ret)
		return ret;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 1)) {
		ret = -errno;
		close(fd);
		return ret;
	}
	return fd;
}

int kho_cpr_accept(int lfd, int timeout_ms)
{
	int ret, fd;

	ret = wait_fd(lfd, POLLIN, timeout_ms);
	if (ret)
		return ret;
	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int kho_cpr_connect(const char *path, int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;
	int fd;

	for (;;) {
		fd = kho_unix_connect(path, SOCK_STREAM);
		if (fd >= 0 || (fd != -ENOENT && fd != -ECONNREFUSED))
			return fd;
		if (now_ms() >= deadline)
			return -ETIMEDOUT;
		usleep(20000);
	}
}

int kho_cpr_recv_all(int sock, size_t max, unsigned int maxfds,
		     uint8_t **bufp, size_t *lenp, int **fdsp,
		     unsigned int *nr_fdsp, int timeout_ms)
{
	int got_fds[KHO_FDPASS_MAX];
	uint8_t *buf = NULL, *nb;
	int *fds = NULL, *nf;
	size_t len = 0, cap = 0, n, i;
	unsigned int nr = 0;
	int ret, flags;
	ssize_t got;

	for (;;) {
		/* Room for max + 1 bytes at most: one more than allowed is E2BIG. */
		if (len == cap) {
			if (cap > max) {
				ret = -E2BIG;
				goto fail;
			}
			cap = cap ? cap * 2 : 8192;
			if (cap > max + 1)
				cap = max + 1;
			nb = realloc(buf, cap);
			if (!nb) {
				ret = -ENOMEM;
				goto fail;
			}
			buf = nb;
		}
		ret = wait_fd(sock, POLLIN, timeout_ms);
		if (ret)
			goto fail;
		got = kho_fd_recv(sock, buf + len, cap - len, 0, got_fds, &n,
				  &flags);
		if (got < 0) {
			ret = got;
			goto fail;
		}
		/* Keep what arrived before judging it, so that fail closes it. */
		nf = realloc(fds, (nr + n + 1) * sizeof(int));
		if (!nf) {
			for (i = 0; i < n; i++)
				close(got_fds[i]);
			ret = -ENOMEM;
			goto fail;
		}
		fds = nf;
		memcpy(fds + nr, got_fds, n * sizeof(int));
		nr += n;
		if (flags & MSG_CTRUNC) {
			ret = -EBADMSG;
			goto fail;
		}
		if (nr > maxfds) {
			ret = -E2BIG;
			goto fail;
		}
		if (got == 0)
			break;
		len += got;
		if (len > max) {
			ret = -E2BIG;
			goto fail;
		}
	}
	*bufp = buf;
	*lenp = len;
	*fdsp = fds;
	*nr_fdsp = nr;
	return 0;

fail:
	for (i = 0; i < nr; i++)
		close(fds[i]);
	free(fds);
	free(buf);
	return ret;
}

static int send_all(int sock, const void *p, size_t n)
{
	const uint8_t *b = p;
	ssize_t w;

	while (n) {
		w = send(sock, b, n, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		b += w;
		n -= w;
	}
	return 0;
}

int kho_cpr_send_state(int sock, const uint8_t *buf, size_t len,
		       const size_t *fd_offsets, const int *fds,
		       unsigned int nr_fds)
{
	size_t off = 0;
	unsigned int i;
	ssize_t w;
	int ret;

	for (i = 0; i < nr_fds; i++) {
		if (fd_offsets[i] < off || fd_offsets[i] >= len)
			return -EINVAL;
		ret = send_all(sock, buf + off, fd_offsets[i] - off);
		if (ret)
			return ret;
		/* As qemu_file_put_fd(): the placeholder byte alone, with its fd. */
		w = kho_fd_send(sock, buf + fd_offsets[i], 1, &fds[i], 1);
		if (w < 0)
			return w;
		off = fd_offsets[i] + 1;
	}
	return send_all(sock, buf + off, len - off);
}

int kho_cpr_wait_hup(int sock, int timeout_ms)
{
	char c;
	ssize_t n;
	int ret;

	ret = wait_fd(sock, POLLIN | POLLHUP, timeout_ms);
	if (ret)
		return ret;
	n = recv(sock, &c, 1, MSG_DONTWAIT);
	if (n == 0)
		return 0;
	if (n > 0)
		return -EPROTO;
	return errno == ECONNRESET ? 0 : -errno;
}

int kho_cpr_recv_to_fd(int sock, int outfd, uint64_t max, uint64_t *total,
		       int timeout_ms)
{
	static uint8_t buf[1 << 16];
	uint64_t sum = 0;
	ssize_t n;
	int ret;

	for (;;) {
		ret = wait_fd(sock, POLLIN, timeout_ms);
		if (ret)
			return ret;
		n = read(sock, buf, sizeof(buf));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		if (sum + n > max)
			return -E2BIG;
		ret = kho_write_all(outfd, buf, n);
		if (ret)
			return ret;
		sum += n;
	}
	*total = sum;
	return 0;
}

int kho_cpr_send_from_fd(int sock, int infd, uint64_t *total)
{
	static uint8_t buf[1 << 16];
	uint64_t sum = 0;
	ssize_t n;
	int ret;

	for (;;) {
		n = read(infd, buf, sizeof(buf));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		ret = send_all(sock, buf, n);
		if (ret)
			return ret;
		sum += n;
	}
	*total = sum;
	return 0;
}

/* Reads one line (without its newline) into @line. */
static int qmp_line(struct kho_qmp *q, char *line, size_t cap, int timeout_ms)
{
	char *nl;
	size_t n;
	ssize_t got;
	int ret;

	for (;;) {
		nl = memchr(q->buf, '\n', q->len);
		if (nl) {
			n = nl - q->buf;
			if (n >= cap)
				return -EBADMSG;
			memcpy(line, q->buf, n);
			line[n] = '\0';
			memmove(q->buf, nl + 1, q->len - n - 1);
			q->len -= n + 1;
			return 0;
		}
		if (q->len == sizeof(q->buf))
			return -EBADMSG;
		ret = wait_fd(q->fd, POLLIN, timeout_ms);
		if (ret)
			return ret;
		got = read(q->fd, q->buf + q->len, sizeof(q->buf) - q->len);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (got == 0)
			return -ECONNRESET;
		q->len += got;
	}
}

/* The value of "desc" in a QMP error line (at most 200 bytes), for messages. */
static void qmp_desc(const char *line, char *err, size_t errlen)
{
	if (!kho_json_field(line, "desc", err, errlen < 201 ? errlen : 201))
		snprintf(err, errlen, "%.200s", line);
}

int kho_qmp_exec(struct kho_qmp *q, const char *cmd, char *reply,
		 size_t replylen, int timeout_ms, char *err, size_t errlen)
{
	static char line[65536];
	int ret;

	ret = send_all(q->fd, cmd, strlen(cmd));
	if (!ret)
		ret = send_all(q->fd, "\n", 1);
	if (ret) {
		snprintf(err, errlen, "qmp: write: %s", strerror(-ret));
		return ret;
	}
	for (;;) {
		ret = qmp_line(q, line, sizeof(line), timeout_ms);
		if (ret) {
			snprintf(err, errlen, "qmp: reading the reply: %s",
				 strerror(-ret));
			return ret;
		}
		if (!strncmp(line, "{\"event\"", 8) ||
		    (strstr(line, "\"event\"") && strstr(line, "\"timestamp\"")))
			continue;
		if (strstr(line, "\"error\"")) {
			qmp_desc(line, err, errlen);
			return -EREMOTEIO;
		}
		if (strstr(line, "\"return\"")) {
			if (reply && replylen)
				snprintf(reply, replylen, "%s", line);
			return 0;
		}
	}
}

int kho_qmp_open(struct kho_qmp *q, const char *path, int timeout_ms,
		 char *err, size_t errlen)
{
	static char line[65536];
	int ret;

	q->len = 0;
	q->fd = kho_cpr_connect(path, timeout_ms);
	if (q->fd < 0) {
		ret = q->fd;
		snprintf(err, errlen, "qmp: connect %s: %s", path, strerror(-ret));
		return ret;
	}
	ret = qmp_line(q, line, sizeof(line), timeout_ms);
	if (!ret && !strstr(line, "\"QMP\""))
		ret = -EPROTO;
	if (ret) {
		snprintf(err, errlen, "qmp: %s: no QMP greeting (%s)", path,
			 strerror(-ret));
		goto fail;
	}
	ret = kho_qmp_exec(q, "{\"execute\":\"qmp_capabilities\"}", NULL, 0,
			   timeout_ms, err, errlen);
	if (ret)
		goto fail;
	return 0;
fail:
	close(q->fd);
	q->fd = -1;
	return ret;
}

void kho_qmp_close(struct kho_qmp *q)
{
	if (q->fd >= 0)
		close(q->fd);
	q->fd = -1;
}
