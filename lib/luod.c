// SPDX-License-Identifier: LGPL-2.1-or-later
/* kho-tool as a client of luod: the protocol assumed is in luod.h. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "escape.h"
#include "fdpass.h"
#include "luod.h"

/* A luod that does not answer in this long is not going to. */
#define KHO_LUOD_TIMEOUT_SEC 10
/* One reply line: a status and an error text, with room to spare. */
#define KHO_LUOD_LINE_MAX 1024

bool kho_luod_present(const char *path)
{
	struct stat st;

	return !stat(path, &st) && S_ISSOCK(st.st_mode);
}

int kho_luod_connect(const char *path, struct kho_diag *diag)
{
	struct timeval tv = { .tv_sec = KHO_LUOD_TIMEOUT_SEC };
	struct ucred cred = { .pid = 0, .uid = (uid_t)-1 };
	socklen_t cl = sizeof(cred);
	int fd, err;

	fd = kho_unix_connect(path, SOCK_STREAM);
	if (fd == -ENAMETOOLONG)
		return kho_diag_set(diag, fd, "luod: %s: path too long", path);
	if (fd < 0)
		return kho_diag_set(diag, fd, "luod: connect %s: %s", path,
				    strerror(-fd));
	/*
	 * Whoever serves the socket gets our guest RAM in its session: only
	 * root's luod may (a stale path another user bound is not luod).
	 */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0 ||
	    cred.uid != 0) {
		err = -EPERM;
		kho_diag_set(diag, err, "luod: %s is served by pid %d uid %u, not by root: refusing it",
			     path, (int)cred.pid, (unsigned int)cred.uid);
		close(fd);
		return err;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return fd;
}

/*
 * The reply's line, and the descriptor that came with its first byte.
 * Read a byte at a time after the first: a line is short, and nothing
 * past its newline may be taken from the next reply.
 */
static int read_reply(int fd, char *line, size_t size, int *got_fd)
{
	int fds[KHO_FDPASS_MAX];
	size_t nr = 0, len = 0, i;
	ssize_t n;

	*got_fd = -1;
	while (len + 1 < size) {
		n = kho_fd_recv(fd, line + len, 1, 0, fds, &nr, NULL);
		if (n < 0)
			return n == -EAGAIN ? -ETIMEDOUT : (int)n;
		if (n == 0)
			return -ECONNRESET;
		for (i = 0; i < nr; i++) {
			if (*got_fd < 0)
				*got_fd = fds[i];
			else
				close(fds[i]);
		}
		if (line[len++] == '\n') {
			line[len - 1] = '\0';
			return 0;
		}
	}
	return -EBADMSG;
}

int kho_luod_call(int fd, const char *cmd, const char *key, const char *value,
		  int *out_fd, struct kho_diag *diag)
{
	char req[512], esc[256], line[KHO_LUOD_LINE_MAX], status[16];
	char err_text[400];
	int got, err;
	ssize_t n;

	/* kho_json_escape() writes the quotes too. */
	kho_json_escape(esc, sizeof(esc), value);
	n = snprintf(req, sizeof(req), "{\"cmd\":\"%s\",\"%s\":%s}\n",
		     cmd, key, esc);
	if (out_fd)
		*out_fd = -1;
	if (send(fd, req, n, MSG_NOSIGNAL) != n) {
		err = errno == EPIPE ? -ECONNRESET : -errno;
		return kho_diag_set(diag, err, "luod: %s %s: send: %s", cmd,
				    value, err == -ECONNRESET ?
				    "luod closed the connection" : strerror(-err));
	}
	err = read_reply(fd, line, sizeof(line), &got);
	if (err)
		return kho_diag_set(diag, err, "luod: %s %s: reply: %s", cmd,
				    value, err == -EBADMSG ? "no line within 1 KiB" :
				    err == -ECONNRESET ? "luod closed the connection" :
				    strerror(-err));
	if (!kho_json_field(line, "status", status, sizeof(status))) {
		err = -EBADMSG;
		kho_diag_set(diag, err, "luod: %s %s: a reply without a status: %.200s",
			     cmd, value, line);
	} else if (strcmp(status, "ok")) {
		char name[16];

		err = kho_json_field(line, "errno", name, sizeof(name)) &&
		      !strcmp(name, "ENOENT") ? -ENOENT : -EREMOTEIO;
		kho_diag_set(diag, err, "luod: %s %s: %s", cmd, value,
			     kho_json_field(line, "error", err_text, sizeof(err_text)) ?
			     err_text : "refused, no reason given");
	} else if (out_fd && got < 0) {
		err = -EBADMSG;
		kho_diag_set(diag, err, "luod: %s %s: the reply carries no session fd",
			     cmd, value);
	}
	if (err || !out_fd) {
		if (got >= 0)
			close(got);
		return err;
	}
	*out_fd = got;
	return 0;
}
