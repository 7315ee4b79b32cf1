// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The kernel journal: reads IOMMU_JOURNAL_READ (patches/) and converts the
 * kernel's records to struct kho_rec.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../include/kho-patched/linux/iommufd_journal.h"
#include "journal.h"
#include "kjournal.h"
#include "pci.h"
#include "proc.h"

_Static_assert((int)IOMMU_JOURNAL_OP_IOAS_ALLOC == (int)KHO_OP_IOAS_ALLOC &&
	       (int)IOMMU_JOURNAL_OP_IOAS_MAP_FILE == (int)KHO_OP_IOAS_MAP_FILE &&
	       (int)IOMMU_JOURNAL_OP_DEVICE_DETACH == (int)KHO_OP_DEVICE_DETACH,
	       "the kernel journal uses the canonical op numbers");

static int journal_ioctl(int iommufd, struct iommu_journal_read *cmd)
{
	cmd->size = sizeof(*cmd);
	return ioctl(iommufd, IOMMU_JOURNAL_READ, cmd) ? -errno : 0;
}

int kho_kjournal_status(int iommufd, bool expected,
			struct kho_kjournal_status *st)
{
	struct iommu_journal_read cmd = {
		.flags = expected ? IOMMU_JOURNAL_READ_EXPECTED : 0,
	};
	int ret = journal_ioctl(iommufd, &cmd);

	/* A vanilla iommufd has no such ioctl: ENOTTY (ENOIOCTLCMD) */
	if (ret)
		return ret;
	st->total = cmd.out_total;
	st->state = cmd.out_state;
	st->flags = cmd.out_flags;
	st->matched = cmd.out_matched;
	return 0;
}

bool kho_kjournal_available(void)
{
	struct kho_kjournal_status st;
	int fd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
	bool ok;

	if (fd < 0)
		return false;
	ok = kho_kjournal_status(fd, false, &st) == 0;
	close(fd);
	return ok;
}

/* Smallest length of each op's record in the kernel's journal; 0: an op
 * the kernel does not journal. */
static const size_t kj_min_len[] = {
	[IOMMU_JOURNAL_OP_IOAS_ALLOC] = sizeof(struct iommu_journal_ioas_alloc),
	[IOMMU_JOURNAL_OP_DESTROY] = sizeof(struct iommu_journal_destroy),
	[IOMMU_JOURNAL_OP_IOAS_ALLOW_IOVAS] = sizeof(struct iommu_journal_allow_iovas),
	[IOMMU_JOURNAL_OP_IOAS_MAP_FILE] = sizeof(struct iommu_journal_map_file),
	[IOMMU_JOURNAL_OP_IOAS_COPY] = sizeof(struct iommu_journal_copy),
	[IOMMU_JOURNAL_OP_IOAS_UNMAP] = sizeof(struct iommu_journal_unmap),
	[IOMMU_JOURNAL_OP_OPTION] = sizeof(struct iommu_journal_option),
	[IOMMU_JOURNAL_OP_HWPT_ALLOC] = sizeof(struct iommu_journal_hwpt_alloc),
	[IOMMU_JOURNAL_OP_HWPT_SET_DIRTY_TRACKING] =
		sizeof(struct iommu_journal_dirty_tracking),
	[IOMMU_JOURNAL_OP_DEVICE_BIND] = sizeof(struct iommu_journal_bind),
	[IOMMU_JOURNAL_OP_DEVICE_ATTACH] = sizeof(struct iommu_journal_attach),
	[IOMMU_JOURNAL_OP_DEVICE_DETACH] = sizeof(struct iommu_journal_detach),
};

static size_t min_len(uint16_t op)
{
	return op < sizeof(kj_min_len) / sizeof(kj_min_len[0]) ?
	       kj_min_len[op] : 0;
}

int kho_kjournal_rec_to_kho(const void *buf, size_t len,
			    kho_kjournal_ino_fn ino_to_token, void *ctx,
			    struct kho_rec *out, size_t *used,
			    struct kho_diag *diag)
{
	struct iommu_journal_hdr hdr;
	size_t need;
	int ret;

	if (len < sizeof(hdr))
		return kho_diag_set(diag, -EBADMSG,
				    "kernel journal: %zu bytes left, no record header",
				    len);
	memcpy(&hdr, buf, sizeof(hdr));
	need = min_len(hdr.op);
	if (!need)
		return kho_diag_set(diag, -EOPNOTSUPP,
				    "kernel journal: unknown op %u", hdr.op);
	/* 0006 of the series grew the bind by an mdev's UUID (v2) */
	if (hdr.op == IOMMU_JOURNAL_OP_DEVICE_BIND &&
	    hdr.len == offsetof(struct iommu_journal_bind, uuid))
		return kho_diag_set(diag, -EPROTONOSUPPORT,
				    "kernel journal: op %u: a bind of %u bytes, the layout of iommufd-journal-v1: the running kernel carries an older patches/ series, and this kho-tool reads " KHO_KJOURNAL_LUO_COMPATIBLE " only (--userspace-journal leaves the kernel's journal out)",
				    hdr.op, hdr.len);
	if (hdr.len < need || hdr.len > len || hdr.len % 8)
		return kho_diag_set(diag, -EBADMSG,
				    "kernel journal: op %u: bad length %u (%zu left)",
				    hdr.op, hdr.len, len);
	if (hdr.flags & IOMMU_JOURNAL_REC_NOT_CARRIED)
		return kho_diag_set(diag, -EOPNOTSUPP,
				    "kernel journal: op %u: backing cannot cross kexec (not a memfd or not PCI)",
				    hdr.op);

	memset(out, 0, sizeof(*out));
	out->op = hdr.op;
	switch (hdr.op) {
	case IOMMU_JOURNAL_OP_IOAS_ALLOC: {
		const struct iommu_journal_ioas_alloc *r = buf;

		out->ioas_alloc.flags = r->flags;
		out->ioas_alloc.out_ioas_id = r->out_ioas_id;
		break;
	}
	case IOMMU_JOURNAL_OP_DESTROY:
		out->destroy.id = ((const struct iommu_journal_destroy *)buf)->id;
		break;
	case IOMMU_JOURNAL_OP_IOAS_ALLOW_IOVAS: {
		const struct iommu_journal_allow_iovas *r = buf;
		size_t bytes = (size_t)r->num_iovas * sizeof(r->iovas[0]);

		if (hdr.len != sizeof(*r) + bytes)
			return kho_diag_set(diag, -EBADMSG,
					    "kernel journal: ALLOW_IOVAS: %u ranges in %u bytes",
					    r->num_iovas, hdr.len);
		out->allow_iovas.ioas_id = r->ioas_id;
		out->allow_iovas.num_iovas = r->num_iovas;
		if (bytes) {
			out->allow_iovas.iovas = malloc(bytes);
			if (!out->allow_iovas.iovas)
				return -ENOMEM;
			memcpy(out->allow_iovas.iovas, r->iovas, bytes);
		}
		break;
	}
	case IOMMU_JOURNAL_OP_IOAS_MAP_FILE: {
		const struct iommu_journal_map_file *r = buf;
		uint64_t token = r->file_ino;

		if (ino_to_token) {
			ret = ino_to_token(ctx, r->file_ino, &token);
			if (ret)
				return kho_diag_set(diag, ret,
						    "kernel journal: IOAS %u: map 0x%llx+0x%llx: no preserved memfd for inode %llu",
						    r->ioas_id,
						    (unsigned long long)r->iova,
						    (unsigned long long)r->length,
						    (unsigned long long)r->file_ino);
		}
		out->map.flags = r->flags;
		out->map.ioas_id = r->ioas_id;
		out->map.memfd_token = token;
		out->map.offset = r->start;
		out->map.length = r->length;
		out->map.iova = r->iova;
		break;
	}
	case IOMMU_JOURNAL_OP_IOAS_COPY: {
		const struct iommu_journal_copy *r = buf;

		out->copy.flags = r->flags;
		out->copy.dst_ioas_id = r->dst_ioas_id;
		out->copy.src_ioas_id = r->src_ioas_id;
		out->copy.length = r->length;
		out->copy.dst_iova = r->dst_iova;
		out->copy.src_iova = r->src_iova;
		break;
	}
	case IOMMU_JOURNAL_OP_IOAS_UNMAP: {
		const struct iommu_journal_unmap *r = buf;

		out->unmap.ioas_id = r->ioas_id;
		out->unmap.iova = r->iova;
		out->unmap.length = r->length;
		out->unmap.out_length = r->out_length;
		break;
	}
	case IOMMU_JOURNAL_OP_OPTION: {
		const struct iommu_journal_option *r = buf;

		out->option.option_id = r->option_id;
		out->option.op = r->op;
		out->option.object_id = r->object_id;
		out->option.val64 = r->val64;
		break;
	}
	case IOMMU_JOURNAL_OP_HWPT_ALLOC: {
		const struct iommu_journal_hwpt_alloc *r = buf;

		if (hdr.len != ((sizeof(*r) + r->data_len + 7) & ~7ul))
			return kho_diag_set(diag, -EBADMSG,
					    "kernel journal: HWPT_ALLOC: %u data bytes in %u",
					    r->data_len, hdr.len);
		out->hwpt_alloc.flags = r->flags;
		out->hwpt_alloc.dev_id = r->dev_id;
		out->hwpt_alloc.pt_id = r->pt_id;
		out->hwpt_alloc.out_hwpt_id = r->out_hwpt_id;
		out->hwpt_alloc.data_type = r->data_type;
		out->hwpt_alloc.data_len = r->data_len;
		out->hwpt_alloc.fault_id = r->fault_id;
		if (r->data_len) {
			out->hwpt_alloc.data = malloc(r->data_len);
			if (!out->hwpt_alloc.data)
				return -ENOMEM;
			memcpy(out->hwpt_alloc.data, r->data, r->data_len);
		}
		break;
	}
	case IOMMU_JOURNAL_OP_HWPT_SET_DIRTY_TRACKING: {
		const struct iommu_journal_dirty_tracking *r = buf;

		out->dirty_tracking.flags = r->flags;
		out->dirty_tracking.hwpt_id = r->hwpt_id;
		break;
	}
	case IOMMU_JOURNAL_OP_DEVICE_BIND: {
		const struct iommu_journal_bind *r = buf;

		out->bind.pci.segment = r->segment;
		out->bind.pci.bus = r->bus;
		out->bind.pci.devfn = r->devfn;
		out->bind.pci.vendor = r->vendor;
		out->bind.pci.device = r->device;
		out->bind.flags = r->flags;
		out->bind.out_devid = r->out_dev_id;
		if (hdr.flags & IOMMU_JOURNAL_REC_EMULATED)
			memcpy(out->bind.mdev_uuid, r->uuid,
			       sizeof(out->bind.mdev_uuid));
		break;
	}
	case IOMMU_JOURNAL_OP_DEVICE_ATTACH: {
		const struct iommu_journal_attach *r = buf;

		out->attach.dev_id = r->dev_id;
		out->attach.flags = r->flags;
		out->attach.pasid = r->pasid;
		out->attach.pt_id = r->pt_id;
		out->attach.out_hwpt_id = r->out_hwpt_id;
		break;
	}
	case IOMMU_JOURNAL_OP_DEVICE_DETACH: {
		const struct iommu_journal_detach *r = buf;

		out->detach.dev_id = r->dev_id;
		out->detach.flags = r->flags;
		out->detach.pasid = r->pasid;
		break;
	}
	}
	*used = hdr.len;
	return 0;
}

int kho_kjournal_read(int iommufd, bool expected,
		      kho_kjournal_ino_fn ino_to_token, void *ctx,
		      struct kho_journal *out, struct kho_kjournal_status *st,
		      struct kho_diag *diag)
{
	struct iommu_journal_read cmd;
	size_t cap = 64 * 1024;
	uint32_t start = 0;
	unsigned char *buf;
	int ret = 0;

	buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		size_t pos = 0;
		uint32_t i;

		cmd = (struct iommu_journal_read){
			.flags = expected ? IOMMU_JOURNAL_READ_EXPECTED : 0,
			.start = start, .buf_len = cap,
			.buf_uptr = (uintptr_t)buf,
		};
		ret = journal_ioctl(iommufd, &cmd);
		if (ret == -EMSGSIZE && cmd.out_buf_len > cap) {
			unsigned char *bigger = realloc(buf, cmd.out_buf_len);

			if (!bigger) {
				ret = -ENOMEM;
				break;
			}
			buf = bigger;
			cap = cmd.out_buf_len;
			continue;
		}
		if (ret) {
			kho_diag_set(diag, ret, "kernel journal: IOMMU_JOURNAL_READ from record %u: %s",
				     start, strerror(-ret));
			break;
		}
		for (i = 0; i < cmd.out_num_records; i++) {
			struct kho_rec rec;
			size_t used = 0;

			ret = kho_kjournal_rec_to_kho(buf + pos,
						      cmd.out_buf_len - pos,
						      ino_to_token, ctx, &rec,
						      &used, diag);
			if (ret)
				goto out;
			ret = kho_journal_append(out, &rec);
			kho_rec_release(&rec);
			if (ret)
				goto out;
			pos += used;
		}
		start += cmd.out_num_records;
		if (!cmd.out_num_records || start >= cmd.out_total)
			break;
	}
out:
	if (!ret && st) {
		st->total = cmd.out_total;
		st->state = cmd.out_state;
		st->flags = cmd.out_flags;
		st->matched = cmd.out_matched;
	}
	free(buf);
	return ret;
}

/*
 * The recorder's records the kernel journals too: all but a device's
 * DEVICE_MIG_STATE arcs, which kho-tool writes itself and no kernel
 * journal (patches/) has.  Copied, so that the indexes below are the
 * kernel's.
 */
static int kernel_journalled(const struct kho_journal *user,
			     struct kho_journal *out)
{
	size_t i;

	out->recs = malloc((user->nr ? user->nr : 1) * sizeof(*out->recs));
	if (!out->recs)
		return -ENOMEM;
	out->nr = 0;
	for (i = 0; i < user->nr; i++)
		if (user->recs[i].op != KHO_OP_DEVICE_MIG_STATE)
			out->recs[out->nr++] = user->recs[i];
	return 0;
}

int kho_kjournal_compare(const struct kho_journal *kernel,
			 const struct kho_journal *all, struct kho_diag *diag)
{
	struct kho_journal view = { 0 }, *user = &view;
	char k[256], u[256];
	size_t i, n;
	int err;

	err = kernel_journalled(all, &view);
	if (err)
		return kho_diag_set(diag, err, "kernel journal: %zu records: ENOMEM",
				    all->nr);
	n = kernel->nr < user->nr ? kernel->nr : user->nr;
	/*
	 * Both sides are canonical records of the same ioctls, so the
	 * formatted record (every field kho-tool replays) is the comparison.
	 */
	for (i = 0; i < n; i++) {
		const struct kho_rec *kr = &kernel->recs[i];

		kho_rec_format(kr, k, sizeof(k));
		kho_rec_format(&user->recs[i], u, sizeof(u));
		if (strcmp(k, u)) {
			err = kho_diag_set(diag, -EILSEQ,
					   "kernel journal: record %zu differs: kernel has \"%s\", the recorder has \"%s\" (one side missed or misrecorded a call: the target verifies the replay against the kernel's journal, so the upgrade stops; --userspace-journal uses the recorder's record, unverified)",
					   i, k, u);
			goto out;
		}
	}
	if (kernel->nr == user->nr)
		goto out;
	if (kernel->nr > user->nr) {
		kho_rec_format(&kernel->recs[n], k, sizeof(k));
		err = kho_diag_set(diag, -EILSEQ,
				   "kernel journal: record %zu differs: kernel has \"%s\", the recorder stops at %zu records (one side missed or misrecorded a call: the target verifies the replay against the kernel's journal, so the upgrade stops; --userspace-journal uses the recorder's record, unverified)",
				   n, k, user->nr);
		goto out;
	}
	kho_rec_format(&user->recs[n], u, sizeof(u));
	err = kho_diag_set(diag, -EILSEQ,
			   "kernel journal: record %zu differs: the kernel stops at %zu records, the recorder has \"%s\" (one side missed or misrecorded a call: the target verifies the replay against the kernel's journal, so the upgrade stops; --userspace-journal uses the recorder's record, unverified)",
			   n, kernel->nr, u);
out:
	free(view.recs);	/* shallow: the records are @all's */
	return err;
}

bool kho_is_iommufd_link(const char *link)
{
	return !strcmp(link, "/dev/iommu") ||
	       !strcmp(link, "anon_inode:[iommufd]");
}

struct iommufd_scan {
	int found;
	int nr;
};

static int note_iommufd(void *ctx, int fd, const char *path)
{
	struct iommufd_scan *scan = ctx;
	char link[64];
	ssize_t n = readlink(path, link, sizeof(link) - 1);

	if (n < 0)
		return 0;	/* closed meanwhile */
	link[n] = '\0';
	if (kho_is_iommufd_link(link)) {
		scan->found = fd;
		scan->nr++;
	}
	return 0;
}

int kho_kjournal_pid_iommufd(pid_t pid, struct kho_diag *diag)
{
	struct iommufd_scan scan = { -1, 0 };
	int pidfd, fd, err;

	err = kho_proc_each_fd(pid, note_iommufd, &scan);
	if (err)
		return kho_diag_set(diag, err, "kernel journal: VMM %d: /proc/%d/fd: %s",
				    (int)pid, (int)pid, strerror(-err));
	if (!scan.nr)
		return kho_diag_set(diag, -ENOENT,
				    "kernel journal: VMM %d holds no iommufd", (int)pid);
	if (scan.nr > 1)
		return kho_diag_set(diag, -ENOTUNIQ,
				    "kernel journal: VMM %d holds %d iommufds: which one the recorder journals is not known",
				    (int)pid, scan.nr);
	pidfd = syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0)
		return kho_diag_set(diag, -errno, "kernel journal: VMM %d: pidfd_open: %s",
				    (int)pid, strerror(errno));
	fd = syscall(SYS_pidfd_getfd, pidfd, scan.found, 0);
	err = fd < 0 ? -errno : 0;
	close(pidfd);
	if (err)
		return kho_diag_set(diag, err, "kernel journal: VMM %d: pidfd_getfd of iommufd %d: %s",
				    (int)pid, scan.found, strerror(-err));
	return fd;
}
