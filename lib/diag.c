// SPDX-License-Identifier: LGPL-2.1-or-later
/* Diagnostics: the one place messages for people are formatted. */
#include <stdarg.h>
#include <stdio.h>

#include "kho.h"

int kho_diag_set(struct kho_diag *diag, int err, const char *fmt, ...)
{
	va_list ap;

	if (!diag)
		return err;
	va_start(ap, fmt);
	vsnprintf(diag->msg, sizeof(diag->msg), fmt, ap);
	va_end(ap);
	return err;
}
