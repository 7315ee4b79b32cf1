/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Inside the state model, shared by its three files and nothing else:
 * state.c (the objects, their IDs, comparison), state_table.c (an IOAS's
 * sorted areas and the batches compaction runs in) and state_rules.c (the
 * kernel's rules, one function per ioctl).
 */
#ifndef KHO_STATE_INTERNAL_H
#define KHO_STATE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "state.h"

/*
 * The mapping tables.
 *
 * An IOAS's areas are kept sorted by IOVA, like the kernel's interval tree
 * (iopt->area_itree).  Outside a batch the table is the flat array in
 * struct kho_ioas.  Inside a batch (kho_compact) it is a list of chunks of
 * at most TAB_CHUNK areas, so that an insert or erase costs O(log n +
 * TAB_CHUNK) instead of moving the whole tail of a 100,000-entry array.
 * The rules below see only the tab_* interface, so both forms obey the
 * same code.
 *
 * A search is what a record costs, and binary search over 40-byte areas
 * misses the cache at every probe.  So the search keys (each area's last
 * IOVA) live apart from the areas: one dense array of every chunk's last
 * IOVA (a 100,000-area table's index fits in L1/L2), and inside a batch
 * chunk a dense array of its areas' last IOVAs.  Both are searched without
 * branches on the comparison, which a random IOVA would mispredict.
 */
#define TAB_CHUNK 64

struct tab_chunk {
	uint64_t *key;		/* key[i] = last IOVA of m[i]; NULL when flat */
	struct kho_mapping *m;
	size_t nr, cap;
};

struct tab {
	struct tab_chunk *c;
	uint64_t *last;		/* last[k] = last IOVA of c[k]'s final area */
	size_t nr_c, cap_c;
	bool flat;		/* a view of kho_ioas.maps: one chunk, no split */
	struct tab_chunk one;	/* the flat view's chunk ... */
	uint64_t one_last;	/* ... and its index entry */
	void *spare;		/* emptied chunk blocks, linked through their
				 * first word: churn reuses them instead of
				 * going through malloc() at every split */
};

struct tab_pos {
	size_t c, i;
};

struct kho_state_batch {
	struct tab *tabs;	/* parallel to kho_state.ioas */
	size_t cap;
};

static inline uint64_t map_last(const struct kho_mapping *m)
{
	return m->iova + m->length - 1;
}

/*
 * A table is walked by position (chunk, index); the rules see only these,
 * so the flat array of kho_ioas.maps and a batch's chunks obey one code.
 */
struct kho_mapping *kho_tab_at(const struct tab *t, struct tab_pos p);
void kho_tab_norm(const struct tab *t, struct tab_pos *p);
void kho_tab_next(const struct tab *t, struct tab_pos *p);
/* The first area whose last IOVA is >= @iova (or the end). */
struct tab_pos kho_tab_find(const struct tab *t, uint64_t iova);
size_t kho_tab_count(const struct tab *t);
/* Insert before @p: 0 or -ENOMEM. */
int kho_tab_insert(struct tab *t, struct tab_pos p,
		   const struct kho_mapping *m);
/* Erase at @p, which then names the next area. */
void kho_tab_erase(struct tab *t, struct tab_pos *p);
void kho_tab_free(struct tab *t);
/*
 * IOAS @idx's table: the batch's when @b is a batch, else a flat view of
 * kho_ioas.maps built in @tmp; kho_tab_put() writes a flat view back.
 */
struct tab *kho_tab_get(struct kho_state *s, struct kho_state_batch *b,
			size_t idx, struct tab *tmp);
void kho_tab_put(struct kho_state *s, struct kho_state_batch *b, size_t idx,
		 struct tab *t);

/* Whether @id names a live IOAS, HWPT or device of @s. */
bool kho_state_id_in_use(const struct kho_state *s, uint32_t id);

#endif /* KHO_STATE_INTERNAL_H */
