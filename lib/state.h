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

/*
 * The smallest page size the model assumes for every iommu_domain (and the
 * kernel's PAGE_SIZE): it drives the IOVA alignment of an IOAS once a
 * domain is attached or large pages are disabled.
 */
#define KHO_MODEL_PAGE_SIZE 4096ULL

/**
 * kho_state_apply() - apply one journal record to the model
 * @s:    the state; memfds a map may name must be registered first
 * @rec:  a canonical record (never KHO_OP_REPLAY_MAPPINGS)
 * @diag: on failure, names the object, the step and the cause
 *
 * Mirrors the kernel's checks, in the kernel's order, including the
 * partial effect of a refused IOAS_UNMAP (areas before the one it cuts are
 * gone, as in iopt_unmap_iova_range()).  Output fields of @rec (new IDs,
 * out_length) are taken as what the kernel returned.
 *
 * Return: 0 or the errno the kernel would give (-ENOENT, -EEXIST, -EINVAL,
 * -EOVERFLOW, -EBUSY, -EADDRINUSE, -EOPNOTSUPP), -EBADMSG when the record's
 * outputs contradict the model, -ENOMEM.
 */
int kho_state_apply(struct kho_state *s, const struct kho_rec *rec,
		    struct kho_diag *diag);

/**
 * kho_state_predict() - fill @rec's outputs as the kernel would
 * IDs from xa_alloc()'s lowest-free policy, the auto domain an ATTACH to an
 * IOAS reuses, the bytes an UNMAP removes.
 * Return: 0.
 */
int kho_state_predict(const struct kho_state *s, struct kho_rec *rec);

/* The ID the kernel hands to the next object (lowest free, from 1). */
uint32_t kho_state_next_id(const struct kho_state *s);

/* Registers a preserved memfd; Return: 0, -EEXIST (token), -ENOMEM. */
int kho_state_add_memfd(struct kho_state *s, const struct kho_memfd *m);

/*
 * A batch keeps every IOAS's mapping table in an indexed form so that a
 * long journal applies in O(log n) per record.  Between begin and end the
 * kho_ioas.maps arrays are stale; end writes them back (sorted by IOVA).
 * abort drops the batch's tables without writing them back.
 * Return (begin, end, batch_apply): as kho_state_apply(), -ENOMEM.
 */
struct kho_state_batch;
int kho_state_batch_begin(struct kho_state *s, struct kho_state_batch **b);
int kho_state_batch_apply(struct kho_state *s, struct kho_state_batch *b,
			  const struct kho_rec *rec, struct kho_diag *diag);
int kho_state_batch_end(struct kho_state *s, struct kho_state_batch *b);
void kho_state_batch_abort(struct kho_state *s, struct kho_state_batch *b);

struct kho_ioas *kho_state_find_ioas(const struct kho_state *s, uint32_t id);
struct kho_hwpt *kho_state_find_hwpt(const struct kho_state *s, uint32_t id);
struct kho_device *kho_state_find_dev(const struct kho_state *s, uint32_t id);
struct kho_memfd *kho_state_find_memfd(const struct kho_state *s,
				       uint64_t token);

/**
 * kho_state_equal() - compares two states object by object.  IDs must
 * match: callers comparing a replayed state first translate its IDs.
 * Return: 0 when equal, -EBADMSG with the first difference in diag.
 */
int kho_state_equal(const struct kho_state *a, const struct kho_state *b,
		    struct kho_diag *diag);

#endif /* KHO_STATE_H */
