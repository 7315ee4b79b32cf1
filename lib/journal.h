/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The journal: an ordered array of canonical records (struct kho_rec). */
#ifndef KHO_JOURNAL_H
#define KHO_JOURNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "kho.h"
#include "op.h"

void kho_journal_init(struct kho_journal *j);
/* Frees the records and everything they own; leaves j empty. */
void kho_journal_free(struct kho_journal *j);
/* Deep-copies rec (and its inline data) onto the end of j. */
int kho_journal_append(struct kho_journal *j, const struct kho_rec *rec);
/*
 * kho_journal_cancels_tail() - whether an UNMAP undoes the last record
 * @j:          the journal before the UNMAP
 * @ioas_id, @iova, @length: the UNMAP as passed in
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

/*
 * kho_journal_append_elided() - append @rec, or drop it with the MAP it
 * cancels (kho_journal_cancels_tail()), counting the pair in *@pairs.
 * The recorder's one way to journal, online; a journal replayed through
 * it is what the recorder would hold for the same calls.
 */
int kho_journal_append_elided(struct kho_journal *j, const struct kho_rec *rec,
			      uint64_t *pairs);
/*
 * kho_journal_elide() - apply kho_journal_append_elided() to every record
 * of @j in order, in place (the kernel's journal, to compare it with the
 * recorder's); adds the pairs dropped to *@pairs.
 */
void kho_journal_elide(struct kho_journal *j, uint64_t *pairs);
/* Writes the journal as a JSON array of objects. */
int kho_journal_print_json(const struct kho_journal *j, FILE *out);

#endif /* KHO_JOURNAL_H */
