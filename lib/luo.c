// SPDX-License-Identifier: LGPL-2.1-or-later
/* LUO sessions: create, preserve, retrieve and finish. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/liveupdate.h>

#include "luo.h"

static int luo_ioctl(int fd, unsigned long cmd, void *arg)
{
	if (ioctl(fd, cmd, arg) < 0)
		return -errno;
	return 0;
}

int kho_luo_open(void)
{
	int fd = open(KHO_LUO_DEV, O_RDWR | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

/* The unit of @pid from its cgroup v2 path: "system.slice/foo.service". */
static void unit_of(pid_t pid, char *unit, size_t len)
{
	char path[64], line[512], *last;
	FILE *f;

	snprintf(unit, len, "no unit");
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "0::/", 4))
			continue;
		line[strcspn(line, "\n")] = '\0';
		last = strrchr(line, '/');
		if (last && (strstr(last, ".service") || strstr(last, ".scope")))
			snprintf(unit, len, "unit %s", last + 1);
		break;
	}
	fclose(f);
}

int kho_luo_owner(char *buf, size_t len)
{
	char path[64 + 2 * sizeof(((struct dirent *)0)->d_name)], target[64];
	char comm[32] = "?", unit[128];
	struct dirent *p, *f;
	DIR *proc, *fds;
	pid_t owner = 0;
	ssize_t n;
	FILE *cf;

	proc = opendir("/proc");
	if (!proc)
		return -ENOENT;
	while (!owner && (p = readdir(proc))) {
		if (p->d_name[0] < '1' || p->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/fd", p->d_name);
		fds = opendir(path);
		if (!fds)
			continue;
		while ((f = readdir(fds))) {
			snprintf(path, sizeof(path), "/proc/%s/fd/%s",
				 p->d_name, f->d_name);
			n = readlink(path, target, sizeof(target) - 1);
			if (n < 0)
				continue;
			target[n] = '\0';
			if (!strcmp(target, KHO_LUO_DEV)) {
				owner = atoi(p->d_name);
				break;
			}
		}
		closedir(fds);
	}
	closedir(proc);
	if (!owner)
		return -ENOENT;
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)owner);
	cf = fopen(path, "re");
	if (cf) {
		if (fgets(comm, sizeof(comm), cf))
			comm[strcspn(comm, "\n")] = '\0';
		fclose(cf);
	}
	unit_of(owner, unit, sizeof(unit));
	snprintf(buf, len, "pid %d (%s), %s", (int)owner, comm, unit);
	return owner;
}

static int copy_name(uint8_t *dst, const char *name)
{
	if (strlen(name) >= LIVEUPDATE_SESSION_NAME_LENGTH)
		return -EINVAL;
	memset(dst, 0, LIVEUPDATE_SESSION_NAME_LENGTH);
	memcpy(dst, name, strlen(name));
	return 0;
}

int kho_luo_create_session(int luo_fd, const char *name)
{
	struct liveupdate_ioctl_create_session arg = { .size = sizeof(arg) };
	int ret = copy_name(arg.name, name);

	if (ret)
		return ret;
	ret = luo_ioctl(luo_fd, LIVEUPDATE_IOCTL_CREATE_SESSION, &arg);
	return ret ? ret : arg.fd;
}

int kho_luo_retrieve_session(int luo_fd, const char *name)
{
	struct liveupdate_ioctl_retrieve_session arg = { .size = sizeof(arg) };
	int ret = copy_name(arg.name, name);

	if (ret)
		return ret;
	ret = luo_ioctl(luo_fd, LIVEUPDATE_IOCTL_RETRIEVE_SESSION, &arg);
	return ret ? ret : arg.fd;
}

int kho_luo_preserve_fd(int session_fd, int fd, uint64_t token)
{
	struct liveupdate_session_preserve_fd arg = {
		.size = sizeof(arg), .fd = fd, .token = token,
	};

	return luo_ioctl(session_fd, LIVEUPDATE_SESSION_PRESERVE_FD, &arg);
}

int kho_luo_retrieve_fd(int session_fd, uint64_t token)
{
	struct liveupdate_session_retrieve_fd arg = {
		.size = sizeof(arg), .token = token,
	};
	int ret = luo_ioctl(session_fd, LIVEUPDATE_SESSION_RETRIEVE_FD, &arg);

	return ret ? ret : arg.fd;
}

int kho_luo_finish(int session_fd)
{
	struct liveupdate_session_finish arg = { .size = sizeof(arg) };

	return luo_ioctl(session_fd, LIVEUPDATE_SESSION_FINISH, &arg);
}

int kho_luo_session_name(int fd, char *name, size_t size)
{
	const size_t plen = strlen(KHO_LUO_SESSION_LINK);
	char path[64], link[128];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return -errno;
	link[n] = '\0';
	if ((size_t)n <= plen || strncmp(link, KHO_LUO_SESSION_LINK, plen))
		return -EMEDIUMTYPE;
	if ((size_t)n - plen >= size)
		return -ENAMETOOLONG;
	memcpy(name, link + plen, (size_t)n - plen + 1);
	return 0;
}

/* sd_listen_fds(3)'s protocol: the first passed fd is 3. */
#define LISTEN_FDS_START 3

int kho_luo_listen_session(const char *fdname, char *kname, size_t size)
{
	const char *pid = getenv("LISTEN_PID");
	const char *fds = getenv("LISTEN_FDS");
	const char *names = getenv("LISTEN_FDNAMES");
	size_t len = strlen(fdname);
	const char *p;
	char *end;
	long nr, i;
	int fd, err;

	if (!pid || !fds || !names)
		return -ENOENT;
	/* Meant for another process (our parent's, inherited). */
	if (strtol(pid, &end, 10) != (long)getpid() || *end)
		return -ENOENT;
	nr = strtol(fds, &end, 10);
	if (*end || nr < 0 || nr > 1024)
		return -EINVAL;
	for (i = 0, p = names; i < nr && *p; i++) {
		size_t n = strcspn(p, ":");

		if (n == len && !strncmp(p, fdname, len)) {
			fd = LISTEN_FDS_START + (int)i;
			if (fcntl(fd, F_GETFD) < 0)
				return -EBADF;
			err = kho_luo_session_name(fd, kname, size);
			if (err)
				return err;
			fcntl(fd, F_SETFD, FD_CLOEXEC);
			return fd;
		}
		p += n;
		if (*p == ':')
			p++;
	}
	return -ENOENT;
}
