// SPDX-License-Identifier: LGPL-2.1-or-later
/* The old->new object ID table a replay fills and a VMM receives. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "idmap.h"

void kho_idmap_init(struct kho_idmap *m)
{
	memset(m, 0, sizeof(*m));
}

void kho_idmap_free(struct kho_idmap *m)
{
	free(m->ent);
	kho_idmap_init(m);
}

int kho_idmap_add(struct kho_idmap *m, uint32_t kind, uint32_t old_id,
		  uint32_t new_id)
{
	uint32_t unused;

	if (!old_id || !new_id)
		return -EINVAL;
	if (!kho_idmap_lookup(m, old_id, &unused))
		return -EEXIST;
	if (m->nr == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 16;
		struct kho_idmap_ent *ent = realloc(m->ent, cap * sizeof(*ent));

		if (!ent)
			return -ENOMEM;
		m->ent = ent;
		m->cap = cap;
	}
	m->ent[m->nr++] = (struct kho_idmap_ent){ kind, old_id, new_id };
	return 0;
}

/*
 * Linear: a hand-off holds a handful of IOASes, HWPTs and devices; the
 * thousands of mappings never enter this table.
 */
int kho_idmap_lookup(const struct kho_idmap *m, uint32_t old_id,
		     uint32_t *new_id)
{
	size_t i;

	for (i = 0; i < m->nr; i++) {
		if (m->ent[i].old_id == old_id) {
			*new_id = m->ent[i].new_id;
			return 0;
		}
	}
	return -ENOENT;
}

const char *kho_obj_kind_name(uint32_t kind)
{
	switch (kind) {
	case KHO_OBJ_IOAS:
		return "IOAS";
	case KHO_OBJ_HWPT:
		return "HWPT";
	case KHO_OBJ_DEVICE:
		return "device";
	}
	return "object";
}
