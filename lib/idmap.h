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

/**
 * kho_idmap_init() - an empty table
 * @m: the table
 */
void kho_idmap_init(struct kho_idmap *m);

/**
 * kho_idmap_free() - free a table and leave it empty
 * @m: the table
 */
void kho_idmap_free(struct kho_idmap *m);

/**
 * kho_idmap_add() - record what a recorded ID became
 * @m:      the table
 * @kind:   what it names (enum kho_obj_kind)
 * @old_id: the ID in the journal
 * @new_id: the ID the kernel handed out on replay
 *
 * Return: 0; -EEXIST (@old_id is mapped already); -EINVAL (an ID of 0);
 * -ENOMEM.
 */
int kho_idmap_add(struct kho_idmap *m, uint32_t kind, uint32_t old_id,
		  uint32_t new_id);

/**
 * kho_idmap_lookup() - translate a recorded ID
 * @m:      the table
 * @old_id: the ID in the journal
 * @new_id: out: what it became
 *
 * Return: 0; -ENOENT (@old_id was never mapped).
 */
int kho_idmap_lookup(const struct kho_idmap *m, uint32_t old_id,
		     uint32_t *new_id);

/**
 * kho_obj_kind_name() - an object kind, for messages
 * @kind: an enum kho_obj_kind value
 *
 * Return: "IOAS", "HWPT", "device", or "object" for another value.
 */
const char *kho_obj_kind_name(uint32_t kind);

#endif /* KHO_IDMAP_H */
