// SPDX-License-Identifier: GPL-2.0
/*
 * kho-rec-probe: a tiny dynamically linked iommufd user, plain libc and
 * raw ioctls like an unmodified VMM, for the recorder's VM test and
 * benchmark.
 *
 *   hold        IOAS + a memfd map by VA + an anonymous map by VA, then
 *               wait; SIGUSR1 unmaps the anonymous one, SIGTERM exits
 *   loop N      N x (MAP by VA + UNMAP), then N x (MAP_FILE + UNMAP) on an
 *               IOAS with no device, after one untimed pair of each;
 *               prints ns per pair of each
 *   cut         three maps on an IOAS, then an UNMAP whose range takes the
 *               first two whole and cuts the third: the kernel removes
 *               the two, then fails with ENOENT; the first is mapped
 *               again to prove it went; then wait for SIGTERM
 *   bypass      IOAS + a MAP_FILE through ioctl(3), then a second
 *               MAP_FILE through syscall(SYS_ioctl), which no LD_PRELOAD
 *               recorder sees: the kernel's journal then holds a record
 *               the recorder lacks; then wait for SIGTERM
 *   disown      IOAS + a map + the first VFIO cdev bound and attached,
 *               then that cdev closed through syscall(2), which no
 *               LD_PRELOAD recorder sees: the journal still claims a
 *               device the process no longer holds; then wait for
 *               SIGTERM
 *   impostor P  listen on P's journal socket ($KHO_RUN_DIR or
 *               /run/kho-tool, vmm-P.sock) without being P; then wait
 *               for SIGTERM
 *   closerange  IOAS + a MAP_FILE, then close_range(2) over every fd
 *               above the iommufd (the recorder's memfd reference among
 *               them) and close_range(CLOEXEC) of the iommufd; ready;
 *               SIGUSR1 closes the iommufd with close_range, takes its
 *               number with a pipe and opens a new iommufd with an IOAS
 *   lowfd       the iommufd moved to fd 0 (dup2), the
 *               number the recorder's socket server accepts on in its
 *               own fd table; IOAS + a MAP_FILE; ready; SIGUSR1 maps a
 *               second range
 *   loop N dev  the same on an IOAS with the first VFIO cdev
 *               (/dev/vfio/devices/vfio*) bound and attached, so that
 *               each map and unmap also costs an IOTLB invalidation, as
 *               it does for a VMM with a device assigned
 *   ram MIB N [nodev]
 *               the first VFIO cdev attached, then N rounds of what QEMU
 *               does for guest RAM at start (its VFIO memory listener,
 *               one IOMMU_IOAS_MAP by VA per RAM section of a PC's
 *               memory map: 640 KiB below the VGA hole, the rest of
 *               MIB MiB above 1 MiB, and the read-only BIOS ROM at
 *               4 GiB - 256 KiB) and of unmapping it all at the end;
 *               prints ns per round of maps and of unmaps; with nodev
 *               on an IOAS with no device, where a map pins nothing and
 *               the kernel's work does not depend on where the pages are
 *   viommu W N  the first VFIO cdev attached, then N small maps
 *               (4 KiB by VA, as a vIOMMU's shadow of a guest driver's
 *               DMA mappings) with W of them in flight: each map past
 *               the first W unmaps the one made W maps before, so no
 *               unmap follows its own map; prints ns per map+unmap
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <linux/iommufd.h>
/* Bookworm's <linux/stddef.h> predates the 7.2 uapi's __counted_by. */
#ifndef __counted_by
#define __counted_by(m)
#endif
#include <linux/vfio.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define PROBE_CHUNK (64UL << 10)
#define PROBE_IOVA 0x100000UL
#define PROBE_ANON_IOVA 0x800000UL

static volatile sig_atomic_t probe_sig;

static void probe_on_signal(int sig)
{
	probe_sig = sig;
}

static int probe_ioctl(int fd, unsigned long cmd, void *arg, const char *what)
{
	if (ioctl(fd, cmd, arg) == 0)
		return 0;
	fprintf(stderr, "kho-rec-probe: %s: %s\n", what, strerror(errno));
	return -1;
}

static int probe_map_va(int fd, uint32_t ioas, void *va, uint64_t len,
			uint64_t iova)
{
	struct iommu_ioas_map m = {
		.size = sizeof(m),
		.flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
			 IOMMU_IOAS_MAP_WRITEABLE,
		.ioas_id = ioas, .user_va = (uintptr_t)va, .length = len,
		.iova = iova,
	};

	return probe_ioctl(fd, IOMMU_IOAS_MAP, &m, "IOMMU_IOAS_MAP");
}

static int probe_map_file(int fd, uint32_t ioas, int memfd, uint64_t len,
			  uint64_t iova)
{
	struct iommu_ioas_map_file m = {
		.size = sizeof(m),
		.flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
			 IOMMU_IOAS_MAP_WRITEABLE,
		.ioas_id = ioas, .fd = memfd, .start = 0, .length = len,
		.iova = iova,
	};

	return probe_ioctl(fd, IOMMU_IOAS_MAP_FILE, &m, "IOMMU_IOAS_MAP_FILE");
}

static int probe_unmap(int fd, uint32_t ioas, uint64_t iova, uint64_t len)
{
	struct iommu_ioas_unmap u = {
		.size = sizeof(u), .ioas_id = ioas, .iova = iova, .length = len,
	};

	return probe_ioctl(fd, IOMMU_IOAS_UNMAP, &u, "IOMMU_IOAS_UNMAP");
}

/* Say ready (khotest_start waits for it) and hold until SIGTERM. */
static int probe_ready_wait(void)
{
	printf("kho-rec-probe: ready pid=%d\n", getpid());
	fflush(stdout);
	while (probe_sig != SIGTERM)
		pause();
	return 0;
}

static int probe_setup(int *iommufd, uint32_t *ioas, int *memfd, void **ram)
{
	struct iommu_ioas_alloc a = { .size = sizeof(a) };

	*memfd = memfd_create("probe-ram", MFD_CLOEXEC);
	if (*memfd < 0 || ftruncate(*memfd, PROBE_CHUNK) < 0) {
		perror("kho-rec-probe: memfd");
		return -1;
	}
	*ram = mmap(NULL, PROBE_CHUNK, PROT_READ | PROT_WRITE, MAP_SHARED,
		    *memfd, 0);
	if (*ram == MAP_FAILED) {
		perror("kho-rec-probe: mmap");
		return -1;
	}
	memset(*ram, 0x5a, PROBE_CHUNK);
	*iommufd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
	if (*iommufd < 0) {
		perror("kho-rec-probe: open /dev/iommu");
		return -1;
	}
	if (probe_ioctl(*iommufd, IOMMU_IOAS_ALLOC, &a, "IOMMU_IOAS_ALLOC"))
		return -1;
	*ioas = a.out_ioas_id;
	return 0;
}

static int probe_hold(void)
{
	uint32_t ioas;
	int iommufd, memfd;
	void *ram, *anon;

	signal(SIGUSR1, probe_on_signal);
	signal(SIGTERM, probe_on_signal);
	if (probe_setup(&iommufd, &ioas, &memfd, &ram))
		return 1;
	anon = mmap(NULL, PROBE_CHUNK, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (anon == MAP_FAILED)
		return 1;
	memset(anon, 0xa5, PROBE_CHUNK);
	if (probe_map_va(iommufd, ioas, ram, PROBE_CHUNK, PROBE_IOVA) ||
	    probe_map_va(iommufd, ioas, anon, PROBE_CHUNK, PROBE_ANON_IOVA))
		return 1;
	printf("kho-rec-probe: hold: ioas=%u memfd map at 0x%lx, anonymous map at 0x%lx\n",
	       ioas, PROBE_IOVA, PROBE_ANON_IOVA);
	printf("kho-rec-probe: ready pid=%d\n", getpid());
	fflush(stdout);
	for (;;) {
		pause();
		if (probe_sig == SIGTERM)
			break;
		if (probe_sig == SIGUSR1) {
			probe_sig = 0;
			if (probe_unmap(iommufd, ioas, PROBE_ANON_IOVA,
					PROBE_CHUNK))
				return 1;
			printf("kho-rec-probe: hold: anonymous map unmapped\n");
			fflush(stdout);
		}
	}
	printf("kho-rec-probe: hold: exiting\n");
	return 0;
}

static int probe_cut(void)
{
	struct iommu_ioas_unmap u = { .size = sizeof(u) };
	uint64_t i;
	uint32_t ioas;
	int iommufd, memfd;
	void *ram;

	signal(SIGTERM, probe_on_signal);
	if (probe_setup(&iommufd, &ioas, &memfd, &ram))
		return 1;
	for (i = 0; i < 3; i++)
		if (probe_map_file(iommufd, ioas, memfd, PROBE_CHUNK,
				   PROBE_IOVA + i * PROBE_CHUNK))
			return 1;
	u.ioas_id = ioas;
	u.iova = PROBE_IOVA;
	u.length = 2 * PROBE_CHUNK + PROBE_CHUNK / 2;
	if (ioctl(iommufd, IOMMU_IOAS_UNMAP, &u) == 0 || errno != ENOENT) {
		fprintf(stderr, "kho-rec-probe: cut: UNMAP across the third map: %s, want ENOENT\n",
			strerror(errno));
		return 1;
	}
	/* mapping the first again succeeds only if the kernel removed it */
	if (probe_map_file(iommufd, ioas, memfd, PROBE_CHUNK, PROBE_IOVA))
		return 1;
	printf("kho-rec-probe: cut: UNMAP failed with ENOENT after removing the first two maps\n");
	return probe_ready_wait();
}

static int probe_closerange(void)
{
	struct iommu_ioas_alloc a = { .size = sizeof(a) };
	uint32_t ioas;
	int iommufd, memfd, p[2];
	void *ram;

	signal(SIGUSR1, probe_on_signal);
	signal(SIGTERM, probe_on_signal);
	if (probe_setup(&iommufd, &ioas, &memfd, &ram) ||
	    probe_map_file(iommufd, ioas, memfd, PROBE_CHUNK, PROBE_IOVA))
		return 1;
	/* a helper's "close every fd" before exec: closes nothing now */
	if (close_range(iommufd, iommufd, CLOSE_RANGE_CLOEXEC) ||
	    close_range(iommufd + 1, ~0U, 0)) {
		perror("kho-rec-probe: closerange: close_range");
		return 1;
	}
	printf("kho-rec-probe: closerange: fds from %d closed, iommufd %d close-on-exec\n",
	       iommufd + 1, iommufd);
	printf("kho-rec-probe: ready pid=%d\n", getpid());
	fflush(stdout);
	while (probe_sig != SIGTERM) {
		pause();
		if (probe_sig != SIGUSR1)
			continue;
		probe_sig = 0;
		/* a pipe takes the number: not through open(), not seen */
		if (close_range(iommufd, iommufd, 0) || pipe(p) ||
		    p[0] != iommufd) {
			fprintf(stderr, "kho-rec-probe: closerange: iommufd %d closed and reused by a pipe: %s\n",
				iommufd, strerror(errno));
			return 1;
		}
		iommufd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
		if (iommufd < 0 ||
		    probe_ioctl(iommufd, IOMMU_IOAS_ALLOC, &a, "IOMMU_IOAS_ALLOC"))
			return 1;
		printf("kho-rec-probe: closerange: a new iommufd %d, IOAS %u; the old number is a pipe\n",
		       iommufd, a.out_ioas_id);
		fflush(stdout);
	}
	return 0;
}

static int probe_lowfd(void)
{
	uint32_t ioas;
	int iommufd, memfd;
	void *ram;

	signal(SIGUSR1, probe_on_signal);
	signal(SIGTERM, probe_on_signal);
	/* dup2 and close are wrapped: the recorder sees the move */
	if (probe_setup(&iommufd, &ioas, &memfd, &ram) ||
	    dup2(iommufd, 0) != 0 || close(iommufd)) {
		perror("kho-rec-probe: lowfd: iommufd to fd 0");
		return 1;
	}
	iommufd = 0;
	if (probe_map_file(iommufd, ioas, memfd, PROBE_CHUNK / 2, PROBE_IOVA))
		return 1;
	printf("kho-rec-probe: lowfd: iommufd 0, IOAS %u\n", ioas);
	printf("kho-rec-probe: ready pid=%d\n", getpid());
	fflush(stdout);
	while (probe_sig != SIGTERM) {
		pause();
		if (probe_sig != SIGUSR1)
			continue;
		probe_sig = 0;
		if (probe_map_file(iommufd, ioas, memfd, PROBE_CHUNK / 2,
				   PROBE_IOVA + PROBE_CHUNK))
			return 1;
		printf("kho-rec-probe: lowfd: second map done\n");
		fflush(stdout);
	}
	return 0;
}

static double probe_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* Binds the first VFIO cdev to @iommufd, attaches it to @ioas: its fd. */
static int probe_attach(int iommufd, uint32_t ioas)
{
	struct vfio_device_bind_iommufd bind = {
		.argsz = sizeof(bind), .iommufd = iommufd,
	};
	struct vfio_device_attach_iommufd_pt attach = {
		.argsz = sizeof(attach), .pt_id = ioas,
	};
	char path[300] = "";
	struct dirent *d;
	DIR *dir;
	int fd;

	dir = opendir("/dev/vfio/devices");
	while (dir && (d = readdir(dir)))
		if (!strncmp(d->d_name, "vfio", 4)) {
			snprintf(path, sizeof(path), "/dev/vfio/devices/%s",
				 d->d_name);
			break;
		}
	if (dir)
		closedir(dir);
	if (!path[0]) {
		fprintf(stderr, "kho-rec-probe: no VFIO cdev in /dev/vfio/devices\n");
		return -1;
	}
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "kho-rec-probe: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (probe_ioctl(fd, VFIO_DEVICE_BIND_IOMMUFD, &bind,
			"VFIO_DEVICE_BIND_IOMMUFD") ||
	    probe_ioctl(fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &attach,
			"VFIO_DEVICE_ATTACH_IOMMUFD_PT"))
		return -1;
	printf("kho-rec-probe: %s bound and attached to ioas=%u\n", path, ioas);
	return fd;
}

static int probe_loop(unsigned long n, bool dev)
{
	uint32_t ioas;
	int iommufd, memfd;
	unsigned long i;
	double t0, va_ns, file_ns;
	void *ram;

	if (probe_setup(&iommufd, &ioas, &memfd, &ram))
		return 1;
	if (dev && probe_attach(iommufd, ioas) < 0)
		return 1;
	/*
	 * One untimed pair of each kind: the figures are the steady cost per
	 * ioctl, not the recorder's first look at the address space and the
	 * memfd (/proc/self/maps, its own memfd reference).  The pause lets
	 * the recorder's server thread, started on open(/dev/iommu), settle
	 * on the guest's single CPU.
	 */
	if (probe_map_va(iommufd, ioas, ram, PROBE_CHUNK, PROBE_IOVA) ||
	    probe_unmap(iommufd, ioas, PROBE_IOVA, PROBE_CHUNK) ||
	    probe_map_file(iommufd, ioas, memfd, PROBE_CHUNK, PROBE_IOVA) ||
	    probe_unmap(iommufd, ioas, PROBE_IOVA, PROBE_CHUNK))
		return 1;
	usleep(100000);
	t0 = probe_now_ns();
	for (i = 0; i < n; i++)
		if (probe_map_va(iommufd, ioas, ram, PROBE_CHUNK, PROBE_IOVA) ||
		    probe_unmap(iommufd, ioas, PROBE_IOVA, PROBE_CHUNK))
			return 1;
	va_ns = (probe_now_ns() - t0) / n;
	t0 = probe_now_ns();
	for (i = 0; i < n; i++)
		if (probe_map_file(iommufd, ioas, memfd, PROBE_CHUNK,
				   PROBE_IOVA) ||
		    probe_unmap(iommufd, ioas, PROBE_IOVA, PROBE_CHUNK))
			return 1;
	file_ns = (probe_now_ns() - t0) / n;
	printf("kho-rec-probe: loop %lu pairs on %s: map-va+unmap %.0f ns/pair, map-file+unmap %.0f ns/pair\n",
	       n, dev ? "ioas+device" : "ioas", va_ns, file_ns);
	return 0;
}

/* An IOAS, with the first VFIO cdev attached if @dev: maps then pin and fill a domain. */
static int probe_setup_dev(int *iommufd, uint32_t *ioas, bool dev)
{
	struct iommu_ioas_alloc a = { .size = sizeof(a) };

	*iommufd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
	if (*iommufd < 0) {
		perror("kho-rec-probe: open /dev/iommu");
		return -1;
	}
	if (probe_ioctl(*iommufd, IOMMU_IOAS_ALLOC, &a, "IOMMU_IOAS_ALLOC"))
		return -1;
	*ioas = a.out_ioas_id;
	if (dev && probe_attach(*iommufd, *ioas) < 0)
		return -1;
	/* Let the recorder's server thread settle (see probe_loop()). */
	usleep(100000);
	return 0;
}

/* Guest RAM backed by a memfd, mapped shared and touched, as QEMU's. */
static void *probe_ram(size_t len)
{
	void *ram;
	int fd;

	fd = memfd_create("probe-guest-ram", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, len) < 0) {
		perror("kho-rec-probe: guest RAM memfd");
		return NULL;
	}
	ram = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (ram == MAP_FAILED) {
		perror("kho-rec-probe: guest RAM mmap");
		return NULL;
	}
	memset(ram, 0x5a, len);
	return ram;
}

static int probe_ram_pattern(unsigned long mib, unsigned long rounds,
			     bool dev)
{
	const uint64_t rom_len = 256UL << 10, rom_iova = (4UL << 30) - rom_len;
	size_t len = mib << 20;
	/* QEMU's sections of a PC's RAM: guest physical address = IOVA. */
	struct { uint64_t iova, len; bool ro; } sec[] = {
		{ 0, 640UL << 10, false },
		{ 1UL << 20, len - (1UL << 20), false },
		{ rom_iova, rom_len, true },
	};
	double map_ns = 0, unmap_ns = 0, t0;
	unsigned long r, i;
	uint32_t ioas;
	int iommufd;
	char *ram;

	if (len < (2UL << 20) || len > (3UL << 30)) {
		fprintf(stderr, "kho-rec-probe: ram %lu MiB: 2 MiB to 3 GiB, below the PCI hole\n",
			mib);
		return 1;
	}
	ram = probe_ram(len + rom_len);
	if (!ram || probe_setup_dev(&iommufd, &ioas, dev))
		return 1;
	for (r = 0; r < rounds; r++) {
		t0 = probe_now_ns();
		for (i = 0; i < sizeof(sec) / sizeof(sec[0]); i++) {
			struct iommu_ioas_map m = {
				.size = sizeof(m),
				.flags = IOMMU_IOAS_MAP_FIXED_IOVA |
					 IOMMU_IOAS_MAP_READABLE |
					 (sec[i].ro ? 0 : IOMMU_IOAS_MAP_WRITEABLE),
				.ioas_id = ioas, .length = sec[i].len,
				.iova = sec[i].iova,
				/* The ROM lives past the RAM, as QEMU's own block. */
				.user_va = (uintptr_t)(sec[i].ro ? ram + len :
						       ram + sec[i].iova),
			};

			if (probe_ioctl(iommufd, IOMMU_IOAS_MAP, &m,
					"IOMMU_IOAS_MAP (guest RAM)"))
				return 1;
		}
		map_ns += probe_now_ns() - t0;
		t0 = probe_now_ns();
		for (i = 0; i < sizeof(sec) / sizeof(sec[0]); i++)
			if (probe_unmap(iommufd, ioas, sec[i].iova, sec[i].len))
				return 1;
		unmap_ns += probe_now_ns() - t0;
	}
	printf("kho-rec-probe: ram %lu MiB in 3 sections, %lu rounds on %s: map %.0f ns/round, unmap %.0f ns/round\n",
	       mib, rounds, dev ? "ioas+device" : "ioas", map_ns / rounds,
	       unmap_ns / rounds);
	return 0;
}

static int probe_viommu_pattern(unsigned long window, unsigned long n)
{
	const uint64_t page = 4096, base = 0x100000;
	uint32_t ioas;
	int iommufd;
	unsigned long i;
	double t0;
	char *ram;

	if (window < 2 || window > 65536 || n < window) {
		fprintf(stderr, "kho-rec-probe: viommu %lu %lu: a window of 2 to 65536 maps, and at least that many maps\n",
			window, n);
		return 1;
	}
	ram = probe_ram(window * page);
	if (!ram || probe_setup_dev(&iommufd, &ioas, true))
		return 1;
	t0 = probe_now_ns();
	for (i = 0; i < n; i++) {
		uint64_t iova = base + (i % window) * page;

		if (i >= window && probe_unmap(iommufd, ioas, iova, page))
			return 1;
		if (probe_map_va(iommufd, ioas, ram + (i % window) * page,
				 page, iova))
			return 1;
	}
	for (i = 0; i < window; i++)
		if (probe_unmap(iommufd, ioas, base + i * page, page))
			return 1;
	printf("kho-rec-probe: viommu %lu maps, %lu in flight, on ioas+device: map+unmap %.0f ns/pair\n",
	       n, window, (probe_now_ns() - t0) / n);
	return 0;
}

/* What a VMM that bypasses libc's ioctl() does: the recorder cannot see it */
static int probe_bypass(void)
{
	struct iommu_ioas_map_file m = {
		.size = sizeof(m),
		.flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
			 IOMMU_IOAS_MAP_WRITEABLE,
		.length = PROBE_CHUNK / 2,
		.iova = PROBE_IOVA + PROBE_CHUNK,
	};
	uint32_t ioas;
	int iommufd, memfd;
	void *ram;

	signal(SIGTERM, probe_on_signal);
	if (probe_setup(&iommufd, &ioas, &memfd, &ram) ||
	    probe_map_file(iommufd, ioas, memfd, PROBE_CHUNK / 2, PROBE_IOVA))
		return 1;
	m.ioas_id = ioas;
	m.fd = memfd;
	if (syscall(SYS_ioctl, iommufd, IOMMU_IOAS_MAP_FILE, &m)) {
		perror("kho-rec-probe: bypass: raw IOMMU_IOAS_MAP_FILE");
		return 1;
	}
	printf("kho-rec-probe: bypass: ioas=%u: one map through ioctl(3), one through syscall(2)\n",
	       ioas);
	return probe_ready_wait();
}

/*
 * A VMM that claims a device it does not hold (issue #21 item 1): the
 * recorder journaled the BIND, and never sees the close.
 */
static int probe_disown(void)
{
	uint32_t ioas;
	int iommufd, memfd, dev;
	void *ram;

	signal(SIGTERM, probe_on_signal);
	if (probe_setup(&iommufd, &ioas, &memfd, &ram) ||
	    probe_map_file(iommufd, ioas, memfd, PROBE_CHUNK, PROBE_IOVA))
		return 1;
	dev = probe_attach(iommufd, ioas);
	if (dev < 0)
		return 1;
	if (syscall(SYS_close, dev)) {
		perror("kho-rec-probe: disown: raw close");
		return 1;
	}
	printf("kho-rec-probe: disown: device fd %d closed behind the recorder\n",
	       dev);
	return probe_ready_wait();
}

/* Listens where VMM @pid's recorder would (issue #21 item 2). */
static int probe_impostor(long pid)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *dir = getenv("KHO_RUN_DIR");
	int fd;

	signal(SIGTERM, probe_on_signal);
	if (!dir || !*dir)
		dir = "/run/kho-tool";
	mkdir(dir, 0700);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/vmm-%ld.sock", dir, pid);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(fd, 4)) {
		fprintf(stderr, "kho-rec-probe: impostor: %s: %s\n", sa.sun_path,
			strerror(errno));
		return 1;
	}
	printf("kho-rec-probe: impostor: listening on %s as pid %d\n",
	       sa.sun_path, getpid());
	printf("kho-rec-probe: ready pid=%d\n", getpid());
	fflush(stdout);
	while (probe_sig != SIGTERM)
		pause();
	unlink(sa.sun_path);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "hold"))
		return probe_hold();
	if (argc == 2 && !strcmp(argv[1], "cut"))
		return probe_cut();
	if (argc == 2 && !strcmp(argv[1], "bypass"))
		return probe_bypass();
	if (argc == 2 && !strcmp(argv[1], "disown"))
		return probe_disown();
	if (argc == 3 && !strcmp(argv[1], "impostor") && atol(argv[2]) > 0)
		return probe_impostor(atol(argv[2]));
	if (argc == 2 && !strcmp(argv[1], "closerange"))
		return probe_closerange();
	if (argc == 2 && !strcmp(argv[1], "lowfd"))
		return probe_lowfd();
	if ((argc == 3 || (argc == 4 && !strcmp(argv[3], "dev"))) &&
	    !strcmp(argv[1], "loop") && atol(argv[2]) > 0)
		return probe_loop(atol(argv[2]), argc == 4);
	if ((argc == 4 || (argc == 5 && !strcmp(argv[4], "nodev"))) &&
	    !strcmp(argv[1], "ram") && atol(argv[2]) > 0 && atol(argv[3]) > 0)
		return probe_ram_pattern(atol(argv[2]), atol(argv[3]),
					 argc == 4);
	if (argc == 4 && !strcmp(argv[1], "viommu") && atol(argv[2]) > 0 &&
	    atol(argv[3]) > 0)
		return probe_viommu_pattern(atol(argv[2]), atol(argv[3]));
	fprintf(stderr, "usage: kho-rec-probe hold | cut | bypass | disown | impostor PID | closerange | lowfd | loop N [dev] | ram MIB ROUNDS [nodev] | viommu WINDOW N\n");
	return 2;
}
