// SPDX-License-Identifier: GPL-2.0
/* Output helpers the hand-off commands share: JSON strings, errno names. */
#include <errno.h>
#include <stdio.h>

#include "handoff_print.h"

void kho_json_str(FILE *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	fputc('"', out);
	for (; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(out, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(out, "\\u%04x", *p);
		else
			fputc(*p, out);
	}
	fputc('"', out);
}

const char *kho_errno_name(int err)
{
	switch (-err) {
	case 0: return "OK";
	case EINVAL: return "EINVAL";
	case E2BIG: return "E2BIG";
	case EBADMSG: return "EBADMSG";
	case EPROTONOSUPPORT: return "EPROTONOSUPPORT";
	case ENOENT: return "ENOENT";
	case EEXIST: return "EEXIST";
	case ERANGE: return "ERANGE";
	case EBUSY: return "EBUSY";
	case ENOMEM: return "ENOMEM";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	default: return "errno";
	}
}
