// SPDX-License-Identifier: GPL-2.0
/*
 * The test VMM's plumbing: guest RAM as a memfd, the raw iommufd IOAS
 * calls and the VFIO cdev bind/attach, each returning 0 or -errno.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmm.h"

#include <linux/iommufd.h>
#include <linux/vfio.h>


/*
 * xorshift32 keyed by seed and the 4-byte word index, so that any window
 * of the stream can be produced or checked without the bytes before it.
 */
static uint8_t pattern_byte(uint32_t seed, uint64_t off)
{
	uint32_t x = seed ^ (uint32_t)(off >> 2) * 0x9e3779b1u;

	x ^= (uint32_t)(off >> 34);
	if (!x)
		x = 0x2545f491u;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return (uint8_t)(x >> ((off & 3) * 8));
}

void vmm_pattern_fill(void *buf, size_t len, uint32_t seed, uint64_t off)
{
	uint8_t *p = buf;
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = pattern_byte(seed, off + i);
}

long vmm_pattern_check(const void *buf, size_t len, uint32_t seed, uint64_t off)
{
	const uint8_t *p = buf;
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] != pattern_byte(seed, off + i))
			return (long)i;
	return -1;
}

int vmm_ram_create(const char *name, size_t size)
{
	int fd, err;

	/* Plain shmem: LUO in 7.2 preserves memfds but not hugetlb ones. */
	fd = memfd_create(name, MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, size) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

int vmm_iommufd_open(void)
{
	int fd = open("/dev/iommu", O_RDWR | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

int vmm_ioas_alloc(int iommufd, uint32_t *ioas_id)
{
	struct iommu_ioas_alloc cmd = { .size = sizeof(cmd) };

	if (ioctl(iommufd, IOMMU_IOAS_ALLOC, &cmd))
		return -errno;
	*ioas_id = cmd.out_ioas_id;
	return 0;
}

int vmm_ioas_map_va(int iommufd, uint32_t ioas_id, void *va, uint64_t len,
		    uint64_t iova)
{
	struct iommu_ioas_map cmd = {
		.size = sizeof(cmd),
		.flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
			 IOMMU_IOAS_MAP_WRITEABLE,
		.ioas_id = ioas_id,
		.user_va = (uintptr_t)va,
		.length = len,
		.iova = iova,
	};

	return ioctl(iommufd, IOMMU_IOAS_MAP, &cmd) ? -errno : 0;
}

int vmm_ioas_map_file(int iommufd, uint32_t ioas_id, int memfd, uint64_t start,
		      uint64_t len, uint64_t iova)
{
	struct iommu_ioas_map_file cmd = {
		.size = sizeof(cmd),
		.flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
			 IOMMU_IOAS_MAP_WRITEABLE,
		.ioas_id = ioas_id,
		.fd = memfd,
		.start = start,
		.length = len,
		.iova = iova,
	};

	return ioctl(iommufd, IOMMU_IOAS_MAP_FILE, &cmd) ? -errno : 0;
}

int vmm_ioas_unmap(int iommufd, uint32_t ioas_id, uint64_t iova, uint64_t len)
{
	struct iommu_ioas_unmap cmd = {
		.size = sizeof(cmd),
		.ioas_id = ioas_id,
		.iova = iova,
		.length = len,
	};

	if (ioctl(iommufd, IOMMU_IOAS_UNMAP, &cmd))
		return -errno;
	/* The kernel unmaps whole areas only; a partial answer is a bug here. */
	return cmd.length == len ? 0 : -EIO;
}

int vmm_destroy(int iommufd, uint32_t id)
{
	struct iommu_destroy cmd = { .size = sizeof(cmd), .id = id };

	return ioctl(iommufd, IOMMU_DESTROY, &cmd) ? -errno : 0;
}

int vmm_map_ram(int iommufd, uint32_t ioas_id, int memfd, void *ram,
		unsigned int nmaps, uint64_t iova, unsigned int *failed)
{
	unsigned int i;
	int ret;

	for (i = 0; i < nmaps; i++) {
		uint64_t off = (uint64_t)i * VMM_CHUNK;

		if (i % 2 == 0)
			ret = vmm_ioas_map_va(iommufd, ioas_id, (char *)ram + off,
					      VMM_CHUNK, iova + off);
		else
			ret = vmm_ioas_map_file(iommufd, ioas_id, memfd, off,
						VMM_CHUNK, iova + off);
		if (ret) {
			*failed = i;
			return ret;
		}
	}
	return 0;
}

static int read_hex(const char *path, unsigned int *val)
{
	FILE *f = fopen(path, "re");
	int n;

	if (!f)
		return -errno;
	n = fscanf(f, "%x", val);
	fclose(f);
	return n == 1 ? 0 : -EINVAL;
}

int vmm_vfio_find(uint16_t vendor, uint16_t device, char *path, size_t size)
{
	DIR *dir = opendir("/sys/class/vfio-dev");
	struct dirent *de;
	int ret = -ENOENT;

	if (!dir)
		return -ENOENT;
	while ((de = readdir(dir))) {
		char attr[512];
		unsigned int v, d;

		if (strncmp(de->d_name, "vfio", 4))
			continue;
		snprintf(attr, sizeof(attr), "/sys/class/vfio-dev/%s/device/vendor",
			 de->d_name);
		if (read_hex(attr, &v) || v != vendor)
			continue;
		snprintf(attr, sizeof(attr), "/sys/class/vfio-dev/%s/device/device",
			 de->d_name);
		if (read_hex(attr, &d) || d != device)
			continue;
		snprintf(path, size, "/dev/vfio/devices/%s", de->d_name);
		ret = 0;
		break;
	}
	closedir(dir);
	return ret;
}

int vmm_vfio_bind(int devfd, int iommufd, uint32_t *devid)
{
	struct vfio_device_bind_iommufd bind = {
		.argsz = sizeof(bind),
		.iommufd = iommufd,
	};

	if (ioctl(devfd, VFIO_DEVICE_BIND_IOMMUFD, &bind))
		return -errno;
	*devid = bind.out_devid;
	return 0;
}

int vmm_hwpt_alloc(int iommufd, uint32_t devid, uint32_t ioas_id,
		   uint32_t *hwpt_id)
{
	struct iommu_hwpt_alloc cmd = {
		.size = sizeof(cmd),
		.dev_id = devid,
		.pt_id = ioas_id,
		.data_type = IOMMU_HWPT_DATA_NONE,
	};

	if (ioctl(iommufd, IOMMU_HWPT_ALLOC, &cmd))
		return -errno;
	*hwpt_id = cmd.out_hwpt_id;
	return 0;
}

int vmm_vfio_attach(int devfd, uint32_t ioas_or_hwpt, uint32_t *pt_id)
{
	struct vfio_device_attach_iommufd_pt attach = {
		.argsz = sizeof(attach),
		.pt_id = ioas_or_hwpt,
	};

	if (ioctl(devfd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &attach))
		return -errno;
	*pt_id = attach.pt_id;
	return 0;
}
