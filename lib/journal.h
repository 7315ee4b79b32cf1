/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The journal: an ordered array of canonical records (struct kho_rec). */
#ifndef KHO_JOURNAL_H
#define KHO_JOURNAL_H

#include <stdio.h>
#include "kho.h"

void kho_journal_init(struct kho_journal *j);
/* Frees the records and everything they own; leaves j empty. */
void kho_journal_free(struct kho_journal *j);
/* Deep-copies rec (and its inline data) onto the end of j. */
int kho_journal_append(struct kho_journal *j, const struct kho_rec *rec);
/* Frees what one record owns (inline arrays), not the record itself. */
void kho_rec_release(struct kho_rec *rec);
/* Deep copy of one record. */
int kho_rec_copy(struct kho_rec *dst, const struct kho_rec *src);
/*
 * kho_rec_map_ids() - rewrite every object ID a record takes as INPUT
 * (IOAS, HWPT, device) through @map; outputs (out_*) are left alone, since
 * on replay the kernel hands out new ones.  One place that knows which
 * fields are references, for replay and for the tests that model it.
 */
void kho_rec_map_ids(struct kho_rec *rec,
		     uint32_t (*map)(void *ctx, uint32_t old_id), void *ctx);
/* "IOAS_MAP_FILE" etc.; "op#N" for unknown ops (static or thread buffer). */
const char *kho_op_name(uint32_t op);
/* One line a person reads, no trailing newline. */
int kho_rec_format(const struct kho_rec *rec, char *buf, size_t len);
/* Writes the journal as a JSON array of objects. */
int kho_journal_print_json(const struct kho_journal *j, FILE *out);

#endif /* KHO_JOURNAL_H */
