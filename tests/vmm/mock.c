// SPDX-License-Identifier: GPL-2.0
/*
 * test-vmm mock: many devices without hardware, through iommufd's mock
 * domains (CONFIG_IOMMUFD_TEST), driven the way
 * tools/testing/selftests/iommu/iommufd_utils.h drives them.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "iommufd_test.h"
#include "vmm.h"

/* Inside the mock domain's aperture [MOCK_APERTURE_START, _LAST]. */
#define MOCK_IOVA	((uint64_t)MOCK_APERTURE_START)
#define MOCK_MAPS	8
#define MOCK_MAX_DEVICES 4096

struct mock_dev {
	uint32_t stdev_id;
	uint32_t hwpt_id;
	uint32_t idev_id;
};

static int mock_domain(int fd, uint32_t ioas_id, struct mock_dev *dev)
{
	struct iommu_test_cmd cmd = {
		.size = sizeof(cmd),
		.op = IOMMU_TEST_OP_MOCK_DOMAIN,
		.id = ioas_id,
	};

	if (ioctl(fd, IOMMU_TEST_CMD, &cmd))
		return -errno;
	dev->stdev_id = cmd.mock_domain.out_stdev_id;
	dev->hwpt_id = cmd.mock_domain.out_hwpt_id;
	dev->idev_id = cmd.mock_domain.out_idev_id;
	return 0;
}

/* The mock domain @hwpt_id translates [@iova, +@len) to the pages at @va. */
static int mock_check_map(int fd, uint32_t hwpt_id, uint64_t iova, uint64_t len,
			  void *va)
{
	struct iommu_test_cmd cmd = {
		.size = sizeof(cmd),
		.op = IOMMU_TEST_OP_MD_CHECK_MAP,
		.id = hwpt_id,
		.check_map = { .iova = iova, .length = len, .uptr = (uintptr_t)va },
	};

	return ioctl(fd, IOMMU_TEST_CMD, &cmd) ? -errno : 0;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Check chunks [@first, @last) in every distinct HWPT of @devs. */
static int check_all(int fd, struct mock_dev *devs, unsigned int ndev, char *ram,
		     unsigned int first, unsigned int last, const char *when,
		     unsigned int *nhwpt)
{
	unsigned int d, e, c;
	int ret;

	*nhwpt = 0;
	for (d = 0; d < ndev; d++) {
		/* Devices that share a HWPT need it checked once. */
		for (e = 0; e < d && devs[e].hwpt_id != devs[d].hwpt_id; e++)
			;
		if (e < d)
			continue;
		(*nhwpt)++;
		for (c = first; c < last; c++) {
			ret = mock_check_map(fd, devs[d].hwpt_id, MOCK_IOVA + c * VMM_CHUNK,
					     VMM_CHUNK, ram + c * VMM_CHUNK);
			if (ret) {
				fprintf(stderr, "test-vmm: mock: %s: device %u (stdev %u) HWPT %u: IOVA 0x%llx does not translate to RAM chunk %u: %s\n",
					when, d, devs[d].stdev_id, devs[d].hwpt_id,
					(unsigned long long)(MOCK_IOVA + c * VMM_CHUNK),
					c, strerror(-ret));
				return 1;
			}
		}
	}
	return 0;
}

int vmm_cmd_mock(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "devices", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned int ndev = 4, d, nhwpt, bad;
	struct mock_dev *devs;
	uint32_t ioas_id;
	double t0 = now_ms();
	int fd, memfd, ret, c;
	size_t ram_size = (MOCK_MAPS + 1) * VMM_CHUNK;
	char *ram, *end;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'n')
			goto usage;
		ndev = strtoul(optarg, &end, 0);
		if (*end || !ndev || ndev > MOCK_MAX_DEVICES)
			goto usage;
	}
	if (optind != argc)
		goto usage;

	devs = calloc(ndev, sizeof(*devs));
	if (!devs)
		return 1;
	memfd = vmm_ram_create("test-vmm-mock", ram_size);
	if (memfd < 0) {
		fprintf(stderr, "test-vmm: mock: memfd_create: %s\n", strerror(-memfd));
		return 1;
	}
	ram = mmap(NULL, ram_size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	if (ram == MAP_FAILED) {
		fprintf(stderr, "test-vmm: mock: mmap of the memfd: %s\n", strerror(errno));
		return 1;
	}
	vmm_pattern_fill(ram, ram_size, VMM_SEED, 0);

	fd = vmm_iommufd_open();
	if (fd < 0) {
		fprintf(stderr, "test-vmm: mock: open /dev/iommu: %s\n", strerror(-fd));
		return 1;
	}
	ret = vmm_ioas_alloc(fd, &ioas_id);
	if (ret) {
		fprintf(stderr, "test-vmm: mock: IOMMU_IOAS_ALLOC: %s\n", strerror(-ret));
		return 1;
	}

	/* Half the maps before the devices, half after: both must reach them. */
	for (c = 0; c < MOCK_MAPS; c++) {
		uint64_t iova = MOCK_IOVA + c * VMM_CHUNK;

		if (c == MOCK_MAPS / 2) {
			for (d = 0; d < ndev; d++) {
				ret = mock_domain(fd, ioas_id, &devs[d]);
				if (ret) {
					fprintf(stderr, "test-vmm: mock: device %u: IOMMU_TEST_OP_MOCK_DOMAIN on IOAS %u: %s%s\n",
						d, ioas_id, strerror(-ret),
						ret == -ENOTTY ? " (kernel without CONFIG_IOMMUFD_TEST)" : "");
					return 1;
				}
			}
		}
		ret = c % 2 ? vmm_ioas_map_file(fd, ioas_id, memfd, c * VMM_CHUNK,
						VMM_CHUNK, iova)
			    : vmm_ioas_map_va(fd, ioas_id, ram + c * VMM_CHUNK,
					      VMM_CHUNK, iova);
		if (ret) {
			fprintf(stderr, "test-vmm: mock: IOAS %u: map chunk %d at IOVA 0x%llx: %s\n",
				ioas_id, c, (unsigned long long)iova, strerror(-ret));
			return 1;
		}
	}
	if (check_all(fd, devs, ndev, ram, 0, MOCK_MAPS, "after mapping", &nhwpt))
		return 1;

	/*
	 * The check must be able to fail: an unmapped chunk no longer
	 * translates, in any domain.
	 */
	bad = MOCK_MAPS - 1;
	ret = vmm_ioas_unmap(fd, ioas_id, MOCK_IOVA + bad * VMM_CHUNK, VMM_CHUNK);
	if (ret) {
		fprintf(stderr, "test-vmm: mock: IOAS %u: unmap chunk %u: %s\n",
			ioas_id, bad, strerror(-ret));
		return 1;
	}
	for (d = 0; d < ndev; d++) {
		ret = mock_check_map(fd, devs[d].hwpt_id, MOCK_IOVA + bad * VMM_CHUNK,
				     VMM_CHUNK, ram + bad * VMM_CHUNK);
		if (!ret) {
			fprintf(stderr, "test-vmm: mock: device %u HWPT %u: unmapped IOVA 0x%llx still translates\n",
				d, devs[d].hwpt_id,
				(unsigned long long)(MOCK_IOVA + bad * VMM_CHUNK));
			return 1;
		}
	}
	if (check_all(fd, devs, ndev, ram, 0, MOCK_MAPS - 1, "after unmap", &nhwpt))
		return 1;

	/* Tear down; an IOAS still in use by a leaked device cannot go. */
	for (d = 0; d < ndev; d++) {
		ret = vmm_destroy(fd, devs[d].stdev_id);
		if (ret) {
			fprintf(stderr, "test-vmm: mock: device %u: IOMMU_DESTROY stdev %u: %s\n",
				d, devs[d].stdev_id, strerror(-ret));
			return 1;
		}
	}
	ret = vmm_destroy(fd, ioas_id);
	if (ret) {
		fprintf(stderr, "test-vmm: mock: IOMMU_DESTROY IOAS %u after its devices: %s\n",
			ioas_id, strerror(-ret));
		return 1;
	}
	printf("test-vmm: mock: ok: %u devices (%u HWPTs) on IOAS %u, %d maps checked in every HWPT, unmap seen, teardown clean, in %.1f ms\n",
	       ndev, nhwpt, ioas_id, MOCK_MAPS, now_ms() - t0);
	free(devs);
	return 0;

usage:
	fprintf(stderr, "test-vmm: mock: bad arguments (--devices 1..%d)\n", MOCK_MAX_DEVICES);
	return 2;
}
