// SPDX-License-Identifier: GPL-2.0
/* Command-line arguments more than one command takes: a VMM's pid. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "args.h"

int parse_pid_arg(const char *cmd, const char *arg, pid_t *pid)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno || *end || end == arg || v <= 0 || v > 0x7fffffff) {
		fprintf(stderr, "kho-tool %s: --pid '%s': not a process id\n",
			cmd, arg);
		return -EINVAL;
	}
	*pid = v;
	return 0;
}
