/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The kernel's own account of a facility that did not start.  When KHO
 * finds no room for its scratch areas it disables itself, and LUO with it,
 * and the only trace is a warning in the kernel log: kho-tool quotes that
 * warning instead of a bare "see dmesg".
 */
#ifndef KHO_KMSG_H
#define KHO_KMSG_H

#include <stddef.h>

/**
 * kho_kmsg_warnings() - the kernel log's warnings and errors from some
 *                       subsystems, joined into one string
 * @path:     a file in the format of /dev/kmsg (one "PRI,SEQ,TS,FLAGS;MSG"
 *            record a line, continuation lines starting with a space);
 *            NULL for /dev/kmsg itself
 * @prefixes: NULL-terminated; a message is kept when it starts with one of
 *            them (the subsystem's pr_fmt, "KHO: " or "luo: ")
 * @out:      the kept messages, quoted and joined by "; ", oldest first;
 *            truncated with "..." when @size is too small
 * @size:     of @out
 *
 * Only records of priority warning or more severe count (KERN_WARNING is
 * 4): a subsystem that gives up says so at that level.  Records the ring
 * buffer overwrote while they were read (EPIPE) are skipped.
 *
 * Return: the number of messages kept, or the -errno of open(2) (-EPERM
 * without CAP_SYSLOG under dmesg_restrict).
 */
int kho_kmsg_warnings(const char *path, const char *const *prefixes,
		      char *out, size_t size);

#endif /* KHO_KMSG_H */
