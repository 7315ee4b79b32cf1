// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of the run directory's checks and the upgrade lock (issue
 * #21: two `kho-tool upgrade` at once; a run directory that is a symlink
 * or writable by others).  Two processes contend for the lock.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ktest.h"
#include "rundir.h"

static int tmpdir(char *dir)
{
	strcpy(dir, "/tmp/kho-rundir-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

KTEST(rundir_lock_refuses_a_second_holder_by_pid)
{
	struct kho_diag diag = { "" };
	char dir[64], want[64], ok;
	int dfd, fd, ready[2], go[2], status;
	pid_t child, holder;

	ASSERT_EQ(0, tmpdir(dir));
	ASSERT_EQ(0, pipe(ready));
	ASSERT_EQ(0, pipe(go));
	child = fork();
	ASSERT_TRUE(child >= 0);
	if (!child) {
		/* The first upgrade: takes the lock and holds it. */
		dfd = kho_rundir_open(dir, &diag);
		fd = dfd < 0 ? -1 : kho_rundir_lock(dfd, KHO_UPGRADE_LOCK,
						   &holder, &diag);
		ok = fd >= 0 ? 'y' : 'n';
		if (write(ready[1], &ok, 1) != 1 || read(go[0], &ok, 1) < 0)
			_exit(2);
		_exit(fd >= 0 ? 0 : 1);
	}
	ASSERT_EQ(1, read(ready[0], &ok, 1));
	ASSERT_EQ('y', ok);
	dfd = kho_rundir_open(dir, &diag);
	ASSERT_TRUE(dfd >= 0);
	ASSERT_EQ(-EBUSY, kho_rundir_lock(dfd, KHO_UPGRADE_LOCK, &holder,
					  &diag));
	ASSERT_EQ(child, holder);
	snprintf(want, sizeof(want), "pid %d (test_rundir)", (int)child);
	ASSERT_STR_CONTAINS(diag.msg, want);
	printf("#   %s\n", diag.msg);
	/* The first one ends: the lock is free again. */
	ASSERT_EQ(1, write(go[1], "x", 1));
	ASSERT_EQ(child, waitpid(child, &status, 0));
	ASSERT_EQ(0, WEXITSTATUS(status));
	fd = kho_rundir_lock(dfd, KHO_UPGRADE_LOCK, &holder, &diag);
	ASSERT_TRUE(fd >= 0);
	close(fd);
	close(dfd);
	snprintf(want, sizeof(want), "rm -rf %s", dir);
	ASSERT_EQ(0, system(want));
}

KTEST(rundir_refuses_symlinks_and_shared_modes)
{
	struct kho_diag diag = { "" };
	char dir[64], path[128], other[128];
	pid_t holder;
	int dfd;

	ASSERT_EQ(0, tmpdir(dir));
	/* A symlink for the directory. */
	snprintf(other, sizeof(other), "%s.link", dir);
	ASSERT_EQ(0, symlink(dir, other));
	ASSERT_EQ(-ELOOP, kho_rundir_open(other, &diag));
	ASSERT_STR_CONTAINS(diag.msg, "symlink");
	unlink(other);
	/* A directory others may write to. */
	ASSERT_EQ(0, chmod(dir, 0777));
	ASSERT_EQ(-EPERM, kho_rundir_open(dir, &diag));
	ASSERT_STR_CONTAINS(diag.msg, "mode 0777");
	ASSERT_EQ(0, chmod(dir, 0711));
	dfd = kho_rundir_open(dir, &diag);
	ASSERT_TRUE(dfd >= 0);
	/* A lock file that is a symlink, or has a second link. */
	snprintf(path, sizeof(path), "%s/" KHO_UPGRADE_LOCK, dir);
	ASSERT_EQ(0, symlink("/etc/passwd", path));
	ASSERT_EQ(-ELOOP, kho_rundir_lock(dfd, KHO_UPGRADE_LOCK, &holder,
					  &diag));
	unlink(path);
	snprintf(other, sizeof(other), "%s/other", dir);
	close(open(other, O_CREAT | O_WRONLY, 0600));
	ASSERT_EQ(0, link(other, path));
	ASSERT_EQ(-EPERM, kho_rundir_lock(dfd, KHO_UPGRADE_LOCK, &holder,
					  &diag));
	ASSERT_STR_CONTAINS(diag.msg, "one link");
	unlink(other);
	/* Group-writable lock file. */
	ASSERT_EQ(0, chmod(path, 0620));
	ASSERT_EQ(-EPERM, kho_rundir_lock(dfd, KHO_UPGRADE_LOCK, &holder,
					  &diag));
	unlink(path);
	close(dfd);
	snprintf(path, sizeof(path), "rm -rf %s", dir);
	ASSERT_EQ(0, system(path));
}
