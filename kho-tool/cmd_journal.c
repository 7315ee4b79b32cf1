// SPDX-License-Identifier: GPL-2.0
/* kho-tool journal: dumps a hand-off's journal and, with --compact, folds it. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "compact.h"
#include "handoff.h"
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

int cmd_journal(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "compact", no_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct kho_journal plan, expanded;
	struct kho_state folded;
	struct kho_handoff h;
	struct kho_diag d = { "" };
	bool compact = false, json = false;
	size_t i, nr_maps = 0;
	void *buf;
	size_t len;
	int c, ret, rc = KHO_EXIT_FAILED;

	optind = 1;
	while ((c = getopt_long(argc, argv, "cjh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			compact = true;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			printf("usage: kho-tool journal FILE [--compact] [--json]\n");
			return KHO_EXIT_OK;
		default:
			return KHO_EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "usage: kho-tool journal FILE [--compact] [--json]\n");
		return KHO_EXIT_USAGE;
	}
	ret = kho_read_file(argv[optind], &buf, &len);
	if (ret) {
		fprintf(stderr, "kho-tool journal: %s: %s\n", argv[optind], strerror(-ret));
		return KHO_EXIT_USAGE;
	}
	kho_handoff_init(&h);
	ret = kho_handoff_decode(buf, len, &h, &d);
	free(buf);
	if (ret) {
		fprintf(stderr, "kho-tool journal: %s: %s\n", argv[optind],
			d.msg[0] ? d.msg : strerror(-ret));
		kho_handoff_free(&h);
		return KHO_EXIT_FAILED;
	}
	if (!compact) {
		if (json)
			kho_journal_print_json(&h.replay, stdout);
		else
			print_text(&h.replay);
		rc = KHO_EXIT_OK;
		goto out;
	}
	/*
	 * The hand-off carries a plan already compacted: expand it against
	 * the recorded state, then fold it again from memfds alone.  This
	 * re-derives the plan and checks that it rebuilds the recorded state.
	 */
	kho_state_init(&folded);
	for (i = 0; i < h.state.nr_memfd; i++)
		kho_state_add_memfd(&folded, &h.state.memfd[i]);
	ret = kho_plan_expand(&h.replay, &h.state, &expanded, &d);
	if (!ret)
		ret = kho_compact(&expanded, &folded, &plan, &d);
	if (!ret)
		ret = kho_state_equal(&h.state, &folded, &d);
	if (ret) {
		fprintf(stderr, "kho-tool journal: %s: %s\n", argv[optind], d.msg);
		goto out_free;
	}
	for (i = 0; i < folded.nr_ioas; i++)
		nr_maps += folded.ioas[i].nr_maps;
	if (json) {
		printf("{\"records\": %zu, \"replay_steps\": %zu, \"mappings\": %zu, \"plan\": ",
		       expanded.nr, plan.nr, nr_maps);
		kho_journal_print_json(&plan, stdout);
		printf("}\n");
	} else {
		printf("journal: %zu records -> %zu replay steps (%zu mappings)\n",
		       expanded.nr, plan.nr, nr_maps);
		print_text(&plan);
	}
	rc = KHO_EXIT_OK;
	kho_journal_free(&plan);
out_free:
	kho_journal_free(&expanded);
	kho_state_free(&folded);
out:
	kho_handoff_free(&h);
	return rc;
}
