/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The journal: an ordered array of canonical records (struct kho_rec). */
#ifndef KHO_JOURNAL_H
#define KHO_JOURNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "kho.h"
#include "op.h"

/**
 * kho_journal_init() - an empty journal
 * @j: the journal
 */
void kho_journal_init(struct kho_journal *j);

/**
 * kho_journal_free() - free the records and everything they own
 * @j: the journal; left empty
 */
void kho_journal_free(struct kho_journal *j);

/**
 * kho_journal_append() - deep-copy a record onto the end of a journal
 * @j:   the journal
 * @rec: the record; its inline data is copied too
 *
 * Return: 0 or -ENOMEM (@j unchanged).
 */
int kho_journal_append(struct kho_journal *j, const struct kho_rec *rec);

/**
 * kho_journal_cancels_tail() - whether an UNMAP undoes the last record
 * @j:          the journal before the UNMAP
 * @ioas_id:    the UNMAP's IOAS, as passed in
 * @iova:       its IOVA, as passed in
 * @length:     its length, as passed in
 * @out_length: the bytes the kernel unmapped
 *
 * True when @j ends with the MAP of exactly that range and the kernel
 * unmapped exactly its bytes.  An iommufd area is unmapped only whole, so
 * the UNMAP removed that area and nothing else, and no record refers to
 * the area, since none follows its MAP: the two together leave the IOAS
 * as it was, and the journal may drop both (kho_journal_elide()).  Only
 * the tail is looked at, so the rule needs no index and stays exact; a
 * MAP with other records after it is left for compaction (lib/compact.c).
 * Inline: the recorder's fast path asks on every UNMAP.
 *
 * Return: true when the pair cancels.
 */
static inline bool kho_journal_cancels_tail(const struct kho_journal *j,
					    uint32_t ioas_id, uint64_t iova,
					    uint64_t length,
					    uint64_t out_length)
{
	const struct kho_rec *t;

	if (!j->nr)
		return false;
	t = &j->recs[j->nr - 1];
	return t->op == KHO_OP_IOAS_MAP_FILE && t->map.ioas_id == ioas_id &&
	       t->map.iova == iova && t->map.length == length &&
	       out_length == length;
}

/**
 * kho_journal_append_elided() - append a record, or drop it with the MAP
 * it cancels
 * @j:     the journal
 * @rec:   the record
 * @pairs: in/out: counts the pairs dropped (kho_journal_cancels_tail())
 *
 * The recorder's one way to journal, online; a journal replayed through
 * it is what the recorder would hold for the same calls.
 *
 * Return: 0 or -ENOMEM.
 */
int kho_journal_append_elided(struct kho_journal *j, const struct kho_rec *rec,
			      uint64_t *pairs);

/**
 * kho_journal_elide() - kho_journal_append_elided() over a whole journal
 * @j:     the journal, elided in place, in order (the kernel's journal, to
 *         compare it with the recorder's)
 * @pairs: in/out: the pairs dropped are added to it
 */
void kho_journal_elide(struct kho_journal *j, uint64_t *pairs);

/**
 * kho_journal_print_json() - write a journal as a JSON array of objects
 * @j:   the journal
 * @out: the stream
 *
 * Return: 0, or -EIO when writing failed.
 */
int kho_journal_print_json(const struct kho_journal *j, FILE *out);

#endif /* KHO_JOURNAL_H */
