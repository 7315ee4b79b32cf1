// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The kernel's rules for the live state model, one function per ioctl,
 * each citing the 7.2 source it follows, and the outputs the kernel would
 * hand out (kho_state_predict()).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/iommufd.h>
#include "compat.h"
#include <linux/vfio.h>

#include "mdev.h"
#include "pci.h"
#include "state_internal.h"
/* --- helpers for the rules --------------------------------------------- */

#define IOAS_MAP_ALL (IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_WRITEABLE | \
		      IOMMU_IOAS_MAP_READABLE)
#define IOAS_MAP_RW (IOMMU_IOAS_MAP_WRITEABLE | IOMMU_IOAS_MAP_READABLE)
#define HWPT_PAGING_FLAGS (IOMMU_HWPT_ALLOC_NEST_PARENT | \
			   IOMMU_HWPT_ALLOC_DIRTY_TRACKING | \
			   IOMMU_HWPT_FAULT_ID_VALID | IOMMU_HWPT_ALLOC_PASID)

static size_t ioas_index(const struct kho_state *s, uint32_t id)
{
	size_t i;

	for (i = 0; i < s->nr_ioas; i++)
		if (s->ioas[i].id == id)
			return i;
	return SIZE_MAX;
}

static bool ioas_has_domain(const struct kho_state *s, uint32_t ioas_id)
{
	size_t i;

	for (i = 0; i < s->nr_hwpt; i++)
		if (s->hwpt[i].pt_id == ioas_id)
			return true;
	return false;
}

/*
 * iopt_calculate_iova_alignment(): 1 with no domain, PAGE_SIZE once large
 * pages are disabled, and at least the smallest page size of every domain.
 * The model assumes the domains' smallest page is KHO_MODEL_PAGE_SIZE (4K
 * on VT-d, AMD and SMMUv3 with 4K granule).
 */
static uint64_t ioas_align(const struct kho_state *s, const struct kho_ioas *ioas)
{
	if (ioas->huge_pages == 0 || ioas_has_domain(s, ioas->id))
		return KHO_MODEL_PAGE_SIZE;
	return 1;
}

/* iopt_check_iova_alignment(): every area, length and page offset. */
static int tab_check_align(const struct tab *t, uint64_t align)
{
	size_t c, i;

	for (c = 0; c < t->nr_c; c++)
		for (i = 0; i < t->c[c].nr; i++) {
			const struct kho_mapping *m = &t->c[c].m[i];

			if ((m->iova | m->length |
			     (m->offset % KHO_MODEL_PAGE_SIZE)) & (align - 1))
				return -EADDRINUSE;
		}
	return 0;
}

struct piece {
	uint64_t token, offset, length;
};

/*
 * Inserts pieces back to back at iova, as iopt_alloc_area_pages() does:
 * the length alignment (-EINVAL), iopt_check_iova() for the whole range
 * (alignment -EINVAL, overflow -EOVERFLOW, any area -EEXIST), then
 * iopt_insert_area() per piece (page offset alignment -EINVAL).
 */
static int tab_map(struct tab *t, uint64_t align, uint64_t iova,
		   uint64_t length, const struct piece *pc, size_t nr,
		   uint32_t flags, const char **why)
{
	struct tab_pos p;
	struct kho_mapping *m;
	uint64_t last;
	size_t i;
	int ret;

	if (!length || (length & (align - 1))) {
		*why = "length zero or not aligned to the IOAS's IOVA alignment";
		return -EINVAL;
	}
	if (iova & (align - 1)) {
		*why = "IOVA not aligned to the IOAS's IOVA alignment";
		return -EINVAL;
	}
	if (__builtin_add_overflow(iova, length - 1, &last)) {
		*why = "IOVA + length overflows";
		return -EOVERFLOW;
	}
	p = kho_tab_find(t, iova);
	m = kho_tab_at(t, p);
	if (m && m->iova <= last) {
		*why = "range overlaps an existing mapping";
		return -EEXIST;
	}
	for (i = 0; i < nr; i++) {
		struct kho_mapping nm = {
			.iova = iova, .length = pc[i].length,
			.offset = pc[i].offset, .memfd_token = pc[i].token,
			.flags = flags & IOAS_MAP_RW,
		};

		if ((pc[i].offset % KHO_MODEL_PAGE_SIZE) & (align - 1)) {
			*why = "memfd offset's page offset not aligned";
			/* iopt_abort_area() undoes the areas inserted so far */
			while (i--) {
				p = kho_tab_find(t, iova - pc[i].length);
				kho_tab_erase(t, &p);
				iova -= pc[i].length;
			}
			return -EINVAL;
		}
		if (__builtin_add_overflow(pc[i].offset, pc[i].length - 1,
					   &last)) {
			*why = "memfd offset + length overflows";
			while (i--) {
				p = kho_tab_find(t, iova - pc[i].length);
				kho_tab_erase(t, &p);
				iova -= pc[i].length;
			}
			return -EOVERFLOW;
		}
		ret = kho_tab_insert(t, p, &nm);
		if (ret)
			return ret;
		kho_tab_next(t, &p);
		iova += pc[i].length;
	}
	return 0;
}

/* --- the rules, one function per ioctl ----------------------------------- */

static int rule_ioas_alloc(struct kho_state *s, struct kho_state_batch *b,
			   const struct kho_rec *rec, struct kho_diag *diag)
{
	uint32_t id = rec->ioas_alloc.out_ioas_id;
	struct kho_ioas *n;

	/* iommufd_ioas_alloc_ioctl(): no flags are defined */
	if (rec->ioas_alloc.flags)
		return kho_diag_set(diag, -EOPNOTSUPP,
				    "IOAS_ALLOC: flags 0x%x: EOPNOTSUPP (no flags are defined)",
				    rec->ioas_alloc.flags);
	if (!id || id > INT32_MAX || kho_state_id_in_use(s, id))
		return kho_diag_set(diag, -EEXIST,
				    "IOAS_ALLOC: ID %u: EEXIST (ID zero or already in use: journal inconsistent)",
				    id);
	n = realloc(s->ioas, (s->nr_ioas + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	s->ioas = n;
	if (b && s->nr_ioas + 1 > b->cap) {
		size_t cap = b->cap * 2 + 8;
		struct tab *t = realloc(b->tabs, cap * sizeof(*t));

		if (!t)
			return -ENOMEM;
		memset(&t[b->cap], 0, (cap - b->cap) * sizeof(*t));
		b->tabs = t;
		b->cap = cap;
	}
	memset(&s->ioas[s->nr_ioas], 0, sizeof(*n));
	s->ioas[s->nr_ioas].id = id;
	s->ioas[s->nr_ioas].huge_pages = -1;
	s->nr_ioas++;
	return 0;
}

static void remove_ioas(struct kho_state *s, struct kho_state_batch *b,
			size_t idx)
{
	free(s->ioas[idx].allowed);
	free(s->ioas[idx].maps);
	memmove(&s->ioas[idx], &s->ioas[idx + 1],
		(s->nr_ioas - idx - 1) * sizeof(*s->ioas));
	if (b) {
		kho_tab_free(&b->tabs[idx]);
		memmove(&b->tabs[idx], &b->tabs[idx + 1],
			(s->nr_ioas - idx - 1) * sizeof(*b->tabs));
		memset(&b->tabs[s->nr_ioas - 1], 0, sizeof(*b->tabs));
	}
	s->nr_ioas--;
}

static void remove_hwpt(struct kho_state *s, struct kho_hwpt *h)
{
	size_t idx = h - s->hwpt;

	free(h->data);
	memmove(&s->hwpt[idx], &s->hwpt[idx + 1],
		(s->nr_hwpt - idx - 1) * sizeof(*s->hwpt));
	s->nr_hwpt--;
}

static size_t hwpt_users(const struct kho_state *s, uint32_t id)
{
	size_t i, n = 0;

	for (i = 0; i < s->nr_dev; i++)
		n += s->dev[i].attached_pt == id;
	for (i = 0; i < s->nr_hwpt; i++)
		n += s->hwpt[i].pt_id == id;	/* nested children */
	return n;
}

static int rule_destroy(struct kho_state *s, struct kho_state_batch *b,
			const struct kho_rec *rec, struct kho_diag *diag)
{
	uint32_t id = rec->destroy.id;
	struct kho_hwpt *h;
	size_t idx;

	/*
	 * iommufd_destroy() -> iommufd_object_remove(): -ENOENT for an unused
	 * ID; -EBUSY unless the xarray holds the only users reference.  An
	 * HWPT holds its IOAS (iommufd_hwpt_paging_alloc() takes
	 * ioas->obj.users), an attached device holds its HWPT, a nested HWPT
	 * its parent, and iommufd_device_bind() takes a users reference on
	 * the device that only unbind drops.
	 */
	idx = ioas_index(s, id);
	if (idx != SIZE_MAX) {
		if (ioas_has_domain(s, id))
			return kho_diag_set(diag, -EBUSY,
					    "DESTROY: IOAS %u: EBUSY (an HWPT translates it)",
					    id);
		/* iommufd_access_change_ioas() takes ioas->obj.users */
		if (hwpt_users(s, id))
			return kho_diag_set(diag, -EBUSY,
					    "DESTROY: IOAS %u: EBUSY (an emulated device's access is attached)",
					    id);
		remove_ioas(s, b, idx);
		return 0;
	}
	h = kho_state_find_hwpt(s, id);
	if (h) {
		if (hwpt_users(s, id))
			return kho_diag_set(diag, -EBUSY,
					    "DESTROY: HWPT %u: EBUSY (a device is attached or a nested HWPT uses it)",
					    id);
		remove_hwpt(s, h);
		return 0;
	}
	if (kho_state_find_dev(s, id))
		return kho_diag_set(diag, -EBUSY,
				    "DESTROY: device %u: EBUSY (a bound device is released only by closing its VFIO fd)",
				    id);
	return kho_diag_set(diag, -ENOENT, "DESTROY: object %u: ENOENT (no such object)",
			    id);
}

static int cmp_range(const void *a, const void *b)
{
	const struct kho_iova_range *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

static int rule_allow_iovas(struct kho_state *s, const struct kho_rec *rec,
			    struct kho_diag *diag)
{
	uint32_t n = rec->allow_iovas.num_iovas, i;
	struct kho_iova_range *r = NULL;
	struct kho_ioas *ioas;

	ioas = kho_state_find_ioas(s, rec->allow_iovas.ioas_id);
	if (!ioas)
		return kho_diag_set(diag, -ENOENT, "ALLOW_IOVAS: IOAS %u: ENOENT (no such IOAS)",
				    rec->allow_iovas.ioas_id);
	if (n && !rec->allow_iovas.iovas)
		return kho_diag_set(diag, -EINVAL, "ALLOW_IOVAS: IOAS %u: EINVAL (record has no ranges)",
				    ioas->id);
	if (n) {
		r = malloc(n * sizeof(*r));
		if (!r)
			return -ENOMEM;
		memcpy(r, rec->allow_iovas.iovas, n * sizeof(*r));
		qsort(r, n, sizeof(*r), cmp_range);
	}
	/*
	 * iommufd_ioas_load_iovas(): start >= last is -EINVAL (a one-byte
	 * range is refused too) and so is any overlap between the ranges.
	 * iopt_set_allow_iova() then checks the new ranges only against
	 * reserved regions (-EADDRINUSE): existing areas outside them stay,
	 * because allowed ranges only steer automatic IOVA allocation.
	 */
	for (i = 0; i < n; i++) {
		if (r[i].start >= r[i].last ||
		    (i && r[i].start <= r[i - 1].last)) {
			uint64_t st = r[i].start, la = r[i].last;

			free(r);
			return kho_diag_set(diag, -EINVAL,
					    "ALLOW_IOVAS: IOAS %u: range 0x%llx-0x%llx: EINVAL (empty, inverted or overlapping range)",
					    ioas->id, (unsigned long long)st,
					    (unsigned long long)la);
		}
	}
	free(ioas->allowed);
	ioas->allowed = r;
	ioas->nr_allowed = n;
	return 0;
}

static int rule_map(struct kho_state *s, struct kho_state_batch *b,
		    const struct kho_rec *rec, struct kho_diag *diag)
{
	const char *why = "";
	struct piece pc;
	struct tab tmp, *t;
	size_t idx;
	int ret;

	/* iommufd_ioas_map_file() / iommufd_ioas_map() argument checks */
	if (rec->map.flags & ~IOAS_MAP_ALL)
		return kho_diag_set(diag, -EOPNOTSUPP, "IOAS %u: map: flags 0x%x: EOPNOTSUPP",
				    rec->map.ioas_id, rec->map.flags);
	if (rec->map.iova >= UINT64_MAX || rec->map.length >= UINT64_MAX)
		return kho_diag_set(diag, -EOVERFLOW, "IOAS %u: map 0x%llx+0x%llx: EOVERFLOW",
				    rec->map.ioas_id,
				    (unsigned long long)rec->map.iova,
				    (unsigned long long)rec->map.length);
	if (!(rec->map.flags & IOAS_MAP_RW))
		return kho_diag_set(diag, -EINVAL, "IOAS %u: map: EINVAL (neither READABLE nor WRITEABLE)",
				    rec->map.ioas_id);
	idx = ioas_index(s, rec->map.ioas_id);
	if (idx == SIZE_MAX)
		return kho_diag_set(diag, -ENOENT, "IOAS %u: map: ENOENT (no such IOAS)",
				    rec->map.ioas_id);
	/* A token stands for the fd: the kernel's fget() gives -EBADF. */
	if (!kho_state_find_memfd(s, rec->map.memfd_token))
		return kho_diag_set(diag, -ENOENT,
				    "IOAS %u: map 0x%llx+0x%llx from memfd token %llu: ENOENT (no such memfd)",
				    rec->map.ioas_id,
				    (unsigned long long)rec->map.iova,
				    (unsigned long long)rec->map.length,
				    (unsigned long long)rec->map.memfd_token);
	pc.token = rec->map.memfd_token;
	pc.offset = rec->map.offset;
	pc.length = rec->map.length;
	t = kho_tab_get(s, b, idx, &tmp);
	ret = tab_map(t, ioas_align(s, &s->ioas[idx]), rec->map.iova,
		      rec->map.length, &pc, 1, rec->map.flags, &why);
	kho_tab_put(s, b, idx, t);
	if (ret)
		return kho_diag_set(diag, ret,
				    "IOAS %u: map 0x%llx+0x%llx from memfd token %llu: %s (%s)",
				    rec->map.ioas_id,
				    (unsigned long long)rec->map.iova,
				    (unsigned long long)rec->map.length,
				    (unsigned long long)rec->map.memfd_token,
				    kho_errno_name(ret), why);
	return 0;
}

static int rule_copy(struct kho_state *s, struct kho_state_batch *b,
		     const struct kho_rec *rec, struct kho_diag *diag)
{
	uint64_t len = rec->copy.length, src = rec->copy.src_iova, last, cur;
	struct piece *pc = NULL;
	size_t nr = 0, cap = 0, si, di;
	const char *why = "";
	struct tab tmp, *t;
	struct tab_pos p;
	int ret = 0;

	/* iommufd_ioas_copy() argument checks */
	if (rec->copy.flags & ~IOAS_MAP_ALL)
		return kho_diag_set(diag, -EOPNOTSUPP, "COPY: flags 0x%x: EOPNOTSUPP",
				    rec->copy.flags);
	if (len >= UINT64_MAX || src >= UINT64_MAX ||
	    rec->copy.dst_iova >= UINT64_MAX)
		return kho_diag_set(diag, -EOVERFLOW, "COPY: EOVERFLOW");
	if (!(rec->copy.flags & IOAS_MAP_RW))
		return kho_diag_set(diag, -EINVAL, "COPY: EINVAL (neither READABLE nor WRITEABLE)");
	si = ioas_index(s, rec->copy.src_ioas_id);
	if (si == SIZE_MAX)
		return kho_diag_set(diag, -ENOENT, "COPY: source IOAS %u: ENOENT",
				    rec->copy.src_ioas_id);
	/* iopt_get_pages(): the source range must be fully, contiguously
	 * mapped; each area it crosses becomes one piece. */
	if (!len)
		return kho_diag_set(diag, -EINVAL, "COPY: EINVAL (zero length)");
	if (__builtin_add_overflow(src, len - 1, &last))
		return kho_diag_set(diag, -EOVERFLOW, "COPY: source range overflows");
	t = kho_tab_get(s, b, si, &tmp);
	p = kho_tab_find(t, src);
	cur = src;
	for (;;) {
		struct kho_mapping *m = kho_tab_at(t, p);
		uint64_t end;

		if (!m || m->iova > cur) {
			ret = -ENOENT;
			break;
		}
		end = map_last(m) < last ? map_last(m) : last;
		if (nr == cap) {
			struct piece *n;

			cap = cap ? cap * 2 : 8;
			n = realloc(pc, cap * sizeof(*n));
			if (!n) {
				ret = -ENOMEM;
				break;
			}
			pc = n;
		}
		pc[nr].token = m->memfd_token;
		pc[nr].offset = m->offset + (cur - m->iova);
		pc[nr].length = end - cur + 1;
		nr++;
		if (end == last)
			break;
		cur = end + 1;
		kho_tab_next(t, &p);
	}
	kho_tab_put(s, b, si, t);
	if (ret) {
		free(pc);
		return kho_diag_set(diag, ret,
				    "COPY: IOAS %u 0x%llx+0x%llx: %s (source range not fully mapped)",
				    rec->copy.src_ioas_id,
				    (unsigned long long)src,
				    (unsigned long long)len,
				    kho_errno_name(ret));
	}
	di = ioas_index(s, rec->copy.dst_ioas_id);
	if (di == SIZE_MAX) {
		free(pc);
		return kho_diag_set(diag, -ENOENT, "COPY: destination IOAS %u: ENOENT",
				    rec->copy.dst_ioas_id);
	}
	t = kho_tab_get(s, b, di, &tmp);
	ret = tab_map(t, ioas_align(s, &s->ioas[di]), rec->copy.dst_iova, len,
		      pc, nr, rec->copy.flags, &why);
	kho_tab_put(s, b, di, t);
	free(pc);
	if (ret)
		return kho_diag_set(diag, ret,
				    "COPY: IOAS %u 0x%llx+0x%llx: %s (%s)",
				    rec->copy.dst_ioas_id,
				    (unsigned long long)rec->copy.dst_iova,
				    (unsigned long long)len,
				    kho_errno_name(ret), why);
	return 0;
}

/*
 * iommufd_ioas_unmap() + iopt_unmap_iova_range().  Areas are removed in
 * IOVA order; the first area that is not wholly inside the range stops the
 * walk with -ENOENT and the areas already removed stay removed, exactly as
 * in the kernel.  Unmapping nothing is -ENOENT, except for the unmap-all
 * form (iova 0, length U64_MAX), which succeeds on an empty IOAS.
 */
static int unmap_walk(struct tab *t, uint64_t start, uint64_t last,
		      bool dry, uint64_t *unmapped)
{
	struct tab_pos p = kho_tab_find(t, start);
	struct kho_mapping *m;

	*unmapped = 0;
	while ((m = kho_tab_at(t, p)) && m->iova <= last) {
		if (m->iova < start || map_last(m) > last)
			return -ENOENT;
		*unmapped += m->length;
		if (dry)
			kho_tab_next(t, &p);
		else
			kho_tab_erase(t, &p);
	}
	return 0;
}

static int unmap_args(const struct kho_rec *rec, uint64_t *last, bool *all)
{
	*all = rec->unmap.iova == 0 && rec->unmap.length == UINT64_MAX;
	if (*all) {
		*last = UINT64_MAX;
		return 0;
	}
	if (rec->unmap.iova >= UINT64_MAX || rec->unmap.length >= UINT64_MAX)
		return -EOVERFLOW;
	if (!rec->unmap.length)
		return -EINVAL;
	if (__builtin_add_overflow(rec->unmap.iova, rec->unmap.length - 1, last))
		return -EOVERFLOW;
	return 0;
}

static int rule_unmap(struct kho_state *s, struct kho_state_batch *b,
		      const struct kho_rec *rec, struct kho_diag *diag)
{
	uint64_t last, unmapped;
	struct tab tmp, *t;
	bool all;
	size_t idx;
	int ret;

	idx = ioas_index(s, rec->unmap.ioas_id);
	if (idx == SIZE_MAX)
		return kho_diag_set(diag, -ENOENT, "IOAS %u: unmap: ENOENT (no such IOAS)",
				    rec->unmap.ioas_id);
	ret = unmap_args(rec, &last, &all);
	if (ret)
		return kho_diag_set(diag, ret, "IOAS %u: unmap 0x%llx+0x%llx: %s",
				    rec->unmap.ioas_id,
				    (unsigned long long)rec->unmap.iova,
				    (unsigned long long)rec->unmap.length,
				    kho_errno_name(ret));
	t = kho_tab_get(s, b, idx, &tmp);
	ret = unmap_walk(t, rec->unmap.iova, last, false, &unmapped);
	kho_tab_put(s, b, idx, t);
	if (ret)
		return kho_diag_set(diag, ret,
				    "IOAS %u: unmap 0x%llx+0x%llx: ENOENT (cuts a mapping; 0x%llx bytes before it were unmapped)",
				    rec->unmap.ioas_id,
				    (unsigned long long)rec->unmap.iova,
				    (unsigned long long)rec->unmap.length,
				    (unsigned long long)unmapped);
	if (!unmapped && !all)
		return kho_diag_set(diag, -ENOENT, "IOAS %u: unmap 0x%llx+0x%llx: ENOENT (nothing mapped there)",
				    rec->unmap.ioas_id,
				    (unsigned long long)rec->unmap.iova,
				    (unsigned long long)rec->unmap.length);
	if (rec->unmap.out_length != unmapped)
		return kho_diag_set(diag, -EBADMSG,
				    "IOAS %u: unmap 0x%llx+0x%llx: EBADMSG (kernel unmapped 0x%llx bytes, model 0x%llx)",
				    rec->unmap.ioas_id,
				    (unsigned long long)rec->unmap.iova,
				    (unsigned long long)rec->unmap.length,
				    (unsigned long long)rec->unmap.out_length,
				    (unsigned long long)unmapped);
	return 0;
}

static int rule_option(struct kho_state *s, struct kho_state_batch *b,
		       const struct kho_rec *rec, struct kho_diag *diag)
{
	struct tab tmp, *t;
	struct kho_ioas *ioas;
	size_t idx;
	int ret;

	/* iommufd_option(): only the per-IOAS HUGE_PAGES SET changes state
	 * that crosses kexec (GET is a query, RLIMIT_MODE is accounting). */
	if (rec->option.option_id != IOMMU_OPTION_HUGE_PAGES ||
	    rec->option.op != IOMMU_OPTION_OP_SET)
		return kho_diag_set(diag, -EOPNOTSUPP, "OPTION %u op %u: EOPNOTSUPP (not journaled)",
				    rec->option.option_id, rec->option.op);
	idx = ioas_index(s, rec->option.object_id);
	if (idx == SIZE_MAX)
		return kho_diag_set(diag, -ENOENT, "OPTION HUGE_PAGES: IOAS %u: ENOENT",
				    rec->option.object_id);
	ioas = &s->ioas[idx];
	/* iommufd_ioas_option_huge_pages() */
	if (rec->option.val64 == 1) {
		ioas->huge_pages = 1;
		return 0;
	}
	if (rec->option.val64 != 0)
		return kho_diag_set(diag, -EINVAL, "OPTION HUGE_PAGES: IOAS %u: value %llu: EINVAL",
				    ioas->id, (unsigned long long)rec->option.val64);
	t = kho_tab_get(s, b, idx, &tmp);
	ret = 0;
	/* iopt_disable_large_pages(): not once a domain holds mappings, and
	 * the new PAGE_SIZE alignment must suit every area. */
	if (ioas_has_domain(s, ioas->id) && kho_tab_count(t))
		ret = kho_diag_set(diag, -EINVAL,
				   "OPTION HUGE_PAGES=0: IOAS %u: EINVAL (a domain already holds mappings)",
				   ioas->id);
	else if (tab_check_align(t, KHO_MODEL_PAGE_SIZE))
		ret = kho_diag_set(diag, -EADDRINUSE,
				   "OPTION HUGE_PAGES=0: IOAS %u: EADDRINUSE (a mapping is not page aligned)",
				   ioas->id);
	kho_tab_put(s, b, idx, t);
	if (!ret)
		ioas->huge_pages = 0;
	return ret;
}

/* iopt_table_add_domain(): a new domain raises the alignment; every
 * existing area must already meet it (-EADDRINUSE). */
static int add_domain_check(struct kho_state *s, struct kho_state_batch *b,
			    uint32_t ioas_id)
{
	size_t idx = ioas_index(s, ioas_id);
	struct tab tmp, *t;
	int ret;

	t = kho_tab_get(s, b, idx, &tmp);
	ret = tab_check_align(t, KHO_MODEL_PAGE_SIZE);
	kho_tab_put(s, b, idx, t);
	return ret;
}

static struct kho_hwpt *add_hwpt(struct kho_state *s, uint32_t id)
{
	struct kho_hwpt *n = realloc(s->hwpt, (s->nr_hwpt + 1) * sizeof(*n));

	if (!n)
		return NULL;
	s->hwpt = n;
	memset(&n[s->nr_hwpt], 0, sizeof(*n));
	n[s->nr_hwpt].id = id;
	return &n[s->nr_hwpt++];
}

static int rule_hwpt_alloc(struct kho_state *s, struct kho_state_batch *b,
			   const struct kho_rec *rec, struct kho_diag *diag)
{
	const typeof(rec->hwpt_alloc) *a = &rec->hwpt_alloc;
	struct kho_hwpt *parent = NULL, *h;
	bool on_ioas;

	/* iommufd_hwpt_alloc() */
	if ((a->data_type == IOMMU_HWPT_DATA_NONE && a->data_len) ||
	    (a->data_type != IOMMU_HWPT_DATA_NONE && !a->data_len))
		return kho_diag_set(diag, -EINVAL, "HWPT_ALLOC: EINVAL (data type and length disagree)");
	if (!kho_state_find_dev(s, a->dev_id))
		return kho_diag_set(diag, -ENOENT, "HWPT_ALLOC: device %u: ENOENT", a->dev_id);
	on_ioas = kho_state_find_ioas(s, a->pt_id);
	if (!on_ioas)
		parent = kho_state_find_hwpt(s, a->pt_id);
	if (!on_ioas && !parent)
		return kho_diag_set(diag, -EINVAL, "HWPT_ALLOC: pt %u: EINVAL (not an IOAS or HWPT)",
				    a->pt_id);
	if (on_ioas) {
		/* iommufd_hwpt_paging_alloc() */
		if (a->flags & ~HWPT_PAGING_FLAGS)
			return kho_diag_set(diag, -EOPNOTSUPP, "HWPT_ALLOC: flags 0x%x: EOPNOTSUPP",
					    a->flags);
		if ((a->flags & IOMMU_HWPT_FAULT_ID_VALID) &&
		    (a->flags & IOMMU_HWPT_ALLOC_NEST_PARENT))
			return kho_diag_set(diag, -EOPNOTSUPP,
					    "HWPT_ALLOC: EOPNOTSUPP (FAULT_ID_VALID with NEST_PARENT)");
		if (add_domain_check(s, b, a->pt_id))
			return kho_diag_set(diag, -EADDRINUSE,
					    "HWPT_ALLOC: IOAS %u: EADDRINUSE (a mapping is not aligned to the domain's page size)",
					    a->pt_id);
	} else {
		/* iommufd_hwpt_nested_alloc() */
		if (parent->auto_domain ||
		    !(parent->flags & IOMMU_HWPT_ALLOC_NEST_PARENT))
			return kho_diag_set(diag, -EINVAL,
					    "HWPT_ALLOC: parent HWPT %u: EINVAL (not a NEST_PARENT)",
					    parent->id);
		if ((a->flags & ~IOMMU_HWPT_FAULT_ID_VALID) || !a->data_len)
			return kho_diag_set(diag, -EOPNOTSUPP,
					    "HWPT_ALLOC: nested on HWPT %u: EOPNOTSUPP (flags or no data)",
					    parent->id);
	}
	/* Fault queues are not journaled: nothing for fault_id to name. */
	if (a->flags & IOMMU_HWPT_FAULT_ID_VALID)
		return kho_diag_set(diag, -EOPNOTSUPP,
				    "HWPT_ALLOC: EOPNOTSUPP (fault queues cannot cross kexec yet)");
	if (!a->out_hwpt_id || kho_state_id_in_use(s, a->out_hwpt_id))
		return kho_diag_set(diag, -EEXIST, "HWPT_ALLOC: ID %u: EEXIST (journal inconsistent)",
				    a->out_hwpt_id);
	if (a->data_len && !a->data)
		return kho_diag_set(diag, -EINVAL, "HWPT_ALLOC: EINVAL (record lacks its data)");
	h = add_hwpt(s, a->out_hwpt_id);
	if (!h)
		return -ENOMEM;
	h->pt_id = a->pt_id;
	h->dev_id = a->dev_id;
	h->flags = a->flags;
	h->data_type = a->data_type;
	h->data_len = a->data_len;
	if (a->data_len) {
		h->data = malloc(a->data_len);
		if (!h->data) {
			remove_hwpt(s, h);
			return -ENOMEM;
		}
		memcpy(h->data, a->data, a->data_len);
	}
	return 0;
}

static int rule_dirty(struct kho_state *s, const struct kho_rec *rec,
		      struct kho_diag *diag)
{
	struct kho_hwpt *h;

	/* iommufd_hwpt_set_dirty_tracking() + iopt_set_dirty_tracking() */
	if (rec->dirty_tracking.flags & ~IOMMU_HWPT_DIRTY_TRACKING_ENABLE)
		return kho_diag_set(diag, -EOPNOTSUPP, "SET_DIRTY_TRACKING: flags 0x%x: EOPNOTSUPP",
				    rec->dirty_tracking.flags);
	h = kho_state_find_hwpt(s, rec->dirty_tracking.hwpt_id);
	if (!h || !kho_state_find_ioas(s, h->pt_id))
		return kho_diag_set(diag, -ENOENT, "SET_DIRTY_TRACKING: HWPT %u: ENOENT (no such paging HWPT)",
				    rec->dirty_tracking.hwpt_id);
	/* Only a domain allocated with DIRTY_TRACKING has dirty_ops. */
	if (!(h->flags & IOMMU_HWPT_ALLOC_DIRTY_TRACKING))
		return kho_diag_set(diag, -EOPNOTSUPP,
				    "SET_DIRTY_TRACKING: HWPT %u: EOPNOTSUPP (allocated without DIRTY_TRACKING)",
				    h->id);
	h->dirty_tracking = rec->dirty_tracking.flags &
			    IOMMU_HWPT_DIRTY_TRACKING_ENABLE;
	return 0;
}

static int rule_bind(struct kho_state *s, const struct kho_rec *rec,
		     struct kho_diag *diag)
{
	struct kho_mdev_id mdev = { 0 };
	char name[KHO_DEVICE_LABEL_LEN];
	struct kho_device *n;
	bool is_mdev;
	size_t i;

	/* vfio_df_ioctl_bind_iommufd(): only the TOKEN flag exists */
	if (rec->bind.flags & ~VFIO_DEVICE_BIND_FLAG_TOKEN)
		return kho_diag_set(diag, -EINVAL, "BIND: flags 0x%x: EINVAL", rec->bind.flags);
	if (!rec->bind.out_devid || kho_state_id_in_use(s, rec->bind.out_devid))
		return kho_diag_set(diag, -EEXIST, "BIND: devid %u: EEXIST (journal inconsistent)",
				    rec->bind.out_devid);
	/* One VFIO device file binds once; a second bind of the same
	 * function through another file is refused by VFIO's open count. */
	memcpy(mdev.uuid, rec->bind.mdev_uuid, sizeof(mdev.uuid));
	is_mdev = kho_mdev_is(&mdev);
	if (is_mdev && !kho_pci_is_none(&rec->bind.pci))
		return kho_diag_set(diag, -EINVAL,
				    "BIND: devid %u names both a PCI function and an mdev",
				    rec->bind.out_devid);
	for (i = 0; i < s->nr_dev; i++)
		if (is_mdev ? !memcmp(s->dev[i].mdev.uuid, mdev.uuid,
				      sizeof(mdev.uuid)) :
			      !kho_mdev_is(&s->dev[i].mdev) &&
			      !memcmp(&s->dev[i].pci, &rec->bind.pci,
				      sizeof(rec->bind.pci)))
			return kho_diag_set(diag, -EBUSY,
					    "BIND: %s: EBUSY (already bound as device %u)",
					    kho_device_label(&rec->bind.pci, &mdev,
							     name, sizeof(name)),
					    s->dev[i].id);
	n = realloc(s->dev, (s->nr_dev + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	s->dev = n;
	memset(&n[s->nr_dev], 0, sizeof(*n));
	n[s->nr_dev].id = rec->bind.out_devid;
	n[s->nr_dev].pci = rec->bind.pci;
	/* an mdev's parent, type and driver: capture reads them from sysfs */
	n[s->nr_dev].mdev = mdev;
	if (!is_mdev)
		snprintf(n[s->nr_dev].driver, sizeof(n[s->nr_dev].driver),
			 "vfio-pci");
	s->nr_dev++;
	return 0;
}

/* iommufd_hw_pagetable_put(): an auto domain dies with its last user. */
static void release_attachment(struct kho_state *s, struct kho_device *d)
{
	uint32_t old = d->attached_pt;
	struct kho_hwpt *h;

	d->attached_pt = 0;
	d->attach_flags = 0;
	d->pasid = 0;
	h = kho_state_find_hwpt(s, old);
	if (h && h->auto_domain && !hwpt_users(s, old))
		remove_hwpt(s, h);
}

static int rule_attach(struct kho_state *s, struct kho_state_batch *b,
		       const struct kho_rec *rec, struct kho_diag *diag)
{
	const typeof(rec->attach) *a = &rec->attach;
	struct kho_device *d;
	struct kho_hwpt *h;
	uint32_t devid = a->dev_id;

	/* vfio_df_ioctl_attach_pt() */
	if (a->flags & ~VFIO_DEVICE_ATTACH_PASID)
		return kho_diag_set(diag, -EINVAL, "ATTACH: device %u: flags 0x%x: EINVAL",
				    devid, a->flags);
	if (a->flags & VFIO_DEVICE_ATTACH_PASID)
		return kho_diag_set(diag, -EOPNOTSUPP,
				    "ATTACH: device %u: PASID %u: EOPNOTSUPP (PASID attach not modelled yet)",
				    devid, a->pasid);
	d = kho_state_find_dev(s, devid);
	if (!d)
		return kho_diag_set(diag, -ENOENT, "ATTACH: device %u: ENOENT (not bound)", devid);
	if (kho_state_find_ioas(s, a->pt_id) && a->out_hwpt_id == a->pt_id) {
		/*
		 * vfio_iommufd_emulated_attach_ioas(): a device with no IOMMU
		 * of its own (an mdev: mtty, a vGPU) gets an iommufd access to
		 * the IOAS, no domain, and pt_id comes back unchanged (IDs are
		 * unique: no HWPT can have the IOAS's).  Attached again, the
		 * access moves (iommufd_access_replace()).
		 */
		if (d->attached_pt && d->attached_pt != a->pt_id) {
			release_attachment(s, d);
			d = kho_state_find_dev(s, devid);
		}
		d->attached_pt = a->pt_id;
		return 0;
	}
	if (kho_state_find_ioas(s, a->pt_id)) {
		/*
		 * iommufd_device_auto_get_domain(): reuse an auto domain of the
		 * IOAS that accepts the device, else allocate one.  Whether a
		 * domain accepts a device is hardware knowledge: the record's
		 * out_hwpt_id says what the kernel chose.
		 */
		h = kho_state_find_hwpt(s, a->out_hwpt_id);
		if (h && (!h->auto_domain || h->pt_id != a->pt_id))
			return kho_diag_set(diag, -EBADMSG,
					    "ATTACH: device %u to IOAS %u: EBADMSG (result HWPT %u is not an auto domain of it)",
					    devid, a->pt_id, a->out_hwpt_id);
		if (!h) {
			if (!a->out_hwpt_id || kho_state_id_in_use(s, a->out_hwpt_id))
				return kho_diag_set(diag, -EEXIST,
						    "ATTACH: auto domain ID %u: EEXIST (journal inconsistent)",
						    a->out_hwpt_id);
			if (add_domain_check(s, b, a->pt_id))
				return kho_diag_set(diag, -EADDRINUSE,
						    "ATTACH: device %u to IOAS %u: EADDRINUSE (a mapping is not aligned to the domain's page size)",
						    devid, a->pt_id);
			if (d->attached_pt)
				release_attachment(s, d);
			h = add_hwpt(s, a->out_hwpt_id);
			if (!h)
				return -ENOMEM;
			h->pt_id = a->pt_id;
			h->auto_domain = true;
			d = kho_state_find_dev(s, devid);
		} else if (d->attached_pt != h->id && d->attached_pt) {
			release_attachment(s, d);
		}
		d->attached_pt = a->out_hwpt_id;
		return 0;
	}
	h = kho_state_find_hwpt(s, a->pt_id);
	if (!h) {
		/* iommufd_device_change_pt(): iommufd_get_object() fails */
		if (kho_state_find_dev(s, a->pt_id))
			return kho_diag_set(diag, -EINVAL, "ATTACH: pt %u: EINVAL (a device)", a->pt_id);
		return kho_diag_set(diag, -ENOENT, "ATTACH: device %u to pt %u: ENOENT (no such object)",
				    devid, a->pt_id);
	}
	if (a->out_hwpt_id && a->out_hwpt_id != a->pt_id)
		return kho_diag_set(diag, -EBADMSG,
				    "ATTACH: device %u to HWPT %u: EBADMSG (kernel reported HWPT %u)",
				    devid, a->pt_id, a->out_hwpt_id);
	/* vfio_iommufd_physical_attach_ioas(): attached -> replace */
	if (d->attached_pt && d->attached_pt != h->id) {
		uint32_t hid = h->id;

		release_attachment(s, d);
		d = kho_state_find_dev(s, devid);
		h = kho_state_find_hwpt(s, hid);
	}
	d->attached_pt = h->id;
	return 0;
}

static int rule_detach(struct kho_state *s, const struct kho_rec *rec,
		       struct kho_diag *diag)
{
	struct kho_device *d;

	/* vfio_df_ioctl_detach_pt() */
	if (rec->detach.flags & ~VFIO_DEVICE_DETACH_PASID)
		return kho_diag_set(diag, -EINVAL, "DETACH: device %u: flags 0x%x: EINVAL",
				    rec->detach.dev_id, rec->detach.flags);
	if (rec->detach.flags & VFIO_DEVICE_DETACH_PASID)
		return kho_diag_set(diag, -EOPNOTSUPP, "DETACH: device %u: EOPNOTSUPP (PASID not modelled yet)",
				    rec->detach.dev_id);
	d = kho_state_find_dev(s, rec->detach.dev_id);
	if (!d)
		return kho_diag_set(diag, -ENOENT, "DETACH: device %u: ENOENT (not bound)",
				    rec->detach.dev_id);
	/* vfio_iommufd_physical_detach_ioas(): detaching nothing is fine */
	if (d->attached_pt)
		release_attachment(s, d);
	return 0;
}

static int state_apply(struct kho_state *s, struct kho_state_batch *b,
		       const struct kho_rec *rec, struct kho_diag *diag)
{
	switch (rec->op) {
	case KHO_OP_IOAS_ALLOC:
		return rule_ioas_alloc(s, b, rec, diag);
	case KHO_OP_DESTROY:
		return rule_destroy(s, b, rec, diag);
	case KHO_OP_IOAS_ALLOW_IOVAS:
		return rule_allow_iovas(s, rec, diag);
	case KHO_OP_IOAS_MAP:
	case KHO_OP_IOAS_MAP_FILE:
		return rule_map(s, b, rec, diag);
	case KHO_OP_IOAS_COPY:
		return rule_copy(s, b, rec, diag);
	case KHO_OP_IOAS_UNMAP:
		return rule_unmap(s, b, rec, diag);
	case KHO_OP_OPTION:
		return rule_option(s, b, rec, diag);
	case KHO_OP_HWPT_ALLOC:
		return rule_hwpt_alloc(s, b, rec, diag);
	case KHO_OP_HWPT_SET_DIRTY_TRACKING:
		return rule_dirty(s, rec, diag);
	case KHO_OP_DEVICE_BIND:
		return rule_bind(s, rec, diag);
	case KHO_OP_DEVICE_ATTACH:
		return rule_attach(s, b, rec, diag);
	case KHO_OP_DEVICE_DETACH:
		return rule_detach(s, rec, diag);
	case KHO_OP_VIOMMU_ALLOC:
	case KHO_OP_VDEVICE_ALLOC:
		return kho_diag_set(diag, -EOPNOTSUPP, "%s: EOPNOTSUPP (not modelled yet)",
				    rec->op == KHO_OP_VIOMMU_ALLOC ? "VIOMMU_ALLOC" : "VDEVICE_ALLOC");
	case KHO_OP_REPLAY_MAPPINGS:
		return kho_diag_set(diag, -EINVAL,
				    "REPLAY_MAPPINGS: EINVAL (a plan step: expand the plan first)");
	case KHO_OP_DEVICE_MIG_STATE:
		/* The device's own state, not the iommufd's: nothing changes. */
		if (!kho_state_find_dev(s, rec->mig_state.dev_id))
			return kho_diag_set(diag, -ENOENT, "DEVICE_MIG_STATE: device %u: ENOENT (not bound)",
					    rec->mig_state.dev_id);
		return 0;
	default:
		return kho_diag_set(diag, -EBADMSG, "op %u: EBADMSG (unknown op)", rec->op);
	}
}

int kho_state_apply(struct kho_state *s, const struct kho_rec *rec,
		    struct kho_diag *diag)
{
	return state_apply(s, NULL, rec, diag);
}

int kho_state_batch_apply(struct kho_state *s, struct kho_state_batch *b,
			  const struct kho_rec *rec, struct kho_diag *diag)
{
	return state_apply(s, b, rec, diag);
}

int kho_state_predict(const struct kho_state *s, struct kho_rec *rec)
{
	const struct kho_device *d;
	size_t i;

	switch (rec->op) {
	case KHO_OP_IOAS_ALLOC:
		rec->ioas_alloc.out_ioas_id = kho_state_next_id(s);
		return 0;
	case KHO_OP_HWPT_ALLOC:
		rec->hwpt_alloc.out_hwpt_id = kho_state_next_id(s);
		return 0;
	case KHO_OP_DEVICE_BIND:
		rec->bind.out_devid = kho_state_next_id(s);
		return 0;
	case KHO_OP_DEVICE_ATTACH:
		/* an mdev is emulated: its access gets the IOAS's own ID */
		d = kho_state_find_dev(s, rec->attach.dev_id);
		if (!kho_state_find_ioas(s, rec->attach.pt_id) ||
		    (d && kho_mdev_is(&d->mdev))) {
			rec->attach.out_hwpt_id = rec->attach.pt_id;
			return 0;
		}
		/* The first auto domain on the IOAS's hwpt_list, which
		 * list_add_tail() keeps in creation order. */
		for (i = 0; i < s->nr_hwpt; i++)
			if (s->hwpt[i].auto_domain &&
			    s->hwpt[i].pt_id == rec->attach.pt_id) {
				rec->attach.out_hwpt_id = s->hwpt[i].id;
				return 0;
			}
		rec->attach.out_hwpt_id = kho_state_next_id(s);
		return 0;
	case KHO_OP_IOAS_UNMAP: {
		struct kho_state *w = (struct kho_state *)s;
		uint64_t last, unmapped = 0;
		struct tab tmp, *t;
		bool all;
		size_t idx = ioas_index(s, rec->unmap.ioas_id);

		rec->unmap.out_length = 0;
		if (idx == SIZE_MAX || unmap_args(rec, &last, &all))
			return 0;
		/* A dry walk reads the table through a flat view only. */
		t = kho_tab_get(w, NULL, idx, &tmp);
		unmap_walk(t, rec->unmap.iova, last, true, &unmapped);
		rec->unmap.out_length = unmapped;
		return 0;
	}
	default:
		return 0;
	}
}

