// SPDX-License-Identifier: GPL-2.0
/*
 * Guest-side tests of the kernel series in patches/ (the iommufd journal,
 * its LUO file handler and the replay verification), written in the style
 * of tools/testing/selftests/iommu/iommufd.c: one plain function per ioctl
 * returning the raw result, _ok and _err wrappers, a length test for the
 * size-prefixed struct, and a fail_nth sweep.
 *
 * usage: iommufd_journal basic     recording, readout, length rules, LUO
 *                                  preserve refusal (one boot)
 *        iommufd_journal failnth   fault-injection sweep of the new paths
 *        iommufd_journal stage1    build a known state, preserve it, hold
 *                                  the session ("ready pid=") for kexec
 *        iommufd_journal stage2    after kexec: deviating replays rejected,
 *                                  the matching replay accepted, FINISH
 * Output is TAP-like: "ok N name" / "not ok N name: why"; exit 0 only if
 * every test passed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/iommufd.h>
#include <linux/liveupdate.h>
/* The 7.2 uapi vfio.h uses it; the host's compiler headers may not have it */
#ifndef __counted_by
#define __counted_by(m)
#endif
#include <linux/vfio.h>

#include "linux/iommufd_journal.h"
#include "iommufd_test.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MEMFD_SIZE (4UL << 20)
#define IOVA_FILE 0x100000UL
#define IOVA_VA 0x400000UL
#define LEN_FILE (2UL << 20)
#define LEN_VA (1UL << 20)
#define ALLOW_START 0x100000UL
#define ALLOW_LAST 0x0fffffffUL
#define SESSION "kjournal"
#define TOKEN_MEMFD 1
#define TOKEN_IOMMUFD 2

static int failures;
static int test_nr;
static char why[512];

#define FAIL(...)                                                              \
	do {                                                                   \
		snprintf(why, sizeof(why), __VA_ARGS__);                        \
		return -1;                                                     \
	} while (0)

#define ASSERT_EQ(_exp, _got)                                                  \
	do {                                                                   \
		long long _e = (long long)(_exp), _g = (long long)(_got);      \
		if (_e != _g)                                                  \
			FAIL("line %d: %s: expected %lld (0x%llx), got %lld (0x%llx)", \
			     __LINE__, #_got, _e, (unsigned long long)_e, _g,   \
			     (unsigned long long)_g);                          \
	} while (0)

/* The raw call returns 0 or -errno; _ok wants 0, _err wants -_errno. */
#define ASSERT_OK(_call) ASSERT_EQ(0, _call)
#define ASSERT_ERR(_errno, _call) ASSERT_EQ(-(_errno), _call)

static void run(const char *name, int (*fn)(void))
{
	int ret;

	test_nr++;
	why[0] = 0;
	ret = fn();
	if (ret > 0) {
		printf("ok %d %s # %s\n", test_nr, name, why);
	} else if (ret) {
		failures++;
		printf("not ok %d %s: %s\n", test_nr, name, why);
	} else {
		printf("ok %d %s\n", test_nr, name);
	}
	fflush(stdout);
}

static int xioctl(int fd, unsigned long cmd, void *arg)
{
	return ioctl(fd, cmd, arg) ? -errno : 0;
}

/* --- plain ioctl functions: raw result ----------------------------------- */

static int _ioas_alloc(int fd, __u32 *id)
{
	struct iommu_ioas_alloc cmd = { .size = sizeof(cmd) };
	int ret = xioctl(fd, IOMMU_IOAS_ALLOC, &cmd);

	*id = cmd.out_ioas_id;
	return ret;
}

static int _allow_iovas(int fd, __u32 ioas, __u64 start, __u64 last)
{
	struct iommu_iova_range r = { .start = start, .last = last };
	struct iommu_ioas_allow_iovas cmd = {
		.size = sizeof(cmd), .ioas_id = ioas, .num_iovas = 1,
		.allowed_iovas = (uintptr_t)&r,
	};

	return xioctl(fd, IOMMU_IOAS_ALLOW_IOVAS, &cmd);
}

static int _map_file(int fd, __u32 ioas, int mfd, __u64 start, __u64 len,
		     __u64 *iova, bool fixed)
{
	struct iommu_ioas_map_file cmd = {
		.size = sizeof(cmd), .ioas_id = ioas, .fd = mfd,
		.start = start, .length = len, .iova = *iova,
		.flags = IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE |
			 (fixed ? IOMMU_IOAS_MAP_FIXED_IOVA : 0),
	};
	int ret = xioctl(fd, IOMMU_IOAS_MAP_FILE, &cmd);

	*iova = cmd.iova;
	return ret;
}

static int _map_va(int fd, __u32 ioas, void *va, __u64 len, __u64 *iova,
		   bool fixed)
{
	struct iommu_ioas_map cmd = {
		.size = sizeof(cmd), .ioas_id = ioas, .user_va = (uintptr_t)va,
		.length = len, .iova = *iova,
		.flags = IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE |
			 (fixed ? IOMMU_IOAS_MAP_FIXED_IOVA : 0),
	};
	int ret = xioctl(fd, IOMMU_IOAS_MAP, &cmd);

	*iova = cmd.iova;
	return ret;
}

static int _unmap(int fd, __u32 ioas, __u64 iova, __u64 len, __u64 *out)
{
	struct iommu_ioas_unmap cmd = {
		.size = sizeof(cmd), .ioas_id = ioas, .iova = iova,
		.length = len,
	};
	int ret = xioctl(fd, IOMMU_IOAS_UNMAP, &cmd);

	if (out)
		*out = cmd.length;
	return ret;
}

static int _destroy(int fd, __u32 id)
{
	struct iommu_destroy cmd = { .size = sizeof(cmd), .id = id };

	return xioctl(fd, IOMMU_DESTROY, &cmd);
}

static int _option_huge(int fd, __u32 ioas, __u64 val)
{
	struct iommu_option cmd = {
		.size = sizeof(cmd), .option_id = IOMMU_OPTION_HUGE_PAGES,
		.op = IOMMU_OPTION_OP_SET, .object_id = ioas, .val64 = val,
	};

	return xioctl(fd, IOMMU_OPTION, &cmd);
}

static int _bind(int devfd, int fd, __u32 *devid)
{
	struct vfio_device_bind_iommufd cmd = {
		.argsz = sizeof(cmd), .iommufd = fd,
	};
	int ret = xioctl(devfd, VFIO_DEVICE_BIND_IOMMUFD, &cmd);

	*devid = cmd.out_devid;
	return ret;
}

static int _attach(int devfd, __u32 pt, __u32 *hwpt)
{
	struct vfio_device_attach_iommufd_pt cmd = {
		.argsz = sizeof(cmd), .pt_id = pt,
	};
	int ret = xioctl(devfd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &cmd);

	*hwpt = cmd.pt_id;
	return ret;
}

/* IOMMU_JOURNAL_READ with an explicit size, for the length tests */
static int _journal_read_sz(int fd, struct iommu_journal_read *cmd,
			    __u32 size)
{
	cmd->size = size;
	return xioctl(fd, IOMMU_JOURNAL_READ, cmd);
}

static int _journal_read(int fd, __u32 flags, __u32 start, void *buf,
			 __u32 len, struct iommu_journal_read *out)
{
	*out = (struct iommu_journal_read){
		.flags = flags, .start = start, .buf_len = len,
		.buf_uptr = (uintptr_t)buf,
	};
	return _journal_read_sz(fd, out, sizeof(*out));
}

static int _journal_status(int fd, struct iommu_journal_read *st)
{
	return _journal_read(fd, 0, 0, NULL, 0, st);
}

/* --- LUO ------------------------------------------------------------------ */

static int luo_create(int luo, const char *name, bool retrieve)
{
	struct liveupdate_ioctl_create_session cmd = { .size = sizeof(cmd) };
	int ret;

	snprintf((char *)cmd.name, sizeof(cmd.name), "%s", name);
	ret = xioctl(luo, retrieve ? LIVEUPDATE_IOCTL_RETRIEVE_SESSION :
				     LIVEUPDATE_IOCTL_CREATE_SESSION, &cmd);
	return ret ? ret : cmd.fd;
}

static int luo_preserve(int session, int fd, __u64 token)
{
	struct liveupdate_session_preserve_fd cmd = {
		.size = sizeof(cmd), .fd = fd, .token = token,
	};

	return xioctl(session, LIVEUPDATE_SESSION_PRESERVE_FD, &cmd);
}

static int luo_retrieve(int session, __u64 token)
{
	struct liveupdate_session_retrieve_fd cmd = {
		.size = sizeof(cmd), .token = token,
	};
	int ret = xioctl(session, LIVEUPDATE_SESSION_RETRIEVE_FD, &cmd);

	return ret ? ret : cmd.fd;
}

static int luo_finish(int session)
{
	struct liveupdate_session_finish cmd = { .size = sizeof(cmd) };

	return xioctl(session, LIVEUPDATE_SESSION_FINISH, &cmd);
}

/* --- the edu device --------------------------------------------------------- */

struct pci_ident {
	unsigned int seg, bus, dev, fn, vendor, device;
	char cdev[300];
};

static unsigned int sysfs_hex(const char *dir, const char *file)
{
	char path[512];
	unsigned int v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (fscanf(f, "%x", &v) != 1)
		v = 0;
	fclose(f);
	return v;
}

/* The @which-th (in BDF order) PCI function bound to vfio-pci with a cdev */
static int find_vfio_dev_nth(struct pci_ident *id, int which)
{
	const char *root = "/sys/bus/pci/devices";
	struct dirent **names;
	int n, i, ret = -ENODEV;

	n = scandir(root, &names, NULL, alphasort);
	if (n < 0)
		return -errno;
	for (i = 0; i < n; i++) {
		char dir[512], vdir[600];
		struct dirent *ve;
		DIR *vd;

		if (names[i]->d_name[0] == '.' || ret == 0)
			continue;
		snprintf(dir, sizeof(dir), "%s/%s", root, names[i]->d_name);
		snprintf(vdir, sizeof(vdir), "%s/vfio-dev", dir);
		vd = opendir(vdir);
		if (!vd)
			continue;
		while ((ve = readdir(vd)))
			if (!strncmp(ve->d_name, "vfio", 4))
				break;
		if (ve && which-- == 0 &&
		    sscanf(names[i]->d_name, "%x:%x:%x.%x", &id->seg,
			   &id->bus, &id->dev, &id->fn) == 4) {
			snprintf(id->cdev, sizeof(id->cdev),
				 "/dev/vfio/devices/%s", ve->d_name);
			id->vendor = sysfs_hex(dir, "vendor");
			id->device = sysfs_hex(dir, "device");
			ret = 0;
		}
		closedir(vd);
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return ret;
}

static int find_vfio_dev(struct pci_ident *id)
{
	return find_vfio_dev_nth(id, 0);
}

/* --- the known sequence ---------------------------------------------------- */

struct fixture {
	int fd, memfd, devfd;
	void *va;
	__u32 ioas, ioas2, devid, hwpt;
	__u64 va_iova, unmapped;
	struct pci_ident pci;
	struct stat mst;
};

static int memfd_make(void)
{
	int mfd = memfd_create("kjournal-ram", 0);

	if (mfd < 0)
		return -errno;
	if (ftruncate(mfd, MEMFD_SIZE)) {
		close(mfd);
		return -errno;
	}
	return mfd;
}

/*
 * Build the known state: IOAS + allowed range, a map by file, a map by VA of
 * the same memfd (auto IOVA), an unmap, an option, a second IOAS destroyed,
 * then the device bound and attached.  Any step's raw result is returned.
 */
static unsigned int steps_ok;

#define STEP(_call)                                                            \
	do {                                                                   \
		ret = (_call);                                                 \
		if (ret)                                                       \
			return ret;                                            \
		steps_ok++;                                                    \
	} while (0)

/* The ops the known sequence records, in order (with unmap and device) */
static const __u16 sequence_ops[] = {
	IOMMU_JOURNAL_OP_IOAS_ALLOC, IOMMU_JOURNAL_OP_IOAS_ALLOW_IOVAS,
	IOMMU_JOURNAL_OP_IOAS_MAP_FILE, IOMMU_JOURNAL_OP_IOAS_MAP_FILE,
	IOMMU_JOURNAL_OP_IOAS_UNMAP, IOMMU_JOURNAL_OP_OPTION,
	IOMMU_JOURNAL_OP_IOAS_ALLOC, IOMMU_JOURNAL_OP_DESTROY,
	IOMMU_JOURNAL_OP_DEVICE_BIND, IOMMU_JOURNAL_OP_DEVICE_ATTACH,
};

static int sequence_steps(struct fixture *f, bool with_device,
			  bool with_unmap, __u64 *iova)
{
	int ret;

	STEP(_ioas_alloc(f->fd, &f->ioas));
	STEP(_allow_iovas(f->fd, f->ioas, ALLOW_START, ALLOW_LAST));
	STEP(_map_file(f->fd, f->ioas, f->memfd, 0, LEN_FILE, iova, true));
	f->va_iova = IOVA_VA;
	STEP(_map_va(f->fd, f->ioas, (char *)f->va + LEN_FILE, LEN_VA,
		     &f->va_iova, !with_unmap));
	if (with_unmap) {
		STEP(_unmap(f->fd, f->ioas, f->va_iova, LEN_VA, &f->unmapped));
		STEP(_option_huge(f->fd, f->ioas, 1));
		STEP(_ioas_alloc(f->fd, &f->ioas2));
		STEP(_destroy(f->fd, f->ioas2));
	}
	if (!with_device)
		return 0;
	STEP(_bind(f->devfd, f->fd, &f->devid));
	STEP(_attach(f->devfd, f->ioas, &f->hwpt));
	return 0;
}

/*
 * Build the known state: IOAS + allowed range, a map by file, a map by VA of
 * the same memfd, an unmap, an option, a second IOAS destroyed, then the
 * device bound and attached.  Returns the first failing step's raw result;
 * steps_ok counts the steps that succeeded.
 */
static int sequence(struct fixture *f, bool with_device, bool with_unmap)
{
	__u64 iova = IOVA_FILE;

	steps_ok = 0;
	return sequence_steps(f, with_device, with_unmap, &iova);
}

static int fixture_setup(struct fixture *f, bool with_device)
{
	memset(f, 0, sizeof(*f));
	f->fd = f->memfd = f->devfd = -1;
	f->va = MAP_FAILED;
	f->fd = open("/dev/iommu", O_RDWR);
	if (f->fd < 0)
		return -errno;
	f->memfd = memfd_make();
	if (f->memfd < 0)
		return f->memfd;
	if (fstat(f->memfd, &f->mst))
		return -errno;
	f->va = mmap(NULL, MEMFD_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		     f->memfd, 0);
	if (f->va == MAP_FAILED)
		return -errno;
	if (!with_device)
		return 0;
	if (find_vfio_dev(&f->pci))
		return -ENODEV;
	f->devfd = open(f->pci.cdev, O_RDWR);
	return f->devfd < 0 ? -errno : 0;
}

static void fixture_teardown(struct fixture *f)
{
	if (f->devfd >= 0)
		close(f->devfd);
	if (f->va != MAP_FAILED)
		munmap(f->va, MEMFD_SIZE);
	if (f->memfd >= 0)
		close(f->memfd);
	if (f->fd >= 0)
		close(f->fd);
}

/* --- reading a journal ------------------------------------------------------ */

struct journal {
	unsigned char buf[65536];
	__u32 len, nr;
	struct iommu_journal_read st;
};

static int journal_get(int fd, __u32 flags, struct journal *j)
{
	int ret = _journal_read(fd, flags, 0, j->buf, sizeof(j->buf), &j->st);

	j->len = j->st.out_buf_len;
	j->nr = j->st.out_num_records;
	return ret;
}

/* The idx-th record, or NULL */
static const struct iommu_journal_hdr *journal_rec(const struct journal *j,
						   unsigned int idx)
{
	__u32 pos = 0, i;

	for (i = 0; i < j->nr; i++) {
		const struct iommu_journal_hdr *h = (const void *)(j->buf + pos);

		if (i == idx)
			return h;
		pos += h->len;
	}
	return NULL;
}

/* --- basic: recording and readout ------------------------------------------- */

static struct fixture F;

static int test_empty(void)
{
	struct iommu_journal_read st;

	ASSERT_OK(_journal_status(F.fd, &st));
	ASSERT_EQ(0, st.out_total);
	ASSERT_EQ(IOMMU_JOURNAL_STATE_RECORDING, st.out_state);
	ASSERT_EQ(0, st.out_flags);
	ASSERT_EQ(0, st.out_matched);
	return 0;
}

/* One byte short -> EINVAL; one byte long, non-zero tail -> E2BIG */
static int test_length(void)
{
	struct {
		struct iommu_journal_read cmd;
		unsigned char extra;
	} big = {};
	struct iommu_journal_read cmd = {};

	ASSERT_ERR(EINVAL, _journal_read_sz(F.fd, &cmd, sizeof(cmd) - 1));
	ASSERT_ERR(EINVAL, _journal_read_sz(F.fd, &cmd, 0));
	big.extra = 0xaa;
	ASSERT_ERR(E2BIG, _journal_read_sz(F.fd, &big.cmd, sizeof(big.cmd) + 1));
	big.extra = 0;
	ASSERT_OK(_journal_read_sz(F.fd, &big.cmd, sizeof(big.cmd) + 1));
	/* A tail far past the struct, zero, is accepted too */
	cmd.flags = 1U << 31;
	ASSERT_ERR(EOPNOTSUPP, _journal_read_sz(F.fd, &cmd, sizeof(cmd)));
	return 0;
}

static int check_map(const struct iommu_journal_hdr *h, __u16 flags,
		     __u32 ioas, __u64 ino, __u64 start, __u64 len, __u64 iova)
{
	const struct iommu_journal_map_file *m = (const void *)h;

	ASSERT_EQ(IOMMU_JOURNAL_OP_IOAS_MAP_FILE, h->op);
	ASSERT_EQ(flags, h->flags);
	ASSERT_EQ(sizeof(*m), h->len);
	ASSERT_EQ(IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE |
		  IOMMU_IOAS_MAP_FIXED_IOVA, m->flags);
	ASSERT_EQ(ioas, m->ioas_id);
	ASSERT_EQ(ino, m->file_ino);
	ASSERT_EQ(ino ? MEMFD_SIZE : 0, m->file_size);
	ASSERT_EQ(start, m->start);
	ASSERT_EQ(len, m->length);
	ASSERT_EQ(iova, m->iova);
	return 0;
}

/* The readout matches, record by record, what the known sequence did */
static int test_records(void)
{
	static struct journal j;
	const struct iommu_journal_hdr *h;
	const struct iommu_journal_allow_iovas *al;
	const struct iommu_journal_unmap *um;
	const struct iommu_journal_option *op;
	const struct iommu_journal_bind *b;
	const struct iommu_journal_attach *at;
	unsigned int i = 0;
	__u64 bad = IOVA_FILE;

	ASSERT_OK(sequence(&F, true, true));
	/* A failed ioctl leaves no record: that IOVA is already mapped */
	ASSERT_ERR(EEXIST, _map_file(F.fd, F.ioas, F.memfd, 0, 4096, &bad, true));
	ASSERT_OK(journal_get(F.fd, 0, &j));
	ASSERT_EQ(10, j.st.out_total);
	ASSERT_EQ(10, j.nr);
	ASSERT_EQ(0, j.st.out_flags);

	h = journal_rec(&j, i++);
	ASSERT_EQ(IOMMU_JOURNAL_OP_IOAS_ALLOC, h->op);
	ASSERT_EQ(F.ioas, ((struct iommu_journal_ioas_alloc *)h)->out_ioas_id);

	h = journal_rec(&j, i++);
	al = (const void *)h;
	ASSERT_EQ(IOMMU_JOURNAL_OP_IOAS_ALLOW_IOVAS, h->op);
	ASSERT_EQ(sizeof(*al) + sizeof(al->iovas[0]), h->len);
	ASSERT_EQ(F.ioas, al->ioas_id);
	ASSERT_EQ(1, al->num_iovas);
	ASSERT_EQ(ALLOW_START, al->iovas[0].start);
	ASSERT_EQ(ALLOW_LAST, al->iovas[0].last);

	if (check_map(journal_rec(&j, i++), 0, F.ioas, F.mst.st_ino, 0,
		      LEN_FILE, IOVA_FILE))
		return -1;
	/* By VA: resolved to the memfd and its offset, the IOVA fixed */
	if (check_map(journal_rec(&j, i++), IOMMU_JOURNAL_REC_BY_VA, F.ioas,
		      F.mst.st_ino, LEN_FILE, LEN_VA, F.va_iova))
		return -1;

	h = journal_rec(&j, i++);
	um = (const void *)h;
	ASSERT_EQ(IOMMU_JOURNAL_OP_IOAS_UNMAP, h->op);
	ASSERT_EQ(F.va_iova, um->iova);
	ASSERT_EQ(LEN_VA, um->length);
	ASSERT_EQ(F.unmapped, um->out_length);

	h = journal_rec(&j, i++);
	op = (const void *)h;
	ASSERT_EQ(IOMMU_JOURNAL_OP_OPTION, h->op);
	ASSERT_EQ(IOMMU_OPTION_HUGE_PAGES, op->option_id);
	ASSERT_EQ(F.ioas, op->object_id);
	ASSERT_EQ(1, op->val64);

	h = journal_rec(&j, i++);
	ASSERT_EQ(IOMMU_JOURNAL_OP_IOAS_ALLOC, h->op);
	ASSERT_EQ(F.ioas2, ((struct iommu_journal_ioas_alloc *)h)->out_ioas_id);
	h = journal_rec(&j, i++);
	ASSERT_EQ(IOMMU_JOURNAL_OP_DESTROY, h->op);
	ASSERT_EQ(F.ioas2, ((struct iommu_journal_destroy *)h)->id);

	h = journal_rec(&j, i++);
	b = (const void *)h;
	ASSERT_EQ(IOMMU_JOURNAL_OP_DEVICE_BIND, h->op);
	ASSERT_EQ(F.pci.seg, b->segment);
	ASSERT_EQ(F.pci.bus, b->bus);
	ASSERT_EQ((F.pci.dev << 3) | F.pci.fn, b->devfn);
	ASSERT_EQ(F.pci.vendor, b->vendor);
	ASSERT_EQ(F.pci.device, b->device);
	ASSERT_EQ(F.devid, b->out_dev_id);

	h = journal_rec(&j, i++);
	at = (const void *)h;
	ASSERT_EQ(IOMMU_JOURNAL_OP_DEVICE_ATTACH, h->op);
	ASSERT_EQ(F.devid, at->dev_id);
	ASSERT_EQ(F.ioas, at->pt_id);
	ASSERT_EQ(F.hwpt, at->out_hwpt_id);
	printf("# journal: %u records, %u bytes, ioas %u dev %u hwpt %u\n",
	       j.nr, j.len, F.ioas, F.devid, F.hwpt);
	return 0;
}

/* Whole records only; EMSGSIZE names the size of one that does not fit */
static int test_partial_reads(void)
{
	struct iommu_journal_read st;
	unsigned char buf[64];

	ASSERT_ERR(EMSGSIZE, _journal_read(F.fd, 0, 0, buf, 8, &st));
	ASSERT_EQ(sizeof(struct iommu_journal_ioas_alloc), st.out_buf_len);
	ASSERT_EQ(0, st.out_num_records);
	/* 64 bytes: ioas_alloc (16) + allow_iovas (32), not the map (56) */
	ASSERT_OK(_journal_read(F.fd, 0, 0, buf, sizeof(buf), &st));
	ASSERT_EQ(2, st.out_num_records);
	ASSERT_EQ(48, st.out_buf_len);
	ASSERT_OK(_journal_read(F.fd, 0, 2, buf, sizeof(buf), &st));
	ASSERT_EQ(1, st.out_num_records);
	ASSERT_EQ(IOMMU_JOURNAL_OP_IOAS_MAP_FILE,
		  ((struct iommu_journal_hdr *)buf)->op);
	ASSERT_OK(_journal_read(F.fd, 0, 10, buf, sizeof(buf), &st));
	ASSERT_EQ(0, st.out_num_records);
	ASSERT_ERR(EINVAL, _journal_read(F.fd, 0, 11, buf, sizeof(buf), &st));
	/* A fresh iommufd has no expected journal */
	ASSERT_OK(_journal_read(F.fd, IOMMU_JOURNAL_READ_EXPECTED, 0, buf,
				sizeof(buf), &st));
	ASSERT_EQ(0, st.out_total);
	return 0;
}

/* Closing the device fd unbinds it: detach and unbind are recorded */
static int test_unbind_recorded(void)
{
	static struct journal j;

	close(F.devfd);
	F.devfd = -1;
	ASSERT_OK(journal_get(F.fd, 0, &j));
	ASSERT_EQ(12, j.nr);
	ASSERT_EQ(IOMMU_JOURNAL_OP_DEVICE_DETACH, journal_rec(&j, 10)->op);
	ASSERT_EQ(IOMMU_JOURNAL_OP_DESTROY, journal_rec(&j, 11)->op);
	ASSERT_EQ(F.devid,
		  ((struct iommu_journal_destroy *)journal_rec(&j, 11))->id);
	return 0;
}

/* Anonymous memory has no identity after kexec: the journal says so */
static int test_anon_not_carried(void)
{
	static struct journal j;
	__u64 iova = IOVA_FILE;
	__u32 ioas;
	void *anon;
	int fd = open("/dev/iommu", O_RDWR);

	if (fd < 0)
		FAIL("open /dev/iommu: %s", strerror(errno));
	anon = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_OK(_ioas_alloc(fd, &ioas));
	ASSERT_OK(_map_va(fd, ioas, anon, 1 << 20, &iova, true));
	ASSERT_OK(journal_get(fd, 0, &j));
	ASSERT_EQ(IOMMU_JOURNAL_NOT_CARRIED, j.st.out_flags);
	if (check_map(journal_rec(&j, 1), IOMMU_JOURNAL_REC_BY_VA |
		      IOMMU_JOURNAL_REC_NOT_CARRIED, ioas, 0, 0, 1 << 20,
		      IOVA_FILE))
		return -1;
	munmap(anon, 1 << 20);
	close(fd);
	return 0;
}

/*
 * The LUO handler: an anonymous-backed iommufd is refused; a good one is
 * preserved, refuses state changes (EBUSY) while preserved, and records
 * again once the session is closed (unpreserved).
 */
static int test_luo_preserve(void)
{
	struct iommu_journal_read st;
	__u64 iova = IOVA_FILE, va_iova = 0x800000;
	int luo, session, fd;
	void *anon;
	__u32 ioas;

	luo = open("/dev/liveupdate", O_RDWR);
	if (luo < 0)
		FAIL("open /dev/liveupdate: %s", strerror(errno));
	session = luo_create(luo, "kjournal-basic", false);
	if (session < 0)
		FAIL("create session: %s", strerror(-session));

	fd = open("/dev/iommu", O_RDWR);
	anon = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_OK(_ioas_alloc(fd, &ioas));
	ASSERT_OK(_map_va(fd, ioas, anon, 1 << 20, &iova, true));
	ASSERT_ERR(EOPNOTSUPP, luo_preserve(session, fd, 7));
	close(fd);
	munmap(anon, 1 << 20);

	ASSERT_OK(luo_preserve(session, F.fd, 8));
	ASSERT_OK(_journal_status(F.fd, &st));
	ASSERT_EQ(IOMMU_JOURNAL_STATE_PRESERVED, st.out_state);
	ASSERT_ERR(EBUSY, _map_file(F.fd, F.ioas, F.memfd, 0, 4096, &va_iova,
				    true));
	ASSERT_ERR(EBUSY, _ioas_alloc(F.fd, &ioas));
	/* Queries still work */
	ASSERT_OK(_journal_status(F.fd, &st));
	close(session);
	ASSERT_OK(_journal_status(F.fd, &st));
	ASSERT_EQ(IOMMU_JOURNAL_STATE_RECORDING, st.out_state);
	ASSERT_OK(_map_file(F.fd, F.ioas, F.memfd, 0, 4096, &va_iova, true));
	close(luo);
	return 0;
}

static int cmd_basic(void)
{
	int ret = fixture_setup(&F, true);

	if (ret) {
		printf("not ok 1 setup: %s\n", strerror(-ret));
		return 1;
	}
	run("journal_empty", test_empty);
	run("journal_length", test_length);
	run("journal_records", test_records);
	run("journal_partial_reads", test_partial_reads);
	run("journal_unbind_recorded", test_unbind_recorded);
	run("journal_anon_not_carried", test_anon_not_carried);
	run("luo_preserve", test_luo_preserve);
	fixture_teardown(&F);
	printf("# %d/%d passed\n", test_nr - failures, test_nr);
	return failures ? 1 : 0;
}

/* --- device API records made inside an ioctl --------------------------------- */

/*
 * A case that may hang in D state runs in a child: such a task cannot be
 * killed, so the parent stops waiting after HANG_SECONDS and reports the
 * case by name (the hung-task detector dumps the child's stack).
 */
#define HANG_SECONDS 20

static int in_child(int (*fn)(void))
{
	int status, i;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		FAIL("fork: %s", strerror(errno));
	if (!pid) {
		int ret = fn();

		if (ret)
			printf("# child: %s\n", why);
		fflush(stdout);
		_exit(ret ? 1 : 0);
	}
	for (i = 0; i < HANG_SECONDS * 10; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid) {
			if (WIFEXITED(status) && !WEXITSTATUS(status))
				return 0;
			FAIL("the case failed (status 0x%x)", status);
		}
		usleep(100000);
	}
	FAIL("hung: no return after %d s (a task in D state: see the hung-task report)",
	     HANG_SECONDS);
}

static int mock_domain(int fd, __u32 ioas, struct iommu_test_cmd *cmd)
{
	*cmd = (struct iommu_test_cmd){
		.size = sizeof(*cmd),
		.op = IOMMU_TEST_OP_MOCK_DOMAIN,
		.id = ioas,
	};
	return xioctl(fd, IOMMU_TEST_CMD, cmd);
}

/*
 * IOMMU_DESTROY of a mock device detaches and unbinds its device through
 * the device API from inside the ioctl. Both are journaled; the destroy of
 * the selftest object itself is not (its ID means nothing to a replay).
 * This deadlocked when the destroy held the journal for read and the
 * detach's record took it for write; lockdep then showed that holding the
 * journal across it at all inverts the mock device's lock order.
 */
/* A new iommufd with an IOAS and a mock device attached to it */
static int mock_setup(int *fd, __u32 *ioas, struct iommu_test_cmd *mock)
{
	*fd = open("/dev/iommu", O_RDWR);
	if (*fd < 0)
		FAIL("open /dev/iommu: %s", strerror(errno));
	ASSERT_OK(_ioas_alloc(*fd, ioas));
	ASSERT_OK(mock_domain(*fd, *ioas, mock));
	return 0;
}

static int mock_destroy_child(void)
{
	struct iommu_test_cmd mock;
	static struct journal j;
	__u32 ioas, n;
	int fd;

	if (mock_setup(&fd, &ioas, &mock))
		return -1;
	ASSERT_OK(_destroy(fd, mock.mock_domain.out_stdev_id));
	ASSERT_OK(journal_get(fd, 0, &j));
	/* IOAS_ALLOC, BIND, ATTACH, then DETACH and DESTROY of the device */
	n = j.nr;
	ASSERT_EQ(5, n);
	ASSERT_EQ(IOMMU_JOURNAL_OP_DEVICE_DETACH, journal_rec(&j, n - 2)->op);
	ASSERT_EQ(mock.mock_domain.out_idev_id,
		  ((struct iommu_journal_detach *)journal_rec(&j, n - 2))->dev_id);
	ASSERT_EQ(IOMMU_JOURNAL_OP_DESTROY, journal_rec(&j, n - 1)->op);
	ASSERT_EQ(mock.mock_domain.out_idev_id,
		  ((struct iommu_journal_destroy *)journal_rec(&j, n - 1))->id);
	/* The IOAS is free again: its HWPT went with the device */
	ASSERT_OK(_destroy(fd, ioas));
	close(fd);
	return 0;
}

static int test_mock_destroy(void)
{
	return in_child(mock_destroy_child);
}

/* Closing an iommufd with a mock device attached unbinds it the same way */
static int mock_close_child(void)
{
	struct iommu_test_cmd mock;
	__u32 ioas;
	int fd;

	if (mock_setup(&fd, &ioas, &mock))
		return -1;
	close(fd);
	return 0;
}

static int test_mock_close(void)
{
	return in_child(mock_close_child);
}

/*
 * An UNMAP that covers the first area whole and cuts into the second
 * fails with ENOENT, yet the kernel removed the first area.  The journal
 * records that removal as the unmap of exactly the first area.
 */
static int test_unmap_partial(void)
{
	const struct iommu_journal_unmap *u;
	static struct journal j;
	__u64 iova, out = 0;
	__u32 ioas;
	int fd, mfd;

	fd = open("/dev/iommu", O_RDWR);
	if (fd < 0)
		FAIL("open /dev/iommu: %s", strerror(errno));
	mfd = memfd_make();
	ASSERT_OK(mfd < 0 ? mfd : 0);
	ASSERT_OK(_ioas_alloc(fd, &ioas));
	iova = 0x100000;
	ASSERT_OK(_map_file(fd, ioas, mfd, 0, 0x4000, &iova, true));
	iova = 0x104000;
	ASSERT_OK(_map_file(fd, ioas, mfd, 0x4000, 0x8000, &iova, true));
	ASSERT_ERR(ENOENT, _unmap(fd, ioas, 0x100000, 0x8000, &out));
	ASSERT_OK(journal_get(fd, 0, &j));
	ASSERT_EQ(4, j.nr);
	u = (const void *)journal_rec(&j, 3);
	ASSERT_EQ(IOMMU_JOURNAL_OP_IOAS_UNMAP, u->hdr.op);
	ASSERT_EQ(ioas, u->ioas_id);
	ASSERT_EQ(0x100000, u->iova);
	ASSERT_EQ(0x4000, u->length);
	ASSERT_EQ(0x4000, u->out_length);
	/* As the kernel holds it: the first area gone, the second whole */
	iova = 0x100000;
	ASSERT_OK(_map_file(fd, ioas, mfd, 0, 0x4000, &iova, true));
	iova = 0x104000;
	ASSERT_ERR(EEXIST, _map_file(fd, ioas, mfd, 0x4000, 0x1000, &iova, true));
	/* A refused UNMAP that removed nothing leaves no record */
	ASSERT_ERR(ENOENT, _unmap(fd, ioas, 0x105000, 0x1000, NULL));
	ASSERT_OK(journal_get(fd, 0, &j));
	ASSERT_EQ(5, j.nr);
	close(mfd);
	close(fd);
	return 0;
}

static int cmd_mock(void)
{
	run("mock_destroy_returns", test_mock_destroy);
	run("mock_close_returns", test_mock_close);
	run("unmap_partial_recorded", test_unmap_partial);
	printf("# %d/%d passed\n", test_nr - failures, test_nr);
	return failures ? 1 : 0;
}

/* --- fail_nth sweep ----------------------------------------------------------- */

static int writefile(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	close(fd);
	return n == (ssize_t)strlen(val) ? 0 : -EIO;
}

static void setup_fault_injection(void)
{
	writefile("/sys/kernel/debug/failslab/ignore-gfp-wait", "N");
	writefile("/sys/kernel/debug/failslab/verbose", "0");
	writefile("/sys/kernel/debug/fail_page_alloc/ignore-gfp-wait", "N");
	writefile("/sys/kernel/debug/fail_page_alloc/ignore-gfp-highmem", "N");
	writefile("/sys/kernel/debug/fail_page_alloc/verbose", "0");
	/*
	 * iommufd's own attribute too: its stack dumps on the serial console
	 * land inside the TAP lines the VM test matches ("ok 5
	 * deviate_mappingCPU: 0 ...") when the host is loaded.
	 */
	writefile("/sys/kernel/debug/fail_iommufd/verbose", "0");
}

/* Set the Nth failure for this thread (0: off); returns what was left */
static int fail_nth(int procfd, unsigned int n)
{
	char buf[32];
	ssize_t r;

	if (!n) {
		r = pread(procfd, buf, sizeof(buf) - 1, 0);
		buf[r > 0 ? r : 0] = 0;
		if (pwrite(procfd, "0", 1, 0) != 1)
			return -1;
		return atoi(buf);
	}
	r = snprintf(buf, sizeof(buf), "%u", n);
	return pwrite(procfd, buf, r, 0) == r ? 0 : -1;
}

/*
 * One case of the sweep: the known sequence with the device, a readout, a
 * LUO preserve and unpreserve, and teardown (unbind, destroy).  The journal
 * must hold exactly the records of the steps that succeeded, be flagged
 * incomplete only if a detach/unbind record could not be stored, and nothing
 * may crash or leak (the teardown frees everything the case made).
 */
static unsigned int errs[4096];

static int failnth_case(int procfd, unsigned int n, int luo, bool *hit)
{
	static struct journal j;
	struct fixture f;
	int ret, session, left;
	__u32 nr, i;

	ret = fixture_setup(&f, true);
	if (ret)
		FAIL("setup: %s", strerror(-ret));
	session = luo_create(luo, "kjournal-failnth", false);
	if (session < 0)
		FAIL("create session: %s", strerror(-session));

	fail_nth(procfd, n);
	ret = sequence(&f, true, true);
	if (!ret)
		ret = luo_preserve(session, f.fd, 1);
	left = fail_nth(procfd, 0);
	*hit = n && left == 0;
	if (n && !*hit && ret)
		FAIL("nth %u: failed (%s) without an injected failure", n,
		     strerror(-ret));
	if (ret && ret > -4096)
		errs[-ret]++;
	close(session);

	ret = journal_get(f.fd, 0, &j);
	if (ret)
		FAIL("nth %u: read: %s", n, strerror(-ret));
	nr = j.nr;
	if (j.st.out_state != IOMMU_JOURNAL_STATE_RECORDING)
		FAIL("nth %u: state %u after unpreserve", n, j.st.out_state);
	/*
	 * Each step that succeeded has its record, in order, and no other
	 * record exists but the undo of a bind or attach VFIO rolled back
	 * (DESTROY, DETACH), unless the journal says it is incomplete.
	 */
	if (nr < steps_ok)
		FAIL("nth %u: %u records for %u steps", n, nr, steps_ok);
	for (i = 0; i < nr; i++) {
		__u16 op = journal_rec(&j, i)->op;

		if (i < steps_ok && op != sequence_ops[i])
			FAIL("nth %u: record %u op %u, step op %u", n, i, op,
			     sequence_ops[i]);
		if (i >= steps_ok && i < ARRAY_SIZE(sequence_ops) &&
		    op == sequence_ops[i])
			continue;	/* the failed step's own, undone below */
		if (i >= steps_ok && op != IOMMU_JOURNAL_OP_DESTROY &&
		    op != IOMMU_JOURNAL_OP_DEVICE_DETACH)
			FAIL("nth %u: record %u op %u after %u steps", n, i,
			     op, steps_ok);
	}
	if (j.st.out_flags & ~IOMMU_JOURNAL_INCOMPLETE)
		FAIL("nth %u: journal flags 0x%x", n, j.st.out_flags);
	fixture_teardown(&f);
	return 0;
}

static int cmd_failnth(void)
{
	char path[64];
	int procfd, luo;
	unsigned int n, i;
	bool hit = true;

	setup_fault_injection();
	snprintf(path, sizeof(path), "/proc/self/task/%d/fail-nth", gettid());
	procfd = open(path, O_RDWR);
	if (procfd < 0) {
		printf("not ok 1 failnth: %s: %s\n", path, strerror(errno));
		return 1;
	}
	luo = open("/dev/liveupdate", O_RDWR);
	if (luo < 0) {
		printf("not ok 1 failnth: /dev/liveupdate: %s\n",
		       strerror(errno));
		return 1;
	}
	for (n = 0; hit && n < 5000; n++) {
		if (failnth_case(procfd, n, luo, &hit)) {
			printf("not ok 1 failnth: %s\n", why);
			return 1;
		}
		if (!n)
			hit = true;
	}
	printf("ok 1 failnth: %u injection points swept, the last run had no failure left\n",
	       n - 2);
	for (i = 0; i < 4096; i++)
		if (errs[i])
			printf("# failnth: %u cases failed with %s\n", errs[i],
			       strerror(i));
	return 0;
}

/* --- stage 1: preserve ------------------------------------------------------ */

static int _copy(int fd, __u32 dst, __u64 dst_iova, __u32 src, __u64 src_iova,
		 __u64 len)
{
	struct iommu_ioas_copy cmd = {
		.size = sizeof(cmd),
		.flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
			 IOMMU_IOAS_MAP_WRITEABLE,
		.dst_ioas_id = dst, .src_ioas_id = src,
		.length = len, .dst_iova = dst_iova, .src_iova = src_iova,
	};

	return xioctl(fd, IOMMU_IOAS_COPY, &cmd);
}

/*
 * History that leaves the state as it was, which the kernel must fold away
 * when it preserves the journal (patches/0004): a map and its unmap, a
 * refused UNMAP that removed one area then the unmap of the other, and an
 * IOAS mapped, copied into and destroyed.  10 records; the next kernel
 * must expect the 6 of the state alone.
 */
#define CHURN_RECORDS 10

static int churn(struct fixture *f)
{
	__u64 iova = 0x8000000;
	__u32 ioas2;
	int ret;

	STEP(_map_file(f->fd, f->ioas, f->memfd, 0, 0x10000, &iova, true));
	STEP(_unmap(f->fd, f->ioas, 0x8000000, 0x10000, NULL));
	iova = 0x9000000;
	STEP(_map_file(f->fd, f->ioas, f->memfd, 0, 0x4000, &iova, true));
	iova = 0x9004000;
	STEP(_map_file(f->fd, f->ioas, f->memfd, 0x4000, 0x8000, &iova, true));
	if (_unmap(f->fd, f->ioas, 0x9000000, 0x8000, NULL) != -ENOENT)
		return -EPROTO;
	STEP(_unmap(f->fd, f->ioas, 0x9004000, 0x8000, NULL));
	STEP(_ioas_alloc(f->fd, &ioas2));
	iova = 0x100000;
	STEP(_map_file(f->fd, ioas2, f->memfd, 0, 0x10000, &iova, true));
	STEP(_copy(f->fd, ioas2, 0x200000, f->ioas, IOVA_FILE, 0x10000));
	STEP(_destroy(f->fd, ioas2));
	return 0;
}

static int cmd_stage1(void)
{
	static struct journal j;
	struct fixture f;
	int luo, session, ret;
	sigset_t set;
	int sig;

	ret = fixture_setup(&f, true);
	if (ret) {
		fprintf(stderr, "stage1: setup: %s\n", strerror(-ret));
		return 1;
	}
	memset(f.va, 0x5a, MEMFD_SIZE);
	ret = sequence(&f, true, false);
	if (ret) {
		fprintf(stderr, "stage1: sequence: %s\n", strerror(-ret));
		return 1;
	}
	ret = churn(&f);
	if (ret) {
		fprintf(stderr, "stage1: churn: %s\n", strerror(-ret));
		return 1;
	}
	ret = journal_get(f.fd, 0, &j);
	if (ret) {
		fprintf(stderr, "stage1: read: %s\n", strerror(-ret));
		return 1;
	}
	luo = open("/dev/liveupdate", O_RDWR);
	session = luo < 0 ? -errno : luo_create(luo, SESSION, false);
	if (session < 0) {
		fprintf(stderr, "stage1: session: %s\n", strerror(-session));
		return 1;
	}
	ret = luo_preserve(session, f.memfd, TOKEN_MEMFD);
	if (!ret)
		ret = luo_preserve(session, f.fd, TOKEN_IOMMUFD);
	if (ret) {
		fprintf(stderr, "stage1: preserve: %s\n", strerror(-ret));
		return 1;
	}
	printf("iommufd_journal: stage1: preserved a journal of %u records (%u bytes), %u of them churn: ioas %u dev %u hwpt %u\n",
	       j.nr, j.len, CHURN_RECORDS, f.ioas, f.devid, f.hwpt);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, NULL);
	printf("iommufd_journal: ready pid=%d\n", getpid());
	fflush(stdout);
	sigwait(&set, &sig);
	return 0;
}

/* --- stage 2: verify the replay -------------------------------------------- */

static struct {
	int luo, session, memfd, fd, devfd;
	struct journal exp;
	struct pci_ident pci;
	__u32 ids[64];	/* old ID -> new ID */
} S;

static __u32 xlate(__u32 old)
{
	return old < 64 ? S.ids[old] : 0;
}

static int status_matched(void)
{
	struct iommu_journal_read st;

	if (_journal_status(S.fd, &st))
		return -1;
	return st.out_matched;
}

/*
 * Replay one expected record.  @dev is how to deviate: 0 none, 1 the IOVA,
 * 2 the length, 3 the object (IOAS / device / pt) it names.
 */
static int replay(const struct iommu_journal_hdr *h, int dev)
{
	__u32 out = 0;
	int ret;

	switch (h->op) {
	case IOMMU_JOURNAL_OP_IOAS_ALLOC: {
		const struct iommu_journal_ioas_alloc *r = (const void *)h;

		ret = _ioas_alloc(S.fd, &out);
		if (!ret)
			S.ids[r->out_ioas_id] = out;
		return ret;
	}
	case IOMMU_JOURNAL_OP_IOAS_ALLOW_IOVAS: {
		const struct iommu_journal_allow_iovas *r = (const void *)h;

		return _allow_iovas(S.fd, xlate(r->ioas_id) + (dev == 3),
				    r->iovas[0].start,
				    r->iovas[0].last - (dev == 1 ? 0x1000 : 0));
	}
	case IOMMU_JOURNAL_OP_IOAS_MAP_FILE: {
		const struct iommu_journal_map_file *r = (const void *)h;
		__u64 iova = r->iova + (dev == 1 ? 0x200000 : 0);

		return _map_file(S.fd, xlate(r->ioas_id), S.memfd, r->start,
				 r->length - (dev == 2 ? 0x1000 : 0), &iova,
				 true);
	}
	case IOMMU_JOURNAL_OP_DEVICE_BIND: {
		const struct iommu_journal_bind *r = (const void *)h;

		if (r->vendor != S.pci.vendor || r->device != S.pci.device)
			return -ENODEV;
		ret = _bind(S.devfd, S.fd, &out);
		if (!ret)
			S.ids[r->out_dev_id] = out;
		return ret;
	}
	case IOMMU_JOURNAL_OP_DEVICE_ATTACH: {
		const struct iommu_journal_attach *r = (const void *)h;

		ret = _attach(S.devfd, xlate(r->pt_id) + (dev == 3 ? 7 : 0),
			      &out);
		if (!ret)
			S.ids[r->out_hwpt_id] = out;
		return ret;
	}
	default:
		return -EOPNOTSUPP;
	}
}

/*
 * Replay a record with the Nth allocation failing, N = 1, 2, ... until the
 * replay succeeds: each failure must leave the replay where it was
 * (RESTORING, the same number of records matched), so it can be retried.
 */
static int S_procfd = -1;
static unsigned int swept;

static int replay_ok(const struct iommu_journal_hdr *h)
{
	struct iommu_journal_read st;
	int before = status_matched(), ret, left;
	unsigned int n;

	for (n = 1; S_procfd >= 0 && n < 1000; n++) {
		fail_nth(S_procfd, n);
		ret = replay(h, 0);
		left = fail_nth(S_procfd, 0);
		if (!ret)
			return 0;
		if (left)
			return ret;	/* failed with no injected failure */
		swept++;
		if (_journal_status(S.fd, &st) ||
		    st.out_state != IOMMU_JOURNAL_STATE_RESTORING ||
		    (int)st.out_matched != before) {
			snprintf(why, sizeof(why),
				 "op %u nth %u: %s left state %u matched %u (was %d)",
				 h->op, n, strerror(-ret), st.out_state,
				 st.out_matched, before);
			return -EBADE;
		}
	}
	return replay(h, 0);
}

static int test_restoring(void)
{
	struct iommu_journal_read st;

	ASSERT_OK(_journal_status(S.fd, &st));
	ASSERT_EQ(IOMMU_JOURNAL_STATE_RESTORING, st.out_state);
	ASSERT_EQ(0, st.out_total);
	ASSERT_EQ(0, st.out_matched);
	ASSERT_OK(journal_get(S.fd, IOMMU_JOURNAL_READ_EXPECTED, &S.exp));
	/* The state's 6 records: stage 1's churn was folded away */
	ASSERT_EQ(6, S.exp.nr);
	ASSERT_EQ(IOMMU_JOURNAL_OP_IOAS_ALLOC, journal_rec(&S.exp, 0)->op);
	ASSERT_EQ(IOMMU_JOURNAL_OP_DEVICE_ATTACH, journal_rec(&S.exp, 5)->op);
	return 0;
}

/* FINISH is refused (EBUSY) while the replay has not matched */
static int test_finish_refused(void)
{
	ASSERT_ERR(EBUSY, luo_finish(S.session));
	return 0;
}

/* The device out of order: the journal expects an IOAS first */
static int test_deviate_device_order(void)
{
	__u32 devid;

	ASSERT_ERR(EILSEQ, _bind(S.devfd, S.fd, &devid));
	ASSERT_EQ(0, status_matched());
	return 0;
}

/* An operation the journal does not hold is refused, then the real one */
static int test_replay_ioas(void)
{
	__u64 iova = IOVA_FILE;

	ASSERT_OK(replay_ok(journal_rec(&S.exp, 0)));
	ASSERT_EQ(1, status_matched());
	/* A map where ALLOW_IOVAS is expected */
	ASSERT_ERR(EILSEQ, _map_file(S.fd, xlate(1), S.memfd, 0, LEN_FILE,
				     &iova, true));
	ASSERT_ERR(EILSEQ, replay(journal_rec(&S.exp, 1), 1));
	ASSERT_ERR(EILSEQ, replay(journal_rec(&S.exp, 1), 3));
	ASSERT_OK(replay_ok(journal_rec(&S.exp, 1)));
	ASSERT_EQ(2, status_matched());
	return 0;
}

/* A mapping that deviates in IOVA, length or memory is rejected */
static int test_deviate_mapping(void)
{
	const struct iommu_journal_hdr *h = journal_rec(&S.exp, 2);
	const struct iommu_journal_map_file *r = (const void *)h;
	__u64 iova = r->iova;
	void *anon;
	int other;

	ASSERT_ERR(EILSEQ, replay(h, 1));
	ASSERT_ERR(EILSEQ, replay(h, 2));
	/* Another memfd of the same size is not the preserved one... */
	other = memfd_make();
	anon = mmap(NULL, r->length, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	/* ...the first map binds the file, so try anonymous memory first */
	ASSERT_ERR(EILSEQ, _map_va(S.fd, xlate(r->ioas_id), anon, r->length,
				   &iova, true));
	ASSERT_EQ(2, status_matched());
	ASSERT_OK(replay_ok(h));
	ASSERT_EQ(3, status_matched());
	/* The second map names the same file: a different memfd is refused */
	h = journal_rec(&S.exp, 3);
	r = (const void *)h;
	iova = r->iova;
	ASSERT_ERR(EILSEQ, _map_file(S.fd, xlate(r->ioas_id), other, r->start,
				     r->length, &iova, true));
	/* Recorded by VA, replayed by file: the same canonical record */
	ASSERT_EQ(IOMMU_JOURNAL_REC_BY_VA, h->flags);
	ASSERT_OK(replay_ok(h));
	ASSERT_EQ(4, status_matched());
	munmap(anon, r->length);
	close(other);
	return 0;
}

/* Another PCI device where the journal's device is expected */
static int test_deviate_device_other(void)
{
	struct pci_ident other;
	__u32 devid;
	int fd;

	if (find_vfio_dev_nth(&other, 1)) {
		snprintf(why, sizeof(why), "SKIP no second VFIO device");
		return 1;
	}
	fd = open(other.cdev, O_RDWR);
	if (fd < 0)
		FAIL("open %s: %s", other.cdev, strerror(errno));
	ASSERT_ERR(EILSEQ, _bind(fd, S.fd, &devid));
	ASSERT_EQ(4, status_matched());
	close(fd);
	return 0;
}

/* The device: bound, then attached to the wrong pt is rejected */
static int test_deviate_attach(void)
{
	ASSERT_OK(replay_ok(journal_rec(&S.exp, 4)));
	ASSERT_EQ(5, status_matched());
	ASSERT_ERR(EILSEQ, replay(journal_rec(&S.exp, 5), 3));
	ASSERT_EQ(5, status_matched());
	ASSERT_ERR(EBUSY, luo_finish(S.session));
	return 0;
}

/* The matching replay is accepted and FINISH then succeeds */
static int test_verified_finish(void)
{
	struct iommu_journal_read st;
	static struct journal live;
	__u64 iova = 0x800000;

	ASSERT_OK(replay_ok(journal_rec(&S.exp, 5)));
	ASSERT_OK(_journal_status(S.fd, &st));
	ASSERT_EQ(IOMMU_JOURNAL_STATE_VERIFIED, st.out_state);
	ASSERT_EQ(6, st.out_matched);
	/* The new journal is the old one under the new IDs */
	ASSERT_OK(journal_get(S.fd, 0, &live));
	ASSERT_EQ(6, live.nr);
	ASSERT_EQ(S.exp.len, live.len);
	ASSERT_OK(luo_finish(S.session));
	/* Verified: records as usual again */
	ASSERT_OK(_map_file(S.fd, xlate(1), S.memfd, 0, 4096, &iova, true));
	return 0;
}

static int cmd_stage2(void)
{
	char path[64];

	setup_fault_injection();
	snprintf(path, sizeof(path), "/proc/self/task/%d/fail-nth", gettid());
	S_procfd = open(path, O_RDWR);
	S.luo = open("/dev/liveupdate", O_RDWR);
	S.session = S.luo < 0 ? -errno : luo_create(S.luo, SESSION, true);
	if (S.session < 0) {
		printf("not ok 1 retrieve session: %s\n", strerror(-S.session));
		return 1;
	}
	S.memfd = luo_retrieve(S.session, TOKEN_MEMFD);
	S.fd = luo_retrieve(S.session, TOKEN_IOMMUFD);
	if (S.memfd < 0 || S.fd < 0) {
		printf("not ok 1 retrieve: memfd %s, iommufd %s\n",
		       strerror(S.memfd < 0 ? -S.memfd : 0),
		       strerror(S.fd < 0 ? -S.fd : 0));
		return 1;
	}
	if (find_vfio_dev(&S.pci) ||
	    (S.devfd = open(S.pci.cdev, O_RDWR)) < 0) {
		printf("not ok 1 no VFIO device\n");
		return 1;
	}
	run("restoring", test_restoring);
	run("finish_refused", test_finish_refused);
	run("deviate_device_order", test_deviate_device_order);
	run("replay_ioas", test_replay_ioas);
	run("deviate_mapping", test_deviate_mapping);
	run("deviate_device_other", test_deviate_device_other);
	run("deviate_attach", test_deviate_attach);
	run("verified_finish", test_verified_finish);
	printf("# replay fail_nth: %u injected failures left the replay intact\n",
	       swept);
	printf("# %d/%d passed\n", test_nr - failures, test_nr);
	return failures ? 1 : 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 2 && !strcmp(argv[1], "basic"))
		return cmd_basic();
	if (argc == 2 && !strcmp(argv[1], "mock"))
		return cmd_mock();
	if (argc == 2 && !strcmp(argv[1], "failnth"))
		return cmd_failnth();
	if (argc == 2 && !strcmp(argv[1], "stage1"))
		return cmd_stage1();
	if (argc == 2 && !strcmp(argv[1], "stage2"))
		return cmd_stage2();
	fprintf(stderr, "usage: iommufd_journal basic|mock|failnth|stage1|stage2\n");
	return 2;
}
