/* SPDX-License-Identifier: GPL-2.0 */
/* The upgrade path shared by `kho-tool upgrade` and `kho-tool rollback`. */
#ifndef KHO_TOOL_UPGRADE_H
#define KHO_TOOL_UPGRADE_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

struct kho_upgrade_opts {
	const char *command;	/* "upgrade" or "rollback", for messages */
	const char *kernel;	/* target image */
	const char *initrd;	/* NULL: none (nothing will restore the state) */
	const char *append;	/* extra command-line words, or NULL */
	const char *why;	/* how the target was chosen, or NULL */
	pid_t pid;		/* the recording VMM, 0: none */
	bool dry_run;
	bool json;
};

/*
 * kho_upgrade_run() - pre-flight, capture, preserve, load, kexec: prints
 * each step with its duration (or, with json, the timeline as one object).
 * Return: a KHO_EXIT_* code; does not return after a successful kexec.
 */
int kho_upgrade_run(const struct kho_upgrade_opts *o);

/* Parses a decimal pid; Return: 0 or -EINVAL. */
int kho_upgrade_parse_pid(const char *s, pid_t *pid);

/*
 * kho_upgrade_parse_opts() - the options upgrade and rollback share
 * (--kernel --initrd --append --pid --dry-run --json --help) into @o.
 * Return: -1 to go on, or a KHO_EXIT_* code: KHO_EXIT_OK after --help
 * (@usage printed to stdout), KHO_EXIT_USAGE after a bad option or a
 * stray argument (@usage printed to stderr).
 */
int kho_upgrade_parse_opts(int argc, char **argv, struct kho_upgrade_opts *o,
			   int (*usage)(FILE *out, int code));

#endif /* KHO_TOOL_UPGRADE_H */
