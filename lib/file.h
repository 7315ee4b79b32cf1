/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Whole files: one reader, capped (KHO_HANDOFF_MAX unless the caller
 * names another limit), and one atomic writer.
 */
#ifndef KHO_FILE_H
#define KHO_FILE_H

#include <stddef.h>
#include <sys/types.h>

#include "kho.h"

/**
 * kho_read_file() - read all of a file into a malloc'd buffer
 * @path: a file, pipe or /proc file
 * @buf:  out: the bytes (not NUL-terminated); the caller frees it
 * @len:  out: their number
 *
 * The cap is KHO_HANDOFF_MAX: what this reads is a hand-off or smaller.
 *
 * Return: 0; -EISDIR (@path is a directory); -EFBIG (larger than
 * KHO_HANDOFF_MAX); -ENOMEM; or the -errno of open(2) or read(2).
 */
int kho_read_file(const char *path, void **buf, size_t *len);

/**
 * kho_read_file_max() - kho_read_file() with a cap of @max bytes
 * @path: a file, pipe or /proc file
 * @max:  the most bytes accepted; at most @max + 1 are ever read, whatever
 *        @path is (a pipe, /dev/zero)
 * @buf:  out: the bytes; the caller frees it
 * @len:  out: their number
 *
 * Return: 0; -EFBIG (larger than @max); -EINVAL (@max of SIZE_MAX / 2 or
 * more); -EISDIR; -ENOMEM; or the -errno of open(2) or read(2).
 */
int kho_read_file_max(const char *path, size_t max, void **buf,
		      size_t *len);

/**
 * kho_read_fd_max() - kho_read_file_max() of an open file descriptor
 * @fd:  read from its current offset; the caller keeps and closes it
 * @max: the most bytes accepted
 * @buf: out: the bytes; the caller frees it
 * @len: out: their number
 *
 * Return: as kho_read_file_max(), or the -errno of fstat(2).
 */
int kho_read_fd_max(int fd, size_t max, void **buf, size_t *len);

/**
 * kho_write_file() - replace a file atomically
 * @path: the file to replace
 * @buf:  the new contents
 * @len:  their length
 * @mode: the new file's mode
 * @diag: out: on failure, which step failed on which file
 *
 * Writes a new file beside @path (PATH.tmp.PID, created O_EXCL |
 * O_NOFOLLOW with @mode) whole, fsyncs it, renames it over @path and
 * fsyncs the directory.  A reader sees the old file or the new one, never
 * a part; on failure the old file is untouched and the temporary one
 * removed.
 *
 * Return: 0; -ENAMETOOLONG (@path too long for its temporary name); or the
 * -errno of the step that failed (-ENOSPC, -EROFS, -EDQUOT, ...).
 */
int kho_write_file(const char *path, const void *buf, size_t len,
		   mode_t mode, struct kho_diag *diag);

/**
 * kho_write_file_as() - kho_write_file() of a path the messages name
 *                       otherwise
 * @path:  the file to replace, as the system calls take it (relative to a
 *         working directory, say)
 * @shown: what @diag calls it: the path a reader knows it by
 *
 * The restore-agent writes by names relative to its run directory, which
 * the initrd moves under another root (restore-agent/rundir.c), and still
 * names each file by its absolute path.
 *
 * Return: as kho_write_file().
 */
int kho_write_file_as(const char *path, const char *shown, const void *buf,
		      size_t len, mode_t mode, struct kho_diag *diag);

/**
 * kho_write_all() - write a whole buffer to a descriptor
 * @fd:  the descriptor
 * @buf: the bytes
 * @len: their number
 *
 * Restarts after short writes and EINTR, so that ENOSPC shows rather than
 * a silently short file.
 *
 * Return: 0; -EIO if write(2) wrote nothing; or the -errno of write(2).
 */
int kho_write_all(int fd, const void *buf, size_t len);

/**
 * kho_memfd_sealed() - a memfd holding exactly a buffer, sealed
 * @name: the memfd's name
 * @buf:  the bytes
 * @len:  their number; the file's size
 *
 * Sealed against writes, growth, shrinking and further seals, so that
 * whoever receives it reads what was written: the hand-off preserved
 * through LUO (capture), and its copy an adopting VMM receives.
 *
 * Return: the fd (O_CLOEXEC); or the -errno of memfd_create(2),
 * ftruncate(2), write(2) or fcntl(F_ADD_SEALS).
 */
int kho_memfd_sealed(const char *name, const void *buf, size_t len);

#endif /* KHO_FILE_H */
