// SPDX-License-Identifier: GPL-2.0
/*
 * test-vmm luo-hold / luo-check: a patterned memfd carried across kexec in
 * a LUO session, the kernel facility every hand-off of the product rides on.
 *
 * luo-hold keeps /dev/liveupdate and the session open until the kexec: an
 * outgoing session is unpreserved when its fd is closed, and the kernel
 * serialises the sessions only at reboot(LINUX_REBOOT_CMD_KEXEC).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "luo.h"
#include "vmm.h"

struct luo_args {
	const char *session;
	uint64_t token;
	size_t size;
	uint32_t seed;
};

static int parse_luo_args(int argc, char **argv, struct luo_args *a)
{
	static const struct option opts[] = {
		{ "session", required_argument, NULL, 'S' },
		{ "token", required_argument, NULL, 't' },
		{ "size", required_argument, NULL, 's' },
		{ "seed", required_argument, NULL, 'e' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long long v;
	char *end;
	int c;

	memset(a, 0, sizeof(*a));
	a->seed = VMM_SEED;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'S') {
			a->session = optarg;
			continue;
		}
		if (c == '?')
			goto usage;
		errno = 0;
		v = strtoull(optarg, &end, 0);
		if (errno || *end || end == optarg)
			goto usage;
		if (c == 't')
			a->token = v;
		else if (c == 's')
			a->size = v;
		else
			a->seed = (uint32_t)v;
	}
	if (optind == argc && a->session && a->size)
		return 0;
usage:
	fprintf(stderr, "test-vmm: %s: usage: --session NAME --token T --size BYTES [--seed S]\n",
		argv[0]);
	return 2;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int vmm_cmd_luo_hold(int argc, char **argv)
{
	struct luo_args a;
	sigset_t set;
	int luo, session, memfd, ret, sig;
	void *p;

	ret = parse_luo_args(argc, argv, &a);
	if (ret)
		return ret;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);

	memfd = vmm_ram_create("test-vmm-luo", a.size);
	if (memfd < 0) {
		fprintf(stderr, "test-vmm: luo-hold: memfd_create of %zu bytes: %s\n",
			a.size, strerror(-memfd));
		return 1;
	}
	p = mmap(NULL, a.size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	if (p == MAP_FAILED) {
		fprintf(stderr, "test-vmm: luo-hold: mmap: %s\n", strerror(errno));
		return 1;
	}
	vmm_pattern_fill(p, a.size, a.seed, 0);
	munmap(p, a.size);

	luo = kho_luo_open();
	if (luo < 0) {
		fprintf(stderr, "test-vmm: luo-hold: open %s: %s\n", KHO_LUO_DEV, strerror(-luo));
		return 1;
	}
	session = kho_luo_create_session(luo, a.session);
	if (session < 0) {
		fprintf(stderr, "test-vmm: luo-hold: create session '%s': %s\n",
			a.session, strerror(-session));
		return 1;
	}
	ret = kho_luo_preserve_fd(session, memfd, a.token);
	if (ret) {
		fprintf(stderr, "test-vmm: luo-hold: session '%s': preserve memfd as token %llu: %s\n",
			a.session, (unsigned long long)a.token, strerror(-ret));
		return 1;
	}
	printf("test-vmm: luo-hold: session '%s' preserves a %zu-byte memfd as token %llu (seed 0x%x)\n",
	       a.session, a.size, (unsigned long long)a.token, a.seed);
	printf("test-vmm: ready pid=%d\n", getpid());
	sigwait(&set, &sig);
	/* Closing the fds on exit unpreserves the session: say so. */
	printf("test-vmm: luo-hold: %s before kexec, session '%s' unpreserved\n",
	       strsignal(sig), a.session);
	return 0;
}

int vmm_cmd_luo_check(int argc, char **argv)
{
	struct luo_args a;
	struct stat st;
	double t0, t_retrieve;
	int luo, session, memfd, ret;
	long bad;
	void *p;

	ret = parse_luo_args(argc, argv, &a);
	if (ret)
		return ret;

	t0 = now_ms();
	luo = kho_luo_open();
	if (luo < 0) {
		fprintf(stderr, "test-vmm: luo-check: open %s: %s\n", KHO_LUO_DEV, strerror(-luo));
		return 1;
	}
	session = kho_luo_retrieve_session(luo, a.session);
	if (session < 0) {
		fprintf(stderr, "test-vmm: luo-check: retrieve session '%s': %s\n",
			a.session, strerror(-session));
		return 1;
	}
	memfd = kho_luo_retrieve_fd(session, a.token);
	if (memfd < 0) {
		fprintf(stderr, "test-vmm: luo-check: session '%s': retrieve token %llu: %s\n",
			a.session, (unsigned long long)a.token, strerror(-memfd));
		return 1;
	}
	t_retrieve = now_ms() - t0;

	if (fstat(memfd, &st)) {
		fprintf(stderr, "test-vmm: luo-check: fstat of the memfd: %s\n", strerror(errno));
		return 1;
	}
	if ((size_t)st.st_size != a.size) {
		fprintf(stderr, "test-vmm: luo-check: token %llu: memfd is %lld bytes, preserved %zu\n",
			(unsigned long long)a.token, (long long)st.st_size, a.size);
		return 1;
	}
	p = mmap(NULL, a.size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	if (p == MAP_FAILED) {
		fprintf(stderr, "test-vmm: luo-check: mmap of the retrieved memfd: %s\n",
			strerror(errno));
		return 1;
	}
	bad = vmm_pattern_check(p, a.size, a.seed, 0);
	if (bad != -1) {
		fprintf(stderr, "test-vmm: luo-check: token %llu: content differs from the pattern at byte %ld\n",
			(unsigned long long)a.token, bad);
		return 1;
	}
	/* The memory is the VM's again: it must take writes. */
	((volatile char *)p)[a.size - 1] ^= 0xff;
	munmap(p, a.size);

	ret = kho_luo_finish(session);
	if (ret) {
		fprintf(stderr, "test-vmm: luo-check: session '%s': FINISH: %s\n",
			a.session, strerror(-ret));
		return 1;
	}
	close(session);
	/* A finished session is gone: retrieving it again must fail. */
	ret = kho_luo_retrieve_session(luo, a.session);
	if (ret >= 0) {
		fprintf(stderr, "test-vmm: luo-check: session '%s' still retrievable after FINISH\n",
			a.session);
		return 1;
	}
	printf("test-vmm: luo-check: ok: session '%s' token %llu: %zu bytes intact, retrieved in %.1f ms, finished (retrieve again: %s)\n",
	       a.session, (unsigned long long)a.token, a.size, t_retrieve, strerror(-ret));
	close(memfd);
	close(luo);
	return 0;
}
