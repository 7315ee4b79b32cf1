// SPDX-License-Identifier: LGPL-2.1-or-later
/* Diagnostics: the one place messages for people are formatted. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "kho.h"

/*
 * Formatted aside first: callers wrap an inner failure's message,
 * passing diag->msg itself as an argument.
 */
int kho_diag_set(struct kho_diag *diag, int err, const char *fmt, ...)
{
	char msg[sizeof(diag->msg)];
	va_list ap;

	if (!diag)
		return err;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	memcpy(diag->msg, msg, sizeof(msg));
	return err;
}

/*
 * The C library's table, not a copy of it: a code lib never returns
 * still gets its name in a message.
 */
const char *kho_errno_name(int err)
{
	const char *name = strerrorname_np(err < 0 ? -err : err);

	return name ? name : "E?";
}
