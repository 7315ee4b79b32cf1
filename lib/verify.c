// SPDX-License-Identifier: LGPL-2.1-or-later
/* Verify: compares rebuilt iommufd/VFIO objects with the recorded state. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>
#include <linux/iommufd.h>

#include "verify.h"

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* Asks twice: once for the count (EMSGSIZE), once for the ranges. */
static int get_ranges(int iommufd, uint32_t ioas_id,
		      struct iommu_iova_range **out, uint32_t *nr,
		      uint64_t *align)
{
	struct iommu_ioas_iova_ranges arg = { .size = sizeof(arg),
					      .ioas_id = ioas_id };
	struct iommu_iova_range *ranges = NULL;
	int err;

	if (ioctl(iommufd, IOMMU_IOAS_IOVA_RANGES, &arg) == 0)
		goto out;
	err = -errno;
	if (err != -EMSGSIZE)
		return err;
	ranges = calloc(arg.num_iovas, sizeof(*ranges));
	if (!ranges)
		return -ENOMEM;
	arg.allowed_iovas = (uintptr_t)ranges;
	if (ioctl(iommufd, IOMMU_IOAS_IOVA_RANGES, &arg) < 0) {
		err = -errno;
		free(ranges);
		return err;
	}
out:
	*out = ranges;
	*nr = arg.num_iovas;
	*align = arg.out_iova_alignment;
	return 0;
}

/* Return: 0 when an area covers @iova, -ENOENT when nothing did. */
static int probe(int iommufd, uint32_t ioas_id, int fd, uint64_t iova,
		 uint64_t offset, uint64_t len)
{
	struct iommu_ioas_map_file arg = {
		.size = sizeof(arg),
		.flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE,
		.ioas_id = ioas_id,
		.fd = fd,
		.start = offset,
		.length = len,
		.iova = iova,
	};
	struct iommu_ioas_unmap unmap = { .size = sizeof(unmap),
					  .ioas_id = ioas_id, .iova = iova,
					  .length = len };
	int err;

	if (ioctl(iommufd, IOMMU_IOAS_MAP_FILE, &arg) < 0) {
		err = -errno;
		return err == -EEXIST ? 0 : err;
	}
	/* The probe itself landed: the mapping was missing. Undo it. */
	ioctl(iommufd, IOMMU_IOAS_UNMAP, &unmap);
	return -ENOENT;
}

/* Whether mapping @i of @n is one of the KHO_VERIFY_SAMPLE spread ones. */
static bool in_sample(uint32_t i, uint32_t n)
{
	uint64_t k;

	if (n <= KHO_VERIFY_SAMPLE)
		return true;
	/* Sample k sits at round(k * (n - 1) / (S - 1)): 0 and n - 1 too. */
	k = ((uint64_t)i * (KHO_VERIFY_SAMPLE - 1) + (n - 1) / 2) / (n - 1);
	return i == (k * (n - 1) + (KHO_VERIFY_SAMPLE - 1) / 2) /
		    (KHO_VERIFY_SAMPLE - 1);
}

static int verify_ioas(struct kho_replay *r, const struct kho_handoff *h,
		       const struct kho_ioas *ioas,
		       const struct kho_replay_memfd *memfds, size_t nr_memfds,
		       int mode, struct kho_verify_report *rep,
		       struct kho_diag *diag)
{
	struct iommu_iova_range *ranges = NULL;
	uint32_t new_id, nr = 0, i, j;
	uint64_t align = 0, page, token = 0;
	size_t idx = ioas - h->state.ioas;
	bool built = false;
	int err, fd = -ENOENT;

	if (kho_idmap_lookup(&r->idmap, ioas->id, &new_id))
		return kho_diag_set(diag, -ENOENT,
				    "verify: IOAS %u: recorded but not rebuilt",
				    ioas->id);
	if (r->mapped && idx < r->nr_mapped) {
		if (r->mapped[idx] != ioas->nr_maps)
			return kho_diag_set(diag, -ENOENT,
					    "verify: IOAS %u (now %u): the replay mapped %u of its %zu recorded mappings",
					    ioas->id, new_id, r->mapped[idx],
					    ioas->nr_maps);
		built = true;
	}
	/* No replay counts to stand on: a sample would prove too little. */
	if (!built && mode == KHO_VERIFY_PROBE_SAMPLE)
		mode = KHO_VERIFY_PROBE_FIRST;
	err = get_ranges(r->iommufd, new_id, &ranges, &nr, &align);
	if (err)
		return kho_diag_set(diag, err,
				    "verify: IOAS %u (now %u): IOVA ranges: %s",
				    ioas->id, new_id, kho_errno_name(err));

	/* The kernel's usable ranges must honour the recorded allow list. */
	for (i = 0; ioas->nr_allowed && i < nr; i++) {
		for (j = 0; j < ioas->nr_allowed; j++)
			if (ranges[i].start >= ioas->allowed[j].start &&
			    ranges[i].last <= ioas->allowed[j].last)
				break;
		if (j == ioas->nr_allowed) {
			err = kho_diag_set(diag, -EBADMSG,
					   "verify: IOAS %u: usable range 0x%llx-0x%llx is outside the recorded allowed ranges",
					   ioas->id,
					   (unsigned long long)ranges[i].start,
					   (unsigned long long)ranges[i].last);
			goto out;
		}
	}

	page = align > 4096 ? align : 4096;
	/* Neighbouring mappings mostly share a range: try the last one first. */
	for (i = 0, j = 0; i < ioas->nr_maps; i++) {
		const struct kho_mapping *m = &ioas->maps[i];
		uint64_t last = m->iova + m->length - 1;

		if (j == nr || m->iova < ranges[j].start ||
		    last > ranges[j].last)
			for (j = 0; j < nr; j++)
				if (m->iova >= ranges[j].start &&
				    last <= ranges[j].last)
					break;
		if (j == nr) {
			err = kho_diag_set(diag, -ERANGE,
					   "verify: IOAS %u: mapping 0x%llx+0x%llx is outside the usable IOVA ranges",
					   ioas->id,
					   (unsigned long long)m->iova,
					   (unsigned long long)m->length);
			goto out;
		}
		rep->maps++;
		if (mode == KHO_VERIFY_PROBE_NONE || m->length < page ||
		    (mode == KHO_VERIFY_PROBE_SAMPLE &&
		     !in_sample(i, ioas->nr_maps))) {
			rep->by_construction += built;
			continue;
		}
		if (fd < 0 || m->memfd_token != token) {
			token = m->memfd_token;
			fd = kho_replay_memfd_find(memfds, nr_memfds, token);
		}
		if (fd < 0) {
			err = kho_diag_set(diag, -ENOENT,
					   "verify: IOAS %u: mapping 0x%llx: memfd token %llu not retrieved",
					   ioas->id,
					   (unsigned long long)m->iova,
					   (unsigned long long)m->memfd_token);
			goto out;
		}
		err = probe(r->iommufd, new_id, fd, m->iova, m->offset, page);
		rep->probes++;
		if (!err && mode == KHO_VERIFY_PROBE_ENDS && m->length > page) {
			err = probe(r->iommufd, new_id, fd,
				    m->iova + m->length - page,
				    m->offset + m->length - page, page);
			rep->probes++;
		}
		if (err) {
			err = kho_diag_set(diag, err,
					   "verify: IOAS %u: mapping 0x%llx+0x%llx from memfd token %llu: %s",
					   ioas->id,
					   (unsigned long long)m->iova,
					   (unsigned long long)m->length,
					   (unsigned long long)m->memfd_token,
					   err == -ENOENT ? "not mapped" :
					   kho_errno_name(err));
			goto out;
		}
	}
	rep->ioas++;
	err = 0;
out:
	free(ranges);
	return err;
}

/* The last path component of symlink @path, or "" if it is none. */
static const char *link_base(const char *path, char *buf, size_t len)
{
	ssize_t n = readlink(path, buf, len - 1);
	const char *slash;

	if (n < 0)
		n = 0;
	buf[n] = '\0';
	slash = strrchr(buf, '/');
	return slash ? slash + 1 : buf;
}

/*
 * Identity again, now that the device is bound, of the file the replay
 * actually holds rather than of names: the device node behind dev->fd
 * must still be the one its cdev path names, sysfs must place that node
 * on the recorded PCI function, and the function must be bound to the
 * recorded driver.  The replay checked vendor:device before it opened
 * the cdev; they cannot change under an open VFIO device.  Four
 * syscalls, where walking sysfs from the PCI address again took a dozen
 * (a tenth of a millisecond under TCG, as much as the rest of verify).
 */
static int verify_held_identity(struct kho_replay *r,
				const struct kho_device *sdev,
				struct kho_replay_dev *dev, const char *addr,
				struct kho_diag *diag)
{
	char path[160], buf[256];
	const char *base;
	struct stat held, named;

	if (fstat(dev->fd, &held) < 0 || !S_ISCHR(held.st_mode))
		return kho_diag_set(diag, -ENODEV,
				    "verify: device %s: fd of %s is not a character device",
				    addr, dev->cdev);
	if (stat(dev->cdev, &named) < 0 || named.st_rdev != held.st_rdev)
		return kho_diag_set(diag, -ENODEV,
				    "verify: device %s: %s no longer names the device the replay bound",
				    addr, dev->cdev);
	snprintf(path, sizeof(path), "%s/dev/char/%u:%u/device", r->sysfs,
		 major(held.st_rdev), minor(held.st_rdev));
	base = link_base(path, buf, sizeof(buf));
	if (strcmp(base, addr))
		return kho_diag_set(diag, -ENODEV,
				    "verify: device %s: the bound cdev %s belongs to '%s'",
				    addr, dev->cdev, base[0] ? base : "(nothing)");
	if (!sdev->driver[0])
		return 0;
	snprintf(path, sizeof(path), "%s/dev/char/%u:%u/device/driver",
		 r->sysfs, major(held.st_rdev), minor(held.st_rdev));
	base = link_base(path, buf, sizeof(buf));
	if (strcmp(base, sdev->driver))
		return kho_diag_set(diag, -ENODEV,
				    "verify: device %s: bound to driver '%s', recorded '%s'",
				    addr, base[0] ? base : "(none)", sdev->driver);
	return 0;
}

static int verify_device(struct kho_replay *r, const struct kho_handoff *h,
			 const struct kho_device *sdev,
			 struct kho_verify_report *rep, struct kho_diag *diag)
{
	struct kho_replay_dev *dev = kho_replay_find_dev(r, sdev->id);
	struct iommu_hw_info info = { .size = sizeof(info) };
	char addr[16];
	uint32_t hwpt;
	int err;

	kho_replay_pci_name(&sdev->pci, addr, sizeof(addr));
	if (!dev || dev->fd < 0)
		return kho_diag_set(diag, -ENOENT,
				    "verify: device %s (devid %u): recorded but not bound",
				    addr, sdev->id);
	if (memcmp(&dev->pci, &sdev->pci, sizeof(dev->pci)))
		return kho_diag_set(diag, -ENODEV,
				    "verify: device %s: bound as a different PCI function",
				    addr);
	err = verify_held_identity(r, sdev, dev, addr, diag);
	if (err)
		return err;
	info.dev_id = dev->new_id;
	if (ioctl(r->iommufd, IOMMU_GET_HW_INFO, &info) < 0) {
		err = -errno;
		return kho_diag_set(diag, err,
				    "verify: device %s (devid %u, now %u): not bound to the iommufd: %s",
				    addr, sdev->id, dev->new_id,
				    kho_errno_name(err));
	}
	rep->devices++;

	if (!sdev->attached_pt) {
		if (dev->new_hwpt)
			return kho_diag_set(diag, -EBADMSG,
					    "verify: device %s: attached to %u, recorded detached",
					    addr, dev->new_hwpt);
		return 0;
	}
	if (kho_idmap_lookup(&r->idmap, sdev->attached_pt, &hwpt))
		return kho_diag_set(diag, -ENOENT,
				    "verify: device %s: recorded on HWPT %u, which was not rebuilt",
				    addr, sdev->attached_pt);
	if (dev->new_hwpt != hwpt)
		return kho_diag_set(diag, -EBADMSG,
				    "verify: device %s: attached to %u, record says HWPT %u (now %u)",
				    addr, dev->new_hwpt, sdev->attached_pt,
				    hwpt);
	rep->attachments++;
	return 0;
}

int kho_verify_run(struct kho_replay *r, const struct kho_handoff *h,
		   const struct kho_replay_memfd *memfds, size_t nr_memfds,
		   int mode, struct kho_verify_report *rep,
		   struct kho_diag *diag)
{
	struct kho_verify_report local;
	uint64_t t0 = now_ns();
	size_t i;
	int err = 0;

	if (!rep)
		rep = &local;
	memset(rep, 0, sizeof(*rep));
	for (i = 0; !err && i < h->state.nr_ioas; i++)
		err = verify_ioas(r, h, &h->state.ioas[i], memfds, nr_memfds,
				  mode, rep, diag);
	for (i = 0; !err && i < h->state.nr_dev; i++)
		err = verify_device(r, h, &h->state.dev[i], rep, diag);
	for (i = 0; !err && i < h->state.nr_hwpt; i++) {
		uint32_t id;

		if (kho_idmap_lookup(&r->idmap, h->state.hwpt[i].id, &id))
			err = kho_diag_set(diag, -ENOENT,
					   "verify: HWPT %u: recorded but not rebuilt",
					   h->state.hwpt[i].id);
	}
	rep->ns = now_ns() - t0;
	return err;
}
