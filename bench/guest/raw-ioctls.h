/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The bare ioctls a restore of a `test-vmm stage` plan issues, shared by
 * replay-loop (which repeats them on the agent's retrieved memfd) and
 * bare-restore (which issues them once, after retrieving its own session),
 * so that both measure literally the same code: open /dev/iommu,
 * IOAS_ALLOC, MAP_FILE of every mapping (same memfd token, offset, length,
 * IOVA and flags, in the hand-off's order), open the cdev, BIND, ATTACH.
 * Maps first, like the agent's default order.
 */
#ifndef BENCH_RAW_IOCTLS_H
#define BENCH_RAW_IOCTLS_H

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>
#include <linux/iommufd.h>
#ifndef __counted_by
#define __counted_by(m)
#endif
#include <linux/vfio.h>

#include "handoff.h"
#include "journal.h"
#include "kho.h"
#include "replay.h"

/*
 * The LUO session replay-loop preserves for the next boot's bare-restore:
 * the agent's guest-RAM memfd(s), under their own tokens, and the hand-off
 * that says which ioctls to issue, under BARE_PLAN_TOKEN.
 */
#define BARE_SESSION	"kho-bench-bare"
#define BARE_PLAN_TOKEN	0x62617265706c616eULL	/* "bareplan" */

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* What one run of the bare ioctls cost, in ns, and what it left open. */
struct raw_ioctls {
	uint64_t total, maps, bind, attach;
	int iommufd, devfd;
};

/*
 * Only the plan shape test-vmm stage writes is supported (one IOAS, one
 * device; IOAS_ALLOC, mapping slices, BIND, ATTACH to the IOAS): anything
 * else is refused rather than measured wrongly.
 */
static inline int raw_plan_check(const struct kho_handoff *h,
				 struct kho_diag *diag)
{
	size_t i;

	if (h->state.nr_ioas != 1 || h->state.nr_dev != 1)
		return kho_diag_set(diag, -EOPNOTSUPP,
				    "%zu IOAS, %zu devices: the bare ioctls know one of each",
				    h->state.nr_ioas, h->state.nr_dev);
	for (i = 0; i < h->replay.nr; i++) {
		switch (h->replay.recs[i].op) {
		case KHO_OP_IOAS_ALLOC:
		case KHO_OP_REPLAY_MAPPINGS:
		case KHO_OP_DEVICE_BIND:
		case KHO_OP_DEVICE_ATTACH:
			break;
		default:
			return kho_diag_set(diag, -EOPNOTSUPP,
					    "plan record %zu is %s: the bare ioctls are only IOAS_ALLOC, maps, BIND, ATTACH",
					    i, kho_op_name(h->replay.recs[i].op));
		}
	}
	return 0;
}

/*
 * The plan checked (raw_plan_check()) and the cdev of its one device,
 * found the way the agent finds it, as a path in @cdev.
 */
static inline int raw_plan_cdev(const struct kho_handoff *h, char *cdev,
				size_t len, struct kho_diag *diag)
{
	char name[32];
	int ret;

	ret = raw_plan_check(h, diag);
	if (!ret)
		ret = kho_replay_find_cdev("/sys", &h->state.dev[0].pci,
					   h->state.dev[0].driver, name,
					   sizeof(name), diag);
	if (!ret)
		snprintf(cdev, len, "/dev/vfio/devices/%s", name);
	return ret;
}

/*
 * Issue the ioctls, timed from the open of /dev/iommu to the end of
 * ATTACH.  The iommufd and the device stay open in @out, so that the
 * caller tears them down outside any timed window (closing them unmaps
 * everything).  Return: 0 or -errno; on failure nothing stays open.
 */
static inline int raw_ioctls_run(const struct kho_ioas *ioas,
				 const struct kho_replay_memfd *memfds,
				 size_t nr_memfds, const char *cdev,
				 struct raw_ioctls *out)
{
	struct iommu_ioas_alloc alloc = { .size = sizeof(alloc) };
	struct vfio_device_bind_iommufd bind = { .argsz = sizeof(bind) };
	struct vfio_device_attach_iommufd_pt attach = { .argsz = sizeof(attach) };
	uint64_t t0, t1, t2, t3, token = 0;
	int fd = -1, ret = 0;
	size_t i;

	*out = (struct raw_ioctls){ .iommufd = -1, .devfd = -1 };
	t0 = now_ns();
	out->iommufd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
	if (out->iommufd < 0)
		return -errno;
	if (ioctl(out->iommufd, IOMMU_IOAS_ALLOC, &alloc) < 0) {
		ret = -errno;
		goto fail;
	}
	t1 = now_ns();
	for (i = 0; i < ioas->nr_maps; i++) {
		const struct kho_mapping *m = &ioas->maps[i];
		struct iommu_ioas_map_file arg = {
			.size = sizeof(arg),
			.flags = (m->flags & (IOMMU_IOAS_MAP_READABLE |
					      IOMMU_IOAS_MAP_WRITEABLE)) |
				 IOMMU_IOAS_MAP_FIXED_IOVA,
			.ioas_id = alloc.out_ioas_id,
			.start = m->offset,
			.length = m->length,
			.iova = m->iova,
		};

		/* A bare VMM knows its fd: one lookup per change of token. */
		if (fd < 0 || m->memfd_token != token) {
			token = m->memfd_token;
			fd = kho_replay_memfd_find(memfds, nr_memfds, token);
		}
		arg.fd = fd;
		if (ioctl(out->iommufd, IOMMU_IOAS_MAP_FILE, &arg) < 0) {
			ret = -errno;
			goto fail;
		}
	}
	t2 = now_ns();
	out->devfd = open(cdev, O_RDWR | O_CLOEXEC);
	bind.iommufd = out->iommufd;
	if (out->devfd < 0 ||
	    ioctl(out->devfd, VFIO_DEVICE_BIND_IOMMUFD, &bind) < 0) {
		ret = -errno;
		goto fail;
	}
	t3 = now_ns();
	attach.pt_id = alloc.out_ioas_id;
	if (ioctl(out->devfd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &attach) < 0) {
		ret = -errno;
		goto fail;
	}
	out->attach = now_ns() - t3;
	out->total = t3 + out->attach - t0;
	out->maps = t2 - t1;
	out->bind = t3 - t2;
	return 0;
fail:
	if (out->devfd >= 0)
		close(out->devfd);
	close(out->iommufd);
	out->devfd = out->iommufd = -1;
	return ret;
}

static inline void raw_ioctls_close(struct raw_ioctls *r)
{
	if (r->devfd >= 0)
		close(r->devfd);
	if (r->iommufd >= 0)
		close(r->iommufd);
	r->devfd = r->iommufd = -1;
}

#endif /* BENCH_RAW_IOCTLS_H */
