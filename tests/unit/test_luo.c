// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of finding the LUO session systemd passes (LUOSession=,
 * sd_listen_fds(3)'s LISTEN_PID/LISTEN_FDS/LISTEN_FDNAMES): which fd is
 * taken and what is refused.  A real session needs /dev/liveupdate, which
 * tests/vm/120 has; here pipes stand in for the passed fds, so an fd
 * found by name is refused as "not a LUO session".
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "ktest.h"
#include "luo.h"

static void listen_env(long pid, const char *fds, const char *names)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%ld", pid);
	setenv("LISTEN_PID", buf, 1);
	setenv("LISTEN_FDS", fds, 1);
	setenv("LISTEN_FDNAMES", names, 1);
}

/*
 * fds 3 and 4: two ends of a pipe, as a service manager would pass them.
 * Return: 0, or -1 if they could not be put there.
 */
static int pass_two_fds(void)
{
	int p[2];

	if (pipe(p) || dup2(p[0], 3) != 3 || dup2(p[1], 4) != 4)
		return -1;
	if (p[0] > 4)
		close(p[0]);
	if (p[1] > 4)
		close(p[1]);
	return 0;
}

KTEST(luo_listen_session_nothing_passed_is_the_direct_path)
{
	char name[64];

	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	ASSERT_EQ(-ENOENT, kho_luo_listen_session(KHO_LUO_SESSION, name, sizeof(name)));
}

KTEST(luo_listen_session_for_another_pid_is_ignored)
{
	char name[64];

	ASSERT_EQ(0, pass_two_fds());
	listen_env(getpid() + 1, "2", "other:kho-tool");
	ASSERT_EQ(-ENOENT, kho_luo_listen_session(KHO_LUO_SESSION, name, sizeof(name)));
}

KTEST(luo_listen_session_found_by_name_must_be_a_session)
{
	char name[64];

	ASSERT_EQ(0, pass_two_fds());
	/* Found at index 1 (fd 4), whatever the order: a pipe is refused. */
	listen_env(getpid(), "2", "other:kho-tool");
	ASSERT_EQ(-EMEDIUMTYPE, kho_luo_listen_session(KHO_LUO_SESSION, name, sizeof(name)));
	ASSERT_EQ(-EMEDIUMTYPE, kho_luo_session_name(4, name, sizeof(name)));
	listen_env(getpid(), "2", "kho-tool:other");
	ASSERT_EQ(-EMEDIUMTYPE, kho_luo_listen_session(KHO_LUO_SESSION, name, sizeof(name)));
}

KTEST(luo_listen_session_other_names_and_prefixes_do_not_match)
{
	char name[64];

	ASSERT_EQ(0, pass_two_fds());
	listen_env(getpid(), "2", "kho-tool-x:kho");
	ASSERT_EQ(-ENOENT, kho_luo_listen_session(KHO_LUO_SESSION, name, sizeof(name)));
	/* A name past LISTEN_FDS is not passed. */
	listen_env(getpid(), "1", "other:kho-tool");
	ASSERT_EQ(-ENOENT, kho_luo_listen_session(KHO_LUO_SESSION, name, sizeof(name)));
}

KTEST(luo_listen_session_refuses_a_closed_fd_and_a_bad_count)
{
	char name[64];

	ASSERT_EQ(0, pass_two_fds());
	close(4);
	listen_env(getpid(), "2", "other:kho-tool");
	ASSERT_EQ(-EBADF, kho_luo_listen_session(KHO_LUO_SESSION, name, sizeof(name)));
	listen_env(getpid(), "2x", "other:kho-tool");
	ASSERT_EQ(-EINVAL, kho_luo_listen_session(KHO_LUO_SESSION, name, sizeof(name)));
}
