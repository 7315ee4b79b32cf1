// SPDX-License-Identifier: GPL-2.0
/*
 * tsc: the guest clock of bench/upgrade-vm.sh that survives a kexec.
 *
 * Under QEMU's -icount, TCG's RDTSC returns the icount virtual clock
 * (hw/i386/x86.c cpu_get_tsc() -> cpus_get_elapsed_ticks() -> the TCG
 * accel's get_elapsed_ticks, which is icount_get() when icount is on):
 * guest nanoseconds counted in guest instructions (2^shift ns each), not
 * the host's time.  Linux does not reset the TSC across kexec, so one
 * RDTSC before a kexec and one after it measure the kexec on one clock,
 * where CLOCK_BOOTTIME and the printk times restart.  bench/upgrade-vm.sh
 * checks both claims in every run (the "spin" calibration below and TSC
 * stamps that must grow along the kexec chain).
 *
 * Every stamp prints "KHOTEST: TSC LABEL TSC BOOTTIME_NS": the RDTSC value
 * and the kernel's CLOCK_BOOTTIME taken next to it, so that a time the
 * guest reports on its own clock (kho-tool's "at boottime" line) can be
 * placed on the TSC.
 *
 * usage: tsc [-k] LABEL
 *            one stamp on stdout (-k: on /dev/kmsg, which reaches the
 *            console in the kernel's own order)
 *        tsc spin N LABEL
 *            busy loop of N iterations of "dec; jnz" (2N instructions),
 *            bracketed by two stamps: "KHOTEST: TSC-SPIN LABEL N DTSC DBT_NS"
 *        tsc lines
 *            copy stdin to stdout, each line prefixed with "[tsc N] ", N
 *            read when the line arrived (a pipe from a program whose stdout
 *            is line buffered)
 *        restore-agent ARGS... (installed under that name)
 *            the real restore-agent, its stderr through `tsc lines`: see
 *            agent_shim()
 *
 * Built static by bench/upgrade-vm.sh, not by the Makefile: the C files
 * directly in bench/ are host benches.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ __volatile__("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

static uint64_t boottime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		p += w;
		n -= (size_t)w;
	}
}

static void stamp(int fd, const char *label, uint64_t t, uint64_t bt)
{
	char line[256];
	int n;

	n = snprintf(line, sizeof(line), "KHOTEST: TSC %s %llu %llu\n", label,
		     (unsigned long long)t, (unsigned long long)bt);
	write_all(fd, line, (size_t)n);
}

static int cmd_spin(unsigned long n, const char *label)
{
	uint64_t t0, t1, b0, b1;
	unsigned long i = n;
	char line[256];
	int len;

	b0 = boottime_ns();
	t0 = rdtsc();
	__asm__ __volatile__("1: dec %0\n\tjnz 1b" : "+r"(i) : : "cc");
	t1 = rdtsc();
	b1 = boottime_ns();
	len = snprintf(line, sizeof(line), "KHOTEST: TSC-SPIN %s %lu %llu %llu\n",
		       label, n, (unsigned long long)(t1 - t0),
		       (unsigned long long)(b1 - b0));
	write_all(1, line, (size_t)len);
	return 0;
}

static int cmd_lines(int out_fd)
{
	char in[4096], out[8192], pre[40];
	size_t plen;
	uint64_t t = 0;
	int fresh = 1;

	for (;;) {
		ssize_t r = read(0, in, sizeof(in));
		size_t o = 0, i;

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		/* A line's stamp is when its first byte arrived. */
		if (fresh)
			t = rdtsc();
		for (i = 0; i < (size_t)r; i++) {
			if (fresh) {
				plen = (size_t)snprintf(pre, sizeof(pre), "[tsc %llu] ",
							(unsigned long long)t);
				if (o + plen >= sizeof(out)) {
					write_all(out_fd, out, o);
					o = 0;
				}
				memcpy(out + o, pre, plen);
				o += plen;
				fresh = 0;
			}
			if (o + 1 >= sizeof(out)) {
				write_all(out_fd, out, o);
				o = 0;
			}
			out[o++] = in[i];
			if (in[i] == '\n') {
				fresh = 1;
				t = rdtsc();
			}
		}
		write_all(out_fd, out, o);
	}
	return 0;
}

/*
 * As /usr/lib/kho-tool/restore-agent (the first path the init hook tries):
 * run the real agent, /usr/bin/restore-agent, in this very process (the
 * hook's $! stays the agent's pid) with its stderr, where it logs every
 * step and "serving", through a `tsc lines` child that writes to the
 * console.  Costs the agent's start one pipe, one fork and one exec more.
 */
static int agent_shim(char **argv)
{
	const char *agent = "/usr/bin/restore-agent";
	int p[2];
	pid_t pid;

	if (pipe(p) < 0)
		goto run;
	pid = fork();
	if (pid == 0) {
		close(p[1]);
		dup2(p[0], 0);
		close(p[0]);
		return cmd_lines(2);
	}
	close(p[0]);
	if (pid > 0)
		dup2(p[1], 2);
	close(p[1]);
run:
	argv[0] = (char *)agent;
	execv(agent, argv);
	fprintf(stderr, "tsc: exec %s: %s\n", agent, strerror(errno));
	return 127;
}

static int usage(void)
{
	fprintf(stderr, "usage: tsc [-k] LABEL | tsc spin N LABEL | tsc lines | "
			"restore-agent ARGS\n");
	return 2;
}

int main(int argc, char **argv)
{
	const char *base = strrchr(argv[0], '/');
	uint64_t t, bt;
	int fd;

	if (!strcmp(base ? base + 1 : argv[0], "restore-agent"))
		return agent_shim(argv);
	if (argc == 2 && !strcmp(argv[1], "lines"))
		return cmd_lines(1);
	if (argc == 4 && !strcmp(argv[1], "spin") && strtoul(argv[2], NULL, 0))
		return cmd_spin(strtoul(argv[2], NULL, 0), argv[3]);
	if (argc == 3 && !strcmp(argv[1], "-k")) {
		t = rdtsc();
		bt = boottime_ns();
		fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);
		if (fd < 0) {
			fprintf(stderr, "tsc: /dev/kmsg: %s\n", strerror(errno));
			return 1;
		}
		stamp(fd, argv[2], t, bt);
		close(fd);
		return 0;
	}
	if (argc == 2 && argv[1][0] != '-') {
		t = rdtsc();
		stamp(1, argv[1], t, boottime_ns());
		return 0;
	}
	return usage();
}
