// SPDX-License-Identifier: GPL-2.0
/*
 * Output the hand-off commands share: loading a hand-off file and saying
 * why it failed, and the --userspace-journal warning.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "file.h"
#include "handoff.h"
#include "handoff_print.h"

int load_handoff(const char *path, struct kho_handoff *h, size_t *len,
		 bool *readable, struct kho_diag *diag)
{
	void *buf;
	int err;

	kho_handoff_init(h);
	*readable = false;
	err = kho_read_file(path, &buf, len);
	if (err)
		return err;
	*readable = true;
	err = kho_handoff_decode(buf, *len, h, diag);
	free(buf);
	return err;
}

int print_load_error(const char *cmd, const char *path, int err,
		     bool readable, const struct kho_diag *diag)
{
	if (!readable) {
		fprintf(stderr, "kho-tool %s: %s: cannot read: %s\n", cmd, path,
			strerror(-err));
		return KHO_EXIT_USAGE;
	}
	fprintf(stderr, "kho-tool %s: %s: invalid: %s (%s)\n", cmd, path,
		diag->msg[0] ? diag->msg : strerror(-err), kho_errno_name(err));
	return KHO_EXIT_FAILED;
}

void print_unverified_warning(FILE *f, const char *who, pid_t pid,
			      const char *why)
{
	fprintf(f, "%s: VMM %d: warning: %s; --userspace-journal: the recorder's record is used, unverified by the kernel\n",
		who, (int)pid, why);
}
