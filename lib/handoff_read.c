// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Reading an untrusted hand-off FDT: fdt_check_full() first, then the
 * compatible string, the versions and the crc32, then every field with
 * its bounds.  Unknown properties are ignored; unknown ops are not.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libfdt.h>
#include <linux/iommufd.h>
#include "compat.h"
#include <linux/vfio.h>

#include "cpr_state.h"
#include "escape.h"
#include "handoff.h"
#include "devstate.h"
#include "handoff_format.h"
#include "journal.h"
#include "kjournal.h"
#include "luo.h"
#include "mdev.h"
#include "migrec.h"
#include "state.h"

/*
 * One object in a sorted index: its ID or token, its place in the state's
 * array and its node (for messages).  Every uniqueness check is a sort and
 * an adjacent compare, every reference a binary search: a hand-off is
 * attacker-sized (the agent admits 64 MiB, ~760k nodes), and a quadratic
 * check there is minutes of blackout (issue #21 item 7).
 */
struct rd_key {
	uint64_t key;
	size_t i;
	int node;
};

enum rd_kind { RD_MEMFD, RD_DEV, RD_IOAS, RD_HWPT, RD_NR_KINDS };

struct rd_index {
	struct rd_key *keys;
	size_t nr;
};

/* What every reader step needs: the blob, where to say why, the path of
 * the node being read (for messages), and the objects' indexes. */
struct rd {
	const void *fdt;
	struct kho_diag *diag;
	char path[96];
	struct rd_index idx[RD_NR_KINDS];
};

#define BAD(r, ...) kho_diag_set((r)->diag, -EBADMSG, "handoff: " __VA_ARGS__)

/*
 * Names of nodes go into messages, so they are held to the same rule as
 * string properties: printable ASCII only.
 */
static int rd_set_path(struct rd *r, const char *parent, int node)
{
	int namelen = 0;
	const char *name = fdt_get_name(r->fdt, node, &namelen);

	if (!name) {
		name = "?";
		namelen = 1;
	}
	if (!kho_str_printable(name, namelen)) {
		snprintf(r->path, sizeof(r->path), "%s", parent);
		return BAD(r, "%s: a child's name holds a control or non-ASCII character",
			   parent);
	}
	snprintf(r->path, sizeof(r->path), "%s/%.*s",
		 strcmp(parent, "/") ? parent : "", namelen, name);
	return 0;
}

/*
 * Looks a property up.  A required one that is missing is an error; an
 * optional one yields *val NULL.  @size, if non-zero, is the exact length
 * the property must have.
 */
static int rd_prop(struct rd *r, int node, const char *name, bool required,
		   int size, const void **val, int *len)
{
	int plen;

	*len = 0;
	*val = fdt_getprop(r->fdt, node, name, &plen);
	if (!*val) {
		if (plen != -FDT_ERR_NOTFOUND)
			return BAD(r, "%s: property %s: %s", r->path, name,
				   fdt_strerror(plen));
		if (required)
			return BAD(r, "%s: required property %s is missing",
				   r->path, name);
		return 0;
	}
	if (size && plen != size)
		return BAD(r, "%s: property %s: length %d, expected %d",
			   r->path, name, plen, size);
	*len = plen;
	return 0;
}

static int rd_u32(struct rd *r, int node, const char *name, uint32_t *out)
{
	const void *v;
	int len, err;

	err = rd_prop(r, node, name, true, 4, &v, &len);
	if (!err)
		*out = fdt32_ld(v);
	return err;
}

static int rd_u64(struct rd *r, int node, const char *name, uint64_t *out)
{
	const void *v;
	int len, err;

	err = rd_prop(r, node, name, true, 8, &v, &len);
	if (!err)
		*out = fdt64_ld(v);
	return err;
}

/* The offset of the first byte of @s outside printable ASCII. */
static size_t rd_unprintable(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len && kho_str_printable(s + i, 1); i++)
		;
	return i;
}

/*
 * A string that must fit, with its NUL, into dst[size], and hold printable
 * ASCII only.  An optional string that is absent leaves @dst empty.
 */
static int rd_str_opt(struct rd *r, int node, const char *name, bool required,
		      char *dst, size_t size)
{
	const void *v;
	int len, err;

	dst[0] = '\0';
	err = rd_prop(r, node, name, required, 0, &v, &len);
	if (err || !v)
		return err;
	if (len < 1 || strnlen(v, len) != (size_t)len - 1)
		return BAD(r, "%s: property %s: not one NUL-terminated string",
			   r->path, name);
	if ((size_t)len > size)
		return BAD(r, "%s: property %s: %d bytes, at most %zu allowed",
			   r->path, name, len - 1, size - 1);
	/* Every output prints these, and rollback kexecs a path made of
	 * kernel-release: control characters are a forgery, not a name. */
	if (!kho_str_printable(v, len - 1))
		return BAD(r, "%s: property %s: holds a control or non-ASCII character (byte %zu)",
			   r->path, name, rd_unprintable(v, len - 1));
	memcpy(dst, v, len);
	return 0;
}

static int rd_str(struct rd *r, int node, const char *name, char *dst,
		  size_t size)
{
	return rd_str_opt(r, node, name, true, dst, size);
}

static bool rd_flag(struct rd *r, int node, const char *name)
{
	int len;

	return fdt_getprop(r->fdt, node, name, &len) != NULL;
}

/* The container node @name under the root; it is required. */
static int rd_container(struct rd *r, const char *name, int *node)
{
	*node = fdt_subnode_offset(r->fdt, 0, name);
	if (*node < 0)
		return BAD(r, "required node /%s is missing", name);
	snprintf(r->path, sizeof(r->path), "/%s", name);
	return 0;
}

/* Counts the children of @node (fdt_check_full bounds the walk). */
static size_t rd_count(const void *fdt, int node)
{
	size_t n = 0;
	int child;

	fdt_for_each_subnode(child, fdt, node)
		n++;
	return n;
}

static int rd_key_cmp(const void *a, const void *b)
{
	const struct rd_key *x = a, *y = b;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

/*
 * Sorts the index of @kind and finds a key used twice.
 * Return: NULL, or the later (in document order) of the first pair.
 */
static const struct rd_key *rd_index_sort(struct rd *r, enum rd_kind kind)
{
	struct rd_index *x = &r->idx[kind];
	const struct rd_key *dup = NULL;
	size_t j;

	if (x->nr > 1)
		qsort(x->keys, x->nr, sizeof(*x->keys), rd_key_cmp);
	for (j = 1; j < x->nr; j++)
		if (x->keys[j].key == x->keys[j - 1].key &&
		    (!dup || x->keys[j].i < dup->i))
			dup = &x->keys[j];
	return dup;
}

/* The position in the state's array of the object @key, or -1. */
static ssize_t rd_find(const struct rd *r, enum rd_kind kind, uint64_t key)
{
	const struct rd_index *x = &r->idx[kind];
	size_t lo = 0, hi = x->nr;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (x->keys[mid].key == key)
			return x->keys[mid].i;
		if (x->keys[mid].key < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

static void rd_index_free(struct rd *r)
{
	int k;

	for (k = 0; k < RD_NR_KINDS; k++)
		free(r->idx[k].keys);
	memset(r->idx, 0, sizeof(r->idx));
}

/* calloc that treats zero elements as a valid empty array. */
static void *rd_calloc(size_t nr, size_t size, int *err)
{
	void *p;

	if (!nr)
		return NULL;
	p = calloc(nr, size);
	if (!p)
		*err = -ENOMEM;
	return p;
}

static int rd_memfds(struct rd *r, struct kho_state *s)
{
	struct rd_index *x = &r->idx[RD_MEMFD];
	const struct rd_key *dup;
	int parent, node, err;
	size_t i = 0, n;

	err = rd_container(r, KHO_N_MEMFDS, &parent);
	if (err)
		return err;
	n = rd_count(r->fdt, parent);
	s->memfd = rd_calloc(n, sizeof(*s->memfd), &err);
	if (!err)
		x->keys = rd_calloc(n, sizeof(*x->keys), &err);
	if (err)
		return err;
	fdt_for_each_subnode(node, r->fdt, parent) {
		struct kho_memfd *m = &s->memfd[i];

		err = rd_set_path(r, "/" KHO_N_MEMFDS, node);
		if (err)
			return err;
		err = rd_u64(r, node, "token", &m->token);
		if (!err)
			err = rd_u64(r, node, "size", &m->size);
		if (!err)
			err = rd_u32(r, node, "seals", &m->seals);
		if (!err)
			err = rd_str(r, node, "memfd-name", m->name, sizeof(m->name));
		if (err)
			return err;
		x->keys[x->nr++] = (struct rd_key){ m->token, i, node };
		s->nr_memfd = ++i;
	}
	dup = rd_index_sort(r, RD_MEMFD);
	if (dup) {
		err = rd_set_path(r, "/" KHO_N_MEMFDS, dup->node);
		return err ? err : BAD(r, "%s: token %llu is used twice",
				       r->path, (unsigned long long)dup->key);
	}
	return 0;
}

/*
 * A device named by its mdev identity (format 5) instead of a PCI
 * address: mdev-uuid, mdev-parent and mdev-type, and no pci-address or
 * pci-id.  Absent: a PCI function, @id all zero.
 */
static int rd_mdev(struct rd *r, int node, uint32_t min_reader,
		   struct kho_mdev_id *id)
{
	const void *v;
	int len, err;

	memset(id, 0, sizeof(*id));
	err = rd_prop(r, node, KHO_P_MDEV_UUID, false, 16, &v, &len);
	if (err || !v)
		return err;
	if (min_reader < KHO_FORMAT_VERSION_MDEV)
		return BAD(r, "%s: property %s: present, but min-reader-version %u lets a reader that does not know it look for a PCI function instead (needs %u)",
			   r->path, KHO_P_MDEV_UUID, min_reader,
			   KHO_FORMAT_VERSION_MDEV);
	memcpy(id->uuid, v, 16);
	if (!kho_mdev_is(id))
		return BAD(r, "%s: property %s: the nil UUID names no mdev",
			   r->path, KHO_P_MDEV_UUID);
	if (rd_flag(r, node, "pci-address") || rd_flag(r, node, "pci-id"))
		return BAD(r, "%s: an mdev (%s) with a pci-address or pci-id: a device is one or the other",
			   r->path, KHO_P_MDEV_UUID);
	err = rd_str(r, node, KHO_P_MDEV_PARENT, id->parent,
		     sizeof(id->parent));
	if (!err)
		err = rd_str(r, node, KHO_P_MDEV_TYPE, id->type,
			     sizeof(id->type));
	if (err)
		return err;
	/* Both are sysfs names the replay writes a path with. */
	if (!kho_mdev_names_ok(id))
		return BAD(r, "%s: mdev parent \"%s\" or type \"%s\" is not a sysfs name",
			   r->path, id->parent, id->type);
	return 0;
}

static int rd_devices(struct rd *r, struct kho_handoff *h)
{
	struct kho_state *s = &h->state;
	struct rd_index *x = &r->idx[RD_DEV];
	const struct rd_key *dup;
	int parent, node, err;
	size_t i = 0, n;

	err = rd_container(r, KHO_N_DEVICES, &parent);
	if (err)
		return err;
	n = rd_count(r->fdt, parent);
	s->dev = rd_calloc(n, sizeof(*s->dev), &err);
	if (!err)
		x->keys = rd_calloc(n, sizeof(*x->keys), &err);
	if (err)
		return err;
	fdt_for_each_subnode(node, r->fdt, parent) {
		struct kho_device *d = &s->dev[i];
		const void *v;
		int len;

		err = rd_set_path(r, "/" KHO_N_DEVICES, node);
		if (err)
			return err;
		err = rd_u32(r, node, "id", &d->id);
		if (!err)
			err = rd_mdev(r, node, h->min_reader_version, &d->mdev);
		if (err)
			return err;
		if (kho_mdev_is(&d->mdev))
			goto driver;
		err = rd_prop(r, node, "pci-address", true, 12, &v, &len);
		if (err)
			return err;
		if (fdt32_ld(v) > 0xffff || fdt32_ld((const fdt32_t *)v + 1) >
		    0xff || fdt32_ld((const fdt32_t *)v + 2) > 0xff)
			return BAD(r, "%s: property pci-address: segment, bus or devfn out of range",
				   r->path);
		d->pci.segment = fdt32_ld(v);
		d->pci.bus = fdt32_ld((const fdt32_t *)v + 1);
		d->pci.devfn = fdt32_ld((const fdt32_t *)v + 2);
		err = rd_prop(r, node, "pci-id", true, 8, &v, &len);
		if (err)
			return err;
		if (fdt32_ld(v) > 0xffff ||
		    fdt32_ld((const fdt32_t *)v + 1) > 0xffff)
			return BAD(r, "%s: property pci-id: vendor or device above 0xffff",
				   r->path);
		d->pci.vendor = fdt32_ld(v);
		d->pci.device = fdt32_ld((const fdt32_t *)v + 1);
driver:
		err = rd_str(r, node, "driver", d->driver, sizeof(d->driver));
		if (!err)
			err = rd_u32(r, node, "attached-pt", &d->attached_pt);
		if (!err)
			err = rd_u32(r, node, "attach-flags", &d->attach_flags);
		if (!err)
			err = rd_u32(r, node, "pasid", &d->pasid);
		if (!err)
			err = rd_prop(r, node, KHO_P_MIGRATION_FLAGS, false, 4,
				      &v, &len);
		if (err)
			return err;
		if (v) {
			d->migration_probed = true;
			d->migration_flags = fdt32_ld(v);
			/* STOP_COPY is what migration v2 requires of all */
			if (d->migration_flags &&
			    !(d->migration_flags & VFIO_MIGRATION_STOP_COPY))
				return BAD(r, "%s: property %s: 0x%x lacks STOP_COPY (0x1), which every migration v2 device offers",
					   r->path, KHO_P_MIGRATION_FLAGS,
					   d->migration_flags);
		}
		if (!d->id)
			return BAD(r, "%s: property id: 0 is not an object ID",
				   r->path);
		x->keys[x->nr++] = (struct rd_key){ d->id, i, node };
		s->nr_dev = ++i;
	}
	dup = rd_index_sort(r, RD_DEV);
	if (dup) {
		err = rd_set_path(r, "/" KHO_N_DEVICES, dup->node);
		return err ? err : BAD(r, "%s: device ID %u is used twice",
				       r->path, (uint32_t)dup->key);
	}
	return 0;
}

#define KHO_MAP_FLAGS (IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE)

/*
 * The packed mapping array.  Besides the bounds, it checks what the
 * kernel's io_pagetable guarantees of live areas (iopt_insert_area():
 * no two areas overlap, none wraps) and that each names a memfd of the
 * table, inside its size, so that replay never meets a surprise.
 */
static int rd_mappings(struct rd *r, int node, uint32_t cells,
		       const struct kho_state *s, struct kho_ioas *a)
{
	const struct kho_memfd *mf = NULL;
	const uint8_t *p;
	const void *v;
	size_t i, nr, stride = (size_t)cells * 4;
	uint64_t prev_last = 0;
	int len, err;

	err = rd_prop(r, node, "mappings", false, 0, &v, &len);
	if (err || !v)
		return err;
	if (len % stride)
		return BAD(r, "%s: property mappings: length %d is not a multiple of %zu (mapping-cells = %u)",
			   r->path, len, stride, cells);
	nr = len / stride;
	a->maps = rd_calloc(nr, sizeof(*a->maps), &err);
	if (err)
		return err;
	a->cap_maps = nr;
	for (i = 0, p = v; i < nr; i++, p += stride) {
		struct kho_mapping *m = &a->maps[i];

		m->iova = fdt64_ld((const fdt64_t *)p);
		m->length = fdt64_ld((const fdt64_t *)(p + 8));
		m->offset = fdt64_ld((const fdt64_t *)(p + 16));
		m->memfd_token = fdt64_ld((const fdt64_t *)(p + 24));
		m->flags = fdt32_ld((const fdt32_t *)(p + 32));
		a->nr_maps = i + 1;
		if (!m->length || m->iova + (m->length - 1) < m->iova)
			return BAD(r, "%s: mapping %zu: iova 0x%llx length 0x%llx is empty or wraps",
				   r->path, i, (unsigned long long)m->iova,
				   (unsigned long long)m->length);
		if (i && m->iova <= prev_last)
			return BAD(r, "%s: mapping %zu: iova 0x%llx overlaps or precedes the mapping before it (ending 0x%llx)",
				   r->path, i, (unsigned long long)m->iova,
				   (unsigned long long)prev_last);
		prev_last = m->iova + (m->length - 1);
		if (m->flags & ~KHO_MAP_FLAGS)
			return BAD(r, "%s: mapping %zu: unknown flags 0x%x",
				   r->path, i, m->flags);
		/* Consecutive mappings mostly share a memfd: cache it. */
		if (!mf || mf->token != m->memfd_token) {
			ssize_t k = rd_find(r, RD_MEMFD, m->memfd_token);

			mf = k < 0 ? NULL : &s->memfd[k];
		}
		if (!mf)
			return BAD(r, "%s: mapping %zu: memfd token %llu is not in /memfds",
				   r->path, i,
				   (unsigned long long)m->memfd_token);
		if (m->offset > mf->size || m->length > mf->size - m->offset)
			return BAD(r, "%s: mapping %zu: offset 0x%llx length 0x%llx runs past memfd token %llu (size 0x%llx)",
				   r->path, i, (unsigned long long)m->offset,
				   (unsigned long long)m->length,
				   (unsigned long long)mf->token,
				   (unsigned long long)mf->size);
	}
	return 0;
}

static int rd_ioas(struct rd *r, int node, uint32_t cells,
		   const struct kho_state *s, struct kho_ioas *a)
{
	const uint8_t *p;
	const void *v;
	uint64_t hp;
	int len, err;
	size_t i;

	a->huge_pages = -1;
	err = rd_u32(r, node, "id", &a->id);
	if (err)
		return err;
	if (!a->id)
		return BAD(r, "%s: property id: 0 is not an object ID", r->path);
	err = rd_prop(r, node, "allowed-iovas", false, 0, &v, &len);
	if (err)
		return err;
	if (v) {
		if (!len || len % 16)
			return BAD(r, "%s: property allowed-iovas: length %d is not a non-zero multiple of 16",
				   r->path, len);
		a->nr_allowed = len / 16;
		a->allowed = rd_calloc(a->nr_allowed, sizeof(*a->allowed),
				       &err);
		if (err)
			return err;
		for (i = 0, p = v; i < a->nr_allowed; i++, p += 16) {
			a->allowed[i].start = fdt64_ld((const fdt64_t *)p);
			a->allowed[i].last = fdt64_ld((const fdt64_t *)(p + 8));
			/* iopt_set_allow_iova() refuses start > last. */
			if (a->allowed[i].start > a->allowed[i].last)
				return BAD(r, "%s: allowed-iovas %zu: start above last",
					   r->path, i);
		}
	}
	err = rd_prop(r, node, "huge-pages", false, 8, &v, &len);
	if (err)
		return err;
	if (v) {
		hp = fdt64_ld(v);
		if (hp > INT64_MAX)
			return BAD(r, "%s: property huge-pages: 0x%llx out of range",
				   r->path, (unsigned long long)hp);
		a->huge_pages = (int64_t)hp;
	}
	return rd_mappings(r, node, cells, s, a);
}

static int rd_ioases(struct rd *r, struct kho_state *s)
{
	struct rd_index *x = &r->idx[RD_IOAS];
	const struct rd_key *dup;
	int parent, node, err;
	uint32_t cells;
	size_t i = 0, n;

	err = rd_container(r, KHO_N_IOASES, &parent);
	if (!err)
		err = rd_u32(r, parent, KHO_P_MAPPING_CELLS, &cells);
	if (err)
		return err;
	if (cells < KHO_MAPPING_CELLS || cells > 1024)
		return BAD(r, "/%s: property %s: %u cells, this reader needs %u to 1024",
			   KHO_N_IOASES, KHO_P_MAPPING_CELLS, cells,
			   KHO_MAPPING_CELLS);
	n = rd_count(r->fdt, parent);
	s->ioas = rd_calloc(n, sizeof(*s->ioas), &err);
	if (!err)
		x->keys = rd_calloc(n, sizeof(*x->keys), &err);
	if (err)
		return err;
	fdt_for_each_subnode(node, r->fdt, parent) {
		err = rd_set_path(r, "/" KHO_N_IOASES, node);
		if (err)
			return err;
		/* Counted before reading so that free() sees what was
		 * allocated even when the IOAS is rejected half-way. */
		s->nr_ioas = i + 1;
		err = rd_ioas(r, node, cells, s, &s->ioas[i]);
		if (err)
			return err;
		x->keys[x->nr++] = (struct rd_key){ s->ioas[i].id, i, node };
		i++;
	}
	dup = rd_index_sort(r, RD_IOAS);
	if (dup) {
		err = rd_set_path(r, "/" KHO_N_IOASES, dup->node);
		return err ? err : BAD(r, "%s: IOAS ID %u is used twice",
				       r->path, (uint32_t)dup->key);
	}
	return 0;
}

static int rd_hwpts(struct rd *r, struct kho_state *s)
{
	struct rd_index *x = &r->idx[RD_HWPT];
	const struct rd_key *dup;
	int parent, node, err;
	size_t i = 0, n;

	err = rd_container(r, KHO_N_HWPTS, &parent);
	if (err)
		return err;
	n = rd_count(r->fdt, parent);
	s->hwpt = rd_calloc(n, sizeof(*s->hwpt), &err);
	if (!err)
		x->keys = rd_calloc(n, sizeof(*x->keys), &err);
	if (err)
		return err;
	fdt_for_each_subnode(node, r->fdt, parent) {
		struct kho_hwpt *w = &s->hwpt[i];
		const void *v;
		int len;

		err = rd_set_path(r, "/" KHO_N_HWPTS, node);
		if (err)
			return err;
		err = rd_u32(r, node, "id", &w->id);
		if (!err)
			err = rd_u32(r, node, "pt-id", &w->pt_id);
		if (!err)
			err = rd_u32(r, node, "dev-id", &w->dev_id);
		if (!err)
			err = rd_u32(r, node, "flags", &w->flags);
		if (!err)
			err = rd_u32(r, node, "data-type", &w->data_type);
		if (!err)
			err = rd_prop(r, node, "data", false, 0, &v, &len);
		if (err)
			return err;
		w->auto_domain = rd_flag(r, node, "auto-domain");
		w->dirty_tracking = rd_flag(r, node, "dirty-tracking");
		if (v && len) {
			w->data = malloc(len);
			if (!w->data)
				return -ENOMEM;
			memcpy(w->data, v, len);
			w->data_len = len;
		}
		s->nr_hwpt = ++i;
		if (!w->id)
			return BAD(r, "%s: property id: 0 is not an object ID",
				   r->path);
		x->keys[x->nr++] = (struct rd_key){ w->id, i - 1, node };
	}
	dup = rd_index_sort(r, RD_HWPT);
	if (dup) {
		err = rd_set_path(r, "/" KHO_N_HWPTS, dup->node);
		return err ? err : BAD(r, "%s: HWPT ID %u is used twice",
				       r->path, (uint32_t)dup->key);
	}
	return 0;
}

/* IDs are one namespace in iommufd (one xarray per context). */
static int rd_check_refs(struct rd *r, const struct kho_state *s)
{
	size_t i;

	for (i = 0; i < s->nr_ioas; i++)
		if (rd_find(r, RD_HWPT, s->ioas[i].id) >= 0 ||
		    rd_find(r, RD_DEV, s->ioas[i].id) >= 0)
			return BAD(r, "/%s/ioas-%u: ID %u also names another object",
				   KHO_N_IOASES, s->ioas[i].id, s->ioas[i].id);
	for (i = 0; i < s->nr_hwpt; i++) {
		const struct kho_hwpt *w = &s->hwpt[i];

		if (rd_find(r, RD_DEV, w->id) >= 0)
			return BAD(r, "/%s/hwpt-%u: ID %u also names a device",
				   KHO_N_HWPTS, w->id, w->id);
		if (rd_find(r, RD_IOAS, w->pt_id) < 0 &&
		    rd_find(r, RD_HWPT, w->pt_id) < 0)
			return BAD(r, "/%s/hwpt-%u: pt-id %u names no IOAS or HWPT",
				   KHO_N_HWPTS, w->id, w->pt_id);
		if (w->dev_id && rd_find(r, RD_DEV, w->dev_id) < 0)
			return BAD(r, "/%s/hwpt-%u: dev-id %u names no device",
				   KHO_N_HWPTS, w->id, w->dev_id);
	}
	for (i = 0; i < s->nr_dev; i++) {
		const struct kho_device *d = &s->dev[i];

		/* an mdev's access attaches to an IOAS itself, no HWPT */
		if (d->attached_pt && rd_find(r, RD_HWPT, d->attached_pt) < 0 &&
		    !(kho_mdev_is(&d->mdev) &&
		      rd_find(r, RD_IOAS, d->attached_pt) >= 0))
			return BAD(r, "/%s/device-%u: attached-pt %u names no HWPT%s",
				   KHO_N_DEVICES, d->id, d->attached_pt,
				   kho_mdev_is(&d->mdev) ? " and no IOAS" : "");
	}
	return 0;
}

static int rd_device_state_one(struct rd *r, struct kho_handoff *h,
			       struct kho_device *d, int node)
{
	struct kho_device_state *ds = &d->saved;
	const struct kho_memfd *m;
	const void *v;
	ssize_t mi;
	size_t k, bad;
	int len, err;

	if (h->min_reader_version < KHO_FORMAT_VERSION_DEVSTATE)
		return BAD(r, "%s: present, but min-reader-version %u lets a reader that does not know this node restore the device without its state (needs %u)",
			   r->path, h->min_reader_version,
			   KHO_FORMAT_VERSION_DEVSTATE);
	err = rd_u64(r, node, KHO_P_MEMFD_TOKEN, &ds->memfd_token);
	if (!err)
		err = rd_u64(r, node, KHO_P_LENGTH, &ds->length);
	if (!err)
		err = rd_u32(r, node, KHO_P_FLAGS, &ds->flags);
	if (!err)
		err = rd_u32(r, node, KHO_P_CRC32, &ds->crc32);
	if (!err)
		err = rd_prop(r, node, KHO_P_FSM_PATH, true, 0, &v, &len);
	if (err)
		return err;
	mi = rd_find(r, RD_MEMFD, ds->memfd_token);
	if (mi < 0)
		return BAD(r, "%s: memfd-token %llu is not in /%s", r->path,
			   (unsigned long long)ds->memfd_token, KHO_N_MEMFDS);
	m = &h->state.memfd[mi];
	if (!ds->length || ds->length > KHO_DEVSTATE_MAX)
		return BAD(r, "%s: length %llu: not in 1..%llu", r->path,
			   (unsigned long long)ds->length, KHO_DEVSTATE_MAX);
	/* The writer sizes and seals the memfd to the data, exactly. */
	if (ds->length != m->size)
		return BAD(r, "%s: length %llu, but memfd token %llu holds %llu bytes",
			   r->path, (unsigned long long)ds->length,
			   (unsigned long long)ds->memfd_token,
			   (unsigned long long)m->size);
	if (!d->migration_probed || ds->flags != d->migration_flags)
		return BAD(r, "%s: flags 0x%x: not the device's migration-flags (%s)",
			   r->path, ds->flags,
			   d->migration_probed ? "which differ" : "absent");
	if (len % 4 || len / 4 < 2 || len / 4 > KHO_DEVSTATE_PATH_MAX)
		return BAD(r, "%s: property %s: length %d is not 4 x 2..%d",
			   r->path, KHO_P_FSM_PATH, len, KHO_DEVSTATE_PATH_MAX);
	ds->nr_path = (uint32_t)(len / 4);
	for (k = 0; k < ds->nr_path; k++)
		ds->path[k] = fdt32_ld((const fdt32_t *)v + k);
	if (ds->path[ds->nr_path - 1] != VFIO_DEVICE_STATE_STOP_COPY)
		return BAD(r, "%s: property %s: ends in %s; a save ends in STOP_COPY",
			   r->path, KHO_P_FSM_PATH,
			   kho_devstate_name(ds->path[ds->nr_path - 1]));
	if (kho_devstate_path_check(ds->flags, ds->path, ds->nr_path, &bad))
		return BAD(r, "%s: property %s: state %zu (%s) is not the next arc of a save from RUNNING for flags 0x%x",
			   r->path, KHO_P_FSM_PATH, bad,
			   kho_devstate_name(ds->path[bad < ds->nr_path ? bad : 0]),
			   ds->flags);
	ds->present = true;
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * The optional device-state nodes (format 4).  Each memfd holds one
 * device's data and nothing else: a token shared with a mapping, the
 * iommufd's files, a QEMU or another device would load guest RAM into a
 * device, or one device's state into two.
 */
static int rd_device_states(struct rd *r, struct kho_handoff *h)
{
	const struct rd_index *x = &r->idx[RD_DEV];
	struct kho_state *s = &h->state;
	uint64_t *toks;
	size_t i, j, n = 0;
	int node, err = 0;

	for (i = 0; i < x->nr; i++) {
		struct kho_device *d = &s->dev[x->keys[i].i];

		node = fdt_subnode_offset(r->fdt, x->keys[i].node,
					  KHO_N_DEVICE_STATE);
		if (node == -FDT_ERR_NOTFOUND)
			continue;
		snprintf(r->path, sizeof(r->path), "/%s/device-%u/%s",
			 KHO_N_DEVICES, d->id, KHO_N_DEVICE_STATE);
		if (node < 0)
			return BAD(r, "%s: %s", r->path, fdt_strerror(node));
		err = rd_device_state_one(r, h, d, node);
		if (err)
			return err;
		n++;
	}
	if (!n)
		return 0;
	toks = rd_calloc(n, sizeof(*toks), &err);
	if (err)
		return err;
	for (i = 0, j = 0; i < s->nr_dev; i++)
		if (s->dev[i].saved.present)
			toks[j++] = s->dev[i].saved.memfd_token;
	qsort(toks, n, sizeof(*toks), cmp_u64);
	for (i = 1; i < n && !err; i++)
		if (toks[i] == toks[i - 1])
			err = BAD(r, "/%s: memfd token %llu holds the state of two devices",
				  KHO_N_DEVICES, (unsigned long long)toks[i]);
	for (i = 0; i < h->nr_qemu && !err; i++) {
		const struct kho_handoff_qemu *q = &h->qemu[i];

		for (j = 0; j <= q->nr_fd_tokens && !err; j++) {
			uint64_t t = j < q->nr_fd_tokens ? q->fd_tokens[j] :
				     q->stream_token;

			if (bsearch(&t, toks, n, sizeof(*toks), cmp_u64))
				err = BAD(r, "/%s/qemu-%zu: memfd token %llu holds a device's state, not QEMU's",
					  KHO_N_QEMU_CPR, i, (unsigned long long)t);
		}
	}
	for (i = 0; i < h->iommufd.nr_files && !err; i++)
		if (bsearch(&h->iommufd.files[i].token, toks, n, sizeof(*toks),
			    cmp_u64))
			err = BAD(r, "/%s: file-tokens: memfd token %llu holds a device's state, not guest memory",
				  KHO_N_IOMMUFD,
				  (unsigned long long)h->iommufd.files[i].token);
	for (i = 0; i < s->nr_ioas && !err; i++)
		for (j = 0; j < s->ioas[i].nr_maps && !err; j++) {
			uint64_t t = s->ioas[i].maps[j].memfd_token;

			if (bsearch(&t, toks, n, sizeof(*toks), cmp_u64))
				err = BAD(r, "/%s/ioas-%u: mapping at 0x%llx: memfd token %llu holds a device's state, not guest memory",
					  KHO_N_IOASES, s->ioas[i].id,
					  (unsigned long long)s->ioas[i].maps[j].iova,
					  (unsigned long long)t);
		}
	free(toks);
	return err;
}

static uint32_t ld32(const uint8_t **p)
{
	uint32_t v = fdt32_ld((const fdt32_t *)*p);

	*p += 4;
	return v;
}

static uint64_t ld64(const uint8_t **p)
{
	uint64_t v = fdt64_ld((const fdt64_t *)*p);

	*p += 8;
	return v;
}

/* The reader's view of the journal's inline-data property. */
struct rd_inline {
	const uint8_t *data;
	size_t len;
	size_t cursor;		/* chunks are laid out in record order */
};

/* Claims the next chunk: it must start exactly at the cursor. */
static int rd_inline_take(struct rd *r, struct rd_inline *in, size_t idx,
			  uint32_t off, size_t len, const uint8_t **chunk)
{
	if (off != in->cursor || len > in->len - in->cursor ||
	    kho_inline_pad(len) > in->len - in->cursor)
		return BAD(r, "/%s: record %zu: inline data at %u+%zu is not the next chunk of inline-data (%zu of %zu bytes used)",
			   KHO_N_JOURNAL, idx, off, len, in->cursor, in->len);
	if (!len) {
		/* No bytes: inline-data may be absent (data NULL). */
		*chunk = NULL;
		return 0;
	}
	*chunk = in->data + off;
	in->cursor += kho_inline_pad(len);
	return 0;
}

/* A REPLAY_MAPPINGS slice must lie in its IOAS's mapping table. */
static int rd_check_slice(struct rd *r, size_t idx, const struct kho_state *s,
			  const struct kho_rec *rec)
{
	const struct kho_ioas *a;
	ssize_t k;

	k = rd_find(r, RD_IOAS, rec->replay_maps.ioas_id);
	a = k < 0 ? NULL : &s->ioas[k];
	if (!a)
		return BAD(r, "/%s: record %zu: REPLAY_MAPPINGS names IOAS %u, not in /%s",
			   KHO_N_JOURNAL, idx, rec->replay_maps.ioas_id,
			   KHO_N_IOASES);
	if (!rec->replay_maps.count || rec->replay_maps.first > a->nr_maps ||
	    rec->replay_maps.count > a->nr_maps - rec->replay_maps.first)
		return BAD(r, "/%s: record %zu: REPLAY_MAPPINGS slice %u+%u outside IOAS %u's %zu mappings",
			   KHO_N_JOURNAL, idx, rec->replay_maps.first,
			   rec->replay_maps.count, rec->replay_maps.ioas_id,
			   a->nr_maps);
	return 0;
}

/* The op's inline data: its chunk, copied out of the blob. */
static int rd_record_inline(struct rd *r, size_t idx, struct rd_inline *in,
			    const struct kho_op_desc *d, uint32_t off,
			    struct kho_rec *rec)
{
	const uint8_t *chunk = NULL;
	struct kho_iova_range *rg;
	size_t len, k;
	uint32_t nr;
	void *v;
	int err;

	memcpy(&nr, (const uint8_t *)rec + d->inl.count, sizeof(nr));
	if (nr > in->len / d->inl.elem)
		return BAD(r, "/%s: record %zu: %u %s of inline data do not fit inline-data",
			   KHO_N_JOURNAL, idx, nr,
			   d->inl.kind == KHO_INLINE_RANGES ? "allowed IOVAs" :
							      "bytes");
	len = (size_t)nr * d->inl.elem;
	err = rd_inline_take(r, in, idx, off, len, &chunk);
	if (err || !len)
		return err;
	v = malloc(len);
	if (!v)
		return -ENOMEM;
	memcpy((uint8_t *)rec + d->inl.ptr, &v, sizeof(v));
	if (d->inl.kind == KHO_INLINE_BYTES) {
		memcpy(v, chunk, len);
		return 0;
	}
	rg = v;
	for (k = 0; k < nr; k++) {
		rg[k].start = ld64(&chunk);
		rg[k].last = ld64(&chunk);
	}
	return 0;
}

/* The fields of a PCI identity, each widened to a cell. */
static int rd_pci(struct rd *r, const uint8_t **p, size_t idx,
		  const struct kho_op_desc *d, struct kho_pci_id *pci)
{
	uint32_t seg = ld32(p), bus = ld32(p), devfn = ld32(p);
	uint32_t ven = ld32(p), dev = ld32(p);

	if (seg > 0xffff || bus > 0xff || devfn > 0xff || ven > 0xffff ||
	    dev > 0xffff)
		return BAD(r, "/%s: record %zu: %s PCI identity out of range",
			   KHO_N_JOURNAL, idx, d->name);
	*pci = (struct kho_pci_id){ seg, bus, devfn, ven, dev };
	return 0;
}

/*
 * A BIND names its device as the device node of its devid does: the same
 * mdev UUID, or none for a PCI function (the replay opens the device the
 * node names: a record that disagreed would bind another one).
 */
static int rd_check_bind(struct rd *r, size_t idx, const struct kho_state *s,
			 const struct kho_rec *rec)
{
	const struct kho_device *d = kho_state_find_dev(s, rec->bind.out_devid);
	char a[KHO_MDEV_UUID_LEN], b[KHO_MDEV_UUID_LEN];
	uint8_t none[16] = { 0 };

	if (!d)
		return 0;	/* a journal, not a plan: checked by the fold */
	if (!memcmp(d->mdev.uuid, rec->bind.mdev_uuid, 16))
		return 0;
	return BAD(r, "/%s: record %zu: BIND of device %u names mdev %s, its device node %s%s",
		   KHO_N_JOURNAL, idx, rec->bind.out_devid,
		   memcmp(rec->bind.mdev_uuid, none, 16) ?
		   kho_mdev_uuid_str(rec->bind.mdev_uuid, a, sizeof(a)) :
		   "(none)",
		   kho_mdev_is(&d->mdev) ? "mdev " : "a PCI function",
		   kho_mdev_is(&d->mdev) ?
		   kho_mdev_uuid_str(d->mdev.uuid, b, sizeof(b)) : "");
}

/* Unpacks what lib/handoff_write.c's rec_pack() packs (op.c's rows). */
static int rd_record(struct rd *r, const uint8_t *p, size_t idx,
		     struct rd_inline *in, const struct kho_state *s,
		     struct kho_rec *rec)
{
	const uint8_t *start = p;
	const struct kho_op_desc *d;
	uint32_t i, off = 0;
	uint64_t v;
	int err;

	memset(rec, 0, sizeof(*rec));
	rec->op = ld32(&p);
	d = kho_op_get(rec->op);
	if (!d)
		return BAD(r, "/%s: record %zu: unknown op %u", KHO_N_JOURNAL,
			   idx, rec->op);
	for (i = 0; i < d->nr_fields; i++) {
		const struct kho_op_field *f = &d->fields[i];

		switch (f->kind) {
		case KHO_FIELD_PCI:
			err = rd_pci(r, &p, idx, d,
				     (void *)((uint8_t *)rec + f->offset));
			if (err)
				return err;
			break;
		case KHO_FIELD_UUID:
			memcpy((uint8_t *)rec + f->offset, p, 16);
			p += 16;
			break;
		case KHO_FIELD_INLINE:
			off = ld32(&p);
			break;
		default:
			v = f->size == 8 ? ld64(&p) : ld32(&p);
			if (kho_op_field_set(rec, f, v))
				return BAD(r, "/%s: record %zu: %s %s %llu above 0x%llx",
					   KHO_N_JOURNAL, idx, d->name,
					   f->name, (unsigned long long)v,
					   (1ull << (f->size * 8)) - 1);
			break;
		}
	}
	if (d->inl.kind != KHO_INLINE_NONE) {
		err = rd_record_inline(r, idx, in, d, off, rec);
		if (err)
			return err;
	}
	if (rec->op == KHO_OP_REPLAY_MAPPINGS) {
		err = rd_check_slice(r, idx, s, rec);
		if (err)
			return err;
	}
	if (rec->op == KHO_OP_DEVICE_BIND) {
		err = rd_check_bind(r, idx, s, rec);
		if (err)
			return err;
	}
	/* Cells past the op's fields are reserved: zero, like the unused
	 * tail of a size-prefixed uapi struct. */
	for (; p < start + KHO_RECORD_SIZE; p++)
		if (*p)
			return BAD(r, "/%s: record %zu (%s): reserved byte %zu is not zero",
				   KHO_N_JOURNAL, idx, kho_op_name(rec->op),
				   (size_t)(p - start));
	return 0;
}

static int rd_journal(struct rd *r, struct kho_handoff *h)
{
	struct rd_inline in = { 0 };
	const void *recs, *v;
	uint32_t cells;
	int parent, len, dlen, err;
	size_t i, nr, stride;

	err = rd_container(r, KHO_N_JOURNAL, &parent);
	if (!err)
		err = rd_u32(r, parent, KHO_P_RECORD_CELLS, &cells);
	if (!err)
		err = rd_u64(r, parent, "journal-length", &h->journal_length);
	if (!err)
		err = rd_prop(r, parent, "records", false, 0, &recs, &len);
	if (!err)
		err = rd_prop(r, parent, "inline-data", false, 0, &v, &dlen);
	if (err)
		return err;
	if (cells < KHO_RECORD_CELLS || cells > 1024)
		return BAD(r, "/%s: property %s: %u cells, this reader needs %u to 1024",
			   KHO_N_JOURNAL, KHO_P_RECORD_CELLS, cells,
			   KHO_RECORD_CELLS);
	stride = (size_t)cells * 4;
	if (len % stride)
		return BAD(r, "/%s: property records: length %d is not a multiple of %zu (record-cells = %u)",
			   KHO_N_JOURNAL, len, stride, cells);
	in.data = v;
	in.len = dlen;
	nr = len / stride;
	h->replay.recs = rd_calloc(nr, sizeof(*h->replay.recs), &err);
	if (err)
		return err;
	h->replay.cap = nr;
	for (i = 0; i < nr; i++) {
		err = rd_record(r, (const uint8_t *)recs + i * stride, i, &in,
				&h->state, &h->replay.recs[i]);
		/* Owned by the journal even on failure: freed with it. */
		h->replay.nr = i + 1;
		if (err)
			return err;
	}
	if (in.cursor != in.len)
		return BAD(r, "/%s: property inline-data: %zu bytes, records use %zu",
			   KHO_N_JOURNAL, in.len, in.cursor);
	return 0;
}

/*
 * The first file (in table order) whose inode or token an earlier file
 * has: *@later and the first such *@earlier.  Two sorts, not n^2 compares.
 * Return: 1 found, 0 none, -ENOMEM.
 */
static int rd_files_one_to_one(const struct kho_handoff_iommufd *io,
			       size_t *later, size_t *earlier)
{
	struct rd_key *keys;
	size_t i, j, first, pass;
	int found = 0;

	if (io->nr_files < 2)
		return 0;
	keys = calloc(io->nr_files, sizeof(*keys));
	if (!keys)
		return -ENOMEM;
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < io->nr_files; i++)
			keys[i] = (struct rd_key){
				pass ? io->files[i].token : io->files[i].ino,
				i, 0 };
		qsort(keys, io->nr_files, sizeof(*keys), rd_key_cmp);
		for (j = 1, first = 0; j < io->nr_files; j++) {
			if (keys[j].key != keys[j - 1].key) {
				first = j;
				continue;
			}
			if (!found || keys[j].i < *later ||
			    (keys[j].i == *later && keys[first].i < *earlier)) {
				*later = keys[j].i;
				*earlier = keys[first].i;
				found = 1;
			}
		}
	}
	free(keys);
	return found;
}

/*
 * The optional iommufd node (format 2): present only with a
 * min-reader-version that excludes readers not knowing it, naming a LUO
 * handler this reader replays for, a token of its own, and a one-to-one
 * inode -> memfd table whose tokens are all in /memfds.
 */
static int rd_iommufd(struct rd *r, struct kho_handoff *h)
{
	struct kho_handoff_iommufd *io = &h->iommufd;
	const uint8_t *pairs;
	int node, len, err;
	size_t i, k;

	node = fdt_subnode_offset(r->fdt, 0, KHO_N_IOMMUFD);
	if (node == -FDT_ERR_NOTFOUND)
		return 0;
	if (node < 0)
		return BAD(r, "/%s: %s", KHO_N_IOMMUFD, fdt_strerror(node));
	snprintf(r->path, sizeof(r->path), "/%s", KHO_N_IOMMUFD);
	if (h->min_reader_version < KHO_FORMAT_VERSION_IOMMUFD)
		return BAD(r, "/%s: present, but min-reader-version %u lets a reader that does not know this node restore without the kernel's verification (needs %u)",
			   KHO_N_IOMMUFD, h->min_reader_version,
			   KHO_FORMAT_VERSION_IOMMUFD);
	io->present = true;
	err = rd_str(r, node, KHO_P_COMPATIBLE, io->compatible,
		     sizeof(io->compatible));
	if (!err)
		err = rd_u64(r, node, KHO_P_TOKEN, &io->token);
	if (!err)
		err = rd_u64(r, node, KHO_P_JOURNAL_LENGTH, &io->journal_length);
	if (!err)
		err = rd_prop(r, node, KHO_P_FILE_TOKENS, false, 0,
			      (const void **)&pairs, &len);
	if (err)
		return err;
	if (strcmp(io->compatible, KHO_KJOURNAL_LUO_COMPATIBLE))
		return kho_diag_set(r->diag, -EPROTONOSUPPORT,
				    "handoff: /%s: compatible \"%s\": this reader replays into \"%s\" only",
				    KHO_N_IOMMUFD, io->compatible,
				    KHO_KJOURNAL_LUO_COMPATIBLE);
	if (io->token == KHO_LUO_HANDOFF_TOKEN)
		return BAD(r, "/%s: token 0x%llx is the hand-off's own token",
			   KHO_N_IOMMUFD, (unsigned long long)io->token);
	if (rd_find(r, RD_MEMFD, io->token) >= 0)
		return BAD(r, "/%s: token %llu is also the token of /%s/memfd-%llu",
			   KHO_N_IOMMUFD, (unsigned long long)io->token,
			   KHO_N_MEMFDS, (unsigned long long)io->token);
	if (io->journal_length > UINT32_MAX)
		return BAD(r, "/%s: journal-length %llu: the kernel counts records in 32 bits",
			   KHO_N_IOMMUFD,
			   (unsigned long long)io->journal_length);
	if (len % KHO_FILE_TOKEN_SIZE)
		return BAD(r, "/%s: property %s: length %d is not a multiple of %d",
			   KHO_N_IOMMUFD, KHO_P_FILE_TOKENS, len,
			   KHO_FILE_TOKEN_SIZE);
	io->nr_files = len / KHO_FILE_TOKEN_SIZE;
	io->files = rd_calloc(io->nr_files, sizeof(*io->files), &err);
	if (err) {
		io->nr_files = 0;
		return err;
	}
	for (i = 0; i < io->nr_files; i++) {
		struct kho_kjournal_file *f = &io->files[i];

		f->ino = fdt64_ld((const fdt64_t *)(pairs + i * KHO_FILE_TOKEN_SIZE));
		f->token = fdt64_ld((const fdt64_t *)(pairs + i * KHO_FILE_TOKEN_SIZE + 8));
		if (!f->ino)
			return BAD(r, "/%s: file %zu: inode 0", KHO_N_IOMMUFD, i);
		if (rd_find(r, RD_MEMFD, f->token) < 0)
			return BAD(r, "/%s: file %zu (inode %llu): memfd token %llu is not in /%s",
				   KHO_N_IOMMUFD, i,
				   (unsigned long long)f->ino,
				   (unsigned long long)f->token, KHO_N_MEMFDS);
	}
	err = rd_files_one_to_one(io, &i, &k);
	if (err > 0)
		return BAD(r, "/%s: file %zu (inode %llu, token %llu): inode or token also in file %zu: the kernel maps files one to one",
			   KHO_N_IOMMUFD, i,
			   (unsigned long long)io->files[i].ino,
			   (unsigned long long)io->files[i].token, k);
	return err;
}

/*
 * One QEMU of the qemu-cpr node (format 3): its CPR state must parse as
 * QEMU 11.1 writes it with exactly one token per placeholder, every token
 * naming a memfd of /memfds, and its stream a memfd of /memfds too.
 */
static int rd_qemu_one(struct rd *r, int node, struct kho_handoff_qemu *q)
{
	struct kho_cpr_state st = { 0 };
	char why[256];
	const uint8_t *toks;
	const void *v;
	int *fds, len, err;
	size_t k;

	err = rd_str(r, node, KHO_P_VMM_NAME, q->name, sizeof(q->name));
	if (!err)
		err = rd_prop(r, node, KHO_P_CPR_STATE, true, 0, &v, &len);
	if (err)
		return err;
	if (!len || (size_t)len > KHO_CPR_STATE_MAX)
		return BAD(r, "%s: property %s: %d bytes, not 1..%u", r->path,
			   KHO_P_CPR_STATE, len, KHO_CPR_STATE_MAX);
	q->cpr_state = rd_calloc(len, 1, &err);
	if (err)
		return err;
	memcpy(q->cpr_state, v, len);
	q->cpr_state_len = len;
	err = rd_prop(r, node, KHO_P_FD_TOKENS, false, 0, (const void **)&toks,
		      &len);
	if (err)
		return err;
	if (len % 8 || len / 8 > KHO_CPR_MAX_FDS)
		return BAD(r, "%s: property %s: length %d is not 8 x 0..%d",
			   r->path, KHO_P_FD_TOKENS, len, KHO_CPR_MAX_FDS);
	q->nr_fd_tokens = len / 8;
	q->fd_tokens = rd_calloc(q->nr_fd_tokens + 1, 8, &err);
	fds = rd_calloc(q->nr_fd_tokens + 1, sizeof(*fds), &err);
	if (err) {
		free(fds);
		return err;
	}
	for (k = 0; k < q->nr_fd_tokens; k++) {
		q->fd_tokens[k] = fdt64_ld((const fdt64_t *)(toks + k * 8));
		fds[k] = -1;
		if (rd_find(r, RD_MEMFD, q->fd_tokens[k]) < 0) {
			free(fds);
			return BAD(r, "%s: fd %zu: memfd token %llu is not in /%s",
				   r->path, k,
				   (unsigned long long)q->fd_tokens[k],
				   KHO_N_MEMFDS);
		}
	}
	why[0] = '\0';
	err = kho_cpr_state_parse(q->cpr_state, q->cpr_state_len, fds,
				  q->nr_fd_tokens, &st, why, sizeof(why));
	kho_cpr_state_free(&st);
	free(fds);
	if (err)
		return kho_diag_set(r->diag, err, "handoff: %s: property %s (%zu bytes, %zu fd tokens): %s",
				    r->path, KHO_P_CPR_STATE, q->cpr_state_len,
				    q->nr_fd_tokens, why);
	err = rd_u64(r, node, KHO_P_STREAM_TOKEN, &q->stream_token);
	if (!err)
		err = rd_u64(r, node, KHO_P_STREAM_LENGTH, &q->stream_length);
	if (err)
		return err;
	if (rd_find(r, RD_MEMFD, q->stream_token) < 0)
		return BAD(r, "%s: stream-token %llu is not in /%s", r->path,
			   (unsigned long long)q->stream_token, KHO_N_MEMFDS);
	return 0;
}

struct qemu_tok {
	uint64_t token;
	size_t qemu;
};

static int cmp_qemu_tok(const void *a, const void *b)
{
	const struct qemu_tok *x = a, *y = b;

	return x->token < y->token ? -1 : x->token > y->token;
}

/*
 * The QEMUs of one hand-off are restored one by one, each by its
 * vmm-name (`cpr-relay --restore --vmm`), each into its own new QEMU: two
 * of one name could not be told apart, and a memfd in two entries would
 * put one guest's RAM (or stream) under two QEMUs.
 */
static int rd_qemu_distinct(struct rd *r, const struct kho_handoff *h)
{
	struct qemu_tok *t;
	size_t i, j, n = 0;
	int err = 0;

	for (i = 0; i < h->nr_qemu; i++)
		for (j = 0; j < i; j++)
			if (!strcmp(h->qemu[i].name, h->qemu[j].name))
				return BAD(r, "/%s: qemu %zu and qemu %zu: both named \"%s\"",
					   KHO_N_QEMU_CPR, j, i, h->qemu[i].name);
	for (i = 0; i < h->nr_qemu; i++)
		n += h->qemu[i].nr_fd_tokens + 1;
	t = rd_calloc(n, sizeof(*t), &err);
	if (err)
		return err;
	n = 0;
	for (i = 0; i < h->nr_qemu; i++) {
		for (j = 0; j < h->qemu[i].nr_fd_tokens; j++)
			t[n++] = (struct qemu_tok){ h->qemu[i].fd_tokens[j], i };
		t[n++] = (struct qemu_tok){ h->qemu[i].stream_token, i };
	}
	qsort(t, n, sizeof(*t), cmp_qemu_tok);
	for (i = 1; i < n && !err; i++)
		if (t[i].token == t[i - 1].token && t[i].qemu != t[i - 1].qemu)
			err = BAD(r, "/%s: memfd token %llu is in qemu %zu and qemu %zu: one guest's memory under two QEMUs",
				  KHO_N_QEMU_CPR, (unsigned long long)t[i].token,
				  t[i - 1].qemu < t[i].qemu ? t[i - 1].qemu : t[i].qemu,
				  t[i - 1].qemu < t[i].qemu ? t[i].qemu : t[i - 1].qemu);
	free(t);
	return err;
}

/*
 * The optional qemu-cpr node (format 3): present only with a
 * min-reader-version that excludes readers not knowing it.
 */
static int rd_qemu(struct rd *r, struct kho_handoff *h)
{
	int node, child, err = 0, n = 0;

	node = fdt_subnode_offset(r->fdt, 0, KHO_N_QEMU_CPR);
	if (node == -FDT_ERR_NOTFOUND)
		return 0;
	if (node < 0)
		return BAD(r, "/%s: %s", KHO_N_QEMU_CPR, fdt_strerror(node));
	snprintf(r->path, sizeof(r->path), "/%s", KHO_N_QEMU_CPR);
	if (h->min_reader_version < KHO_FORMAT_VERSION_QEMU)
		return BAD(r, "/%s: present, but min-reader-version %u lets a reader that does not know this node restore memfds it cannot name (needs %u)",
			   KHO_N_QEMU_CPR, h->min_reader_version,
			   KHO_FORMAT_VERSION_QEMU);
	fdt_for_each_subnode(child, r->fdt, node)
		n++;
	if (!n)
		return BAD(r, "/%s: no qemu node", KHO_N_QEMU_CPR);
	if (n > KHO_CPR_MAX_FDS)
		return BAD(r, "/%s: %d qemu nodes", KHO_N_QEMU_CPR, n);
	h->qemu = rd_calloc(n, sizeof(*h->qemu), &err);
	if (err)
		return err;
	fdt_for_each_subnode(child, r->fdt, node) {
		snprintf(r->path, sizeof(r->path), "/%s/%s", KHO_N_QEMU_CPR,
			 fdt_get_name(r->fdt, child, NULL));
		err = rd_qemu_one(r, child, &h->qemu[h->nr_qemu]);
		h->nr_qemu++;
		if (err)
			return err;
	}
	return rd_qemu_distinct(r, h);
}

/*
 * The optional poison node (format 6): present only with a
 * min-reader-version that excludes readers not knowing it, its ranges
 * held to kho_handoff_poison_check()'s rules, mappings included.
 */
static int rd_poison(struct rd *r, struct kho_handoff *h)
{
	const uint8_t *p;
	uint32_t cells;
	size_t i, stride;
	int node, len, err;

	node = fdt_subnode_offset(r->fdt, 0, KHO_N_POISON);
	if (node == -FDT_ERR_NOTFOUND)
		return 0;
	if (node < 0)
		return BAD(r, "/%s: %s", KHO_N_POISON, fdt_strerror(node));
	snprintf(r->path, sizeof(r->path), "/%s", KHO_N_POISON);
	if (h->min_reader_version < KHO_FORMAT_VERSION_POISON)
		return BAD(r, "/%s: present, but min-reader-version %u lets a reader that does not know this node map the poisoned pages as good memory (needs %u)",
			   KHO_N_POISON, h->min_reader_version,
			   KHO_FORMAT_VERSION_POISON);
	err = rd_u32(r, node, KHO_P_RANGE_CELLS, &cells);
	if (!err)
		err = rd_prop(r, node, KHO_P_RANGES, true, 0,
			      (const void **)&p, &len);
	if (err)
		return err;
	if (cells < KHO_POISON_CELLS || cells > 64)
		return BAD(r, "/%s: property %s: %u cells, this reader needs %u to 64",
			   KHO_N_POISON, KHO_P_RANGE_CELLS, cells,
			   KHO_POISON_CELLS);
	stride = (size_t)cells * 4;
	if (!len || len % stride)
		return BAD(r, "/%s: property %s: length %d is not a non-zero multiple of %zu (%s = %u)",
			   KHO_N_POISON, KHO_P_RANGES, len, stride,
			   KHO_P_RANGE_CELLS, cells);
	if (len / stride > KHO_POISON_MAX)
		return BAD(r, "/%s: %zu ranges, more than %u", KHO_N_POISON,
			   len / stride, KHO_POISON_MAX);
	h->poison = rd_calloc(len / stride, sizeof(*h->poison), &err);
	if (err)
		return err;
	h->nr_poison = len / stride;
	for (i = 0; i < h->nr_poison; i++, p += stride) {
		h->poison[i].memfd_token = fdt64_ld((const fdt64_t *)p);
		h->poison[i].offset = fdt64_ld((const fdt64_t *)(p + 8));
		h->poison[i].length = fdt64_ld((const fdt64_t *)(p + 16));
	}
	err = kho_handoff_poison_check(h, r->diag);
	if (err)
		return kho_diag_set(r->diag, err, "handoff: /%s: %s",
				    KHO_N_POISON, r->diag ? r->diag->msg : "");
	return 0;
}

/* Header, identity, versions and integrity: everything before fields. */
static int rd_envelope(struct rd *r, size_t len, struct kho_handoff *h)
{
	const void *v;
	uint32_t crc;
	int plen, err;

	err = kho_fdt_check(r->fdt, len);
	if (err)
		return BAD(r, "not a valid FDT: %s", fdt_strerror(err));
	if (fdt_totalsize(r->fdt) != len)
		return BAD(r, "FDT header totalsize %u, but the blob is %zu bytes",
			   fdt_totalsize(r->fdt), len);
	strcpy(r->path, "/");
	v = fdt_getprop(r->fdt, 0, KHO_P_COMPATIBLE, &plen);
	if (!v)
		return BAD(r, "/: required property compatible is missing");
	if (fdt_node_check_compatible(r->fdt, 0, KHO_HANDOFF_COMPATIBLE)) {
		char raw[64], esc[256];

		/* Not yet checked: escaped, so that it cannot forge a message. */
		snprintf(raw, sizeof(raw), "%.*s", (int)strnlen(v, plen),
			 (const char *)v);
		kho_text_escape(esc, sizeof(esc), raw);
		return BAD(r, "/: property compatible: \"%s\" is not \"%s\"",
			   esc, KHO_HANDOFF_COMPATIBLE);
	}
	err = rd_u32(r, 0, KHO_P_FORMAT_VERSION, &h->format_version);
	if (!err)
		err = rd_u32(r, 0, KHO_P_MIN_READER, &h->min_reader_version);
	if (err)
		return err;
	if (h->min_reader_version > KHO_READER_VERSION)
		return kho_diag_set(r->diag, -EPROTONOSUPPORT,
				    "handoff: /: min-reader-version %u: this reader is version %u (format-version %u needs a newer kho-tool)",
				    h->min_reader_version, KHO_READER_VERSION,
				    h->format_version);
	if (!h->min_reader_version ||
	    h->min_reader_version > h->format_version)
		return BAD(r, "/: min-reader-version %u is not in 1..format-version (%u)",
			   h->min_reader_version, h->format_version);
	err = rd_prop(r, 0, KHO_P_CRC32, true, 4, &v, &plen);
	if (err)
		return err;
	crc = kho_handoff_crc(r->fdt, (const char *)v - (const char *)r->fdt);
	if (crc != fdt32_ld(v))
		return BAD(r, "/: property crc32: stored 0x%08x, computed 0x%08x: the blob is corrupt",
			   fdt32_ld(v), crc);
	return 0;
}

static int rd_mig_records(struct rd *r, const struct kho_handoff *h)
{
	struct kho_diag why = { "" };
	int err = kho_migrec_check(h, &why);

	if (err == -EBADMSG)
		return BAD(r, "/%s: %s", KHO_N_JOURNAL, why.msg);
	return err;
}

static int rd_all(struct rd *r, size_t len, struct kho_handoff *h)
{
	int err;

	err = rd_envelope(r, len, h);
	if (!err)
		err = rd_str(r, 0, KHO_P_TOOL_VERSION, h->tool_version,
			     sizeof(h->tool_version));
	if (!err)
		err = rd_str(r, 0, KHO_P_KERNEL_RELEASE, h->kernel_release,
			     sizeof(h->kernel_release));
	if (!err && strchr(h->kernel_release, '/'))
		err = BAD(r, "/: property %s: \"%s\" names a directory, not a release",
			  KHO_P_KERNEL_RELEASE, h->kernel_release);
	if (!err)
		err = rd_u64(r, 0, KHO_P_CREATED, &h->created);
	if (!err)
		err = rd_str_opt(r, 0, KHO_P_JOURNAL_SOURCE, false,
				 h->journal_source, sizeof(h->journal_source));
	if (!err)
		err = rd_memfds(r, &h->state);
	if (!err)
		err = rd_devices(r, h);
	if (!err)
		err = rd_ioases(r, &h->state);
	if (!err)
		err = rd_hwpts(r, &h->state);
	if (!err)
		err = rd_check_refs(r, &h->state);
	if (!err)
		err = rd_journal(r, h);
	if (!err)
		err = rd_iommufd(r, h);
	if (!err)
		err = rd_qemu(r, h);
	if (!err)
		err = rd_poison(r, h);
	/* Last: its memfd must be no one else's, QEMU's and iommufd's included. */
	if (!err)
		err = rd_device_states(r, h);
	/* The plan's DEVICE_MIG_STATE records, against those nodes. */
	if (!err)
		err = rd_mig_records(r, h);
	return err;
}

int kho_handoff_decode(const void *buf, size_t len, struct kho_handoff *h,
		       struct kho_diag *diag)
{
	struct rd r = { .fdt = buf, .diag = diag };
	void *copy = NULL;
	int err;

	kho_handoff_init(h);
	if (!buf)
		return -EINVAL;
	if (len > INT_MAX)
		return kho_diag_set(diag, -EBADMSG,
				    "handoff: %zu bytes is larger than any FDT",
				    len);
	/* libfdt may refuse a blob that is not 8-byte aligned. */
	if ((uintptr_t)buf & 7) {
		copy = malloc(len ? len : 1);
		if (!copy)
			return -ENOMEM;
		memcpy(copy, buf, len);
		r.fdt = copy;
	}
	err = rd_all(&r, len, h);
	rd_index_free(&r);
	free(copy);
	if (err)
		kho_handoff_free(h);
	return err;
}
