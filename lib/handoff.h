/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The hand-off FDT: encodes and decodes struct kho_handoff.  The format is
 * specified in fdt-schema/ (dt-schema YAML) and docs/format.md.
 */
#ifndef KHO_HANDOFF_H
#define KHO_HANDOFF_H

#include "kho.h"

void kho_handoff_init(struct kho_handoff *h);
void kho_handoff_free(struct kho_handoff *h);

/*
 * kho_handoff_encode() - write @h as a hand-off FDT with libfdt's
 * sequential-write API.  *@blob is malloc'd, *@len is its exact size
 * (fdt_totalsize), which is what a memfd is sized to before preservation.
 * Return: 0, -EINVAL, -ENOMEM.
 */
int kho_handoff_encode(const struct kho_handoff *h, void **blob, size_t *len);

/*
 * kho_handoff_decode() - validate and decode an untrusted blob.
 * Starts with fdt_check_full(buf, len), then the compatible string, the
 * versions and the integrity check, before reading any field.
 * Return: 0; -EBADMSG (corrupt: diag names node/property and cause);
 * -EPROTONOSUPPORT (min-reader-version above KHO_READER_VERSION);
 * -ENOMEM.
 */
int kho_handoff_decode(const void *buf, size_t len, struct kho_handoff *h,
		       struct kho_diag *diag);

/* Reads a whole file into a malloc'd buffer; Return: 0 or -errno. */
int kho_read_file(const char *path, void **buf, size_t *len);

#endif /* KHO_HANDOFF_H */
