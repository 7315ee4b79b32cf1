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
#include <assert.h>
#include "compat.h"
#include <linux/vfio.h>

#include "kjournal.h"
#include "mdev.h"
#include "migrec.h"
#include "state.h"
#include "verify.h"

/* The usable ranges are read as kho_iova_range: the same two u64. */
static_assert(sizeof(struct iommu_iova_range) == sizeof(struct kho_iova_range),
	      "iommu_iova_range layout");

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

/*
 * What IOMMU_IOAS_IOVA_RANGES reports is not the allow list.  In 7.2 it
 * walks the holes of the *reserved* tree from 0 to ULONG_MAX
 * (drivers/iommu/iommufd/ioas.c:87-104): the IOVA space no device's
 * reserved region or domain aperture excludes.  An IOAS with no device
 * reports 0-0xffffffffffffffff whatever ALLOW_IOVAS set.  The allow list
 * and the reserved regions exclude each other: ALLOW_IOVAS fails with
 * EADDRINUSE on a range that meets a reserved region
 * (io_pagetable.c:869-888), and so does reserving a region that meets an
 * allowed one, at attach (io_pagetable.c:890-899).  So each recorded
 * allowed range must lie inside one usable range; anything else means
 * the rebuilt IOAS is not the recorded one.
 */
int kho_verify_allowed(const struct kho_ioas *ioas,
		       const struct kho_iova_range *usable, uint32_t nr_usable,
		       struct kho_diag *diag)
{
	uint32_t i, j;

	for (i = 0; i < ioas->nr_allowed; i++) {
		const struct kho_iova_range *a = &ioas->allowed[i];

		for (j = 0; j < nr_usable; j++)
			if (a->start >= usable[j].start &&
			    a->last <= usable[j].last)
				break;
		if (j == nr_usable)
			return kho_diag_set(diag, -EBADMSG,
					    "allowed range 0x%llx-0x%llx meets a reserved region: the kernel's usable IOVA ranges do not cover it",
					    (unsigned long long)a->start,
					    (unsigned long long)a->last);
	}
	return 0;
}

/* ALIGN_UP that saturates: ~0 means "no such page". */
static uint64_t align_up(uint64_t x, uint64_t page)
{
	return x > UINT64_MAX - (page - 1) ? UINT64_MAX :
					      (x + page - 1) & ~(page - 1);
}

/*
 * The lowest @page-aligned page at or above @c inside [@c, @last] that is
 * in a usable range and overlaps no recorded mapping; UINT64_MAX if none.
 */
static uint64_t first_free(uint64_t c, uint64_t last, uint64_t page,
			   const struct kho_iova_range *usable, uint32_t nr,
			   const struct kho_ioas *ioas)
{
	size_t m = 0;
	uint32_t u = 0;

	for (c = align_up(c, page); c != UINT64_MAX && c <= last &&
				    last - c >= page - 1;) {
		uint64_t end = c + page - 1;

		/* Usable ranges come sorted, as the kernel walks its tree. */
		while (u < nr && usable[u].last < c)
			u++;
		if (u == nr)
			return UINT64_MAX;
		if (usable[u].start > c) {
			c = align_up(usable[u].start, page);
			continue;
		}
		if (usable[u].last < end) {
			c = usable[u].last == UINT64_MAX ? UINT64_MAX :
				align_up(usable[u].last + 1, page);
			continue;
		}
		/* Mappings are sorted by IOVA and do not overlap (kho.h). */
		while (m < ioas->nr_maps &&
		       ioas->maps[m].iova + ioas->maps[m].length - 1 < c)
			m++;
		if (m < ioas->nr_maps && ioas->maps[m].iova <= end) {
			c = align_up(ioas->maps[m].iova + ioas->maps[m].length,
				     page);
			continue;
		}
		return c;
	}
	return UINT64_MAX;
}

static int range_cmp(const void *a, const void *b)
{
	const struct kho_iova_range *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/*
 * The allow list itself is visible through one path only: automatic IOVA
 * allocation.  A MAP with FIXED_IOVA goes through iopt_check_iova()
 * (io_pagetable.c:183-204, called at :302), which checks alignment,
 * reserved regions and existing areas but never the allow list, so a
 * fixed map just outside an allowed range, or in a hole between two,
 * succeeds: probing that proves nothing.  iopt_alloc_iova()
 * (io_pagetable.c:120-181) instead walks the allowed ranges, touching
 * ones merged, clipped to [PAGE_SIZE, ULONG_MAX - PAGE_SIZE] (all of it
 * when the list is empty), and returns the lowest aligned hole of the
 * reserved regions and areas inside them.  For one page of a file at
 * offset 0 the alignment is that page (roundup_pow_of_two(length),
 * io_pagetable.c:139-151), so the answer is the lowest free page of the
 * allow list: this computes it from the record.  x86's PAGE_SIZE (4 KiB)
 * is assumed, as everywhere in the rig.
 *
 * Return: 0 with *@iova set, -ENOSPC when the kernel must refuse, or
 * -ENOMEM.
 */
int kho_verify_auto_iova(const struct kho_ioas *ioas,
			 const struct kho_iova_range *usable, uint32_t nr_usable,
			 uint64_t page, uint64_t *iova)
{
	const uint64_t lo = 4096, hi = UINT64_MAX - 4096;
	struct kho_iova_range all = { lo, hi }, *spans = &all;
	uint32_t nr = 1, i, n = 0;
	uint64_t c = UINT64_MAX;

	if (ioas->nr_allowed) {
		spans = malloc(ioas->nr_allowed * sizeof(*spans));
		if (!spans)
			return -ENOMEM;
		memcpy(spans, ioas->allowed, ioas->nr_allowed * sizeof(*spans));
		qsort(spans, ioas->nr_allowed, sizeof(*spans), range_cmp);
		/* interval_tree_span_iter joins overlapping and touching ones. */
		for (i = 0; i < ioas->nr_allowed; i++) {
			if (n && (spans[i].start <= spans[n - 1].last ||
				  spans[i].start == spans[n - 1].last + 1)) {
				if (spans[i].last > spans[n - 1].last)
					spans[n - 1].last = spans[i].last;
				continue;
			}
			spans[n++] = spans[i];
		}
		nr = n;
	}
	for (i = 0; i < nr && c == UINT64_MAX; i++) {
		uint64_t s = spans[i].start < lo ? lo : spans[i].start;
		uint64_t l = spans[i].last > hi ? hi : spans[i].last;

		if (s > hi || l < lo || s > l)
			continue;
		c = first_free(s, l, page, usable, nr_usable, ioas);
	}
	if (spans != &all)
		free(spans);
	if (c == UINT64_MAX)
		return -ENOSPC;
	*iova = c;
	return 0;
}

/*
 * Asks the kernel where a one-page automatic map of a retrieved memfd
 * lands and compares with kho_verify_auto_iova().  The probe is unmapped
 * again whatever it shows: the IOAS is left as the replay built it.
 */
static int probe_allowed(int iommufd, uint32_t ioas_id,
			 const struct kho_ioas *ioas,
			 const struct iommu_iova_range *usable, uint32_t nr,
			 uint64_t align, const struct kho_replay_memfd *memfds,
			 size_t nr_memfds, struct kho_verify_report *rep,
			 struct kho_diag *diag)
{
	struct iommu_ioas_map_file arg = {
		.size = sizeof(arg),
		.flags = IOMMU_IOAS_MAP_READABLE,
		.ioas_id = ioas_id,
		.length = 4096,
	};
	struct iommu_ioas_unmap unmap = { .size = sizeof(unmap),
					  .ioas_id = ioas_id, .length = 4096 };
	uint64_t want = 0;
	struct stat st;
	size_t i;
	int err, want_err;

	/*
	 * A larger IOVA alignment than a page (a domain with bigger pages)
	 * makes the kernel refuse a one-page automatic map with EINVAL
	 * before it looks at the allow list (io_pagetable.c:153): nothing
	 * to learn there, and the range check above still holds.
	 */
	if (align > 4096)
		return 0;
	arg.fd = -1;
	for (i = 0; i < nr_memfds; i++)
		if (!fstat(memfds[i].fd, &st) && st.st_size >= 4096) {
			arg.fd = memfds[i].fd;
			break;
		}
	if (arg.fd < 0)
		return 0;
	want_err = kho_verify_auto_iova(ioas,
					(const struct kho_iova_range *)usable,
					nr, 4096, &want);
	if (want_err == -ENOMEM)
		return kho_diag_set(diag, -ENOMEM, "allowed ranges: %s",
				    kho_errno_name(-ENOMEM));
	rep->allowed_probes++;
	if (ioctl(iommufd, IOMMU_IOAS_MAP_FILE, &arg) < 0) {
		err = -errno;
		if (err == want_err)
			return 0;
		if (want_err)
			return kho_diag_set(diag, err,
					    "allowed ranges: a one-page automatic map failed with %s, the record expects %s",
					    kho_errno_name(err),
					    kho_errno_name(want_err));
		return kho_diag_set(diag, err == -ENOSPC ? -EBADMSG : err,
				    "allowed ranges: a one-page automatic map failed with %s, the recorded allowed ranges put it at 0x%llx",
				    kho_errno_name(err),
				    (unsigned long long)want);
	}
	unmap.iova = arg.iova;
	if (ioctl(iommufd, IOMMU_IOAS_UNMAP, &unmap) < 0) {
		err = -errno;
		return kho_diag_set(diag, err,
				    "allowed ranges: unmap the automatic probe at 0x%llx: %s (the IOAS now holds an extra page)",
				    (unsigned long long)arg.iova,
				    kho_errno_name(err));
	}
	if (want_err)
		return kho_diag_set(diag, -EBADMSG,
				    "allowed ranges: a one-page automatic map landed at 0x%llx, the recorded allowed ranges leave no free page",
				    (unsigned long long)arg.iova);
	if (arg.iova != want)
		return kho_diag_set(diag, -EBADMSG,
				    "allowed ranges: a one-page automatic map landed at 0x%llx, the recorded allowed ranges put it at 0x%llx",
				    (unsigned long long)arg.iova,
				    (unsigned long long)want);
	return 0;
}

/*
 * The IOVA a poisoned range would have had next to mapping @m (its
 * memfd piece just before or just after the range), or -1: no piece.
 */
static int64_t hole_iova(const struct kho_mapping *m, const struct kho_poison *p)
{
	if (m->memfd_token != p->memfd_token)
		return -1;
	if (m->offset + m->length == p->offset)
		return (int64_t)(m->iova + m->length);
	if (m->offset == p->offset + p->length && m->iova >= p->length)
		return (int64_t)(m->iova - p->length);
	return -1;
}

/*
 * The replay left each poisoned range unmapped: where a cut mapping's
 * pieces meet the range, a MAP_FILE of it at that IOVA must land (and is
 * undone).  A device DMA there then takes an IOMMU fault.
 */
static int verify_holes(struct kho_replay *r, const struct kho_handoff *h,
			const struct kho_ioas *ioas, uint32_t new_id,
			const struct kho_replay_memfd *memfds, size_t nr_memfds,
			struct kho_verify_report *rep, struct kho_diag *diag)
{
	size_t i, k;
	int err;

	for (i = 0; i < h->nr_poison; i++) {
		const struct kho_poison *p = &h->poison[i];
		int fd = -1;

		for (k = 0; k < ioas->nr_maps; k++) {
			int64_t iova = hole_iova(&ioas->maps[k], p);

			if (iova < 0)
				continue;
			if (fd < 0)
				fd = kho_replay_memfd_find(memfds, nr_memfds,
							   p->memfd_token);
			if (fd < 0)
				return kho_diag_set(diag, -ENOENT,
						    "verify: IOAS %u: poisoned memfd token %llu not retrieved",
						    ioas->id,
						    (unsigned long long)p->memfd_token);
			err = probe(r->iommufd, new_id, fd, (uint64_t)iova,
				    p->offset, p->length);
			rep->holes++;
			if (err != -ENOENT)
				return kho_diag_set(diag, err ? err : -EEXIST,
						    "verify: IOAS %u (now %u): poisoned memfd token %llu 0x%llx+0x%llx: IOVA 0x%llx %s",
						    ioas->id, new_id,
						    (unsigned long long)p->memfd_token,
						    (unsigned long long)p->offset,
						    (unsigned long long)p->length,
						    (unsigned long long)iova,
						    err ? kho_errno_name(err) :
						    "is mapped: the hole is not a hole");
		}
	}
	return 0;
}

static int verify_ioas(struct kho_replay *r, const struct kho_handoff *h,
		       const struct kho_ioas *ioas,
		       const struct kho_replay_memfd *memfds, size_t nr_memfds,
		       int mode, int *journaled, struct kho_verify_report *rep,
		       struct kho_diag *diag)
{
	struct kho_kjournal_status st;
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

	if (ioas->nr_allowed) {
		err = kho_verify_allowed(ioas,
					 (const struct kho_iova_range *)ranges,
					 nr, diag);
		/*
		 * An iommufd the kernel journals (patches/) would record the
		 * probe's map and unmap, which the adopting VMM's recorder
		 * never made: its next capture would then differ from the
		 * kernel's journal and be refused.  There the probe is left
		 * out; on the kernel path the kernel itself matched the
		 * ALLOW_IOVAS record, ranges included.
		 */
		if (*journaled < 0)
			*journaled = !kho_kjournal_status(r->iommufd, false,
							  &st);
		if (!err && !*journaled)
			err = probe_allowed(r->iommufd, new_id, ioas, ranges,
					    nr, align, memfds, nr_memfds, rep,
					    diag);
		if (err) {
			/* Name the rebuilt ID too: the operator looks it up. */
			if (diag)
				kho_diag_set(diag, err,
					     "verify: IOAS %u (now %u): %s",
					     ioas->id, new_id, diag->msg);
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
	/* Probing would put a map and unmap into a kernel's journal. */
	if (h->nr_poison && *journaled < 0)
		*journaled = !kho_kjournal_status(r->iommufd, false, &st);
	if (h->nr_poison && !*journaled) {
		err = verify_holes(r, h, ioas, new_id, memfds, nr_memfds, rep,
				   diag);
		if (err)
			goto out;
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
	char path[160], buf[256], sysname[KHO_MDEV_UUID_LEN];
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
	/* the sysfs name: a PCI address, or an mdev's UUID */
	if (strcmp(base, kho_device_sysname(&sdev->pci, &sdev->mdev, sysname,
					    sizeof(sysname))))
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
	char addr[KHO_DEVICE_LABEL_LEN];
	uint32_t hwpt;
	int err;

	kho_device_label(&sdev->pci, &sdev->mdev, addr, sizeof(addr));
	if (!dev || dev->fd < 0)
		return kho_diag_set(diag, -ENOENT,
				    "verify: device %s (devid %u): recorded but not bound",
				    addr, sdev->id);
	if (memcmp(&dev->pci, &sdev->pci, sizeof(dev->pci)) ||
	    memcmp(dev->mdev.uuid, sdev->mdev.uuid, sizeof(dev->mdev.uuid)))
		return kho_diag_set(diag, -ENODEV,
				    "verify: device %s: bound as a different device",
				    addr);
	err = verify_held_identity(r, sdev, dev, addr, diag);
	if (err)
		return err;
	info.dev_id = dev->new_id;
	/*
	 * An mdev is bound as an iommufd access, not a device object, which
	 * IOMMU_GET_HW_INFO does not know (ENOENT): its binding is proven
	 * by the ATTACH the replay made on it, checked below.
	 */
	if (!kho_mdev_is(&sdev->mdev) &&
	    ioctl(r->iommufd, IOMMU_GET_HW_INFO, &info) < 0) {
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
	int err = 0, journaled = -1;	/* by the kernel: not asked yet */

	if (!rep)
		rep = &local;
	memset(rep, 0, sizeof(*rep));
	for (i = 0; !err && i < h->state.nr_ioas; i++)
		err = verify_ioas(r, h, &h->state.ioas[i], memfds, nr_memfds,
				  mode, &journaled, rep, diag);
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

int kho_verify_devstate(const struct kho_handoff *h, uint32_t dev_id,
			struct kho_devstate *ds, int memfd,
			struct kho_diag *diag)
{
	const struct kho_device *d = kho_state_find_dev(&h->state, dev_id);
	const struct kho_device_state *st = d ? &d->saved : NULL;
	const struct kho_rec *last;
	struct kho_diag why = { "" };
	uint64_t length;
	uint32_t state;
	size_t nr;
	int err;

	if (!st || !st->present)
		return kho_diag_set(diag, -ENOENT,
				    "verify: device %u: state: the hand-off carries none",
				    dev_id);
	last = kho_migrec_find(&h->replay, dev_id, &nr);
	length = last ? last->mig_state.length : st->length;
	err = kho_devstate_get(ds, &state);
	if (err)
		return kho_diag_set(diag, err,
				    "verify: device %u: state: VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE GET: %s",
				    dev_id, kho_errno_name(err));
	if (state != VFIO_DEVICE_STATE_RUNNING)
		return kho_diag_set(diag, -EILSEQ,
				    "verify: device %u: state: reads %s, RUNNING expected",
				    dev_id, kho_devstate_name(state));
	if (ds->length != length || ds->crc32 != st->crc32)
		return kho_diag_set(diag, -EBADMSG,
				    "verify: device %u: bytes written: %llu with crc32 0x%08x, the %s says %llu with crc32 0x%08x",
				    dev_id, (unsigned long long)ds->length,
				    ds->crc32,
				    last ? "DEVICE_MIG_STATE record" : "device-state node",
				    (unsigned long long)length, st->crc32);
	err = kho_devstate_memfd_check(memfd, length, st->crc32, &why);
	if (err)
		return kho_diag_set(diag, err, "verify: device %u: memfd token %llu: %s",
				    dev_id, (unsigned long long)st->memfd_token,
				    why.msg);
	return 0;
}
