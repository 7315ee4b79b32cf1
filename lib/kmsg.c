// SPDX-License-Identifier: LGPL-2.1-or-later
/* The kernel log's warnings from one subsystem; see kmsg.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kmsg.h"

/* KERN_WARNING: the level at which KHO and LUO say they gave up. */
#define KMSG_WARNING 4

/* A kept message, quoted, appended to @out; "..." once it is full. */
static void append_quoted(char *out, size_t size, size_t *used, int first,
			  const char *msg, size_t len)
{
	int n;

	if (*used >= size - 1)
		return;
	n = snprintf(out + *used, size - *used, "%s\"%.*s\"",
		     first ? "" : "; ", (int)len, msg);
	if (n < 0 || (size_t)n >= size - *used) {
		if (size >= 4)
			memcpy(out + size - 4, "...", 4);
		*used = size - 1;
		return;
	}
	*used += n;
}

static int kept(const char *msg, size_t len, const char *const *prefixes)
{
	for (; *prefixes; prefixes++) {
		size_t n = strlen(*prefixes);

		if (len >= n && !memcmp(msg, *prefixes, n))
			return 1;
	}
	return 0;
}

/*
 * One record, "PRI,SEQ,TS,FLAGS;MSG": MSG (up to the line's end) if it
 * is a warning or worse, else NULL.  PRI holds the facility above the
 * level's three bits.
 */
static const char *warning_text(const char *line, size_t *len)
{
	const char *semi = memchr(line, ';', *len);
	char *end;
	long pri;

	if (!semi || line[0] == ' ')
		return NULL;
	pri = strtol(line, &end, 10);
	if (end == line || *end != ',' || (pri & 7) > KMSG_WARNING)
		return NULL;
	*len -= semi + 1 - line;
	return semi + 1;
}

int kho_kmsg_warnings(const char *path, const char *const *prefixes,
		      char *out, size_t size)
{
	/* /dev/kmsg hands out one record a read(2), at most this long. */
	char rec[8192];
	size_t used = 0, fill = 0;
	int fd, count = 0;

	if (size)
		out[0] = '\0';
	fd = open(path ? path : "/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (;;) {
		ssize_t n = read(fd, rec + fill, sizeof(rec) - 1 - fill);
		char *line = rec, *nl;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EPIPE)	/* overwritten under us */
			continue;
		if (n <= 0)			/* EAGAIN: the log's end */
			break;
		fill += n;
		/* A regular file gives many records a read, maybe a part. */
		while ((nl = memchr(line, '\n', rec + fill - line))) {
			size_t len = nl - line;
			const char *msg = warning_text(line, &len);

			if (msg && kept(msg, len, prefixes)) {
				if (size)
					append_quoted(out, size, &used, !count,
						      msg, len);
				count++;
			}
			line = nl + 1;
		}
		fill = rec + fill - line;
		memmove(rec, line, fill);
		if (fill == sizeof(rec) - 1)	/* a line longer than any record */
			fill = 0;
	}
	close(fd);
	return count;
}
