// SPDX-License-Identifier: LGPL-2.1-or-later
/* The fd table: which open file each fd is, and what it is to the journal. */
#include <errno.h>
#include <linux/close_range.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "internal.h"
#include "kjournal.h"
#include "mdev.h"
#include "pci.h"

struct kho_record_fdent *kho_record_fdent(struct kho_record *rec, int fd,
					  bool grow)
{
	size_t n;
	struct kho_record_fdent *p;

	if (fd < 0)
		return NULL;
	if ((size_t)fd < rec->nr_fds)
		return &rec->fds[fd];
	if (!grow)
		return NULL;
	n = rec->nr_fds ? rec->nr_fds : 64;
	while (n <= (size_t)fd)
		n *= 2;
	p = realloc(rec->fds, n * sizeof(*p));
	if (!p)
		return NULL;
	memset(p + rec->nr_fds, 0, (n - rec->nr_fds) * sizeof(*p));
	rec->fds = p;
	rec->nr_fds = n;
	return &rec->fds[fd];
}

struct kho_record_ofd *kho_record_ofd_of(struct kho_record *rec, int fd)
{
	struct kho_record_fdent *e = kho_record_fdent(rec, fd, false);

	if (!e || !e->ofd)
		return NULL;
	return &rec->ofds[e->ofd - 1];
}

/* A new open file description for @fd; Return: its index + 1, 0 on ENOMEM. */
int kho_record_ofd_new(struct kho_record *rec, int fd,
		       enum kho_record_fd_kind kind, dev_t rdev)
{
	struct kho_record_fdent *e = kho_record_fdent(rec, fd, true);
	struct kho_record_ofd *p;
	size_t i;

	if (!e)
		return 0;
	for (i = 0; i < rec->nr_ofds; i++)
		if (!rec->ofds[i].refs && (int)i != rec->ctx_ofd)
			break;
	if (i == rec->nr_ofds) {
		p = realloc(rec->ofds, (rec->nr_ofds + 1) * sizeof(*p));
		if (!p)
			return 0;
		rec->ofds = p;
		rec->nr_ofds++;
	}
	memset(&rec->ofds[i], 0, sizeof(rec->ofds[i]));
	rec->ofds[i].kind = kind;
	rec->ofds[i].refs = 1;
	rec->ofds[i].rdev = rdev;
	if (fd == rec->hot_fd)
		kho_record_hot_forget(rec);
	e->ofd = i + 1;
	e->memfd_token = 0;
	return e->ofd;
}

/*
 * Classifies a char device by the name sysfs gives it, so that fds the
 * VMM got without open(2) (SCM_RIGHTS from a management daemon, as
 * libvirt passes them) are recognised too.
 */
static enum kho_record_fd_kind kho_record_classify_rdev(dev_t rdev)
{
	char path[96], buf[256], *p;
	enum kho_record_fd_kind kind = KHO_RECORD_FD_OTHER;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/dev/char/%u:%u/uevent",
		 major(rdev), minor(rdev));
	f = fopen(path, "re");
	if (!f)
		return kind;
	while (fgets(buf, sizeof(buf), f)) {
		if (strncmp(buf, "DEVNAME=", 8))
			continue;
		p = buf + 8;
		p[strcspn(p, "\n")] = 0;
		if (!strcmp(p, "iommu"))
			kind = KHO_RECORD_FD_IOMMUFD;
		else if (!strncmp(p, "vfio/devices/", 13))
			kind = KHO_RECORD_FD_VFIO_CDEV;
		break;
	}
	fclose(f);
	return kind;
}

/* An iommufd retrieved after a live update is an anonymous inode. */
static enum kho_record_fd_kind kho_record_classify_anon(int fd)
{
	char proc[64], link[64];
	ssize_t n;

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	n = readlink(proc, link, sizeof(link) - 1);
	if (n < 0)
		return KHO_RECORD_FD_OTHER;
	link[n] = '\0';
	return kho_is_iommufd_link(link) ? KHO_RECORD_FD_IOMMUFD :
					   KHO_RECORD_FD_OTHER;
}

/* Classifies @fd if it is not yet; Return: its ofd or NULL. */
struct kho_record_ofd *kho_record_classify(struct kho_record *rec, int fd,
					   const char *path)
{
	struct kho_record_ofd *o = kho_record_ofd_of(rec, fd);
	enum kho_record_fd_kind kind = KHO_RECORD_FD_OTHER;
	struct stat st;
	int idx;

	if (o)
		return o;
	if (fstat(fd, &st) < 0)
		return NULL;
	if (!S_ISCHR(st.st_mode))
		kind = kho_record_classify_anon(fd);
	else if (path && !strcmp(path, "/dev/iommu"))
		kind = KHO_RECORD_FD_IOMMUFD;
	else if (path && !strncmp(path, "/dev/vfio/devices/", 18))
		kind = KHO_RECORD_FD_VFIO_CDEV;
	else
		kind = kho_record_classify_rdev(st.st_rdev);
	idx = kho_record_ofd_new(rec, fd, kind, st.st_rdev);
	if (!idx)
		return NULL;
	if (kind == KHO_RECORD_FD_IOMMUFD || kind == KHO_RECORD_FD_VFIO_CDEV)
		kho_record_maybe_serve(rec);
	return &rec->ofds[idx - 1];
}

static void kho_record_drop_fd(struct kho_record *rec, int fd);

void kho_record_fd_opened(struct kho_record *rec, int fd, const char *path)
{
	kho_record_lock(rec);
	/* the number may be reused after a close we did not see */
	kho_record_drop_fd(rec, fd);
	if (path && (!strcmp(path, "/dev/iommu") ||
		     !strncmp(path, "/dev/vfio/devices/", 18)))
		kho_record_classify(rec, fd, path);
	kho_record_unlock(rec);
}

void kho_record_fd_set_kind(struct kho_record *rec, int fd,
			    enum kho_record_fd_kind kind)
{
	struct kho_record_ofd *o;
	struct stat st;

	kho_record_lock(rec);
	o = kho_record_ofd_of(rec, fd);
	kho_record_hot_forget(rec);
	if (o) {
		o->kind = kind;
	} else if (fstat(fd, &st) == 0) {
		int idx = kho_record_ofd_new(rec, fd, kind, st.st_rdev);

		if (idx && kind != KHO_RECORD_FD_OTHER)
			kho_record_maybe_serve(rec);
	}
	kho_record_unlock(rec);
}

int kho_record_fd_kind(struct kho_record *rec, int fd,
		       enum kho_record_fd_kind *kind)
{
	struct kho_record_ofd *o;

	kho_record_lock(rec);
	o = kho_record_classify(rec, fd, NULL);
	if (o)
		*kind = o->kind;
	kho_record_unlock(rec);
	return o ? 0 : -EBADF;
}

static void kho_record_drop_fd(struct kho_record *rec, int fd)
{
	struct kho_record_fdent *e = kho_record_fdent(rec, fd, false);
	struct kho_record_ofd *o;
	char why[256], name[128];
	bool devices = false;
	size_t i;

	if (fd == rec->hot_fd)
		kho_record_hot_forget(rec);
	if (!e)
		return;
	e->memfd_token = 0;
	if (!e->ofd)
		return;
	o = &rec->ofds[e->ofd - 1];
	e->ofd = 0;
	if (!o->refs || --o->refs)
		return;
	for (i = 0; i < rec->nr_ofds; i++)
		if (rec->ofds[i].refs && rec->ofds[i].bound)
			devices = true;
	if (o->kind == KHO_RECORD_FD_VFIO_CDEV && o->bound) {
		/* the device held the context open; was it the last? */
		if (rec->ctx_ofd >= 0 && !rec->ofds[rec->ctx_ofd].refs &&
		    !devices) {
			kho_record_reset(rec);
			return;
		}
		if (kho_mdev_is(&o->mdev))
			kho_mdev_name(&o->mdev, name, sizeof(name));
		else
			kho_pci_name(&o->pci, name, sizeof(name));
		snprintf(why, sizeof(why),
			 "VFIO device %s (devid %u) was unbound by closing its fd: the journal has no record for unbind",
			 name, o->devid);
		kho_record_break(rec, why);
		o->bound = false;
	} else if (o->kind == KHO_RECORD_FD_IOMMUFD &&
		   o - rec->ofds == rec->ctx_ofd && !devices) {
		kho_record_reset(rec);
	}
}

void kho_record_fd_closed(struct kho_record *rec, int fd)
{
	kho_record_lock(rec);
	kho_record_drop_fd(rec, fd);
	kho_record_unlock(rec);
}

void kho_record_fd_dup(struct kho_record *rec, int oldfd, int newfd)
{
	struct kho_record_fdent *o, *n;

	if (oldfd == newfd || newfd < 0)
		return;
	kho_record_lock(rec);
	kho_record_drop_fd(rec, newfd);
	o = kho_record_fdent(rec, oldfd, false);
	if (o && o->ofd) {
		n = kho_record_fdent(rec, newfd, true);
		o = kho_record_fdent(rec, oldfd, false); /* fds moved */
		if (n) {
			n->ofd = o->ofd;
			n->memfd_token = o->memfd_token;
			rec->ofds[o->ofd - 1].refs++;
		}
	} else if (o && o->memfd_token) {
		n = kho_record_fdent(rec, newfd, true);
		o = kho_record_fdent(rec, oldfd, false);
		if (n)
			n->memfd_token = o->memfd_token;
	}
	kho_record_unlock(rec);
}

/*
 * @real over [@first, @last] less the recorder's own references, which
 * are never closed under it.  Return: 0 or @real's -1, errno kept.
 */
static int kho_record_close_range_locked(struct kho_record *rec,
					 unsigned int first, unsigned int last,
					 int flags,
					 int (*real)(unsigned int, unsigned int,
						     int))
{
	unsigned int fd, lo = first;
	int ret = 0;

	if (first > last)
		return real(first, last, flags);	/* EINVAL, as it says */
	for (fd = first; fd <= last && fd < rec->nr_fds; fd++) {
		if (!rec->fds[fd].internal)
			continue;
		if (lo < fd && real(lo, fd - 1, flags) < 0)
			return -1;
		lo = fd + 1;
	}
	/* lo > last: the range ended on a reference; lo == 0: it wrapped */
	if (lo <= last && lo >= first)
		ret = real(lo, last, flags);
	return ret;
}

int kho_record_close_range(struct kho_record *rec, unsigned int first,
			   unsigned int last, int flags,
			   int (*real)(unsigned int, unsigned int, int))
{
	unsigned int fd;
	int ret, err;

	kho_record_lock(rec);
	ret = kho_record_close_range_locked(rec, first, last, flags, real);
	err = errno;
	/*
	 * Forgotten only when every part closed: a part that failed with
	 * EINVAL (a flag the kernel does not know) closed nothing.
	 */
	if (!ret && !(flags & CLOSE_RANGE_CLOEXEC)) {
		for (fd = first; fd <= last && fd < rec->nr_fds; fd++)
			if (!rec->fds[fd].internal)
				kho_record_drop_fd(rec, fd);
	}
	kho_record_unlock(rec);
	errno = err;
	return ret;
}

/*
 * @fd becomes (or stops being) one of the recorder's own: whatever the
 * table knew of the number goes, since the file was opened past the
 * wrappers (socket(2)).
 */
void kho_record_fd_set_internal(struct kho_record *rec, int fd, bool internal)
{
	struct kho_record_fdent *e;

	kho_record_drop_fd(rec, fd);
	e = kho_record_fdent(rec, fd, internal);
	if (e)
		e->internal = internal;
}

bool kho_record_fd_internal(struct kho_record *rec, int fd)
{
	struct kho_record_fdent *e;
	bool ret;

	kho_record_lock(rec);
	e = kho_record_fdent(rec, fd, false);
	ret = e && e->internal;
	kho_record_unlock(rec);
	return ret;
}

/*
 * The device behind a VFIO cdev fd, read once from sysfs: a PCI function
 * (@pci, @mdev zeroed) or an mdev (@mdev, @pci zeroed).
 */
int kho_record_devfd_to_id(void *ctx, int devfd, struct kho_pci_id *pci,
			   struct kho_mdev_id *mdev, struct kho_diag *diag)
{
	struct kho_record *rec = ctx;
	struct kho_record_ofd *o = kho_record_classify(rec, devfd, NULL);
	char dir[96], target[256], *base;
	unsigned long vendor, device;
	struct kho_pci_id id;
	ssize_t n;
	int ret;

	if (!o || o->kind != KHO_RECORD_FD_VFIO_CDEV)
		return kho_diag_set(diag, -EINVAL,
				    "device fd %d: not a VFIO cdev", devfd);
	if (o->pci_known) {
		*pci = o->pci;
		*mdev = o->mdev;
		return 0;
	}
	snprintf(dir, sizeof(dir), "/sys/dev/char/%u:%u/device",
		 major(o->rdev), minor(o->rdev));
	n = readlink(dir, target, sizeof(target) - 1);
	if (n < 0)
		return kho_diag_set(diag, -ENOENT, "device fd %d: %s: %s",
				    devfd, dir, strerror(errno));
	target[n] = 0;
	base = strrchr(target, '/');
	base = base ? base + 1 : target;
	if (kho_pci_parse_name(base, &id)) {
		/* An mdev (mtty, a vGPU): its UUID, parent and type. */
		ret = kho_mdev_of_cdev("/sys", o->rdev, &o->mdev);
		if (ret == -ENODEV)
			return kho_diag_set(diag, -EOPNOTSUPP,
					    "device fd %d: %s is neither a PCI function nor an mdev: not recorded",
					    devfd, base);
		if (ret)
			return kho_diag_set(diag, ret,
					    "device fd %d: %s: reading its mdev identity: %s",
					    devfd, base, strerror(-ret));
		memset(&o->pci, 0, sizeof(o->pci));
		snprintf(o->driver, sizeof(o->driver), "%s", o->mdev.driver);
		o->pci_known = true;
		*pci = o->pci;
		*mdev = o->mdev;
		return 0;
	}
	ret = kho_pci_read_hex(dir, "vendor", &vendor);
	if (!ret)
		ret = kho_pci_read_hex(dir, "device", &device);
	if (ret)
		return kho_diag_set(diag, -ENOENT,
				    "device fd %d: %s: vendor/device: %s", devfd,
				    dir, strerror(-ret));
	o->pci = id;
	o->pci.vendor = vendor;
	o->pci.device = device;
	memset(&o->mdev, 0, sizeof(o->mdev));
	if (!kho_pci_read_driver(dir, target, sizeof(target)))
		snprintf(o->driver, sizeof(o->driver), "%.31s", target);
	o->pci_known = true;
	*pci = o->pci;
	*mdev = o->mdev;
	return 0;
}

int kho_record_devfd_to_devid(void *ctx, int devfd, uint32_t *devid,
			      struct kho_diag *diag)
{
	struct kho_record_ofd *o = kho_record_ofd_of(ctx, devfd);

	if (!o || !o->bound)
		return kho_diag_set(diag, -ENOENT,
				    "device fd %d: not bound to an iommufd", devfd);
	*devid = o->devid;
	return 0;
}
