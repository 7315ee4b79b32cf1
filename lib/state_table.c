// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * An IOAS's areas, sorted by IOVA (state_internal.h says how), and the
 * batches that compaction applies a whole journal in.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/iommufd.h>
#include "compat.h"
#include <linux/vfio.h>

#include "state_internal.h"
/* Index of the first key >= x in the sorted k[0..n) (n when none). */
static size_t key_lower_bound(const uint64_t *k, size_t n, uint64_t x)
{
	const uint64_t *base = k;

	if (!n)
		return 0;
	while (n > 1) {
		size_t half = n / 2;

		/* Written as a select so that it compiles to a cmov. */
		base = base[half] < x ? base + half : base;
		n -= half;
	}
	return (base - k) + (*base < x);
}

static void chunk_fix(struct tab *t, size_t c)
{
	const struct tab_chunk *ch = &t->c[c];

	t->last[c] = ch->nr ? map_last(&ch->m[ch->nr - 1]) : 0;
}

struct kho_mapping *kho_tab_at(const struct tab *t, struct tab_pos p)
{
	if (p.c >= t->nr_c || p.i >= t->c[p.c].nr)
		return NULL;
	return &t->c[p.c].m[p.i];
}

void kho_tab_norm(const struct tab *t, struct tab_pos *p)
{
	while (p->c < t->nr_c && p->i >= t->c[p->c].nr && p->c + 1 < t->nr_c) {
		p->c++;
		p->i = 0;
	}
}

void kho_tab_next(const struct tab *t, struct tab_pos *p)
{
	p->i++;
	kho_tab_norm(t, p);
}

/* First area whose last IOVA is >= iova (the kernel's iter_first). */
struct tab_pos kho_tab_find(const struct tab *t, uint64_t iova)
{
	struct tab_pos p = { 0, 0 };
	const struct tab_chunk *ch;
	size_t lo, hi;

	/* Only a flat view may hold an empty chunk, and it is the only one:
	 * its index entry 0 is <= any iova, which the in-chunk search of an
	 * empty chunk turns into position 0 = the end. */
	p.c = key_lower_bound(t->last, t->nr_c, iova);
	if (p.c == t->nr_c) {
		p.c = t->nr_c ? t->nr_c - 1 : 0;
		p.i = t->nr_c ? t->c[p.c].nr : 0;
		return p;
	}
	ch = &t->c[p.c];
	if (ch->key) {
		p.i = key_lower_bound(ch->key, ch->nr, iova);
		return p;
	}
	lo = 0;
	hi = ch->nr;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (map_last(&ch->m[mid]) < iova)
			lo = mid + 1;
		else
			hi = mid;
	}
	p.i = lo;
	return p;
}

size_t kho_tab_count(const struct tab *t)
{
	size_t i, n = 0;

	for (i = 0; i < t->nr_c; i++)
		n += t->c[i].nr;
	return n;
}

/* A batch chunk: keys and areas in one allocation, freed through key. */
static int tab_new_chunk(struct tab *t, size_t at)
{
	struct tab_chunk ch = { 0 };

	if (t->nr_c == t->cap_c) {
		size_t cap = t->cap_c ? t->cap_c * 2 : 16;
		struct tab_chunk *c = realloc(t->c, cap * sizeof(*c));
		uint64_t *last;

		if (!c)
			return -ENOMEM;
		t->c = c;
		last = realloc(t->last, cap * sizeof(*last));
		if (!last)
			return -ENOMEM;
		t->last = last;
		t->cap_c = cap;
	}
	if (t->spare) {
		ch.key = t->spare;
		memcpy(&t->spare, ch.key, sizeof(t->spare));
	} else {
		ch.key = malloc(TAB_CHUNK * (sizeof(*ch.key) + sizeof(*ch.m)));
		if (!ch.key)
			return -ENOMEM;
	}
	ch.m = (struct kho_mapping *)(ch.key + TAB_CHUNK);
	ch.cap = TAB_CHUNK;
	memmove(&t->c[at + 1], &t->c[at], (t->nr_c - at) * sizeof(*t->c));
	memmove(&t->last[at + 1], &t->last[at],
		(t->nr_c - at) * sizeof(*t->last));
	t->c[at] = ch;
	t->last[at] = 0;
	t->nr_c++;
	return 0;
}

/* Moves the upper half of full chunk c into a new chunk after it. */
static int tab_split(struct tab *t, size_t c)
{
	struct tab_chunk *ch, *nx;
	size_t half;
	int ret;

	ret = tab_new_chunk(t, c + 1);
	if (ret)
		return ret;
	ch = &t->c[c];
	nx = &t->c[c + 1];
	half = ch->nr / 2;
	nx->nr = ch->nr - half;
	memcpy(nx->m, &ch->m[half], nx->nr * sizeof(*ch->m));
	memcpy(nx->key, &ch->key[half], nx->nr * sizeof(*ch->key));
	ch->nr = half;
	chunk_fix(t, c);
	chunk_fix(t, c + 1);
	return 0;
}

/* Inserts m before position p (p may be the end). */
int kho_tab_insert(struct tab *t, struct tab_pos p,
		   const struct kho_mapping *m)
{
	struct tab_chunk *ch;
	int ret;

	if (!t->nr_c) {
		ret = tab_new_chunk(t, 0);
		if (ret)
			return ret;
		p.c = 0;
		p.i = 0;
	}
	ch = &t->c[p.c];
	if (ch->nr == ch->cap) {
		if (t->flat) {
			size_t cap = ch->cap ? ch->cap * 2 : 16;
			struct kho_mapping *n = realloc(ch->m, cap * sizeof(*n));

			if (!n)
				return -ENOMEM;
			ch->m = n;
			ch->cap = cap;
		} else {
			ret = tab_split(t, p.c);
			if (ret)
				return ret;
			if (p.i > t->c[p.c].nr) {
				p.i -= t->c[p.c].nr;
				p.c++;
			}
			ch = &t->c[p.c];
		}
	}
	memmove(&ch->m[p.i + 1], &ch->m[p.i], (ch->nr - p.i) * sizeof(*ch->m));
	ch->m[p.i] = *m;
	if (ch->key) {
		memmove(&ch->key[p.i + 1], &ch->key[p.i],
			(ch->nr - p.i) * sizeof(*ch->key));
		ch->key[p.i] = map_last(m);
	}
	ch->nr++;
	chunk_fix(t, p.c);
	return 0;
}

/* Erases the area at p; p then names the area after it. */
void kho_tab_erase(struct tab *t, struct tab_pos *p)
{
	struct tab_chunk *ch = &t->c[p->c];

	memmove(&ch->m[p->i], &ch->m[p->i + 1],
		(ch->nr - p->i - 1) * sizeof(*ch->m));
	if (ch->key)
		memmove(&ch->key[p->i], &ch->key[p->i + 1],
			(ch->nr - p->i - 1) * sizeof(*ch->key));
	ch->nr--;
	chunk_fix(t, p->c);
	if (!ch->nr && !t->flat) {
		memcpy(ch->key, &t->spare, sizeof(t->spare));
		t->spare = ch->key;
		memmove(&t->c[p->c], &t->c[p->c + 1],
			(t->nr_c - p->c - 1) * sizeof(*t->c));
		memmove(&t->last[p->c], &t->last[p->c + 1],
			(t->nr_c - p->c - 1) * sizeof(*t->last));
		t->nr_c--;
		p->i = 0;
		if (p->c >= t->nr_c && t->nr_c) {
			p->c = t->nr_c - 1;
			p->i = t->c[p->c].nr;
		}
		return;
	}
	kho_tab_norm(t, p);
}

void kho_tab_free(struct tab *t)
{
	size_t i;

	if (!t->flat)
		for (i = 0; i < t->nr_c; i++)
			free(t->c[i].key);
	while (t->spare) {
		void *next;

		memcpy(&next, t->spare, sizeof(next));
		free(t->spare);
		t->spare = next;
	}
	free(t->c);
	free(t->last);
	memset(t, 0, sizeof(*t));
}

/* The table of s->ioas[idx]: the batch's, or a flat view in *tmp. */
struct tab *kho_tab_get(struct kho_state *s, struct kho_state_batch *b,
			   size_t idx, struct tab *tmp)
{
	struct kho_ioas *ioas = &s->ioas[idx];

	if (b)
		return &b->tabs[idx];
	memset(tmp, 0, sizeof(*tmp));
	tmp->flat = true;
	tmp->one.m = ioas->maps;
	tmp->one.nr = ioas->nr_maps;
	tmp->one.cap = ioas->cap_maps;
	tmp->c = &tmp->one;
	tmp->last = &tmp->one_last;
	tmp->nr_c = 1;
	tmp->cap_c = 1;
	chunk_fix(tmp, 0);
	return tmp;
}

/* Writes a flat view back into its IOAS. */
void kho_tab_put(struct kho_state *s, struct kho_state_batch *b, size_t idx,
		    struct tab *t)
{
	if (b)
		return;
	s->ioas[idx].maps = t->c[0].m;
	s->ioas[idx].nr_maps = t->c[0].nr;
	s->ioas[idx].cap_maps = t->c[0].cap;
}

int kho_state_batch_begin(struct kho_state *s, struct kho_state_batch **out)
{
	struct kho_state_batch *b;
	size_t i, j, k;
	int ret;

	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->cap = s->nr_ioas + 8;
	b->tabs = calloc(b->cap, sizeof(*b->tabs));
	if (!b->tabs) {
		free(b);
		return -ENOMEM;
	}
	for (i = 0; i < s->nr_ioas; i++) {
		struct kho_ioas *ioas = &s->ioas[i];
		struct tab *t = &b->tabs[i];

		/* Half-full chunks leave room for inserts before a split. */
		for (j = 0; j < ioas->nr_maps; j += TAB_CHUNK / 2) {
			size_t n = ioas->nr_maps - j;
			struct tab_chunk *ch;

			if (n > TAB_CHUNK / 2)
				n = TAB_CHUNK / 2;
			ret = tab_new_chunk(t, t->nr_c);
			if (ret) {
				kho_state_batch_abort(s, b);
				return ret;
			}
			ch = &t->c[t->nr_c - 1];
			memcpy(ch->m, &ioas->maps[j], n * sizeof(*ioas->maps));
			for (k = 0; k < n; k++)
				ch->key[k] = map_last(&ch->m[k]);
			ch->nr = n;
			chunk_fix(t, t->nr_c - 1);
		}
	}
	*out = b;
	return 0;
}

void kho_state_batch_abort(struct kho_state *s, struct kho_state_batch *b)
{
	size_t i;

	if (!b)
		return;
	for (i = 0; i < s->nr_ioas && i < b->cap; i++)
		kho_tab_free(&b->tabs[i]);
	free(b->tabs);
	free(b);
}

int kho_state_batch_end(struct kho_state *s, struct kho_state_batch *b)
{
	size_t i, j;
	int ret = 0;

	for (i = 0; i < s->nr_ioas; i++) {
		struct kho_ioas *ioas = &s->ioas[i];
		struct tab *t = &b->tabs[i];
		size_t n = kho_tab_count(t), k = 0;
		struct kho_mapping *m = NULL;

		if (n) {
			m = malloc(n * sizeof(*m));
			if (!m) {
				ret = -ENOMEM;
				continue;
			}
			for (j = 0; j < t->nr_c; j++) {
				memcpy(&m[k], t->c[j].m,
				       t->c[j].nr * sizeof(*m));
				k += t->c[j].nr;
			}
		}
		free(ioas->maps);
		ioas->maps = m;
		ioas->nr_maps = m ? n : 0;
		ioas->cap_maps = ioas->nr_maps;
	}
	kho_state_batch_abort(s, b);
	return ret;
}
