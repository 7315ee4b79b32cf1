// SPDX-License-Identifier: LGPL-2.1-or-later
/* The memfds the journal names: their tokens, the recorder's references. */
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "internal.h"

static void kho_record_fd_name(int fd, char *buf, size_t len)
{
	char link[64];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, buf, len - 1);
	if (n < 0)
		n = 0;
	buf[n] = 0;
}

/*
 * Whether LUO can preserve the file behind @fd: memfd_luo in 7.2 takes a
 * shmem file with no links (mm/memfd_luo.c: can_preserve) and nothing
 * else.  Return: 0 or -EOPNOTSUPP with the reason in @diag.
 */
int kho_record_check_memfd(int fd, const char *what, struct stat *st,
			   struct kho_diag *diag)
{
	char path[256];
	struct statfs sfs;

	if (fstat(fd, st) < 0 || fstatfs(fd, &sfs) < 0)
		return kho_diag_set(diag, -EOPNOTSUPP, "%s: fd %d: %s", what,
				    fd, strerror(errno));
	kho_record_fd_name(fd, path, sizeof(path));
	if ((uint32_t)sfs.f_type == (uint32_t)HUGETLBFS_MAGIC)
		return kho_diag_set(diag, -EOPNOTSUPP,
				    "%s: %s is a hugetlb memfd: LUO in Linux 7.2 preserves only shmem memfds (memfd-v2), not hugetlbfs",
				    what, path);
	if (!S_ISREG(st->st_mode))
		return kho_diag_set(diag, -EOPNOTSUPP,
				    "%s: %s is not a memfd (not a regular file): only memfds cross kexec",
				    what, path);
	if ((uint32_t)sfs.f_type != (uint32_t)TMPFS_MAGIC)
		return kho_diag_set(diag, -EOPNOTSUPP,
				    "%s: %s is a file on disk (filesystem magic 0x%lx): only memfds cross kexec",
				    what, path, (unsigned long)sfs.f_type);
	if (st->st_nlink)
		return kho_diag_set(diag, -EOPNOTSUPP,
				    "%s: %s is a linked shmem file: LUO preserves only unlinked memfds",
				    what, path);
	return 0;
}

struct kho_record_memfd *kho_record_memfd_find(struct kho_record *rec,
					       dev_t dev, ino_t ino)
{
	size_t i;

	for (i = 0; i < rec->nr_memfds; i++)
		if (rec->memfds[i].dev == dev && rec->memfds[i].ino == ino)
			return &rec->memfds[i];
	return NULL;
}

/* Gives the memfd behind @fd (already checked) its token, in first-use order. */
int kho_record_memfd_add(struct kho_record *rec, int fd,
			 const struct stat *st, uint64_t *token)
{
	struct kho_record_memfd *m = kho_record_memfd_find(rec, st->st_dev,
							   st->st_ino);
	struct kho_record_fdent *e;
	char name[256];
	int own;

	if (m) {
		*token = m->token;
		return 0;
	}
	m = realloc(rec->memfds, (rec->nr_memfds + 1) * sizeof(*m));
	if (!m)
		return -ENOMEM;
	rec->memfds = m;
	own = fcntl(fd, F_DUPFD_CLOEXEC, KHO_RECORD_FD_FLOOR);
	if (own < 0)
		own = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (own < 0)
		return -errno;
	e = kho_record_fdent(rec, own, true);
	if (!e) {
		close(own);
		return -ENOMEM;
	}
	e->internal = true;
	m = &rec->memfds[rec->nr_memfds++];
	memset(m, 0, sizeof(*m));
	m->token = rec->next_token++;
	m->dev = st->st_dev;
	m->ino = st->st_ino;
	m->fd = own;
	kho_record_fd_name(fd, name, sizeof(name));
	/* "/memfd:guest-ram (deleted)" -> "guest-ram" */
	if (!strncmp(name, "/memfd:", 7)) {
		memmove(name, name + 7, strlen(name + 7) + 1);
		if (strlen(name) > 10 &&
		    !strcmp(name + strlen(name) - 10, " (deleted)"))
			name[strlen(name) - 10] = 0;
	}
	snprintf(m->name, sizeof(m->name), "%.63s", name);
	*token = m->token;
	return 0;
}

int kho_record_fd_to_memfd(void *ctx, int fd, uint64_t *token,
			   struct kho_diag *diag)
{
	struct kho_record *rec = ctx;
	struct kho_record_fdent *e = kho_record_fdent(rec, fd, true);
	struct stat st;
	char what[48];
	int ret;

	if (e && e->memfd_token) {
		*token = e->memfd_token;
		return 0;
	}
	snprintf(what, sizeof(what), "MAP_FILE fd %d", fd);
	ret = kho_record_check_memfd(fd, what, &st, diag);
	if (ret)
		return ret;
	ret = kho_record_memfd_add(rec, fd, &st, token);
	if (ret)
		return kho_diag_set(diag, ret, "%s: keeping a reference: %s",
				    what, strerror(-ret));
	/* memfd_add() grew the fd table for its own reference: look @fd up
	 * again rather than write through a stale pointer. */
	e = kho_record_fdent(rec, fd, true);
	if (e)
		e->memfd_token = *token;
	return 0;
}

/* Recorded memfd @i as the hand-off's table has it, read through @fd. */
void kho_record_describe_memfd(const struct kho_record *rec, size_t i, int fd,
			       struct kho_memfd *m)
{
	struct stat st;
	int seals;

	memset(m, 0, sizeof(*m));
	m->token = rec->memfds[i].token;
	if (fstat(fd, &st) == 0)
		m->size = st.st_size;
	seals = fcntl(fd, F_GET_SEALS);
	m->seals = seals < 0 ? 0 : seals;
	snprintf(m->name, sizeof(m->name), "%s", rec->memfds[i].name);
}

