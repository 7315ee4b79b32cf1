// SPDX-License-Identifier: GPL-2.0
/* kho-tool inspect: prints a hand-off for people, or as JSON for programs. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <linux/iommufd.h>

#include "args.h"
#include "commands.h"
#include "file.h"
#include "handoff.h"
#include "handoff_print.h"
#include "journal.h"
#include "mdev.h"
#include "state.h"
#include "devstate.h"
#include "vfio_mig.h"

static int inspect_usage(FILE *out, int code)
{
	fprintf(out, "usage: kho-tool inspect [--json] FILE\n"
		"  prints the metadata, memfds, devices, IOASes with their mappings,\n"
		"  HWPTs and the replay plan of a hand-off blob\n");
	return code;
}

static const char *inspect_rw(uint32_t flags)
{
	static const char *const rw[] = { "--", "r-", "-w", "rw" };

	return rw[(flags & IOMMU_IOAS_MAP_READABLE ? 1 : 0) |
		  (flags & IOMMU_IOAS_MAP_WRITEABLE ? 2 : 0)];
}

/* A hand-off string for a terminal: escaped, so a forged one prints as
 * what it is instead of driving the terminal.  Four calls a line at most. */
static const char *inspect_str(const char *str)
{
	static char ring[4][512];
	static unsigned int next;
	char *b = ring[next++ % 4];

	kho_text_escape(b, sizeof(ring[0]), str);
	return b;
}

static void inspect_text(FILE *out, const char *path, size_t len,
			 const struct kho_handoff *h)
{
	const struct kho_state *s = &h->state;
	char when[32] = "?", flags[48], fsm[160], label[KHO_DEVICE_LABEL_LEN];
	time_t t = (time_t)h->created;
	struct tm tm;
	size_t i, k;

	if (gmtime_r(&t, &tm))
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	fprintf(out, "hand-off %s: %zu bytes\n", inspect_str(path), len);
	fprintf(out, "  format-version %u, min-reader-version %u\n",
		h->format_version, h->min_reader_version);
	fprintf(out, "  written by kho-tool %s on kernel %s at %s\n",
		inspect_str(h->tool_version), inspect_str(h->kernel_release),
		when);
	fprintf(out, "  journal: %" PRIu64 " records before compaction, %zu in the replay plan\n",
		h->journal_length, h->replay.nr);
	if (h->iommufd.present) {
		fprintf(out, "  iommufd: preserved by %s under token 0x%" PRIx64 ", %" PRIu64 " journal records: the restore replays all of them into it, verified by the kernel\n",
			inspect_str(h->iommufd.compatible), h->iommufd.token,
			h->iommufd.journal_length);
		for (i = 0; i < h->iommufd.nr_files; i++)
			fprintf(out, "    file inode %" PRIu64 " -> memfd token %" PRIu64 "\n",
				h->iommufd.files[i].ino,
				h->iommufd.files[i].token);
	}
	fprintf(out, "memfds: %zu\n", s->nr_memfd);
	for (i = 0; i < s->nr_memfd; i++)
		fprintf(out, "  token %" PRIu64 ": \"%s\" size 0x%" PRIx64 " seals 0x%x\n",
			s->memfd[i].token, inspect_str(s->memfd[i].name),
			s->memfd[i].size,
			s->memfd[i].seals);
	fprintf(out, "devices: %zu\n", s->nr_dev);
	for (i = 0; i < s->nr_dev; i++) {
		const struct kho_device *d = &s->dev[i];

		if (kho_mdev_is(&d->mdev))
			fprintf(out, "  device %u: %s driver %s, ", d->id,
				inspect_str(kho_mdev_name(&d->mdev, label,
							  sizeof(label))),
				inspect_str(d->driver));
		else
			fprintf(out, "  device %u: %04x:%02x:%02x.%x [%04x:%04x] driver %s, ",
				d->id, d->pci.segment, d->pci.bus,
				d->pci.devfn >> 3, d->pci.devfn & 7,
				d->pci.vendor, d->pci.device,
				inspect_str(d->driver));
		if (d->attached_pt)
			/* an emulated device's access: to the IOAS itself */
			fprintf(out, "attached to %s %u (flags 0x%x, pasid %u)",
				kho_state_find_ioas(s, d->attached_pt) ?
				"IOAS" : "HWPT", d->attached_pt,
				d->attach_flags, d->pasid);
		else
			fprintf(out, "not attached");
		if (d->migration_probed)
			fprintf(out, ", migration %s",
				kho_vfio_migration_str(d->migration_flags, flags,
						       sizeof(flags)));
		else
			fprintf(out, ", migration not probed");
		if (d->saved.present)
			fprintf(out, ": state carried, %llu bytes in memfd %llu (crc32 0x%08x), saved %s\n",
				(unsigned long long)d->saved.length,
				(unsigned long long)d->saved.memfd_token,
				d->saved.crc32,
				kho_devstate_path_str(d->saved.path,
						      d->saved.nr_path, fsm,
						      sizeof(fsm)));
		else
			fprintf(out, ": state reset\n");
	}
	fprintf(out, "ioases: %zu\n", s->nr_ioas);
	for (i = 0; i < s->nr_ioas; i++) {
		const struct kho_ioas *a = &s->ioas[i];

		fprintf(out, "  IOAS %u: %zu mappings, huge-pages ", a->id,
			a->nr_maps);
		if (a->huge_pages < 0)
			fprintf(out, "unset\n");
		else
			fprintf(out, "%" PRId64 "\n", a->huge_pages);
		for (k = 0; k < a->nr_allowed; k++)
			fprintf(out, "    allowed 0x%" PRIx64 "..0x%" PRIx64 "\n",
				a->allowed[k].start, a->allowed[k].last);
		for (k = 0; k < a->nr_maps; k++)
			fprintf(out, "    map 0x%" PRIx64 "+0x%" PRIx64 " %s <- memfd %" PRIu64 " @0x%" PRIx64 "\n",
				a->maps[k].iova, a->maps[k].length,
				inspect_rw(a->maps[k].flags),
				a->maps[k].memfd_token, a->maps[k].offset);
	}
	fprintf(out, "hwpts: %zu\n", s->nr_hwpt);
	for (i = 0; i < s->nr_hwpt; i++) {
		const struct kho_hwpt *w = &s->hwpt[i];

		fprintf(out, "  HWPT %u: on %u, device %u, flags 0x%x%s%s, data-type %u, %u bytes of data\n",
			w->id, w->pt_id, w->dev_id, w->flags,
			w->auto_domain ? ", auto domain" : "",
			w->dirty_tracking ? ", dirty tracking" : "",
			w->data_type, w->data_len);
	}
	/* Each one restored by `kho-tool cpr-relay --restore --vmm NAME`. */
	if (h->nr_qemu)
		fprintf(out, "qemu-cpr: %zu QEMUs\n", h->nr_qemu);
	for (i = 0; i < h->nr_qemu; i++)
		fprintf(out, "  %s: CPR state %zu bytes, %zu fds, stream %" PRIu64 " bytes (memfd token %" PRIu64 ")\n",
			inspect_str(h->qemu[i].name), h->qemu[i].cpr_state_len,
			h->qemu[i].nr_fd_tokens, h->qemu[i].stream_length,
			h->qemu[i].stream_token);
	/* Left unmapped by the replay, handed to the VMM to poison again. */
	if (h->nr_poison)
		fprintf(out, "poison: %zu ranges, unmapped and punched out of their memfds\n",
			h->nr_poison);
	for (i = 0; i < h->nr_poison; i++)
		fprintf(out, "  memfd %" PRIu64 ": 0x%" PRIx64 "+0x%" PRIx64 " (%" PRIu64 " pages)\n",
			h->poison[i].memfd_token, h->poison[i].offset,
			h->poison[i].length,
			h->poison[i].length / KHO_POISON_PAGE);
	fprintf(out, "replay plan: %zu records\n", h->replay.nr);
	for (i = 0; i < h->replay.nr; i++) {
		char line[512];

		/* A truncated line still says what the record is. */
		kho_rec_format(&h->replay.recs[i], line, sizeof(line));
		fprintf(out, "  %4zu %s\n", i, line);
	}
}

/* A carried device's state: size, memfd, the FSM path it was saved by. */
static void json_device_state(FILE *out, const struct kho_device_state *ds)
{
	uint32_t i;

	fprintf(out, ",\"state\":\"carried\",\"device_state\":{\"memfd_token\":\"0x%" PRIx64 "\",\"length\":\"0x%" PRIx64 "\",\"flags\":%u,\"crc32\":%u,\"fsm_path\":[",
		ds->memfd_token, ds->length, ds->flags, ds->crc32);
	for (i = 0; i < ds->nr_path; i++)
		fprintf(out, "%s\"%s\"", i ? "," : "",
			kho_devstate_name(ds->path[i]));
	fprintf(out, "]}}");
}

/*
 * Values that may exceed 2^53 (IOVAs, lengths, offsets, tokens, sizes) are
 * "0x..." strings, as in kho_journal_print_json(): no JSON reader rounds
 * them.
 */
static void inspect_json(FILE *out, const char *path, size_t len,
			 const struct kho_handoff *h)
{
	const struct kho_state *s = &h->state;
	char flags[48], label[KHO_MDEV_UUID_LEN];
	size_t i, k;

	fprintf(out, "{\"file\":");
	kho_json_str(out, path);
	fprintf(out, ",\"bytes\":%zu,\"format_version\":%u,\"min_reader_version\":%u,\"tool_version\":",
		len, h->format_version, h->min_reader_version);
	kho_json_str(out, h->tool_version);
	fprintf(out, ",\"kernel_release\":");
	kho_json_str(out, h->kernel_release);
	fprintf(out, ",\"created\":%" PRIu64 ",\"journal_length\":%" PRIu64,
		h->created, h->journal_length);
	fprintf(out, ",\"memfds\":[");
	for (i = 0; i < s->nr_memfd; i++) {
		fprintf(out, "%s{\"token\":\"0x%" PRIx64 "\",\"size\":\"0x%" PRIx64 "\",\"seals\":%u,\"name\":",
			i ? "," : "", s->memfd[i].token, s->memfd[i].size,
			s->memfd[i].seals);
		kho_json_str(out, s->memfd[i].name);
		fputc('}', out);
	}
	fprintf(out, "],\"devices\":[");
	for (i = 0; i < s->nr_dev; i++) {
		const struct kho_device *d = &s->dev[i];

		if (kho_mdev_is(&d->mdev)) {
			/* an mdev has no PCI identity: its UUID, parent, type */
			fprintf(out, "%s{\"id\":%u,\"pci\":null,\"mdev\":{\"uuid\":\"%s\",\"parent\":",
				i ? "," : "", d->id,
				kho_mdev_uuid_str(d->mdev.uuid, label,
						  sizeof(label)));
			kho_json_str(out, d->mdev.parent);
			fprintf(out, ",\"type\":");
			kho_json_str(out, d->mdev.type);
			fprintf(out, "},\"driver\":");
		} else {
			fprintf(out, "%s{\"id\":%u,\"pci\":\"%04x:%02x:%02x.%x\",\"vendor\":%u,\"device\":%u,\"driver\":",
				i ? "," : "", d->id, d->pci.segment,
				d->pci.bus, d->pci.devfn >> 3,
				d->pci.devfn & 7, d->pci.vendor,
				d->pci.device);
		}
		kho_json_str(out, d->driver);
		fprintf(out, ",\"attached_pt\":%u,\"attach_flags\":%u,\"pasid\":%u",
			d->attached_pt, d->attach_flags, d->pasid);
		if (d->migration_probed)
			fprintf(out, ",\"migration\":\"%s\",\"migration_flags\":%u",
				kho_vfio_migration_str(d->migration_flags,
						       flags, sizeof(flags)),
				d->migration_flags);
		else
			fprintf(out, ",\"migration\":null");
		if (d->saved.present)
			json_device_state(out, &d->saved);
		else
			fprintf(out, ",\"state\":\"reset\"}");
	}
	fprintf(out, "],\"ioases\":[");
	for (i = 0; i < s->nr_ioas; i++) {
		const struct kho_ioas *a = &s->ioas[i];

		fprintf(out, "%s{\"id\":%u,\"huge_pages\":", i ? "," : "",
			a->id);
		if (a->huge_pages < 0)
			fprintf(out, "null");
		else
			fprintf(out, "%" PRId64, a->huge_pages);
		fprintf(out, ",\"allowed_iovas\":[");
		for (k = 0; k < a->nr_allowed; k++)
			fprintf(out, "%s{\"start\":\"0x%" PRIx64 "\",\"last\":\"0x%" PRIx64 "\"}", k ? "," : "",
				a->allowed[k].start, a->allowed[k].last);
		fprintf(out, "],\"mappings\":[");
		for (k = 0; k < a->nr_maps; k++)
			fprintf(out, "%s{\"iova\":\"0x%" PRIx64 "\",\"length\":\"0x%" PRIx64 "\",\"memfd_token\":\"0x%" PRIx64 "\",\"offset\":\"0x%" PRIx64 "\",\"flags\":%u}",
				k ? "," : "", a->maps[k].iova,
				a->maps[k].length, a->maps[k].memfd_token,
				a->maps[k].offset, a->maps[k].flags);
		fprintf(out, "]}");
	}
	fprintf(out, "],\"hwpts\":[");
	for (i = 0; i < s->nr_hwpt; i++) {
		const struct kho_hwpt *w = &s->hwpt[i];

		fprintf(out, "%s{\"id\":%u,\"pt_id\":%u,\"dev_id\":%u,\"flags\":%u,\"auto_domain\":%s,\"dirty_tracking\":%s,\"data_type\":%u,\"data_len\":%u}",
			i ? "," : "", w->id, w->pt_id, w->dev_id, w->flags,
			w->auto_domain ? "true" : "false",
			w->dirty_tracking ? "true" : "false", w->data_type,
			w->data_len);
	}
	fprintf(out, "]");
	if (h->iommufd.present) {
		fprintf(out, ",\"iommufd\":{\"compatible\":");
		kho_json_str(out, h->iommufd.compatible);
		fprintf(out, ",\"token\":\"0x%" PRIx64 "\",\"journal_length\":%" PRIu64 ",\"files\":[",
			h->iommufd.token, h->iommufd.journal_length);
		for (k = 0; k < h->iommufd.nr_files; k++)
			fprintf(out, "%s{\"ino\":%" PRIu64 ",\"token\":\"0x%" PRIx64 "\"}",
				k ? "," : "", h->iommufd.files[k].ino,
				h->iommufd.files[k].token);
		fprintf(out, "]}");
	}
	fprintf(out, ",\"poison\":[");
	for (k = 0; k < h->nr_poison; k++)
		fprintf(out, "%s{\"memfd_token\":\"0x%" PRIx64 "\",\"offset\":\"0x%" PRIx64 "\",\"length\":\"0x%" PRIx64 "\"}",
			k ? "," : "", h->poison[k].memfd_token,
			h->poison[k].offset, h->poison[k].length);
	fprintf(out, "]");
	fprintf(out, ",\"replay\":");
	kho_journal_print_json(&h->replay, out);
	fprintf(out, "}\n");
}

int cmd_inspect(int argc, char **argv)
{
	bool json = false;
	const struct arg_opt opts[] = {
		{ "json", 'j', ARG_FLAG, &json },
		{ NULL },
	};
	struct kho_diag diag = { "" };
	struct kho_handoff h;
	const char *path;
	bool readable;
	size_t len;
	int err;

	err = parse_args("inspect", argc, argv, opts, 1, inspect_usage);
	if (err >= 0)
		return err;
	path = argv[optind];
	err = load_handoff(path, &h, &len, &readable, &diag);
	if (err)
		return print_load_error("inspect", path, err, readable, &diag);
	if (json)
		inspect_json(stdout, path, len, &h);
	else
		inspect_text(stdout, path, len, &h);
	kho_handoff_free(&h);
	return KHO_EXIT_OK;
}
