// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The live state model: the IOASes, HWPTs, devices and memfds a journal
 * leaves behind, and the kernel's rules for changing them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "state.h"

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
