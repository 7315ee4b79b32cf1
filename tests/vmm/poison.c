// SPDX-License-Identifier: GPL-2.0
/*
 * The test VMM's poisoned guest pages (issue #15, docs/device-state.md):
 * a memory failure injected before the upgrade (serve --poison-offset),
 * and, after the kexec, the adopted list poisoned again in the VMM's own
 * mapping (UFFDIO_POISON), a guest-RAM read of it taking SIGBUS
 * BUS_MCEERR_AR, and an edu DMA to its IOVA reaching nothing.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "adopt.h"
#include "poison.h"
#include "vmm.h"

#define DMA_LEN 256

int vmm_poison_inject(int memfd, const char *what, uint64_t offset)
{
	struct kho_poison p = { 0, offset, KHO_POISON_PAGE };
	struct kho_diag diag = { "" };
	int ret;

	ret = kho_poison_inject(memfd, &p, &diag);
	if (ret) {
		fprintf(stderr, "test-vmm: %s\n", diag.msg);
		return ret;
	}
	printf("test-vmm: %s offset 0x%" PRIx64 ": memory failure injected (MADV_HWPOISON), the memfd answers EIO\n",
	       what, offset);
	return 0;
}

int vmm_poison_list(const struct kho_adopt_set *set, struct kho_poison **list,
		    size_t *nr)
{
	struct kho_diag diag = { "" };
	int ret = kho_adopt_poison(set, list, nr, &diag);

	if (ret)
		fprintf(stderr, "test-vmm: restart: %s\n", diag.msg);
	return ret;
}

int vmm_poison_adopted(const struct kho_poison *list, size_t nr,
		       uint64_t token, void *ram, uint64_t size)
{
	struct kho_diag diag = { "" };
	size_t pages = 0, i;
	int ret;

	ret = kho_poison_apply(list, nr, token, ram, 0, size, &pages, &diag);
	if (ret) {
		fprintf(stderr, "test-vmm: restart: %s\n", diag.msg);
		return ret;
	}
	/* The list holds every memfd's ranges: this mapping's are said. */
	for (i = 0; i < nr; i++)
		if (list[i].memfd_token == token)
			printf("test-vmm: restart: poison: memfd token %" PRIu64 " 0x%" PRIx64 "+0x%" PRIx64 " poisoned again in the VMM's mapping (UFFDIO_POISON)\n",
			       list[i].memfd_token, list[i].offset,
			       list[i].length);
	if (pages)
		printf("test-vmm: restart: poison: %zu page(s) of memfd token %" PRIu64 "\n",
		       pages, token);
	return 0;
}

/*
 * inject PID NAME OFFSET: a memory failure on a page of another VMM's
 * guest RAM, the memfd NAME it holds open, reopened through /proc (root
 * only).  For a VMM that is not root: MADV_HWPOISON needs CAP_SYS_ADMIN,
 * so it cannot take its memory failure itself (serve --poison-offset).
 */
int vmm_cmd_poison_inject(int argc, char **argv)
{
	char fdpath[300], want[300], link[300], what[400];
	struct dirent *de;
	long pid, off;
	char *end;
	DIR *dir;
	int fd = -1, ret;
	ssize_t n;

	if (argc != 4)
		goto usage;
	pid = strtol(argv[1], &end, 0);
	if (*end || pid <= 0)
		goto usage;
	off = strtol(argv[3], &end, 0);
	if (*end || off < 0 || off % KHO_POISON_PAGE)
		goto usage;
	snprintf(fdpath, sizeof(fdpath), "/proc/%ld/fd", pid);
	snprintf(want, sizeof(want), "/memfd:%s (deleted)", argv[2]);
	dir = opendir(fdpath);
	if (!dir) {
		fprintf(stderr, "test-vmm: inject: %s: %s\n", fdpath, strerror(errno));
		return 1;
	}
	while (fd < 0 && (de = readdir(dir))) {
		snprintf(fdpath, sizeof(fdpath), "/proc/%ld/fd/%s", pid, de->d_name);
		n = readlink(fdpath, link, sizeof(link) - 1);
		if (n < 0)
			continue;
		link[n] = 0;
		if (!strcmp(link, want))
			fd = open(fdpath, O_RDWR | O_CLOEXEC);
	}
	closedir(dir);
	if (fd < 0) {
		fprintf(stderr, "test-vmm: inject: pid %ld holds no memfd %s open (or it cannot be reopened)\n",
			pid, argv[2]);
		return 1;
	}
	snprintf(what, sizeof(what), "inject: pid %ld's memfd %s", pid, argv[2]);
	ret = vmm_poison_inject(fd, what, (uint64_t)off);
	close(fd);
	return ret ? 1 : 0;
usage:
	fprintf(stderr, "test-vmm: inject: usage: PID MEMFD-NAME PAGE-ALIGNED-OFFSET\n");
	return 2;
}

long vmm_poison_pattern_check(const uint8_t *ram, uint64_t size, uint32_t seed,
			      uint64_t token, const struct kho_poison *list,
			      size_t nr)
{
	uint64_t pos = 0;
	long off;
	size_t i;

	for (i = 0; i <= nr; i++) {
		uint64_t end = size;

		if (i < nr && list[i].memfd_token != token)
			continue;
		if (i < nr)
			end = list[i].offset < size ? list[i].offset : size;
		if (end > pos) {
			off = vmm_pattern_check(ram + pos, end - pos, seed, pos);
			if (off >= 0)
				return (long)pos + off;
		}
		if (i < nr)
			pos = list[i].offset + list[i].length;
	}
	return -1;
}

static sigjmp_buf sigbus_jmp;
static volatile int sigbus_code;
static void *volatile sigbus_addr;

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	sigbus_code = si->si_code;
	sigbus_addr = si->si_addr;
	siglongjmp(sigbus_jmp, 1);
}

int vmm_poison_read(const uint8_t *ram, const char *who, const char *what,
		    const struct kho_poison *p)
{
	struct sigaction sa = { .sa_sigaction = on_sigbus,
				.sa_flags = SA_SIGINFO }, old;
	volatile const uint8_t *addr = ram + p->offset;
	int ret;

	sigbus_code = 0;
	sigaction(SIGBUS, &sa, &old);
	if (sigsetjmp(sigbus_jmp, 1)) {
		ret = sigbus_code == BUS_MCEERR_AR &&
		      sigbus_addr == (void *)addr ? 0 : -EBADMSG;
		printf("test-vmm: %s: poison: read of %s offset 0x%" PRIx64 ": SIGBUS %s at %s\n",
		       who, what, p->offset,
		       sigbus_code == BUS_MCEERR_AR ? "BUS_MCEERR_AR" :
		       sigbus_code == BUS_ADRERR ? "BUS_ADRERR" : "(another si_code)",
		       sigbus_addr == (void *)addr ? "the page" : "another address");
	} else {
		uint8_t byte = *addr;

		printf("test-vmm: %s: poison: read of %s offset 0x%" PRIx64 " gave 0x%02x, no SIGBUS\n",
		       who, what, p->offset, byte);
		ret = -EBADMSG;
	}
	sigaction(SIGBUS, &old, NULL);
	return ret;
}

int vmm_poison_dma(struct vmm_edu *edu, int memfd, uint8_t *ram,
		   const struct kho_poison *p, uint64_t iova, uint32_t seed)
{
	uint64_t hole = iova + p->offset, scratch = VMM_IOVA_BASE + 0x2000;
	uint8_t saved[DMA_LEN], old[DMA_LEN], page[DMA_LEN];
	int ret;

	/* The edu's buffer gets 0x5a bytes, from a good page. */
	memcpy(saved, ram + 0x2000, DMA_LEN);
	memset(ram + 0x2000, 0x5a, DMA_LEN);
	ret = vmm_edu_dma(edu, scratch, 0, DMA_LEN, false);
	/* Written to the poisoned IOVA: it must reach no page. */
	if (!ret)
		ret = vmm_edu_dma(edu, hole, 0, DMA_LEN, true);
	/* Read from it, and written where the VMM can look. */
	if (!ret)
		ret = vmm_edu_dma(edu, hole, 0, DMA_LEN, false);
	if (!ret)
		ret = vmm_edu_dma(edu, scratch, 0, DMA_LEN, true);
	memcpy(page, ram + 0x2000, DMA_LEN);
	memcpy(ram + 0x2000, saved, DMA_LEN);
	if (ret) {
		fprintf(stderr, "test-vmm: restart: poison: edu DMA at IOVA 0x%" PRIx64 ": %s\n",
			hole, strerror(-ret));
		return ret;
	}
	vmm_pattern_fill(old, DMA_LEN, seed, p->offset);
	if (!memcmp(page, old, DMA_LEN)) {
		fprintf(stderr, "test-vmm: restart: poison: an edu DMA from IOVA 0x%" PRIx64 " read the old bytes of the poisoned page\n",
			hole);
		return -EBADMSG;
	}
	/* The memfd's page behind the hole: LUO's zeroes, not the DMA's 0x5a. */
	if (pread(memfd, saved, DMA_LEN, (off_t)p->offset) != DMA_LEN) {
		fprintf(stderr, "test-vmm: restart: poison: reading the memfd at 0x%" PRIx64 ": %s\n",
			p->offset, strerror(errno));
		return -EIO;
	}
	memset(page, 0, DMA_LEN);
	if (memcmp(saved, page, DMA_LEN)) {
		fprintf(stderr, "test-vmm: restart: poison: an edu DMA to IOVA 0x%" PRIx64 " reached the memfd's page behind it\n",
			hole);
		return -EBADMSG;
	}
	printf("test-vmm: restart: poison: edu DMA to and from IOVA 0x%" PRIx64 " reached no page: no old bytes read, the memfd's page still zero\n",
	       hole);
	return 0;
}
