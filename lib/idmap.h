/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The old->new object ID table: recorded iommufd IDs are not stable across
 * replay (xa_alloc hands out the lowest free ID), so every reference in a
 * plan is translated through this table.
 */
#ifndef KHO_IDMAP_H
#define KHO_IDMAP_H

#include "kho.h"

/* What an old ID named; IDs share one namespace per iommufd. */
enum kho_obj_kind {
	KHO_OBJ_IOAS = 1,
	KHO_OBJ_HWPT = 2,
	KHO_OBJ_DEVICE = 3,
};

struct kho_idmap_ent {
	uint32_t kind;		/* enum kho_obj_kind */
	uint32_t old_id;
	uint32_t new_id;
};

/* The old->new ID table, kept in insertion (creation) order. */
struct kho_idmap {
	struct kho_idmap_ent *ent;
	size_t nr;
	size_t cap;
};

void kho_idmap_init(struct kho_idmap *m);
void kho_idmap_free(struct kho_idmap *m);
/* Return: 0, -EEXIST (old ID already mapped), -EINVAL (ID 0), -ENOMEM. */
int kho_idmap_add(struct kho_idmap *m, uint32_t kind, uint32_t old_id,
		  uint32_t new_id);
/* Return: 0 with *new_id set, -ENOENT when @old_id was never mapped. */
int kho_idmap_lookup(const struct kho_idmap *m, uint32_t old_id,
		     uint32_t *new_id);
const char *kho_obj_kind_name(uint32_t kind);

#endif /* KHO_IDMAP_H */
