/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The hand-off FDT: encodes and decodes struct kho_handoff.  The format is
 * specified in fdt-schema/ (dt-schema YAML) and docs/format.md.
 */
#ifndef KHO_HANDOFF_H
#define KHO_HANDOFF_H

#include <sys/types.h>

#include "file.h"
#include "kho.h"

/**
 * kho_handoff_init() - an empty hand-off: no objects, no plan, all
 * metadata zero
 * @h: the hand-off
 */
void kho_handoff_init(struct kho_handoff *h);

/**
 * kho_handoff_free() - free the state and the replay plan a hand-off owns
 * @h: the hand-off; left initialised
 */
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

/**
 * kho_handoff_iommufd_free() - free an iommufd node's file table
 * @io: the node; left empty (present = false)
 */
/**
 * kho_handoff_qemu_free() - free a hand-off's qemu-cpr entries
 * @h: the hand-off; its qemu table is left empty
 */
void kho_handoff_qemu_free(struct kho_handoff *h);

void kho_handoff_iommufd_free(struct kho_handoff_iommufd *io);

/**
 * kho_handoff_iommufd_copy() - deep copy of an iommufd node
 * @dst: out: the copy (freed first)
 * @src: the node
 *
 * Return: 0 or -ENOMEM.
 */
int kho_handoff_iommufd_copy(struct kho_handoff_iommufd *dst,
			     const struct kho_handoff_iommufd *src);

/**
 * kho_handoff_require() - raise a hand-off's format to what it carries
 * @h:       the hand-off, its header stamped
 * @version: the format a node or property it carries needs
 *
 * Raises format-version and min-reader-version to @version; never lowers
 * them (a QEMU node and an mdev need the higher of the two).
 */
void kho_handoff_require(struct kho_handoff *h, uint32_t version);

/**
 * kho_handoff_poison_check() - whether a hand-off's poison list is sound
 * @h:    the hand-off, its memfds and mappings filled in
 * @diag: out: the range and the cause, or NULL
 *
 * Each range non-empty, page-aligned (KHO_POISON_PAGE), inside a memfd of
 * the table; the list sorted by token then offset, no two ranges
 * overlapping; no more than KHO_POISON_MAX; and no mapping of any IOAS
 * covering a poisoned byte: the replay must leave them unmapped.  The
 * writer and the reader hold a list to the same rules.  O(ranges x
 * memfds + mappings x log ranges).
 *
 * Return: 0, or -EBADMSG (diag names the range or the mapping).
 */
int kho_handoff_poison_check(const struct kho_handoff *h,
			     struct kho_diag *diag);

/**
 * kho_handoff_poison_free() - free a hand-off's poison list
 * @h: the hand-off; its list is left empty
 */
void kho_handoff_poison_free(struct kho_handoff *h);

/**
 * kho_handoff_encode() - write a hand-off FDT
 * @h:    the hand-off
 * @blob: out: the FDT, malloc'd, written with libfdt's sequential-write API
 * @len:  out: its exact size (fdt_totalsize), which is what a memfd is
 *        sized to before preservation
 *
 * Return: 0; -EINVAL (@h does not describe a valid hand-off); -ENOMEM.
 */
int kho_handoff_encode(const struct kho_handoff *h, void **blob, size_t *len);

/**
 * kho_handoff_decode() - validate and decode an untrusted blob
 * @buf:  the blob
 * @len:  its length, as read (not as the blob claims)
 * @h:    out: the hand-off (initialised by the call; empty on failure)
 * @diag: out: on failure, the node or property and the cause
 *
 * Starts with fdt_check_full(buf, len), then the compatible string, the
 * versions and the integrity check, before reading any field.
 *
 * Return: 0; -EBADMSG (corrupt: diag names node/property and cause);
 * -EPROTONOSUPPORT (min-reader-version above KHO_READER_VERSION);
 * -ENOMEM.
 */
int kho_handoff_decode(const void *buf, size_t len, struct kho_handoff *h,
		       struct kho_diag *diag);

/**
 * kho_handoff_stamp() - recompute the crc32 property of a blob in place
 * @blob: the blob, after a deliberate edit (test data, fdtput)
 * @len:  its length
 * @diag: out: why it could not
 *
 * Checks only what it needs to find the property.
 *
 * Return: 0; -EBADMSG (not an FDT, or no crc32 property of 4 bytes).
 */
int kho_handoff_stamp(void *blob, size_t len, struct kho_diag *diag);

/**
 * kho_handoff_crc() - the integrity sum of a blob
 * @blob:    a checked blob (fdt_totalsize within its length)
 * @crc_off: the offset of the crc32 property's value, read as zero
 *
 * zlib's crc32 over [0, fdt_totalsize) with the 4 bytes at @crc_off read
 * as zero.
 *
 * Return: the sum.
 */
uint32_t kho_handoff_crc(const void *blob, size_t crc_off);

/**
 * kho_fdt_check() - fdt_check_full() behind a header-version gate
 * @blob: the untrusted buffer
 * @len:  its length
 *
 * The gate keeps Debian 12's libfdt away from headers it mishandles.
 *
 * Return: 0 or a negative libfdt error code (-FDT_ERR_*), for
 * kho_fdt_errno().
 */
int kho_fdt_check(const void *blob, size_t len);

/**
 * kho_handoff_summary_json() - the one-line JSON summary of a hand-off
 * @h:    the hand-off
 * @buf:  out: the summary, its strings escaped with kho_json_escape()
 * @size: room in @buf
 *
 * What the restore-agent leaves in KHO_RUN_DIR/handoff.json.
 *
 * Return: its length, or -ENOSPC if it does not fit.
 */
int kho_handoff_summary_json(const struct kho_handoff *h, char *buf,
			     size_t size);

/**
 * kho_fdt_errno() - the errno that stands for a libfdt error
 * @fdt_err: a negative -FDT_ERR_* value, or 0
 *
 * The one place libfdt codes are translated: -FDT_ERR_NOTFOUND is -1, the
 * same number as -EPERM, and must never leak.
 *
 * Return: -ENOENT (NOTFOUND), -ENOMEM (NOSPACE), -EINVAL (caller misuse:
 * BADOFFSET, BADPATH, BADSTATE, BADFLAGS), -EBADMSG (anything a corrupt
 * blob causes), 0 for 0.
 */
int kho_fdt_errno(int fdt_err);

#endif /* KHO_HANDOFF_H */
