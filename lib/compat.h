/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Shims for system headers older than the 7.2 uapi this tree builds
 * against: the one place they live.  Include it before <linux/vfio.h>.
 */
#ifndef KHO_COMPAT_H
#define KHO_COMPAT_H

#include <linux/stddef.h>

/* Bookworm's <linux/stddef.h> predates the 7.2 uapi's __counted_by. */
#ifndef __counted_by
#define __counted_by(m)
#endif

#endif /* KHO_COMPAT_H */
