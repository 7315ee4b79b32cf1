// SPDX-License-Identifier: GPL-2.0
/*
 * test-vmm: a small program that sets up iommufd/VFIO state the way a VMM
 * does (guest RAM in a memfd, an IOAS, the edu device attached through its
 * cdev, and with serve --mtty an mtty mdev beside it in the same IOAS) and
 * proves the translation with a DMA round trip.  Its commands
 * live in one table; exit 0 success, 1 failure, 2 usage error.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <grp.h>
#include <unistd.h>

#include "poison.h"
#include "vmm.h"

/* Bytes per DMA check: under the edu trap of VMM_EDU_DMA_MAX. */
#define CHECK_LEN	4000
#define DEFAULT_MAPS	8
/* serve --poison-offset, given again for each page. */
#define MAX_POISON	4

struct vmm {
	char devpath[64];
	int memfd;
	int iommufd;
	int devfd;
	void *ram;
	size_t ram_size;
	unsigned int nmaps;
	unsigned int unmapped;	/* chunks after the mapped ones, never mapped */
	/* --ram-memfds 2: the second guest RAM (VMM_SEED2, at VMM_RAM2_IOVA) */
	unsigned int ram_memfds;
	int memfd2;
	void *ram2;
	size_t ram2_size;
	uint32_t ioas_id;
	uint32_t devid;
	uint32_t hwpt_id;
	/* --hwpt: IOMMU_HWPT_ALLOC on the IOAS, then ATTACH to that HWPT */
	bool explicit_hwpt;
	struct vmm_edu edu;
	/* serve --mtty: more devices, mtty samples, in the same IOAS */
	struct {
		char path[64];
		int fd;
		uint32_t devid;
	} mtty[VMM_MAX_MTTY];
	unsigned int nr_mtty;
	/*
	 * serve --poison-offset [M:]OFF: memory failures, ascending per
	 * memfd; memfd_token holds M, the RAM memfd (0 or 1), not a token.
	 */
	struct kho_poison poison[MAX_POISON];
	size_t nr_poison;
};

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int fail(const char *step, int err)
{
	fprintf(stderr, "test-vmm: %s: %s\n", step, strerror(-err));
	return 1;
}

/* Churn cycle @i maps one chunk at one of 16 IOVAs, by file or by VA. */
static uint64_t vmm_churn_iova(unsigned int i)
{
	return VMM_CHURN_IOVA + (i % 16) * VMM_CHUNK;
}

static int vmm_churn_map(struct vmm *v, unsigned int i)
{
	return i % 2 ? vmm_ioas_map_file(v->iommufd, v->ioas_id, v->memfd, 0,
					 VMM_CHUNK, vmm_churn_iova(i)) :
		       vmm_ioas_map_va(v->iommufd, v->ioas_id, v->ram,
				       VMM_CHUNK, vmm_churn_iova(i));
}

/*
 * serve --mtty: the further devices of a VMM that passes one function
 * through and emulates others, all in one IOAS: the edu (no migration
 * support) and the kernel's mtty samples (VFIO migration v2), bound in
 * the order given.  An emulated device's access attaches to the IOAS
 * itself, never to the edu's HWPT, whatever --hwpt chose.
 */
static int vmm_setup_mtty(struct vmm *v, unsigned int k)
{
	const char *path = v->mtty[k].path;
	char step[128];
	uint32_t pt_id;
	int ret;

	v->mtty[k].fd = open(path, O_RDWR | O_CLOEXEC);
	if (v->mtty[k].fd < 0) {
		ret = -errno;
		snprintf(step, sizeof(step), "mtty: open %s", path);
		return fail(step, ret);
	}
	ret = vmm_vfio_bind(v->mtty[k].fd, v->iommufd, &v->mtty[k].devid);
	if (ret) {
		snprintf(step, sizeof(step), "mtty %s: VFIO_DEVICE_BIND_IOMMUFD",
			 path);
		return fail(step, ret);
	}
	ret = vmm_vfio_attach(v->mtty[k].fd, v->ioas_id, &pt_id);
	if (ret) {
		snprintf(step, sizeof(step), "mtty %s: VFIO_DEVICE_ATTACH_IOMMUFD_PT to IOAS %u",
			 path, v->ioas_id);
		return fail(step, ret);
	}
	printf("test-vmm: setup: mtty %s: devid=%u attached to IOAS %u beside %s\n",
	       path, v->mtty[k].devid, pt_id, v->devpath);
	return 0;
}

/*
 * Build the VMM's state: RAM, IOAS, @churn map/unmap cycles, the RAM
 * maps, then the device.  Mapping before attaching fills the VT-d domain
 * in one pass instead of one IOTLB flush per map (tests/RIG.md).
 */
static int vmm_setup(struct vmm *v, const char *devpath, unsigned int churn,
		     bool edu)
{
	unsigned int i, bad;
	char step[128];
	double t0 = now_ms();
	int ret;

	v->ram_size = (size_t)(v->nmaps + v->unmapped) * VMM_CHUNK;
	ret = vmm_ram_create("test-vmm-ram", v->ram_size);
	if (ret < 0)
		return fail("guest RAM: memfd_create", ret);
	v->memfd = ret;
	v->ram = mmap(NULL, v->ram_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		      v->memfd, 0);
	if (v->ram == MAP_FAILED)
		return fail("guest RAM: mmap of the memfd", -errno);
	vmm_pattern_fill(v->ram, v->ram_size, VMM_SEED, 0);
	if (v->ram_memfds > 1) {
		v->ram2_size = VMM_RAM2_CHUNKS * VMM_CHUNK;
		ret = vmm_ram_create("test-vmm-ram2", v->ram2_size);
		if (ret < 0)
			return fail("second guest RAM: memfd_create", ret);
		v->memfd2 = ret;
		v->ram2 = mmap(NULL, v->ram2_size, PROT_READ | PROT_WRITE,
			       MAP_SHARED, v->memfd2, 0);
		if (v->ram2 == MAP_FAILED)
			return fail("second guest RAM: mmap of the memfd", -errno);
		vmm_pattern_fill(v->ram2, v->ram2_size, VMM_SEED2, 0);
	}

	ret = vmm_iommufd_open();
	if (ret < 0)
		return fail("open /dev/iommu", ret);
	v->iommufd = ret;
	ret = vmm_ioas_alloc(v->iommufd, &v->ioas_id);
	if (ret)
		return fail("IOMMU_IOAS_ALLOC", ret);

	/*
	 * Cycles go in twos: one pair one after the other (each UNMAP
	 * removes the map just made, which the recorder elides as it
	 * happens), the next pair overlapped (map, map, unmap, unmap: the
	 * first UNMAP's map is not the last one, so the pair stays in the
	 * journal for compaction).  A lone last cycle runs alone.
	 */
	for (i = 0; i < churn; i += 2) {
		bool overlap = (i / 2) % 2 && i + 1 < churn;
		unsigned int c, n = i + 1 < churn ? 2 : 1;

		for (c = 0; c < n && !ret; c++) {
			ret = vmm_churn_map(v, i + c);
			if (!ret && !overlap)
				ret = vmm_ioas_unmap(v->iommufd, v->ioas_id,
						     vmm_churn_iova(i + c), VMM_CHUNK);
		}
		for (c = 0; c < n && overlap && !ret; c++)
			ret = vmm_ioas_unmap(v->iommufd, v->ioas_id,
					     vmm_churn_iova(i + c),
					     VMM_CHUNK);
		if (ret) {
			snprintf(step, sizeof(step), "churn cycles %u-%u: IOAS %u",
				 i, i + n - 1, v->ioas_id);
			return fail(step, ret);
		}
	}

	ret = vmm_map_ram(v->iommufd, v->ioas_id, v->memfd, v->ram, v->nmaps,
			  VMM_IOVA_BASE, &bad);
	if (ret) {
		snprintf(step, sizeof(step), "IOAS %u: map of RAM chunk %u at IOVA 0x%llx (%s)",
			 v->ioas_id, bad, (unsigned long long)vmm_chunk_iova(bad),
			 bad % 2 ? "IOMMU_IOAS_MAP_FILE" : "IOMMU_IOAS_MAP");
		return fail(step, ret);
	}
	if (v->ram_memfds > 1) {
		ret = vmm_map_ram(v->iommufd, v->ioas_id, v->memfd2, v->ram2,
				  VMM_RAM2_CHUNKS, VMM_RAM2_IOVA, &bad);
		if (ret) {
			snprintf(step, sizeof(step), "IOAS %u: map of second RAM chunk %u at IOVA 0x%llx (%s)",
				 v->ioas_id, bad,
				 VMM_RAM2_IOVA + bad * VMM_CHUNK,
				 bad % 2 ? "IOMMU_IOAS_MAP_FILE" : "IOMMU_IOAS_MAP");
			return fail(step, ret);
		}
	}

	if (devpath) {
		snprintf(v->devpath, sizeof(v->devpath), "%s", devpath);
	} else {
		ret = vmm_vfio_find(VMM_EDU_VENDOR, VMM_EDU_DEVICE, v->devpath,
				    sizeof(v->devpath));
		if (ret)
			return fail("no VFIO cdev of an edu device (1234:11e8) in /sys/class/vfio-dev",
				    ret);
	}
	v->devfd = open(v->devpath, O_RDWR | O_CLOEXEC);
	if (v->devfd < 0) {
		ret = -errno;
		snprintf(step, sizeof(step), "open %s", v->devpath);
		return fail(step, ret);
	}
	ret = vmm_vfio_bind(v->devfd, v->iommufd, &v->devid);
	if (ret) {
		snprintf(step, sizeof(step), "%s: VFIO_DEVICE_BIND_IOMMUFD", v->devpath);
		return fail(step, ret);
	}
	v->hwpt_id = v->ioas_id;
	if (v->explicit_hwpt) {
		ret = vmm_hwpt_alloc(v->iommufd, v->devid, v->ioas_id,
				     &v->hwpt_id);
		if (ret) {
			snprintf(step, sizeof(step), "IOMMU_HWPT_ALLOC on IOAS %u",
				 v->ioas_id);
			return fail(step, ret);
		}
	}
	ret = vmm_vfio_attach(v->devfd, v->hwpt_id, &v->hwpt_id);
	if (ret) {
		snprintf(step, sizeof(step), "%s: VFIO_DEVICE_ATTACH_IOMMUFD_PT to %s %u",
			 v->devpath, v->explicit_hwpt ? "HWPT" : "IOAS",
			 v->hwpt_id);
		return fail(step, ret);
	}
	/* Not an edu (an mtty, --mtty-fifo): no DMA, its FIFO says it. */
	ret = edu ? vmm_edu_init(&v->edu, v->devfd) : 0;
	if (ret) {
		snprintf(step, sizeof(step), "%s: edu BAR0/config setup", v->devpath);
		return fail(step, ret);
	}
	printf("test-vmm: setup: ioas=%u devid=%u hwpt=%u maps=%u unmapped=%u churn=%u ram=%zu dev=%s edu=0x%08x in %.1f ms, %s domain\n",
	       v->ioas_id, v->devid, v->hwpt_id, v->nmaps, v->unmapped, churn,
	       v->ram_size,
	       v->devpath, v->edu.id, now_ms() - t0,
	       v->explicit_hwpt ? "explicit HWPT" : "auto");
	if (v->ram_memfds > 1)
		printf("test-vmm: setup: second guest-RAM memfd: %zu bytes, %u maps from IOVA 0x%llx\n",
		       v->ram2_size, VMM_RAM2_CHUNKS, VMM_RAM2_IOVA);
	for (i = 0; i < v->nr_mtty; i++)
		if (vmm_setup_mtty(v, i))
			return 1;
	return 0;
}

/* One direction of the check: chunk @from -> device -> chunk @to. */
static int dma_one(struct vmm *v, unsigned int from, unsigned int to)
{
	char *src = (char *)v->ram + from * VMM_CHUNK;
	char *dst = (char *)v->ram + to * VMM_CHUNK;
	long bad = -1;
	int ret;

	ret = vmm_edu_dma_check(&v->edu, vmm_chunk_iova(from), vmm_chunk_iova(to),
				dst, src, CHECK_LEN, &bad);
	/* Put the guest's RAM back the way the pattern says it is. */
	vmm_pattern_fill(dst, CHECK_LEN, VMM_SEED, to * VMM_CHUNK);
	if (ret == -EBADMSG) {
		fprintf(stderr, "test-vmm: dma-check: edu %s: IOVA 0x%llx -> device -> IOVA 0x%llx: byte %ld differs\n",
			v->devpath, (unsigned long long)vmm_chunk_iova(from),
			(unsigned long long)vmm_chunk_iova(to), bad);
		return 1;
	}
	if (ret) {
		char step[128];

		snprintf(step, sizeof(step), "dma-check: edu %s: DMA IOVA 0x%llx -> 0x%llx",
			 v->devpath, (unsigned long long)vmm_chunk_iova(from),
			 (unsigned long long)vmm_chunk_iova(to));
		return fail(step, ret);
	}
	return 0;
}

/* VA-mapped chunk 0 -> file-mapped last odd chunk, and back. */
static int vmm_dma_check(struct vmm *v)
{
	unsigned int file_chunk = (v->nmaps - 1) | 1;
	double t0 = now_ms();

	if (file_chunk >= v->nmaps)
		file_chunk -= 2;
	if (dma_one(v, 0, file_chunk) || dma_one(v, file_chunk, 0))
		return 1;
	/* A poisoned page would take SIGBUS: the pattern is checked around it. */
	if (vmm_poison_pattern_check(v->ram, v->ram_size, VMM_SEED, 0,
				     v->poison, v->nr_poison) != -1) {
		fprintf(stderr, "test-vmm: dma-check: guest RAM no longer holds its pattern\n");
		return 1;
	}
	if (v->ram_memfds > 1 &&
	    vmm_poison_pattern_check(v->ram2, v->ram2_size, VMM_SEED2, 1,
				     v->poison, v->nr_poison) != -1) {
		fprintf(stderr, "test-vmm: dma-check: the second guest RAM no longer holds its pattern\n");
		return 1;
	}
	printf("test-vmm: dma-check: ok: %d bytes IOVA 0x%llx (map by VA) <-> edu <-> IOVA 0x%llx (map by file) in %.1f ms\n",
	       CHECK_LEN, (unsigned long long)vmm_chunk_iova(0),
	       (unsigned long long)vmm_chunk_iova(file_chunk), now_ms() - t0);
	return 0;
}

/*
 * The negative half: once chunk @c is unmapped, a DMA to its IOVA must
 * not reach the RAM behind it (VT-d faults it).  Without this, a device
 * writing through an identity map would pass the positive check.
 */
static int vmm_dma_blocked(struct vmm *v, unsigned int c)
{
	uint8_t *ram = (uint8_t *)v->ram + c * VMM_CHUNK;
	uint64_t iova = vmm_chunk_iova(c);
	unsigned int i;
	int ret;

	ret = vmm_ioas_unmap(v->iommufd, v->ioas_id, iova, VMM_CHUNK);
	if (ret)
		return fail("dma-check: unmap of the target chunk", ret);
	memset(ram, 0x5a, CHECK_LEN);
	ret = vmm_edu_dma(&v->edu, iova, 0, CHECK_LEN, true);
	if (ret)
		return fail("dma-check: DMA to the unmapped IOVA", ret);
	for (i = 0; i < CHECK_LEN; i++) {
		if (ram[i] != 0x5a) {
			fprintf(stderr, "test-vmm: dma-check: edu %s: DMA to unmapped IOVA 0x%llx changed RAM byte %u\n",
				v->devpath, (unsigned long long)iova, i);
			return 1;
		}
	}
	vmm_pattern_fill(ram, CHECK_LEN, VMM_SEED, c * VMM_CHUNK);
	ret = vmm_ioas_map_file(v->iommufd, v->ioas_id, v->memfd, c * VMM_CHUNK,
				VMM_CHUNK, iova);
	if (ret)
		return fail("dma-check: remap of the target chunk", ret);
	printf("test-vmm: dma-check: unmapped IOVA 0x%llx blocked: RAM behind it unchanged\n",
	       (unsigned long long)iova);
	return vmm_dma_check(v);
}

static const struct option vmm_opts[] = {
	{ "maps", required_argument, NULL, 'm' },
	{ "churn", required_argument, NULL, 'c' },
	{ "device", required_argument, NULL, 'd' },
	{ "mtty-fifo", required_argument, NULL, 'M' },
	{ "mtty", required_argument, NULL, 'T' },
	{ "poison-offset", required_argument, NULL, 'P' },
	{ "unmapped-chunks", required_argument, NULL, 'U' },
	{ "ram-memfds", required_argument, NULL, 'R' },
	{ "hwpt", no_argument, NULL, 'H' },
	{ NULL, 0, NULL, 0 },
};

static int parse_uint(const char *s, unsigned int max, unsigned int *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || *end || end == s || v > max)
		return -EINVAL;
	*out = (unsigned int)v;
	return 0;
}

static int parse_vmm_opts(int argc, char **argv, bool serve, struct vmm *v,
			  unsigned int *churn, const char **devpath,
			  const char **mtty_fifo)
{
	int c;

	v->nmaps = DEFAULT_MAPS;
	v->unmapped = 0;
	v->nr_poison = 0;
	v->ram_memfds = 1;
	v->explicit_hwpt = false;
	v->nr_mtty = 0;
	*churn = 0;
	*devpath = NULL;
	*mtty_fifo = NULL;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", vmm_opts, NULL)) != -1) {
		switch (c) {
		case 'm':
			if (!serve || parse_uint(optarg, VMM_MAX_MAPS, &v->nmaps) ||
			    v->nmaps < 2)
				goto usage;
			break;
		case 'c':
			if (!serve || parse_uint(optarg, 100000000, churn))
				goto usage;
			break;
		case 'd':
			*devpath = optarg;
			break;
		case 'M':
			/* bytes in the mtty's FIFO: --mtty's, or --device's */
			if (!serve || strlen(optarg) >= 16)
				goto usage;
			*mtty_fifo = optarg;
			break;
		case 'T':
			/* an mtty beside the edu device, in the same IOAS */
			if (!serve || v->nr_mtty == VMM_MAX_MTTY ||
			    strlen(optarg) >= sizeof(v->mtty[0].path))
				goto usage;
			snprintf(v->mtty[v->nr_mtty].path, sizeof(v->mtty[0].path),
				 "%s", optarg);
			v->mtty[v->nr_mtty++].fd = -1;
			break;
		case 'P': {
			/*
			 * a memory failure on that guest-RAM page, once set
			 * up; "1:OFF" is a page of the second RAM memfd
			 */
			unsigned int m = 0;
			const char *at = optarg;
			long off;
			size_t i;

			if (!strncmp(at, "1:", 2)) {
				m = 1;
				at += 2;
			}
			off = strtol(at, NULL, 0);
			if (!serve || off < 0 || off % KHO_POISON_PAGE ||
			    v->nr_poison == MAX_POISON)
				goto usage;
			for (i = 0; i < v->nr_poison; i++)
				if (v->poison[i].memfd_token == m &&
				    (uint64_t)off <= v->poison[i].offset)
					goto usage;
			v->poison[v->nr_poison++] = (struct kho_poison){
				m, (uint64_t)off, KHO_POISON_PAGE };
			break;
		}
		case 'U':
			/* guest RAM no IOAS maps: what a DMA never reaches */
			if (!serve || parse_uint(optarg, VMM_MAX_MAPS, &v->unmapped))
				goto usage;
			break;
		case 'R':
			/* guest RAM in two memfds, as a VMM with two regions */
			if (!serve || parse_uint(optarg, 2, &v->ram_memfds) ||
			    !v->ram_memfds)
				goto usage;
			break;
		case 'H':
			v->explicit_hwpt = true;
			break;
		default:
			goto usage;
		}
	}
	/* The second RAM's maps start above the first's. */
	if (optind == argc &&
	    (v->ram_memfds == 1 ||
	     vmm_chunk_iova(v->nmaps) <= VMM_RAM2_IOVA))
		return 0;
usage:
	fprintf(stderr, "test-vmm: %s: bad arguments (--maps 2..%llu, --churn N, --device PATH, --mtty PATH: serve only, up to %d, --mtty-fifo BYTES: under 16, --poison-offset [1:]PAGE-ALIGNED: up to %d, ascending per memfd, --unmapped-chunks N: serve only, --ram-memfds 1|2: serve only, maps under 0x%llx then, --hwpt)\n",
		argv[0], (unsigned long long)VMM_MAX_MAPS, VMM_MAX_MTTY, MAX_POISON,
		VMM_RAM2_IOVA);
	return 2;
}

static int cmd_dma_check(int argc, char **argv)
{
	struct vmm v = { 0 };
	const char *devpath, *mtty_fifo;
	unsigned int churn;
	int ret;

	ret = parse_vmm_opts(argc, argv, false, &v, &churn, &devpath,
			     &mtty_fifo);
	if (ret)
		return ret;
	ret = vmm_setup(&v, devpath, 0, true);
	if (!ret)
		ret = vmm_dma_check(&v);
	return ret ? ret : vmm_dma_blocked(&v, 1);
}

/*
 * The VMM's own read of each poisoned page takes SIGBUS BUS_MCEERR_AR,
 * as a guest access would: after an upgrade that failed, the punched
 * pages must fail again, and the bytes around them (the DMA check's
 * pattern check) hold what they held.
 */
static const char *const ram_name[] = { "guest RAM", "guest RAM 2" };

static int serve_poison_check(const struct vmm *v)
{
	size_t i, nr[2] = { 0, 0 };

	for (i = 0; i < v->nr_poison; i++) {
		unsigned int m = v->poison[i].memfd_token;

		if (vmm_poison_read(m ? v->ram2 : v->ram, "serve", ram_name[m],
				    &v->poison[i]))
			return 1;
		nr[m]++;
	}
	if (nr[0])
		printf("test-vmm: serve: guest RAM: %zu bytes intact around the poisoned range(s)\n",
		       v->ram_size - nr[0] * KHO_POISON_PAGE);
	if (nr[1])
		printf("test-vmm: serve: guest RAM 2: %zu bytes intact around the poisoned range(s)\n",
		       v->ram2_size - nr[1] * KHO_POISON_PAGE);
	return 0;
}

/*
 * serve's check, at the start and on SIGUSR1: the edu's DMA (unless the
 * one device is an mtty), and the bytes in each mtty's FIFO
 * (vmm_mtty_bytes()), put back after reading so that the next check, or
 * the kexec, finds them.
 */
static int serve_check(struct vmm *v, bool edu, const char *mtty_fifo,
		       const char *what)
{
	unsigned int k, n = v->nr_mtty ? v->nr_mtty : 1;
	char want[16];

	if (edu && (vmm_dma_check(v) || (what && serve_poison_check(v))))
		return 1;
	if (!mtty_fifo)
		return 0;
	for (k = 0; k < n; k++) {
		int fd = v->nr_mtty ? v->mtty[k].fd : v->devfd;
		const char *path = v->nr_mtty ? v->mtty[k].path : v->devpath;

		vmm_mtty_bytes(mtty_fifo, k, want);
		if ((what && vmm_mtty_expect(fd, path, want, what)) ||
		    vmm_mtty_fill(fd, path, want))
			return 1;
	}
	return 0;
}

static int cmd_serve(int argc, char **argv)
{
	struct vmm v = { 0 };
	const char *devpath, *mtty_fifo;
	unsigned int churn;
	sigset_t set;
	bool edu;
	int ret, sig;
	size_t i;

	ret = parse_vmm_opts(argc, argv, true, &v, &churn, &devpath,
			     &mtty_fifo);
	if (ret)
		return ret;
	/* Blocked before anything starts, so an early SIGTERM is not lost. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigprocmask(SIG_BLOCK, &set, NULL);

	if (mtty_fifo && !devpath && !v.nr_mtty) {
		fprintf(stderr, "test-vmm: serve: --mtty-fifo needs --mtty or --device (the mtty's cdev)\n");
		return 2;
	}
	/* An mtty does no DMA: its state is what its FIFO holds. */
	edu = !mtty_fifo || v.nr_mtty;
	ret = vmm_setup(&v, devpath, churn, edu);
	if (ret)
		return ret;
	if (serve_check(&v, edu, mtty_fifo, NULL))
		return 1;
	/*
	 * From here the guest RAM has holes that fail: SIGUSR1's pattern
	 * check goes around them, and the DMA checks stay below them.
	 */
	for (i = 0; i < v.nr_poison; i++) {
		uint64_t off = v.poison[i].offset;
		unsigned int m = v.poison[i].memfd_token;
		size_t size = m ? v.ram2_size : v.ram_size;

		if (off < 0x3000 || off >= size) {
			fprintf(stderr, "test-vmm: serve: --poison-offset %s0x%llx: not in 0x3000..0x%zx of %s (the DMA checks use the first pages)\n",
				m ? "1:" : "", (unsigned long long)off, size,
				ram_name[m]);
			return 2;
		}
		if (vmm_poison_inject(m ? v.memfd2 : v.memfd, ram_name[m], off))
			return 1;
	}
	printf("test-vmm: ready pid=%d\n", getpid());

	/*
	 * SIGUSR1 reruns the DMA check: the state is still live and works;
	 * a poisoned page must still fail.  SIGUSR2 maps and unmaps one
	 * chunk: does the iommufd accept a state-changing ioctl (EBUSY while
	 * LUO preserves it)?
	 */
	for (;;) {
		if (sigwait(&set, &sig))
			return fail("serve: sigwait", -EINVAL);
		if (sig == SIGUSR2) {
			ret = vmm_ioas_map_file(v.iommufd, v.ioas_id, v.memfd, 0,
						VMM_CHUNK, VMM_CHURN_IOVA);
			if (!ret)
				ret = vmm_ioas_unmap(v.iommufd, v.ioas_id,
						     VMM_CHURN_IOVA, VMM_CHUNK);
			printf("test-vmm: probe-map: IOAS %u IOVA 0x%llx: %s\n",
			       v.ioas_id, (unsigned long long)VMM_CHURN_IOVA,
			       ret ? strerrorname_np(-ret) : "ok");
			fflush(stdout);
			continue;
		}
		if (sig != SIGUSR1)
			break;
		if (serve_check(&v, edu, mtty_fifo, "on SIGUSR1"))
			return 1;
		fflush(stdout);
	}
	printf("test-vmm: serve: %s, exiting\n", strsignal(sig));
	return 0;
}

static int cmd_restart(int argc, char **argv)
{
	if (!vmm_cmd_restart) {
		fprintf(stderr, "test-vmm: restart: not built (tests/vmm/restart.c is missing)\n");
		return 1;
	}
	return vmm_cmd_restart(argc, argv);
}

/*
 * run-as UID PROG [ARGS]: a launcher that starts a VMM as a user that is
 * not root (busybox has no setpriv --reuid): groups, gid and uid dropped
 * for good, then exec.  Descriptors the caller opened are inherited: the
 * adoption token's file, which only root may open, travels that way.
 */
static int cmd_run_as(int argc, char **argv)
{
	char *end;
	long uid;

	if (argc < 3)
		goto usage;
	uid = strtol(argv[1], &end, 0);
	if (*end || uid <= 0)
		goto usage;
	if (setgroups(0, NULL) || setresgid(uid, uid, uid) ||
	    setresuid(uid, uid, uid)) {
		fprintf(stderr, "test-vmm: run-as %ld: %s\n", uid, strerror(errno));
		return 1;
	}
	execvp(argv[2], argv + 2);
	fprintf(stderr, "test-vmm: run-as %ld: exec %s: %s\n", uid, argv[2],
		strerror(errno));
	return 1;
usage:
	fprintf(stderr, "test-vmm: run-as: usage: UID PROG [ARGS]\n");
	return 2;
}

static int cmd_stage(int argc, char **argv)
{
	if (!vmm_cmd_stage) {
		fprintf(stderr, "test-vmm: stage: not built (tests/vmm/stage.c is missing)\n");
		return 1;
	}
	return vmm_cmd_stage(argc, argv);
}

static const struct vmm_cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *usage;
} vmm_cmds[] = {
	{ "dma-check", cmd_dma_check, "[--device PATH] [--hwpt]: set up, DMA check, exit" },
	{ "serve", cmd_serve,
	  "[--maps N] [--unmapped-chunks N] [--ram-memfds 1|2] [--churn N] [--device PATH] [--mtty PATH]... [--mtty-fifo BYTES] [--poison-offset [1:]OFF]... [--hwpt]: set up, DMA check, hold the state until SIGTERM (SIGUSR1: check again; SIGUSR2: map+unmap one chunk)" },
	{ "mock", vmm_cmd_mock, "[--devices N]: iommufd mock domains (CONFIG_IOMMUFD_TEST)" },
	{ "luo-hold", vmm_cmd_luo_hold,
	  "--session NAME --token T --size BYTES [--seed S]: preserve a patterned memfd, hold it until SIGTERM" },
	{ "luo-check", vmm_cmd_luo_check,
	  "--session NAME --token T --size BYTES [--seed S]: retrieve it after kexec, check, FINISH" },
	{ "stage", cmd_stage,
	  "[--maps N] [--chunk B] [--corrupt] ...: build state + hand-off, preserve it, hold (tests/vmm/stage.c)" },
	{ "restart", cmd_restart, "...: adopt the state after kexec (tests/vmm/restart.c)" },
	{ "run-as", cmd_run_as, "UID PROG [ARGS]: run PROG as UID (a launcher)" },
	{ "inject", vmm_cmd_poison_inject,
	  "PID MEMFD-NAME OFFSET: a memory failure on a page of a running VMM's memfd (root; tests/vmm/poison.c)" },
	{ "mtty-migrate", vmm_cmd_mtty_migrate,
	  "SRC-CDEV DST-CDEV: save mtty SRC's state through the FSM, load it into DST (tests/vmm/mtty.c)" },
};

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: test-vmm COMMAND [ARGS]\n");
	for (i = 0; i < sizeof(vmm_cmds) / sizeof(vmm_cmds[0]); i++)
		fprintf(f, "  %-10s %s\n", vmm_cmds[i].name, vmm_cmds[i].usage);
}

int main(int argc, char **argv)
{
	size_t i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(stdout);
		return 0;
	}
	for (i = 0; i < sizeof(vmm_cmds) / sizeof(vmm_cmds[0]); i++)
		if (!strcmp(argv[1], vmm_cmds[i].name))
			return vmm_cmds[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "test-vmm: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
