// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of the atomic writes (issue #21, faults): the hand-off file
 * (`capture --out`, kho_capture_write()) and the agent's files in /run go
 * through kho_write_file().  On a full tmpfs and on a read-only one, the
 * write fails with ENOSPC or EROFS, names the step, keeps the old file
 * whole and leaves no temporary file.  Needs mount(2): skipped otherwise.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ktest.h"
#include "capture.h"
#include "file.h"
#include "handoff.h"

static char mnt[64];

static int mount_small_tmpfs(void)
{
	strcpy(mnt, "/tmp/kho-full-XXXXXX");
	if (!mkdtemp(mnt))
		return -1;
	if (mount("kho-test", mnt, "tmpfs", 0, "size=64k,mode=0700")) {
		rmdir(mnt);
		return -1;
	}
	return 0;
}

static void umount_tmpfs(void)
{
	umount2(mnt, MNT_DETACH);
	rmdir(mnt);
}

/* Files in the mount other than @keep (a leftover temporary file). */
static int others(const char *keep)
{
	struct dirent *e;
	DIR *d = opendir(mnt);
	int n = 0;

	while (d && (e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
		    strcmp(e->d_name, keep) && strcmp(e->d_name, "filler"))
			n++;
	if (d)
		closedir(d);
	return n;
}

static int read_back(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return n;
}

KTEST(write_file_full_and_readonly)
{
	struct kho_diag diag = { "" };
	struct kho_capture cap;
	static char big[256 << 10];
	char path[128], got[64];
	int fd;

	if (mount_small_tmpfs()) {
		printf("# SKIP: cannot mount a tmpfs (not root?): %s\n",
		       strerror(errno));
		return;
	}
	snprintf(path, sizeof(path), "%s/handoff.fdt", mnt);
	ASSERT_EQ(0, kho_write_file(path, "old hand-off", 12, 0600, &diag));
	/* Fill the rest of the 64 KiB. */
	snprintf(got, sizeof(got), "%s/filler", mnt);
	fd = open(got, O_WRONLY | O_CREAT, 0600);
	ASSERT_TRUE(fd >= 0);
	while (write(fd, big, 4096) > 0)
		;
	close(fd);
	/* A new hand-off larger than what is left: ENOSPC, old one whole. */
	memset(&cap, 0, sizeof(cap));
	cap.blob = big;
	cap.blob_len = sizeof(big);
	ASSERT_EQ(-ENOSPC, kho_capture_write(&cap, path, &diag));
	printf("#   %s\n", diag.msg);
	ASSERT_STR_CONTAINS(diag.msg, "No space left on device");
	ASSERT_EQ(12, read_back(path, got, sizeof(got)));
	ASSERT_EQ(0, strcmp(got, "old hand-off"));
	ASSERT_EQ(0, others("handoff.fdt"));
	/* A read-only /run: EROFS, old one whole. */
	ASSERT_EQ(0, mount(NULL, mnt, NULL, MS_REMOUNT | MS_RDONLY, NULL));
	ASSERT_EQ(-EROFS, kho_write_file(path, "new", 3, 0600, &diag));
	printf("#   %s\n", diag.msg);
	ASSERT_EQ(12, read_back(path, got, sizeof(got)));
	ASSERT_EQ(0, mount(NULL, mnt, NULL, MS_REMOUNT, "size=1m"));
	/* Room again: the write lands whole. */
	ASSERT_EQ(0, kho_write_file(path, "new", 3, 0600, &diag));
	ASSERT_EQ(3, read_back(path, got, sizeof(got)));
	ASSERT_EQ(0, others("handoff.fdt"));
	umount_tmpfs();
}

/*
 * The agent writes by a name relative to its run directory and names the
 * file by its absolute path (restore-agent/rundir.c): each message names
 * what the reader knows, the temporary file included.
 */
KTEST(write_file_as_names_the_shown_path)
{
	struct kho_diag diag = { "" };
	char dir[] = "/tmp/kho-as-XXXXXX", cwd[4096], want[128];

	ASSERT_TRUE(mkdtemp(dir) != NULL);
	ASSERT_TRUE(getcwd(cwd, sizeof(cwd)) != NULL);
	ASSERT_EQ(0, chdir(dir));
	ASSERT_EQ(0, kho_write_file_as("agent.status", "/run/kho-tool/agent.status",
				       "ready\n", 6, 0644, &diag));
	ASSERT_EQ(6, read_back("agent.status", want, sizeof(want)));
	/* No such directory: the step, the shown temporary name, the cause. */
	ASSERT_EQ(-ENOENT, kho_write_file_as("gone/timeline.json",
					     "/run/kho-tool/timeline.json",
					     "{}", 2, 0600, &diag));
	snprintf(want, sizeof(want),
		 "write /run/kho-tool/timeline.json: create /run/kho-tool/timeline.json.tmp.%d: No such file or directory",
		 (int)getpid());
	ASSERT_EQ(0, strcmp(diag.msg, want));
	unlink("agent.status");
	ASSERT_EQ(0, chdir(cwd));
	rmdir(dir);
}
