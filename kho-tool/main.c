// SPDX-License-Identifier: GPL-2.0
/* kho-tool entry point: dispatches to the command table. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "kho.h"
#include "commands.h"

static const struct kho_cmd commands[] = {
	{ "validate", cmd_validate, 0, "FILE",
	  "check a hand-off blob; exit 0 valid, 1 invalid, 2 unreadable" },
	{ "inspect", cmd_inspect, 0, "FILE [--json]",
	  "print a hand-off blob for people or, with --json, for programs" },
	{ "journal", cmd_journal, 0, "FILE [--compact] [--json]",
	  "dump a hand-off's journal, or compact a recorded journal" },
	{ "record", cmd_record, 0, "--pid PID [--json] [--out FILE]",
	  "show what a running VMM's recorder has journaled, and if it can cross kexec" },
	{ "capture", cmd_capture, KHO_NEEDS_ROOT, "--pid PID [--out FILE] [--json]",
	  "compact a recording VMM's journal into a hand-off blob" },
	{ "upgrade", cmd_upgrade, KHO_NEEDS_ROOT,
	  "--kernel IMAGE [--initrd FILE] [--append ARGS] [--pid PID] [--dry-run] [--json]",
	  "pre-flight, capture, preserve, load and kexec into IMAGE" },
	{ "rollback", cmd_rollback, KHO_NEEDS_ROOT,
	  "[--kernel IMAGE] [--initrd FILE] [--pid PID] [--dry-run] [--json]",
	  "the upgrade path aimed at the kernel this one was kexec'd from" },
	{ "cpr-relay", cmd_cpr_relay, 0,
	  "--qmp SOCK --dir DIR --to-cpr PATH --to-main PATH [--kexec-safe]",
	  "move a QEMU through cpr-transfer to kho-tool and on to a new QEMU" },
	{ "salvage", cmd_salvage, KHO_NEEDS_ROOT, "DIR [--handoff FILE]",
	  "after a failed restore, save the held session's guest RAM to files in DIR" },
};

static void usage(FILE *out)
{
	size_t i;

	fprintf(out, "usage: kho-tool COMMAND [ARGS]\n\ncommands:\n");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-9s %s\n            %s\n", commands[i].name,
			commands[i].usage, commands[i].summary);
	fprintf(out, "\nkho-tool COMMAND --help prints a command's options.\n");
}

int main(int argc, char **argv)
{
	size_t i;

	if (argc < 2) {
		usage(stderr);
		return KHO_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		usage(stdout);
		return KHO_EXIT_OK;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("kho-tool %s\n", KHO_TOOL_VERSION);
		return KHO_EXIT_OK;
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		const struct kho_cmd *cmd = &commands[i];

		if (strcmp(argv[1], cmd->name))
			continue;
		if ((cmd->needs & KHO_NEEDS_ROOT) && geteuid() != 0) {
			fprintf(stderr, "kho-tool %s: must run as root\n",
				cmd->name);
			return KHO_EXIT_FAILED;
		}
		return cmd->run(argc - 1, argv + 1);
	}
	fprintf(stderr, "kho-tool: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return KHO_EXIT_USAGE;
}
