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

/**
 * kho_state_init() - an empty state
 * @s: the state
 */
void kho_state_init(struct kho_state *s);

/**
 * kho_state_free() - free a state's tables and leave it empty
 * @s: the state
 */
void kho_state_free(struct kho_state *s);

/**
 * kho_state_copy() - a deep copy
 * @dst: out: the copy (initialised by the call; empty on failure)
 * @src: the state to copy
 *
 * Return: 0 or -ENOMEM.
 */
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
 * kho_state_predict() - fill a record's outputs as the kernel would
 * @s:   the state the record would apply to
 * @rec: in/out: the record; its outputs are overwritten
 *
 * IDs from xa_alloc()'s lowest-free policy, the auto domain an ATTACH to an
 * IOAS reuses, the bytes an UNMAP removes.
 *
 * Return: 0.
 */
int kho_state_predict(const struct kho_state *s, struct kho_rec *rec);

/**
 * kho_state_next_id() - the ID the kernel hands to the next object
 * @s: the state
 *
 * Return: the lowest free ID, from 1.
 */
uint32_t kho_state_next_id(const struct kho_state *s);

/**
 * kho_state_add_memfd() - register a preserved memfd
 * @s: the state
 * @m: the memfd (token, size, name, seals), copied
 *
 * Return: 0; -EEXIST (the token is registered already); -ENOMEM.
 */
int kho_state_add_memfd(struct kho_state *s, const struct kho_memfd *m);

/*
 * A batch keeps every IOAS's mapping table in an indexed form so that a
 * long journal applies in O(log n) per record.  Between begin and end the
 * kho_ioas.maps arrays are stale; end writes them back (sorted by IOVA).
 */
struct kho_state_batch;

/**
 * kho_state_batch_begin() - index a state's mapping tables for a batch
 * @s: the state
 * @b: out: the batch; end it with kho_state_batch_end() or
 *     kho_state_batch_abort()
 *
 * Return: 0 or -ENOMEM.
 */
int kho_state_batch_begin(struct kho_state *s, struct kho_state_batch **b);

/**
 * kho_state_batch_apply() - kho_state_apply() inside a batch
 * @s:    the state
 * @b:    its batch
 * @rec:  the record
 * @diag: on failure, names the object, the step and the cause
 *
 * Return: as kho_state_apply().
 */
int kho_state_batch_apply(struct kho_state *s, struct kho_state_batch *b,
			  const struct kho_rec *rec, struct kho_diag *diag);

/**
 * kho_state_batch_end() - write a batch's tables back and free it
 * @s: the state
 * @b: the batch; freed whatever the result
 *
 * Return: 0 or -ENOMEM (an IOAS whose table could not be written back
 * keeps its table from before the batch).
 */
int kho_state_batch_end(struct kho_state *s, struct kho_state_batch *b);

/**
 * kho_state_batch_abort() - drop a batch without writing it back
 * @s: the state; its mapping tables stay as before the batch began
 * @b: the batch, freed
 */
void kho_state_batch_abort(struct kho_state *s, struct kho_state_batch *b);

/**
 * kho_state_find_ioas() - look up an IOAS
 * @s:  the state
 * @id: its object ID
 *
 * Return: the IOAS, or NULL if @id is not one.
 */
struct kho_ioas *kho_state_find_ioas(const struct kho_state *s, uint32_t id);

/**
 * kho_state_find_hwpt() - look up a HWPT
 * @s:  the state
 * @id: its object ID
 *
 * Return: the HWPT, or NULL if @id is not one.
 */
struct kho_hwpt *kho_state_find_hwpt(const struct kho_state *s, uint32_t id);

/**
 * kho_state_has_mdev() - does any bound device name an mdev?
 * @s: the state
 *
 * Return: true if one does (the hand-off then needs format 5).
 */
bool kho_state_has_mdev(const struct kho_state *s);

/**
 * kho_state_find_dev() - look up a bound device
 * @s:  the state
 * @id: its device ID
 *
 * Return: the device, or NULL if @id is not one.
 */
struct kho_device *kho_state_find_dev(const struct kho_state *s, uint32_t id);

/**
 * kho_state_find_memfd() - look up a memfd
 * @s:     the state
 * @token: its token
 *
 * Return: the memfd, or NULL if @token is not registered.
 */
struct kho_memfd *kho_state_find_memfd(const struct kho_state *s,
				       uint64_t token);

/**
 * kho_state_equal() - compare two states object by object
 * @a:    one state
 * @b:    the other
 * @diag: out: the first difference
 *
 * IDs must match: callers comparing a replayed state first translate its
 * IDs.
 *
 * Return: 0 when equal, -EBADMSG when not.
 */
int kho_state_equal(const struct kho_state *a, const struct kho_state *b,
		    struct kho_diag *diag);

#endif /* KHO_STATE_H */
