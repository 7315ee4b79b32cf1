// SPDX-License-Identifier: GPL-2.0
/*
 * order-loop: the guest half of bench/order-vm.sh (issue #16 item 1).
 * Builds the same state, MAPS mappings of CHUNK bytes of one memfd into an
 * IOAS plus the edu device bound and attached, in the two legal orders:
 *
 *   maps-first    IOAS_ALLOC, MAP_FILE x MAPS, open cdev, BIND, ATTACH
 *                 (the restore plan's order);
 *   attach-first  IOAS_ALLOC, open cdev, BIND, ATTACH, MAP_FILE x MAPS
 *                 (a VMM's own order);
 *   hwpt-first    IOAS_ALLOC, MAP_FILE x MAPS, open cdev, BIND,
 *                 IOMMU_HWPT_ALLOC (the domain is filled before any device
 *                 is attached to it), ATTACH to that HWPT.  On vanilla
 *                 7.2 an ATTACH to the IOAS itself attaches its new auto
 *                 domain to the device first and fills it after
 *                 (iommufd_hwpt_paging_alloc(), immediate_attach), so
 *                 with VT-d's caching mode every fill step is flushed:
 *                 there this order is the one that fills an unattached
 *                 domain; patches/0005 makes maps-first fill it first
 *                 too;
 *
 * ROUNDS times each, alternating which goes first in a round, on the same
 * memfd (fallocated once, so both pin the same resident folios).  Each
 * timed window is bracketed by a marker: a 4-byte write of
 * 0x6b680000 | round << 4 | phase to offset MARK_OFF of the edu device's
 * PCI config space (sysfs), which QEMU's pci_cfg_write trace event shows
 * in the same trace as the VT-d invalidation events, so the host counts
 * the invalidations each order costs, independently of any clock.
 * phase: 1 maps-first begins, 5 its maps are done (the device follows),
 * 2 it ends; 3 attach-first begins, 6 its device is attached (the maps
 * follow), 4 it ends; 7 hwpt-first begins, 8 its maps are done, 9 it ends.  So the host also sees which half of each order
 * issued which invalidation.
 * Offset MARK_OFF (0xfc) is past every capability QEMU's edu has; QEMU
 * ignores the write (read-only byte) but traces it.
 *
 * Prints one line per window and the medians:
 *   order-loop: round R maps-first T ms (maps M, open+bind B, attach A)
 *   order-loop: medians maps-first T ... attach-first T ...
 *
 * "order-loop mark ROUND PHASE" writes one marker and exits: the guest
 * script brackets the restore-agent's restore with it (phases 10-13,
 * bench/guest/order-agent.sh).
 *
 * usage: order-loop ROUNDS MAPS CHUNK | order-loop mark ROUND PHASE
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <linux/iommufd.h>

#include "vmm.h"

#define MAX_ROUNDS	64
#define MARK_OFF	0xfc
#define MARK_BASE	0x6b680000u

struct win {
	double total, maps, bind, attach;
};

static double ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cfg_fd = -1;

static int mark(unsigned int round, unsigned int phase)
{
	uint32_t v = MARK_BASE | round << 4 | phase;

	return pwrite(cfg_fd, &v, sizeof(v), MARK_OFF) == sizeof(v) ? 0 : -errno;
}

static int do_maps(int iommufd, uint32_t ioas, int memfd, unsigned int maps,
		   uint64_t chunk, struct win *w)
{
	double t = ms_now();
	unsigned int i;
	int ret = 0;

	for (i = 0; !ret && i < maps; i++)
		ret = vmm_ioas_map_file(iommufd, ioas, memfd, i * chunk, chunk,
					VMM_IOVA_BASE + i * chunk);
	w->maps = ms_now() - t;
	return ret;
}

enum order { MAPS_FIRST, ATTACH_FIRST, HWPT_FIRST };

/* "attach" of hwpt-first holds its IOMMU_HWPT_ALLOC and its ATTACH. */
static int do_dev(const char *cdev, int iommufd, uint32_t ioas, int *devfd,
		  int hwpt, struct win *w)
{
	uint32_t devid, pt = ioas;
	double t = ms_now();
	int ret;

	*devfd = open(cdev, O_RDWR | O_CLOEXEC);
	ret = *devfd < 0 ? -errno : vmm_vfio_bind(*devfd, iommufd, &devid);
	w->bind = ms_now() - t;
	if (ret)
		return ret;
	t = ms_now();
	ret = hwpt ? vmm_hwpt_alloc(iommufd, devid, ioas, &pt) : 0;
	if (!ret)
		ret = vmm_vfio_attach(*devfd, pt, &pt);
	w->attach = ms_now() - t;
	return ret;
}

/* One timed window, bracketed by its markers; torn down outside it. */
static int one(const char *cdev, int memfd, unsigned int maps, uint64_t chunk,
	       enum order order, unsigned int round, struct win *w)
{
	int iommufd, devfd = -1, ret;
	uint32_t ioas;
	double t0;

	memset(w, 0, sizeof(*w));
	static const unsigned int ph[3][3] = { { 1, 5, 2 }, { 3, 6, 4 }, { 7, 8, 9 } };

	ret = mark(round, ph[order][0]);
	if (ret)
		return ret;
	t0 = ms_now();
	iommufd = vmm_iommufd_open();
	if (iommufd < 0)
		return iommufd;
	ret = vmm_ioas_alloc(iommufd, &ioas);
	if (!ret && order == ATTACH_FIRST) {
		ret = do_dev(cdev, iommufd, ioas, &devfd, 0, w);
		if (!ret)
			ret = mark(round, ph[order][1]);
		if (!ret)
			ret = do_maps(iommufd, ioas, memfd, maps, chunk, w);
	} else if (!ret) {
		ret = do_maps(iommufd, ioas, memfd, maps, chunk, w);
		if (!ret)
			ret = mark(round, ph[order][1]);
		if (!ret)
			ret = do_dev(cdev, iommufd, ioas, &devfd, order == HWPT_FIRST, w);
	}
	w->total = ms_now() - t0;
	if (!ret)
		ret = mark(round, ph[order][2]);
	if (devfd >= 0)
		close(devfd);
	close(iommufd);
	return ret;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(const struct win *w, unsigned int n, size_t off)
{
	double v[MAX_ROUNDS];
	unsigned int i;

	for (i = 0; i < n; i++)
		v[i] = *(const double *)((const char *)&w[i] + off);
	qsort(v, n, sizeof(v[0]), cmp_d);
	return v[(n - 1) / 2];
}

/* The edu's VFIO cdev into @cdev, its sysfs config space into cfg_fd. */
static int open_marker(char *cdev, size_t size, char *cfg, size_t cfg_size)
{
	char link[256];
	ssize_t n;
	int ret;

	ret = vmm_vfio_find(VMM_EDU_VENDOR, VMM_EDU_DEVICE, cdev, size);
	if (ret) {
		fprintf(stderr, "order-loop: no edu VFIO cdev: %s\n", strerror(-ret));
		return 1;
	}
	snprintf(cfg, cfg_size, "/sys/class/vfio-dev/%s/device", strrchr(cdev, '/') + 1);
	n = readlink(cfg, link, sizeof(link) - 1);
	if (n < 0) {
		perror(cfg);
		return 1;
	}
	link[n] = '\0';
	snprintf(cfg, cfg_size, "/sys/bus/pci/devices/%s/config", strrchr(link, '/') + 1);
	cfg_fd = open(cfg, O_WRONLY | O_CLOEXEC);
	if (cfg_fd < 0) {
		perror(cfg);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct win mf[MAX_ROUNDS], af[MAX_ROUNDS], hf[MAX_ROUNDS];
	unsigned int rounds, maps, r;
	char cdev[64], cfg[320];
	uint64_t chunk;
	int memfd, ret;

	if (argc == 4 && !strcmp(argv[1], "mark")) {
		if (open_marker(cdev, sizeof(cdev), cfg, sizeof(cfg)))
			return 1;
		ret = mark(atoi(argv[2]), atoi(argv[3]));
		if (ret)
			fprintf(stderr, "order-loop: marker in %s: %s\n", cfg, strerror(-ret));
		return !!ret;
	}
	if (argc != 4 || (rounds = atoi(argv[1])) < 1 || rounds > MAX_ROUNDS ||
	    (maps = atoi(argv[2])) < 1 ||
	    (chunk = strtoull(argv[3], NULL, 0)) < 4096 || chunk % 4096) {
		fprintf(stderr, "usage: order-loop ROUNDS(1..%d) MAPS CHUNK | order-loop mark ROUND PHASE\n", MAX_ROUNDS);
		return 2;
	}
	if (open_marker(cdev, sizeof(cdev), cfg, sizeof(cfg)))
		return 1;
	memfd = vmm_ram_create("order-loop", (size_t)maps * chunk);
	if (memfd < 0 || fallocate(memfd, 0, 0, (off_t)maps * chunk)) {
		fprintf(stderr, "order-loop: memfd of %u x %llu: %s\n", maps,
			(unsigned long long)chunk, strerror(memfd < 0 ? -memfd : errno));
		return 1;
	}
	printf("order-loop: %u rounds, %u maps of %llu bytes, device %s, markers in %s @0x%x\n",
	       rounds, maps, (unsigned long long)chunk, cdev, cfg, MARK_OFF);
	for (r = 0; r < rounds; r++) {
		struct win *w[3] = { &mf[r], &af[r], &hf[r] };
		unsigned int k;

		/* Each order goes first, second and third in turn. */
		for (k = 0, ret = 0; k < 3 && !ret; k++) {
			enum order o = (r + k) % 3;

			ret = one(cdev, memfd, maps, chunk, o, r, w[o]);
		}
		if (ret) {
			fprintf(stderr, "order-loop: round %u: %s\n", r, strerror(-ret));
			return 1;
		}
		printf("order-loop: round %u maps-first %.3f ms (maps %.3f, open+bind %.3f, attach %.3f) attach-first %.3f ms (open+bind %.3f, attach %.3f, maps %.3f) hwpt-first %.3f ms (maps %.3f, open+bind %.3f, hwpt-alloc+attach %.3f)\n",
		       r, mf[r].total, mf[r].maps, mf[r].bind, mf[r].attach,
		       af[r].total, af[r].bind, af[r].attach, af[r].maps,
		       hf[r].total, hf[r].maps, hf[r].bind, hf[r].attach);
	}
#define MED(a, f) median(a, rounds, offsetof(struct win, f))
	printf("order-loop: medians maps-first %.3f maps %.3f bind %.3f attach %.3f attach-first %.3f af-bind %.3f af-attach %.3f af-maps %.3f hwpt-first %.3f hf-maps %.3f hf-bind %.3f hf-attach %.3f\n",
	       MED(mf, total), MED(mf, maps), MED(mf, bind), MED(mf, attach),
	       MED(af, total), MED(af, bind), MED(af, attach), MED(af, maps),
	       MED(hf, total), MED(hf, maps), MED(hf, bind), MED(hf, attach));
	return 0;
}
