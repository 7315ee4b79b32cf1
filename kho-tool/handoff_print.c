// SPDX-License-Identifier: GPL-2.0
/* Output helpers the hand-off commands share: errno names. */
#include <errno.h>
#include <stdio.h>

#include "handoff_print.h"

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
