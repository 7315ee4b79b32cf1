/* SPDX-License-Identifier: GPL-2.0 */
/* The upgrade path shared by `kho-tool upgrade` and `kho-tool rollback`. */
#ifndef KHO_TOOL_UPGRADE_H
#define KHO_TOOL_UPGRADE_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

/* QEMUs one hand-off carries: each holds ~6 memfds and a stream. */
#define KHO_UPGRADE_MAX_QEMU 16

struct kho_upgrade_opts {
	const char *command;	/* "upgrade" or "rollback", for messages */
	const char *kernel;	/* target image */
	const char *initrd;	/* NULL: none (nothing will restore the state) */
	const char *append;	/* extra command-line words, or NULL */
	const char *why;	/* how the target was chosen, or NULL */
	pid_t pid;		/* the recording VMM, 0: none */
	/*
	 * --qemu-qmp, repeatable: the QEMUs migrated to kho-tool by their
	 * own cpr-transfer (each one's QMP socket, which names it); their
	 * memfds and streams go into the hand-off's qemu-cpr node, one entry
	 * each, for `kho-tool cpr-relay --restore` after the kexec.
	 */
	const char *qemu_qmp[KHO_UPGRADE_MAX_QEMU];
	unsigned int nr_qemu;
	bool dry_run;
	bool json;
	/*
	 * --userspace-journal: leave the VMM's iommufd out of the session
	 * even when the running kernel journals it; the target's agent then
	 * replays from the hand-off unverified by its kernel (a degrade).
	 */
	bool userspace_journal;
	/*
	 * --require-device-state: refuse, before anything is preserved or
	 * loaded, an upgrade that would reset a passed-through device (one
	 * without migration v2, or whose state this tool cannot carry yet).
	 */
	bool require_device_state;
};

/*
 * kho_upgrade_run() - pre-flight, capture, preserve, load, kexec: prints
 * each step with its duration (or, with json, the timeline as one object).
 * Return: a KHO_EXIT_* code; does not return after a successful kexec.
 */
int kho_upgrade_run(const struct kho_upgrade_opts *o);


/*
 * kho_upgrade_parse_opts() - the options upgrade and rollback share
 * (--kernel --initrd --append --pid --dry-run --json --userspace-journal
 * --require-device-state --help) into @o.
 * Return: -1 to go on, or a KHO_EXIT_* code: KHO_EXIT_OK after --help
 * (@usage printed to stdout), KHO_EXIT_USAGE after a bad option or a
 * stray argument (@usage printed to stderr).
 */
int kho_upgrade_parse_opts(int argc, char **argv, struct kho_upgrade_opts *o,
			   int (*usage)(FILE *out, int code));

#endif /* KHO_TOOL_UPGRADE_H */
