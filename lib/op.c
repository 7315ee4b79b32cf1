// SPDX-License-Identifier: LGPL-2.1-or-later
/* The op table, and what follows from it alone: copy, release, ID
 * remapping, the line a person reads and JSON of one record. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/iommufd.h>
#ifndef __counted_by
#define __counted_by(m)
#endif
#include <linux/vfio.h>

#include "devstate.h"
#include "mdev.h"
#include "op.h"
#include "pci.h"

#define offsetofend(T, m) (offsetof(T, m) + sizeof(((T *)0)->m))

/* The uapi argument: its command, its size and its kernel minimum. */
#define UAPI(c, T, last) \
	.cmd = (c), .size = sizeof(T), .min_size = offsetofend(T, last)

#define FIELD(member, nm, k)						\
	{ .name = (nm), .offset = offsetof(struct kho_rec, member),	\
	  .size = sizeof(((struct kho_rec *)0)->member),		\
	  .kind = KHO_FIELD_##k }

#define FIELDS(...)							\
	.fields = { __VA_ARGS__ },					\
	.nr_fields = sizeof((struct kho_op_field[]){ __VA_ARGS__ }) /	\
		     sizeof(struct kho_op_field)

#define INLINE(k, cnt, p)						\
	.inl = { .kind = KHO_INLINE_##k,				\
		 .count = offsetof(struct kho_rec, cnt),		\
		 .ptr = offsetof(struct kho_rec, p),			\
		 .elem = sizeof(*((struct kho_rec *)0)->p) }

/* IOAS_MAP (by VA) is canonicalised to MAP_FILE: one shape for both. */
#define MAP_FIELDS							\
	FIELDS(FIELD(map.flags, "flags", FLAGS),			\
	       FIELD(map.ioas_id, "ioas_id", ID_IN),			\
	       FIELD(map.memfd_token, "memfd_token", TOKEN),		\
	       FIELD(map.offset, "offset", OFFSET),			\
	       FIELD(map.length, "length", LENGTH),			\
	       FIELD(map.iova, "iova", IOVA)),				\
	.fmt = "IOAS {ioas_id} {iova}+{length} <- memfd token {memfd_token} offset {offset} flags {flags}"

static const struct kho_op_desc kho_ops[KHO_OP_MAX + 1] = {
	[KHO_OP_IOAS_ALLOC] = {
		.name = "IOAS_ALLOC", .phase = KHO_PHASE_OBJECTS,
		UAPI(IOMMU_IOAS_ALLOC, struct iommu_ioas_alloc, out_ioas_id),
		FIELDS(FIELD(ioas_alloc.flags, "flags", FLAGS),
		       FIELD(ioas_alloc.out_ioas_id, "out_ioas_id", ID_OUT)),
		.fmt = "-> IOAS {out_ioas_id}",
	},
	[KHO_OP_DESTROY] = {
		.name = "DESTROY",
		UAPI(IOMMU_DESTROY, struct iommu_destroy, id),
		FIELDS(FIELD(destroy.id, "id", ID_IN)),
		.fmt = "{id}",
	},
	[KHO_OP_IOAS_ALLOW_IOVAS] = {
		.name = "IOAS_ALLOW_IOVAS", .phase = KHO_PHASE_OBJECTS,
		UAPI(IOMMU_IOAS_ALLOW_IOVAS, struct iommu_ioas_allow_iovas,
		     allowed_iovas),
		FIELDS(FIELD(allow_iovas.ioas_id, "ioas_id", ID_IN),
		       FIELD(allow_iovas.num_iovas, "num_iovas", COUNT),
		       FIELD(allow_iovas.iovas, "iovas", INLINE)),
		INLINE(RANGES, allow_iovas.num_iovas, allow_iovas.iovas),
		.fmt = "IOAS {ioas_id}:{iovas}",
	},
	[KHO_OP_IOAS_MAP] = {
		.name = "IOAS_MAP",
		UAPI(IOMMU_IOAS_MAP, struct iommu_ioas_map, iova),
		MAP_FIELDS,
	},
	[KHO_OP_IOAS_MAP_FILE] = {
		.name = "IOAS_MAP_FILE", .phase = KHO_PHASE_MAPS,
		UAPI(IOMMU_IOAS_MAP_FILE, struct iommu_ioas_map_file, iova),
		MAP_FIELDS,
	},
	[KHO_OP_IOAS_COPY] = {
		.name = "IOAS_COPY",
		UAPI(IOMMU_IOAS_COPY, struct iommu_ioas_copy, src_iova),
		FIELDS(FIELD(copy.flags, "flags", FLAGS),
		       FIELD(copy.dst_ioas_id, "dst_ioas_id", ID_IN),
		       FIELD(copy.src_ioas_id, "src_ioas_id", ID_IN),
		       FIELD(copy.length, "length", LENGTH),
		       FIELD(copy.dst_iova, "dst_iova", IOVA),
		       FIELD(copy.src_iova, "src_iova", IOVA)),
		.fmt = "IOAS {src_ioas_id} {src_iova} -> IOAS {dst_ioas_id} {dst_iova} length {length} flags {flags}",
	},
	[KHO_OP_IOAS_UNMAP] = {
		.name = "IOAS_UNMAP",
		UAPI(IOMMU_IOAS_UNMAP, struct iommu_ioas_unmap, length),
		FIELDS(FIELD(unmap.ioas_id, "ioas_id", ID_IN),
		       FIELD(unmap.iova, "iova", IOVA),
		       FIELD(unmap.length, "length", LENGTH),
		       FIELD(unmap.out_length, "out_length", LENGTH)),
		.fmt = "IOAS {ioas_id} {iova}+{length} (unmapped {out_length})",
	},
	[KHO_OP_OPTION] = {
		.name = "OPTION", .phase = KHO_PHASE_OBJECTS,
		UAPI(IOMMU_OPTION, struct iommu_option, val64),
		FIELDS(FIELD(option.option_id, "option_id", VALUE),
		       FIELD(option.op, "option_op", VALUE),
		       FIELD(option.object_id, "object_id", ID_IN),
		       FIELD(option.val64, "val64", VALUE)),
		.fmt = "{option_id} op {option_op} object {object_id} = {val64}",
	},
	[KHO_OP_HWPT_ALLOC] = {
		.name = "HWPT_ALLOC", .phase = KHO_PHASE_DEVICES,
		UAPI(IOMMU_HWPT_ALLOC, struct iommu_hwpt_alloc, __reserved),
		/*
		 * fault_id names a fault queue only with FAULT_ID_VALID, which
		 * no journal holds (queues cannot cross kexec yet: canon.c,
		 * state.c): a value until they can.
		 */
		FIELDS(FIELD(hwpt_alloc.flags, "flags", FLAGS),
		       FIELD(hwpt_alloc.dev_id, "dev_id", ID_IN),
		       FIELD(hwpt_alloc.pt_id, "pt_id", ID_IN),
		       FIELD(hwpt_alloc.out_hwpt_id, "out_hwpt_id", ID_OUT),
		       FIELD(hwpt_alloc.data_type, "data_type", VALUE),
		       FIELD(hwpt_alloc.data_len, "data_len", COUNT),
		       FIELD(hwpt_alloc.data, "data", INLINE),
		       FIELD(hwpt_alloc.fault_id, "fault_id", VALUE)),
		INLINE(BYTES, hwpt_alloc.data_len, hwpt_alloc.data),
		.fmt = "device {dev_id} pt {pt_id} flags {flags} data {data_type}/{data_len} bytes -> HWPT {out_hwpt_id}",
	},
	[KHO_OP_HWPT_SET_DIRTY_TRACKING] = {
		.name = "HWPT_SET_DIRTY_TRACKING", .phase = KHO_PHASE_DEVICES,
		UAPI(IOMMU_HWPT_SET_DIRTY_TRACKING,
		     struct iommu_hwpt_set_dirty_tracking, __reserved),
		FIELDS(FIELD(dirty_tracking.flags, "flags", FLAGS),
		       FIELD(dirty_tracking.hwpt_id, "hwpt_id", ID_IN)),
		.fmt = "HWPT {hwpt_id} {flags?enable:disable}",
	},
	[KHO_OP_DEVICE_BIND] = {
		.name = "DEVICE_BIND_IOMMUFD", .phase = KHO_PHASE_DEVICES,
		/* vfio_df_ioctl_bind_iommufd() uses copy_struct_from_user() */
		UAPI(VFIO_DEVICE_BIND_IOMMUFD, struct vfio_device_bind_iommufd,
		     out_devid),
		/* an mdev's UUID last: format 5 packs it in cells that
		 * were reserved (zero) before */
		FIELDS(FIELD(bind.pci, "pci", PCI),
		       FIELD(bind.flags, "flags", FLAGS),
		       FIELD(bind.out_devid, "out_devid", ID_OUT),
		       FIELD(bind.mdev_uuid, "mdev", UUID)),
		.fmt = "{pci}{mdev} -> device {out_devid}",
	},
	[KHO_OP_DEVICE_ATTACH] = {
		.name = "DEVICE_ATTACH_IOMMUFD_PT", .phase = KHO_PHASE_DEVICES,
		UAPI(VFIO_DEVICE_ATTACH_IOMMUFD_PT,
		     struct vfio_device_attach_iommufd_pt, pt_id),
		.size_rule = KHO_SIZE_ARGSZ,
		FIELDS(FIELD(attach.dev_id, "dev_id", ID_IN),
		       FIELD(attach.flags, "flags", FLAGS),
		       FIELD(attach.pasid, "pasid", VALUE),
		       FIELD(attach.pt_id, "pt_id", ID_IN),
		       FIELD(attach.out_hwpt_id, "out_hwpt_id", ID_OUT)),
		.fmt = "device {dev_id} to pt {pt_id} -> HWPT {out_hwpt_id}",
	},
	[KHO_OP_DEVICE_DETACH] = {
		.name = "DEVICE_DETACH_IOMMUFD_PT",
		UAPI(VFIO_DEVICE_DETACH_IOMMUFD_PT,
		     struct vfio_device_detach_iommufd_pt, flags),
		.size_rule = KHO_SIZE_ARGSZ,
		FIELDS(FIELD(detach.dev_id, "dev_id", ID_IN),
		       FIELD(detach.flags, "flags", FLAGS),
		       FIELD(detach.pasid, "pasid", VALUE)),
		.fmt = "device {dev_id}",
	},
	/* Reserved: the op alone keeps its place; canon.c refuses both. */
	[KHO_OP_VIOMMU_ALLOC] = {
		.name = "VIOMMU_ALLOC",
		UAPI(IOMMU_VIOMMU_ALLOC, struct iommu_viommu_alloc,
		     out_viommu_id),
	},
	[KHO_OP_VDEVICE_ALLOC] = {
		.name = "VDEVICE_ALLOC",
		UAPI(IOMMU_VDEVICE_ALLOC, struct iommu_vdevice_alloc, virt_id),
	},
	/* A plan step: replays as IOAS_MAP_FILE of recorded mappings. */
	[KHO_OP_REPLAY_MAPPINGS] = {
		.name = "REPLAY_MAPPINGS", .phase = KHO_PHASE_MAPS,
		FIELDS(FIELD(replay_maps.ioas_id, "ioas_id", ID_IN),
		       FIELD(replay_maps.first, "first", VALUE),
		       FIELD(replay_maps.count, "count", VALUE)),
		.fmt = "IOAS {ioas_id} mappings [{first}, {first+count})",
	},
	/*
	 * An arc of the device's migration FSM that the toolkit took itself
	 * (lib/devstate.c): no cmd, so that the recorder never takes a
	 * VMM's VFIO_DEVICE_FEATURE for one.
	 */
	[KHO_OP_DEVICE_MIG_STATE] = {
		.name = "DEVICE_MIG_STATE", .phase = KHO_PHASE_DEVICE_STATE,
		FIELDS(FIELD(mig_state.dev_id, "dev_id", ID_IN),
		       FIELD(mig_state.from, "from", MIG_STATE),
		       FIELD(mig_state.to, "to", MIG_STATE),
		       FIELD(mig_state.length, "length", LENGTH),
		       FIELD(mig_state.memfd_token, "memfd_token", TOKEN),
		       FIELD(mig_state.crc32, "crc32", VALUE)),
		.fmt = "dev {dev_id} {from} -> {to}, {length} bytes, memfd token {memfd_token}",
	},
};

const struct kho_op_desc *kho_op_get(uint32_t op)
{
	if (op > KHO_OP_MAX || !kho_ops[op].name)
		return NULL;
	return &kho_ops[op];
}

/*
 * _IOC_NR() -> op: every iommufd and VFIO ioctl is _IO(';', nr), so the
 * number picks the row and the full command confirms it.  Built once from
 * the rows, so that a command is declared in its row only; pthread_once()
 * and not a constructor, because the recorder may see an ioctl before
 * this library's constructors have run.
 */
static uint8_t op_by_nr[1 << _IOC_NRBITS];
static pthread_once_t op_by_nr_once = PTHREAD_ONCE_INIT;

static void op_by_nr_build(void)
{
	uint32_t op;

	for (op = 1; op <= KHO_OP_MAX; op++)
		if (kho_ops[op].cmd)
			op_by_nr[_IOC_NR(kho_ops[op].cmd)] = op;
}

const struct kho_op_desc *kho_op_by_cmd(unsigned long cmd)
{
	const struct kho_op_desc *d;

	pthread_once(&op_by_nr_once, op_by_nr_build);
	d = &kho_ops[op_by_nr[_IOC_NR(cmd)]];
	/* row 0 is empty: its cmd 0 is no ioctl */
	return d->cmd && d->cmd == cmd ? d : NULL;
}

const char *kho_op_name(uint32_t op)
{
	static __thread char unknown[16];
	const struct kho_op_desc *d = kho_op_get(op);

	if (d)
		return d->name;
	snprintf(unknown, sizeof(unknown), "op#%u", op);
	return unknown;
}

int kho_op_phase(uint32_t op)
{
	const struct kho_op_desc *d = kho_op_get(op);

	return d ? d->phase : KHO_PHASE_NONE;
}

uint64_t kho_op_field_get(const struct kho_rec *rec,
			  const struct kho_op_field *f)
{
	const uint8_t *p = (const uint8_t *)rec + f->offset;
	uint16_t v16;
	uint32_t v32;
	uint64_t v64;

	if (f->kind == KHO_FIELD_PCI || f->kind == KHO_FIELD_INLINE ||
	    f->kind == KHO_FIELD_UUID)
		return 0;
	switch (f->size) {
	case 2:
		memcpy(&v16, p, 2);
		return v16;
	case 4:
		memcpy(&v32, p, 4);
		return v32;
	default:
		memcpy(&v64, p, 8);
		return v64;
	}
}

int kho_op_field_set(struct kho_rec *rec, const struct kho_op_field *f,
		     uint64_t v)
{
	uint8_t *p = (uint8_t *)rec + f->offset;
	uint16_t v16 = v;
	uint32_t v32 = v;

	if (f->kind == KHO_FIELD_PCI || f->kind == KHO_FIELD_INLINE ||
	    f->kind == KHO_FIELD_UUID)
		return -EINVAL;
	if (f->size < 8 && v >> (f->size * 8))
		return -ERANGE;
	if (f->size == 2)
		memcpy(p, &v16, 2);
	else if (f->size == 4)
		memcpy(p, &v32, 4);
	else
		memcpy(p, &v, 8);
	return 0;
}

static uint32_t inline_count(const struct kho_rec *rec,
			     const struct kho_op_inline *in)
{
	uint32_t n;

	memcpy(&n, (const uint8_t *)rec + in->count, sizeof(n));
	return n;
}

static void **inline_ptr(struct kho_rec *rec, const struct kho_op_inline *in)
{
	return (void **)((uint8_t *)rec + in->ptr);
}

size_t kho_rec_inline_len(const struct kho_rec *rec)
{
	const struct kho_op_desc *d = kho_op_get(rec->op);

	if (!d || d->inl.kind == KHO_INLINE_NONE)
		return 0;
	return (size_t)inline_count(rec, &d->inl) * d->inl.elem;
}

void kho_rec_release(struct kho_rec *rec)
{
	const struct kho_op_desc *d = kho_op_get(rec->op);
	void **p;

	if (!d || d->inl.kind == KHO_INLINE_NONE)
		return;
	p = inline_ptr(rec, &d->inl);
	free(*p);
	*p = NULL;
}

int kho_rec_copy(struct kho_rec *dst, const struct kho_rec *src)
{
	const struct kho_op_desc *d = kho_op_get(src->op);
	size_t len = kho_rec_inline_len(src);
	void **p;

	*dst = *src;
	if (!d || d->inl.kind == KHO_INLINE_NONE)
		return 0;
	p = inline_ptr(dst, &d->inl);
	if (!len) {
		*p = NULL;
		return 0;
	}
	*p = malloc(len);
	if (!*p)
		return -ENOMEM;
	memcpy(*p, *inline_ptr((struct kho_rec *)src, &d->inl), len);
	return 0;
}

int kho_rec_remap_ids(struct kho_rec *rec, unsigned int mask,
		      kho_op_id_fn fn, void *ctx)
{
	const struct kho_op_desc *d = kho_op_get(rec->op);
	uint32_t i, id, new_id;
	int err;

	if (!d)
		return -EBADMSG;
	if (!(mask & (KHO_OP_ID_IN | KHO_OP_ID_OUT)))
		return -EINVAL;
	for (i = 0; i < d->nr_fields; i++) {
		const struct kho_op_field *f = &d->fields[i];

		if (!((f->kind == KHO_FIELD_ID_IN && (mask & KHO_OP_ID_IN)) ||
		      (f->kind == KHO_FIELD_ID_OUT && (mask & KHO_OP_ID_OUT))))
			continue;
		id = kho_op_field_get(rec, f);
		if (!id)
			continue;	/* names no object */
		err = fn(ctx, id, &new_id);
		if (err)
			return err;
		kho_op_field_set(rec, f, new_id);
	}
	return 0;
}

static int idmap_fn(void *map, uint32_t old_id, uint32_t *new_id)
{
	return kho_idmap_lookup(map, old_id, new_id);
}

int kho_rec_remap_idmap(struct kho_rec *rec, unsigned int mask,
			const struct kho_idmap *map)
{
	return kho_rec_remap_ids(rec, mask, idmap_fn, (void *)map);
}

static const struct kho_op_field *field_named(const struct kho_op_desc *d,
					      const char *name, size_t len)
{
	uint32_t i;

	for (i = 0; i < d->nr_fields; i++)
		if (strlen(d->fields[i].name) == len &&
		    !memcmp(d->fields[i].name, name, len))
			return &d->fields[i];
	return NULL;
}

/* Appends to buf[*n..len), keeping *n the length the line would have. */
static void put(char *buf, size_t len, size_t *n, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void put(char *buf, size_t len, size_t *n, const char *fmt, ...)
{
	va_list ap;
	int k;

	va_start(ap, fmt);
	k = vsnprintf(buf + (*n < len ? *n : len), *n < len ? len - *n : 0,
		      fmt, ap);
	va_end(ap);
	if (k > 0)
		*n += k;
}

static void pci_str(const struct kho_pci_id *p, char *buf, size_t len)
{
	snprintf(buf, len, "%04x:%02x:%02x.%u", p->segment, p->bus,
		 p->devfn >> 3, p->devfn & 7);
}

/* One field as the line a person reads shows it. */
static void format_field(const struct kho_rec *rec,
			 const struct kho_op_desc *d,
			 const struct kho_op_field *f, char *buf, size_t len,
			 size_t *n)
{
	unsigned long long v = kho_op_field_get(rec, f);
	const struct kho_iova_range *rg;
	const struct kho_pci_id *pci;
	const uint8_t *uuid;
	char s[24], u[KHO_MDEV_UUID_LEN];
	uint32_t i, nr;

	switch (f->kind) {
	case KHO_FIELD_FLAGS:
		put(buf, len, n, "0x%llx", v);
		break;
	case KHO_FIELD_IOVA:
	case KHO_FIELD_LENGTH:
	case KHO_FIELD_OFFSET:
		put(buf, len, n, "0x%llx", v);
		break;
	case KHO_FIELD_MIG_STATE:
		put(buf, len, n, "%s", kho_devstate_name(v));
		break;
	case KHO_FIELD_PCI:
		/* an mdev's BIND names no PCI function: its UUID says it */
		pci = (const void *)((const uint8_t *)rec + f->offset);
		if (kho_pci_is_none(pci))
			break;
		pci_str(pci, s, sizeof(s));
		put(buf, len, n, "%s [%04x:%04x]", s, pci->vendor,
		    pci->device);
		break;
	case KHO_FIELD_UUID:
		uuid = (const uint8_t *)rec + f->offset;
		for (i = 0; i < 16 && !uuid[i]; i++)
			;
		if (i < 16)
			put(buf, len, n, "%smdev %s",
			    *n && *n <= len && buf[*n - 1] != ' ' ? " " : "",
			    kho_mdev_uuid_str(uuid, u, sizeof(u)));
		break;
	case KHO_FIELD_INLINE:
		/* only IOVA ranges are shown; driver data is opaque */
		if (d->inl.kind != KHO_INLINE_RANGES)
			break;
		nr = inline_count(rec, &d->inl);
		rg = *inline_ptr((struct kho_rec *)rec, &d->inl);
		for (i = 0; i < nr && *n < len; i++)
			put(buf, len, n, " 0x%llx-0x%llx",
			    (unsigned long long)rg[i].start,
			    (unsigned long long)rg[i].last);
		if (!nr)
			put(buf, len, n, " (any)");
		break;
	default:
		put(buf, len, n, "%llu", v);
		break;
	}
}

/* Expands the row's template: see struct kho_op_desc's @fmt. */
static void format_template(const struct kho_rec *rec,
			    const struct kho_op_desc *d, char *buf,
			    size_t len, size_t *n)
{
	const struct kho_op_field *f, *g;
	const char *t = d->fmt, *end, *op;

	while (*t) {
		if (*t != '{') {
			end = strchrnul(t, '{');
			put(buf, len, n, "%.*s", (int)(end - t), t);
			t = end;
			continue;
		}
		end = strchr(++t, '}');
		op = strpbrk(t, "+?");
		if (!op || op > end)
			op = end;
		f = field_named(d, t, op - t);
		if (*op == '+') {
			g = field_named(d, op + 1, end - op - 1);
			put(buf, len, n, "%u",
			    (uint32_t)(kho_op_field_get(rec, f) +
				       kho_op_field_get(rec, g)));
		} else if (*op == '?') {
			const char *colon = memchr(op, ':', end - op);

			if (kho_op_field_get(rec, f) & 1)
				put(buf, len, n, "%.*s", (int)(colon - op - 1),
				    op + 1);
			else
				put(buf, len, n, "%.*s", (int)(end - colon - 1),
				    colon + 1);
		} else {
			format_field(rec, d, f, buf, len, n);
		}
		t = end + 1;
	}
}

int kho_rec_format(const struct kho_rec *rec, char *buf, size_t len)
{
	const struct kho_op_desc *d = kho_op_get(rec->op);
	size_t n = 0;

	put(buf, len, &n, "%s", kho_op_name(rec->op));
	if (d && d->fmt) {
		put(buf, len, &n, " ");
		format_template(rec, d, buf, len, &n);
	}
	return n >= len ? -ENOSPC : 0;
}

int kho_rec_print_json(const struct kho_rec *rec, FILE *out)
{
	const struct kho_op_desc *d = kho_op_get(rec->op);
	const struct kho_iova_range *rg;
	const struct kho_pci_id *pci;
	const uint8_t *data, *uuid;
	char s[24], u[KHO_MDEV_UUID_LEN];
	uint32_t i, k, nr;

	fprintf(out, "{\"op\": \"%s\"", kho_op_name(rec->op));
	for (i = 0; d && i < d->nr_fields; i++) {
		const struct kho_op_field *f = &d->fields[i];

		switch (f->kind) {
		case KHO_FIELD_COUNT:
			break;	/* the inline field says it */
		case KHO_FIELD_MIG_STATE:
			fprintf(out, ", \"%s\": \"%s\"", f->name,
				kho_devstate_name(kho_op_field_get(rec, f)));
			break;
		case KHO_FIELD_PCI:
			pci = (const void *)((const uint8_t *)rec + f->offset);
			pci_str(pci, s, sizeof(s));
			fprintf(out, ", \"%s\": \"%s\", \"vendor\": \"%04x\", \"device\": \"%04x\"",
				f->name, s, pci->vendor, pci->device);
			break;
		case KHO_FIELD_UUID:
			/* present only for an mdev */
			uuid = (const uint8_t *)rec + f->offset;
			for (k = 0; k < 16 && !uuid[k]; k++)
				;
			if (k < 16)
				fprintf(out, ", \"%s\": \"%s\"", f->name,
					kho_mdev_uuid_str(uuid, u, sizeof(u)));
			break;
		case KHO_FIELD_INLINE:
			nr = inline_count(rec, &d->inl);
			if (d->inl.kind == KHO_INLINE_RANGES) {
				rg = *inline_ptr((struct kho_rec *)rec, &d->inl);
				fprintf(out, ", \"%s\": [", f->name);
				for (k = 0; k < nr; k++)
					fprintf(out, "%s{\"start\": \"0x%llx\", \"last\": \"0x%llx\"}",
						k ? ", " : "",
						(unsigned long long)rg[k].start,
						(unsigned long long)rg[k].last);
				fputs("]", out);
				break;
			}
			data = *inline_ptr((struct kho_rec *)rec, &d->inl);
			fprintf(out, ", \"%s\": \"", f->name);
			for (k = 0; k < nr && data; k++)
				fprintf(out, "%02x", data[k]);
			fputs("\"", out);
			break;
		default:
			/* above 2^53 a JSON reader may round: u64 as a string */
			if (f->size == 8)
				fprintf(out, ", \"%s\": \"0x%llx\"", f->name,
					(unsigned long long)kho_op_field_get(rec, f));
			else
				fprintf(out, ", \"%s\": %llu", f->name,
					(unsigned long long)kho_op_field_get(rec, f));
			break;
		}
	}
	fputs("}", out);
	return ferror(out) ? -EIO : 0;
}
