// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The hand-off container: its lifetime, the integrity sum, and the
 * translation of libfdt error codes.
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

void kho_handoff_require(struct kho_handoff *h, uint32_t version)
{
	if (h->format_version < version)
		h->format_version = version;
	if (h->min_reader_version < version)
		h->min_reader_version = version;
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
	kho_handoff_qemu_free(h);
	kho_handoff_poison_free(h);
	kho_handoff_init(h);
}

void kho_handoff_poison_free(struct kho_handoff *h)
{
	free(h->poison);
	h->poison = NULL;
	h->nr_poison = 0;
}

static int poison_cmp(const struct kho_poison *p, uint64_t token,
		      uint64_t offset)
{
	if (p->memfd_token != token)
		return p->memfd_token < token ? -1 : 1;
	return p->offset < offset ? -1 : p->offset > offset;
}

/*
 * The first range of @h's sorted list at or after (@token, @offset), or
 * h->nr_poison.
 */
static size_t poison_lower_bound(const struct kho_handoff *h, uint64_t token,
				 uint64_t offset)
{
	size_t lo = 0, hi = h->nr_poison;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (poison_cmp(&h->poison[mid], token, offset) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The range of @h that overlaps [@offset, @offset + @length) of @token, or NULL. */
static const struct kho_poison *poison_overlap(const struct kho_handoff *h,
					       uint64_t token, uint64_t offset,
					       uint64_t length)
{
	size_t i = poison_lower_bound(h, token, offset);

	/* the range before may reach into it; ranges do not overlap */
	if (i && h->poison[i - 1].memfd_token == token &&
	    h->poison[i - 1].offset + h->poison[i - 1].length > offset)
		return &h->poison[i - 1];
	if (i < h->nr_poison && h->poison[i].memfd_token == token &&
	    h->poison[i].offset < offset + length)
		return &h->poison[i];
	return NULL;
}

int kho_handoff_poison_check(const struct kho_handoff *h,
			     struct kho_diag *diag)
{
	const struct kho_state *s = &h->state;
	const struct kho_memfd *mf = NULL;
	size_t i, k;

	if (h->nr_poison > KHO_POISON_MAX)
		return kho_diag_set(diag, -EBADMSG, "%zu ranges, more than %u",
				    h->nr_poison, KHO_POISON_MAX);
	for (i = 0; i < h->nr_poison; i++) {
		const struct kho_poison *p = &h->poison[i];

		if (!mf || mf->token != p->memfd_token) {
			for (mf = NULL, k = 0; k < s->nr_memfd; k++)
				if (s->memfd[k].token == p->memfd_token)
					mf = &s->memfd[k];
		}
		if (!mf)
			return kho_diag_set(diag, -EBADMSG,
					    "range %zu: memfd token %llu is not in /memfds",
					    i, (unsigned long long)p->memfd_token);
		if (!p->length || p->offset % KHO_POISON_PAGE ||
		    p->length % KHO_POISON_PAGE)
			return kho_diag_set(diag, -EBADMSG,
					    "range %zu: memfd token %llu offset 0x%llx length 0x%llx is empty or not aligned to pages of %u bytes",
					    i, (unsigned long long)p->memfd_token,
					    (unsigned long long)p->offset,
					    (unsigned long long)p->length,
					    KHO_POISON_PAGE);
		if (p->offset > mf->size || p->length > mf->size - p->offset)
			return kho_diag_set(diag, -EBADMSG,
					    "range %zu: offset 0x%llx length 0x%llx runs past memfd token %llu (size 0x%llx)",
					    i, (unsigned long long)p->offset,
					    (unsigned long long)p->length,
					    (unsigned long long)mf->token,
					    (unsigned long long)mf->size);
		if (i && (poison_cmp(&h->poison[i - 1], p->memfd_token,
				     p->offset) >= 0 ||
			  (h->poison[i - 1].memfd_token == p->memfd_token &&
			   h->poison[i - 1].offset + h->poison[i - 1].length >
			   p->offset)))
			return kho_diag_set(diag, -EBADMSG,
					    "range %zu: memfd token %llu offset 0x%llx overlaps or precedes the range before it",
					    i, (unsigned long long)p->memfd_token,
					    (unsigned long long)p->offset);
	}
	if (!h->nr_poison)
		return 0;
	for (i = 0; i < s->nr_ioas; i++) {
		const struct kho_ioas *a = &s->ioas[i];

		for (k = 0; k < a->nr_maps; k++) {
			const struct kho_mapping *m = &a->maps[k];
			const struct kho_poison *p;

			p = poison_overlap(h, m->memfd_token, m->offset,
					   m->length);
			if (p)
				return kho_diag_set(diag, -EBADMSG,
						    "IOAS %u: mapping %zu (iova 0x%llx, memfd token %llu offset 0x%llx length 0x%llx) covers poisoned range 0x%llx+0x%llx: the replay must leave it unmapped",
						    a->id, k,
						    (unsigned long long)m->iova,
						    (unsigned long long)m->memfd_token,
						    (unsigned long long)m->offset,
						    (unsigned long long)m->length,
						    (unsigned long long)p->offset,
						    (unsigned long long)p->length);
		}
	}
	return 0;
}

void kho_handoff_qemu_free(struct kho_handoff *h)
{
	size_t i;

	for (i = 0; i < h->nr_qemu; i++) {
		free(h->qemu[i].cpr_state);
		free(h->qemu[i].fd_tokens);
	}
	free(h->qemu);
	h->qemu = NULL;
	h->nr_qemu = 0;
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
