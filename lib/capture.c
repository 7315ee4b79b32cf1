// SPDX-License-Identifier: LGPL-2.1-or-later
/* Capture: snapshot -> compacted, encoded hand-off -> LUO session. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/iommufd.h>
#include <linux/magic.h>

#include "capture.h"
#include "compact.h"
#include "file.h"
#include "handoff.h"
#include "journal.h"
#include "kimage.h"
#include "kjournal.h"
#include "luo.h"
#include "mdev.h"
#include "migrec.h"
#include "pci.h"
#include "poison.h"
#include "proc.h"
#include "state.h"
#include "vfio_mig.h"

#ifndef F_SEAL_EXEC
#define F_SEAL_EXEC 0x0020	/* Linux 6.3; glibc 2.36 lacks it */
#endif

/* The seals memfd_luo.c accepts (MEMFD_LUO_ALL_SEALS); others: EOPNOTSUPP. */
#define LUO_SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | \
		   F_SEAL_FUTURE_WRITE | F_SEAL_EXEC)

/*
 * Refuses, before anything is preserved, a guest-RAM fd that LUO 7.2
 * would refuse at PRESERVE_FD, with the reason a person can act on.
 */
static int check_memfd(const struct kho_memfd *m, int fd, uint64_t *size,
		       struct kho_diag *diag)
{
	struct statfs sfs;
	struct stat st;
	int seals;

	if (fstatfs(fd, &sfs) || fstat(fd, &st))
		return kho_diag_set(diag, -errno, "capture: memfd token %llu (%s): %s",
				    (unsigned long long)m->token, m->name,
				    strerror(errno));
	if (sfs.f_type == HUGETLBFS_MAGIC)
		return kho_diag_set(diag, -EOPNOTSUPP,
				    "capture: memfd token %llu (%s) is hugetlb: LUO in Linux 7.2 preserves only shmem memfds (memfd-v2), so this guest RAM cannot cross the kexec; back it with a plain memfd",
				    (unsigned long long)m->token, m->name);
	if (sfs.f_type != TMPFS_MAGIC || st.st_nlink)
		return kho_diag_set(diag, -EOPNOTSUPP,
				    "capture: token %llu (%s) is not a memfd (%s): LUO preserves only unlinked shmem files",
				    (unsigned long long)m->token, m->name,
				    st.st_nlink ? "a linked file" : "not on shmem");
	seals = fcntl(fd, F_GET_SEALS);
	if (seals > 0 && (seals & ~LUO_SEALS))
		return kho_diag_set(diag, -EOPNOTSUPP,
				    "capture: memfd token %llu (%s) carries seals 0x%x LUO cannot preserve",
				    (unsigned long long)m->token, m->name, seals & ~LUO_SEALS);
	*size = st.st_size;
	return 0;
}

/* The character devices a process holds open, by device number. */
struct held_rdevs {
	dev_t *rdev;
	int *fd;		/* the number of each in the process */
	size_t nr;
};

static int note_held_rdev(void *ctx, int fd, const char *path)
{
	struct held_rdevs *held = ctx;
	struct stat st;
	dev_t *tab;
	int *fds;

	/* stat follows the magic link to the very file the fd is */
	if (stat(path, &st) || !S_ISCHR(st.st_mode))
		return 0;	/* closed meanwhile, or not a device */
	tab = realloc(held->rdev, (held->nr + 1) * sizeof(*tab));
	if (!tab)
		return -ENOMEM;
	held->rdev = tab;
	fds = realloc(held->fd, (held->nr + 1) * sizeof(*fds));
	if (!fds)
		return -ENOMEM;
	held->fd = fds;
	tab[held->nr] = st.st_rdev;
	fds[held->nr++] = fd;
	return 0;
}

/* The process's fd number of @rdev, or -1. */
static int held_fd(const struct held_rdevs *held, dev_t rdev)
{
	size_t i;

	for (i = 0; i < held->nr; i++)
		if (held->rdev[i] == rdev)
			return held->fd[i];
	return -1;
}

static bool holds(const struct held_rdevs *held, dev_t rdev)
{
	return held_fd(held, rdev) >= 0;
}

/*
 * What @pid holds, read while a pidfd pins it: if it exited during the
 * walk, its pid may name another process by the end, whose files were
 * read in its place.
 */
static int read_held(pid_t pid, int pidfd, struct held_rdevs *held,
		     struct kho_diag *diag)
{
	int err;

	err = kho_proc_each_fd(pid, note_held_rdev, held);
	if (!err && syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0))
		err = -errno;
	if (err)
		return kho_diag_set(diag, err, "capture: VMM %d: the files it holds (/proc/%d/fd): %s",
				    (int)pid, (int)pid, strerror(-err));
	return 0;
}

/*
 * Asks the device the VMM holds, through a duplicate of the VMM's own
 * cdev fd (pidfd_getfd(2), as for its iommufd): the VMM bound that fd to
 * its iommufd, and VFIO answers a feature query only on a bound fd.  The
 * probe moves nothing.  A failure leaves the device unprobed, which the
 * pre-flight reports (and --require-device-state refuses): it must not
 * stop an upgrade that resets the device anyway.
 */
static void probe_migration(struct kho_device *d, int pidfd, int vmm_fd)
{
	int fd;

	d->migration_probed = false;
	d->migration_flags = 0;
	fd = syscall(SYS_pidfd_getfd, pidfd, vmm_fd, 0);
	if (fd < 0) {
		d->migration_err = -errno;
		return;
	}
	d->migration_err = kho_vfio_migration_query(fd, &d->migration_flags);
	d->migration_probed = !d->migration_err;
	close(fd);
}

/*
 * A device claim is believed only if the VMM holds the device's VFIO
 * cdev open: the journal binds devices through their cdev, and after
 * the kexec the root agent opens the device and hands it to the VMM's
 * uid.  A device held only through its legacy VFIO group proves nothing
 * the journal describes, and is refused: a VMM holding the group node
 * /dev/vfio/N is told so by name; a device fd VFIO_GROUP_GET_DEVICE_FD
 * made (an anonymous inode, no device number) counts as not held.
 */
static int prove_device(struct kho_device *d, const char *addr,
			const char *sysfs, const char *dir, pid_t pid,
			int pidfd, const struct held_rdevs *held,
			struct kho_diag *diag)
{
	unsigned int group;
	char name[64];
	dev_t cdev, grp;
	int err;

	err = kho_pci_vfio_cdev(dir, name, sizeof(name), &cdev);
	if (err)
		return kho_diag_set(diag, -EPERM,
				    "capture: device %u (%s): no VFIO cdev to prove VMM %d holds it (%s/vfio-dev: %s): refusing the claim",
				    d->id, addr, (int)pid, dir, strerror(-err));
	if (holds(held, cdev)) {
		probe_migration(d, pidfd, held_fd(held, cdev));
		return 0;
	}
	if (!kho_pci_vfio_group(sysfs, dir, &group, &grp) && holds(held, grp))
		return kho_diag_set(diag, -EPERM,
				    "capture: device %u (%s): VMM %d holds it only through VFIO group %u (/dev/vfio/%u), not its cdev %s: the journal binds devices through the cdev: refusing the claim",
				    d->id, addr, (int)pid, group, group, name);
	return kho_diag_set(diag, -EPERM,
			    "capture: device %u (%s): VMM %d holds no fd of its VFIO cdev /dev/vfio/devices/%s (%u:%u): a VMM may claim only a device it holds: refusing the claim",
			    d->id, addr, (int)pid, name, major(cdev), minor(cdev));
}

/* A PCI function: in sysfs as the journal recorded it, its driver read. */
static int check_pci(struct kho_device *d, const char *sysfs, char *dir,
		     size_t dsize, char *addr, size_t asize,
		     struct kho_diag *diag)
{
	unsigned long v, dv;
	int err;

	kho_pci_name(&d->pci, addr, asize);
	err = kho_pci_sysfs_dir(sysfs, &d->pci, dir, dsize);
	if (!err)
		err = kho_pci_read_hex(dir, "vendor", &v);
	if (!err)
		err = kho_pci_read_hex(dir, "device", &dv);
	if (err)
		return kho_diag_set(diag, -ENODEV,
				    "capture: device %u (%s): not in sysfs: %s",
				    d->id, addr, strerror(-err));
	if (v != d->pci.vendor || dv != d->pci.device)
		return kho_diag_set(diag, -ENODEV,
				    "capture: device %u (%s): journal recorded %04x:%04x, sysfs says %04lx:%04lx",
				    d->id, addr, d->pci.vendor, d->pci.device,
				    v, dv);
	err = kho_pci_read_driver(dir, d->driver, sizeof(d->driver));
	if (err)
		return kho_diag_set(diag, -ENODEV,
				    "capture: device %u (%s): no driver bound: %s",
				    d->id, addr, strerror(-err));
	return 0;
}

/*
 * An mdev: the journal knows its UUID; its parent, type and driver, which
 * the replay needs to create and check it again after the kexec, are
 * read here from the mdev the VMM holds (its cdev's sysfs device).
 */
static int check_mdev(struct kho_device *d, const char *sysfs, char *dir,
		      size_t dsize, char *addr, size_t asize,
		      struct kho_diag *diag)
{
	char uuid[KHO_MDEV_UUID_LEN], cdev[64];
	struct kho_mdev_id id;
	dev_t rdev;
	int err;

	kho_mdev_uuid_str(d->mdev.uuid, uuid, sizeof(uuid));
	snprintf(addr, asize, "mdev %s", uuid);
	err = kho_mdev_sysfs_dir(sysfs, &d->mdev, dir, dsize);
	if (!err)
		err = kho_pci_vfio_cdev(dir, cdev, sizeof(cdev), &rdev);
	if (err)
		return kho_diag_set(diag, -ENODEV,
				    "capture: device %u (%s): no VFIO cdev in sysfs (%s/vfio-dev): %s",
				    d->id, addr, dir, strerror(-err));
	err = kho_mdev_of_cdev(sysfs, rdev, &id);
	if (err)
		return kho_diag_set(diag, -ENODEV,
				    "capture: device %u (%s): reading its mdev type: %s",
				    d->id, addr, strerror(-err));
	if (memcmp(id.uuid, d->mdev.uuid, sizeof(id.uuid)))
		return kho_diag_set(diag, -ENODEV,
				    "capture: device %u (%s): its cdev %s names another device",
				    d->id, addr, cdev);
	if (!kho_mdev_names_ok(&id) || !id.driver[0])
		return kho_diag_set(diag, -ENODEV,
				    "capture: device %u (%s): type '%s' of '%s', driver '%s': not one an mdev can be created again with",
				    d->id, addr, id.type, id.parent, id.driver);
	d->mdev = id;
	snprintf(d->driver, sizeof(d->driver), "%s", id.driver);
	kho_mdev_name(&d->mdev, addr, asize);
	return 0;
}

/* The sysfs directory of a device, PCI function or mdev. */
static int device_dir(const char *sysfs, const struct kho_device *d,
		      char *dir, size_t size)
{
	if (kho_mdev_is(&d->mdev))
		return kho_mdev_sysfs_dir(sysfs, &d->mdev, dir, size);
	return kho_pci_sysfs_dir(sysfs, &d->pci, dir, size);
}

int kho_capture_device_fd(pid_t pid, const char *sysfs,
			  const struct kho_device *d, struct kho_diag *diag)
{
	struct held_rdevs held = { NULL, NULL, 0 };
	char dir[PATH_MAX], name[64], label[KHO_DEVICE_LABEL_LEN];
	int pidfd, vmm_fd, fd, err;
	dev_t cdev;

	kho_device_label(&d->pci, &d->mdev, label, sizeof(label));
	err = device_dir(sysfs, d, dir, sizeof(dir));
	if (!err)
		err = kho_pci_vfio_cdev(dir, name, sizeof(name), &cdev);
	if (err)
		return kho_diag_set(diag, -ENODEV,
				    "device %u (%s): no VFIO cdev (%s/vfio-dev): %s",
				    d->id, label, dir, strerror(-err));
	pidfd = syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0)
		return kho_diag_set(diag, -errno, "VMM %d: pidfd_open: %s",
				    (int)pid, strerror(errno));
	err = read_held(pid, pidfd, &held, diag);
	vmm_fd = err ? -1 : held_fd(&held, cdev);
	if (!err && vmm_fd < 0)
		err = kho_diag_set(diag, -EPERM,
				   "device %u (%s): VMM %d no longer holds its cdev %s",
				   d->id, label, (int)pid, name);
	fd = err ? -1 : syscall(SYS_pidfd_getfd, pidfd, vmm_fd, 0);
	if (!err && fd < 0)
		err = kho_diag_set(diag, -errno,
				   "device %u (%s): pidfd_getfd of VMM %d's fd %d: %s",
				   d->id, label, (int)pid, vmm_fd,
				   strerror(errno));
	free(held.rdev);
	free(held.fd);
	close(pidfd);
	return err ? err : fd;
}

int kho_capture_add_devstate(struct kho_capture *cap, uint32_t devid, int fd,
			     struct kho_device_state *saved,
			     uint64_t precopy_length, struct kho_diag *diag)
{
	struct kho_handoff *h = &cap->handoff;
	struct kho_device *d = kho_state_find_dev(&h->state, devid);
	char label[KHO_DEVICE_LABEL_LEN];
	struct kho_memfd m = { 0 };
	size_t nr_plan = h->replay.nr;
	int *fds;
	int err;

	if (!d)
		return kho_diag_set(diag, -ENOENT, "device-state: no device %u in the hand-off",
				    devid);
	fds = realloc(cap->extra_fds, (cap->nr_extra + 1) * sizeof(*fds));
	if (!fds)
		return -ENOMEM;
	cap->extra_fds = fds;
	m.token = KHO_DEVSTATE_TOKEN_BASE + devid;
	saved->memfd_token = m.token;
	/* Before the fd is the capture's: a failure here leaves it the caller's. */
	err = kho_migrec_append(&h->replay, devid, saved, precopy_length);
	if (err) {
		h->replay.nr = nr_plan;	/* records own no inline data */
		return kho_diag_set(diag, err, "device-state: device %u: its DEVICE_MIG_STATE records: %s",
				    devid, strerror(-err));
	}
	m.size = saved->length;
	m.seals = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;
	snprintf(m.name, sizeof(m.name), "kho-devstate:%s",
		 kho_device_sysname(&d->pci, &d->mdev, label, sizeof(label)));
	err = kho_state_add_memfd(&h->state, &m);
	if (err) {
		h->replay.nr = nr_plan;
		return kho_diag_set(diag, err, "device-state: device %u: memfd token 0x%llx: %s",
				    devid, (unsigned long long)m.token,
				    strerror(-err));
	}
	/* kho_state_add_memfd() appends: the table's order is the fds' */
	cap->extra_fds[cap->nr_extra++] = fd;
	d = kho_state_find_dev(&h->state, devid);
	saved->present = true;
	d->saved = *saved;
	kho_handoff_require(h, KHO_FORMAT_VERSION_MIG_OP);
	free(cap->blob);
	cap->blob = NULL;
	err = kho_handoff_encode(h, &cap->blob, &cap->blob_len);
	if (err)
		return kho_diag_set(diag, err, "device-state: device %u: encoding the hand-off: %s",
				    devid, strerror(-err));
	return 0;
}

int kho_capture_check_devices(struct kho_state *s, pid_t pid,
			      const char *sysfs, struct kho_diag *diag)
{
	struct held_rdevs held = { NULL, NULL, 0 };
	int pidfd = -1, err = 0;
	size_t i;

	if (s->nr_dev && pid <= 0)
		return kho_diag_set(diag, -EPERM,
				    "capture: %zu device(s) claimed with no VMM to prove them against: refusing the claim",
				    s->nr_dev);
	if (s->nr_dev) {
		/* Pins the VMM: its pid cannot name another process meanwhile */
		pidfd = syscall(SYS_pidfd_open, pid, 0);
		if (pidfd < 0)
			return kho_diag_set(diag, -errno, "capture: VMM %d: pidfd_open: %s",
					    (int)pid, strerror(errno));
		err = read_held(pid, pidfd, &held, diag);
	}
	for (i = 0; !err && i < s->nr_dev; i++) {
		struct kho_device *d = &s->dev[i];
		char dir[PATH_MAX], addr[KHO_DEVICE_LABEL_LEN];

		if (kho_mdev_is(&d->mdev))
			err = check_mdev(d, sysfs, dir, sizeof(dir), addr,
					 sizeof(addr), diag);
		else
			err = check_pci(d, sysfs, dir, sizeof(dir), addr,
					sizeof(addr), diag);
		if (!err)
			err = prove_device(d, addr, sysfs, dir, pid, pidfd,
					   &held, diag);
	}
	free(held.rdev);
	free(held.fd);
	if (pidfd >= 0)
		close(pidfd);
	return err;
}

static void capture_init(struct kho_capture *cap)
{
	memset(cap, 0, sizeof(*cap));
	kho_handoff_init(&cap->handoff);
	cap->handoff_fd = -1;
	cap->luo_fd = -1;
	cap->session_fd = -1;
	cap->given_session = -1;
}

int kho_capture_build(const struct kho_journal_snapshot *snap,
		      struct kho_capture *cap, struct kho_diag *diag)
{
	struct kho_handoff *h = &cap->handoff;
	size_t i;
	int err;

	capture_init(cap);
	/* Readers that do not know the iommufd node must refuse. */
	kho_handoff_header(h, snap && snap->iommufd.present ?
			   KHO_FORMAT_VERSION_IOMMUFD : KHO_FORMAT_VERSION);

	if (snap) {
		const struct kho_state *in = &snap->state;

		if (snap->nr_fds != in->nr_memfd) {
			err = kho_diag_set(diag, -EBADMSG,
					   "capture: the recorder sent %zu memfds for %zu table entries",
					   snap->nr_fds, in->nr_memfd);
			goto out_free;
		}
		for (i = 0; i < in->nr_memfd; i++) {
			struct kho_memfd m = in->memfd[i];

			err = check_memfd(&m, snap->memfd_fds[i], &m.size, diag);
			if (err)
				goto out_free;
			/* What is preserved is the file as it is now. */
			err = kho_state_add_memfd(&h->state, &m);
			if (err) {
				kho_diag_set(diag, err, "capture: memfd token %llu: %s",
					     (unsigned long long)m.token,
					     err == -EEXIST ? "listed twice" : strerror(-err));
				goto out_free;
			}
		}
		memcpy(h->journal_source, snap->journal_source,
		       sizeof(h->journal_source));
		if (snap->iommufd.present) {
			err = kho_handoff_iommufd_copy(&h->iommufd,
						       &snap->iommufd);
			if (err)
				goto out_free;
		}
		/* what the VMM did, counting the pairs elided online */
		h->journal_length = snap->journal_length;
		if (h->journal_length < snap->journal.nr)
			h->journal_length = snap->journal.nr;
		err = kho_compact(&snap->journal, &h->state, &h->replay,
				  diag);
		if (err)
			goto out_free;
		err = kho_capture_check_devices(&h->state, snap->pid, "/sys",
						diag);
		if (err)
			goto out_free;
		/* A reader that would look for a PCI function must refuse. */
		if (kho_state_has_mdev(&h->state))
			kho_handoff_require(h, KHO_FORMAT_VERSION_MDEV);
	}
	err = kho_handoff_encode(h, &cap->blob, &cap->blob_len);
	if (err) {
		kho_diag_set(diag, err, "capture: encoding the hand-off: %s",
			     strerror(-err));
		goto out_free;
	}
	return 0;

out_free:
	kho_capture_release(cap);
	return err;
}

/*
 * The records that cut mapping @m of IOAS @ioas_id around the poisoned
 * ranges @p[0..nr) of its memfd (sorted by offset): the UNMAP of the
 * whole area, then a MAP_FILE at the same IOVA of each piece between
 * them.  Return: 0 or -ENOMEM; *cut is the first range @m covered, if any.
 */
static int cut_mapping(struct kho_journal *j, uint32_t ioas_id,
		       const struct kho_mapping *m, const struct kho_poison *p,
		       size_t nr, const struct kho_poison **cut)
{
	uint64_t pos = m->offset, end = m->offset + m->length;
	struct kho_rec r;
	size_t i;
	int err;

	for (i = 0; i < nr; i++)
		if (p[i].memfd_token == m->memfd_token &&
		    p[i].offset < end && p[i].offset + p[i].length > pos)
			break;
	if (i == nr)
		return 0;
	*cut = &p[i];
	memset(&r, 0, sizeof(r));
	r.op = KHO_OP_IOAS_UNMAP;
	r.unmap.ioas_id = ioas_id;
	r.unmap.iova = m->iova;
	r.unmap.length = r.unmap.out_length = m->length;
	err = kho_journal_append(j, &r);
	for (; !err && pos < end; i++) {
		uint64_t stop = end;

		if (i < nr && p[i].memfd_token == m->memfd_token &&
		    p[i].offset < end)
			stop = p[i].offset > pos ? p[i].offset : pos;
		if (stop > pos) {
			memset(&r, 0, sizeof(r));
			r.op = KHO_OP_IOAS_MAP_FILE;
			r.map.flags = m->flags | IOMMU_IOAS_MAP_FIXED_IOVA;
			r.map.ioas_id = ioas_id;
			r.map.memfd_token = m->memfd_token;
			r.map.offset = pos;
			r.map.length = stop - pos;
			r.map.iova = m->iova + (pos - m->offset);
			err = kho_journal_append(j, &r);
		}
		if (stop == end)
			break;
		pos = p[i].offset + p[i].length;
	}
	return err;
}

int kho_capture_poison(struct kho_capture *cap,
		       const struct kho_journal_snapshot *snap,
		       const char *proc, struct kho_diag *diag)
{
	struct kho_handoff *h = &cap->handoff;
	struct kho_journal j, plan;
	struct kho_state folded;
	const struct kho_poison *first_cut = NULL;
	struct kho_poison *p;
	size_t nr, i, k, cuts = 0;
	int err;

	err = kho_poison_find(proc, snap->pid, snap->state.memfd,
			      snap->memfd_fds, snap->nr_fds, &p, &nr, diag);
	if (err)
		return kho_diag_set(diag, err, "VMM %d: %s",
				    (int)snap->pid, diag->msg);
	if (!nr)
		return 0;
	kho_journal_init(&j);
	kho_journal_init(&plan);
	kho_state_init(&folded);
	for (i = 0; !err && i < snap->journal.nr; i++)
		err = kho_journal_append(&j, &snap->journal.recs[i]);
	for (i = 0; !err && i < h->state.nr_ioas; i++) {
		const struct kho_ioas *a = &h->state.ioas[i];

		for (k = 0; !err && k < a->nr_maps; k++) {
			const struct kho_poison *cut = NULL;

			err = cut_mapping(&j, a->id, &a->maps[k], p, nr, &cut);
			if (cut && !first_cut)
				first_cut = cut;
			cuts += !!cut;
		}
	}
	if (err)
		goto out;
	if (cuts && h->iommufd.present) {
		err = kho_diag_set(diag, -EOPNOTSUPP,
				   "poison: memfd token %llu 0x%llx+0x%llx is poisoned and mapped for DMA, and the hand-off carries the VMM's iommufd: the target's kernel verifies the replay against its journal, which maps that page; carry it with --userspace-journal",
				   (unsigned long long)first_cut->memfd_token,
				   (unsigned long long)first_cut->offset,
				   (unsigned long long)first_cut->length);
		goto out;
	}
	if (cuts) {
		/* Fold again: the state with the holes and the plan making it */
		for (i = 0; !err && i < h->state.nr_memfd; i++)
			err = kho_state_add_memfd(&folded, &h->state.memfd[i]);
		if (!err)
			err = kho_compact(&j, &folded, &plan, diag);
		if (err) {
			kho_diag_set(diag, err, "poison: cutting %zu mappings around the poisoned pages: %s",
				     cuts, diag->msg);
			goto out;
		}
		/*
		 * Only the IOASes changed: the devices keep what capture
		 * proved and probed of them.
		 */
		for (i = 0; i < h->state.nr_ioas; i++) {
			free(h->state.ioas[i].allowed);
			free(h->state.ioas[i].maps);
		}
		free(h->state.ioas);
		h->state.ioas = folded.ioas;
		h->state.nr_ioas = folded.nr_ioas;
		folded.ioas = NULL;
		folded.nr_ioas = 0;
		kho_journal_free(&h->replay);
		h->replay = plan;
		kho_journal_init(&plan);
		h->journal_length += j.nr - snap->journal.nr;
	}
	kho_handoff_poison_free(h);
	h->poison = p;
	h->nr_poison = nr;
	p = NULL;
	kho_handoff_require(h, KHO_FORMAT_VERSION_POISON);
	free(cap->blob);
	cap->blob = NULL;
	err = kho_handoff_encode(h, &cap->blob, &cap->blob_len);
	if (err)
		kho_diag_set(diag, err, "poison: encoding the hand-off with %zu ranges: %s",
			     nr, strerror(-err));
out:
	free(p);
	kho_state_free(&folded);
	kho_journal_free(&plan);
	kho_journal_free(&j);
	return err;
}

/*
 * Closes the outgoing LUO session and /dev/liveupdate: the session's
 * files are unpreserved with it (unless the service manager holds it).
 */
static void close_session(struct kho_capture *cap)
{
	if (cap->session_fd >= 0)
		close(cap->session_fd);
	if (cap->luo_fd >= 0)
		close(cap->luo_fd);
	cap->session_fd = cap->luo_fd = -1;
	cap->nr_preserved = 0;
	cap->iommufd_preserved = false;
}

int kho_capture_unpunch(struct kho_capture *cap,
			const struct kho_journal_snapshot *snap,
			struct kho_diag *diag)
{
	const struct kho_handoff *h = &cap->handoff;
	struct kho_diag one;
	int err = 0, e;
	size_t i;

	if (cap->poison_kept || !cap->nr_punched)
		return 0;
	if (cap->session_given)
		return kho_diag_set(diag, -EBUSY,
				    "poison: the %zu punched range(s) stay punched: the session the service manager holds keeps their memfds preserved",
				    cap->nr_punched);
	/* LUO must let go of the folios before they can fail again. */
	close_session(cap);
	for (i = 0; cap->nr_punched && i < h->nr_poison; i++) {
		const struct kho_poison *p = &h->poison[i];
		int fd = snap ? kho_journal_snapshot_memfd(snap, p->memfd_token) : -1;

		if (!cap->punched[i])
			continue;
		cap->punched[i] = false;
		cap->nr_punched--;
		e = fd < 0 ? kho_diag_set(&one, -EBADF, "poison: memfd token %llu: capture holds no fd of it",
					  (unsigned long long)p->memfd_token) :
			     kho_poison_inject(fd, p, &one);
		if (e && !err) {
			err = e;
			if (diag)
				*diag = one;
		}
	}
	return err;
}

/*
 * Resolves the kernel's file identities while its journal is read, and
 * remembers each pair: the hand-off's iommufd node needs the table, since
 * the preserved journal names files by this kernel's inode numbers.
 */
struct ino_resolver {
	const struct kho_journal_snapshot *snap;
	struct kho_kjournal_file *files;
	size_t nr_files;
};

/* The kernel names a file by inode: the preserved memfd with that inode. */
static int snap_ino_to_token(void *ctx, uint64_t ino, uint64_t *token)
{
	struct ino_resolver *res = ctx;
	const struct kho_journal_snapshot *snap = res->snap;
	struct kho_kjournal_file *tab;
	struct stat st;
	size_t i;

	for (i = 0; i < res->nr_files; i++) {
		if (res->files[i].ino == ino) {
			*token = res->files[i].token;
			return 0;
		}
	}
	for (i = 0; i < snap->nr_fds; i++) {
		if (fstat(snap->memfd_fds[i], &st))
			return -errno;
		if ((uint64_t)st.st_ino == ino)
			break;
	}
	if (i == snap->nr_fds)
		return -ENOENT;
	*token = snap->state.memfd[i].token;
	tab = realloc(res->files, (res->nr_files + 1) * sizeof(*tab));
	if (!tab)
		return -ENOMEM;
	res->files = tab;
	tab[res->nr_files++] = (struct kho_kjournal_file){ ino, *token };
	return 0;
}

/* The node that tells the agent to replay into the preserved iommufd. */
static void describe_iommufd(struct kho_journal_snapshot *snap,
			     struct ino_resolver *res, size_t journal_length)
{
	struct kho_handoff_iommufd *io = &snap->iommufd;

	kho_handoff_iommufd_free(io);
	io->present = true;
	snprintf(io->compatible, sizeof(io->compatible), "%s",
		 KHO_KJOURNAL_LUO_COMPATIBLE);
	io->token = KHO_LUO_IOMMUFD_TOKEN;
	io->journal_length = journal_length;
	io->files = res->files;
	io->nr_files = res->nr_files;
	res->files = NULL;
	res->nr_files = 0;
}

int kho_capture_check_kjournal(pid_t pid, struct kho_journal_snapshot *snap,
			       int *iommufd, bool userspace_journal,
			       struct kho_diag *diag)
{
	struct ino_resolver res = { .snap = snap };
	struct kho_kjournal_status st;
	struct kho_journal kj;
	char *src = snap->journal_source;
	size_t size = sizeof(snap->journal_source);
	uint64_t elided = 0;
	size_t kernel_length;
	int fd, err;

	if (iommufd)
		*iommufd = -1;
	diag->msg[0] = 0;
	kho_handoff_iommufd_free(&snap->iommufd);
	snprintf(src, size, "%s", KHO_JOURNAL_SOURCE_USER);
	if (!kho_kjournal_available())
		return 0;
	fd = kho_kjournal_pid_iommufd(pid, diag);
	if (fd == -ENOENT && !snap->journal.nr) {
		/* No iommufd and nothing recorded: the kernel agrees. */
		snprintf(src, size, "%s", KHO_JOURNAL_SOURCE_KERNEL);
		return 0;
	}
	if (fd < 0)
		return fd;
	kho_journal_init(&kj);
	err = kho_kjournal_read(fd, false, snap_ino_to_token, &res, &kj, &st,
				diag);
	if (!err && st.flags)
		err = kho_diag_set(diag, -EOPNOTSUPP,
				   "kernel journal: VMM %d: the kernel marked its journal%s%s: it cannot describe the state",
				   (int)pid,
				   st.flags & KHO_KJOURNAL_NOT_CARRIED ? " not carried" : "",
				   st.flags & KHO_KJOURNAL_INCOMPLETE ? " incomplete" : "");
	/*
	 * The kernel journals every call; the recorder dropped the
	 * MAP/UNMAP pairs that cancel at its tail as they happened.  The same
	 * rule over the kernel's records gives what the recorder must hold.
	 */
	kernel_length = kj.nr;
	if (!err) {
		kho_journal_elide(&kj, &elided);
		err = kho_kjournal_compare(&kj, &snap->journal, diag);
	}
	if (!err) {
		snprintf(src, size, "%s", KHO_JOURNAL_SOURCE_KERNEL);
		if (iommufd) {
			describe_iommufd(snap, &res, kernel_length);
			*iommufd = fd;
			fd = -1;
		}
	}
	if (fd >= 0)
		close(fd);
	free(res.files);
	kho_journal_free(&kj);
	/* The operator chose the recorder's record: the difference is a note */
	if (userspace_journal && (err == -EILSEQ || err == -EOPNOTSUPP))
		return 0;
	return err;
}

int kho_capture_write(const struct kho_capture *cap, const char *path,
		      struct kho_diag *diag)
{
	/* Atomic, fsync'd, and the failing step's errno (issue #21). */
	return kho_write_file(path, cap->blob, cap->blob_len, 0600, diag);
}

/* The hand-off memfd: exactly blob_len bytes, then sealed against change. */
static int handoff_memfd(const struct kho_capture *cap, struct kho_diag *diag)
{
	int fd = kho_memfd_sealed("kho-tool-handoff", cap->blob, cap->blob_len);

	if (fd < 0)
		return kho_diag_set(diag, fd, "preserve: hand-off memfd (%zu bytes): %s",
				    cap->blob_len, strerror(-fd));
	return fd;
}

/*
 * Punches the poisoned ranges of memfd @token out of it, just before LUO
 * pins its folios: memfd_luo_preserve_folios() carries a hwpoisoned
 * folio as ordinary memory (docs/device-state.md).  The ranges are the
 * next ones of the sorted list: preserve walks the table in order, but
 * the list is by token, so each memfd finds its own.
 */
static int punch_poison(struct kho_capture *cap, uint64_t token, int fd,
			struct kho_diag *diag)
{
	const struct kho_handoff *h = &cap->handoff;
	size_t i;
	int err;

	if (h->nr_poison && !cap->punched) {
		cap->punched = calloc(h->nr_poison, sizeof(*cap->punched));
		if (!cap->punched)
			return kho_diag_set(diag, -ENOMEM, "preserve: poison: out of memory");
	}
	for (i = 0; i < h->nr_poison; i++) {
		if (h->poison[i].memfd_token != token || cap->punched[i])
			continue;
		err = kho_poison_punch(fd, &h->poison[i], diag);
		if (err)
			return kho_diag_set(diag, err, "preserve: %s (nothing of this memfd preserved)",
					    diag->msg);
		cap->punched[i] = true;
		cap->nr_punched++;
	}
	return 0;
}

/*
 * The VMM's iommufd goes last: from here its state-changing ioctls get
 * EBUSY.  Its journal must still be the one capture compared and the
 * hand-off describes; a VMM that changed it in between would make the
 * agent's verified replay differ from the hand-off's state.
 */
static int preserve_iommufd(struct kho_capture *cap, int iommufd,
			    struct kho_diag *diag)
{
	const struct kho_handoff_iommufd *io = &cap->handoff.iommufd;
	struct kho_kjournal_status st;
	int err;

	err = kho_luo_preserve_fd(cap->session_fd, iommufd, io->token);
	if (err)
		return kho_diag_set(diag, err, "preserve: the VMM's iommufd (%s) under token 0x%llx: %s%s",
				    io->compatible,
				    (unsigned long long)io->token,
				    strerror(-err),
				    err == -EOPNOTSUPP ? " (the kernel marked its journal not carried)" :
				    err == -ENODATA ? " (the kernel's journal is incomplete)" :
				    err == -EBUSY ? " (already preserved, or not recording)" : "");
	cap->iommufd_preserved = true;
	cap->nr_preserved++;
	err = kho_kjournal_status(iommufd, false, &st);
	if (err)
		return kho_diag_set(diag, err, "preserve: the VMM's iommufd: IOMMU_JOURNAL_READ status: %s",
				    strerror(-err));
	if (st.state != KHO_KJOURNAL_PRESERVED ||
	    st.total != io->journal_length)
		return kho_diag_set(diag, -ESTALE,
				    "preserve: the VMM's iommufd changed after the capture: its journal has %u records (state %u), the hand-off describes %llu: run the upgrade again",
				    st.total, st.state,
				    (unsigned long long)io->journal_length);
	return 0;
}

int kho_capture_preserve(struct kho_capture *cap,
			 const struct kho_journal_snapshot *snap, int iommufd,
			 struct kho_diag *diag)
{
	const struct kho_state *s = &cap->handoff.state;
	size_t i;
	int err;

	err = handoff_memfd(cap, diag);
	if (err < 0)
		return err;
	cap->handoff_fd = err;
	if (cap->given_session >= 0) {
		cap->session_fd = cap->given_session;
		cap->given_session = -1;
		cap->session_given = true;
		goto preserve;
	}
	err = kho_luo_open();
	if (err < 0) {
		char owner[192] = "another process";

		if (err == -EBUSY)
			kho_luo_owner(owner, sizeof(owner));
		kho_diag_set(diag, err, "preserve: %s: %s%s%s", KHO_LUO_DEV,
			     strerror(-err), err == -EBUSY ? ": held by " : "",
			     err == -EBUSY ? owner : "");
		goto fail;
	}
	cap->luo_fd = err;
	err = kho_luo_create_session(cap->luo_fd, KHO_LUO_SESSION);
	if (err < 0) {
		kho_diag_set(diag, err, "preserve: session \"%s\": %s%s",
			     KHO_LUO_SESSION, strerror(-err),
			     err == -EEXIST ? " (a hand-off is already being held: another upgrade in progress, or an unfinished restore)" : "");
		goto fail;
	}
	cap->session_fd = err;
preserve:
	err = kho_luo_preserve_fd(cap->session_fd, cap->handoff_fd,
				  KHO_LUO_HANDOFF_TOKEN);
	if (err) {
		kho_diag_set(diag, err, "preserve: hand-off memfd under token 0x%llx: %s%s",
			     (unsigned long long)KHO_LUO_HANDOFF_TOKEN,
			     strerror(-err),
			     err == -EINVAL && cap->luo_fd < 0 ?
			     " (the session the service manager passed is an incoming one, restored after a kexec: it takes no new files; drop it with systemctl stop UNIT; systemctl clean --what=fdstore UNIT)" : "");
		goto fail;
	}
	cap->nr_preserved = 1;
	for (i = 0; i < s->nr_memfd; i++) {
		size_t own = snap ? snap->nr_fds : 0;
		int fd = i < own ? snap->memfd_fds[i] :
			 i - own < cap->nr_extra ? cap->extra_fds[i - own] : -1;

		if (fd < 0) {
			err = kho_diag_set(diag, -EINVAL,
					   "preserve: memfd token %llu (%s): capture holds no fd of it",
					   (unsigned long long)s->memfd[i].token,
					   s->memfd[i].name);
			goto fail;
		}
		err = punch_poison(cap, s->memfd[i].token, fd, diag);
		if (err)
			goto fail;
		if (cap->fail_last_memfd && i + 1 == s->nr_memfd)
			err = cap->fail_last_memfd;
		else
			err = kho_luo_preserve_fd(cap->session_fd, fd,
						  s->memfd[i].token);
		if (err) {
			kho_diag_set(diag, err, "preserve: memfd token %llu (%s, %llu bytes): %s%s",
				     (unsigned long long)s->memfd[i].token,
				     s->memfd[i].name,
				     (unsigned long long)s->memfd[i].size,
				     strerror(-err),
				     cap->fail_last_memfd && i + 1 == s->nr_memfd ?
				     " (injected: KHO_TOOL_TEST_FAIL_AT=preserve)" :
				     err == -EBUSY ? " (already preserved in another session)" : "");
			goto fail;
		}
		cap->nr_preserved++;
	}
	if (cap->handoff.iommufd.present) {
		if (iommufd < 0) {
			err = kho_diag_set(diag, -EINVAL,
					   "preserve: the hand-off describes the VMM's iommufd, but capture has none to preserve");
			goto fail;
		}
		err = preserve_iommufd(cap, iommufd, diag);
		if (err)
			goto fail;
	}
	return 0;

fail:
	/*
	 * Closing the outgoing session unpreserves what it holds, unless
	 * the service manager holds it too (no /dev/liveupdate of ours).
	 */
	if (cap->session_fd >= 0 && cap->luo_fd < 0 && cap->nr_preserved) {
		size_t n = strlen(diag->msg);

		snprintf(diag->msg + n, sizeof(diag->msg) - n,
			 "; the %zu fd(s) preserved before stay in the session the service manager holds until it drops it (systemctl stop UNIT; systemctl clean --what=fdstore UNIT)",
			 cap->nr_preserved);
	}
	close_session(cap);
	close(cap->handoff_fd);
	cap->handoff_fd = -1;
	/* The session is gone: the punched pages go back to failing. */
	if (cap->nr_punched) {
		struct kho_diag again;
		size_t n = strlen(diag->msg), punched = cap->nr_punched;

		if (kho_capture_unpunch(cap, snap, &again))
			snprintf(diag->msg + n, sizeof(diag->msg) - n,
				 "; and poisoning the %zu punched range(s) again failed: %s",
				 punched, again.msg);
		else
			snprintf(diag->msg + n, sizeof(diag->msg) - n,
				 "; the %zu punched poison range(s) are poisoned again",
				 punched);
	}
	return err;
}

size_t kho_capture_abi_needs(const struct kho_handoff *h, const char **out,
			     size_t max)
{
	static const char *const base[] = {
		KHO_ABI_KHO, KHO_ABI_LUO, KHO_ABI_MEMFD,
	};
	size_t i, n = 0;

	for (i = 0; i < sizeof(base) / sizeof(base[0]) && n < max; i++)
		out[n++] = base[i];
	/*
	 * journal-source "kernel" alone says what capture checked, not what
	 * the target must read.  A preserved iommufd is another matter: 7.2's
	 * LUO cannot deserialize a session holding a file whose handler it
	 * lacks (luo_file_deserialize_one(): -ENOENT), /dev/liveupdate then
	 * fails with EIO and every memfd of the session is lost.
	 */
	if (h->iommufd.present && n < max)
		out[n++] = h->iommufd.compatible[0] ? h->iommufd.compatible :
			   KHO_KJOURNAL_LUO_COMPATIBLE;
	return n;
}

void kho_capture_release(struct kho_capture *cap)
{
	close_session(cap);
	if (cap->handoff_fd >= 0)
		close(cap->handoff_fd);
	while (cap->nr_extra)
		close(cap->extra_fds[--cap->nr_extra]);
	free(cap->extra_fds);
	cap->extra_fds = NULL;
	free(cap->punched);
	cap->punched = NULL;
	cap->nr_punched = 0;
	free(cap->blob);
	kho_handoff_free(&cap->handoff);
	cap->blob = NULL;
	cap->blob_len = 0;
	cap->handoff_fd = -1;
}

enum kho_iommufd_decision kho_iommufd_policy(bool have_vmm,
					     bool running_kjournal,
					     bool target_kjournal,
					     bool userspace_journal)
{
	if (!have_vmm)
		return KHO_IOMMUFD_NO_VMM;
	if (!running_kjournal)
		return KHO_IOMMUFD_USERSPACE;
	if (userspace_journal)
		return KHO_IOMMUFD_DEGRADED;
	return target_kjournal ? KHO_IOMMUFD_PRESERVE : KHO_IOMMUFD_REFUSED;
}

const char *kho_iommufd_decision_name(enum kho_iommufd_decision d)
{
	switch (d) {
	case KHO_IOMMUFD_NO_VMM: return "no-vmm";
	case KHO_IOMMUFD_USERSPACE: return "userspace";
	case KHO_IOMMUFD_PRESERVE: return "preserve";
	case KHO_IOMMUFD_DEGRADED: return "degraded";
	case KHO_IOMMUFD_REFUSED: return "refused";
	}
	return "?";
}
