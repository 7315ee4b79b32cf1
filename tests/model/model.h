/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The model-based test's shared parts: a seeded generator of random
 * sequences of the journaled iommufd ioctls, and the test's own shadow of
 * what a sequence leaves in each IOAS.  tests/model/kho-model.c runs the
 * sequences against the kernel in a guest; tests/unit/test_model.c runs
 * the same generator against the in-process state model (lib/state.c).
 *
 * A sequence names IOASes by slot (0..MDL_SLOTS-1), never by ID, so that
 * any sub-sequence is still meaningful: that is what shrinking a failing
 * sequence needs.
 */
#ifndef KHO_TEST_MODEL_H
#define KHO_TEST_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* IOASes live at once, mock devices per IOAS. */
#define MDL_SLOTS	3
#define MDL_MOCKS	2
#define MDL_PAGE	4096ULL
/*
 * Fixed IOVAs fall in a window of MDL_WIN_PAGES pages at MDL_WIN_BASE,
 * inside the mock domains' aperture (MOCK_APERTURE_START, 16 MiB), so a
 * mock device can attach to any IOAS the sequence built there.
 */
#define MDL_WIN_BASE	0x1000000ULL
#define MDL_WIN_PAGES	64
/* Each of the two guest-RAM memfds, in pages. */
#define MDL_MEM_PAGES	64
#define MDL_MAX_LEN	8	/* pages per map */
#define MDL_MAX_RANGES	3	/* allowed IOVA ranges per ALLOW_IOVAS */

enum mdl_op {
	MDL_ALLOC = 1,		/* IOMMU_IOAS_ALLOC into an empty slot */
	MDL_DESTROY,		/* IOMMU_DESTROY of the slot's IOAS */
	MDL_ALLOW,		/* IOMMU_IOAS_ALLOW_IOVAS, 0..3 ranges */
	MDL_MAP_VA,		/* IOMMU_IOAS_MAP of memfd 0's shared mapping */
	MDL_MAP_FILE,		/* IOMMU_IOAS_MAP_FILE of memfd 0 or 1 */
	MDL_COPY,		/* IOMMU_IOAS_COPY between two slots */
	MDL_UNMAP,		/* IOMMU_IOAS_UNMAP of a range */
	MDL_UNMAP_ALL,		/* IOMMU_IOAS_UNMAP 0 + U64_MAX */
	MDL_OPTION,		/* IOMMU_OPTION HUGE_PAGES set 0 or 1 */
	MDL_MOCK_ADD,		/* IOMMU_TEST_OP_MOCK_DOMAIN on the slot's IOAS */
	MDL_MOCK_DEL,		/* IOMMU_DESTROY of a mock device */
	MDL_OP_MAX = MDL_MOCK_DEL,
};

/*
 * Features a run can leave out (-x NAME), to get past a known bug and
 * still exercise the rest.  MDL_F_CUT: UNMAPs that may remove some areas
 * and then fail (a range that cuts an area); without it UNMAP ranges
 * always start and end on the test's shadow's area boundaries.
 */
enum {
	MDL_F_ALLOW = 1 << 0,
	MDL_F_COPY = 1 << 1,
	MDL_F_CUT = 1 << 2,
	MDL_F_AUTO = 1 << 3,
	MDL_F_OPTION = 1 << 4,
	MDL_F_VA = 1 << 5,
	MDL_F_FILE2 = 1 << 6,
	MDL_F_DESTROY = 1 << 7,
	MDL_F_MOCK = 1 << 8,
	MDL_F_ALL = (1 << 9) - 1,
};

/* "allow,cut" -> mask; Return: 0 or -1 (unknown name, in *bad). */
int mdl_features_parse(const char *list, unsigned int *mask, const char **bad);
/* The names of @mask's bits, comma-separated, into @buf. */
const char *mdl_features_name(unsigned int mask, char *buf, size_t len);

struct mdl_range {
	uint64_t start, last;
};

/* One call of a sequence, every parameter concrete. */
struct mdl_call {
	uint8_t op;		/* enum mdl_op */
	uint8_t slot;		/* the IOAS (COPY: the destination) */
	uint8_t src;		/* COPY: the source slot */
	uint8_t memfd;		/* 0 or 1 */
	uint8_t fixed;		/* FIXED_IOVA */
	uint8_t readonly;	/* READABLE without WRITEABLE */
	uint8_t mock;		/* MOCK_DEL: which of the slot's devices */
	uint8_t nr_ranges;	/* ALLOW */
	uint64_t iova;		/* MAP/COPY destination, UNMAP start */
	uint64_t length;
	uint64_t offset;	/* MAP: byte offset in the memfd; COPY: src IOVA */
	uint64_t value;		/* OPTION */
	struct mdl_range range[MDL_MAX_RANGES];
};

/* An area as the test's shadow sees it: where its bytes come from. */
struct mdl_area {
	uint64_t iova, length;
	uint8_t memfd;
	uint64_t offset;
};

struct mdl_slot {
	bool live;
	uint32_t id;		/* the kernel's (or model's) IOAS ID */
	size_t nr;
	struct mdl_area area[MDL_WIN_PAGES * 4];	/* sorted by IOVA */
	unsigned int nr_ranges;
	struct mdl_range range[MDL_MAX_RANGES];
	int huge_pages;		/* -1 never set */
	unsigned int nr_mock;	/* mock devices attached */
};

/* The test's shadow of one iommufd: its own small rules, not lib/state.c. */
struct mdl_shadow {
	struct mdl_slot slot[MDL_SLOTS];
};

void mdl_shadow_init(struct mdl_shadow *s);
/* Areas of a successful map or copy; Return: 0 or -1 (table full). */
int mdl_shadow_add(struct mdl_slot *sl, const struct mdl_area *a);
/*
 * An UNMAP of [@iova, +@len) that returned @err: the kernel
 * (iopt_unmap_iova_range()) removes the areas inside the range in IOVA
 * order and stops at the first that sticks out (ENOENT); what it removed
 * stays removed.  Return: bytes removed.
 */
uint64_t mdl_shadow_unmap(struct mdl_slot *sl, uint64_t iova, uint64_t len,
			  int err);
/*
 * COPY of [@src_iova, +@len) of @src to @dst_iova in @dst: one area per
 * source area piece.  Return: 0, -1 (not contiguously mapped in the
 * shadow).
 */
int mdl_shadow_copy(struct mdl_slot *dst, const struct mdl_slot *src,
		    uint64_t src_iova, uint64_t len, uint64_t dst_iova);
/* The area covering @iova, or NULL. */
const struct mdl_area *mdl_shadow_find(const struct mdl_slot *sl, uint64_t iova);

/* splitmix64: one 64-bit state, every seed a good stream. */
struct mdl_rng {
	uint64_t s;
};

void mdl_rng_seed(struct mdl_rng *r, uint64_t seed);
uint64_t mdl_rng_next(struct mdl_rng *r);
/* Uniform in [0, @n); @n > 0. */
uint32_t mdl_rng_below(struct mdl_rng *r, uint32_t n);

/*
 * mdl_gen() - the next call of a sequence, chosen from @rng and the
 * shadow @s (a map lands on a hole more often than not, an UNMAP on area
 * boundaries, a COPY on a mapped source), leaving out the features in
 * @exclude.  Every call is one a VMM may make; many fail, as a VMM's do.
 */
void mdl_gen(struct mdl_rng *rng, const struct mdl_shadow *s,
	     unsigned int exclude, struct mdl_call *c);

/* One line: "MAP_FILE slot 1 memfd 1 +0x3000 -> 0x1004000+0x2000 fixed". */
void mdl_call_print(FILE *f, const struct mdl_call *c);
const char *mdl_op_name(unsigned int op);

#endif /* KHO_TEST_MODEL_H */
