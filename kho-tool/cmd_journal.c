// SPDX-License-Identifier: GPL-2.0
/* PLACEHOLDER so the build links while the real command is written. */
#include <stdio.h>
#include "commands.h"

int cmd_journal(int argc, char **argv)
{
	fprintf(stderr, "kho-tool journal: not built yet\n");
	return KHO_EXIT_FAILED;
}
