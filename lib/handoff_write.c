// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Writing the hand-off FDT with libfdt's sequential-write API: one pass,
 * packed arrays written in place through fdt_property_placeholder(), the
 * crc32 stamped last.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libfdt.h>
#include "compat.h"
#include <linux/vfio.h>

#include "escape.h"
#include "handoff.h"
#include "cpr_state.h"
#include "devstate.h"
#include "handoff_format.h"
#include "mdev.h"
#include "migrec.h"
#include "op.h"
#include "pci.h"

/* Packs big-endian cells into a record, advancing the cursor. */
static uint8_t *put32(uint8_t *p, uint32_t v)
{
	fdt32_st(p, v);
	return p + 4;
}

static uint8_t *put64(uint8_t *p, uint64_t v)
{
	fdt64_st(p, v);
	return p + 8;
}

/*
 * Packs one record into @out (KHO_RECORD_SIZE bytes, zeroed by the
 * caller) and its inline data at @data + *@doff: the op, then its fields
 * as its row in lib/op.c lists them (u64 as two cells, anything narrower
 * as one, a PCI identity as five, the inline pointer as the offset of its
 * chunk).  That is the ABI documented in docs/format.md;
 * lib/handoff_read.c mirrors it.  handoff_check_input() has refused what
 * cannot be packed.
 */
static void rec_pack(const struct kho_rec *r, uint8_t *out, uint8_t *data,
		     uint32_t *doff)
{
	const struct kho_op_desc *d = kho_op_get(r->op);
	const struct kho_iova_range *rg;
	const struct kho_pci_id *pci;
	uint8_t *p = put32(out, r->op);
	size_t len = kho_rec_inline_len(r);
	uint32_t i, k, off = *doff;

	for (i = 0; i < d->nr_fields; i++) {
		const struct kho_op_field *f = &d->fields[i];

		switch (f->kind) {
		case KHO_FIELD_PCI:
			pci = (const void *)((const uint8_t *)r + f->offset);
			p = put32(p, pci->segment);
			p = put32(p, pci->bus);
			p = put32(p, pci->devfn);
			p = put32(p, pci->vendor);
			p = put32(p, pci->device);
			break;
		case KHO_FIELD_UUID:
			/* 16 bytes as they are: four cells of raw bytes */
			memcpy(p, (const uint8_t *)r + f->offset, 16);
			p += 16;
			break;
		case KHO_FIELD_INLINE:
			p = put32(p, off);
			if (!len)
				break;
			if (d->inl.kind == KHO_INLINE_BYTES) {
				memcpy(data + off,
				       *(void *const *)((const uint8_t *)r + f->offset),
				       len);
				break;
			}
			rg = *(void *const *)((const uint8_t *)r + f->offset);
			for (k = 0; k < len / sizeof(*rg); k++) {
				put64(data + off + k * 16, rg[k].start);
				put64(data + off + k * 16 + 8, rg[k].last);
			}
			break;
		default:
			if (f->size == 8)
				p = put64(p, kho_op_field_get(r, f));
			else
				p = put32(p, kho_op_field_get(r, f));
			break;
		}
	}
	*doff = off + kho_inline_pad(len);
}

/*
 * Fits a string into a fixed-size field, and would the reader take it
 * (printable ASCII only)?  Catches unterminated ones.  Refused here, a
 * name the reader would refuse fails capture before the kexec, not the
 * restore after it.
 */
static bool str_ok(const char *s, size_t size)
{
	size_t len = strnlen(s, size);

	return len < size && kho_str_printable(s, len);
}

/* Caller bugs the format cannot carry, found before any output. */
static int handoff_check_input(const struct kho_handoff *h, size_t *inline_len)
{
	const struct kho_state *s = &h->state;
	size_t i, total = 0;
	int err;

	if (!str_ok(h->tool_version, sizeof(h->tool_version)) ||
	    !str_ok(h->kernel_release, sizeof(h->kernel_release)) ||
	    !str_ok(h->journal_source, sizeof(h->journal_source)) ||
	    strchr(h->kernel_release, '/'))
		return -EINVAL;
	for (i = 0; i < s->nr_memfd; i++)
		if (!str_ok(s->memfd[i].name, sizeof(s->memfd[i].name)))
			return -EINVAL;
	for (i = 0; i < s->nr_dev; i++) {
		const struct kho_device *d = &s->dev[i];
		const struct kho_device_state *ds = &d->saved;
		size_t bad;

		if (!str_ok(d->driver, sizeof(d->driver)) ||
		    (d->migration_flags &&
		     !(d->migration_flags & VFIO_MIGRATION_STOP_COPY)))
			return -EINVAL;
		/* An mdev needs a reader that knows it: KHO_FORMAT_VERSION_MDEV. */
		if (kho_mdev_is(&d->mdev) &&
		    (h->min_reader_version < KHO_FORMAT_VERSION_MDEV ||
		     !kho_pci_is_none(&d->pci) ||
		     !str_ok(d->mdev.parent, sizeof(d->mdev.parent)) ||
		     !str_ok(d->mdev.type, sizeof(d->mdev.type)) ||
		     !kho_mdev_names_ok(&d->mdev)))
			return -EINVAL;
		/* The node needs a reader that knows it: KHO_FORMAT_VERSION_DEVSTATE. */
		if (ds->present &&
		    (h->min_reader_version < KHO_FORMAT_VERSION_DEVSTATE ||
		     !d->migration_probed || ds->flags != d->migration_flags ||
		     !ds->length || ds->length > KHO_DEVSTATE_MAX ||
		     kho_devstate_path_check(ds->flags, ds->path, ds->nr_path,
					     &bad)))
			return -EINVAL;
	}
	for (i = 0; i < s->nr_ioas; i++) {
		const struct kho_ioas *a = &s->ioas[i];

		/* A property length is an int. */
		if (a->nr_maps > INT_MAX / KHO_MAPPING_SIZE ||
		    a->nr_allowed > INT_MAX / 16 || a->huge_pages < -1 ||
		    (a->nr_maps && !a->maps) ||
		    (a->nr_allowed && !a->allowed))
			return -EINVAL;
	}
	for (i = 0; i < s->nr_hwpt; i++)
		if (s->hwpt[i].data_len && !s->hwpt[i].data)
			return -EINVAL;
	if (h->replay.nr > INT_MAX / KHO_RECORD_SIZE)
		return -EINVAL;
	/* The node needs a reader that knows it: see KHO_FORMAT_VERSION. */
	if (h->iommufd.present &&
	    (h->min_reader_version < KHO_FORMAT_VERSION_IOMMUFD ||
	     !h->iommufd.compatible[0] ||
	     !str_ok(h->iommufd.compatible, sizeof(h->iommufd.compatible)) ||
	     h->iommufd.nr_files > INT_MAX / KHO_FILE_TOKEN_SIZE ||
	     (h->iommufd.nr_files && !h->iommufd.files)))
		return -EINVAL;
	/* The node needs a reader that knows it: see KHO_FORMAT_VERSION_QEMU. */
	if (h->nr_qemu && h->min_reader_version < KHO_FORMAT_VERSION_QEMU)
		return -EINVAL;
	/* The op needs a reader that knows it: KHO_FORMAT_VERSION_MIG_OP. */
	err = kho_migrec_check(h, NULL);
	if (err)
		return err == -ENOMEM ? err : -EINVAL;
	/* The node needs a reader that knows it: KHO_FORMAT_VERSION_POISON. */
	if (h->nr_poison &&
	    (h->min_reader_version < KHO_FORMAT_VERSION_POISON || !h->poison ||
	     kho_handoff_poison_check(h, NULL)))
		return -EINVAL;
	for (i = 0; i < h->nr_qemu; i++) {
		const struct kho_handoff_qemu *q = &h->qemu[i];

		if (!q->name[0] || !str_ok(q->name, sizeof(q->name)) ||
		    !q->cpr_state_len || q->cpr_state_len > KHO_CPR_STATE_MAX ||
		    !q->cpr_state || q->nr_fd_tokens > KHO_CPR_MAX_FDS ||
		    (q->nr_fd_tokens && !q->fd_tokens))
			return -EINVAL;
	}
	for (i = 0; i < h->replay.nr; i++) {
		const struct kho_rec *r = &h->replay.recs[i];

		const struct kho_op_desc *d = kho_op_get(r->op);

		if (!d || (kho_rec_inline_len(r) &&
			   !*(void *const *)((const uint8_t *)r + d->inl.ptr)))
			return -EINVAL;
		total += kho_inline_pad(kho_rec_inline_len(r));
		if (total > INT_MAX)
			return -EINVAL;
	}
	*inline_len = total;
	return 0;
}

/* Writes one "name = <u32>" property. */
static int prop_u32(void *fdt, const char *name, uint32_t v)
{
	return fdt_property_u32(fdt, name, v);
}

static int prop_u64(void *fdt, const char *name, uint64_t v)
{
	return fdt_property_u64(fdt, name, v);
}

static int write_memfds(void *fdt, const struct kho_state *s)
{
	char name[40];
	size_t i;
	int err;

	err = fdt_begin_node(fdt, KHO_N_MEMFDS);
	for (i = 0; !err && i < s->nr_memfd; i++) {
		const struct kho_memfd *m = &s->memfd[i];

		snprintf(name, sizeof(name), "memfd-%llu",
			 (unsigned long long)m->token);
		err = fdt_begin_node(fdt, name);
		if (!err)
			err = prop_u64(fdt, "token", m->token);
		if (!err)
			err = prop_u64(fdt, "size", m->size);
		if (!err)
			err = prop_u32(fdt, "seals", m->seals);
		if (!err)
			err = fdt_property_string(fdt, "memfd-name", m->name);
		if (!err)
			err = fdt_end_node(fdt);
	}
	return err ? err : fdt_end_node(fdt);
}

static int write_device_state(void *fdt, const struct kho_device_state *ds)
{
	fdt32_t path[KHO_DEVSTATE_PATH_MAX];
	uint32_t i;
	int err;

	for (i = 0; i < ds->nr_path; i++)
		path[i] = cpu_to_fdt32(ds->path[i]);
	err = fdt_begin_node(fdt, KHO_N_DEVICE_STATE);
	if (!err)
		err = prop_u64(fdt, KHO_P_MEMFD_TOKEN, ds->memfd_token);
	if (!err)
		err = prop_u64(fdt, KHO_P_LENGTH, ds->length);
	if (!err)
		err = prop_u32(fdt, KHO_P_FLAGS, ds->flags);
	if (!err)
		err = fdt_property(fdt, KHO_P_FSM_PATH, path,
				   ds->nr_path * sizeof(path[0]));
	if (!err)
		err = prop_u32(fdt, KHO_P_CRC32, ds->crc32);
	return err ? err : fdt_end_node(fdt);
}

static int write_devices(void *fdt, const struct kho_state *s)
{
	char name[40];
	size_t i;
	int err;

	err = fdt_begin_node(fdt, KHO_N_DEVICES);
	for (i = 0; !err && i < s->nr_dev; i++) {
		const struct kho_device *d = &s->dev[i];
		fdt32_t addr[3] = { cpu_to_fdt32(d->pci.segment),
				    cpu_to_fdt32(d->pci.bus),
				    cpu_to_fdt32(d->pci.devfn) };
		fdt32_t pid[2] = { cpu_to_fdt32(d->pci.vendor),
				   cpu_to_fdt32(d->pci.device) };

		snprintf(name, sizeof(name), "device-%u", d->id);
		err = fdt_begin_node(fdt, name);
		if (!err)
			err = prop_u32(fdt, "id", d->id);
		if (!err && kho_mdev_is(&d->mdev)) {
			err = fdt_property(fdt, KHO_P_MDEV_UUID, d->mdev.uuid,
					   sizeof(d->mdev.uuid));
			if (!err)
				err = fdt_property_string(fdt, KHO_P_MDEV_PARENT,
							  d->mdev.parent);
			if (!err)
				err = fdt_property_string(fdt, KHO_P_MDEV_TYPE,
							  d->mdev.type);
		} else if (!err) {
			err = fdt_property(fdt, "pci-address", addr,
					   sizeof(addr));
			if (!err)
				err = fdt_property(fdt, "pci-id", pid,
						   sizeof(pid));
		}
		if (!err)
			err = fdt_property_string(fdt, "driver", d->driver);
		if (!err)
			err = prop_u32(fdt, "attached-pt", d->attached_pt);
		if (!err)
			err = prop_u32(fdt, "attach-flags", d->attach_flags);
		if (!err)
			err = prop_u32(fdt, "pasid", d->pasid);
		/* Optional: a reader that does not know it ignores it. */
		if (!err && d->migration_probed)
			err = prop_u32(fdt, KHO_P_MIGRATION_FLAGS,
				       d->migration_flags);
		if (!err && d->saved.present)
			err = write_device_state(fdt, &d->saved);
		if (!err)
			err = fdt_end_node(fdt);
	}
	return err ? err : fdt_end_node(fdt);
}

static int write_ioas(void *fdt, const struct kho_ioas *a)
{
	char name[40];
	uint8_t *p;
	void *val;
	size_t i;
	int err;

	snprintf(name, sizeof(name), "ioas-%u", a->id);
	err = fdt_begin_node(fdt, name);
	if (!err)
		err = prop_u32(fdt, "id", a->id);
	if (!err && a->nr_allowed) {
		err = fdt_property_placeholder(fdt, "allowed-iovas",
					       (int)a->nr_allowed * 16, &val);
		for (i = 0, p = val; !err && i < a->nr_allowed; i++) {
			p = put64(p, a->allowed[i].start);
			p = put64(p, a->allowed[i].last);
		}
	}
	if (!err && a->huge_pages >= 0)
		err = prop_u64(fdt, "huge-pages", (uint64_t)a->huge_pages);
	if (!err && a->nr_maps) {
		err = fdt_property_placeholder(fdt, "mappings",
					       (int)a->nr_maps *
					       KHO_MAPPING_SIZE, &val);
		for (i = 0, p = val; !err && i < a->nr_maps; i++) {
			const struct kho_mapping *m = &a->maps[i];

			p = put64(p, m->iova);
			p = put64(p, m->length);
			p = put64(p, m->offset);
			p = put64(p, m->memfd_token);
			p = put32(p, m->flags);
		}
	}
	return err ? err : fdt_end_node(fdt);
}

static int write_ioases(void *fdt, const struct kho_state *s)
{
	size_t i;
	int err;

	err = fdt_begin_node(fdt, KHO_N_IOASES);
	if (!err)
		err = prop_u32(fdt, KHO_P_MAPPING_CELLS, KHO_MAPPING_CELLS);
	for (i = 0; !err && i < s->nr_ioas; i++)
		err = write_ioas(fdt, &s->ioas[i]);
	return err ? err : fdt_end_node(fdt);
}

static int write_hwpts(void *fdt, const struct kho_state *s)
{
	char name[40];
	size_t i;
	int err;

	err = fdt_begin_node(fdt, KHO_N_HWPTS);
	for (i = 0; !err && i < s->nr_hwpt; i++) {
		const struct kho_hwpt *w = &s->hwpt[i];

		snprintf(name, sizeof(name), "hwpt-%u", w->id);
		err = fdt_begin_node(fdt, name);
		if (!err)
			err = prop_u32(fdt, "id", w->id);
		if (!err)
			err = prop_u32(fdt, "pt-id", w->pt_id);
		if (!err)
			err = prop_u32(fdt, "dev-id", w->dev_id);
		if (!err)
			err = prop_u32(fdt, "flags", w->flags);
		if (!err && w->auto_domain)
			err = fdt_property(fdt, "auto-domain", NULL, 0);
		if (!err && w->dirty_tracking)
			err = fdt_property(fdt, "dirty-tracking", NULL, 0);
		if (!err)
			err = prop_u32(fdt, "data-type", w->data_type);
		if (!err && w->data_len)
			err = fdt_property(fdt, "data", w->data,
					   (int)w->data_len);
		if (!err)
			err = fdt_end_node(fdt);
	}
	return err ? err : fdt_end_node(fdt);
}

static int write_journal(void *fdt, const struct kho_handoff *h,
			 size_t inline_len)
{
	const struct kho_journal *j = &h->replay;
	void *recs = NULL, *data = NULL;
	uint32_t doff = 0;
	size_t i;
	int err;

	err = fdt_begin_node(fdt, KHO_N_JOURNAL);
	if (!err)
		err = prop_u32(fdt, KHO_P_RECORD_CELLS, KHO_RECORD_CELLS);
	if (!err)
		err = prop_u64(fdt, "journal-length", h->journal_length);
	if (!err && j->nr)
		err = fdt_property_placeholder(fdt, "records",
					       (int)j->nr * KHO_RECORD_SIZE,
					       &recs);
	if (!err && inline_len)
		err = fdt_property_placeholder(fdt, "inline-data",
					       (int)inline_len, &data);
	if (err)
		return err;
	/* Placeholders are not zeroed: records and padding must be. */
	if (recs)
		memset(recs, 0, j->nr * KHO_RECORD_SIZE);
	if (data)
		memset(data, 0, inline_len);
	for (i = 0; i < j->nr; i++)
		rec_pack(&j->recs[i], (uint8_t *)recs + i * KHO_RECORD_SIZE,
			 data, &doff);
	return fdt_end_node(fdt);
}

/* The preserved iommufd (format 2): absent unless capture preserved it. */
static int write_iommufd(void *fdt, const struct kho_handoff_iommufd *io)
{
	uint8_t *pairs = NULL;
	size_t i;
	int err;

	err = fdt_begin_node(fdt, KHO_N_IOMMUFD);
	if (!err)
		err = fdt_property_string(fdt, KHO_P_COMPATIBLE, io->compatible);
	if (!err)
		err = prop_u64(fdt, KHO_P_TOKEN, io->token);
	if (!err)
		err = prop_u64(fdt, KHO_P_JOURNAL_LENGTH, io->journal_length);
	if (!err && io->nr_files)
		err = fdt_property_placeholder(fdt, KHO_P_FILE_TOKENS,
					       (int)(io->nr_files *
						     KHO_FILE_TOKEN_SIZE),
					       (void **)&pairs);
	if (err)
		return err;
	for (i = 0; i < io->nr_files; i++) {
		fdt64_st(pairs + i * KHO_FILE_TOKEN_SIZE, io->files[i].ino);
		fdt64_st(pairs + i * KHO_FILE_TOKEN_SIZE + 8,
			 io->files[i].token);
	}
	return fdt_end_node(fdt);
}

/* QEMUs carried by cpr-transfer (format 3): absent without any. */
static int write_qemu(void *fdt, const struct kho_handoff *h)
{
	char name[32];
	uint8_t *toks;
	size_t i, k;
	int err;

	err = fdt_begin_node(fdt, KHO_N_QEMU_CPR);
	for (i = 0; !err && i < h->nr_qemu; i++) {
		const struct kho_handoff_qemu *q = &h->qemu[i];

		snprintf(name, sizeof(name), "qemu-%zu", i);
		err = fdt_begin_node(fdt, name);
		if (!err)
			err = fdt_property_string(fdt, KHO_P_VMM_NAME, q->name);
		if (!err)
			err = fdt_property(fdt, KHO_P_CPR_STATE, q->cpr_state,
					   (int)q->cpr_state_len);
		if (!err)
			err = fdt_property_placeholder(fdt, KHO_P_FD_TOKENS,
						       (int)(q->nr_fd_tokens * 8),
						       (void **)&toks);
		for (k = 0; !err && k < q->nr_fd_tokens; k++)
			fdt64_st(toks + k * 8, q->fd_tokens[k]);
		if (!err)
			err = prop_u64(fdt, KHO_P_STREAM_TOKEN, q->stream_token);
		if (!err)
			err = prop_u64(fdt, KHO_P_STREAM_LENGTH, q->stream_length);
		if (!err)
			err = fdt_end_node(fdt);
	}
	return err ? err : fdt_end_node(fdt);
}

/* The poison list (format 6): absent without any. */
static int write_poison(void *fdt, const struct kho_handoff *h)
{
	uint8_t *p;
	size_t i;
	int err;

	err = fdt_begin_node(fdt, KHO_N_POISON);
	if (!err)
		err = prop_u32(fdt, KHO_P_RANGE_CELLS, KHO_POISON_CELLS);
	if (!err)
		err = fdt_property_placeholder(fdt, KHO_P_RANGES,
					       (int)(h->nr_poison *
						     KHO_POISON_SIZE),
					       (void **)&p);
	for (i = 0; !err && i < h->nr_poison; i++) {
		p = put64(p, h->poison[i].memfd_token);
		p = put64(p, h->poison[i].offset);
		p = put64(p, h->poison[i].length);
	}
	return err ? err : fdt_end_node(fdt);
}

/* The whole tree into a buffer of @size; Return: 0 or a libfdt error. */
static int handoff_write(void *fdt, int size, const struct kho_handoff *h,
			 size_t inline_len)
{
	int err;

	err = fdt_create(fdt, size);
	if (!err)
		err = fdt_finish_reservemap(fdt);
	if (!err)
		err = fdt_begin_node(fdt, "");
	if (!err)
		err = fdt_property_string(fdt, KHO_P_COMPATIBLE,
					  KHO_HANDOFF_COMPATIBLE);
	if (!err)
		err = prop_u32(fdt, KHO_P_FORMAT_VERSION, h->format_version);
	if (!err)
		err = prop_u32(fdt, KHO_P_MIN_READER, h->min_reader_version);
	if (!err)
		err = fdt_property_string(fdt, KHO_P_TOOL_VERSION,
					  h->tool_version);
	if (!err)
		err = fdt_property_string(fdt, KHO_P_KERNEL_RELEASE,
					  h->kernel_release);
	if (!err)
		err = prop_u64(fdt, KHO_P_CREATED, h->created);
	/* Optional: absent keeps the blob byte-identical to older writers'. */
	if (!err && h->journal_source[0])
		err = fdt_property_string(fdt, KHO_P_JOURNAL_SOURCE,
					  h->journal_source);
	/* Zero now, stamped over the finished blob. */
	if (!err)
		err = prop_u32(fdt, KHO_P_CRC32, 0);
	if (!err)
		err = write_memfds(fdt, &h->state);
	if (!err)
		err = write_devices(fdt, &h->state);
	if (!err)
		err = write_ioases(fdt, &h->state);
	if (!err)
		err = write_hwpts(fdt, &h->state);
	if (!err)
		err = write_journal(fdt, h, inline_len);
	if (!err && h->iommufd.present)
		err = write_iommufd(fdt, &h->iommufd);
	if (!err && h->nr_qemu)
		err = write_qemu(fdt, h);
	if (!err && h->nr_poison)
		err = write_poison(fdt, h);
	if (!err)
		err = fdt_end_node(fdt);
	if (!err)
		err = fdt_finish(fdt);
	return err;
}

/* Generous for the fixed part, exact for the arrays that dominate. */
static size_t handoff_size_guess(const struct kho_handoff *h,
				 size_t inline_len)
{
	const struct kho_state *s = &h->state;
	size_t size = 4096 + inline_len, i;

	size += (s->nr_memfd + s->nr_dev + s->nr_hwpt + s->nr_ioas) * 256;
	for (i = 0; i < s->nr_ioas; i++)
		size += s->ioas[i].nr_maps * KHO_MAPPING_SIZE +
			s->ioas[i].nr_allowed * 16;
	for (i = 0; i < s->nr_hwpt; i++)
		size += s->hwpt[i].data_len;
	size += h->iommufd.nr_files * KHO_FILE_TOKEN_SIZE;
	for (i = 0; i < h->nr_qemu; i++)
		size += 256 + h->qemu[i].cpr_state_len +
			h->qemu[i].nr_fd_tokens * 8;
	size += h->nr_poison * KHO_POISON_SIZE;
	return size + h->replay.nr * KHO_RECORD_SIZE;
}

int kho_handoff_encode(const struct kho_handoff *h, void **blob, size_t *len)
{
	size_t inline_len, size;
	void *fdt = NULL, *small;
	int err;

	err = handoff_check_input(h, &inline_len);
	if (err)
		return err;
	size = handoff_size_guess(h, inline_len);
	for (;;) {
		if (size > INT_MAX)
			return -EINVAL;
		fdt = malloc(size);
		if (!fdt)
			return -ENOMEM;
		err = handoff_write(fdt, (int)size, h, inline_len);
		if (err != -FDT_ERR_NOSPACE)
			break;
		free(fdt);
		size *= 2;
	}
	if (err) {
		free(fdt);
		return kho_fdt_errno(err);
	}
	err = kho_handoff_stamp(fdt, fdt_totalsize(fdt), NULL);
	if (err) {
		free(fdt);
		return -EINVAL;
	}
	*len = fdt_totalsize(fdt);
	small = realloc(fdt, *len);
	*blob = small ? small : fdt;
	return 0;
}
