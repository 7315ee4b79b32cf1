// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The hand-off container: its lifetime, the integrity sum, reading a blob
 * from a file, and the translation of libfdt error codes.
 */
#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include <libfdt.h>
#include <zlib.h>

#include "handoff.h"
#include "escape.h"
#include "handoff_format.h"
#include "journal.h"
#include "state.h"

void kho_handoff_init(struct kho_handoff *h)
{
	memset(h, 0, sizeof(*h));
	kho_state_init(&h->state);
	kho_journal_init(&h->replay);
}

void kho_handoff_header(struct kho_handoff *h, uint32_t format_version)
{
	struct utsname uts;

	h->format_version = format_version;
	h->min_reader_version = format_version;
	snprintf(h->tool_version, sizeof(h->tool_version), "%s",
		 KHO_TOOL_VERSION);
	if (!uname(&uts))
		snprintf(h->kernel_release, sizeof(h->kernel_release), "%s",
			 uts.release);
	h->created = time(NULL);
}

void kho_handoff_free(struct kho_handoff *h)
{
	kho_state_free(&h->state);
	kho_journal_free(&h->replay);
	kho_handoff_iommufd_free(&h->iommufd);
	kho_handoff_init(h);
}

void kho_handoff_iommufd_free(struct kho_handoff_iommufd *io)
{
	free(io->files);
	memset(io, 0, sizeof(*io));
}

int kho_handoff_iommufd_copy(struct kho_handoff_iommufd *dst,
			     const struct kho_handoff_iommufd *src)
{
	struct kho_kjournal_file *files = NULL;

	if (src->nr_files) {
		files = calloc(src->nr_files, sizeof(*files));
		if (!files)
			return -ENOMEM;
		memcpy(files, src->files, src->nr_files * sizeof(*files));
	}
	kho_handoff_iommufd_free(dst);
	*dst = *src;
	dst->files = files;
	return 0;
}

int kho_fdt_errno(int fdt_err)
{
	switch (fdt_err) {
	case 0:
		return 0;
	case -FDT_ERR_NOTFOUND:
		return -ENOENT;
	case -FDT_ERR_EXISTS:
		return -EEXIST;
	case -FDT_ERR_NOSPACE:
		return -ENOMEM;
	case -FDT_ERR_BADOFFSET:
	case -FDT_ERR_BADPATH:
	case -FDT_ERR_BADSTATE:
	case -FDT_ERR_BADFLAGS:
	case -FDT_ERR_BADPHANDLE:
		return -EINVAL;
	default:
		/* TRUNCATED, BADMAGIC, BADVERSION, BADSTRUCTURE, BADLAYOUT,
		 * BADVALUE, BADNCELLS, ALIGNMENT, INTERNAL...: the blob. */
		return -EBADMSG;
	}
}

uint32_t kho_handoff_crc(const void *blob, size_t crc_off)
{
	static const unsigned char zero[4];
	const unsigned char *p = blob;
	size_t total = fdt_totalsize(blob);
	uLong crc = crc32(0L, Z_NULL, 0);

	/* zlib takes uInt lengths; a hand-off is far below 4 GiB, which the
	 * reader enforces before calling. */
	crc = crc32(crc, p, (uInt)crc_off);
	crc = crc32(crc, zero, sizeof(zero));
	crc = crc32(crc, p + crc_off + 4, (uInt)(total - crc_off - 4));
	return (uint32_t)crc;
}

int kho_fdt_check(const void *blob, size_t len)
{
	/*
	 * libfdt 1.6.1 (Debian 12) dereferences NULL inside fdt_check_full()
	 * for header versions below 16 (found by fuzz/fuzz_handoff_decode).
	 * A hand-off is only ever written as version 17: refuse older
	 * headers before libfdt walks them.
	 */
	if (len < FDT_V17_SIZE)
		return -FDT_ERR_TRUNCATED;
	if (fdt_magic(blob) != FDT_MAGIC)
		return -FDT_ERR_BADMAGIC;
	if (fdt_version(blob) < 17)
		return -FDT_ERR_BADVERSION;
	return fdt_check_full(blob, len);
}

int kho_handoff_stamp(void *blob, size_t len, struct kho_diag *diag)
{
	void *val;
	int plen, err;

	err = kho_fdt_check(blob, len);
	if (err)
		return kho_diag_set(diag, -EBADMSG, "handoff: stamp: %s",
				    fdt_strerror(err));
	val = fdt_getprop_w(blob, 0, KHO_P_CRC32, &plen);
	if (!val || plen != 4)
		return kho_diag_set(diag, -EBADMSG,
				    "handoff: stamp: / has no 4-byte crc32 property");
	fdt32_st(val, kho_handoff_crc(blob, (char *)val - (char *)blob));
	return 0;
}

int kho_handoff_summary_json(const struct kho_handoff *h, char *buf,
			     size_t size)
{
	char tool[sizeof(h->tool_version) * 6 + 3];
	char rel[sizeof(h->kernel_release) * 6 + 3];
	int n;

	kho_json_escape(tool, sizeof(tool), h->tool_version);
	kho_json_escape(rel, sizeof(rel), h->kernel_release);
	n = snprintf(buf, size,
		     "{\"format_version\":%u,\"tool_version\":%s,\"kernel_release\":%s,\"created\":%llu,\"journal_length\":%llu,\"replay_length\":%zu,\"ioas\":%zu,\"hwpt\":%zu,\"devices\":%zu,\"memfds\":%zu}\n",
		     h->format_version, tool, rel,
		     (unsigned long long)h->created,
		     (unsigned long long)h->journal_length, h->replay.nr,
		     h->state.nr_ioas, h->state.nr_hwpt, h->state.nr_dev,
		     h->state.nr_memfd);
	if (n < 0 || (size_t)n >= size)
		return -ENOSPC;
	return n;
}

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
	char tmp[4096], dir[4096];
	const char *step = "create";
	size_t done = 0;
	int fd, dfd, err = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >=
	    (int)sizeof(tmp))
		return kho_diag_set(diag, -ENAMETOOLONG, "write %s: path too long",
				    path);
	/* O_EXCL | O_NOFOLLOW: never through a file someone put there. */
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		  mode);
	if (fd < 0)
		goto fail_errno;
	step = "write";
	while (done < len) {
		ssize_t n = write(fd, (const char *)buf + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto fail_errno;
		if (n == 0) {
			errno = EIO;
			goto fail_errno;
		}
		done += n;	/* a short write is retried: ENOSPC shows */
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
		if (fsync(dfd) && errno != EINVAL)
			err = kho_diag_set(diag, -errno, "write %s: fsync %s: %s",
					   path, dir, strerror(errno));
		close(dfd);
	}
	return err;

fail_errno:
	err = -errno;
	if (fd >= 0)
		close(fd);
	if (strcmp(step, "create"))
		unlink(tmp);
	return kho_diag_set(diag, err, "write %s: %s %s: %s", path, step,
			    strcmp(step, "rename") ? tmp : "into place",
			    strerror(-err));
}

/* A hand-off larger than this is not one: refuse before allocating. */
#define KHO_READ_MAX ((size_t)1 << 30)

int kho_read_file(const char *path, void **bufp, size_t *lenp)
{
	return kho_read_file_max(path, KHO_READ_MAX, bufp, lenp);
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
