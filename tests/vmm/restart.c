// SPDX-License-Identifier: GPL-2.0
/*
 * test-vmm restart: the VMM after kexec.  Adopts the restore-agent's
 * iommufd, device and memfds (CHANGE_PROCESS included), checks that the
 * guest RAM still holds the pattern written before the kexec, and proves
 * the rebuilt translation with the edu DMA check on that memory; each
 * adopted mtty (an mdev: no PCI address) must give its FIFO's bytes back.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "adopt.h"
#include "pci.h"
#include "poison.h"
#include "vmm.h"

#define RESTART_CHECK_LEN 4000

/* The first adopted device that is a PCI function. */
static const struct kho_adopt_dev *adopted_pci(const struct kho_adopt_set *set)
{
	size_t i;

	for (i = 0; i < set->nr_dev; i++)
		if (!kho_pci_is_none(&set->dev[i].pci))
			return &set->dev[i];
	return NULL;
}

/*
 * The adopted mdevs (the mttys), in the order the VMM bound them before
 * the kexec: by their devids there, which the agent's replay keeps in
 * order.  Returns how many, at most VMM_MAX_MTTY; -1 if more.
 */
static int adopted_mttys(const struct kho_adopt_set *set,
			 const struct kho_adopt_dev **mtty)
{
	size_t i, j;
	int n = 0;

	for (i = 0; i < set->nr_dev; i++) {
		if (!kho_pci_is_none(&set->dev[i].pci))
			continue;
		if (n == VMM_MAX_MTTY)
			return -1;
		for (j = n++; j && mtty[j - 1]->old_id > set->dev[i].old_id; j--)
			mtty[j] = mtty[j - 1];
		mtty[j] = &set->dev[i];
	}
	return n;
}

/*
 * The edu DMA check on the adopted guest RAM @p.  expect: what the DMA
 * must land; saved: what it overwrites, put back afterwards so the guest
 * RAM still holds the pattern for the next kexec (a rollback checks it
 * again).
 */
static int restart_dma_check(struct vmm_edu *edu, const char *cdev,
			     uint8_t *p)
{
	uint8_t *expect = malloc(2 * RESTART_CHECK_LEN);
	long bad = -1;
	int ret;

	if (!expect) {
		fprintf(stderr, "test-vmm: restart: edu DMA check on %s: %s\n",
			cdev, strerror(ENOMEM));
		return -ENOMEM;
	}
	memcpy(expect, p, RESTART_CHECK_LEN);
	memcpy(expect + RESTART_CHECK_LEN, p + 0x2000, RESTART_CHECK_LEN);
	ret = vmm_edu_dma_check(edu, VMM_IOVA_BASE, VMM_IOVA_BASE + 0x2000,
				p + 0x2000, expect, RESTART_CHECK_LEN, &bad);
	memcpy(p + 0x2000, expect + RESTART_CHECK_LEN, RESTART_CHECK_LEN);
	free(expect);
	if (ret) {
		fprintf(stderr, "test-vmm: restart: edu DMA check on %s: %s (first bad byte %ld)\n",
			cdev, strerror(-ret), bad);
		return ret;
	}
	printf("test-vmm: restart: DMA check passed on %s (IOVA 0x%llx -> 0x%llx, %d bytes)\n",
	       cdev, VMM_IOVA_BASE, VMM_IOVA_BASE + 0x2000, RESTART_CHECK_LEN);
	return 0;
}

/*
 * Each mtty's FIFO holds its bytes of @fifo (vmm_mtty_bytes()), then put
 * back: a rollback carries them again.
 */
static int restart_mtty_check(const struct kho_adopt_dev *const *mtty, int n,
			      const char *fifo, const char *what)
{
	char want[16];
	int k;

	for (k = 0; k < n; k++) {
		vmm_mtty_bytes(fifo, k, want);
		if (vmm_mtty_expect(mtty[k]->fd, mtty[k]->cdev, want, what) ||
		    vmm_mtty_fill(mtty[k]->fd, mtty[k]->cdev, want))
			return 1;
	}
	return 0;
}

/* An adopted guest-RAM memfd, mapped, with its pattern and IOVA. */
struct restart_ram {
	const struct kho_adopt_memfd *m;
	uint32_t seed;
	uint64_t iova;		/* where serve mapped its offset 0 */
	uint8_t *p;
};

/*
 * Map @r's memfd, poison its pages of the adopted list @poison again
 * before the mapping is touched (they fail here as they did on the old
 * kernel), check the pattern around them and read each: SIGBUS
 * BUS_MCEERR_AR.
 */
static int restart_ram_check(struct restart_ram *r,
			     const struct kho_poison *poison, size_t nr_poison)
{
	const struct kho_adopt_memfd *m = r->m;
	char what[48];
	size_t i;
	long off;

	r->p = mmap(NULL, m->size, PROT_READ | PROT_WRITE, MAP_SHARED, m->fd, 0);
	if (r->p == MAP_FAILED) {
		r->p = NULL;
		fprintf(stderr, "test-vmm: restart: mmap memfd token %llu: %s\n",
			(unsigned long long)m->token, strerror(errno));
		return -1;
	}
	if (vmm_poison_adopted(poison, nr_poison, m->token, r->p, m->size))
		return -1;
	off = vmm_poison_pattern_check(r->p, m->size, r->seed, m->token,
				       poison, nr_poison);
	if (off >= 0) {
		fprintf(stderr, "test-vmm: restart: memfd token %llu: byte %ld differs from the pattern written before kexec\n",
			(unsigned long long)m->token, off);
		return -1;
	}
	printf("test-vmm: restart: memfd token %llu: %llu bytes intact%s\n",
	       (unsigned long long)m->token, (unsigned long long)m->size,
	       nr_poison ? " around the poisoned range(s)" : "");
	snprintf(what, sizeof(what), "memfd token %llu",
		 (unsigned long long)m->token);
	for (i = 0; i < nr_poison; i++)
		if (poison[i].memfd_token == m->token &&
		    vmm_poison_read(r->p, "restart", what, &poison[i]))
			return -1;
	return 0;
}

/* edu DMA to and from each poisoned IOVA of @r reaches no page. */
static int restart_ram_dma(struct vmm_edu *edu, const struct restart_ram *r,
			   uint8_t *ram, const struct kho_poison *poison,
			   size_t nr_poison)
{
	size_t i;

	for (i = 0; i < nr_poison; i++)
		if (poison[i].memfd_token == r->m->token &&
		    vmm_poison_dma(edu, r->m->fd, ram, &poison[i], r->iova,
				   r->seed))
			return -1;
	return 0;
}

int vmm_cmd_restart(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "as-uid", required_argument, NULL, 'u' },
		{ "token-file", required_argument, NULL, 't' },
		{ "token-fd", required_argument, NULL, 'F' },
		{ "no-token", no_argument, NULL, 'n' },
		{ "hold", no_argument, NULL, 'H' },
		{ "mtty-fifo", required_argument, NULL, 'M' },
		{ "poison-offset", required_argument, NULL, 'P' },
		{ 0 }
	};
	const char *path = KHO_ADOPT_SOCK, *token_file = KHO_ADOPT_TOKEN_FILE;
	const char *mtty_fifo = NULL;
	struct kho_adopt_token token, *tok = NULL;
	struct kho_adopt_set set;
	struct kho_diag diag = { "" };
	struct kho_adopt_memfd *ram = NULL;
	struct restart_ram rams[2] = { { 0 } };
	const struct kho_adopt_dev *edu_dev, *mtty[VMM_MAX_MTTY];
	struct kho_poison *poison = NULL;
	size_t nr_poison = 0, nr_rams = 0;
	struct vmm_edu edu;
	long as_uid = -1, token_fd = -1, poison_offset = -1;
	int c, hold = 0, ret, nr_mtty;
	uint8_t *p;
	size_t i;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 's')
			path = optarg;
		else if (c == 'u')
			as_uid = strtol(optarg, NULL, 0);
		else if (c == 'H')
			hold = 1;
		else if (c == 't')
			token_file = optarg;
		else if (c == 'F')
			token_fd = strtol(optarg, NULL, 0);
		else if (c == 'n')
			token_file = NULL;
		else if (c == 'M')
			mtty_fifo = optarg;
		else if (c == 'P')
			poison_offset = strtol(optarg, NULL, 0);
		else
			goto usage;
	}
	if (optind != argc)
		goto usage;
	/*
	 * The launcher's part: read the agent's token while still root, and
	 * give it to the VMM (this process, after the drop).  Without it
	 * (--no-token, or no file: a held agent issues none) the agent is
	 * asked all the same, and answers why not.
	 */
	if (token_fd >= 0) {
		/* Opened by a root launcher (test-vmm run-as) for us. */
		if (kho_adopt_token_read_fd(token_fd, "(inherited fd)", &token, &diag))
			fprintf(stderr, "test-vmm: restart: no token: %s\n", diag.msg);
		else
			tok = &token;
		close(token_fd);
	} else if (token_file) {
		if (kho_adopt_token_read(token_file, &token, &diag))
			fprintf(stderr, "test-vmm: restart: no token: %s\n", diag.msg);
		else
			tok = &token;
	}
	/* Drop to another uid: a VMM that is not root, or a stranger. */
	if (as_uid >= 0 && setresuid(as_uid, as_uid, as_uid) < 0) {
		fprintf(stderr, "test-vmm: restart: setresuid(%ld): %s\n", as_uid,
			strerror(errno));
		return 1;
	}

	ret = kho_adopt_connect(path, tok, &set, &diag);
	if (ret) {
		fprintf(stderr, "test-vmm: restart: %s\n", diag.msg);
		return 1;
	}
	printf("test-vmm: adopted iommufd, %zu device(s), %zu memfd(s)\n",
	       set.nr_dev, set.nr_memfd);
	for (i = 0; i < set.idmap.nr; i++)
		printf("test-vmm: restart: %s %u -> %u\n",
		       kho_obj_kind_name(set.idmap.ent[i].kind),
		       set.idmap.ent[i].old_id, set.idmap.ent[i].new_id);

	/*
	 * The guest RAM is the largest memfd; the hand-off is never sent.
	 * serve --ram-memfds 2 made a second, smaller one (its own pattern,
	 * mapped from VMM_RAM2_IOVA); no more are expected.
	 */
	for (i = 0; i < set.nr_memfd; i++)
		if (!ram || set.memfd[i].size > ram->size)
			ram = &set.memfd[i];
	if (!ram || !set.nr_dev || ram->size < 3 * 4096 || set.nr_memfd > 2) {
		fprintf(stderr, "test-vmm: restart: no guest RAM memfd, no device adopted, or more memfds (%zu) than serve makes\n",
			set.nr_memfd);
		goto fail;
	}
	rams[nr_rams++] = (struct restart_ram){ .m = ram, .seed = VMM_SEED,
						.iova = VMM_IOVA_BASE };
	for (i = 0; i < set.nr_memfd; i++)
		if (&set.memfd[i] != ram)
			rams[nr_rams++] = (struct restart_ram){
				.m = &set.memfd[i], .seed = VMM_SEED2,
				.iova = VMM_RAM2_IOVA };
	/*
	 * Before a mapping is touched: the pages the old kernel had a
	 * memory failure on fail again, in this mapping, as they did there.
	 */
	if (vmm_poison_list(&set, &poison, &nr_poison))
		goto fail;
	for (i = 0; i < nr_rams; i++)
		if (restart_ram_check(&rams[i], poison, nr_poison))
			goto fail;
	p = rams[0].p;

	/*
	 * Each device by its kind: each mtty (an mdev) must hold in its FIFO
	 * its bytes of what --mtty-fifo says ("" for a device whose state
	 * was reset across the kexec); the edu, if adopted, proves the
	 * translation.
	 */
	nr_mtty = adopted_mttys(&set, mtty);
	edu_dev = adopted_pci(&set);
	if (mtty_fifo && nr_mtty <= 0) {
		fprintf(stderr, "test-vmm: restart: --mtty-fifo: %s mdevs among the %zu adopted device(s), want 1 to %d\n",
			nr_mtty ? "more" : "no", set.nr_dev, VMM_MAX_MTTY);
		goto fail;
	}
	if (mtty_fifo &&
	    restart_mtty_check(mtty, nr_mtty, mtty_fifo, "after adoption"))
		goto fail;
	if (!edu_dev && !mtty_fifo) {
		fprintf(stderr, "test-vmm: restart: no PCI function among the %zu adopted device(s) for the edu DMA check\n",
			set.nr_dev);
		goto fail;
	}
	if (edu_dev) {
		ret = vmm_edu_init(&edu, edu_dev->fd);
		if (ret) {
			fprintf(stderr, "test-vmm: restart: edu %s: BAR0/config setup: %s\n",
				edu_dev->cdev, strerror(-ret));
			goto fail;
		}
		if (restart_dma_check(&edu, edu_dev->cdev, p))
			goto fail;
		for (i = 0; i < nr_rams; i++)
			if (restart_ram_dma(&edu, &rams[i], p, poison, nr_poison))
				goto fail;
	}
	/* A new memory failure on the adopted guest RAM, for the next kexec. */
	if (poison_offset >= 0 &&
	    (poison_offset < 0x3000 || (uint64_t)poison_offset >= ram->size ||
	     vmm_poison_inject(ram->fd, "guest RAM", (uint64_t)poison_offset)))
		goto fail;
	if (hold) {
		sigset_t sigs;
		int sig;

		/*
		 * Hold the adopted state (a later rollback captures it) until
		 * SIGTERM, and exit 0 then: a stop is not a failure.
		 * SIGUSR1 checks the devices again: a refused rollback must
		 * leave them working.
		 */
		sigemptyset(&sigs);
		sigaddset(&sigs, SIGTERM);
		sigaddset(&sigs, SIGINT);
		sigaddset(&sigs, SIGUSR1);
		sigprocmask(SIG_BLOCK, &sigs, NULL);
		printf("test-vmm: ready pid=%d\n", getpid());
		for (;;) {
			if (sigwait(&sigs, &sig))
				goto fail;
			if (sig != SIGUSR1)
				break;
			if ((edu_dev && restart_dma_check(&edu, edu_dev->cdev, p)) ||
			    (mtty_fifo && restart_mtty_check(mtty, nr_mtty,
							     mtty_fifo,
							     "on SIGUSR1")))
				goto fail;
		}
		printf("test-vmm: restart: %s, exiting\n", strsignal(sig));
	}
	free(poison);
	kho_adopt_set_free(&set, 1);
	return 0;
fail:
	free(poison);
	kho_adopt_set_free(&set, 1);
	return 1;
usage:
	fprintf(stderr, "test-vmm: restart: usage: [--socket PATH] [--as-uid N] [--token-file PATH | --token-fd N | --no-token] [--hold] [--mtty-fifo BYTES] [--poison-offset OFF]\n");
	return 2;
}
