// SPDX-License-Identifier: LGPL-2.1-or-later
/* Decompressing one gzip, xz or zstd stream into memory, under a cap. */
#include <errno.h>
#include <lzma.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "decompress.h"

/*
 * A growing output buffer.  @hint is the size the stream claims (xz and
 * gzip kernels carry it); it is trusted only as a first guess, and only as
 * far as the input's own size makes it plausible: a kernel compresses
 * about 3:1 (gzip) to 5:1 (xz), so a claim above MAX_RATIO times the
 * compressed size is not believed, and a 1 KiB image claiming 1 GiB costs
 * no more than the data it really inflates to.
 */
#define MAX_RATIO 16
struct outbuf {
	unsigned char *p;
	size_t len, cap, max;
	size_t used;		/* input bytes the stream took */
};

static int outbuf_grow(struct outbuf *o)
{
	size_t cap = o->cap ? o->cap * 2 : 16UL << 20;
	unsigned char *p;

	if (o->cap >= o->max)
		return -EFBIG;
	if (cap > o->max)
		cap = o->max;
	p = realloc(o->p, cap);
	if (!p)
		return -ENOMEM;
	o->p = p;
	o->cap = cap;
	return 0;
}

static int outbuf_init(struct outbuf *o, size_t hint, size_t compressed,
		       size_t max)
{
	o->p = NULL;
	o->len = 0;
	o->cap = 0;
	o->max = max;
	o->used = 0;
	if (hint > 0 && hint <= max && hint / MAX_RATIO <= compressed) {
		/* One spare byte, so a correct hint never needs a regrowth. */
		o->p = malloc(hint + 1);
		if (o->p)
			o->cap = hint + 1;
	}
	return o->cap ? 0 : outbuf_grow(o);
}

static int unxz(const unsigned char *in, size_t len, struct outbuf *o,
		struct kho_diag *diag)
{
	lzma_stream s = LZMA_STREAM_INIT;
	lzma_ret r;
	int err;

	/*
	 * The kernel appends the uncompressed size as 4 bytes after the xz
	 * stream; without LZMA_CONCATENATED the decoder stops at the end of
	 * the stream and leaves them unread.
	 */
	if (lzma_stream_decoder(&s, UINT64_MAX, 0) != LZMA_OK)
		return kho_diag_set(diag, -ENOMEM, "xz: decoder init failed");
	s.next_in = in;
	s.avail_in = len;
	for (;;) {
		if (o->len == o->cap) {
			err = outbuf_grow(o);
			if (err)
				goto out;
		}
		s.next_out = o->p + o->len;
		s.avail_out = o->cap - o->len;
		r = lzma_code(&s, LZMA_FINISH);
		o->len = o->cap - s.avail_out;
		if (r == LZMA_STREAM_END) {
			err = 0;
			goto out;
		}
		if (r != LZMA_OK && r != LZMA_BUF_ERROR) {
			err = r == LZMA_MEM_ERROR ? -ENOMEM : -EBADMSG;
			kho_diag_set(diag, err, "xz payload corrupt (liblzma error %d)",
				     (int)r);
			goto out;
		}
		if (r == LZMA_BUF_ERROR && s.avail_out) {
			err = kho_diag_set(diag, -EBADMSG,
					   "xz payload truncated after %zu bytes out",
					   o->len);
			goto out;
		}
	}
out:
	o->used = s.total_in;
	lzma_end(&s);
	return err;
}

static int ungzip(const unsigned char *in, size_t len, struct outbuf *o,
		  struct kho_diag *diag)
{
	z_stream s;
	int r, err;

	memset(&s, 0, sizeof(s));
	/* 16 + MAX_WBITS: a gzip wrapper, not a zlib one. */
	if (inflateInit2(&s, 16 + MAX_WBITS) != Z_OK)
		return kho_diag_set(diag, -ENOMEM, "gzip: inflate init failed");
	s.next_in = (unsigned char *)in;
	s.avail_in = len > UINT32_MAX ? UINT32_MAX : len;
	for (;;) {
		size_t room;

		if (o->len == o->cap) {
			err = outbuf_grow(o);
			if (err)
				goto out;
		}
		room = o->cap - o->len;
		s.next_out = o->p + o->len;
		s.avail_out = room > UINT32_MAX ? UINT32_MAX : room;
		r = inflate(&s, Z_NO_FLUSH);
		o->len = s.next_out - o->p;
		if (r == Z_STREAM_END) {
			err = 0;
			goto out;
		}
		if (r == Z_BUF_ERROR && s.avail_in == 0) {
			err = kho_diag_set(diag, -EBADMSG,
					   "gzip payload truncated after %zu bytes out",
					   o->len);
			goto out;
		}
		if (r != Z_OK && r != Z_BUF_ERROR) {
			err = r == Z_MEM_ERROR ? -ENOMEM : -EBADMSG;
			kho_diag_set(diag, err, "gzip payload corrupt (%s)",
				     s.msg ? s.msg : "zlib error");
			goto out;
		}
	}
out:
	o->used = s.total_in;
	inflateEnd(&s);
	return err;
}

static int unzstd(const unsigned char *in, size_t len, struct outbuf *o,
		  struct kho_diag *diag)
{
	ZSTD_DStream *ds = ZSTD_createDStream();
	ZSTD_inBuffer ib = { in, len, 0 };
	size_t r;
	int err;

	if (!ds)
		return kho_diag_set(diag, -ENOMEM, "zstd: decoder init failed");
	/* The kernel's zstd payloads use windows up to 2^27 (Makefile.lib). */
	ZSTD_DCtx_setParameter(ds, ZSTD_d_windowLogMax, 31);
	for (;;) {
		ZSTD_outBuffer ob;

		if (o->len == o->cap) {
			err = outbuf_grow(o);
			if (err)
				goto out;
		}
		ob = (ZSTD_outBuffer){ o->p, o->cap, o->len };
		r = ZSTD_decompressStream(ds, &ob, &ib);
		o->len = ob.pos;
		if (ZSTD_isError(r)) {
			err = kho_diag_set(diag, -EBADMSG, "zstd payload corrupt (%s)",
					   ZSTD_getErrorName(r));
			goto out;
		}
		/* 0: a frame ended; what follows (the size trailer) is not ours. */
		if (r == 0) {
			err = 0;
			goto out;
		}
		if (ib.pos == ib.size && ob.pos < ob.size) {
			err = kho_diag_set(diag, -EBADMSG,
					   "zstd payload truncated after %zu bytes out",
					   o->len);
			goto out;
		}
	}
out:
	o->used = ib.pos;
	ZSTD_freeDStream(ds);
	return err;
}

int kho_decompress(const char *codec, const void *in, size_t len,
		   size_t hint, size_t max, void **out, size_t *out_len,
		   size_t *used, struct kho_diag *diag)
{
	int (*fn)(const unsigned char *, size_t, struct outbuf *,
		  struct kho_diag *);
	struct outbuf o;
	int err;

	*out = NULL;
	*out_len = 0;
	if (used)
		*used = 0;
	if (!strcmp(codec, "xz"))
		fn = unxz;
	else if (!strcmp(codec, "gzip"))
		fn = ungzip;
	else if (!strcmp(codec, "zstd"))
		fn = unzstd;
	else
		return kho_diag_set(diag, -EINVAL, "%s: not a codec kho-tool reads",
				    codec);
	err = outbuf_init(&o, hint, len, max);
	if (err)
		return err;
	err = fn(in, len, &o, diag);
	if (used)
		*used = o.used;
	if (err) {
		free(o.p);
		return err;
	}
	*out = o.p;
	*out_len = o.len;
	return 0;
}
