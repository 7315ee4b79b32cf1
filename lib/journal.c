// SPDX-License-Identifier: LGPL-2.1-or-later
/* The journal: an append-only array of canonical records it owns. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "journal.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23	/* Linux 5.14 */
#endif

void kho_journal_init(struct kho_journal *j)
{
	memset(j, 0, sizeof(*j));
}

void kho_journal_free(struct kho_journal *j)
{
	size_t i;

	for (i = 0; i < j->nr; i++)
		kho_rec_release(&j->recs[i]);
	if (j->mapped)
		munmap(j->recs, j->cap * sizeof(*j->recs));
	else
		free(j->recs);
	kho_journal_init(j);
}

/*
 * Faults in [start, start + len) with one madvise() call.  The recorder
 * appends on a VMM's ioctl path, where touching fresh pages of the grown
 * array one by one cost a trap every 85 records, more than the record
 * itself (and far more under TCG).  A kernel without MADV_POPULATE_WRITE
 * (before 5.14) just faults them on first use.
 */
static void kho_journal_prefault(void *start, size_t len)
{
	long pg = sysconf(_SC_PAGESIZE);
	uintptr_t lo = (uintptr_t)start, hi = lo + len;

	if (pg <= 0 || !len)
		return;
	lo &= ~((uintptr_t)pg - 1);
	hi = (hi + pg - 1) & ~((uintptr_t)pg - 1);
	madvise((void *)lo, hi - lo, MADV_POPULATE_WRITE);
}

/*
 * A journal this big lives in its own mapping and grows with mremap(2):
 * the kernel moves page tables instead of realloc() copying every record
 * it holds, which a recorder pays on the VMM's ioctl path.  (Under TCG
 * the copy's rep movsb cost one guest instruction per byte.)
 */
#define KHO_JOURNAL_MAP_BYTES (64u << 10)

static struct kho_rec *kho_journal_grow(struct kho_journal *j, size_t cap)
{
	size_t old = j->cap * sizeof(*j->recs), len = cap * sizeof(*j->recs);
	void *p;

	if (len < KHO_JOURNAL_MAP_BYTES)
		return realloc(j->recs, len);
	if (j->mapped)
		p = mremap(j->recs, old, len, MREMAP_MAYMOVE);
	else
		p = mmap(NULL, len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	if (!j->mapped) {
		if (j->nr)
			memcpy(p, j->recs, j->nr * sizeof(*j->recs));
		free(j->recs);
		j->mapped = true;
	}
	return p;
}

int kho_journal_append(struct kho_journal *j, const struct kho_rec *rec)
{
	int ret;

	if (j->nr == j->cap) {
		size_t cap = j->cap ? j->cap * 2 : 64;
		struct kho_rec *recs = kho_journal_grow(j, cap);

		if (!recs)
			return -ENOMEM;
		/* geometric growth, the new half populated at once */
		kho_journal_prefault(recs + j->cap,
				     (cap - j->cap) * sizeof(*recs));
		j->recs = recs;
		j->cap = cap;
	}
	ret = kho_rec_copy(&j->recs[j->nr], rec);
	if (ret)
		return ret;
	j->nr++;
	return 0;
}

/* The UNMAP @rec cancels the MAP at @j's tail: both go. */
static bool kho_journal_drop_cancelled(struct kho_journal *j,
				       const struct kho_rec *rec)
{
	if (rec->op != KHO_OP_IOAS_UNMAP ||
	    !kho_journal_cancels_tail(j, rec->unmap.ioas_id, rec->unmap.iova,
				      rec->unmap.length,
				      rec->unmap.out_length))
		return false;
	kho_rec_release(&j->recs[--j->nr]);
	return true;
}

int kho_journal_append_elided(struct kho_journal *j, const struct kho_rec *rec,
			      uint64_t *pairs)
{
	if (kho_journal_drop_cancelled(j, rec)) {
		++*pairs;
		return 0;
	}
	return kho_journal_append(j, rec);
}

void kho_journal_elide(struct kho_journal *j, uint64_t *pairs)
{
	size_t i, nr = j->nr;

	/* j->nr is the kept prefix; records move down over dropped ones */
	j->nr = 0;
	for (i = 0; i < nr; i++) {
		struct kho_rec *r = &j->recs[i];

		if (kho_journal_drop_cancelled(j, r)) {
			kho_rec_release(r);
			++*pairs;
			continue;
		}
		if (j->nr != i)
			j->recs[j->nr] = *r;	/* ownership moves with it */
		j->nr++;
	}
}

/**
 * kho_journal_print_json() - write @j as a JSON array, one object a record
 * @j:   the journal
 * @out: the stream
 *
 * Numbers that may exceed 2^53 (IOVAs, lengths, tokens) are written as
 * "0x..." strings so that no JSON reader rounds them.
 * Return: 0, or -EIO when writing failed.
 */
int kho_journal_print_json(const struct kho_journal *j, FILE *out)
{
	size_t i;

	fputs("[", out);
	for (i = 0; i < j->nr; i++) {
		fputs(i ? ",\n  " : "\n  ", out);
		kho_rec_print_json(&j->recs[i], out);
	}
	fputs(j->nr ? "\n]\n" : "]\n", out);
	return ferror(out) ? -EIO : 0;
}
