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

/* Empties @h: no objects, no plan, all metadata zero. */
void kho_handoff_init(struct kho_handoff *h);
/* Frees the state and the replay plan @h owns; leaves it initialised. */
void kho_handoff_free(struct kho_handoff *h);

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
 * kho_handoff_summary_json() - the one-line JSON summary of @h the
 * restore-agent leaves in KHO_RUN_DIR/handoff.json, its strings escaped
 * with kho_json_escape(), into @buf of @size bytes.
 * Return: its length, or -ENOSPC if it does not fit.
 */
int kho_handoff_summary_json(const struct kho_handoff *h, char *buf,
			     size_t size);

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
