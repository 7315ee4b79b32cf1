/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The test VMM's shared parts: guest-RAM layout, the raw iommufd/VFIO-cdev
 * calls a VMM makes, and the edu device's DMA check that proves an IOAS
 * really translates.  tests/vmm/restart.c reuses them after kexec.
 *
 * Everything here is raw ioctls on purpose: the LD_PRELOAD recorder must
 * be able to wrap this program as it would wrap an unmodified VMM.  Every
 * function returns 0 (or an fd / ID where it says so) or a negative errno,
 * and prints nothing: callers name the step in their message.
 */
#ifndef KHO_TEST_VMM_H
#define KHO_TEST_VMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/stddef.h>

/*
 * Bookworm's <linux/stddef.h> predates the 7.2 uapi's __counted_by:
 * include this header before <linux/vfio.h>.
 */
#ifndef __counted_by
#define __counted_by(m)
#endif

/*
 * Guest-RAM layout.  Chunk i of the RAM memfd (VMM_CHUNK bytes at offset
 * i * VMM_CHUNK) is mapped at IOVA VMM_IOVA_BASE + i * VMM_CHUNK: even
 * chunks by VA (IOMMU_IOAS_MAP), odd chunks by file (IOMMU_IOAS_MAP_FILE).
 * All IOVAs stay below the edu device's 28-bit DMA mask.
 */
#define VMM_IOVA_BASE	0x100000ULL
#define VMM_CHUNK	0x10000ULL
#define VMM_IOVA_LIMIT	(1ULL << 28)
#define VMM_MAX_MAPS	((VMM_IOVA_LIMIT - VMM_IOVA_BASE) / VMM_CHUNK / 2)
/* Churn maps go above the RAM maps, still under the DMA mask. */
#define VMM_CHURN_IOVA	(VMM_IOVA_LIMIT / 2)
/* The pattern seed serve writes over the whole guest RAM. */
#define VMM_SEED	0x6b686f31u
/*
 * serve --ram-memfds 2: a second guest-RAM memfd of its own size and
 * pattern, as a VMM with two RAM regions has, mapped chunk by chunk (by
 * VA and by file, as the first) from VMM_RAM2_IOVA, above the first's
 * mappings and below the churn maps.
 */
#define VMM_SEED2	0x6b686f32u
#define VMM_RAM2_CHUNKS	4
#define VMM_RAM2_IOVA	(VMM_IOVA_LIMIT / 4)

/*
 * QEMU 7.2's edu device aborts the VM on a transfer that ends exactly at
 * the end of its 4 KiB buffer: stay one byte short.
 */
#define VMM_EDU_DMA_MAX	4095
#define VMM_EDU_VENDOR	0x1234
#define VMM_EDU_DEVICE	0x11e8

static inline uint64_t vmm_chunk_iova(unsigned int i)
{
	return VMM_IOVA_BASE + (uint64_t)i * VMM_CHUNK;
}

/* Fill @buf with the byte stream of @seed starting at stream offset @off. */
void vmm_pattern_fill(void *buf, size_t len, uint32_t seed, uint64_t off);
/* Return: the offset of the first byte differing from the stream, or -1. */
long vmm_pattern_check(const void *buf, size_t len, uint32_t seed, uint64_t off);

/* Return: a memfd of @size bytes (MFD_CLOEXEC, shmem), or -errno. */
int vmm_ram_create(const char *name, size_t size);

/* iommufd: /dev/iommu and its IOAS calls. */
int vmm_iommufd_open(void);
/* Return: 0 and the new IOAS ID in *@ioas_id, or -errno. */
int vmm_ioas_alloc(int iommufd, uint32_t *ioas_id);
int vmm_ioas_map_va(int iommufd, uint32_t ioas_id, void *va, uint64_t len,
		    uint64_t iova);
int vmm_ioas_map_file(int iommufd, uint32_t ioas_id, int memfd, uint64_t start,
		      uint64_t len, uint64_t iova);
int vmm_ioas_unmap(int iommufd, uint32_t ioas_id, uint64_t iova, uint64_t len);
int vmm_destroy(int iommufd, uint32_t id);

/*
 * Map @nmaps chunks of the RAM at @ram (memfd @memfd) by the layout above,
 * chunk i at IOVA @iova + i * VMM_CHUNK.
 * Return: 0, or -errno with the failing chunk in *@failed.
 */
int vmm_map_ram(int iommufd, uint32_t ioas_id, int memfd, void *ram,
		unsigned int nmaps, uint64_t iova, unsigned int *failed);

/* VFIO cdev. */
/*
 * Find the cdev (/dev/vfio/devices/vfioN) of the first PCI function with
 * @vendor:@device and write its path to @path.  Return: 0 or -ENOENT.
 */
int vmm_vfio_find(uint16_t vendor, uint16_t device, char *path, size_t size);
/* Return: 0 and the iommufd device ID in *@devid, or -errno. */
int vmm_vfio_bind(int devfd, int iommufd, uint32_t *devid);
/*
 * The explicit HWPT a VMM such as QEMU's iommufd backend allocates for
 * @devid on @ioas_id before attaching to it, instead of the auto domain an
 * ATTACH to the IOAS makes.  Return: 0 and its ID in *@hwpt_id, or -errno.
 */
int vmm_hwpt_alloc(int iommufd, uint32_t devid, uint32_t ioas_id,
		   uint32_t *hwpt_id);
/* Return: 0 and the HWPT the kernel attached to in *@pt_id, or -errno. */
int vmm_vfio_attach(int devfd, uint32_t ioas_or_hwpt, uint32_t *pt_id);

/* The edu device behind a bound VFIO cdev. */
struct vmm_edu {
	int devfd;
	uint64_t bar0;		/* offset of BAR0 in the device fd */
	uint64_t config;	/* offset of PCI config space in the device fd */
	uint32_t id;		/* edu identification register */
};

/*
 * Look up BAR0 and config space, check the edu identification register
 * and set memory + bus-master in the PCI command register (without them
 * the device's DMA never reaches the IOMMU).  Return: 0 or -errno
 * (-ENODEV: not an edu device).
 */
int vmm_edu_init(struct vmm_edu *edu, int devfd);

/*
 * One edu DMA of @len bytes between IOVA @iova and offset @off of the
 * device's buffer; @to_ram picks the direction.  Polls until done.
 * Return: 0, -EINVAL (@len or @off out of the device's range) or
 * -ETIMEDOUT (the device never finished: e.g. a fault in the IOMMU).
 */
int vmm_edu_dma(struct vmm_edu *edu, uint64_t iova, uint32_t off, uint32_t len,
		bool to_ram);

/*
 * The DMA check: edu copies @len bytes from guest RAM at IOVA @iova_src
 * into its buffer and back out to IOVA @iova_dst, whose VMM mapping is
 * @dst; the bytes landing there must equal @expect.  @dst is poisoned
 * first, so stale memory cannot pass.  Return: 0, -EBADMSG (the bytes
 * differ; the first differing offset in *@bad if not NULL) or the -errno
 * of vmm_edu_dma().
 */
int vmm_edu_dma_check(struct vmm_edu *edu, uint64_t iova_src, uint64_t iova_dst,
		      void *dst, const void *expect, size_t len, long *bad);

/* Subcommands, one per file; the table lives in test-vmm.c. */
int vmm_cmd_mock(int argc, char **argv);
int vmm_cmd_luo_hold(int argc, char **argv);
int vmm_cmd_luo_check(int argc, char **argv);
int vmm_cmd_mtty_migrate(int argc, char **argv);

/*
 * The kernel's mtty sample behind a bound VFIO cdev @fd (@path for
 * messages): write @msg to port 0's THR, where it sits in the FIFO
 * (under 16 bytes); read the FIFO empty and fail (-EILSEQ) unless it held
 * exactly @want, in order ("" after a reset).
 */
int vmm_mtty_fill(int fd, const char *path, const char *msg);
int vmm_mtty_expect(int fd, const char *path, const char *want,
		    const char *what);
/* A VMM passes up to this many mttys through (serve --mtty, repeated). */
#define VMM_MAX_MTTY	2
/*
 * What the @k-th mtty of a VMM holds in its FIFO (k in bind order):
 * @fifo for the first, @fifo reversed for the second, so that a state
 * resumed into the wrong device reads back wrong.  @out holds 16 bytes.
 */
void vmm_mtty_bytes(const char *fifo, unsigned int k, char *out);
int vmm_cmd_restart(int argc, char **argv) __attribute__((weak));

/* Poisoned guest pages (tests/vmm/poison.c). */
struct kho_adopt_set;
struct kho_poison;
/*
 * serve: a memory failure on the page at @offset of the RAM memfd @memfd
 * (MADV_HWPOISON), said as "test-vmm: @what offset ...".
 */
int vmm_poison_inject(int memfd, const char *what, uint64_t offset);
/* test-vmm inject PID NAME OFFSET: the same, on another VMM's memfd. */
int vmm_cmd_poison_inject(int argc, char **argv);
/* restart: the adopted set's poison list, decoded once for every memfd. */
int vmm_poison_list(const struct kho_adopt_set *set, struct kho_poison **list,
		    size_t *nr);
/* restart: @list's ranges of @token, poisoned again in its mapping @ram. */
int vmm_poison_adopted(const struct kho_poison *list, size_t nr,
		       uint64_t token, void *ram, uint64_t size);
/* vmm_pattern_check() of @ram (pattern @seed) around @token's poisoned ranges. */
long vmm_poison_pattern_check(const uint8_t *ram, uint64_t size, uint32_t seed,
			      uint64_t token, const struct kho_poison *list,
			      size_t nr);
/*
 * A read of the poisoned range: 0 when SIGBUS BUS_MCEERR_AR hits it.
 * Said as "test-vmm: @who: poison: read of @what offset ...".
 */
int vmm_poison_read(const uint8_t *ram, const char *who, const char *what,
		    const struct kho_poison *p);
/*
 * edu DMA to and from its IOVA (@iova + its offset in the memfd of
 * pattern @seed) reaches nothing: 0, or -EBADMSG.  @ram is the first
 * guest RAM (mapped at VMM_IOVA_BASE): the DMA's scratch page.
 */
int vmm_poison_dma(struct vmm_edu *edu, int memfd, uint8_t *ram,
		   const struct kho_poison *p, uint64_t iova, uint32_t seed);
int vmm_cmd_stage(int argc, char **argv) __attribute__((weak));

#endif /* KHO_TEST_VMM_H */
