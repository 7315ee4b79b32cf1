// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of kho-tool's luod client (lib/luod.c) against scripted
 * replies over a socketpair: the request line it writes, a session fd
 * taken from the reply, luod's refusal named, and malformed replies
 * refused.  A real luod stand-in with a real session runs in the guest
 * (tests/luod/luod-standin.c, tests/vm/060).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fdpass.h"
#include "ktest.h"
#include "luod.h"

/* luod's side: one reply line, with @fd when >= 0. */
static void answer(int s, const char *line, int fd)
{
	kho_fd_send(s, line, strlen(line), fd >= 0 ? &fd : NULL, fd >= 0);
}

static void request_line(int s, char *buf, size_t size)
{
	ssize_t n = read(s, buf, size - 1);

	buf[n > 0 ? n : 0] = '\0';
}

KTEST(luod_call_takes_the_session_fd_of_an_ok_reply)
{
	struct kho_diag diag = { "" };
	char req[256];
	struct stat a, b;
	int sv[2], p[2], fd = -1;

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	ASSERT_EQ(0, pipe(p));
	answer(sv[1], "{\"status\":\"ok\",\"session\":\"kho-tool\"}\n", p[0]);
	ASSERT_EQ(0, kho_luod_call(sv[0], "START_PRESERVATION", "session",
				   "kho-tool", &fd, &diag));
	request_line(sv[1], req, sizeof(req));
	ASSERT_STR_CONTAINS(req, "{\"cmd\":\"START_PRESERVATION\",\"session\":\"kho-tool\"}\n");
	ASSERT_TRUE(fd >= 0);
	ASSERT_EQ(0, fstat(fd, &a));
	ASSERT_EQ(0, fstat(p[0], &b));
	ASSERT_EQ(a.st_ino, b.st_ino);
	close(fd);
	close(p[0]);
	close(p[1]);
	close(sv[0]);
	close(sv[1]);
}

KTEST(luod_call_names_luods_refusal)
{
	struct kho_diag diag = { "" };
	int sv[2];

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	answer(sv[1], "{\"status\":\"error\",\"error\":\"no kexec image loaded\"}\n", -1);
	ASSERT_EQ(-EREMOTEIO, kho_luod_call(sv[0], "READY", "session",
					    "kho-tool", NULL, &diag));
	ASSERT_STR_CONTAINS(diag.msg, "luod: READY kho-tool: no kexec image loaded");
	close(sv[0]);
	close(sv[1]);
}

KTEST(luod_call_says_enoent_for_no_such_session)
{
	struct kho_diag diag = { "" };
	int sv[2], fd;

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	answer(sv[1], "{\"status\":\"error\",\"error\":\"retrieve kho-tool: No such file or directory\",\"errno\":\"ENOENT\"}\n", -1);
	ASSERT_EQ(-ENOENT, kho_luod_call(sv[0], "CLAIM", "session", "kho-tool",
					 &fd, &diag));
	ASSERT_EQ(-1, fd);
	ASSERT_STR_CONTAINS(diag.msg, "No such file or directory");
	close(sv[0]);
	close(sv[1]);
}

KTEST(luod_call_refuses_what_is_not_a_reply)
{
	struct kho_diag diag = { "" };
	int sv[2], fd;

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	/* No status at all. */
	answer(sv[1], "{\"session\":\"kho-tool\"}\n", -1);
	ASSERT_EQ(-EBADMSG, kho_luod_call(sv[0], "SUBSCRIBE", "name",
					  "kho-tool", NULL, &diag));
	/* ok, but the session the caller needs did not come with it. */
	answer(sv[1], "{\"status\":\"ok\"}\n", -1);
	ASSERT_EQ(-EBADMSG, kho_luod_call(sv[0], "CLAIM", "session",
					  "kho-tool", &fd, &diag));
	ASSERT_EQ(-1, fd);
	/* luod went away mid-conversation. */
	close(sv[1]);
	ASSERT_EQ(-ECONNRESET, kho_luod_call(sv[0], "FINISH", "session",
					     "kho-tool", NULL, &diag));
	close(sv[0]);
}

KTEST(luod_call_escapes_the_value_it_sends)
{
	struct kho_diag diag = { "" };
	char req[256];
	int sv[2];

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	answer(sv[1], "{\"status\":\"ok\"}\n", -1);
	ASSERT_EQ(0, kho_luod_call(sv[0], "SUBSCRIBE", "name", "a\"b\n",
				   NULL, &diag));
	request_line(sv[1], req, sizeof(req));
	ASSERT_STR_CONTAINS(req, "{\"cmd\":\"SUBSCRIBE\",\"name\":\"a\\\"b\\u000a\"}\n");
	close(sv[0]);
	close(sv[1]);
}

/* A socket served by a user that is not root is not luod. */
KTEST(luod_connect_refuses_a_server_that_is_not_root)
{
	struct kho_diag diag = { "" };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char dir[] = "/tmp/test_luod.XXXXXX", path[sizeof(sa.sun_path)];
	int ready[2], fd, st;
	pid_t pid;

	ASSERT_TRUE(mkdtemp(dir) != NULL);
	ASSERT_EQ(0, chmod(dir, 0777));
	snprintf(path, sizeof(path), "%s/liveupdate.sock", dir);
	ASSERT_EQ(0, pipe(ready));
	pid = fork();
	ASSERT_TRUE(pid >= 0);
	if (pid == 0) {
		int l;

		/* As root, become nobody; otherwise this user is not root. */
		if (geteuid() == 0 && setresuid(65534, 65534, 65534))
			_exit(1);
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
		l = socket(AF_UNIX, SOCK_STREAM, 0);
		if (l < 0 || bind(l, (struct sockaddr *)&sa, sizeof(sa)) ||
		    listen(l, 1) || write(ready[1], "r", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(ready[1]);
	ASSERT_EQ(1, (int)read(ready[0], &st, 1));
	fd = kho_luod_connect(path, &diag);
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	unlink(path);
	rmdir(dir);
	close(ready[0]);
	ASSERT_EQ(-EPERM, fd);
	ASSERT_STR_CONTAINS(diag.msg, "not by root: refusing it");
}

KTEST(luod_present_only_for_a_socket)
{
	ASSERT_TRUE(!kho_luod_present("/nonexistent/luod.sock"));
	ASSERT_TRUE(!kho_luod_present("/dev/null"));
}

