// SPDX-License-Identifier: GPL-2.0
/* Unit-test helper: a throwaway tree of files, for fake sysfs and /dev. */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "fstree.h"
#include "poison.h"

void fstree_mk(const char *root, const char *rel)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	mkdir(path, 0755);
}

void fstree_put(const char *root, const char *rel, const char *content)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	f = fopen(path, "w");
	if (f) {
		fputs(content, f);
		fclose(f);
	}
}

void fstree_vmm_proc(char *root, size_t size, int fd, uint64_t va,
		     uint64_t off, unsigned int pages, unsigned int page,
		     uint64_t pfn)
{
	uint64_t pme[64] = { 0 }, kpf[4] = { 0, 0, 0,
		1ull << KHO_KPF_HWPOISON };
	char line[256], path[256];
	struct stat st;
	int out;

	snprintf(root, size, "/tmp/kho-test-proc.XXXXXX");
	if (!mkdtemp(root) || fstat(fd, &st) || pages > 64)
		abort();
	fstree_mk(root, "4242");
	fstree_mk(root, "sys");
	fstree_mk(root, "sys/vm");
	fstree_put(root, "sys/vm/memory_failure_early_kill", "0\n");
	snprintf(line, sizeof(line),
		 "00400000-00401000 r-xp 00000000 08:01 17 /usr/bin/vmm\n"
		 "%" PRIx64 "-%" PRIx64 " rw-s %08" PRIx64 " %02x:%02x %llu /memfd:guest-ram (deleted)\n",
		 va, va + pages * (uint64_t)4096, off, major(st.st_dev),
		 minor(st.st_dev), (unsigned long long)st.st_ino);
	fstree_put(root, "4242/maps", line);
	snprintf(path, sizeof(path), "%s/4242/pagemap", root);
	out = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	pme[page] = KHO_PM_PRESENT | pfn;
	if (out < 0 || pwrite(out, pme, pages * 8, (off_t)(va / 4096 * 8)) !=
	    (ssize_t)(pages * 8))
		abort();
	close(out);
	snprintf(path, sizeof(path), "%s/kpageflags", root);
	out = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (out < 0 || write(out, kpf, sizeof(kpf)) != sizeof(kpf))
		abort();
	close(out);
}

void fstree_rm(const char *root)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	if (system(cmd))
		abort();
}
