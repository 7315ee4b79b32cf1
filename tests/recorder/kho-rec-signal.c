// SPDX-License-Identifier: GPL-2.0
/*
 * kho-rec-signal: a VMM that does its iommufd work from a signal handler,
 * for the recorder's VM test (tests/vm/guest/recorder-signal.sh).  Plain
 * libc and raw ioctls, like an unmodified VMM under the LD_PRELOAD
 * recorder.  A SIGALRM timer fires every 100 us; each signal's handler
 * maps the next 4 KiB of a memfd at the next IOVA (IOMMU_IOAS_MAP_FILE),
 * N times, while the main thread keeps the recorder busy:
 *
 *   storm N      with an open/close/dup/fcntl storm: the recorder's fd
 *                table work, under its lock
 *   ioctl N      with IOMMU_IOAS_IOVA_RANGES calls on the iommufd: the
 *                recorder's ioctl path (not journaled, but it takes the
 *                lock after the call)
 *   fork N       with fork(), each child exiting at once: the recorder's
 *                fork handlers; then one last child maps a page of its
 *                own at CHILD_IOVA and waits, its pid printed
 *
 * Before the handler maps, the main thread maps page 0 at BASE_IOVA, so
 * the journal holds 1 IOAS_ALLOC and N + 1 maps (N + 2 in the last fork
 * child).  Prints "handler maps=N" and "ready pid=", then waits for
 * SIGTERM.  Exits 1 if a map failed.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/iommufd.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE 4096UL
#define BASE_IOVA 0x1000000UL
#define CHILD_IOVA 0x40000000UL

static int sig_iommufd, sig_memfd;
static uint32_t sig_ioas;
static pid_t sig_parent;
static volatile sig_atomic_t sig_want, sig_done, sig_failed, sig_term;

static int sig_map(uint64_t iova)
{
	struct iommu_ioas_map_file m = {
		.size = sizeof(m),
		.flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
			 IOMMU_IOAS_MAP_WRITEABLE,
		.ioas_id = sig_ioas, .fd = sig_memfd, .start = 0,
		.length = PAGE, .iova = iova,
	};

	return ioctl(sig_iommufd, IOMMU_IOAS_MAP_FILE, &m);
}

/* The VMM's handler: one map per signal, errno kept, nothing else. */
static void sig_on_alarm(int sig)
{
	int err = errno;

	/* a fork child's handler leaves the shared IOAS to the parent */
	if (getpid() == sig_parent && sig_done < sig_want) {
		if (sig_map(BASE_IOVA + (sig_done + 1) * PAGE) < 0)
			sig_failed = errno;
		sig_done++;
	}
	errno = err;
}

static void sig_on_term(int sig)
{
	sig_term = 1;
}

static int sig_setup(void)
{
	struct iommu_ioas_alloc a = { .size = sizeof(a) };

	sig_memfd = memfd_create("signal-ram", MFD_CLOEXEC);
	if (sig_memfd < 0 || ftruncate(sig_memfd, PAGE) < 0) {
		perror("kho-rec-signal: memfd");
		return -1;
	}
	sig_iommufd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
	if (sig_iommufd < 0) {
		perror("kho-rec-signal: open /dev/iommu");
		return -1;
	}
	if (ioctl(sig_iommufd, IOMMU_IOAS_ALLOC, &a) < 0) {
		perror("kho-rec-signal: IOMMU_IOAS_ALLOC");
		return -1;
	}
	sig_ioas = a.out_ioas_id;
	if (sig_map(BASE_IOVA) < 0) {
		perror("kho-rec-signal: IOMMU_IOAS_MAP_FILE");
		return -1;
	}
	return 0;
}

static void sig_timer(long usec)
{
	struct itimerval it = {
		.it_interval = { .tv_usec = usec }, .it_value = { .tv_usec = usec },
	};

	setitimer(ITIMER_REAL, &it, NULL);
}

/* What the main thread does while the handler maps: the recorder busy. */
static int sig_busy(const char *mode)
{
	struct iommu_ioas_iova_ranges r = { .size = sizeof(r) };
	struct iommu_iova_range ranges[16];
	int fd, fd2, status;
	pid_t child;

	if (!strcmp(mode, "storm")) {
		fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return -1;
		fd2 = dup(fd);
		if (fd2 >= 0)
			dup2(fd, fd2);
		if (fd2 >= 0)
			close(fd2);
		fd2 = fcntl(fd, F_DUPFD_CLOEXEC, 3);
		if (fd2 >= 0)
			close(fd2);
		close(fd);
		return 0;
	}
	if (!strcmp(mode, "ioctl")) {
		r.ioas_id = sig_ioas;
		r.num_iovas = 16;
		r.allowed_iovas = (uintptr_t)ranges;
		return ioctl(sig_iommufd, IOMMU_IOAS_IOVA_RANGES, &r) < 0 ? -1 : 0;
	}
	child = fork();
	if (child < 0)
		return errno == EAGAIN ? 0 : -1;
	if (!child)
		_exit(0);
	while (waitpid(child, &status, 0) < 0 && errno == EINTR)
		;
	return 0;
}

/* The last fork child: a map of its own, then waits like its parent. */
static pid_t sig_fork_child(void)
{
	int pipefd[2];
	pid_t child;
	char c = 0;

	if (pipe(pipefd) < 0)
		return -1;
	child = fork();
	if (child < 0)
		return -1;
	if (!child) {
		c = sig_map(CHILD_IOVA) < 0 ? 'F' : 'K';
		if (write(pipefd[1], &c, 1) != 1)
			_exit(1);
		while (!sig_term)
			pause();
		_exit(c == 'K' ? 0 : 1);
	}
	if (read(pipefd[0], &c, 1) != 1 || c != 'K') {
		fprintf(stderr, "kho-rec-signal: the fork child's map failed\n");
		return -1;
	}
	close(pipefd[0]);
	close(pipefd[1]);
	return child;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = sig_on_alarm,
				.sa_flags = SA_RESTART };
	pid_t child = 0;
	long n;

	if (argc != 3 || (strcmp(argv[1], "storm") && strcmp(argv[1], "ioctl") &&
			  strcmp(argv[1], "fork")) || (n = atol(argv[2])) <= 0) {
		fprintf(stderr, "usage: kho-rec-signal storm|ioctl|fork N\n");
		return 2;
	}
	signal(SIGTERM, sig_on_term);
	sig_parent = getpid();
	if (sig_setup())
		return 1;
	sig_want = n;
	sigaction(SIGALRM, &sa, NULL);
	sig_timer(100);
	while (sig_done < sig_want && !sig_failed)
		if (sig_busy(argv[1])) {
			perror("kho-rec-signal: keeping the recorder busy");
			return 1;
		}
	sig_timer(0);
	if (sig_failed) {
		fprintf(stderr, "kho-rec-signal: a map from the handler failed: %s\n",
			strerror(sig_failed));
		return 1;
	}
	printf("kho-rec-signal: %s: handler maps=%d\n", argv[1], (int)sig_done);
	if (!strcmp(argv[1], "fork")) {
		child = sig_fork_child();
		if (child < 0)
			return 1;
		printf("kho-rec-signal: child pid=%d\n", (int)child);
	}
	printf("kho-rec-signal: ready pid=%d\n", (int)getpid());
	fflush(stdout);
	while (!sig_term)
		pause();
	if (child > 0) {
		kill(child, SIGTERM);
		waitpid(child, NULL, 0);
	}
	return 0;
}
