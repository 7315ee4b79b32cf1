// SPDX-License-Identifier: GPL-2.0
/*
 * hwpoison FILE OFFSET: a memory failure on the page of FILE at OFFSET,
 * injected with madvise(MADV_HWPOISON) (root, CONFIG_MEMORY_FAILURE).
 * The nested cpr test (110) points it at a QEMU's guest-RAM memfd through
 * /proc/PID/fd/N: the page's frame is poisoned for every mapping of the
 * memfd, as a real uncorrectable error would be.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long page = sysconf(_SC_PAGESIZE);
	unsigned long long off;
	int status = 0;
	pid_t child;
	char *end, byte;
	void *va;
	int fd;

	if (argc != 3) {
		fprintf(stderr, "usage: hwpoison FILE OFFSET\n");
		return 2;
	}
	off = strtoull(argv[2], &end, 0);
	if (*end || off % page) {
		fprintf(stderr, "hwpoison: offset '%s': not a multiple of %ld\n", argv[2], page);
		return 2;
	}
	fd = open(argv[1], O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "hwpoison: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	va = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)off);
	if (va == MAP_FAILED) {
		fprintf(stderr, "hwpoison: %s: mmap at 0x%llx: %s\n", argv[1], off, strerror(errno));
		return 1;
	}
	/*
	 * In a child: the injection is an "action required" failure for the
	 * caller, which the kernel kills with SIGBUS whatever its handler.
	 */
	child = fork();
	if (child < 0) {
		fprintf(stderr, "hwpoison: fork: %s\n", strerror(errno));
		return 1;
	}
	if (!child) {
		*(volatile char *)va = *(volatile char *)va;
		_exit(madvise(va, page, MADV_HWPOISON) ? errno : 0);
	}
	if (waitpid(child, &status, 0) < 0) {
		fprintf(stderr, "hwpoison: waitpid: %s\n", strerror(errno));
		return 1;
	}
	/* Poisoned, whatever killed the child: the memfd answers EIO. */
	if (pread(fd, &byte, 1, (off_t)off) != -1 || errno != EIO) {
		fprintf(stderr, "hwpoison: %s: 0x%llx: not poisoned (child status 0x%x)\n",
			argv[1], off, status);
		return 1;
	}
	printf("hwpoison: %s: page 0x%llx poisoned (its read gives EIO)\n", argv[1], off);
	return 0;
}
