/* SPDX-License-Identifier: GPL-2.0 */
/* Output the hand-off commands (capture, upgrade, validate, inspect) share. */
#ifndef KHO_TOOL_HANDOFF_PRINT_H
#define KHO_TOOL_HANDOFF_PRINT_H

#include <stdio.h>
#include <sys/types.h>

#include "escape.h"

/*
 * print_unverified_warning() - the warning `capture` and `upgrade` print
 * when --userspace-journal let a capture through that the kernel's
 * journal would have stopped: @who (the command, as its messages start),
 * the VMM @pid and @why (kho_capture_check_kjournal()'s diag).
 */
void print_unverified_warning(FILE *f, const char *who, pid_t pid,
			      const char *why);

#endif /* KHO_TOOL_HANDOFF_PRINT_H */
