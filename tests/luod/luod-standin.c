// SPDX-License-Identifier: GPL-2.0
/*
 * luod-standin: a small stand-in for luod (github.com/soleen/luo-agent),
 * which is a skeleton upstream and not packaged, speaking the protocol
 * kho-tool assumes of it (lib/luod.h, docs/operations.md "luod").  It
 * owns /dev/liveupdate, as luod would, so that kho-tool's direct path is
 * closed and the luod path is the only one.  Plain libc, like a third
 * party's program; one client at a time.
 *
 *   luod-standin [SOCKET]      default /run/luod/liveupdate.sock
 *
 * SUBSCRIBE {name}             ok
 * START_PRESERVATION {session} a new outgoing session of that name, fd
 * READY {session}              ok, then reboot(KEXEC) into the loaded image
 *                              (refused when none is loaded)
 * CLAIM {session}              the incoming session of that name, fd
 * FINISH {session}             drops the stand-in's copy of the session
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/liveupdate.h>
#include <linux/reboot.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_SESSIONS 16

static struct {
	char name[LIVEUPDATE_SESSION_NAME_LENGTH];
	int fd;
} sessions[MAX_SESSIONS];

/* The string value of "@key":"..." in @line (no escapes: the names here
 * are plain). */
static int field(const char *line, const char *key, char *out, size_t size)
{
	char pat[64];
	const char *p, *end;

	snprintf(pat, sizeof(pat), "\"%s\":\"", key);
	p = strstr(line, pat);
	if (!p)
		return -1;
	p += strlen(pat);
	end = strchr(p, '"');
	if (!end || (size_t)(end - p) >= size)
		return -1;
	memcpy(out, p, end - p);
	out[end - p] = '\0';
	return 0;
}

static void reply(int c, int fd, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void reply(int c, int fd, const char *fmt, ...)
{
	char line[512], cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { .iov_base = line };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	va_list ap;

	va_start(ap, fmt);
	iov.iov_len = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	line[iov.iov_len++] = '\n';
	if (fd >= 0) {
		struct cmsghdr *cm;

		msg.msg_control = cbuf;
		msg.msg_controllen = sizeof(cbuf);
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	if (sendmsg(c, &msg, MSG_NOSIGNAL) < 0)
		perror("luod-standin: sendmsg");
}

static int session_slot(const char *name)
{
	int i, free_slot = -1;

	for (i = 0; i < MAX_SESSIONS; i++) {
		if (sessions[i].fd > 0 && !strcmp(sessions[i].name, name))
			return i;
		if (sessions[i].fd <= 0 && free_slot < 0)
			free_slot = i;
	}
	return free_slot;
}

static int kexec_loaded(void)
{
	char c = '0';
	int fd = open("/sys/kernel/kexec_loaded", O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		if (read(fd, &c, 1) != 1)
			c = '0';
		close(fd);
	}
	return c == '1';
}

static void handle(int luo, int c, const char *line)
{
	char cmd[32], name[LIVEUPDATE_SESSION_NAME_LENGTH];
	int slot;

	if (field(line, "cmd", cmd, sizeof(cmd))) {
		reply(c, -1, "{\"status\":\"error\",\"error\":\"no cmd\"}");
		return;
	}
	printf("luod-standin: %s\n", line);
	fflush(stdout);
	if (!strcmp(cmd, "SUBSCRIBE")) {
		reply(c, -1, "{\"status\":\"ok\"}");
		return;
	}
	if (field(line, "session", name, sizeof(name))) {
		reply(c, -1, "{\"status\":\"error\",\"error\":\"%s without a session\"}", cmd);
		return;
	}
	slot = session_slot(name);
	if (!strcmp(cmd, "START_PRESERVATION") || !strcmp(cmd, "CLAIM")) {
		struct liveupdate_ioctl_create_session cr = { .size = sizeof(cr) };
		struct liveupdate_ioctl_retrieve_session rt = { .size = sizeof(rt) };
		int claim = !strcmp(cmd, "CLAIM"), ret;

		if (slot < 0) {
			reply(c, -1, "{\"status\":\"error\",\"error\":\"too many sessions\"}");
			return;
		}
		if (sessions[slot].fd > 0) {
			reply(c, sessions[slot].fd, "{\"status\":\"ok\",\"session\":\"%s\"}", name);
			return;
		}
		if (claim) {
			memcpy(rt.name, name, strlen(name) + 1);
			ret = ioctl(luo, LIVEUPDATE_IOCTL_RETRIEVE_SESSION, &rt);
		} else {
			memcpy(cr.name, name, strlen(name) + 1);
			ret = ioctl(luo, LIVEUPDATE_IOCTL_CREATE_SESSION, &cr);
		}
		if (ret < 0) {
			int e = errno;

			reply(c, -1, "{\"status\":\"error\",\"error\":\"%s %s: %s\"%s}",
			      claim ? "retrieve" : "create", name, strerror(e),
			      e == ENOENT ? ",\"errno\":\"ENOENT\"" : "");
			return;
		}
		snprintf(sessions[slot].name, sizeof(sessions[slot].name), "%s", name);
		sessions[slot].fd = claim ? rt.fd : cr.fd;
		reply(c, sessions[slot].fd, "{\"status\":\"ok\",\"session\":\"%s\"}", name);
		return;
	}
	if (!strcmp(cmd, "READY")) {
		if (!kexec_loaded()) {
			reply(c, -1, "{\"status\":\"error\",\"error\":\"no kexec image loaded\"}");
			return;
		}
		reply(c, -1, "{\"status\":\"ok\"}");
		printf("luod-standin: every subscriber ready: kexec\n");
		fflush(stdout);
		sync();
		/* The sessions' fds are ours and open: LUO carries them. */
		reboot(LINUX_REBOOT_CMD_KEXEC);
		perror("luod-standin: reboot(KEXEC)");
		return;
	}
	if (!strcmp(cmd, "FINISH")) {
		if (slot >= 0 && sessions[slot].fd > 0) {
			close(sessions[slot].fd);
			sessions[slot].fd = 0;
		}
		reply(c, -1, "{\"status\":\"ok\"}");
		return;
	}
	reply(c, -1, "{\"status\":\"error\",\"error\":\"unknown cmd %s\"}", cmd);
}

/* SIGTERM is a clean stop; the sessions' fds go with the process. */
static void on_term(int sig)
{
	_exit(0);
}

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "/run/luod/liveupdate.sock";
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char line[1024];
	int luo, lfd, c;

	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, on_term);
	luo = open("/dev/liveupdate", O_RDWR | O_CLOEXEC);
	if (luo < 0) {
		perror("luod-standin: /dev/liveupdate");
		return 1;
	}
	mkdir("/run/luod", 0755);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	unlink(path);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    chmod(path, 0600) || listen(lfd, 4)) {
		perror("luod-standin: socket");
		return 1;
	}
	printf("luod-standin: ready pid=%d, holding /dev/liveupdate\n", getpid());
	fflush(stdout);
	for (;;) {
		size_t len = 0;
		ssize_t n;

		c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0)
			continue;
		while ((n = read(c, line + len, 1)) == 1) {
			if (line[len] == '\n') {
				line[len] = '\0';
				handle(luo, c, line);
				len = 0;
			} else if (++len == sizeof(line) - 1) {
				len = 0;
			}
		}
		close(c);
	}
}
