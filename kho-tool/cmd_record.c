// SPDX-License-Identifier: GPL-2.0
/* kho-tool record: fetch and show what a running VMM's recorder has journaled. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "capture.h"
#include "commands.h"
#include "compact.h"
#include "escape.h"
#include "handoff.h"
#include "journal.h"
#include "journal_sock.h"
#include "mdev.h"
#include "state.h"

struct cmd_record_summary {
	size_t ops[KHO_OP_MAX + 1];
	size_t live_maps;
	size_t replay_length;
	int compact_err;
	char compact_msg[sizeof(((struct kho_diag *)0)->msg)];
	/*
	 * Per device of the snapshot, the HWPT it is attached to after the
	 * fold (0: detached; CMD_RECORD_PT_UNKNOWN: the fold failed).  The
	 * snapshot's own device table carries no attachment: the recorder
	 * leaves that to the journal (lib/record.c), so printing it said
	 * "pt 0" for every device.
	 */
	uint32_t *attached_pt;
};

#define CMD_RECORD_PT_UNKNOWN UINT32_MAX

/* Folds the raw journal as capture will: live maps and replay length. */
static void cmd_record_summarise(const struct kho_journal_snapshot *snap,
				 struct cmd_record_summary *s)
{
	struct kho_journal plan, flat;
	struct kho_state state;
	struct kho_diag diag = { "" };
	size_t i;

	memset(s, 0, sizeof(*s));
	s->attached_pt = calloc(snap->state.nr_dev + 1, sizeof(*s->attached_pt));
	for (i = 0; s->attached_pt && i < snap->state.nr_dev; i++)
		s->attached_pt[i] = CMD_RECORD_PT_UNKNOWN;
	for (i = 0; i < snap->journal.nr; i++)
		if (snap->journal.recs[i].op <= KHO_OP_MAX)
			s->ops[snap->journal.recs[i].op]++;
	/* as capture does: the memfd table first, then the journal */
	kho_state_init(&state);
	for (i = 0; i < snap->state.nr_memfd; i++) {
		s->compact_err = kho_state_add_memfd(&state, &snap->state.memfd[i]);
		if (s->compact_err) {
			snprintf(s->compact_msg, sizeof(s->compact_msg),
				 "memfd token %llu: %s",
				 (unsigned long long)snap->state.memfd[i].token,
				 strerror(-s->compact_err));
			kho_state_free(&state);
			return;
		}
	}
	s->compact_err = kho_compact(&snap->journal, &state, &plan, &diag);
	if (s->compact_err) {
		snprintf(s->compact_msg, sizeof(s->compact_msg), "%s", diag.msg);
		kho_state_free(&state);
		return;
	}
	for (i = 0; i < state.nr_ioas; i++)
		s->live_maps += state.ioas[i].nr_maps;
	for (i = 0; s->attached_pt && i < snap->state.nr_dev; i++) {
		const struct kho_device *d =
			kho_state_find_dev(&state, snap->state.dev[i].id);

		s->attached_pt[i] = d ? d->attached_pt : 0;
	}
	kho_journal_init(&flat);
	s->compact_err = kho_plan_expand(&plan, &state, &flat, &diag);
	if (s->compact_err)
		snprintf(s->compact_msg, sizeof(s->compact_msg), "%s", diag.msg);
	s->replay_length = flat.nr;
	kho_journal_free(&flat);
	kho_journal_free(&plan);
	kho_state_free(&state);
}

static uint32_t cmd_record_pt(const struct cmd_record_summary *s, size_t i)
{
	return s->attached_pt ? s->attached_pt[i] : CMD_RECORD_PT_UNKNOWN;
}

/*
 * The recorder drops each MAP with the UNMAP that cancels it at the
 * journal's tail; the length it reports counts both.
 */
static uint64_t cmd_record_elided(const struct kho_journal_snapshot *snap)
{
	return snap->journal_length > snap->journal.nr ?
	       (snap->journal_length - snap->journal.nr) / 2 : 0;
}

static void cmd_record_print_json(int pid, const struct kho_journal_snapshot *snap,
				  const struct cmd_record_summary *s,
				  const char *reason, FILE *out)
{
	char uuid[KHO_MDEV_UUID_LEN];
	size_t i;
	bool first = true;

	fprintf(out, "{\"pid\":%d,\"records\":%llu,\"held\":%zu,\"elided_pairs\":%llu,\"ops\":{",
		pid, (unsigned long long)snap->journal_length, snap->journal.nr,
		(unsigned long long)cmd_record_elided(snap));
	for (i = 1; i <= KHO_OP_MAX; i++) {
		if (!s->ops[i])
			continue;
		fprintf(out, "%s\"%s\":%zu", first ? "" : ",", kho_op_name(i),
			s->ops[i]);
		first = false;
	}
	fprintf(out, "},\"live_maps\":%zu,\"replay_length\":%zu,",
		s->live_maps, s->replay_length);
	fprintf(out, "\"compact_error\":");
	if (s->compact_err)
		kho_json_str(out, s->compact_msg);
	else
		fprintf(out, "null");
	fprintf(out, ",\"memfds\":[");
	for (i = 0; i < snap->state.nr_memfd; i++) {
		const struct kho_memfd *m = &snap->state.memfd[i];

		fprintf(out, "%s{\"token\":%llu,\"size\":%llu,\"seals\":%u,\"name\":",
			i ? "," : "", (unsigned long long)m->token,
			(unsigned long long)m->size, m->seals);
		kho_json_str(out, m->name);
		fputc('}', out);
	}
	fprintf(out, "],\"devices\":[");
	for (i = 0; i < snap->state.nr_dev; i++) {
		const struct kho_device *d = &snap->state.dev[i];

		uint32_t pt = cmd_record_pt(s, i);

		if (kho_mdev_is(&d->mdev))
			fprintf(out, "%s{\"devid\":%u,\"pci\":null,\"mdev\":\"%s\",\"attached_pt\":",
				i ? "," : "", d->id,
				kho_mdev_uuid_str(d->mdev.uuid, uuid,
						  sizeof(uuid)));
		else
			fprintf(out, "%s{\"devid\":%u,\"pci\":\"%04x:%02x:%02x.%x\",\"vendor\":\"%04x\",\"device\":\"%04x\",\"attached_pt\":",
				i ? "," : "", d->id, d->pci.segment,
				d->pci.bus, d->pci.devfn >> 3,
				d->pci.devfn & 7, d->pci.vendor,
				d->pci.device);
		if (pt == CMD_RECORD_PT_UNKNOWN)
			fprintf(out, "null,\"driver\":");
		else
			fprintf(out, "%u,\"driver\":", pt);
		kho_json_str(out, d->driver);
		fputc('}', out);
	}
	fprintf(out, "],\"preservable\":%s,\"reason\":",
		reason ? "false" : "true");
	if (reason)
		kho_json_str(out, reason);
	else
		fprintf(out, "null");
	fprintf(out, "}\n");
}

static void cmd_record_print(int pid, const struct kho_journal_snapshot *snap,
			     const struct cmd_record_summary *s,
			     const char *reason, FILE *out)
{
	size_t i;

	fprintf(out, "pid %d: %llu records, %zu held (%llu map/unmap pairs elided as they happened)",
		pid, (unsigned long long)snap->journal_length, snap->journal.nr,
		(unsigned long long)cmd_record_elided(snap));
	for (i = 1; i <= KHO_OP_MAX; i++)
		if (s->ops[i])
			fprintf(out, "%s %s %zu", i == 1 ? " (" : ",",
				kho_op_name(i), s->ops[i]);
	fprintf(out, "\n");
	if (s->compact_err)
		fprintf(out, "compaction: %s\n", s->compact_msg);
	else
		fprintf(out, "live maps %zu, replay length %zu (journal %llu)\n",
			s->live_maps, s->replay_length,
			(unsigned long long)snap->journal_length);
	for (i = 0; i < snap->state.nr_memfd; i++)
		fprintf(out, "memfd token %llu: \"%s\" %llu bytes seals 0x%x\n",
			(unsigned long long)snap->state.memfd[i].token,
			snap->state.memfd[i].name,
			(unsigned long long)snap->state.memfd[i].size,
			snap->state.memfd[i].seals);
	for (i = 0; i < snap->state.nr_dev; i++) {
		const struct kho_device *d = &snap->state.dev[i];

		uint32_t pt = cmd_record_pt(s, i);
		char where[48], label[KHO_DEVICE_LABEL_LEN];

		if (pt == CMD_RECORD_PT_UNKNOWN)
			snprintf(where, sizeof(where),
				 "attachment unknown (compaction failed)");
		else if (pt)
			snprintf(where, sizeof(where), "attached to HWPT %u", pt);
		else
			snprintf(where, sizeof(where), "not attached");
		if (kho_mdev_is(&d->mdev))
			fprintf(out, "device %u: %s %s, %s\n", d->id,
				kho_mdev_name(&d->mdev, label, sizeof(label)),
				d->driver[0] ? d->driver : "-", where);
		else
			fprintf(out, "device %u: %04x:%02x:%02x.%x [%04x:%04x] %s, %s\n",
				d->id, d->pci.segment, d->pci.bus,
				d->pci.devfn >> 3, d->pci.devfn & 7,
				d->pci.vendor, d->pci.device,
				d->driver[0] ? d->driver : "-", where);
	}
	if (reason)
		fprintf(out, "preservable: no: %s\n", reason);
	else
		fprintf(out, "preservable: yes\n");
}

static int cmd_record_write(const char *path,
			    const struct kho_journal_snapshot *snap)
{
	size_t len;
	void *blob;
	FILE *f;
	int ret = kho_journal_snapshot_encode(snap, &blob, &len);

	if (ret) {
		fprintf(stderr, "kho-tool record: encoding the snapshot: %s\n",
			strerror(-ret));
		return ret;
	}
	f = fopen(path, "we");
	if (!f || fwrite(blob, 1, len, f) != len || fclose(f)) {
		ret = -errno;
		fprintf(stderr, "kho-tool record: writing %s: %s\n", path,
			strerror(errno));
	}
	free(blob);
	return ret;
}

/* What capture checks: the kernel's journal, the memfds and devices */
static int cmd_record_capture_checks(pid_t pid,
				     struct kho_journal_snapshot *snap,
				     struct kho_diag *diag)
{
	struct kho_capture cap;
	int ret;

	ret = kho_capture_check_kjournal(pid, snap, NULL, false, diag);
	if (ret)
		return ret;
	ret = kho_capture_build(snap, &cap, diag);
	if (!ret)
		kho_capture_release(&cap);
	return ret;
}

static int cmd_record_usage(FILE *out, int code)
{
	fprintf(out,
		"usage: kho-tool record --pid PID [--json] [--out FILE]\n"
		"  fetch the journal a recording VMM serves on\n"
		"  " KHO_RUN_DIR "/vmm-PID.sock and summarise it: records, live\n"
		"  maps, replay length, memfds, devices, preservability.\n"
		"  --out FILE  also write the snapshot as a hand-off blob: the raw\n"
		"              journal, not folded; `kho-tool journal FILE` reads\n"
		"              it, and `validate` refuses it as a hand-off, since its\n"
		"              state is not what its journal builds\n"
		"exit: 0 preservable, 1 not preservable or fetch failed, 2 usage\n");
	return code;
}

int cmd_record(int argc, char **argv)
{
	const char *out = NULL;
	bool json = false;
	pid_t pid = 0;
	const struct arg_opt opts[] = {
		{ "pid", 'p', ARG_PID, &pid },
		{ "json", 'j', ARG_FLAG, &json },
		{ "out", 'o', ARG_STRING, &out },
		{ NULL },
	};
	struct kho_journal_snapshot snap;
	struct cmd_record_summary sum;
	struct kho_diag diag = { "" };
	int ret;

	ret = parse_args("record", argc, argv, opts, -1, cmd_record_usage);
	if (ret >= 0)
		return ret;
	if (!pid || optind != argc)
		return cmd_record_usage(stderr, KHO_EXIT_USAGE);
	ret = kho_journal_sock_fetch(pid, &snap, &diag);
	if (ret && ret != -EOPNOTSUPP) {
		fprintf(stderr, "kho-tool record: pid %d: %s\n", (int)pid, diag.msg);
		kho_journal_snapshot_free(&snap);
		return KHO_EXIT_FAILED;
	}
	/*
	 * "preservable: yes" must mean capture would take it: the same
	 * checks, the kernel's journal included, short of preserving.
	 */
	if (!ret)
		ret = cmd_record_capture_checks(pid, &snap, &diag);
	cmd_record_summarise(&snap, &sum);
	if (json)
		cmd_record_print_json(pid, &snap, &sum,
				      ret ? diag.msg : NULL, stdout);
	else
		cmd_record_print(pid, &snap, &sum,
				 ret ? diag.msg : NULL, stdout);
	if (out && cmd_record_write(out, &snap))
		ret = -EIO;
	kho_journal_snapshot_free(&snap);
	free(sum.attached_pt);
	return ret ? KHO_EXIT_FAILED : KHO_EXIT_OK;
}
