/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The hand-off FDT: encodes and decodes struct kho_handoff.  The format is
 * specified in fdt-schema/ (dt-schema YAML) and docs/format.md.
 */
#ifndef KHO_HANDOFF_H
#define KHO_HANDOFF_H

#include <sys/types.h>

#include "kho.h"

/* Empties @h: no objects, no plan, all metadata zero. */
void kho_handoff_init(struct kho_handoff *h);
/* Frees the state and the replay plan @h owns; leaves it initialised. */
void kho_handoff_free(struct kho_handoff *h);

/**
 * kho_handoff_header() - stamp the header of a hand-off this tool makes
 * @h: the hand-off
 * @format_version: KHO_FORMAT_VERSION, or KHO_FORMAT_VERSION_IOMMUFD when
 *                  @h carries the iommufd node; also the least version a
 *                  reader must know
 *
 * Sets the versions, the tool's version, the running kernel's release
 * (empty if uname(2) fails) and the time; nothing else.  Capture and the
 * recorder's snapshots both stamp through it.
 */
void kho_handoff_header(struct kho_handoff *h, uint32_t format_version);

/* Frees @io's file table and empties it (present = false). */
void kho_handoff_iommufd_free(struct kho_handoff_iommufd *io);
/* Deep copy of @src into @dst (freed first).  Return: 0 or -ENOMEM. */
int kho_handoff_iommufd_copy(struct kho_handoff_iommufd *dst,
			     const struct kho_handoff_iommufd *src);

/**
 * kho_handoff_encode() - write @h as a hand-off FDT with libfdt's
 * sequential-write API.  *@blob is malloc'd, *@len is its exact size
 * (fdt_totalsize), which is what a memfd is sized to before preservation.
 * Return: 0, -EINVAL, -ENOMEM.
 */
int kho_handoff_encode(const struct kho_handoff *h, void **blob, size_t *len);

/**
 * kho_handoff_decode() - validate and decode an untrusted blob.
 * Starts with fdt_check_full(buf, len), then the compatible string, the
 * versions and the integrity check, before reading any field.
 * Return: 0; -EBADMSG (corrupt: diag names node/property and cause);
 * -EPROTONOSUPPORT (min-reader-version above KHO_READER_VERSION);
 * -ENOMEM.
 */
int kho_handoff_decode(const void *buf, size_t len, struct kho_handoff *h,
		       struct kho_diag *diag);

/**
 * kho_handoff_stamp() - recompute the crc32 property of a blob in place,
 * after a deliberate edit (test data, fdtput).  Checks only what it needs
 * to find the property.
 * Return: 0, -EBADMSG (not an FDT, or no crc32 property of 4 bytes).
 */
int kho_handoff_stamp(void *blob, size_t len, struct kho_diag *diag);

/**
 * kho_handoff_crc() - the integrity sum of a blob: zlib's crc32 over
 * [0, fdt_totalsize) with the 4 bytes at @crc_off read as zero.
 * The caller has checked the blob (totalsize <= its length).
 * Return: the sum.
 */
uint32_t kho_handoff_crc(const void *blob, size_t crc_off);

/**
 * kho_fdt_check() - fdt_check_full() behind a header-version gate that
 * keeps Debian 12's libfdt away from headers it mishandles.
 * Return: 0 or a negative libfdt error code (-FDT_ERR_*).
 */
int kho_fdt_check(const void *blob, size_t len);

/**
 * kho_read_file() - read all of @path (a file, pipe or /proc fd) into a
 * malloc'd buffer.
 * Return: 0; -EISDIR; -EFBIG above 1 GiB; -ENOMEM; open(2)/read(2)'s errno.
 */
int kho_read_file(const char *path, void **buf, size_t *len);

/**
 * kho_read_file_max() - kho_read_file() with a cap of @max bytes: it reads
 * at most @max + 1 bytes, whatever @path is (a pipe, /dev/zero).
 * Return: as kho_read_file(), -EFBIG above @max, -EINVAL for a @max
 * of SIZE_MAX / 2 or more.
 */
int kho_read_file_max(const char *path, size_t max, void **buf,
		      size_t *len);

/**
 * kho_read_fd_max() - kho_read_file_max() of an open @fd, from its
 * current offset; the caller keeps and closes @fd.
 * Return: as kho_read_file_max(), or fstat(2)'s errno.
 */
int kho_read_fd_max(int fd, size_t max, void **buf, size_t *len);

/**
 * kho_handoff_summary_json() - the one-line JSON summary of @h the
 * restore-agent leaves in KHO_RUN_DIR/handoff.json, its strings escaped
 * with kho_json_escape(), into @buf of @size bytes.
 * Return: its length, or -ENOSPC if it does not fit.
 */
int kho_handoff_summary_json(const struct kho_handoff *h, char *buf,
			     size_t size);

/**
 * kho_write_file() - replace @path with @len bytes of @buf atomically: a
 * new file beside it (PATH.tmp.PID, created O_EXCL | O_NOFOLLOW with
 * @mode), written whole, fsync'd, renamed over @path, and the directory
 * fsync'd.  A reader sees the old file or the new one, never a part; on
 * failure the old file is untouched and the temporary one removed.
 * Return: 0, or the -errno of the step that failed (-ENOSPC, -EROFS,
 * -EDQUOT, ...), which diag names with the step.
 */
int kho_write_file(const char *path, const void *buf, size_t len,
		   mode_t mode, struct kho_diag *diag);

/**
 * kho_fdt_errno() - the errno that stands for libfdt error @fdt_err (a
 * negative -FDT_ERR_* value).  The one place libfdt codes are translated:
 * -FDT_ERR_NOTFOUND is -1, the same number as -EPERM, and must never leak.
 * Return: -ENOENT (NOTFOUND), -ENOMEM (NOSPACE), -EINVAL (caller misuse:
 * BADOFFSET, BADPATH, BADSTATE, BADFLAGS), -EBADMSG (anything a corrupt
 * blob causes), 0 for 0.
 */
int kho_fdt_errno(int fdt_err);

#endif /* KHO_HANDOFF_H */
