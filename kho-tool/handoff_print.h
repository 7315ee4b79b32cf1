/* SPDX-License-Identifier: GPL-2.0 */
/* Output the hand-off commands (capture, upgrade, validate, inspect) share. */
#ifndef KHO_TOOL_HANDOFF_PRINT_H
#define KHO_TOOL_HANDOFF_PRINT_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

#include "escape.h"
#include "kho.h"

/*
 * load_handoff() - read and decode the hand-off file @path (validate,
 * inspect, journal)
 * @h:        out: the hand-off, to kho_handoff_free() (empty on failure)
 * @len:      out: the bytes read
 * @readable: out: whether the file could be read at all
 * @diag:     out: why the blob is invalid
 * Return: 0, or the -errno of kho_read_file() (!*@readable) or of
 * kho_handoff_decode().
 */
int load_handoff(const char *path, struct kho_handoff *h, size_t *len,
		 bool *readable, struct kho_diag *diag);

/*
 * print_load_error() - say why load_handoff() failed, as `kho-tool @cmd`,
 * on stderr: "cannot read" or "invalid" with the cause and errno name.
 * Return: KHO_EXIT_USAGE (unreadable) or KHO_EXIT_FAILED (invalid).
 */
int print_load_error(const char *cmd, const char *path, int err,
		     bool readable, const struct kho_diag *diag);

/*
 * print_unverified_warning() - the warning `capture` and `upgrade` print
 * when --userspace-journal let a capture through that the kernel's
 * journal would have stopped: @who (the command, as its messages start),
 * the VMM @pid and @why (kho_capture_check_kjournal()'s diag).
 */
void print_unverified_warning(FILE *f, const char *who, pid_t pid,
			      const char *why);

#endif /* KHO_TOOL_HANDOFF_PRINT_H */
