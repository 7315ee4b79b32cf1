// SPDX-License-Identifier: GPL-2.0
/*
 * kho-tool validate: checks a hand-off blob the way the restore-agent will,
 * and that its plan can be replayed, the way `journal --compact` folds it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "commands.h"
#include "compact.h"
#include "handoff.h"
#include "handoff_print.h"
#include "journal.h"
#include "state.h"

static int validate_usage(FILE *out, int code)
{
	fprintf(out, "usage: kho-tool validate [--json] [--quiet] FILE\n"
		"  Decodes FILE as the restore-agent does, then folds its replay plan\n"
		"  as `kho-tool journal --compact` does: a record naming an unknown,\n"
		"  destroyed or later object, or a plan that rebuilds another state than\n"
		"  the recorded one, is invalid.\n"
		"  exit 0: valid; 1: invalid (the message names the node or property,\n"
		"  or the plan record and object, and the cause); 2: usage error or\n"
		"  FILE cannot be read\n");
	return code;
}

static size_t validate_count_maps(const struct kho_handoff *h)
{
	size_t i, n = 0;

	for (i = 0; i < h->state.nr_ioas; i++)
		n += h->state.ioas[i].nr_maps;
	return n;
}

/*
 * What the agent would find only while replaying: fold the plan as
 * `journal --compact` does.  The plan check comes first for its message,
 * which names the object's record; the fold then proves that the plan
 * rebuilds exactly the recorded state.
 */
static int validate_plan(const struct kho_handoff *h, struct kho_diag *diag)
{
	struct kho_state folded;
	struct kho_journal plan;
	char why[sizeof(diag->msg)];
	size_t nr_expanded;
	int err;

	err = kho_plan_check(h, NULL, diag);
	if (!err)
		err = kho_compact_handoff(h, &folded, &plan, &nr_expanded,
					  diag);
	if (err) {
		snprintf(why, sizeof(why), "%s", diag->msg);
		return kho_diag_set(diag, err,
				    "replay plan cannot be replayed: %s", why);
	}
	kho_journal_free(&plan);
	kho_state_free(&folded);
	return 0;
}

int cmd_validate(int argc, char **argv)
{
	bool json = false, quiet = false;
	const struct arg_opt opts[] = {
		{ "json", 'j', ARG_FLAG, &json },
		{ "quiet", 'q', ARG_FLAG, &quiet },
		{ NULL },
	};
	struct kho_diag diag = { "" };
	struct kho_handoff h;
	const char *path;
	bool readable;
	size_t len;
	int err;

	err = parse_args("validate", argc, argv, opts, 1, validate_usage);
	if (err >= 0)
		return err;
	path = argv[optind];
	err = load_handoff(path, &h, &len, &readable, &diag);
	if (err && !readable) {
		if (json) {
			printf("{\"file\":");
			kho_json_str(stdout, path);
			printf(",\"valid\":false,\"readable\":false,\"error\":");
			kho_json_str(stdout, strerror(-err));
			printf("}\n");
		}
		return print_load_error("validate", path, err, readable, &diag);
	}
	if (!err) {
		err = validate_plan(&h, &diag);
		if (err)
			kho_handoff_free(&h);
	}
	if (json) {
		printf("{\"file\":");
		kho_json_str(stdout, path);
		printf(",\"valid\":%s,\"readable\":true", err ? "false" : "true");
		if (err) {
			printf(",\"errno\":");
			kho_json_str(stdout, kho_errno_name(err));
			printf(",\"error\":");
			kho_json_str(stdout, diag.msg[0] ? diag.msg :
				     strerror(-err));
		} else {
			printf(",\"format_version\":%u,\"min_reader_version\":%u,\"bytes\":%zu,\"ioases\":%zu,\"mappings\":%zu,\"records\":%zu",
			       h.format_version, h.min_reader_version, len,
			       h.state.nr_ioas, validate_count_maps(&h),
			       h.replay.nr);
		}
		printf("}\n");
	}
	if (err)
		return print_load_error("validate", path, err, readable, &diag);
	if (!json && !quiet)
		printf("%s: valid: format-version %u, %zu bytes, %zu IOASes, %zu mappings, %zu replay records\n",
		       path, h.format_version, len, h.state.nr_ioas,
		       validate_count_maps(&h), h.replay.nr);
	kho_handoff_free(&h);
	return KHO_EXIT_OK;
}
