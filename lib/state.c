// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The live state model: the IOASes, HWPTs, devices and memfds a journal
 * leaves behind, and the kernel's rules for changing them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/iommufd.h>
#include "compat.h"
#include <linux/vfio.h>

#include "mdev.h"
#include "state_internal.h"

void kho_state_init(struct kho_state *s)
{
	memset(s, 0, sizeof(*s));
}

void kho_state_free(struct kho_state *s)
{
	size_t i;

	for (i = 0; i < s->nr_ioas; i++) {
		free(s->ioas[i].allowed);
		free(s->ioas[i].maps);
	}
	for (i = 0; i < s->nr_hwpt; i++)
		free(s->hwpt[i].data);
	free(s->ioas);
	free(s->hwpt);
	free(s->dev);
	free(s->memfd);
	kho_state_init(s);
}

static void *dup_array(const void *src, size_t nr, size_t size, int *err)
{
	void *dst;

	if (!nr)
		return NULL;
	dst = calloc(nr, size);
	if (!dst) {
		*err = -ENOMEM;
		return NULL;
	}
	memcpy(dst, src, nr * size);
	return dst;
}

int kho_state_copy(struct kho_state *dst, const struct kho_state *src)
{
	int err = 0;
	size_t i;

	kho_state_init(dst);
	dst->ioas = dup_array(src->ioas, src->nr_ioas, sizeof(*src->ioas), &err);
	dst->hwpt = dup_array(src->hwpt, src->nr_hwpt, sizeof(*src->hwpt), &err);
	dst->dev = dup_array(src->dev, src->nr_dev, sizeof(*src->dev), &err);
	dst->memfd = dup_array(src->memfd, src->nr_memfd, sizeof(*src->memfd),
			       &err);
	if (err)
		goto out_free_arrays;
	dst->nr_ioas = src->nr_ioas;
	dst->nr_hwpt = src->nr_hwpt;
	dst->nr_dev = src->nr_dev;
	dst->nr_memfd = src->nr_memfd;
	/* Clear the borrowed pointers first so a partial failure frees only
	 * what this copy owns. */
	for (i = 0; i < dst->nr_ioas; i++) {
		dst->ioas[i].allowed = NULL;
		dst->ioas[i].maps = NULL;
	}
	for (i = 0; i < dst->nr_hwpt; i++)
		dst->hwpt[i].data = NULL;
	for (i = 0; i < dst->nr_ioas; i++) {
		const struct kho_ioas *a = &src->ioas[i];

		dst->ioas[i].allowed = dup_array(a->allowed, a->nr_allowed,
						 sizeof(*a->allowed), &err);
		dst->ioas[i].maps = dup_array(a->maps, a->nr_maps,
					      sizeof(*a->maps), &err);
		dst->ioas[i].cap_maps = a->nr_maps;
	}
	for (i = 0; i < dst->nr_hwpt; i++)
		dst->hwpt[i].data = dup_array(src->hwpt[i].data,
					      src->hwpt[i].data_len, 1, &err);
	if (err)
		kho_state_free(dst);
	return err;

out_free_arrays:
	free(dst->ioas);
	free(dst->hwpt);
	free(dst->dev);
	free(dst->memfd);
	kho_state_init(dst);
	return err;
}

struct kho_ioas *kho_state_find_ioas(const struct kho_state *s, uint32_t id)
{
	size_t i;

	for (i = 0; i < s->nr_ioas; i++)
		if (s->ioas[i].id == id)
			return &s->ioas[i];
	return NULL;
}

struct kho_hwpt *kho_state_find_hwpt(const struct kho_state *s, uint32_t id)
{
	size_t i;

	for (i = 0; i < s->nr_hwpt; i++)
		if (s->hwpt[i].id == id)
			return &s->hwpt[i];
	return NULL;
}

bool kho_state_has_mdev(const struct kho_state *s)
{
	size_t i;

	for (i = 0; i < s->nr_dev; i++)
		if (kho_mdev_is(&s->dev[i].mdev))
			return true;
	return false;
}

struct kho_device *kho_state_find_dev(const struct kho_state *s, uint32_t id)
{
	size_t i;

	for (i = 0; i < s->nr_dev; i++)
		if (s->dev[i].id == id)
			return &s->dev[i];
	return NULL;
}

struct kho_memfd *kho_state_find_memfd(const struct kho_state *s,
				       uint64_t token)
{
	size_t i;

	for (i = 0; i < s->nr_memfd; i++)
		if (s->memfd[i].token == token)
			return &s->memfd[i];
	return NULL;
}

/* --- object IDs ----------------------------------------------------------- */

bool kho_state_id_in_use(const struct kho_state *s, uint32_t id)
{
	return kho_state_find_ioas(s, id) || kho_state_find_hwpt(s, id) ||
	       kho_state_find_dev(s, id);
}

uint32_t kho_state_next_id(const struct kho_state *s)
{
	size_t n = s->nr_ioas + s->nr_hwpt + s->nr_dev, i;
	uint32_t id = 1;
	bool *used;

	/*
	 * iommufd_ctx_alloc() makes the object table with XA_FLAGS_ALLOC1
	 * and _iommufd_object_alloc() calls xa_alloc(..., xa_limit_31b):
	 * the lowest free ID >= 1, so a destroyed ID is the next one reused.
	 * Only one of the n + 1 candidates 1..n+1 can be free first.
	 */
	used = calloc(n + 2, sizeof(*used));
	if (!used) {
		/* Slow path without memory: probe one by one. */
		while (kho_state_id_in_use(s, id))
			id++;
		return id;
	}
	for (i = 0; i < s->nr_ioas; i++)
		if (s->ioas[i].id <= n + 1)
			used[s->ioas[i].id] = true;
	for (i = 0; i < s->nr_hwpt; i++)
		if (s->hwpt[i].id <= n + 1)
			used[s->hwpt[i].id] = true;
	for (i = 0; i < s->nr_dev; i++)
		if (s->dev[i].id <= n + 1)
			used[s->dev[i].id] = true;
	while (used[id])
		id++;
	free(used);
	return id;
}

int kho_state_add_memfd(struct kho_state *s, const struct kho_memfd *m)
{
	struct kho_memfd *n;

	if (kho_state_find_memfd(s, m->token))
		return -EEXIST;
	n = realloc(s->memfd, (s->nr_memfd + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	s->memfd = n;
	n[s->nr_memfd++] = *m;
	return 0;
}

/* --- comparison ----------------------------------------------------------- */

int kho_state_equal(const struct kho_state *a, const struct kho_state *b,
		    struct kho_diag *diag)
{
	size_t i, j;

	if (a->nr_ioas != b->nr_ioas || a->nr_hwpt != b->nr_hwpt ||
	    a->nr_dev != b->nr_dev || a->nr_memfd != b->nr_memfd)
		return kho_diag_set(diag, -EBADMSG,
				    "state: object counts differ: IOAS %zu/%zu, HWPT %zu/%zu, devices %zu/%zu, memfds %zu/%zu",
				    a->nr_ioas, b->nr_ioas, a->nr_hwpt, b->nr_hwpt,
				    a->nr_dev, b->nr_dev, a->nr_memfd, b->nr_memfd);
	for (i = 0; i < a->nr_ioas; i++) {
		const struct kho_ioas *x = &a->ioas[i];
		const struct kho_ioas *y = kho_state_find_ioas(b, x->id);

		if (!y)
			return kho_diag_set(diag, -EBADMSG, "state: IOAS %u missing", x->id);
		if (x->huge_pages != y->huge_pages)
			return kho_diag_set(diag, -EBADMSG, "state: IOAS %u: HUGE_PAGES %lld vs %lld",
					    x->id, (long long)x->huge_pages,
					    (long long)y->huge_pages);
		if (x->nr_allowed != y->nr_allowed ||
		    (x->nr_allowed && memcmp(x->allowed, y->allowed,
					     x->nr_allowed * sizeof(*x->allowed))))
			return kho_diag_set(diag, -EBADMSG, "state: IOAS %u: allowed IOVA ranges differ",
					    x->id);
		if (x->nr_maps != y->nr_maps)
			return kho_diag_set(diag, -EBADMSG, "state: IOAS %u: %zu vs %zu mappings",
					    x->id, x->nr_maps, y->nr_maps);
		for (j = 0; j < x->nr_maps; j++) {
			const struct kho_mapping *p = &x->maps[j], *q = &y->maps[j];

			if (p->iova != q->iova || p->length != q->length ||
			    p->offset != q->offset ||
			    p->memfd_token != q->memfd_token ||
			    p->flags != q->flags)
				return kho_diag_set(diag, -EBADMSG,
						    "state: IOAS %u: mapping %zu: 0x%llx+0x%llx token %llu off 0x%llx vs 0x%llx+0x%llx token %llu off 0x%llx",
						    x->id, j, (unsigned long long)p->iova,
						    (unsigned long long)p->length,
						    (unsigned long long)p->memfd_token,
						    (unsigned long long)p->offset,
						    (unsigned long long)q->iova,
						    (unsigned long long)q->length,
						    (unsigned long long)q->memfd_token,
						    (unsigned long long)q->offset);
		}
	}
	for (i = 0; i < a->nr_hwpt; i++) {
		const struct kho_hwpt *x = &a->hwpt[i];
		const struct kho_hwpt *y = kho_state_find_hwpt(b, x->id);

		if (!y)
			return kho_diag_set(diag, -EBADMSG, "state: HWPT %u missing", x->id);
		if (x->pt_id != y->pt_id || x->dev_id != y->dev_id ||
		    x->flags != y->flags || x->auto_domain != y->auto_domain ||
		    x->dirty_tracking != y->dirty_tracking ||
		    x->data_type != y->data_type || x->data_len != y->data_len ||
		    (x->data_len && memcmp(x->data, y->data, x->data_len)))
			return kho_diag_set(diag, -EBADMSG, "state: HWPT %u differs", x->id);
	}
	for (i = 0; i < a->nr_dev; i++) {
		const struct kho_device *x = &a->dev[i];
		const struct kho_device *y = kho_state_find_dev(b, x->id);

		if (!y)
			return kho_diag_set(diag, -EBADMSG, "state: device %u missing", x->id);
		if (memcmp(&x->pci, &y->pci, sizeof(x->pci)) ||
		    memcmp(x->mdev.uuid, y->mdev.uuid, sizeof(x->mdev.uuid)) ||
		    x->attached_pt != y->attached_pt ||
		    x->attach_flags != y->attach_flags || x->pasid != y->pasid)
			return kho_diag_set(diag, -EBADMSG,
					    "state: device %u differs (attached to %u vs %u)",
					    x->id, x->attached_pt, y->attached_pt);
	}
	for (i = 0; i < a->nr_memfd; i++) {
		const struct kho_memfd *x = &a->memfd[i];
		const struct kho_memfd *y = kho_state_find_memfd(b, x->token);

		if (!y || x->size != y->size || x->seals != y->seals ||
		    strncmp(x->name, y->name, sizeof(x->name)))
			return kho_diag_set(diag, -EBADMSG, "state: memfd token %llu differs",
					    (unsigned long long)x->token);
	}
	return 0;
}
