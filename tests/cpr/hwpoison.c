// SPDX-License-Identifier: GPL-2.0
/*
 * hwpoison FILE OFFSET: a memory failure on the page of FILE at OFFSET,
 * injected as kho_poison_inject() does (madvise(MADV_HWPOISON) in a
 * child; root, CONFIG_MEMORY_FAILURE), and confirmed by the file's EIO.
 * The nested cpr test (110) points it at a QEMU's guest-RAM memfd through
 * /proc/PID/fd/N: the page's frame is poisoned for every mapping of the
 * memfd, as a real uncorrectable error would be.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>

#include "poison.h"

int main(int argc, char **argv)
{
	struct kho_poison p = { .length = KHO_POISON_PAGE };
	struct kho_diag diag = { "" };
	char *end;
	int fd;

	if (argc != 3) {
		fprintf(stderr, "usage: hwpoison FILE OFFSET\n");
		return 2;
	}
	p.offset = strtoull(argv[2], &end, 0);
	if (*end || p.offset % KHO_POISON_PAGE) {
		fprintf(stderr, "hwpoison: offset '%s': not a multiple of %d\n",
			argv[2], KHO_POISON_PAGE);
		return 2;
	}
	fd = open(argv[1], O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "hwpoison: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	if (kho_poison_inject(fd, &p, &diag)) {
		fprintf(stderr, "hwpoison: %s: %s\n", argv[1], diag.msg);
		return 1;
	}
	printf("hwpoison: %s: page 0x%llx poisoned (its read gives EIO)\n",
	       argv[1], (unsigned long long)p.offset);
	return 0;
}
