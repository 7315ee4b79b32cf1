// SPDX-License-Identifier: GPL-2.0
/*
 * QEMU's edu device driven through its VFIO cdev: the DMA round trip that
 * proves an IOAS translates (QEMU docs/specs/edu.rst).
 */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "vmm.h"

#include <linux/vfio.h>


#define EDU_ID			0x00
#define EDU_DMA_SRC		0x80
#define EDU_DMA_DST		0x88
#define EDU_DMA_COUNT		0x90
#define EDU_DMA_CMD		0x98
#define EDU_DMA_START		0x01
#define EDU_DMA_TO_RAM		0x02
/* The device's DMA buffer, in its own address space. */
#define EDU_BUF			0x40000
#define EDU_BUF_SIZE		4096
/* edu answers 0xRRrr00ed: major, minor, then the 0xed signature. */
#define EDU_ID_MAGIC_MASK	0xffff
#define EDU_ID_MAGIC		0x00ed

#define PCI_COMMAND		0x04
#define PCI_COMMAND_MEMORY	0x2
#define PCI_COMMAND_MASTER	0x4

/* edu runs a transfer from a 100 ms (virtual) timer; TCG stretches it. */
#define EDU_DMA_TIMEOUT_MS	10000

static int region_offset(int devfd, unsigned int index, uint64_t *offset)
{
	struct vfio_region_info info = {
		.argsz = sizeof(info),
		.index = index,
	};

	if (ioctl(devfd, VFIO_DEVICE_GET_REGION_INFO, &info))
		return -errno;
	if (!info.size)
		return -ENODEV;
	*offset = info.offset;
	return 0;
}

static int dev_rw(int devfd, uint64_t off, void *buf, size_t len, bool write)
{
	ssize_t n = write ? pwrite(devfd, buf, len, off) : pread(devfd, buf, len, off);

	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

static int bar_write64(struct vmm_edu *edu, uint32_t reg, uint64_t val)
{
	return dev_rw(edu->devfd, edu->bar0 + reg, &val, sizeof(val), true);
}

static int bar_read32(struct vmm_edu *edu, uint32_t reg, uint32_t *val)
{
	return dev_rw(edu->devfd, edu->bar0 + reg, val, sizeof(*val), false);
}

int vmm_edu_init(struct vmm_edu *edu, int devfd)
{
	uint16_t cmd;
	int ret;

	memset(edu, 0, sizeof(*edu));
	edu->devfd = devfd;
	ret = region_offset(devfd, VFIO_PCI_BAR0_REGION_INDEX, &edu->bar0);
	if (ret)
		return ret;
	ret = region_offset(devfd, VFIO_PCI_CONFIG_REGION_INDEX, &edu->config);
	if (ret)
		return ret;
	ret = bar_read32(edu, EDU_ID, &edu->id);
	if (ret)
		return ret;
	if ((edu->id & EDU_ID_MAGIC_MASK) != EDU_ID_MAGIC)
		return -ENODEV;

	ret = dev_rw(devfd, edu->config + PCI_COMMAND, &cmd, sizeof(cmd), false);
	if (ret)
		return ret;
	cmd |= PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
	return dev_rw(devfd, edu->config + PCI_COMMAND, &cmd, sizeof(cmd), true);
}

int vmm_edu_dma(struct vmm_edu *edu, uint64_t iova, uint32_t off, uint32_t len,
		bool to_ram)
{
	struct timespec tick = { .tv_nsec = 1000000 };
	uint32_t cmd = EDU_DMA_START | (to_ram ? EDU_DMA_TO_RAM : 0);
	uint32_t status;
	int ret, ms;

	if (!len || len > VMM_EDU_DMA_MAX || off > EDU_BUF_SIZE - 1 - len ||
	    iova >= VMM_IOVA_LIMIT || iova + len > VMM_IOVA_LIMIT)
		return -EINVAL;

	ret = bar_write64(edu, EDU_DMA_SRC, to_ram ? EDU_BUF + off : iova);
	if (!ret)
		ret = bar_write64(edu, EDU_DMA_DST, to_ram ? iova : EDU_BUF + off);
	if (!ret)
		ret = bar_write64(edu, EDU_DMA_COUNT, len);
	if (!ret)
		ret = dev_rw(edu->devfd, edu->bar0 + EDU_DMA_CMD, &cmd, sizeof(cmd), true);
	if (ret)
		return ret;

	for (ms = 0; ms < EDU_DMA_TIMEOUT_MS; ms++) {
		ret = bar_read32(edu, EDU_DMA_CMD, &status);
		if (ret)
			return ret;
		if (!(status & EDU_DMA_START))
			return 0;
		nanosleep(&tick, NULL);
	}
	return -ETIMEDOUT;
}

int vmm_edu_dma_check(struct vmm_edu *edu, uint64_t iova_src, uint64_t iova_dst,
		      void *dst, const void *expect, size_t len, long *bad)
{
	const uint8_t *want = expect;
	volatile uint8_t *got = dst;
	size_t i;
	int ret;

	if (len > VMM_EDU_DMA_MAX)
		return -EINVAL;
	/* Poison, so that bytes left over from an earlier run cannot pass. */
	for (i = 0; i < len; i++)
		got[i] = (uint8_t)~want[i];

	ret = vmm_edu_dma(edu, iova_src, 0, len, false);
	if (ret)
		return ret;
	ret = vmm_edu_dma(edu, iova_dst, 0, len, true);
	if (ret)
		return ret;

	for (i = 0; i < len; i++) {
		if (got[i] != want[i]) {
			if (bad)
				*bad = (long)i;
			return -EBADMSG;
		}
	}
	return 0;
}
