// SPDX-License-Identifier: GPL-2.0
/*
 * The model-based test's generator and shadow: random legal sequences of
 * the journaled iommufd ioctls, and the test's own bookkeeping of the
 * areas each IOAS holds.  Shared by the guest program and the unit test.
 */
#include <errno.h>
#include <string.h>
#include <linux/iommufd.h>

#include "model.h"

static const char *const feature_names[] = {
	"allow", "copy", "cut", "auto", "option", "va", "file2", "destroy",
	"mock",
};

int mdl_features_parse(const char *list, unsigned int *mask, const char **bad)
{
	static char buf[128];
	char *save = NULL, *tok;
	size_t i;

	snprintf(buf, sizeof(buf), "%s", list);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		for (i = 0; i < sizeof(feature_names) / sizeof(*feature_names); i++)
			if (!strcmp(tok, feature_names[i]))
				break;
		if (i == sizeof(feature_names) / sizeof(*feature_names)) {
			*bad = tok;
			return -1;
		}
		*mask |= 1u << i;
	}
	return 0;
}

const char *mdl_features_name(unsigned int mask, char *buf, size_t len)
{
	size_t i, n = 0;

	buf[0] = '\0';
	for (i = 0; i < sizeof(feature_names) / sizeof(*feature_names); i++)
		if (mask & (1u << i) && n < len)
			n += snprintf(buf + n, len - n, "%s%s", n ? "," : "",
				      feature_names[i]);
	if (!n)
		snprintf(buf, len, "none");
	return buf;
}

static const char *const op_names[] = {
	[MDL_ALLOC] = "IOAS_ALLOC", [MDL_DESTROY] = "DESTROY",
	[MDL_ALLOW] = "ALLOW_IOVAS", [MDL_MAP_VA] = "MAP_VA",
	[MDL_MAP_FILE] = "MAP_FILE", [MDL_COPY] = "COPY",
	[MDL_UNMAP] = "UNMAP", [MDL_UNMAP_ALL] = "UNMAP_ALL",
	[MDL_OPTION] = "OPTION_HUGE_PAGES", [MDL_MOCK_ADD] = "MOCK_DOMAIN",
	[MDL_MOCK_DEL] = "MOCK_DESTROY",
};

const char *mdl_op_name(unsigned int op)
{
	return op && op <= MDL_OP_MAX ? op_names[op] : "?";
}

void mdl_call_print(FILE *f, const struct mdl_call *c)
{
	unsigned int i;

	fprintf(f, "%s slot %u", mdl_op_name(c->op), c->slot);
	switch (c->op) {
	case MDL_ALLOW:
		for (i = 0; i < c->nr_ranges; i++)
			fprintf(f, " [0x%llx-0x%llx]",
				(unsigned long long)c->range[i].start,
				(unsigned long long)c->range[i].last);
		if (!c->nr_ranges)
			fprintf(f, " (none: any IOVA)");
		break;
	case MDL_MAP_VA:
	case MDL_MAP_FILE:
		fprintf(f, " memfd %u +0x%llx -> 0x%llx+0x%llx%s%s", c->memfd,
			(unsigned long long)c->offset,
			(unsigned long long)c->iova,
			(unsigned long long)c->length,
			c->fixed ? " fixed" : " auto",
			c->readonly ? " read-only" : "");
		break;
	case MDL_COPY:
		fprintf(f, " from slot %u 0x%llx -> 0x%llx+0x%llx%s", c->src,
			(unsigned long long)c->offset,
			(unsigned long long)c->iova,
			(unsigned long long)c->length,
			c->fixed ? " fixed" : " auto");
		break;
	case MDL_UNMAP:
		fprintf(f, " 0x%llx+0x%llx", (unsigned long long)c->iova,
			(unsigned long long)c->length);
		break;
	case MDL_OPTION:
		fprintf(f, " = %llu", (unsigned long long)c->value);
		break;
	case MDL_MOCK_DEL:
		fprintf(f, " device %u", c->mock);
		break;
	}
	fputc('\n', f);
}

/* --- the shadow -------------------------------------------------------- */

void mdl_shadow_init(struct mdl_shadow *s)
{
	unsigned int i;

	memset(s, 0, sizeof(*s));
	for (i = 0; i < MDL_SLOTS; i++)
		s->slot[i].huge_pages = -1;
}

int mdl_shadow_add(struct mdl_slot *sl, const struct mdl_area *a)
{
	size_t i;

	if (sl->nr == sizeof(sl->area) / sizeof(*sl->area))
		return -1;
	for (i = sl->nr; i && sl->area[i - 1].iova > a->iova; i--)
		sl->area[i] = sl->area[i - 1];
	sl->area[i] = *a;
	sl->nr++;
	return 0;
}

uint64_t mdl_shadow_unmap(struct mdl_slot *sl, uint64_t iova, uint64_t len,
			  int err)
{
	uint64_t last = iova + len - 1, removed = 0;
	size_t i = 0;

	if (err && err != -ENOENT)
		return 0;
	while (i < sl->nr) {
		struct mdl_area *a = &sl->area[i];

		if (a->iova + a->length - 1 < iova) {
			i++;
			continue;
		}
		if (a->iova > last)
			break;
		if (a->iova < iova || a->iova + a->length - 1 > last)
			break;
		removed += a->length;
		memmove(a, a + 1, (sl->nr - i - 1) * sizeof(*a));
		sl->nr--;
	}
	return removed;
}

const struct mdl_area *mdl_shadow_find(const struct mdl_slot *sl, uint64_t iova)
{
	size_t i;

	for (i = 0; i < sl->nr; i++)
		if (sl->area[i].iova <= iova &&
		    iova - sl->area[i].iova < sl->area[i].length)
			return &sl->area[i];
	return NULL;
}

int mdl_shadow_copy(struct mdl_slot *dst, const struct mdl_slot *src,
		    uint64_t src_iova, uint64_t len, uint64_t dst_iova)
{
	struct mdl_area piece[MDL_WIN_PAGES];
	uint64_t at = src_iova, end = src_iova + len;
	size_t n = 0, i;

	/* Source areas first: @dst may be @src. */
	while (at < end) {
		const struct mdl_area *a = mdl_shadow_find(src, at);
		uint64_t skip, take;

		if (!a || n == MDL_WIN_PAGES)
			return -1;
		skip = at - a->iova;
		take = a->length - skip;
		if (take > end - at)
			take = end - at;
		piece[n++] = (struct mdl_area){
			.iova = dst_iova + (at - src_iova), .length = take,
			.memfd = a->memfd, .offset = a->offset + skip,
		};
		at += take;
	}
	for (i = 0; i < n; i++)
		if (mdl_shadow_add(dst, &piece[i]))
			return -1;
	return 0;
}

/* --- the generator ----------------------------------------------------- */

void mdl_rng_seed(struct mdl_rng *r, uint64_t seed)
{
	/*
	 * Mixed, not scaled: seed N + 1 must not be seed N's stream one
	 * step later (splitmix64 adds the same constant at every step).
	 */
	r->s = seed ^ 0x6b686f2d6d646c31ULL;
	r->s = mdl_rng_next(r);
}

uint64_t mdl_rng_next(struct mdl_rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

uint32_t mdl_rng_below(struct mdl_rng *r, uint32_t n)
{
	return (uint32_t)(((mdl_rng_next(r) >> 32) * n) >> 32);
}

static int pick_live(struct mdl_rng *r, const struct mdl_shadow *s)
{
	unsigned int live[MDL_SLOTS], n = 0, i;

	for (i = 0; i < MDL_SLOTS; i++)
		if (s->slot[i].live)
			live[n++] = i;
	return n ? (int)live[mdl_rng_below(r, n)] : -1;
}

static uint64_t win_page(struct mdl_rng *r, unsigned int room)
{
	return MDL_WIN_BASE + mdl_rng_below(r, MDL_WIN_PAGES - room + 1) * MDL_PAGE;
}

/*
 * A range of whole areas: from area i to area j of the slot, i <= j.
 * Return: j + 1, or 0 when the slot has no area.
 */
static size_t pick_areas(struct mdl_rng *r, const struct mdl_slot *sl,
			 uint64_t *iova, uint64_t *len)
{
	size_t i, j;

	if (!sl->nr)
		return 0;
	i = mdl_rng_below(r, sl->nr);
	j = i + mdl_rng_below(r, sl->nr - i < 3 ? sl->nr - i : 3);
	*iova = sl->area[i].iova;
	*len = sl->area[j].iova + sl->area[j].length - *iova;
	return j + 1;
}

static void gen_ranges(struct mdl_rng *r, struct mdl_call *c)
{
	uint64_t at = 0;
	unsigned int i;

	/* Sorted, disjoint, with a hole of at least one page between two. */
	c->nr_ranges = mdl_rng_below(r, MDL_MAX_RANGES + 1);
	for (i = 0; i < c->nr_ranges; i++) {
		uint64_t gap = mdl_rng_below(r, 12) + (i ? 1 : 0);
		uint64_t n = 1 + mdl_rng_below(r, 24);

		at += gap;
		if (at + n > MDL_WIN_PAGES) {
			c->nr_ranges = i;
			break;
		}
		c->range[i].start = MDL_WIN_BASE + at * MDL_PAGE;
		c->range[i].last = MDL_WIN_BASE + (at + n) * MDL_PAGE - 1;
		at += n;
	}
}

void mdl_gen(struct mdl_rng *r, const struct mdl_shadow *s,
	     unsigned int exclude, struct mdl_call *c)
{
	static const struct { uint8_t op; uint8_t weight; unsigned int feature; } w[] = {
		{ MDL_ALLOC, 6, 0 },
		{ MDL_DESTROY, 2, MDL_F_DESTROY },
		{ MDL_ALLOW, 4, MDL_F_ALLOW },
		{ MDL_MAP_VA, 7, MDL_F_VA },
		{ MDL_MAP_FILE, 18, 0 },
		{ MDL_COPY, 7, MDL_F_COPY },
		{ MDL_UNMAP, 12, 0 },
		{ MDL_UNMAP_ALL, 1, 0 },
		{ MDL_OPTION, 3, MDL_F_OPTION },
		{ MDL_MOCK_ADD, 1, MDL_F_MOCK },
		{ MDL_MOCK_DEL, 1, MDL_F_MOCK },
	};
	unsigned int total = 0, i, pick, free_slot = MDL_SLOTS;
	const struct mdl_slot *sl;
	int live;

	memset(c, 0, sizeof(*c));
	for (i = 0; i < MDL_SLOTS; i++)
		if (!s->slot[i].live && free_slot == MDL_SLOTS)
			free_slot = i;
	live = pick_live(r, s);
	if (live < 0) {
		/* Nothing to work on: the first call of every sequence. */
		c->op = MDL_ALLOC;
		c->slot = free_slot;
		return;
	}
	for (i = 0; i < sizeof(w) / sizeof(*w); i++)
		if (!(w[i].feature & exclude))
			total += w[i].weight;
	pick = mdl_rng_below(r, total);
	for (i = 0; i < sizeof(w) / sizeof(*w); i++) {
		if (w[i].feature & exclude)
			continue;
		if (pick < w[i].weight)
			break;
		pick -= w[i].weight;
	}
	c->op = w[i].op;
	c->slot = live;
	sl = &s->slot[live];
	c->fixed = (exclude & MDL_F_AUTO) || mdl_rng_below(r, 4);
	c->readonly = !mdl_rng_below(r, 8);

	/* Every slot taken: map instead. */
	if (c->op == MDL_ALLOC && free_slot == MDL_SLOTS)
		c->op = MDL_MAP_FILE;
	switch (c->op) {
	case MDL_ALLOC:
		c->slot = free_slot;
		break;
	case MDL_ALLOW:
		gen_ranges(r, c);
		break;
	case MDL_MAP_VA:
	case MDL_MAP_FILE:
		c->memfd = c->op == MDL_MAP_FILE && !(exclude & MDL_F_FILE2) ?
			   mdl_rng_below(r, 2) : 0;
		c->length = (1 + mdl_rng_below(r, MDL_MAX_LEN)) * MDL_PAGE;
		c->offset = mdl_rng_below(r, MDL_MEM_PAGES - c->length / MDL_PAGE + 1) *
			    MDL_PAGE;
		c->iova = c->fixed ? win_page(r, c->length / MDL_PAGE) : 0;
		/* Right behind an area half the time: areas touch, UNMAPs cut. */
		if (c->fixed && sl->nr && mdl_rng_below(r, 2)) {
			const struct mdl_area *a = &sl->area[mdl_rng_below(r, sl->nr)];

			c->iova = a->iova + a->length;
		}
		break;
	case MDL_COPY: {
		int src = pick_live(r, s);
		const struct mdl_slot *ss = &s->slot[src];
		const struct mdl_area *a;

		c->src = src;
		if (!ss->nr) {
			/* A source with nothing mapped: ENOENT. */
			c->offset = win_page(r, 1);
			c->length = MDL_PAGE;
		} else {
			/* Part of an area, or a whole run of areas. */
			a = &ss->area[mdl_rng_below(r, ss->nr)];
			if (mdl_rng_below(r, 2)) {
				uint64_t pages = a->length / MDL_PAGE;
				uint64_t first = mdl_rng_below(r, pages);

				c->offset = a->iova + first * MDL_PAGE;
				c->length = (1 + mdl_rng_below(r, pages - first)) * MDL_PAGE;
			} else {
				pick_areas(r, ss, &c->offset, &c->length);
			}
		}
		c->iova = c->fixed ? win_page(r, c->length / MDL_PAGE > MDL_WIN_PAGES ?
					      MDL_WIN_PAGES : c->length / MDL_PAGE) : 0;
		break;
	}
	case MDL_UNMAP:
		pick = mdl_rng_below(r, 4);
		if (!(exclude & MDL_F_CUT) && (pick == 0 || !sl->nr)) {
			/* Any range of the window: may cut areas. */
			c->iova = win_page(r, 1);
			c->length = (1 + mdl_rng_below(r, 16)) * MDL_PAGE;
		} else if (!(exclude & MDL_F_CUT) && pick == 1) {
			/* One or more whole areas and a cut into the next. */
			size_t j = pick_areas(r, sl, &c->iova, &c->length);

			if (j < sl->nr && sl->area[j].length > MDL_PAGE)
				c->length = sl->area[j].iova + MDL_PAGE - c->iova;
			else
				c->length += MDL_PAGE;
		} else if (!pick_areas(r, sl, &c->iova, &c->length)) {
			/* Nothing mapped: ENOENT. */
			c->iova = win_page(r, 1);
			c->length = MDL_PAGE;
		}
		break;
	case MDL_OPTION:
		c->value = mdl_rng_below(r, 2);
		break;
	case MDL_MOCK_ADD:
		if (sl->nr_mock == MDL_MOCKS)
			c->op = MDL_MOCK_DEL;
		break;
	case MDL_MOCK_DEL:
		if (!sl->nr_mock)
			c->op = MDL_MOCK_ADD;
		else
			c->mock = mdl_rng_below(r, sl->nr_mock);
		break;
	}
}
