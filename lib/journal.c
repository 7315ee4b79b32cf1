// SPDX-License-Identifier: LGPL-2.1-or-later
/* The journal: an append-only array of canonical records it owns. */
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "journal.h"

void kho_journal_init(struct kho_journal *j)
{
	memset(j, 0, sizeof(*j));
}

void kho_rec_release(struct kho_rec *rec)
{
	switch (rec->op) {
	case KHO_OP_IOAS_ALLOW_IOVAS:
		free(rec->allow_iovas.iovas);
		rec->allow_iovas.iovas = NULL;
		break;
	case KHO_OP_HWPT_ALLOC:
		free(rec->hwpt_alloc.data);
		rec->hwpt_alloc.data = NULL;
		break;
	default:
		break;
	}
}

void kho_journal_free(struct kho_journal *j)
{
	size_t i;

	for (i = 0; i < j->nr; i++)
		kho_rec_release(&j->recs[i]);
	free(j->recs);
	kho_journal_init(j);
}

int kho_rec_copy(struct kho_rec *dst, const struct kho_rec *src)
{
	*dst = *src;
	switch (src->op) {
	case KHO_OP_IOAS_ALLOW_IOVAS:
		if (!src->allow_iovas.num_iovas) {
			dst->allow_iovas.iovas = NULL;
			break;
		}
		dst->allow_iovas.iovas = calloc(src->allow_iovas.num_iovas,
						sizeof(*src->allow_iovas.iovas));
		if (!dst->allow_iovas.iovas)
			return -ENOMEM;
		memcpy(dst->allow_iovas.iovas, src->allow_iovas.iovas,
		       src->allow_iovas.num_iovas *
		       sizeof(*src->allow_iovas.iovas));
		break;
	case KHO_OP_HWPT_ALLOC:
		if (!src->hwpt_alloc.data_len) {
			dst->hwpt_alloc.data = NULL;
			break;
		}
		dst->hwpt_alloc.data = malloc(src->hwpt_alloc.data_len);
		if (!dst->hwpt_alloc.data)
			return -ENOMEM;
		memcpy(dst->hwpt_alloc.data, src->hwpt_alloc.data,
		       src->hwpt_alloc.data_len);
		break;
	default:
		break;
	}
	return 0;
}

int kho_journal_append(struct kho_journal *j, const struct kho_rec *rec)
{
	int ret;

	if (j->nr == j->cap) {
		size_t cap = j->cap ? j->cap * 2 : 64;
		struct kho_rec *recs = realloc(j->recs, cap * sizeof(*recs));

		if (!recs)
			return -ENOMEM;
		j->recs = recs;
		j->cap = cap;
	}
	ret = kho_rec_copy(&j->recs[j->nr], rec);
	if (ret)
		return ret;
	j->nr++;
	return 0;
}

static const char *const op_names[KHO_OP_MAX + 1] = {
	[KHO_OP_IOAS_ALLOC] = "IOAS_ALLOC",
	[KHO_OP_DESTROY] = "DESTROY",
	[KHO_OP_IOAS_ALLOW_IOVAS] = "IOAS_ALLOW_IOVAS",
	[KHO_OP_IOAS_MAP] = "IOAS_MAP",
	[KHO_OP_IOAS_MAP_FILE] = "IOAS_MAP_FILE",
	[KHO_OP_IOAS_COPY] = "IOAS_COPY",
	[KHO_OP_IOAS_UNMAP] = "IOAS_UNMAP",
	[KHO_OP_OPTION] = "OPTION",
	[KHO_OP_HWPT_ALLOC] = "HWPT_ALLOC",
	[KHO_OP_HWPT_SET_DIRTY_TRACKING] = "HWPT_SET_DIRTY_TRACKING",
	[KHO_OP_DEVICE_BIND] = "DEVICE_BIND_IOMMUFD",
	[KHO_OP_DEVICE_ATTACH] = "DEVICE_ATTACH_IOMMUFD_PT",
	[KHO_OP_DEVICE_DETACH] = "DEVICE_DETACH_IOMMUFD_PT",
	[KHO_OP_VIOMMU_ALLOC] = "VIOMMU_ALLOC",
	[KHO_OP_VDEVICE_ALLOC] = "VDEVICE_ALLOC",
	[KHO_OP_REPLAY_MAPPINGS] = "REPLAY_MAPPINGS",
};

const char *kho_op_name(uint32_t op)
{
	static __thread char unknown[16];

	if (op <= KHO_OP_MAX && op_names[op])
		return op_names[op];
	snprintf(unknown, sizeof(unknown), "op#%u", op);
	return unknown;
}
