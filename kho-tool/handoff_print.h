/* SPDX-License-Identifier: GPL-2.0 */
/* Output helpers the hand-off commands (validate, inspect) share. */
#ifndef KHO_TOOL_HANDOFF_PRINT_H
#define KHO_TOOL_HANDOFF_PRINT_H

#include <stdio.h>

#include "escape.h"

/* "EBADMSG" etc. for a negative errno from the library's table. */
const char *kho_errno_name(int err);

#endif /* KHO_TOOL_HANDOFF_PRINT_H */
