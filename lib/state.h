/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The live state model: what iommufd and VFIO hold after a journal ran.
 * kho_state_apply() mirrors the kernel's own rules (drivers/iommu/iommufd/)
 * so that a journal the kernel accepted folds into exactly the kernel's
 * state, and one it would refuse is refused with the kernel's errno.
 */
#ifndef KHO_STATE_H
#define KHO_STATE_H

#include "kho.h"

void kho_state_init(struct kho_state *s);
void kho_state_free(struct kho_state *s);
int kho_state_copy(struct kho_state *dst, const struct kho_state *src);

/* Applies one record; Return: 0 or the errno the kernel would give. */
int kho_state_apply(struct kho_state *s, const struct kho_rec *rec,
		    struct kho_diag *diag);

struct kho_ioas *kho_state_find_ioas(const struct kho_state *s, uint32_t id);
struct kho_hwpt *kho_state_find_hwpt(const struct kho_state *s, uint32_t id);
struct kho_device *kho_state_find_dev(const struct kho_state *s, uint32_t id);
struct kho_memfd *kho_state_find_memfd(const struct kho_state *s,
				       uint64_t token);

/*
 * kho_state_equal() - compares two states object by object.  IDs must
 * match: callers comparing a replayed state first translate its IDs.
 * Return: 0 when equal, -EBADMSG with the first difference in diag.
 */
int kho_state_equal(const struct kho_state *a, const struct kho_state *b,
		    struct kho_diag *diag);

#endif /* KHO_STATE_H */
