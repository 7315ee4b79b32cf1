// SPDX-License-Identifier: GPL-2.0
/* Output the hand-off commands share: the --userspace-journal warning. */
#include <stdio.h>

#include "handoff_print.h"

void print_unverified_warning(FILE *f, const char *who, pid_t pid,
			      const char *why)
{
	fprintf(f, "%s: VMM %d: warning: %s; --userspace-journal: the recorder's record is used, unverified by the kernel\n",
		who, (int)pid, why);
}
