// SPDX-License-Identifier: LGPL-2.1-or-later
/* Replay: issues a hand-off's replay plan against iommufd and VFIO cdevs. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>
#include <linux/iommufd.h>
#include "compat.h"
#include <linux/vfio.h>

#include "compact.h"
#include "journal.h"
#include "mdev.h"
#include "pci.h"
#include "replay.h"
#include "state.h"

/* --- devices --------------------------------------------------------------- */

char *kho_replay_pci_name(const struct kho_pci_id *pci, char *buf, size_t len)
{
	return kho_pci_name(pci, buf, len);
}

int kho_replay_find_cdev(const char *sysfs, const struct kho_pci_id *pci,
			 const char *driver, char *name, size_t len,
			 struct kho_diag *diag)
{
	char addr[KHO_PCI_NAME_LEN], fn[512], drv[256];
	unsigned long vendor, device;
	int err;

	kho_pci_name(pci, addr, sizeof(addr));
	err = kho_pci_sysfs_dir(sysfs, pci, fn, sizeof(fn));
	if (!err)
		err = kho_pci_read_hex(fn, "vendor", &vendor);
	if (err)
		return kho_diag_set(diag, -ENOENT,
				    "device %s: not present (%s/vendor: %s)",
				    addr, fn, kho_errno_name(err));
	err = kho_pci_read_hex(fn, "device", &device);
	if (err)
		return kho_diag_set(diag, -ENOENT, "device %s: %s/device: %s",
				    addr, fn, kho_errno_name(err));
	if (vendor != pci->vendor || device != pci->device)
		return kho_diag_set(diag, -ENODEV,
				    "device %s: is %04lx:%04lx, recorded %04x:%04x",
				    addr, vendor, device, pci->vendor,
				    pci->device);

	if (kho_pci_read_driver(fn, drv, sizeof(drv)))
		drv[0] = '\0';
	if (driver && driver[0] && strcmp(drv, driver))
		return kho_diag_set(diag, -ENODEV,
				    "device %s: bound to driver '%s', recorded '%s'",
				    addr, drv[0] ? drv : "(none)", driver);

	err = kho_pci_vfio_cdev(fn, name, len, NULL);
	if (err)
		return kho_diag_set(diag, -ENOENT,
				    "device %s: no VFIO cdev (%s/vfio-dev: %s)",
				    addr, fn, kho_errno_name(err));
	return 0;
}

int kho_replay_find_mdev_cdev(const char *sysfs,
			      const struct kho_mdev_id *mdev,
			      const char *driver, char *name, size_t len,
			      bool *created, struct kho_diag *diag)
{
	char label[KHO_DEVICE_LABEL_LEN], dir[512], drv[256];
	int err;

	kho_mdev_name(mdev, label, sizeof(label));
	err = kho_mdev_ensure(sysfs, mdev, created, diag);
	if (err)
		return err;
	err = kho_mdev_sysfs_dir(sysfs, mdev, dir, sizeof(dir));
	if (err)
		return kho_diag_set(diag, err, "device %s: sysfs path too long",
				    label);
	if (kho_pci_read_driver(dir, drv, sizeof(drv)))
		drv[0] = '\0';
	if (driver && driver[0] && strcmp(drv, driver))
		return kho_diag_set(diag, -ENODEV,
				    "device %s%s: bound to driver '%s', recorded '%s'",
				    label, *created ? " (created)" : "",
				    drv[0] ? drv : "(none)", driver);
	err = kho_pci_vfio_cdev(dir, name, len, NULL);
	if (err)
		return kho_diag_set(diag, -ENOENT,
				    "device %s%s: no VFIO cdev (%s/vfio-dev: %s)",
				    label, *created ? " (created)" : "", dir,
				    kho_errno_name(err));
	return 0;
}

struct kho_replay_dev *kho_replay_find_dev(struct kho_replay *r,
					   uint32_t old_id)
{
	size_t i;

	for (i = 0; i < r->nr_dev; i++)
		if (r->dev[i].old_id == old_id)
			return &r->dev[i];
	return NULL;
}

/* --- the replay ------------------------------------------------------------ */

void kho_replay_init(struct kho_replay *r)
{
	memset(r, 0, sizeof(*r));
	r->sysfs = "/sys";
	r->devdir = "/dev";
	r->iommufd = -1;
	kho_idmap_init(&r->idmap);
}

void kho_replay_release(struct kho_replay *r)
{
	size_t i;

	for (i = 0; i < r->nr_dev; i++)
		if (r->dev[i].fd >= 0)
			close(r->dev[i].fd);
	free(r->dev);
	r->dev = NULL;
	r->nr_dev = 0;
	free(r->mapped);
	r->mapped = NULL;
	r->nr_mapped = 0;
	if (r->iommufd >= 0)
		close(r->iommufd);
	r->iommufd = -1;
	kho_idmap_free(&r->idmap);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/*
 * Every ioctl goes through here: it counts the step, injects the test
 * failure, times the call and saves errno before anything can clobber it.
 */
static int replay_ioctl(struct kho_replay *r, uint32_t op, int fd,
			unsigned long cmd, void *arg)
{
	uint64_t t0;
	int ret;

	r->steps++;
	if (r->stop_at && r->steps == r->stop_at && r->stop)
		r->stop(r);
	if (r->fail_at && r->steps == r->fail_at)
		return -EIO;
	r->stat[op].calls++;
	/*
	 * Thousands of maps are timed as one batch by replay_maps(): under
	 * TCG two clock reads per map cost more than a tenth of the map.
	 */
	if (op == KHO_OP_IOAS_MAP_FILE)
		return ioctl(fd, cmd, arg) < 0 ? -errno : 0;
	t0 = now_ns();
	ret = ioctl(fd, cmd, arg) < 0 ? -errno : 0;
	r->stat[op].ns += now_ns() - t0;
	return ret;
}

/* ": EIO (injected at step 7)" or ": EINVAL" for the end of a message. */
static const char *cause(struct kho_replay *r, int err, char *buf, size_t len)
{
	if (err == -EIO && r->fail_at && r->steps == r->fail_at)
		snprintf(buf, len, "EIO (injected failure at step %u)",
			 r->fail_at);
	else if (err == -EILSEQ)
		/* iommufd's own meaning (patches/ 0003), not strerror's */
		snprintf(buf, len, "EILSEQ (not the next record of the preserved journal)");
	else
		snprintf(buf, len, "%s (%s)", kho_errno_name(err),
			 strerror(-err));
	return buf;
}

int kho_replay_ioctl(struct kho_replay *r, uint32_t op, int fd,
		     unsigned long cmd, void *arg)
{
	return replay_ioctl(r, op, fd, cmd, arg);
}

const char *kho_replay_cause(struct kho_replay *r, int err, char *buf,
			     size_t len)
{
	return cause(r, err, buf, len);
}

int kho_replay_idmap_forget(struct kho_idmap *m, uint32_t old_id)
{
	struct kho_idmap keep;
	size_t i;
	int err;

	/* Rebuilt through the public API: forgetting is rare (DESTROY). */
	kho_idmap_init(&keep);
	for (i = 0; i < m->nr; i++) {
		if (m->ent[i].old_id == old_id)
			continue;
		err = kho_idmap_add(&keep, m->ent[i].kind, m->ent[i].old_id,
				    m->ent[i].new_id);
		if (err) {
			kho_idmap_free(&keep);
			return err;
		}
	}
	kho_idmap_free(m);
	*m = keep;
	return 0;
}

/*
 * Records what an output ID of the record names now.  A plan never names
 * an ID twice; a whole journal does, once the object it named died and
 * the kernel handed the lowest free ID out again (r->remap_outputs).
 */
static int idmap_learn(struct kho_replay *r, uint32_t kind, uint32_t old_id,
		       uint32_t new_id)
{
	uint32_t cur;

	if (r->remap_outputs && !kho_idmap_lookup(&r->idmap, old_id, &cur)) {
		int err = kho_replay_idmap_forget(&r->idmap, old_id);

		if (err)
			return err;
	}
	return kho_idmap_add(&r->idmap, kind, old_id, new_id);
}

static int map_id(struct kho_replay *r, uint32_t kind, uint32_t old_id,
		  uint32_t *new_id, const char *step, struct kho_diag *diag)
{
	if (!kho_idmap_lookup(&r->idmap, old_id, new_id))
		return 0;
	return kho_diag_set(diag, -ENOENT,
			    "replay: %s: %s %u was never created by this plan",
			    step, kho_obj_kind_name(kind), old_id);
}

int kho_replay_ioas_alloc(struct kho_replay *r, const struct kho_rec *rec,
			     struct kho_diag *diag)
{
	struct iommu_ioas_alloc arg = { .size = sizeof(arg),
					.flags = rec->ioas_alloc.flags };
	char why[96];
	int err;

	err = replay_ioctl(r, rec->op, r->iommufd, IOMMU_IOAS_ALLOC, &arg);
	if (err)
		return kho_diag_set(diag, err, "replay: IOAS %u: alloc: %s",
				    rec->ioas_alloc.out_ioas_id,
				    cause(r, err, why, sizeof(why)));
	err = idmap_learn(r, KHO_OBJ_IOAS, rec->ioas_alloc.out_ioas_id,
			  arg.out_ioas_id);
	if (err)
		return kho_diag_set(diag, err == -ENOMEM ? err : -EBADMSG,
				    "replay: IOAS %u: alloc: the plan names this ID twice",
				    rec->ioas_alloc.out_ioas_id);
	return 0;
}

int kho_replay_allow(struct kho_replay *r, const struct kho_rec *rec,
			struct kho_diag *diag)
{
	struct iommu_ioas_allow_iovas arg = {
		.size = sizeof(arg),
		.num_iovas = rec->allow_iovas.num_iovas,
		.allowed_iovas = (uintptr_t)rec->allow_iovas.iovas,
	};
	char why[96];
	int err;

	err = map_id(r, KHO_OBJ_IOAS, rec->allow_iovas.ioas_id, &arg.ioas_id,
		     "allow IOVAs", diag);
	if (err)
		return err;
	err = replay_ioctl(r, rec->op, r->iommufd, IOMMU_IOAS_ALLOW_IOVAS,
			   &arg);
	if (err)
		return kho_diag_set(diag, err,
				    "replay: IOAS %u: allow %u IOVA ranges: %s",
				    rec->allow_iovas.ioas_id,
				    rec->allow_iovas.num_iovas,
				    cause(r, err, why, sizeof(why)));
	return 0;
}

int kho_replay_option(struct kho_replay *r, const struct kho_rec *rec,
			 struct kho_diag *diag)
{
	struct iommu_option arg = {
		.size = sizeof(arg),
		.option_id = rec->option.option_id,
		.op = rec->option.op,
		.val64 = rec->option.val64,
	};
	char why[96];
	int err;

	/* Object 0 is the global RLIMIT_MODE option: nothing to remap. */
	if (rec->option.object_id) {
		err = map_id(r, KHO_OBJ_IOAS, rec->option.object_id,
			     &arg.object_id, "option", diag);
		if (err)
			return err;
	}
	err = replay_ioctl(r, rec->op, r->iommufd, IOMMU_OPTION, &arg);
	if (err)
		return kho_diag_set(diag, err,
				    "replay: object %u: option %u = %llu: %s",
				    rec->option.object_id,
				    rec->option.option_id,
				    (unsigned long long)rec->option.val64,
				    cause(r, err, why, sizeof(why)));
	return 0;
}

int kho_replay_memfd_find(const struct kho_replay_memfd *memfds, size_t nr,
			  uint64_t token)
{
	size_t i;

	for (i = 0; i < nr; i++)
		if (memfds[i].token == token)
			return memfds[i].fd;
	return -ENOENT;
}

int kho_replay_map(struct kho_replay *r, uint32_t old_ioas, uint32_t new_ioas,
		   const struct kho_mapping *m, uint32_t flags, int fd,
		   struct kho_diag *diag)
{
	struct iommu_ioas_map_file arg = {
		.size = sizeof(arg),
		.flags = flags,
		.ioas_id = new_ioas,
		.fd = fd,
		.start = m->offset,
		.length = m->length,
		.iova = m->iova,
	};
	char why[96];
	int err;

	if (fd < 0)
		return kho_diag_set(diag, -ENOENT,
				    "replay: IOAS %u: map 0x%llx+0x%llx: memfd token %llu was not retrieved",
				    old_ioas, (unsigned long long)m->iova,
				    (unsigned long long)m->length,
				    (unsigned long long)m->memfd_token);
	err = replay_ioctl(r, KHO_OP_IOAS_MAP_FILE, r->iommufd,
			   IOMMU_IOAS_MAP_FILE, &arg);
	if (err)
		return kho_diag_set(diag, err,
				    "replay: IOAS %u: map 0x%llx+0x%llx from memfd token %llu offset 0x%llx: %s",
				    old_ioas, (unsigned long long)m->iova,
				    (unsigned long long)m->length,
				    (unsigned long long)m->memfd_token,
				    (unsigned long long)m->offset,
				    cause(r, err, why, sizeof(why)));
	return 0;
}

/* A plan's mapping goes back where it was, with its access rights. */
static inline int replay_map(struct kho_replay *r, uint32_t old_ioas,
			     uint32_t new_ioas, const struct kho_mapping *m,
			     int fd, struct kho_diag *diag)
{
	return kho_replay_map(r, old_ioas, new_ioas, m,
			      (m->flags & (IOMMU_IOAS_MAP_READABLE |
					   IOMMU_IOAS_MAP_WRITEABLE)) |
			      IOMMU_IOAS_MAP_FIXED_IOVA, fd, diag);
}

/* Counts a mapping of recorded IOAS @ioas as done, for verify. */
static void replay_mapped(struct kho_replay *r, const struct kho_handoff *h,
			  const struct kho_ioas *ioas, uint32_t n)
{
	size_t idx;

	if (!ioas)
		return;
	idx = ioas - h->state.ioas;
	if (idx < r->nr_mapped)
		r->mapped[idx] += n;
}

static int replay_maps(struct kho_replay *r, const struct kho_handoff *h,
		       const struct kho_rec *rec,
		       const struct kho_replay_memfd *memfds, size_t nr_memfds,
		       struct kho_diag *diag)
{
	const struct kho_ioas *ioas;
	uint64_t token = 0, t0;
	uint32_t new_ioas = 0;
	size_t i, end;
	int err, fd = -ENOENT;

	if (rec->op == KHO_OP_IOAS_MAP_FILE) {
		struct kho_mapping m = {
			.iova = rec->map.iova, .length = rec->map.length,
			.offset = rec->map.offset,
			.memfd_token = rec->map.memfd_token,
			.flags = rec->map.flags,
		};

		if (!(rec->map.flags & IOMMU_IOAS_MAP_FIXED_IOVA))
			return kho_diag_set(diag, -EBADMSG,
					    "replay: IOAS %u: map 0x%llx: no fixed IOVA in the plan",
					    rec->map.ioas_id,
					    (unsigned long long)rec->map.iova);
		err = map_id(r, KHO_OBJ_IOAS, rec->map.ioas_id, &new_ioas,
			     "map", diag);
		if (err)
			return err;
		err = replay_map(r, rec->map.ioas_id, new_ioas, &m,
				 kho_replay_memfd_find(memfds, nr_memfds,
						       rec->map.memfd_token), diag);
		if (!err)
			replay_mapped(r, h, kho_state_find_ioas(&h->state,
							      rec->map.ioas_id),
				      1);
		return err;
	}

	ioas = kho_state_find_ioas(&h->state, rec->replay_maps.ioas_id);
	if (!ioas || rec->replay_maps.first > ioas->nr_maps ||
	    rec->replay_maps.count > ioas->nr_maps - rec->replay_maps.first)
		return kho_diag_set(diag, -EBADMSG,
				    "replay: IOAS %u: mappings [%u, +%u) are not in the recorded state",
				    rec->replay_maps.ioas_id,
				    rec->replay_maps.first,
				    rec->replay_maps.count);
	err = map_id(r, KHO_OBJ_IOAS, ioas->id, &new_ioas, "map", diag);
	if (err)
		return err;
	/*
	 * This loop is what the raw ioctl loop is measured against: nothing
	 * in it but the ioctl.  Consecutive mappings mostly share a memfd,
	 * so its fd is looked up only when the token changes.
	 */
	t0 = now_ns();
	end = (size_t)rec->replay_maps.first + rec->replay_maps.count;
	for (i = rec->replay_maps.first; i < end; i++) {
		const struct kho_mapping *m = &ioas->maps[i];

		if (fd < 0 || m->memfd_token != token) {
			token = m->memfd_token;
			fd = kho_replay_memfd_find(memfds, nr_memfds, token);
		}
		err = replay_map(r, ioas->id, new_ioas, m, fd, diag);
		if (err)
			break;
	}
	r->stat[KHO_OP_IOAS_MAP_FILE].ns += now_ns() - t0;
	replay_mapped(r, h, ioas, i - rec->replay_maps.first);
	return err;
}

int kho_replay_bind(struct kho_replay *r, const struct kho_handoff *h,
		       const struct kho_rec *rec, struct kho_diag *diag)
{
	struct vfio_device_bind_iommufd arg = {
		.argsz = sizeof(arg),
		.iommufd = r->iommufd,
	};
	const struct kho_device *sdev;
	struct kho_replay_dev *dev, *tab;
	char addr[KHO_DEVICE_LABEL_LEN], name[32], why[96];
	struct kho_mdev_id mdev = { 0 };
	struct kho_diag sub;
	uint64_t t0;
	int err;

	memcpy(mdev.uuid, rec->bind.mdev_uuid, sizeof(mdev.uuid));
	sdev = kho_state_find_dev(&h->state, rec->bind.out_devid);
	if (kho_mdev_is(&mdev)) {
		/* parent and type are in the device node alone */
		if (!sdev || memcmp(sdev->mdev.uuid, mdev.uuid,
				    sizeof(mdev.uuid)))
			return kho_diag_set(diag, -EBADMSG,
					    "replay: mdev %s (recorded devid %u): no device node names it: its parent and type, which creating it takes, are unknown",
					    kho_mdev_uuid_str(mdev.uuid, addr, sizeof(addr)),
					    rec->bind.out_devid);
		mdev = sdev->mdev;
	}
	kho_device_label(&rec->bind.pci, &mdev, addr, sizeof(addr));
	if (rec->bind.flags & VFIO_DEVICE_BIND_FLAG_TOKEN)
		return kho_diag_set(diag, -EOPNOTSUPP,
				    "replay: device %s: bind: a VF token cannot be carried across kexec",
				    addr);
	tab = realloc(r->dev, (r->nr_dev + 1) * sizeof(*tab));
	if (!tab)
		return -ENOMEM;
	r->dev = tab;
	dev = &r->dev[r->nr_dev++];
	memset(dev, 0, sizeof(*dev));
	dev->fd = -1;
	dev->pci = rec->bind.pci;
	dev->mdev = mdev;
	dev->old_id = rec->bind.out_devid;
	/*
	 * The recorded driver is the live state's; a whole journal may bind
	 * another function under a devid that was reused since.
	 */
	if (sdev && !memcmp(&sdev->pci, &rec->bind.pci, sizeof(sdev->pci)) &&
	    !memcmp(sdev->mdev.uuid, mdev.uuid, sizeof(mdev.uuid))) {
		snprintf(dev->driver, sizeof(dev->driver), "%s", sdev->driver);
		dev->old_hwpt = sdev->attached_pt;
	}

	t0 = now_ns();
	if (kho_mdev_is(&mdev))
		err = kho_replay_find_mdev_cdev(r->sysfs, &mdev, dev->driver,
						name, sizeof(name),
						&dev->mdev_created, &sub);
	else
		err = kho_replay_find_cdev(r->sysfs, &rec->bind.pci,
					   dev->driver, name, sizeof(name),
					   &sub);
	r->identity_ns += now_ns() - t0;
	if (err)
		return kho_diag_set(diag, err, "replay: %s (recorded devid %u)",
				    sub.msg, rec->bind.out_devid);
	snprintf(dev->cdev, sizeof(dev->cdev), "%s/vfio/devices/%s",
		 r->devdir, name);
	/* Timed with the bind: the first open enables (resets) the device. */
	t0 = now_ns();
	dev->fd = open(dev->cdev, O_RDWR | O_CLOEXEC);
	r->stat[rec->op].ns += now_ns() - t0;
	if (dev->fd < 0) {
		err = -errno;
		return kho_diag_set(diag, err,
				    "replay: device %s: open %s: %s", addr,
				    dev->cdev, kho_errno_name(err));
	}
	err = replay_ioctl(r, rec->op, dev->fd, VFIO_DEVICE_BIND_IOMMUFD,
			   &arg);
	if (err)
		return kho_diag_set(diag, err,
				    "replay: device %s (%s): bind to iommufd: %s",
				    addr, dev->cdev,
				    cause(r, err, why, sizeof(why)));
	dev->new_id = arg.out_devid;
	err = idmap_learn(r, KHO_OBJ_DEVICE, dev->old_id, dev->new_id);
	if (err)
		return kho_diag_set(diag, err == -ENOMEM ? err : -EBADMSG,
				    "replay: device %s: devid %u named twice in the plan",
				    addr, dev->old_id);
	return 0;
}

int kho_replay_hwpt_alloc(struct kho_replay *r, const struct kho_rec *rec,
			     struct kho_diag *diag)
{
	struct iommu_hwpt_alloc arg = {
		.size = sizeof(arg),
		.flags = rec->hwpt_alloc.flags,
		.data_type = rec->hwpt_alloc.data_type,
		.data_len = rec->hwpt_alloc.data_len,
		.data_uptr = (uintptr_t)rec->hwpt_alloc.data,
	};
	char why[96];
	int err;

	if (rec->hwpt_alloc.flags & IOMMU_HWPT_FAULT_ID_VALID)
		return kho_diag_set(diag, -EOPNOTSUPP,
				    "replay: HWPT %u: alloc: fault queues are not carried across kexec",
				    rec->hwpt_alloc.out_hwpt_id);
	err = map_id(r, KHO_OBJ_DEVICE, rec->hwpt_alloc.dev_id, &arg.dev_id,
		     "HWPT alloc", diag);
	if (!err)
		err = map_id(r, KHO_OBJ_IOAS, rec->hwpt_alloc.pt_id,
			     &arg.pt_id, "HWPT alloc", diag);
	if (err)
		return err;
	err = replay_ioctl(r, rec->op, r->iommufd, IOMMU_HWPT_ALLOC, &arg);
	if (err)
		return kho_diag_set(diag, err,
				    "replay: HWPT %u: alloc on device %u, parent %u: %s",
				    rec->hwpt_alloc.out_hwpt_id,
				    rec->hwpt_alloc.dev_id, rec->hwpt_alloc.pt_id,
				    cause(r, err, why, sizeof(why)));
	err = idmap_learn(r, KHO_OBJ_HWPT, rec->hwpt_alloc.out_hwpt_id,
			  arg.out_hwpt_id);
	if (err)
		return kho_diag_set(diag, err == -ENOMEM ? err : -EBADMSG,
				    "replay: HWPT %u: the plan names this ID twice",
				    rec->hwpt_alloc.out_hwpt_id);
	return 0;
}

int kho_replay_attach(struct kho_replay *r, const struct kho_rec *rec,
			 struct kho_diag *diag)
{
	struct vfio_device_attach_iommufd_pt arg = {
		.argsz = sizeof(arg),
		.flags = rec->attach.flags,
		.pasid = rec->attach.pasid,
	};
	struct kho_replay_dev *dev = kho_replay_find_dev(r, rec->attach.dev_id);
	uint32_t expect;
	char why[96];
	int err;

	if (!dev || dev->fd < 0)
		return kho_diag_set(diag, -ENOENT,
				    "replay: device %u: attach to %u: the device was never bound",
				    rec->attach.dev_id, rec->attach.pt_id);
	err = map_id(r, KHO_OBJ_IOAS, rec->attach.pt_id, &arg.pt_id, "attach",
		     diag);
	if (err)
		return err;
	err = replay_ioctl(r, rec->op, dev->fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT,
			   &arg);
	if (err)
		return kho_diag_set(diag, err,
				    "replay: device %u (%s): attach to %u: %s",
				    rec->attach.dev_id, dev->cdev,
				    rec->attach.pt_id,
				    cause(r, err, why, sizeof(why)));
	dev->new_hwpt = arg.pt_id;
	if (!rec->attach.out_hwpt_id)
		return 0;
	/*
	 * Attaching to an IOAS makes (or reuses) an automatic domain whose
	 * ID only the output tells; attaching to a HWPT returns that HWPT.
	 */
	if (!kho_idmap_lookup(&r->idmap, rec->attach.out_hwpt_id, &expect)) {
		/* An automatic domain dies with its last device. */
		if (expect != arg.pt_id && r->remap_outputs)
			return idmap_learn(r, KHO_OBJ_HWPT,
					   rec->attach.out_hwpt_id, arg.pt_id);
		if (expect != arg.pt_id)
			return kho_diag_set(diag, -EBADMSG,
					    "replay: device %u: attach to %u: kernel attached HWPT %u, record says HWPT %u (now %u)",
					    rec->attach.dev_id,
					    rec->attach.pt_id, arg.pt_id,
					    rec->attach.out_hwpt_id, expect);
		return 0;
	}
	return kho_idmap_add(&r->idmap, KHO_OBJ_HWPT, rec->attach.out_hwpt_id,
			     arg.pt_id);
}

int kho_replay_dirty(struct kho_replay *r, const struct kho_rec *rec,
			struct kho_diag *diag)
{
	struct iommu_hwpt_set_dirty_tracking arg = {
		.size = sizeof(arg),
		.flags = rec->dirty_tracking.flags,
	};
	char why[96];
	int err;

	err = map_id(r, KHO_OBJ_HWPT, rec->dirty_tracking.hwpt_id,
		     &arg.hwpt_id, "dirty tracking", diag);
	if (err)
		return err;
	err = replay_ioctl(r, rec->op, r->iommufd,
			   IOMMU_HWPT_SET_DIRTY_TRACKING, &arg);
	if (err)
		return kho_diag_set(diag, err,
				    "replay: HWPT %u: set dirty tracking %s: %s",
				    rec->dirty_tracking.hwpt_id,
				    rec->dirty_tracking.flags ? "on" : "off",
				    cause(r, err, why, sizeof(why)));
	return 0;
}

static int replay_rec(struct kho_replay *r, const struct kho_handoff *h,
		      const struct kho_rec *rec,
		      const struct kho_replay_memfd *memfds, size_t nr_memfds,
		      struct kho_diag *diag)
{
	switch (rec->op) {
	case KHO_OP_IOAS_ALLOC:
		return kho_replay_ioas_alloc(r, rec, diag);
	case KHO_OP_IOAS_ALLOW_IOVAS:
		return kho_replay_allow(r, rec, diag);
	case KHO_OP_OPTION:
		return kho_replay_option(r, rec, diag);
	case KHO_OP_IOAS_MAP_FILE:
	case KHO_OP_REPLAY_MAPPINGS:
		return replay_maps(r, h, rec, memfds, nr_memfds, diag);
	case KHO_OP_DEVICE_BIND:
		return kho_replay_bind(r, h, rec, diag);
	case KHO_OP_HWPT_ALLOC:
		return kho_replay_hwpt_alloc(r, rec, diag);
	case KHO_OP_DEVICE_ATTACH:
		return kho_replay_attach(r, rec, diag);
	case KHO_OP_HWPT_SET_DIRTY_TRACKING:
		return kho_replay_dirty(r, rec, diag);
	}
	return -EOPNOTSUPP;
}

int kho_replay_run(struct kho_replay *r, const struct kho_handoff *h,
		   const struct kho_replay_memfd *memfds, size_t nr_memfds,
		   struct kho_diag *diag)
{
	static const int maps_first[] = { KHO_PHASE_OBJECTS, KHO_PHASE_MAPS,
					  KHO_PHASE_DEVICES };
	static const int attach_first[] = { KHO_PHASE_OBJECTS,
					    KHO_PHASE_DEVICES,
					    KHO_PHASE_MAPS };
	const int *order = r->order == KHO_REPLAY_ATTACH_FIRST ? attach_first :
								 maps_first;
	size_t i, p;
	int err;

	/* Refuse a plan we cannot finish before touching the kernel. */
	for (i = 0; i < h->replay.nr; i++) {
		if (kho_op_phase(h->replay.recs[i].op) == KHO_PHASE_NONE)
			return kho_diag_set(diag, -EOPNOTSUPP,
					    "replay: plan record %zu: %s cannot be replayed",
					    i, kho_op_name(h->replay.recs[i].op));
	}
	/*
	 * Nor one whose objects do not add up: an object unknown, destroyed
	 * or made later is otherwise found only when its record runs, after
	 * the devices were bound.
	 */
	err = kho_plan_check(h, &r->idmap, diag);
	if (err) {
		char why[sizeof(diag->msg)];

		snprintf(why, sizeof(why), "%s", diag->msg);
		return kho_diag_set(diag, err,
				    "replay: %s; refused before the first ioctl, no device bound",
				    why);
	}

	free(r->mapped);
	r->nr_mapped = 0;
	r->mapped = calloc(h->state.nr_ioas + 1, sizeof(*r->mapped));
	if (!r->mapped)
		return -ENOMEM;
	r->nr_mapped = h->state.nr_ioas;

	if (r->iommufd < 0) {
		r->iommufd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
		if (r->iommufd < 0) {
			err = -errno;
			return kho_diag_set(diag, err, "replay: open /dev/iommu: %s",
					    kho_errno_name(err));
		}
	}

	/*
	 * KHO_PHASE_DEVICE_STATE is not in either order: a device's state is
	 * resumed by the restore-agent once this replay is verified, checked
	 * against those records (restore-agent, step device-state).
	 */
	for (p = 0; p < 3; p++) {
		for (i = 0; i < h->replay.nr; i++) {
			const struct kho_rec *rec = &h->replay.recs[i];

			if (kho_op_phase(rec->op) != order[p])
				continue;
			err = replay_rec(r, h, rec, memfds, nr_memfds, diag);
			if (err)
				return err;
		}
	}
	return 0;
}
