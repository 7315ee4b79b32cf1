// SPDX-License-Identifier: LGPL-2.1-or-later
/* Another process as /proc shows it: its uid and the files it holds. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proc.h"

int kho_proc_euid(pid_t pid, uid_t *uid)
{
	char path[64], line[256];
	unsigned long real, eff;
	int err = -EBADMSG;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? -ESRCH : -errno;
	while (fgets(line, sizeof(line), f)) {
		/* "Uid:\treal\teffective\tsaved\tfs" */
		if (sscanf(line, "Uid: %lu %lu", &real, &eff) == 2) {
			*uid = (uid_t)eff;
			err = 0;
			break;
		}
	}
	fclose(f);
	return err;
}

int kho_proc_each_fd(pid_t pid, kho_proc_fd_fn fn, void *ctx)
{
	char dir[64], path[64 + sizeof(((struct dirent *)0)->d_name)];
	struct dirent *e;
	int err = 0;
	DIR *d;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	d = opendir(dir);
	if (!d)
		return -errno;
	while (!err && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		err = fn(ctx, atoi(e->d_name), path);
	}
	closedir(d);
	return err;
}

int kho_proc_stop(pid_t pid)
{
	char path[64], buf[512], *p;
	struct timespec ts = { 0, 1000000 };
	FILE *f;
	int i;

	if (kill(pid, SIGSTOP))
		return -errno;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	for (i = 0; i < 1000; i++) {
		f = fopen(path, "re");
		if (!f)
			return -errno;
		p = fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
		fclose(f);
		if (p && (p[2] == 'T' || p[2] == 't'))
			return 0;
		nanosleep(&ts, NULL);
	}
	return -ETIMEDOUT;
}

int kho_proc_continue(pid_t pid)
{
	if (kill(pid, SIGCONT) && errno != ESRCH)
		return -errno;
	return 0;
}
