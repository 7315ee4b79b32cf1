/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Decompressing one gzip, xz or zstd stream into memory, under a cap: the
 * kernel image's payload (kimage.c) and the initrd's segments (kho-tool)
 * share these decoders.
 */
#ifndef KHO_DECOMPRESS_H
#define KHO_DECOMPRESS_H

#include <stddef.h>

#include "kho.h"

/**
 * kho_decompress() - decompress one stream
 * @codec:   "gzip", "xz" or "zstd"
 * @in:      the stream, possibly followed by other bytes (a size trailer,
 *           the next initrd segment), which are left alone
 * @len:     the bytes at @in
 * @hint:    the size the stream claims to unpack to, 0 if unknown: only a
 *           first allocation, believed up to 16 times @len
 * @max:     the most output accepted (a bomb is refused, not unpacked)
 * @out:     out: the malloc'd output, NULL on failure; the caller frees it
 * @out_len: out: its length
 * @used:    out, or NULL: the input bytes the stream took
 * @diag:    out: on failure, the codec and what went wrong
 *
 * Return: 0; -EBADMSG (corrupt or truncated stream); -EFBIG (more than
 * @max bytes out); -ENOMEM; -EINVAL (an unknown @codec).
 */
int kho_decompress(const char *codec, const void *in, size_t len,
		   size_t hint, size_t max, void **out, size_t *out_len,
		   size_t *used, struct kho_diag *diag);

#endif /* KHO_DECOMPRESS_H */
