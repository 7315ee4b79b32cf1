// SPDX-License-Identifier: LGPL-2.1-or-later
/* Whole files: the one capped reader, the one atomic writer, sealed memfds. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file.h"

/* The directory part of @path ("." if none), into @dir. */
static void dir_of(const char *path, char *dir, size_t size)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		snprintf(dir, size, ".");
	else if (slash == path)
		snprintf(dir, size, "/");
	else
		snprintf(dir, size, "%.*s", (int)(slash - path), path);
}

int kho_write_file(const char *path, const void *buf, size_t len,
		   mode_t mode, struct kho_diag *diag)
{
	return kho_write_file_as(path, path, buf, len, mode, diag);
}

int kho_write_file_as(const char *path, const char *shown, const void *buf,
		      size_t len, mode_t mode, struct kho_diag *diag)
{
	char tmp[4096], dir[4096];
	const char *step = "create";
	int fd, dfd, err = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >=
	    (int)sizeof(tmp))
		return kho_diag_set(diag, -ENAMETOOLONG, "write %s: path too long",
				    shown);
	/* O_EXCL | O_NOFOLLOW: never through a file someone put there. */
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		  mode);
	if (fd < 0)
		goto fail_errno;
	step = "write";
	err = kho_write_all(fd, buf, len);
	if (err) {
		errno = -err;
		goto fail_errno;
	}
	step = "fsync";
	if (fsync(fd))
		goto fail_errno;
	step = "close";
	if (close(fd)) {
		fd = -1;
		goto fail_errno;
	}
	fd = -1;
	step = "rename";
	if (rename(tmp, path))
		goto fail_errno;
	/* The rename itself reaches the disk with the directory. */
	dir_of(path, dir, sizeof(dir));
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		if (fsync(dfd) && errno != EINVAL) {
			err = -errno;
			dir_of(shown, dir, sizeof(dir));
			kho_diag_set(diag, err, "write %s: fsync %s: %s",
				     shown, dir, strerror(-err));
		}
		close(dfd);
	}
	return err;

fail_errno:
	err = -errno;
	if (fd >= 0)
		close(fd);
	if (strcmp(step, "create"))
		unlink(tmp);
	return kho_diag_set(diag, err, "write %s: %s %s%s: %s", shown, step,
			    strcmp(step, "rename") ? shown : "into place",
			    strcmp(step, "rename") ? tmp + strlen(path) : "",
			    strerror(-err));
}

int kho_read_file(const char *path, void **bufp, size_t *lenp)
{
	return kho_read_file_max(path, KHO_HANDOFF_MAX, bufp, lenp);
}

int kho_read_file_max(const char *path, size_t max, void **bufp,
		      size_t *lenp)
{
	int fd, err;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	err = kho_read_fd_max(fd, max, bufp, lenp);
	close(fd);
	return err;
}

int kho_read_fd_max(int fd, size_t max, void **bufp, size_t *lenp)
{
	size_t len = 0, cap;
	struct stat st;
	char *buf, *nbuf;
	ssize_t n;
	int err;

	if (max >= SIZE_MAX / 2)
		return -EINVAL;
	if (fstat(fd, &st))
		return -errno;
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > max)
		return -EFBIG;
	/*
	 * Pipes, devices and /proc files report size 0: start small and grow,
	 * never past max + 1 bytes, the one byte that proves the input too
	 * large (/dev/zero once cost 2 GiB of reads here).  A regular file
	 * gets its size + 1, so its end is seen without a second buffer.
	 */
	cap = S_ISREG(st.st_mode) && st.st_size > 0 ? (size_t)st.st_size + 1
						    : 65536;
	if (cap > max + 1)
		cap = max + 1;
	buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		if (len == cap) {
			if (cap == max + 1) {
				err = -EFBIG;
				goto out_free;
			}
			cap = cap > (max + 1) / 2 ? max + 1 : cap * 2;
			nbuf = realloc(buf, cap);
			if (!nbuf) {
				err = -ENOMEM;
				goto out_free;
			}
			buf = nbuf;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			goto out_free;
		}
		if (n == 0)
			break;
		len += n;
	}
	*bufp = buf;
	*lenp = len;
	return 0;

out_free:
	free(buf);
	return err;
}

int kho_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		p += n;
		len -= n;
	}
	return 0;
}

int kho_memfd_sealed(const char *name, const void *buf, size_t len)
{
	int fd, err;

	fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	/* Sized first: a preserved memfd's size is frozen (shmem_freeze). */
	err = ftruncate(fd, len) < 0 ? -errno : 0;
	if (!err && lseek(fd, 0, SEEK_SET) < 0)
		err = -errno;
	if (!err)
		err = kho_write_all(fd, buf, len);
	if (!err && lseek(fd, 0, SEEK_SET) < 0)
		err = -errno;
	if (!err && fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW |
			  F_SEAL_WRITE | F_SEAL_SEAL) < 0)
		err = -errno;
	if (err) {
		close(fd);
		return err;
	}
	return fd;
}
