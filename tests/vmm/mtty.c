// SPDX-License-Identifier: GPL-2.0
/*
 * test-vmm mtty-migrate: lib/devstate.c against the kernel's own mtty
 * sample (samples/vfio-mdev/mtty.c: an mdev with VFIO migration v2,
 * P2P and PRE_COPY), on one kernel, no kexec.  Bytes written to port 0 of
 * one instance sit in its FIFO; the device's state is saved through the
 * FSM into a sealed memfd, the source is walked back to RUNNING with its
 * state (the upgrade's failure path), the state is loaded into a second
 * instance, and its FIFO must give the same bytes in order.  A memfd with
 * a broken header must be refused by the driver and leave that instance
 * RUNNING after a reset.  tests/vm/065-device-state.bats runs it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <zlib.h>
#include "compat.h"
#include <linux/vfio.h>

#include "devstate.h"
#include "vfio_mig.h"
#include "vmm.h"

/* 8250 registers of mtty's port 0, at the start of BAR0. */
#define UART_DATA	0	/* THR on write, RBR on read */
#define UART_LSR	5
#define UART_LSR_DR	0x01	/* data ready */
#define MSG		"kho-mtty-fifo"	/* 13 bytes: under the 16-byte FIFO */

struct mtty {
	const char *path;
	int fd;
	uint32_t devid, pt_id;
	uint64_t bar0;		/* offset of BAR0 in the device fd */
};

static int mtty_open(struct mtty *m, const char *path, int iommufd,
		     uint32_t ioas_id)
{
	struct vfio_region_info reg = {
		.argsz = sizeof(reg),
		.index = VFIO_PCI_BAR0_REGION_INDEX,
	};
	int err;

	m->path = path;
	m->fd = open(path, O_RDWR | O_CLOEXEC);
	if (m->fd < 0) {
		fprintf(stderr, "mtty: open %s: %s\n", path, strerror(errno));
		return -errno;
	}
	err = vmm_vfio_bind(m->fd, iommufd, &m->devid);
	if (!err)
		err = vmm_vfio_attach(m->fd, ioas_id, &m->pt_id);
	if (!err && ioctl(m->fd, VFIO_DEVICE_GET_REGION_INFO, &reg))
		err = -errno;
	if (err) {
		fprintf(stderr, "mtty: %s: bind, attach or BAR0: %s\n", path,
			strerror(-err));
		return err;
	}
	m->bar0 = reg.offset;
	return 0;
}

static int uart_rw(struct mtty *m, unsigned int reg, uint8_t *b, int write)
{
	ssize_t n = write ? pwrite(m->fd, b, 1, (off_t)(m->bar0 + reg)) :
			    pread(m->fd, b, 1, (off_t)(m->bar0 + reg));

	if (n != 1) {
		fprintf(stderr, "mtty: %s: %s of UART register %u: %s\n",
			m->path, write ? "write" : "read", reg,
			n < 0 ? strerror(errno) : "short");
		return -EIO;
	}
	return 0;
}

/* Reads the FIFO empty; fails unless it held exactly @want, in order. */
static int expect_fifo(struct mtty *m, const char *want, const char *what)
{
	char got[32];
	size_t n = 0;
	uint8_t lsr, b;

	for (;;) {
		if (uart_rw(m, UART_LSR, &lsr, 0))
			return -EIO;
		if (!(lsr & UART_LSR_DR) || n == sizeof(got) - 1)
			break;
		if (uart_rw(m, UART_DATA, &b, 0))
			return -EIO;
		got[n++] = (char)b;
	}
	got[n] = '\0';
	if (strcmp(got, want)) {
		fprintf(stderr, "mtty: %s: %s: FIFO held \"%s\", expected \"%s\"\n",
			m->path, what, got, want);
		return -EILSEQ;
	}
	printf("mtty: %s: %s: FIFO gave \"%s\" in order\n", m->path, what, got);
	return 0;
}

/* An mtty device the VMM (serve, restart) bound: its BAR0 looked up. */
static int mtty_of_fd(struct mtty *m, int fd, const char *path)
{
	struct vfio_region_info reg = {
		.argsz = sizeof(reg),
		.index = VFIO_PCI_BAR0_REGION_INDEX,
	};

	m->path = path;
	m->fd = fd;
	m->bar0 = 0;
	if (ioctl(fd, VFIO_DEVICE_GET_REGION_INFO, &reg)) {
		fprintf(stderr, "mtty: %s: BAR0: %s\n", path, strerror(errno));
		return -errno;
	}
	m->bar0 = reg.offset;
	return 0;
}

int vmm_mtty_fill(int fd, const char *path, const char *msg)
{
	struct mtty m;
	size_t i;
	int err;

	err = mtty_of_fd(&m, fd, path);
	for (i = 0; !err && msg[i]; i++) {
		uint8_t b = (uint8_t)msg[i];

		err = uart_rw(&m, UART_DATA, &b, 1);
	}
	if (!err)
		printf("mtty: %s: wrote \"%s\" to port 0: in its FIFO\n", path,
		       msg);
	return err;
}

int vmm_mtty_expect(int fd, const char *path, const char *want,
		    const char *what)
{
	struct mtty m;
	int err;

	err = mtty_of_fd(&m, fd, path);
	return err ? err : expect_fifo(&m, want, what);
}

void vmm_mtty_bytes(const char *fifo, unsigned int k, char *out)
{
	size_t i, n = strnlen(fifo, 15);

	for (i = 0; i < n; i++)
		out[i] = k % 2 ? fifo[n - 1 - i] : fifo[i];
	out[n] = '\0';
}

/* A copy of @in with byte @at flipped, sealed, and the crc32 of the copy. */
static int corrupt_copy(int in, uint64_t len, uint64_t at, uint32_t *crc)
{
	char buf[4096];
	int out;

	if (len > sizeof(buf) || pread(in, buf, len, 0) != (ssize_t)len)
		return -EIO;
	buf[at] ^= 0xff;
	*crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), (const Bytef *)buf,
			       (uInt)len);
	out = kho_devstate_memfd("kho-devstate:corrupt");
	if (out < 0)
		return out;
	if (write(out, buf, len) != (ssize_t)len) {
		close(out);
		return -EIO;
	}
	return out;
}

int vmm_cmd_mtty_migrate(int argc, char **argv)
{
	struct mtty src, dst;
	struct kho_devstate ds, in;
	struct kho_diag diag = { "" };
	char path[160], fl[40];
	uint32_t ioas_id, flags, bad_crc;
	int iommufd, memfd, bad, err;
	size_t i;

	if (argc != 3) {
		fprintf(stderr, "usage: test-vmm mtty-migrate SRC-CDEV DST-CDEV\n");
		return 2;
	}
	iommufd = vmm_iommufd_open();
	err = iommufd < 0 ? iommufd : vmm_ioas_alloc(iommufd, &ioas_id);
	if (err) {
		fprintf(stderr, "mtty: /dev/iommu, IOAS_ALLOC: %s\n", strerror(-err));
		return 1;
	}
	if (mtty_open(&src, argv[1], iommufd, ioas_id) ||
	    mtty_open(&dst, argv[2], iommufd, ioas_id))
		return 1;

	err = kho_vfio_migration_query(src.fd, &flags);
	if (err || !(flags & VFIO_MIGRATION_PRE_COPY)) {
		fprintf(stderr, "mtty: %s: migration flags %s (%s): expected pre-copy\n",
			src.path, kho_vfio_migration_str(flags, fl, sizeof(fl)),
			strerror(-err));
		return 1;
	}
	printf("mtty: migration %s\n", kho_vfio_migration_str(flags, fl, sizeof(fl)));
	for (i = 0; i < strlen(MSG); i++) {
		uint8_t b = (uint8_t)MSG[i];

		if (uart_rw(&src, UART_DATA, &b, 1))
			return 1;
	}

	/* Save, as upgrade would: PRE_COPY while running, then STOP_COPY. */
	memfd = kho_devstate_memfd("kho-devstate:mtty");
	kho_devstate_init(&ds, src.fd, flags, &kho_devstate_sys, NULL);
	err = memfd < 0 ? memfd : kho_devstate_precopy(&ds, memfd, &diag);
	if (!err)
		err = kho_devstate_stop_copy(&ds, memfd, &diag);
	if (!err)
		err = kho_devstate_seal(&ds, memfd, &diag);
	if (err) {
		fprintf(stderr, "mtty: save: %s\n", diag.msg);
		return 1;
	}
	printf("mtty: saved %llu bytes (%llu in PRE_COPY, estimate %llu), crc32 0x%08x, %s\n",
	       (unsigned long long)ds.length,
	       (unsigned long long)ds.precopy_length,
	       (unsigned long long)ds.stop_copy_estimate, ds.crc32,
	       kho_devstate_path_str(ds.path, ds.path_len, path, sizeof(path)));

	/* The failure path: back to RUNNING with its state. */
	err = kho_devstate_recover(&ds, &diag);
	printf("mtty: recover: %s\n", diag.msg);
	if (err || expect_fifo(&src, MSG, "after recover"))
		return 1;

	/* A broken header: refused by the driver, the device reset. */
	bad = corrupt_copy(memfd, ds.length, 0, &bad_crc);
	if (bad < 0)
		return 1;
	kho_devstate_init(&in, dst.fd, flags, &kho_devstate_sys, NULL);
	err = kho_devstate_load(&in, bad, ds.length, bad_crc, &diag);
	printf("mtty: corrupt load: %s: %s\n", kho_errno_name(err), diag.msg);
	close(bad);
	if (!err || kho_devstate_get(&in, NULL) ||
	    in.state != VFIO_DEVICE_STATE_RUNNING ||
	    expect_fifo(&dst, "", "after a refused load"))
		return 1;

	/* The real load. */
	kho_devstate_init(&in, dst.fd, flags, &kho_devstate_sys, NULL);
	err = kho_devstate_load(&in, memfd, ds.length, ds.crc32, &diag);
	if (!err)
		err = kho_devstate_resume(&in, &diag);
	if (err) {
		fprintf(stderr, "mtty: load: %s\n", diag.msg);
		return 1;
	}
	printf("mtty: loaded %llu bytes, %s\n", (unsigned long long)in.length,
	       kho_devstate_path_str(in.path, in.path_len, path, sizeof(path)));
	if (expect_fifo(&dst, MSG, "after load"))
		return 1;
	printf("mtty-migrate: ok\n");
	return 0;
}
