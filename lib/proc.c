// SPDX-License-Identifier: LGPL-2.1-or-later
/* Another process as /proc shows it: its uid and the files it holds. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

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

/* kho_proc_each_fd() of @dir, the fd directory of a process in any proc root */
static int each_fd_in(const char *dir, kho_proc_fd_fn fn, void *ctx)
{
	char path[PATH_MAX + sizeof(((struct dirent *)0)->d_name)];
	struct dirent *e;
	int err = 0;
	DIR *d;

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

int kho_proc_each_fd(pid_t pid, kho_proc_fd_fn fn, void *ctx)
{
	char dir[64];

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	return each_fd_in(dir, fn, ctx);
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

int kho_maps_line_parse(const char *line, struct kho_maps_line *m)
{
	int pos = 0;

	if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %4s %" SCNx64 " %x:%x %" SCNu64 " %n",
		   &m->start, &m->end, m->perms, &m->offset, &m->major,
		   &m->minor, &m->ino, &pos) < 7)
		return -EBADMSG;
	/* %n is not reached when nothing, not even a blank, follows. */
	m->path = pos ? line + pos : "";
	m->path_len = strcspn(m->path, "\n");
	return 0;
}

/* Which of @files, if any, a line of /proc/PID/maps maps: its index, or -1 */
static long maps_line_file(const char *line, const struct kho_proc_file *files,
			   size_t nr)
{
	struct kho_maps_line m;
	size_t i;

	if (kho_maps_line_parse(line, &m) || !m.ino)
		return -1;
	for (i = 0; i < nr; i++)
		if (files[i].ino == (ino_t)m.ino &&
		    files[i].dev == makedev(m.major, m.minor))
			return (long)i;
	return -1;
}

static long maps_file(const char *proc, const char *pid,
		      const struct kho_proc_file *files, size_t nr)
{
	char path[PATH_MAX], line[512];
	long found = -1;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s/maps", proc, pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (found < 0 && fgets(line, sizeof(line), f))
		found = maps_line_file(line, files, nr);
	fclose(f);
	return found;
}

struct fd_match {
	const struct kho_proc_file *files;
	size_t nr;
};

/* 1 + the index of the file @path resolves to, 0 for none: ends the walk */
static int fd_matches(void *ctx, int fd, const char *path)
{
	const struct fd_match *m = ctx;
	struct stat st;
	size_t i;

	if (stat(path, &st))
		return 0;
	for (i = 0; i < m->nr; i++)
		if (m->files[i].ino == st.st_ino && m->files[i].dev == st.st_dev)
			return (int)i + 1;
	return 0;
}

static long fd_file(const char *proc, const char *pid,
		    const struct kho_proc_file *files, size_t nr)
{
	struct fd_match m = { files, nr };
	char dir[PATH_MAX];
	int ret;

	snprintf(dir, sizeof(dir), "%s/%s/fd", proc, pid);
	ret = each_fd_in(dir, fd_matches, &m);
	return ret > 0 ? ret - 1 : -1;
}

static void read_comm(const char *proc, const char *pid, char *comm,
		      size_t size)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s/comm", proc, pid);
	comm[0] = 0;
	f = fopen(path, "re");
	if (!f)
		return;
	if (fgets(comm, (int)size, f))
		comm[strcspn(comm, "\n")] = 0;
	fclose(f);
}

static int holder_cmp(const void *a, const void *b)
{
	const struct kho_proc_holder *x = a, *y = b;

	return (x->pid > y->pid) - (x->pid < y->pid);
}

int kho_proc_file_holders(const char *proc, const struct kho_proc_file *files,
			  size_t nr, const pid_t *skip, size_t nr_skip,
			  struct kho_proc_holder **out, size_t *nr_out)
{
	struct kho_proc_holder *list = NULL, *grown;
	size_t n = 0, cap = 0, i;
	struct dirent *e;
	long found;
	pid_t pid;
	DIR *d;

	*out = NULL;
	*nr_out = 0;
	if (!nr)
		return 0;
	d = opendir(proc);
	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		pid = (pid_t)atoi(e->d_name);
		for (i = 0; i < nr_skip && skip[i] != pid; i++)
			;
		if (i < nr_skip)
			continue;
		found = maps_file(proc, e->d_name, files, nr);
		if (found < 0)
			found = fd_file(proc, e->d_name, files, nr);
		if (found < 0)
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 8;
			grown = realloc(list, cap * sizeof(*list));
			if (!grown) {
				free(list);
				closedir(d);
				return -ENOMEM;
			}
			list = grown;
		}
		list[n].pid = pid;
		list[n].file = (size_t)found;
		read_comm(proc, e->d_name, list[n].comm, sizeof(list[n].comm));
		n++;
	}
	closedir(d);
	if (n)
		qsort(list, n, sizeof(*list), holder_cmp);
	*out = list;
	*nr_out = n;
	return 0;
}
