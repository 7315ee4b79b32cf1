// SPDX-License-Identifier: GPL-2.0
/* kho-tool journal: dumps a hand-off's journal and, with --compact, folds it. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "commands.h"
#include "compact.h"
#include "file.h"
#include "handoff.h"
#include "handoff_print.h"
#include "journal.h"
#include "state.h"

static void print_text(const struct kho_journal *j)
{
	char line[512];
	size_t i;

	for (i = 0; i < j->nr; i++) {
		kho_rec_format(&j->recs[i], line, sizeof(line));
		printf("%6zu  %s\n", i, line);
	}
}

static int usage(FILE *out, int code)
{
	fprintf(out, "usage: kho-tool journal FILE [--compact] [--json]\n");
	return code;
}

int cmd_journal(int argc, char **argv)
{
	bool compact = false, json = false;
	const struct arg_opt opts[] = {
		{ "compact", 'c', ARG_FLAG, &compact },
		{ "json", 'j', ARG_FLAG, &json },
		{ NULL },
	};
	struct kho_journal plan;
	struct kho_state folded;
	struct kho_handoff h;
	struct kho_diag d = { "" };
	size_t i, nr_maps = 0, nr_expanded;
	bool readable;
	size_t len;
	int ret, rc = KHO_EXIT_FAILED;

	ret = parse_args("journal", argc, argv, opts, 1, usage);
	if (ret >= 0)
		return ret;
	ret = load_handoff(argv[optind], &h, &len, &readable, &d);
	if (ret) {
		kho_handoff_free(&h);
		return print_load_error("journal", argv[optind], ret, readable,
					&d);
	}
	if (!compact) {
		/* --json stays the bare array of plan records it always was. */
		if (json) {
			kho_journal_print_json(&h.replay, stdout);
		} else {
			printf("journal: %" PRIu64 " records recorded, %zu in the replay plan\n",
			       h.journal_length, h.replay.nr);
			print_text(&h.replay);
		}
		rc = KHO_EXIT_OK;
		goto out;
	}
	ret = kho_compact_handoff(&h, &folded, &plan, &nr_expanded, &d);
	if (ret) {
		fprintf(stderr, "kho-tool journal: %s: %s\n", argv[optind], d.msg);
		goto out;
	}
	for (i = 0; i < folded.nr_ioas; i++)
		nr_maps += folded.ioas[i].nr_maps;
	if (json) {
		printf("{\"journal_length\": %" PRIu64 ", \"replay_length\": %zu, \"records\": %zu, \"replay_steps\": %zu, \"mappings\": %zu, \"plan\": ",
		       h.journal_length, h.replay.nr, nr_expanded, plan.nr,
		       nr_maps);
		kho_journal_print_json(&plan, stdout);
		printf("}\n");
	} else {
		/* Recorded length vs the plan's: what compaction saved. */
		printf("journal: %" PRIu64 " records recorded, %zu in the replay plan (%zu expanded) -> %zu replay steps (%zu mappings)\n",
		       h.journal_length, h.replay.nr, nr_expanded, plan.nr,
		       nr_maps);
		print_text(&plan);
	}
	rc = KHO_EXIT_OK;
	kho_journal_free(&plan);
	kho_state_free(&folded);
out:
	kho_handoff_free(&h);
	return rc;
}
