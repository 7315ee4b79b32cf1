// SPDX-License-Identifier: LGPL-2.1-or-later
/* The journal: an append-only array of canonical records it owns. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "journal.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23	/* Linux 5.14 */
#endif

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
	if (j->mapped)
		munmap(j->recs, j->cap * sizeof(*j->recs));
	else
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

/*
 * Faults in [start, start + len) with one madvise() call.  The recorder
 * appends on a VMM's ioctl path, where touching fresh pages of the grown
 * array one by one cost a trap every 85 records, more than the record
 * itself (and far more under TCG).  A kernel without MADV_POPULATE_WRITE
 * (before 5.14) just faults them on first use.
 */
static void kho_journal_prefault(void *start, size_t len)
{
	long pg = sysconf(_SC_PAGESIZE);
	uintptr_t lo = (uintptr_t)start, hi = lo + len;

	if (pg <= 0 || !len)
		return;
	lo &= ~((uintptr_t)pg - 1);
	hi = (hi + pg - 1) & ~((uintptr_t)pg - 1);
	madvise((void *)lo, hi - lo, MADV_POPULATE_WRITE);
}

/*
 * A journal this big lives in its own mapping and grows with mremap(2):
 * the kernel moves page tables instead of realloc() copying every record
 * it holds, which a recorder pays on the VMM's ioctl path.  (Under TCG
 * the copy's rep movsb cost one guest instruction per byte.)
 */
#define KHO_JOURNAL_MAP_BYTES (64u << 10)

static struct kho_rec *kho_journal_grow(struct kho_journal *j, size_t cap)
{
	size_t old = j->cap * sizeof(*j->recs), len = cap * sizeof(*j->recs);
	void *p;

	if (len < KHO_JOURNAL_MAP_BYTES)
		return realloc(j->recs, len);
	if (j->mapped)
		p = mremap(j->recs, old, len, MREMAP_MAYMOVE);
	else
		p = mmap(NULL, len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	if (!j->mapped) {
		if (j->nr)
			memcpy(p, j->recs, j->nr * sizeof(*j->recs));
		free(j->recs);
		j->mapped = true;
	}
	return p;
}

int kho_journal_append(struct kho_journal *j, const struct kho_rec *rec)
{
	int ret;

	if (j->nr == j->cap) {
		size_t cap = j->cap ? j->cap * 2 : 64;
		struct kho_rec *recs = kho_journal_grow(j, cap);

		if (!recs)
			return -ENOMEM;
		/* geometric growth, the new half populated at once */
		kho_journal_prefault(recs + j->cap,
				     (cap - j->cap) * sizeof(*recs));
		j->recs = recs;
		j->cap = cap;
	}
	ret = kho_rec_copy(&j->recs[j->nr], rec);
	if (ret)
		return ret;
	j->nr++;
	return 0;
}

/* The UNMAP @rec cancels the MAP at @j's tail: both go. */
static bool kho_journal_drop_cancelled(struct kho_journal *j,
				       const struct kho_rec *rec)
{
	if (rec->op != KHO_OP_IOAS_UNMAP ||
	    !kho_journal_cancels_tail(j, rec->unmap.ioas_id, rec->unmap.iova,
				      rec->unmap.length,
				      rec->unmap.out_length))
		return false;
	kho_rec_release(&j->recs[--j->nr]);
	return true;
}

int kho_journal_append_elided(struct kho_journal *j, const struct kho_rec *rec,
			      uint64_t *pairs)
{
	if (kho_journal_drop_cancelled(j, rec)) {
		++*pairs;
		return 0;
	}
	return kho_journal_append(j, rec);
}

void kho_journal_elide(struct kho_journal *j, uint64_t *pairs)
{
	size_t i, nr = j->nr;

	/* j->nr is the kept prefix; records move down over dropped ones */
	j->nr = 0;
	for (i = 0; i < nr; i++) {
		struct kho_rec *r = &j->recs[i];

		if (kho_journal_drop_cancelled(j, r)) {
			kho_rec_release(r);
			++*pairs;
			continue;
		}
		if (j->nr != i)
			j->recs[j->nr] = *r;	/* ownership moves with it */
		j->nr++;
	}
}

void kho_rec_map_ids(struct kho_rec *rec,
		     uint32_t (*map)(void *ctx, uint32_t old_id), void *ctx)
{
	switch (rec->op) {
	case KHO_OP_DESTROY:
		rec->destroy.id = map(ctx, rec->destroy.id);
		break;
	case KHO_OP_IOAS_ALLOW_IOVAS:
		rec->allow_iovas.ioas_id = map(ctx, rec->allow_iovas.ioas_id);
		break;
	case KHO_OP_IOAS_MAP:
	case KHO_OP_IOAS_MAP_FILE:
		rec->map.ioas_id = map(ctx, rec->map.ioas_id);
		break;
	case KHO_OP_IOAS_COPY:
		rec->copy.dst_ioas_id = map(ctx, rec->copy.dst_ioas_id);
		rec->copy.src_ioas_id = map(ctx, rec->copy.src_ioas_id);
		break;
	case KHO_OP_IOAS_UNMAP:
		rec->unmap.ioas_id = map(ctx, rec->unmap.ioas_id);
		break;
	case KHO_OP_OPTION:
		rec->option.object_id = map(ctx, rec->option.object_id);
		break;
	case KHO_OP_HWPT_ALLOC:
		rec->hwpt_alloc.dev_id = map(ctx, rec->hwpt_alloc.dev_id);
		rec->hwpt_alloc.pt_id = map(ctx, rec->hwpt_alloc.pt_id);
		break;
	case KHO_OP_HWPT_SET_DIRTY_TRACKING:
		rec->dirty_tracking.hwpt_id =
			map(ctx, rec->dirty_tracking.hwpt_id);
		break;
	case KHO_OP_DEVICE_ATTACH:
		rec->attach.dev_id = map(ctx, rec->attach.dev_id);
		rec->attach.pt_id = map(ctx, rec->attach.pt_id);
		break;
	case KHO_OP_DEVICE_DETACH:
		rec->detach.dev_id = map(ctx, rec->detach.dev_id);
		break;
	case KHO_OP_REPLAY_MAPPINGS:
		rec->replay_maps.ioas_id = map(ctx, rec->replay_maps.ioas_id);
		break;
	default:
		break;
	}
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

static void pci_str(const struct kho_pci_id *p, char *buf, size_t len)
{
	snprintf(buf, len, "%04x:%02x:%02x.%u [%04x:%04x]", p->segment, p->bus,
		 p->devfn >> 3, p->devfn & 7, p->vendor, p->device);
}

/**
 * kho_rec_format() - one line a person reads, without a newline
 * @rec: the record
 * @buf: where to write
 * @len: size of @buf
 *
 * Return: 0, or -ENOSPC when the line did not fit (it is truncated).
 */
int kho_rec_format(const struct kho_rec *rec, char *buf, size_t len)
{
	const char *op = kho_op_name(rec->op);
	char pci[48];
	int n;

	switch (rec->op) {
	case KHO_OP_IOAS_ALLOC:
		n = snprintf(buf, len, "%s -> IOAS %u", op, rec->ioas_alloc.out_ioas_id);
		break;
	case KHO_OP_DESTROY:
		n = snprintf(buf, len, "%s %u", op, rec->destroy.id);
		break;
	case KHO_OP_IOAS_ALLOW_IOVAS: {
		size_t off;
		uint32_t i;

		n = snprintf(buf, len, "%s IOAS %u:", op, rec->allow_iovas.ioas_id);
		for (i = 0; n >= 0 && (size_t)n < len &&
			    i < rec->allow_iovas.num_iovas; i++) {
			off = n;
			n += snprintf(buf + off, len - off, " 0x%llx-0x%llx",
				      (unsigned long long)rec->allow_iovas.iovas[i].start,
				      (unsigned long long)rec->allow_iovas.iovas[i].last);
		}
		if (!rec->allow_iovas.num_iovas && n >= 0 && (size_t)n < len)
			n += snprintf(buf + n, len - n, " (any)");
		break;
	}
	case KHO_OP_IOAS_MAP:
	case KHO_OP_IOAS_MAP_FILE:
		n = snprintf(buf, len, "%s IOAS %u 0x%llx+0x%llx <- memfd token %llu offset 0x%llx flags 0x%x",
			     op, rec->map.ioas_id, (unsigned long long)rec->map.iova,
			     (unsigned long long)rec->map.length,
			     (unsigned long long)rec->map.memfd_token,
			     (unsigned long long)rec->map.offset, rec->map.flags);
		break;
	case KHO_OP_IOAS_COPY:
		n = snprintf(buf, len, "%s IOAS %u 0x%llx -> IOAS %u 0x%llx length 0x%llx flags 0x%x",
			     op, rec->copy.src_ioas_id,
			     (unsigned long long)rec->copy.src_iova,
			     rec->copy.dst_ioas_id,
			     (unsigned long long)rec->copy.dst_iova,
			     (unsigned long long)rec->copy.length, rec->copy.flags);
		break;
	case KHO_OP_IOAS_UNMAP:
		n = snprintf(buf, len, "%s IOAS %u 0x%llx+0x%llx (unmapped 0x%llx)",
			     op, rec->unmap.ioas_id,
			     (unsigned long long)rec->unmap.iova,
			     (unsigned long long)rec->unmap.length,
			     (unsigned long long)rec->unmap.out_length);
		break;
	case KHO_OP_OPTION:
		n = snprintf(buf, len, "%s %u op %u object %u = %llu", op,
			     rec->option.option_id, rec->option.op,
			     rec->option.object_id,
			     (unsigned long long)rec->option.val64);
		break;
	case KHO_OP_HWPT_ALLOC:
		n = snprintf(buf, len, "%s device %u pt %u flags 0x%x data %u/%u bytes -> HWPT %u",
			     op, rec->hwpt_alloc.dev_id, rec->hwpt_alloc.pt_id,
			     rec->hwpt_alloc.flags, rec->hwpt_alloc.data_type,
			     rec->hwpt_alloc.data_len, rec->hwpt_alloc.out_hwpt_id);
		break;
	case KHO_OP_HWPT_SET_DIRTY_TRACKING:
		n = snprintf(buf, len, "%s HWPT %u %s", op,
			     rec->dirty_tracking.hwpt_id,
			     rec->dirty_tracking.flags & 1 ? "enable" : "disable");
		break;
	case KHO_OP_DEVICE_BIND:
		pci_str(&rec->bind.pci, pci, sizeof(pci));
		n = snprintf(buf, len, "%s %s -> device %u", op, pci,
			     rec->bind.out_devid);
		break;
	case KHO_OP_DEVICE_ATTACH:
		n = snprintf(buf, len, "%s device %u to pt %u -> HWPT %u", op,
			     rec->attach.dev_id, rec->attach.pt_id,
			     rec->attach.out_hwpt_id);
		break;
	case KHO_OP_DEVICE_DETACH:
		n = snprintf(buf, len, "%s device %u", op, rec->detach.dev_id);
		break;
	case KHO_OP_REPLAY_MAPPINGS:
		n = snprintf(buf, len, "%s IOAS %u mappings [%u, %u)", op,
			     rec->replay_maps.ioas_id, rec->replay_maps.first,
			     rec->replay_maps.first + rec->replay_maps.count);
		break;
	default:
		n = snprintf(buf, len, "%s", op);
		break;
	}
	return n < 0 || (size_t)n >= len ? -ENOSPC : 0;
}

/**
 * kho_journal_print_json() - write @j as a JSON array, one object a record
 * @j:   the journal
 * @out: the stream
 *
 * Numbers that may exceed 2^53 (IOVAs, lengths, tokens) are written as
 * "0x..." strings so that no JSON reader rounds them.
 * Return: 0, or -EIO when writing failed.
 */
int kho_journal_print_json(const struct kho_journal *j, FILE *out)
{
	size_t i;
	uint32_t k;

#define X(v) ((unsigned long long)(v))
	fputs("[", out);
	for (i = 0; i < j->nr; i++) {
		const struct kho_rec *r = &j->recs[i];

		fprintf(out, "%s\n  {\"op\": \"%s\"", i ? "," : "", kho_op_name(r->op));
		switch (r->op) {
		case KHO_OP_IOAS_ALLOC:
			fprintf(out, ", \"flags\": %u, \"out_ioas_id\": %u",
				r->ioas_alloc.flags, r->ioas_alloc.out_ioas_id);
			break;
		case KHO_OP_DESTROY:
			fprintf(out, ", \"id\": %u", r->destroy.id);
			break;
		case KHO_OP_IOAS_ALLOW_IOVAS:
			fprintf(out, ", \"ioas_id\": %u, \"iovas\": [", r->allow_iovas.ioas_id);
			for (k = 0; k < r->allow_iovas.num_iovas; k++)
				fprintf(out, "%s{\"start\": \"0x%llx\", \"last\": \"0x%llx\"}",
					k ? ", " : "", X(r->allow_iovas.iovas[k].start),
					X(r->allow_iovas.iovas[k].last));
			fputs("]", out);
			break;
		case KHO_OP_IOAS_MAP:
		case KHO_OP_IOAS_MAP_FILE:
			fprintf(out, ", \"flags\": %u, \"ioas_id\": %u, \"memfd_token\": \"0x%llx\", \"offset\": \"0x%llx\", \"length\": \"0x%llx\", \"iova\": \"0x%llx\"",
				r->map.flags, r->map.ioas_id, X(r->map.memfd_token),
				X(r->map.offset), X(r->map.length), X(r->map.iova));
			break;
		case KHO_OP_IOAS_COPY:
			fprintf(out, ", \"flags\": %u, \"dst_ioas_id\": %u, \"src_ioas_id\": %u, \"length\": \"0x%llx\", \"dst_iova\": \"0x%llx\", \"src_iova\": \"0x%llx\"",
				r->copy.flags, r->copy.dst_ioas_id, r->copy.src_ioas_id,
				X(r->copy.length), X(r->copy.dst_iova), X(r->copy.src_iova));
			break;
		case KHO_OP_IOAS_UNMAP:
			fprintf(out, ", \"ioas_id\": %u, \"iova\": \"0x%llx\", \"length\": \"0x%llx\", \"out_length\": \"0x%llx\"",
				r->unmap.ioas_id, X(r->unmap.iova), X(r->unmap.length),
				X(r->unmap.out_length));
			break;
		case KHO_OP_OPTION:
			fprintf(out, ", \"option_id\": %u, \"option_op\": %u, \"object_id\": %u, \"val64\": \"0x%llx\"",
				r->option.option_id, r->option.op, r->option.object_id,
				X(r->option.val64));
			break;
		case KHO_OP_HWPT_ALLOC:
			fprintf(out, ", \"flags\": %u, \"dev_id\": %u, \"pt_id\": %u, \"out_hwpt_id\": %u, \"data_type\": %u, \"data\": \"",
				r->hwpt_alloc.flags, r->hwpt_alloc.dev_id, r->hwpt_alloc.pt_id,
				r->hwpt_alloc.out_hwpt_id, r->hwpt_alloc.data_type);
			for (k = 0; k < r->hwpt_alloc.data_len && r->hwpt_alloc.data; k++)
				fprintf(out, "%02x", r->hwpt_alloc.data[k]);
			fprintf(out, "\", \"fault_id\": %u", r->hwpt_alloc.fault_id);
			break;
		case KHO_OP_HWPT_SET_DIRTY_TRACKING:
			fprintf(out, ", \"flags\": %u, \"hwpt_id\": %u",
				r->dirty_tracking.flags, r->dirty_tracking.hwpt_id);
			break;
		case KHO_OP_DEVICE_BIND:
			fprintf(out, ", \"pci\": \"%04x:%02x:%02x.%u\", \"vendor\": \"%04x\", \"device\": \"%04x\", \"flags\": %u, \"out_devid\": %u",
				r->bind.pci.segment, r->bind.pci.bus, r->bind.pci.devfn >> 3,
				r->bind.pci.devfn & 7, r->bind.pci.vendor, r->bind.pci.device,
				r->bind.flags, r->bind.out_devid);
			break;
		case KHO_OP_DEVICE_ATTACH:
			fprintf(out, ", \"dev_id\": %u, \"flags\": %u, \"pasid\": %u, \"pt_id\": %u, \"out_hwpt_id\": %u",
				r->attach.dev_id, r->attach.flags, r->attach.pasid,
				r->attach.pt_id, r->attach.out_hwpt_id);
			break;
		case KHO_OP_DEVICE_DETACH:
			fprintf(out, ", \"dev_id\": %u, \"flags\": %u, \"pasid\": %u",
				r->detach.dev_id, r->detach.flags, r->detach.pasid);
			break;
		case KHO_OP_REPLAY_MAPPINGS:
			fprintf(out, ", \"ioas_id\": %u, \"first\": %u, \"count\": %u",
				r->replay_maps.ioas_id, r->replay_maps.first,
				r->replay_maps.count);
			break;
		default:
			break;
		}
		fputs("}", out);
	}
	fputs(j->nr ? "\n]\n" : "]\n", out);
#undef X
	return ferror(out) ? -EIO : 0;
}
