// SPDX-License-Identifier: LGPL-2.1-or-later
/* A device's migration state: saved to and loaded from a memfd via the FSM. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include "compat.h"
#include <linux/vfio.h>

#include "devstate.h"
#include "file.h"
#include "pci.h"

#define NR_STATES	(VFIO_DEVICE_STATE_PRE_COPY_P2P + 1)
/* One read or write of the data fd, and one pass over the memfd. */
#define CHUNK		(64 * 1024)

static int sys_ioctl(void *ctx, int fd, unsigned long req, void *arg)
{
	return ioctl(fd, req, arg) < 0 ? -errno : 0;
}

static ssize_t sys_read(void *ctx, int fd, void *buf, size_t len)
{
	ssize_t n = read(fd, buf, len);

	return n < 0 ? -errno : n;
}

static ssize_t sys_write(void *ctx, int fd, const void *buf, size_t len)
{
	ssize_t n = write(fd, buf, len);

	return n < 0 ? -errno : n;
}

const struct kho_devstate_ops kho_devstate_sys = {
	.ioctl = sys_ioctl,
	.read = sys_read,
	.write = sys_write,
};

void kho_devstate_init(struct kho_devstate *ds, int devfd, uint32_t mig_flags,
		       const struct kho_devstate_ops *ops, void *ctx)
{
	memset(ds, 0, sizeof(*ds));
	ds->devfd = devfd;
	ds->ops = ops;
	ds->ctx = ctx;
	ds->mig_flags = mig_flags;
	ds->state = VFIO_DEVICE_STATE_ERROR;	/* unknown until read */
	ds->datafd = -1;
	ds->crc32 = crc32(0L, Z_NULL, 0);
}

void kho_devstate_close(struct kho_devstate *ds)
{
	if (ds->datafd >= 0)
		close(ds->datafd);
	ds->datafd = -1;
}

const char *kho_devstate_name(uint32_t state)
{
	static const char *const names[NR_STATES] = {
		[VFIO_DEVICE_STATE_ERROR] = "ERROR",
		[VFIO_DEVICE_STATE_STOP] = "STOP",
		[VFIO_DEVICE_STATE_RUNNING] = "RUNNING",
		[VFIO_DEVICE_STATE_STOP_COPY] = "STOP_COPY",
		[VFIO_DEVICE_STATE_RESUMING] = "RESUMING",
		[VFIO_DEVICE_STATE_RUNNING_P2P] = "RUNNING_P2P",
		[VFIO_DEVICE_STATE_PRE_COPY] = "PRE_COPY",
		[VFIO_DEVICE_STATE_PRE_COPY_P2P] = "PRE_COPY_P2P",
	};

	return state < NR_STATES ? names[state] : "?";
}

/*
 * Linux 7.2's vfio_mig_get_next_state(), table and rule unchanged, so
 * that the path taken one arc at a time is the one the kernel would take
 * for the whole transition: tests/unit/test_devstate.c holds it to the
 * arcs a driver implements.
 */
int kho_devstate_next(uint32_t mig_flags, uint32_t cur, uint32_t target,
		      uint32_t *next)
{
	enum {
		ER = VFIO_DEVICE_STATE_ERROR,
		ST = VFIO_DEVICE_STATE_STOP,
		RU = VFIO_DEVICE_STATE_RUNNING,
		SC = VFIO_DEVICE_STATE_STOP_COPY,
		RE = VFIO_DEVICE_STATE_RESUMING,
		RP = VFIO_DEVICE_STATE_RUNNING_P2P,
		PC = VFIO_DEVICE_STATE_PRE_COPY,
		PP = VFIO_DEVICE_STATE_PRE_COPY_P2P,
	};
	/* [from][to]: the next state; columns in enum order. */
	static const uint8_t table[NR_STATES][NR_STATES] = {
		/*        ER  ST  RU  SC  RE  RP  PC  PP */
		[ER] = { ER, ER, ER, ER, ER, ER, ER, ER },
		[ST] = { ER, ST, RP, SC, RE, RP, RP, RP },
		[RU] = { ER, RP, RU, RP, RP, RP, PC, RP },
		[SC] = { ER, ST, ST, SC, ST, ST, ER, ER },
		[RE] = { ER, ST, ST, ST, RE, ST, ST, ST },
		[RP] = { ER, ST, RU, ST, ST, RP, RU, PP },
		[PC] = { ER, RU, RU, PP, RU, RU, PC, PP },
		[PP] = { ER, RP, RP, SC, RP, RP, PC, PP },
	};
	static const uint32_t needs[NR_STATES] = {
		[ER] = ~0u,
		[ST] = VFIO_MIGRATION_STOP_COPY,
		[RU] = VFIO_MIGRATION_STOP_COPY,
		[SC] = VFIO_MIGRATION_STOP_COPY,
		[RE] = VFIO_MIGRATION_STOP_COPY,
		[RP] = VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_P2P,
		[PC] = VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_PRE_COPY,
		[PP] = VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_P2P |
		       VFIO_MIGRATION_PRE_COPY,
	};
	uint32_t n;

	if (cur >= NR_STATES || (needs[cur] & mig_flags) != needs[cur] ||
	    target >= NR_STATES ||
	    (needs[target] & mig_flags) != needs[target])
		return -EINVAL;
	/* Arcs through states the device lacks are skipped, as the kernel does. */
	n = table[cur][target];
	while (n != ER && (needs[n] & mig_flags) != needs[n])
		n = table[n][target];
	if (n == ER)
		return -EINVAL;
	*next = n;
	return 0;
}

int kho_devstate_path_check(uint32_t mig_flags, const uint32_t *path,
			    size_t n, size_t *bad)
{
	uint32_t next, pre = VFIO_DEVICE_STATE_PRE_COPY;
	size_t i;

	*bad = n;
	if (n < 2 || n > KHO_DEVSTATE_PATH_MAX)
		return -EINVAL;
	*bad = 0;
	if (path[0] != VFIO_DEVICE_STATE_RUNNING)
		return -EINVAL;
	for (i = 1; i < n; i++) {
		*bad = i;
		if (path[i] == path[i - 1])
			return -EINVAL;
		/* Each step toward PRE_COPY (while still running) or STOP_COPY. */
		if (kho_devstate_next(mig_flags, path[i - 1],
				      VFIO_DEVICE_STATE_STOP_COPY, &next) ||
		    (next != path[i] &&
		     (kho_devstate_next(mig_flags, path[i - 1], pre, &next) ||
		      next != path[i])))
			return -EINVAL;
	}
	*bad = n - 1;
	return path[n - 1] == VFIO_DEVICE_STATE_STOP_COPY ? 0 : -EINVAL;
}

static bool saving(uint32_t s)
{
	return s == VFIO_DEVICE_STATE_PRE_COPY ||
	       s == VFIO_DEVICE_STATE_PRE_COPY_P2P ||
	       s == VFIO_DEVICE_STATE_STOP_COPY;
}

/* The four arcs the uapi says return a new data fd. */
static bool opens_session(uint32_t from, uint32_t to)
{
	return (from == VFIO_DEVICE_STATE_RUNNING &&
		to == VFIO_DEVICE_STATE_PRE_COPY) ||
	       (from == VFIO_DEVICE_STATE_RUNNING_P2P &&
		to == VFIO_DEVICE_STATE_PRE_COPY_P2P) ||
	       (from == VFIO_DEVICE_STATE_STOP &&
		to == VFIO_DEVICE_STATE_STOP_COPY) ||
	       (from == VFIO_DEVICE_STATE_STOP &&
		to == VFIO_DEVICE_STATE_RESUMING);
}

static bool closes_session(uint32_t from, uint32_t to)
{
	return (saving(from) && !saving(to)) ||
	       (from == VFIO_DEVICE_STATE_RESUMING &&
		to != VFIO_DEVICE_STATE_RESUMING);
}

/* One VFIO_DEVICE_FEATURE call with a payload of @len bytes. */
static int feature(struct kho_devstate *ds, uint32_t flags, void *data,
		   size_t len)
{
	uint64_t buf[(sizeof(struct vfio_device_feature) + 16 + 7) / 8];
	struct vfio_device_feature *hdr = (void *)buf;
	int err;

	if (len > 16)
		return -EINVAL;
	memset(buf, 0, sizeof(buf));
	hdr->argsz = sizeof(*hdr) + len;
	hdr->flags = flags;
	memcpy(hdr->data, data, len);
	err = ds->ops->ioctl(ds->ctx, ds->devfd, VFIO_DEVICE_FEATURE, hdr);
	memcpy(data, hdr->data, len);
	return err;
}

int kho_devstate_get(struct kho_devstate *ds, uint32_t *state)
{
	struct vfio_device_feature_mig_state mig = { .data_fd = -1 };
	int err;

	err = feature(ds, VFIO_DEVICE_FEATURE_GET |
		      VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE, &mig, sizeof(mig));
	if (err)
		return err;
	ds->state = mig.device_state;
	if (state)
		*state = mig.device_state;
	return 0;
}

/* kho_devstate_get(), said for people when it fails. */
static int read_state(struct kho_devstate *ds, struct kho_diag *diag)
{
	int err = kho_devstate_get(ds, NULL);

	return err ? kho_diag_set(diag, err,
				  "device state: reading the FSM state: %s",
				  kho_errno_name(err)) : 0;
}

static int path_add(struct kho_devstate *ds, uint32_t state)
{
	if (ds->path_len == KHO_DEVSTATE_PATH_MAX)
		return -E2BIG;
	ds->path[ds->path_len++] = state;
	return 0;
}

int kho_devstate_walk(struct kho_devstate *ds, uint32_t target,
		      struct kho_diag *diag)
{
	struct vfio_device_feature_mig_state mig;
	uint32_t from, next;
	int err;

	if (!ds->path_len && path_add(ds, ds->state))
		return -E2BIG;
	while (ds->state != target) {
		from = ds->state;
		err = kho_devstate_next(ds->mig_flags, from, target, &next);
		if (err)
			return kho_diag_set(diag, err,
					    "device state: no FSM path from %s to %s for migration flags 0x%x",
					    kho_devstate_name(from),
					    kho_devstate_name(target),
					    ds->mig_flags);
		if (ds->path_len == KHO_DEVSTATE_PATH_MAX)
			return kho_diag_set(diag, -E2BIG,
					    "device state: %s -> %s: more than %d states on the path",
					    kho_devstate_name(from),
					    kho_devstate_name(next),
					    KHO_DEVSTATE_PATH_MAX);
		mig = (struct vfio_device_feature_mig_state){
			.device_state = next, .data_fd = -1,
		};
		err = feature(ds, VFIO_DEVICE_FEATURE_SET |
			      VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE, &mig,
			      sizeof(mig));
		if (err) {
			/* A failed SET may have moved it: ask where it is. */
			int gerr = kho_devstate_get(ds, NULL);

			if (gerr)
				ds->state = VFIO_DEVICE_STATE_ERROR;
			return kho_diag_set(diag, err,
					    "device state: %s -> %s: %s (the device is %s%s)",
					    kho_devstate_name(from),
					    kho_devstate_name(next),
					    kho_errno_name(err),
					    gerr ? "unreadable: " : "now ",
					    gerr ? kho_errno_name(gerr) :
					    kho_devstate_name(ds->state));
		}
		ds->state = next;
		ds->path[ds->path_len++] = next;
		if (closes_session(from, next))
			kho_devstate_close(ds);
		if (opens_session(from, next) && mig.data_fd < 0)
			return kho_diag_set(diag, -EPROTO,
					    "device state: %s -> %s: the kernel returned no data fd",
					    kho_devstate_name(from),
					    kho_devstate_name(next));
		if (!opens_session(from, next) && mig.data_fd >= 0) {
			close(mig.data_fd);
			return kho_diag_set(diag, -EPROTO,
					    "device state: %s -> %s: the kernel returned a data fd on an arc that opens no session",
					    kho_devstate_name(from),
					    kho_devstate_name(next));
		}
		if (mig.data_fd >= 0) {
			kho_devstate_close(ds);
			ds->datafd = mig.data_fd;
		}
	}
	return 0;
}

/*
 * Read the data fd to its end into @out: 0 for good, or (PRE_COPY only)
 * ENOMSG, the uapi's "nothing more for now".
 */
static int drain(struct kho_devstate *ds, int out, bool precopy,
		 struct kho_diag *diag)
{
	const char *phase = precopy ? "PRE_COPY" : "STOP_COPY";
	char *buf;
	ssize_t n;
	int err = 0;

	buf = malloc(CHUNK);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		n = ds->ops->read(ds->ctx, ds->datafd, buf, CHUNK);
		if (n == -EINTR)
			continue;
		if (n == -ENOMSG && precopy)
			break;
		if (n == -ENOMSG) {
			err = kho_diag_set(diag, -EPROTO,
					   "device state: %s: read of the data fd returned ENOMSG, which the uapi allows only in PRE_COPY",
					   phase);
			break;
		}
		if (n < 0) {
			err = kho_diag_set(diag, (int)n,
					   "device state: %s: read of the data fd after %" PRIu64 " bytes: %s",
					   phase, ds->length, kho_errno_name((int)n));
			break;
		}
		if (!n)
			break;
		if (ds->length + (uint64_t)n > KHO_DEVSTATE_MAX) {
			err = kho_diag_set(diag, -EFBIG,
					   "device state: %s: the device streams more than %llu bytes",
					   phase, KHO_DEVSTATE_MAX);
			break;
		}
		err = kho_write_all(out, buf, (size_t)n);
		if (err) {
			kho_diag_set(diag, err,
				     "device state: %s: writing the data memfd: %s",
				     phase, kho_errno_name(err));
			break;
		}
		ds->crc32 = crc32(ds->crc32, (const Bytef *)buf, (uInt)n);
		ds->length += (uint64_t)n;
		if (precopy)
			ds->precopy_length += (uint64_t)n;
	}
	free(buf);
	return err;
}

int kho_devstate_precopy(struct kho_devstate *ds, int out,
			 struct kho_diag *diag)
{
	struct vfio_precopy_info info;
	uint64_t last_dirty = 0;
	unsigned int round;
	int err;

	if (!(ds->mig_flags & VFIO_MIGRATION_PRE_COPY))
		return kho_diag_set(diag, -EOPNOTSUPP,
				    "device state: the device does not offer PRE_COPY");
	err = read_state(ds, diag);
	if (err)
		return err;
	if (ds->state != VFIO_DEVICE_STATE_RUNNING)
		return kho_diag_set(diag, -EINVAL,
				    "device state: the device is %s, not RUNNING",
				    kho_devstate_name(ds->state));
	err = kho_devstate_walk(ds, VFIO_DEVICE_STATE_PRE_COPY, diag);
	if (err)
		return err;
	for (round = 0; round < KHO_DEVSTATE_PRECOPY_ROUNDS; round++) {
		memset(&info, 0, sizeof(info));
		info.argsz = sizeof(info);
		err = ds->ops->ioctl(ds->ctx, ds->datafd,
				     VFIO_MIG_GET_PRECOPY_INFO, &info);
		if (err)
			return kho_diag_set(diag, err,
					    "device state: PRE_COPY: VFIO_MIG_GET_PRECOPY_INFO: %s",
					    kho_errno_name(err));
		/* Done when the initial data is out and the dirt stops shrinking. */
		if (!info.initial_bytes &&
		    (!info.dirty_bytes || (round && info.dirty_bytes >= last_dirty)))
			break;
		last_dirty = info.dirty_bytes;
		err = drain(ds, out, true, diag);
		if (err)
			return err;
	}
	return 0;
}

int kho_devstate_stop_copy(struct kho_devstate *ds, int out,
			   struct kho_diag *diag)
{
	struct vfio_device_feature_mig_data_size size = { 0 };
	int err;

	err = feature(ds, VFIO_DEVICE_FEATURE_GET |
		      VFIO_DEVICE_FEATURE_MIG_DATA_SIZE, &size, sizeof(size));
	if (err)
		return kho_diag_set(diag, err,
				    "device state: VFIO_DEVICE_FEATURE_MIG_DATA_SIZE: %s",
				    kho_errno_name(err));
	/* Refused while the device still runs, not after it stopped. */
	if (size.stop_copy_length > KHO_DEVSTATE_MAX - ds->length)
		return kho_diag_set(diag, -EFBIG,
				    "device state: the device estimates %llu bytes to save, above %llu",
				    (unsigned long long)size.stop_copy_length,
				    KHO_DEVSTATE_MAX);
	ds->stop_copy_estimate = size.stop_copy_length;
	if (ds->path_len == 0) {
		err = read_state(ds, diag);
		if (err)
			return err;
	}
	err = kho_devstate_walk(ds, VFIO_DEVICE_STATE_STOP_COPY, diag);
	if (err)
		return err;
	return drain(ds, out, false, diag);
}

int kho_devstate_memfd(const char *name)
{
	int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);

	return fd < 0 ? -errno : fd;
}

int kho_devstate_seal(struct kho_devstate *ds, int fd, struct kho_diag *diag)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return kho_diag_set(diag, -errno, "device state: memfd: fstat: %s",
				    kho_errno_name(errno));
	if ((uint64_t)st.st_size != ds->length)
		return kho_diag_set(diag, -EIO,
				    "device state: memfd holds %lld bytes, %" PRIu64 " were saved",
				    (long long)st.st_size, ds->length);
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE |
		  F_SEAL_SEAL) < 0)
		return kho_diag_set(diag, -errno, "device state: memfd: seal: %s",
				    kho_errno_name(errno));
	return 0;
}

int kho_devstate_recover(struct kho_devstate *ds, struct kho_diag *diag)
{
	struct kho_diag walk_diag;
	uint32_t was;
	int err;

	kho_devstate_close(ds);
	/* The path recorded from here on is the way back. */
	ds->path_len = 0;
	err = kho_devstate_get(ds, NULL);
	was = err ? VFIO_DEVICE_STATE_ERROR : ds->state;
	/* RESUMING is left only through its load arc; the uapi aborts it by reset. */
	if (!err && was != VFIO_DEVICE_STATE_ERROR &&
	    was != VFIO_DEVICE_STATE_RESUMING) {
		err = kho_devstate_walk(ds, VFIO_DEVICE_STATE_RUNNING, &walk_diag);
		if (!err)
			return kho_diag_set(diag, 0,
					    "device state: back from %s to RUNNING, its state kept",
					    kho_devstate_name(was));
	} else if (err) {
		snprintf(walk_diag.msg, sizeof(walk_diag.msg),
			 "device state: reading the FSM state: %s",
			 kho_errno_name(err));
	} else {
		snprintf(walk_diag.msg, sizeof(walk_diag.msg),
			 "device state: the device is %s", kho_devstate_name(was));
	}
	err = ds->ops->ioctl(ds->ctx, ds->devfd, VFIO_DEVICE_RESET, NULL);
	if (err)
		return kho_diag_set(diag, err,
				    "%s; VFIO_DEVICE_RESET: %s: the device is unusable",
				    walk_diag.msg, kho_errno_name(err));
	err = kho_devstate_get(ds, NULL);
	if (err)
		return kho_diag_set(diag, err,
				    "%s; reset, then reading its state: %s",
				    walk_diag.msg, kho_errno_name(err));
	if (ds->state != VFIO_DEVICE_STATE_RUNNING)
		return kho_diag_set(diag, -EPROTO,
				    "%s; reset, but it reads %s, not RUNNING",
				    walk_diag.msg, kho_devstate_name(ds->state));
	return kho_diag_set(diag, -ECANCELED,
			    "%s; reset to RUNNING: its state is lost",
			    walk_diag.msg);
}

static int write_all(struct kho_devstate *ds, const char *p, size_t len)
{
	while (len) {
		ssize_t n = ds->ops->write(ds->ctx, ds->datafd, p, len);

		if (n == -EINTR)
			continue;
		if (n < 0)
			return (int)n;
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * One pass over the memfd's @length bytes: their crc32 into @crc and,
 * with @ds, each chunk written to its data fd (counted in @ds).
 */
static int memfd_pass(struct kho_devstate *ds, int in, uint64_t length,
		      uLong *crc, struct kho_diag *diag)
{
	uint64_t off = 0;
	char *buf;
	ssize_t n;
	int err = 0;

	buf = malloc(CHUNK);
	if (!buf)
		return -ENOMEM;
	while (off < length) {
		size_t want = length - off < CHUNK ? (size_t)(length - off) : CHUNK;

		n = pread(in, buf, want, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = n < 0 ? -errno : -EIO;
			kho_diag_set(diag, err,
				     "device state: memfd: read at %" PRIu64 ": %s",
				     off, kho_errno_name(err));
			break;
		}
		err = ds ? write_all(ds, buf, (size_t)n) : 0;
		if (err) {
			kho_diag_set(diag, err,
				     "device state: RESUMING: write of the data fd at %" PRIu64 " of %" PRIu64 " bytes: %s",
				     off, length, kho_errno_name(err));
			break;
		}
		*crc = crc32(*crc, (const Bytef *)buf, (uInt)n);
		off += (uint64_t)n;
		if (ds)
			ds->length += (uint64_t)n;
	}
	free(buf);
	return err;
}

int kho_devstate_memfd_check(int in, uint64_t length, uint32_t want,
			     struct kho_diag *diag)
{
	uLong crc = crc32(0L, Z_NULL, 0);
	struct stat st;
	int err;

	if (fstat(in, &st) < 0)
		return kho_diag_set(diag, -errno, "device state: memfd: fstat: %s",
				    kho_errno_name(errno));
	if ((uint64_t)st.st_size != length)
		return kho_diag_set(diag, -EBADMSG,
				    "device state: memfd holds %lld bytes, the hand-off says %" PRIu64,
				    (long long)st.st_size, length);
	err = memfd_pass(NULL, in, length, &crc, diag);
	if (err)
		return err;
	if ((uint32_t)crc != want)
		return kho_diag_set(diag, -EBADMSG,
				    "device state: memfd crc32 0x%08x, the hand-off says 0x%08x",
				    (uint32_t)crc, want);
	return 0;
}

int kho_devstate_load(struct kho_devstate *ds, int in, uint64_t length,
		      uint32_t crc, struct kho_diag *diag)
{
	struct kho_diag rdiag;
	int err;

	if (length > KHO_DEVSTATE_MAX)
		return kho_diag_set(diag, -EFBIG,
				    "device state: %" PRIu64 " bytes, above %llu",
				    length, KHO_DEVSTATE_MAX);
	err = kho_devstate_memfd_check(in, length, crc, diag);
	if (err)
		return err;
	err = read_state(ds, diag);
	if (err)
		return err;
	err = kho_devstate_walk(ds, VFIO_DEVICE_STATE_RESUMING, diag);
	if (!err) {
		uLong sum = ds->crc32;

		err = memfd_pass(ds, in, length, &sum, diag);
		ds->crc32 = (uint32_t)sum;
	}
	/* RESUMING -> STOP is where the driver loads it, or refuses it. */
	if (!err)
		err = kho_devstate_walk(ds, VFIO_DEVICE_STATE_STOP, diag);
	if (!err)
		return 0;
	kho_devstate_recover(ds, &rdiag);
	return kho_diag_set(diag, err, "%s; %s", diag ? diag->msg : "",
			    rdiag.msg);
}

int kho_devstate_resume(struct kho_devstate *ds, struct kho_diag *diag)
{
	int err;

	err = kho_devstate_walk(ds, VFIO_DEVICE_STATE_RUNNING, diag);
	if (err)
		return err;
	err = read_state(ds, diag);
	if (err)
		return err;
	if (ds->state != VFIO_DEVICE_STATE_RUNNING)
		return kho_diag_set(diag, -EILSEQ,
				    "device state: set RUNNING, but the device reads %s",
				    kho_devstate_name(ds->state));
	return 0;
}

const char *kho_devstate_path_str(const uint32_t *path, size_t n, char *buf,
				  size_t size)
{
	size_t len = 0, i;

	if (!size)
		return buf;
	buf[0] = '\0';
	for (i = 0; i < n && len < size; i++)
		len += snprintf(buf + len, size - len, "%s%s", i ? " -> " : "",
				kho_devstate_name(path[i]));
	return buf;
}
