// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of the VFIO migration v2 FSM driver (lib/devstate.c) against
 * a fake device that answers as Linux 7.2 does: VFIO core's
 * vfio_mig_get_next_state() (its table copied below in the kernel's own
 * form), a driver's step function that knows only the arcs the kernel
 * comment lists as the ones a driver implements, data fds on exactly the
 * arcs the uapi opens a session on, mtty's stream semantics, and
 * injected failures on every call the driver makes.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include "compat.h"
#include <linux/vfio.h>

#include "devstate.h"
#include "ktest.h"

#define NR 8	/* VFIO_DEVICE_STATE_PRE_COPY_P2P + 1 */
#define SC VFIO_MIGRATION_STOP_COPY
#define P2P VFIO_MIGRATION_P2P
#define PRE VFIO_MIGRATION_PRE_COPY

/* drivers/vfio/vfio_main.c, vfio_mig_get_next_state(), Linux 7.2. */
static const uint8_t ref_table[NR][NR] = {
	[VFIO_DEVICE_STATE_STOP] = {
		[VFIO_DEVICE_STATE_STOP] = VFIO_DEVICE_STATE_STOP,
		[VFIO_DEVICE_STATE_RUNNING] = VFIO_DEVICE_STATE_RUNNING_P2P,
		[VFIO_DEVICE_STATE_PRE_COPY] = VFIO_DEVICE_STATE_RUNNING_P2P,
		[VFIO_DEVICE_STATE_PRE_COPY_P2P] = VFIO_DEVICE_STATE_RUNNING_P2P,
		[VFIO_DEVICE_STATE_STOP_COPY] = VFIO_DEVICE_STATE_STOP_COPY,
		[VFIO_DEVICE_STATE_RESUMING] = VFIO_DEVICE_STATE_RESUMING,
		[VFIO_DEVICE_STATE_RUNNING_P2P] = VFIO_DEVICE_STATE_RUNNING_P2P,
		[VFIO_DEVICE_STATE_ERROR] = VFIO_DEVICE_STATE_ERROR,
	},
	[VFIO_DEVICE_STATE_RUNNING] = {
		[VFIO_DEVICE_STATE_STOP] = VFIO_DEVICE_STATE_RUNNING_P2P,
		[VFIO_DEVICE_STATE_RUNNING] = VFIO_DEVICE_STATE_RUNNING,
		[VFIO_DEVICE_STATE_PRE_COPY] = VFIO_DEVICE_STATE_PRE_COPY,
		[VFIO_DEVICE_STATE_PRE_COPY_P2P] = VFIO_DEVICE_STATE_RUNNING_P2P,
		[VFIO_DEVICE_STATE_STOP_COPY] = VFIO_DEVICE_STATE_RUNNING_P2P,
		[VFIO_DEVICE_STATE_RESUMING] = VFIO_DEVICE_STATE_RUNNING_P2P,
		[VFIO_DEVICE_STATE_RUNNING_P2P] = VFIO_DEVICE_STATE_RUNNING_P2P,
		[VFIO_DEVICE_STATE_ERROR] = VFIO_DEVICE_STATE_ERROR,
	},
	[VFIO_DEVICE_STATE_PRE_COPY] = {
		[VFIO_DEVICE_STATE_STOP] = VFIO_DEVICE_STATE_RUNNING,
		[VFIO_DEVICE_STATE_RUNNING] = VFIO_DEVICE_STATE_RUNNING,
		[VFIO_DEVICE_STATE_PRE_COPY] = VFIO_DEVICE_STATE_PRE_COPY,
		[VFIO_DEVICE_STATE_PRE_COPY_P2P] = VFIO_DEVICE_STATE_PRE_COPY_P2P,
		[VFIO_DEVICE_STATE_STOP_COPY] = VFIO_DEVICE_STATE_PRE_COPY_P2P,
		[VFIO_DEVICE_STATE_RESUMING] = VFIO_DEVICE_STATE_RUNNING,
		[VFIO_DEVICE_STATE_RUNNING_P2P] = VFIO_DEVICE_STATE_RUNNING,
		[VFIO_DEVICE_STATE_ERROR] = VFIO_DEVICE_STATE_ERROR,
	},
	[VFIO_DEVICE_STATE_PRE_COPY_P2P] = {
		[VFIO_DEVICE_STATE_STOP] = VFIO_DEVICE_STATE_RUNNING_P2P,
		[VFIO_DEVICE_STATE_RUNNING] = VFIO_DEVICE_STATE_RUNNING_P2P,
		[VFIO_DEVICE_STATE_PRE_COPY] = VFIO_DEVICE_STATE_PRE_COPY,
		[VFIO_DEVICE_STATE_PRE_COPY_P2P] = VFIO_DEVICE_STATE_PRE_COPY_P2P,
		[VFIO_DEVICE_STATE_STOP_COPY] = VFIO_DEVICE_STATE_STOP_COPY,
		[VFIO_DEVICE_STATE_RESUMING] = VFIO_DEVICE_STATE_RUNNING_P2P,
		[VFIO_DEVICE_STATE_RUNNING_P2P] = VFIO_DEVICE_STATE_RUNNING_P2P,
		[VFIO_DEVICE_STATE_ERROR] = VFIO_DEVICE_STATE_ERROR,
	},
	[VFIO_DEVICE_STATE_STOP_COPY] = {
		[VFIO_DEVICE_STATE_STOP] = VFIO_DEVICE_STATE_STOP,
		[VFIO_DEVICE_STATE_RUNNING] = VFIO_DEVICE_STATE_STOP,
		[VFIO_DEVICE_STATE_PRE_COPY] = VFIO_DEVICE_STATE_ERROR,
		[VFIO_DEVICE_STATE_PRE_COPY_P2P] = VFIO_DEVICE_STATE_ERROR,
		[VFIO_DEVICE_STATE_STOP_COPY] = VFIO_DEVICE_STATE_STOP_COPY,
		[VFIO_DEVICE_STATE_RESUMING] = VFIO_DEVICE_STATE_STOP,
		[VFIO_DEVICE_STATE_RUNNING_P2P] = VFIO_DEVICE_STATE_STOP,
		[VFIO_DEVICE_STATE_ERROR] = VFIO_DEVICE_STATE_ERROR,
	},
	[VFIO_DEVICE_STATE_RESUMING] = {
		[VFIO_DEVICE_STATE_STOP] = VFIO_DEVICE_STATE_STOP,
		[VFIO_DEVICE_STATE_RUNNING] = VFIO_DEVICE_STATE_STOP,
		[VFIO_DEVICE_STATE_PRE_COPY] = VFIO_DEVICE_STATE_STOP,
		[VFIO_DEVICE_STATE_PRE_COPY_P2P] = VFIO_DEVICE_STATE_STOP,
		[VFIO_DEVICE_STATE_STOP_COPY] = VFIO_DEVICE_STATE_STOP,
		[VFIO_DEVICE_STATE_RESUMING] = VFIO_DEVICE_STATE_RESUMING,
		[VFIO_DEVICE_STATE_RUNNING_P2P] = VFIO_DEVICE_STATE_STOP,
		[VFIO_DEVICE_STATE_ERROR] = VFIO_DEVICE_STATE_ERROR,
	},
	[VFIO_DEVICE_STATE_RUNNING_P2P] = {
		[VFIO_DEVICE_STATE_STOP] = VFIO_DEVICE_STATE_STOP,
		[VFIO_DEVICE_STATE_RUNNING] = VFIO_DEVICE_STATE_RUNNING,
		[VFIO_DEVICE_STATE_PRE_COPY] = VFIO_DEVICE_STATE_RUNNING,
		[VFIO_DEVICE_STATE_PRE_COPY_P2P] = VFIO_DEVICE_STATE_PRE_COPY_P2P,
		[VFIO_DEVICE_STATE_STOP_COPY] = VFIO_DEVICE_STATE_STOP,
		[VFIO_DEVICE_STATE_RESUMING] = VFIO_DEVICE_STATE_STOP,
		[VFIO_DEVICE_STATE_RUNNING_P2P] = VFIO_DEVICE_STATE_RUNNING_P2P,
		[VFIO_DEVICE_STATE_ERROR] = VFIO_DEVICE_STATE_ERROR,
	},
	[VFIO_DEVICE_STATE_ERROR] = {
		[VFIO_DEVICE_STATE_STOP] = VFIO_DEVICE_STATE_ERROR,
		[VFIO_DEVICE_STATE_RUNNING] = VFIO_DEVICE_STATE_ERROR,
		[VFIO_DEVICE_STATE_PRE_COPY] = VFIO_DEVICE_STATE_ERROR,
		[VFIO_DEVICE_STATE_PRE_COPY_P2P] = VFIO_DEVICE_STATE_ERROR,
		[VFIO_DEVICE_STATE_STOP_COPY] = VFIO_DEVICE_STATE_ERROR,
		[VFIO_DEVICE_STATE_RESUMING] = VFIO_DEVICE_STATE_ERROR,
		[VFIO_DEVICE_STATE_RUNNING_P2P] = VFIO_DEVICE_STATE_ERROR,
		[VFIO_DEVICE_STATE_ERROR] = VFIO_DEVICE_STATE_ERROR,
	},
};

static const unsigned int ref_needs[NR] = {
	[VFIO_DEVICE_STATE_STOP] = SC,
	[VFIO_DEVICE_STATE_RUNNING] = SC,
	[VFIO_DEVICE_STATE_PRE_COPY] = SC | PRE,
	[VFIO_DEVICE_STATE_PRE_COPY_P2P] = SC | P2P | PRE,
	[VFIO_DEVICE_STATE_STOP_COPY] = SC,
	[VFIO_DEVICE_STATE_RESUMING] = SC,
	[VFIO_DEVICE_STATE_RUNNING_P2P] = SC | P2P,
	[VFIO_DEVICE_STATE_ERROR] = ~0U,
};

static int ref_next(uint32_t flags, uint32_t cur, uint32_t new,
		    uint32_t *next)
{
	if (cur >= NR || (ref_needs[cur] & flags) != ref_needs[cur])
		return -EINVAL;
	if (new >= NR || (ref_needs[new] & flags) != ref_needs[new])
		return -EINVAL;
	*next = ref_table[cur][new];
	while (*next != VFIO_DEVICE_STATE_ERROR &&
	       (ref_needs[*next] & flags) != ref_needs[*next])
		*next = ref_table[*next][new];
	return *next != VFIO_DEVICE_STATE_ERROR ? 0 : -EINVAL;
}

/* The arcs the kernel's comment requires a driver to implement, by flags. */
static bool arc_implemented(uint32_t flags, uint32_t from, uint32_t to)
{
	enum { ST = VFIO_DEVICE_STATE_STOP, RU = VFIO_DEVICE_STATE_RUNNING,
	       SCS = VFIO_DEVICE_STATE_STOP_COPY,
	       RE = VFIO_DEVICE_STATE_RESUMING,
	       RP = VFIO_DEVICE_STATE_RUNNING_P2P,
	       PC = VFIO_DEVICE_STATE_PRE_COPY,
	       PP = VFIO_DEVICE_STATE_PRE_COPY_P2P };
	static const uint8_t base[][2] = {
		{ RE, ST }, { ST, RE }, { ST, SCS }, { SCS, ST },
	};
	static const uint8_t p2p[][2] = {
		{ RU, RP }, { RP, RU }, { RP, ST }, { ST, RP },
	};
	static const uint8_t pre[][2] = {
		{ RU, PC }, { PC, RU }, { PC, SCS },
	};
	static const uint8_t p2p_pre[][2] = {
		{ PC, RU }, { PC, PP }, { PP, PC }, { PP, RP }, { PP, SCS },
		{ RU, PC }, { RP, PP },
	};
	static const uint8_t plain[][2] = { { RU, ST }, { ST, RU } };
	size_t i;

#define HAS(list) \
	for (i = 0; i < sizeof(list) / sizeof(list[0]); i++) \
		if (list[i][0] == from && list[i][1] == to) \
			return true
	HAS(base);
	if (flags & P2P) {
		HAS(p2p);
	} else {
		HAS(plain);
	}
	if ((flags & PRE) && (flags & P2P)) {
		HAS(p2p_pre);
	} else if (flags & PRE) {
		HAS(pre);
	}
#undef HAS
	return false;
}

struct fake {
	uint32_t flags;
	uint32_t state;
	int datafd;		/* the session's fd as the fake knows it */
	const unsigned char *image;	/* what a save streams, a load expects */
	size_t image_len;
	size_t precopy_len;	/* of it, what PRE_COPY offers */
	size_t pos;		/* read position of the save session */
	bool enomsg;		/* PRE_COPY's temporary end: ENOMSG, else 0 */
	uint64_t dirty;		/* dirty_bytes PRE_COPY reports */
	unsigned char loaded[4096];
	size_t loaded_len;
	bool loaded_ok;		/* RESUMING -> STOP accepted the data */
	/* injected failures: the Nth call of a kind fails (1-based) */
	int fail_arc, fail_arc_err;
	bool fail_into_error;
	int fail_read, fail_read_err;
	int fail_write, fail_write_err;
	unsigned long fail_req;	/* this ioctl request fails */
	int fail_req_err;
	bool no_fd;		/* an arc that opens a session returns none */
	bool extra_fd;		/* PRE_COPY(_P2P) -> STOP_COPY returns one */
	bool stop_copy_enomsg;	/* STOP_COPY read returns ENOMSG */
	bool short_writes;	/* the data fd takes 3 bytes a write */
	bool reset_fails;
	bool get_lies;		/* GET after RUNNING reads STOP */
	bool fail_breaks_get;	/* the failed arc also breaks GET until reset */
	bool get_broken;
	uint64_t data_size;	/* MIG_DATA_SIZE answer; 0: what is left */
	/* what happened */
	int arcs, sets, resets, reads, writes, gets;
	int multi_arc_sets;	/* SETs the fake had to walk several arcs for */
	int unimplemented;	/* arcs no driver implements */
};

static bool in_session(uint32_t s)
{
	return s == VFIO_DEVICE_STATE_PRE_COPY ||
	       s == VFIO_DEVICE_STATE_PRE_COPY_P2P ||
	       s == VFIO_DEVICE_STATE_STOP_COPY ||
	       s == VFIO_DEVICE_STATE_RESUMING;
}

/* One arc, as a driver's step function takes it. */
static int fake_step(struct fake *f, uint32_t next, int *newfd)
{
	uint32_t cur = f->state;
	bool opens;

	if (!arc_implemented(f->flags, cur, next)) {
		f->unimplemented++;
		return -EINVAL;
	}
	if (++f->arcs == f->fail_arc) {
		if (f->fail_into_error)
			f->state = VFIO_DEVICE_STATE_ERROR;
		f->get_broken = f->fail_breaks_get;
		return -f->fail_arc_err;
	}
	if (cur == VFIO_DEVICE_STATE_RESUMING) {
		/* Like mtty_load_state(): an incomplete or foreign blob is refused. */
		if (f->loaded_len != f->image_len ||
		    memcmp(f->loaded, f->image, f->image_len))
			return -EINVAL;
		f->loaded_ok = true;
	}
	opens = (cur == VFIO_DEVICE_STATE_RUNNING &&
		 next == VFIO_DEVICE_STATE_PRE_COPY) ||
		(cur == VFIO_DEVICE_STATE_RUNNING_P2P &&
		 next == VFIO_DEVICE_STATE_PRE_COPY_P2P) ||
		(cur == VFIO_DEVICE_STATE_STOP &&
		 next == VFIO_DEVICE_STATE_STOP_COPY) ||
		(cur == VFIO_DEVICE_STATE_STOP &&
		 next == VFIO_DEVICE_STATE_RESUMING);
	if (in_session(cur) && !in_session(next))
		f->datafd = -1;
	if (opens) {
		f->pos = 0;
		f->loaded_len = 0;
		f->datafd = f->no_fd ? -1 : open("/dev/null", O_RDWR | O_CLOEXEC);
		*newfd = f->datafd;
	} else if (f->extra_fd && next == VFIO_DEVICE_STATE_STOP_COPY) {
		*newfd = open("/dev/null", O_RDWR | O_CLOEXEC);
	}
	f->state = next;
	return 0;
}

static int fake_set(struct fake *f, uint32_t new, int *data_fd)
{
	uint32_t next;
	int err, n = 0;

	f->sets++;
	*data_fd = -1;
	/* vfio core and the driver's loop: ask for the next arc until there. */
	while (f->state != new) {
		err = ref_next(f->flags, f->state, new, &next);
		if (err)
			return err;
		if (++n > 1)
			f->multi_arc_sets++;
		err = fake_step(f, next, data_fd);
		if (err)
			return err;
	}
	return 0;
}

static int fake_ioctl(void *ctx, int fd, unsigned long req, void *arg)
{
	struct fake *f = ctx;

	if (req == f->fail_req)
		return -f->fail_req_err;
	if (req == VFIO_DEVICE_RESET) {
		f->resets++;
		if (f->reset_fails)
			return -EIO;
		f->state = VFIO_DEVICE_STATE_RUNNING;
		f->datafd = -1;
		f->get_broken = false;
		return 0;
	}
	if (req == VFIO_MIG_GET_PRECOPY_INFO) {
		struct vfio_precopy_info *info = arg;

		if (fd != f->datafd)
			return -EBADF;
		if (f->state != VFIO_DEVICE_STATE_PRE_COPY &&
		    f->state != VFIO_DEVICE_STATE_PRE_COPY_P2P)
			return -EINVAL;
		if (info->argsz < sizeof(*info))
			return -EINVAL;
		info->initial_bytes = f->pos < f->precopy_len ?
				      f->precopy_len - f->pos : 0;
		info->dirty_bytes = f->dirty;
		return 0;
	}
	if (req == VFIO_DEVICE_FEATURE) {
		struct vfio_device_feature *hdr = arg;
		uint32_t op = hdr->flags & VFIO_DEVICE_FEATURE_MASK;
		uint32_t dir = hdr->flags & (VFIO_DEVICE_FEATURE_GET |
					     VFIO_DEVICE_FEATURE_SET);
		size_t argsz = hdr->argsz - sizeof(*hdr);

		if (hdr->argsz < sizeof(*hdr) ||
		    dir == (VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_SET) ||
		    !dir)
			return -EINVAL;
		if (op == VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE) {
			struct vfio_device_feature_mig_state *mig =
				(void *)hdr->data;
			int err;

			if (argsz < sizeof(*mig))
				return -EINVAL;
			if (dir == VFIO_DEVICE_FEATURE_GET) {
				f->gets++;
				if (f->get_broken)
					return -EIO;
				mig->device_state = f->state;
				if (f->get_lies &&
				    f->state == VFIO_DEVICE_STATE_RUNNING)
					mig->device_state = VFIO_DEVICE_STATE_STOP;
				mig->data_fd = -1;
				return 0;
			}
			err = fake_set(f, mig->device_state, &mig->data_fd);
			if (err)
				mig->data_fd = -1;
			return err;
		}
		if (op == VFIO_DEVICE_FEATURE_MIG_DATA_SIZE) {
			struct vfio_device_feature_mig_data_size *ds =
				(void *)hdr->data;

			if (dir != VFIO_DEVICE_FEATURE_GET || argsz < sizeof(*ds))
				return -EINVAL;
			ds->stop_copy_length = f->data_size ? f->data_size :
					       f->image_len - f->pos;
			return 0;
		}
		return -ENOTTY;
	}
	return -ENOTTY;
}

static ssize_t fake_read(void *ctx, int fd, void *buf, size_t len)
{
	struct fake *f = ctx;
	size_t avail;

	if (++f->reads == f->fail_read)
		return -f->fail_read_err;
	if (fd < 0 || fd != f->datafd)
		return -EBADF;
	if (f->state == VFIO_DEVICE_STATE_STOP_COPY)
		avail = f->image_len;
	else if (f->state == VFIO_DEVICE_STATE_PRE_COPY ||
		 f->state == VFIO_DEVICE_STATE_PRE_COPY_P2P)
		avail = f->precopy_len;
	else
		return -EINVAL;
	if (f->pos >= avail) {
		if (f->state == VFIO_DEVICE_STATE_STOP_COPY)
			return f->stop_copy_enomsg ? -ENOMSG : 0;
		return f->enomsg ? -ENOMSG : 0;
	}
	/* Odd chunks: the driver must not rely on the framing. */
	if (len > 5)
		len = 5;
	if (len > avail - f->pos)
		len = avail - f->pos;
	memcpy(buf, f->image + f->pos, len);
	f->pos += len;
	return (ssize_t)len;
}

static ssize_t fake_write(void *ctx, int fd, const void *buf, size_t len)
{
	struct fake *f = ctx;

	if (++f->writes == f->fail_write)
		return -f->fail_write_err;
	if (fd < 0 || fd != f->datafd ||
	    f->state != VFIO_DEVICE_STATE_RESUMING)
		return -EBADF;
	if (f->short_writes && len > 3)
		len = 3;
	if (len > sizeof(f->loaded) - f->loaded_len)
		return -ENOMEM;
	memcpy(f->loaded + f->loaded_len, buf, len);
	f->loaded_len += len;
	return (ssize_t)len;
}

static const struct kho_devstate_ops fake_ops = {
	.ioctl = fake_ioctl,
	.read = fake_read,
	.write = fake_write,
};

/* mtty's saved data is a header and two ports: any distinct bytes do. */
static unsigned char image[200];

static void fake_init(struct fake *f, uint32_t flags)
{
	size_t i;

	for (i = 0; i < sizeof(image); i++)
		image[i] = (unsigned char)(i * 7 + 3);
	memset(f, 0, sizeof(*f));
	f->flags = flags;
	f->state = VFIO_DEVICE_STATE_RUNNING;
	f->datafd = -1;
	f->image = image;
	f->image_len = sizeof(image);
	f->precopy_len = flags & PRE ? 24 : 0;	/* mtty: the header */
}

static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	if (!d)
		abort();
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static uint32_t image_crc(void)
{
	return (uint32_t)crc32(crc32(0L, Z_NULL, 0), image, sizeof(image));
}

static bool memfd_holds_image(int fd)
{
	unsigned char buf[sizeof(image) + 1];

	return pread(fd, buf, sizeof(buf), 0) == (ssize_t)sizeof(image) &&
	       !memcmp(buf, image, sizeof(image));
}

/* The whole save, as upgrade runs it. */
static int save(struct kho_devstate *ds, struct fake *f, int memfd,
		struct kho_diag *diag)
{
	int err = 0;

	kho_devstate_init(ds, 99, f->flags, &fake_ops, f);
	if (f->flags & PRE)
		err = kho_devstate_precopy(ds, memfd, diag);
	if (!err)
		err = kho_devstate_stop_copy(ds, memfd, diag);
	if (!err)
		err = kho_devstate_seal(ds, memfd, diag);
	return err;
}

KTEST(devstate_next_is_the_kernels_walk)
{
	static const uint32_t flag_sets[] = { SC, SC | P2P, SC | PRE,
					      SC | P2P | PRE };
	uint32_t cur, target, next, ref, s;
	size_t i;
	int err, steps;

	for (i = 0; i < 4; i++) {
		uint32_t fl = flag_sets[i];

		for (cur = 0; cur < NR + 1; cur++) {
			for (target = 0; target < NR + 1; target++) {
				err = kho_devstate_next(fl, cur, target, &next);
				ASSERT_EQ(ref_next(fl, cur, target, &ref), err);
				if (err)
					continue;
				ASSERT_EQ(ref, next);
				/* Walked arc by arc, every step is a driver's arc. */
				for (s = cur, steps = 0; s != target; s = next) {
					ASSERT_EQ(0, kho_devstate_next(fl, s, target, &next));
					ASSERT_TRUE(arc_implemented(fl, s, next));
					ASSERT_TRUE(++steps <= 4);
				}
			}
		}
	}
	/* The blocked arcs, and an unsupported state. */
	ASSERT_EQ(-EINVAL, kho_devstate_next(SC | PRE, VFIO_DEVICE_STATE_STOP_COPY,
					     VFIO_DEVICE_STATE_PRE_COPY, &next));
	ASSERT_EQ(-EINVAL, kho_devstate_next(SC, VFIO_DEVICE_STATE_RUNNING,
					     VFIO_DEVICE_STATE_PRE_COPY, &next));
	ASSERT_EQ(-EINVAL, kho_devstate_next(SC, VFIO_DEVICE_STATE_ERROR,
					     VFIO_DEVICE_STATE_RUNNING, &next));
}

KTEST(devstate_names)
{
	ASSERT_EQ(0, strcmp("PRE_COPY_P2P",
			    kho_devstate_name(VFIO_DEVICE_STATE_PRE_COPY_P2P)));
	ASSERT_EQ(0, strcmp("ERROR", kho_devstate_name(0)));
	ASSERT_EQ(0, strcmp("?", kho_devstate_name(8)));
}

/* mtty's flags: PRE_COPY, then STOP_COPY through PRE_COPY_P2P. */
KTEST(devstate_save_precopy_p2p)
{
	struct kho_devstate ds;
	struct kho_diag diag = { "" };
	struct fake f;
	char path[160];
	int fds = open_fds(), memfd;

	fake_init(&f, SC | P2P | PRE);
	memfd = kho_devstate_memfd("kho-devstate:test");
	ASSERT_TRUE(memfd >= 0);
	ASSERT_EQ(0, save(&ds, &f, memfd, &diag));
	ASSERT_EQ(sizeof(image), ds.length);
	ASSERT_EQ(24, ds.precopy_length);
	ASSERT_EQ(sizeof(image) - 24, ds.stop_copy_estimate);
	ASSERT_EQ(image_crc(), ds.crc32);
	ASSERT_TRUE(memfd_holds_image(memfd));
	ASSERT_EQ(0, strcmp("RUNNING -> PRE_COPY -> PRE_COPY_P2P -> STOP_COPY",
			    kho_devstate_path_str(ds.path, ds.path_len, path, sizeof(path))));
	ASSERT_EQ(VFIO_DEVICE_STATE_STOP_COPY, f.state);
	ASSERT_EQ(3, f.sets);
	ASSERT_EQ(0, f.multi_arc_sets);
	ASSERT_EQ(0, f.unimplemented);
	/* Sealed: LUO gets it frozen. */
	ASSERT_TRUE(write(memfd, "x", 1) < 0 && errno == EPERM);
	ASSERT_TRUE(ftruncate(memfd, 0) < 0 && errno == EPERM);
	kho_devstate_close(&ds);
	close(memfd);
	ASSERT_EQ(fds, open_fds());
}

KTEST(devstate_save_stop_copy_only)
{
	struct kho_devstate ds;
	struct fake f;
	char path[160];
	int memfd;

	fake_init(&f, SC);
	memfd = kho_devstate_memfd("kho-devstate:test");
	ASSERT_EQ(0, save(&ds, &f, memfd, NULL));
	ASSERT_EQ(0, ds.precopy_length);
	ASSERT_TRUE(memfd_holds_image(memfd));
	ASSERT_EQ(0, strcmp("RUNNING -> STOP -> STOP_COPY",
			    kho_devstate_path_str(ds.path, ds.path_len, path, sizeof(path))));
	ASSERT_EQ(0, f.multi_arc_sets);
	kho_devstate_close(&ds);
	close(memfd);

	/* P2P without PRE_COPY: through RUNNING_P2P. */
	fake_init(&f, SC | P2P);
	memfd = kho_devstate_memfd("kho-devstate:test");
	ASSERT_EQ(0, save(&ds, &f, memfd, NULL));
	ASSERT_EQ(0, strcmp("RUNNING -> RUNNING_P2P -> STOP -> STOP_COPY",
			    kho_devstate_path_str(ds.path, ds.path_len, path, sizeof(path))));
	ASSERT_TRUE(memfd_holds_image(memfd));
	kho_devstate_close(&ds);
	close(memfd);
}

/* PRE_COPY's temporary end: ENOMSG as the uapi says, 0 as mtty does. */
KTEST(devstate_precopy_end_enomsg_or_zero)
{
	struct kho_devstate ds;
	struct fake f;
	int memfd, i;

	for (i = 0; i < 2; i++) {
		fake_init(&f, SC | PRE);
		f.enomsg = i;
		f.dirty = 5;	/* never shrinks: the rounds must stop */
		memfd = kho_devstate_memfd("kho-devstate:test");
		ASSERT_EQ(0, save(&ds, &f, memfd, NULL));
		ASSERT_EQ(24, ds.precopy_length);
		ASSERT_TRUE(memfd_holds_image(memfd));
		kho_devstate_close(&ds);
		close(memfd);
	}
}

KTEST(devstate_precopy_refused)
{
	struct kho_devstate ds;
	struct kho_diag diag = { "" };
	struct fake f;

	fake_init(&f, SC | P2P);
	kho_devstate_init(&ds, 99, f.flags, &fake_ops, &f);
	ASSERT_EQ(-EOPNOTSUPP, kho_devstate_precopy(&ds, -1, &diag));
	ASSERT_STR_CONTAINS(diag.msg, "does not offer PRE_COPY");
	ASSERT_EQ(0, f.sets);

	fake_init(&f, SC | PRE);
	f.state = VFIO_DEVICE_STATE_STOP;
	kho_devstate_init(&ds, 99, f.flags, &fake_ops, &f);
	ASSERT_EQ(-EINVAL, kho_devstate_precopy(&ds, -1, &diag));
	ASSERT_STR_CONTAINS(diag.msg, "the device is STOP, not RUNNING");
	ASSERT_EQ(0, f.sets);
}

/*
 * The fail-nth sweep of the save: arc N fails, then the Nth read, then
 * each ioctl; each time recovery brings the device back to RUNNING with
 * its state (or, from ERROR, by a reset that says so) and leaks no fd.
 */
KTEST(devstate_save_fail_nth_recovers)
{
	static const uint32_t flag_sets[] = { SC, SC | P2P, SC | PRE,
					      SC | P2P | PRE };
	static const int arcs[] = { 2, 3, 2, 3 };	/* of each save */
	struct kho_devstate ds;
	struct kho_diag diag, rdiag;
	struct fake f;
	int fds = open_fds(), memfd, n, err, into_error, failures;
	size_t i;

	for (i = 0; i < 4; i++) {
		for (into_error = 0; into_error < 2; into_error++) {
			failures = 0;
			for (n = 1;; n++) {
				fake_init(&f, flag_sets[i]);
				f.fail_arc = n;
				f.fail_arc_err = EIO;
				f.fail_into_error = into_error;
				memfd = kho_devstate_memfd("kho-devstate:test");
				err = save(&ds, &f, memfd, &diag);
				close(memfd);
				if (!err) {
					kho_devstate_close(&ds);
					break;
				}
				failures++;
				ASSERT_EQ(-EIO, err);
				ASSERT_STR_CONTAINS(diag.msg, "EIO (the device is ");
				err = kho_devstate_recover(&ds, &rdiag);
				ASSERT_EQ(VFIO_DEVICE_STATE_RUNNING, f.state);
				ASSERT_EQ(-1, ds.datafd);
				if (into_error) {
					ASSERT_EQ(-ECANCELED, err);
					ASSERT_EQ(1, f.resets);
					ASSERT_STR_CONTAINS(rdiag.msg, "its state is lost");
				} else {
					ASSERT_EQ(0, err);
					ASSERT_EQ(0, f.resets);
					ASSERT_STR_CONTAINS(rdiag.msg, "to RUNNING, its state kept");
				}
				ASSERT_EQ(0, f.unimplemented);
			}
			/* Every arc of the save failed once. */
			ASSERT_EQ(arcs[i], failures);
		}
	}
	for (n = 1;; n++) {
		fake_init(&f, SC | P2P | PRE);
		f.fail_read = n;
		f.fail_read_err = EIO;
		memfd = kho_devstate_memfd("kho-devstate:test");
		err = save(&ds, &f, memfd, &diag);
		close(memfd);
		if (!err) {
			kho_devstate_close(&ds);
			break;
		}
		ASSERT_EQ(-EIO, err);
		ASSERT_STR_CONTAINS(diag.msg, "read of the data fd after");
		ASSERT_EQ(0, kho_devstate_recover(&ds, &rdiag));
		ASSERT_EQ(VFIO_DEVICE_STATE_RUNNING, f.state);
	}
	ASSERT_TRUE(n > 3);
	{
		static const unsigned long reqs[] = { VFIO_MIG_GET_PRECOPY_INFO,
						      VFIO_DEVICE_FEATURE };

		for (i = 0; i < 2; i++) {
			fake_init(&f, SC | P2P | PRE);
			f.fail_req = reqs[i];
			f.fail_req_err = ENOTTY;
			memfd = kho_devstate_memfd("kho-devstate:test");
			ASSERT_EQ(-ENOTTY, save(&ds, &f, memfd, &diag));
			close(memfd);
			f.fail_req = 0;
			ASSERT_EQ(0, kho_devstate_recover(&ds, &rdiag));
			ASSERT_EQ(VFIO_DEVICE_STATE_RUNNING, f.state);
		}
	}
	ASSERT_EQ(fds, open_fds());
}

KTEST(devstate_save_kernel_breaks_uapi)
{
	struct kho_devstate ds;
	struct kho_diag diag;
	struct fake f;
	int fds = open_fds(), memfd;

	fake_init(&f, SC | PRE);
	f.no_fd = true;
	memfd = kho_devstate_memfd("kho-devstate:test");
	ASSERT_EQ(-EPROTO, save(&ds, &f, memfd, &diag));
	ASSERT_STR_CONTAINS(diag.msg, "RUNNING -> PRE_COPY: the kernel returned no data fd");
	ASSERT_EQ(0, kho_devstate_recover(&ds, NULL));
	close(memfd);

	fake_init(&f, SC | PRE);
	f.extra_fd = true;
	memfd = kho_devstate_memfd("kho-devstate:test");
	ASSERT_EQ(-EPROTO, save(&ds, &f, memfd, &diag));
	ASSERT_STR_CONTAINS(diag.msg, "PRE_COPY -> STOP_COPY: the kernel returned a data fd on an arc that opens no session");
	ASSERT_EQ(0, kho_devstate_recover(&ds, NULL));
	close(memfd);

	fake_init(&f, SC);
	f.stop_copy_enomsg = true;
	memfd = kho_devstate_memfd("kho-devstate:test");
	ASSERT_EQ(-EPROTO, save(&ds, &f, memfd, &diag));
	ASSERT_STR_CONTAINS(diag.msg, "ENOMSG, which the uapi allows only in PRE_COPY");
	ASSERT_EQ(0, kho_devstate_recover(&ds, NULL));
	close(memfd);

	/* Too big: refused before the device stops. */
	fake_init(&f, SC);
	f.data_size = KHO_DEVSTATE_MAX + 1;
	memfd = kho_devstate_memfd("kho-devstate:test");
	ASSERT_EQ(-EFBIG, save(&ds, &f, memfd, &diag));
	ASSERT_STR_CONTAINS(diag.msg, "estimates");
	ASSERT_EQ(0, f.sets);
	ASSERT_EQ(VFIO_DEVICE_STATE_RUNNING, f.state);
	close(memfd);
	ASSERT_EQ(fds, open_fds());
}

KTEST(devstate_recover_reset_fails)
{
	struct kho_devstate ds;
	struct kho_diag diag;
	struct fake f;
	int memfd;

	fake_init(&f, SC);
	f.fail_arc = 2;
	f.fail_arc_err = EIO;
	f.fail_into_error = true;
	f.reset_fails = true;
	memfd = kho_devstate_memfd("kho-devstate:test");
	ASSERT_EQ(-EIO, save(&ds, &f, memfd, NULL));
	close(memfd);
	ASSERT_EQ(-EIO, kho_devstate_recover(&ds, &diag));
	ASSERT_STR_CONTAINS(diag.msg, "the device is ERROR; VFIO_DEVICE_RESET: EIO: the device is unusable");
}

/* A device that cannot say where a failed arc left it is reset. */
KTEST(devstate_state_unreadable_after_failure)
{
	struct kho_devstate ds;
	struct kho_diag diag, rdiag;
	struct fake f;
	int memfd;

	fake_init(&f, SC);
	f.fail_arc = 2;
	f.fail_arc_err = EBUSY;
	f.fail_breaks_get = true;
	memfd = kho_devstate_memfd("kho-devstate:test");
	ASSERT_EQ(-EBUSY, save(&ds, &f, memfd, &diag));
	close(memfd);
	ASSERT_STR_CONTAINS(diag.msg, "STOP -> STOP_COPY: EBUSY (the device is unreadable: EIO)");
	ASSERT_EQ(-ECANCELED, kho_devstate_recover(&ds, &rdiag));
	ASSERT_STR_CONTAINS(rdiag.msg, "reading the FSM state: EIO; reset to RUNNING: its state is lost");
	ASSERT_EQ(1, f.resets);
	ASSERT_EQ(VFIO_DEVICE_STATE_RUNNING, f.state);
}

static int saved_memfd(struct kho_devstate *ds, uint32_t flags)
{
	struct fake f;
	int memfd;

	fake_init(&f, flags);
	memfd = kho_devstate_memfd("kho-devstate:test");
	if (memfd < 0 || save(ds, &f, memfd, NULL))
		abort();
	kho_devstate_close(ds);
	return memfd;
}

KTEST(devstate_load_round_trip)
{
	struct kho_devstate saved, ds;
	struct kho_diag diag = { "" };
	struct fake f;
	char path[160];
	int fds = open_fds(), memfd;

	memfd = saved_memfd(&saved, SC | P2P | PRE);
	fake_init(&f, SC | P2P | PRE);	/* a fresh device after the kexec */
	f.short_writes = true;
	kho_devstate_init(&ds, 99, f.flags, &fake_ops, &f);
	ASSERT_EQ(0, kho_devstate_load(&ds, memfd, saved.length, saved.crc32,
				       &diag));
	ASSERT_TRUE(f.loaded_ok);
	ASSERT_EQ(VFIO_DEVICE_STATE_STOP, f.state);
	ASSERT_EQ(sizeof(image), ds.length);
	ASSERT_EQ(0, kho_devstate_resume(&ds, &diag));
	ASSERT_EQ(VFIO_DEVICE_STATE_RUNNING, f.state);
	ASSERT_EQ(0, strcmp("RUNNING -> RUNNING_P2P -> STOP -> RESUMING -> STOP -> RUNNING_P2P -> RUNNING",
			    kho_devstate_path_str(ds.path, ds.path_len, path, sizeof(path))));
	ASSERT_EQ(0, f.multi_arc_sets);
	ASSERT_EQ(0, f.unimplemented);
	ASSERT_EQ(-1, ds.datafd);
	close(memfd);
	ASSERT_EQ(fds, open_fds());
}

/* A memfd that does not match the hand-off never reaches the device. */
KTEST(devstate_load_checks_before_touching)
{
	struct kho_devstate saved, ds;
	struct kho_diag diag;
	struct fake f;
	int memfd;

	memfd = saved_memfd(&saved, SC);
	fake_init(&f, SC);
	kho_devstate_init(&ds, 99, f.flags, &fake_ops, &f);
	ASSERT_EQ(-EBADMSG, kho_devstate_load(&ds, memfd, saved.length + 1,
					      saved.crc32, &diag));
	ASSERT_STR_CONTAINS(diag.msg, "memfd holds 200 bytes, the hand-off says 201");
	ASSERT_EQ(-EBADMSG, kho_devstate_load(&ds, memfd, saved.length,
					      saved.crc32 ^ 1, &diag));
	ASSERT_STR_CONTAINS(diag.msg, "crc32");
	ASSERT_EQ(-EFBIG, kho_devstate_load(&ds, memfd, KHO_DEVSTATE_MAX + 1,
					    saved.crc32, &diag));
	ASSERT_EQ(0, f.sets);
	ASSERT_EQ(0, f.gets);
	ASSERT_EQ(VFIO_DEVICE_STATE_RUNNING, f.state);
	close(memfd);
}

/* The driver refuses the blob on RESUMING -> STOP: reset, said so. */
KTEST(devstate_load_refused_by_driver)
{
	static unsigned char other[sizeof(image)];
	struct kho_devstate saved, ds;
	struct kho_diag diag;
	struct fake f;
	int fds = open_fds(), memfd;

	memfd = saved_memfd(&saved, SC);
	fake_init(&f, SC);
	memset(other, 0x5a, sizeof(other));
	f.image = other;	/* this device expects another blob */
	kho_devstate_init(&ds, 99, f.flags, &fake_ops, &f);
	ASSERT_EQ(-EINVAL, kho_devstate_load(&ds, memfd, saved.length,
					     saved.crc32, &diag));
	ASSERT_STR_CONTAINS(diag.msg, "RESUMING -> STOP: EINVAL (the device is now RESUMING)");
	ASSERT_STR_CONTAINS(diag.msg, "reset to RUNNING: its state is lost");
	ASSERT_EQ(1, f.resets);
	ASSERT_EQ(VFIO_DEVICE_STATE_RUNNING, f.state);
	ASSERT_TRUE(!f.loaded_ok);
	close(memfd);
	ASSERT_EQ(fds, open_fds());
}

KTEST(devstate_load_fail_nth_recovers)
{
	struct kho_devstate saved, ds;
	struct kho_diag diag;
	struct fake f;
	int fds = open_fds(), memfd, n, err, kind;

	memfd = saved_memfd(&saved, SC | P2P);
	for (kind = 0; kind < 2; kind++) {
		for (n = 1;; n++) {
			fake_init(&f, SC | P2P);
			f.short_writes = true;
			if (kind) {
				f.fail_write = n;
				f.fail_write_err = EIO;
			} else {
				f.fail_arc = n;
				f.fail_arc_err = EIO;
			}
			kho_devstate_init(&ds, 99, f.flags, &fake_ops, &f);
			err = kho_devstate_load(&ds, memfd, saved.length,
						saved.crc32, &diag);
			if (!err) {
				kho_devstate_close(&ds);
				break;
			}
			ASSERT_EQ(-EIO, err);
			ASSERT_EQ(VFIO_DEVICE_STATE_RUNNING, f.state);
			ASSERT_EQ(-1, ds.datafd);
			ASSERT_TRUE(!f.loaded_ok);
			if (kind)
				ASSERT_STR_CONTAINS(diag.msg, "RESUMING: write of the data fd");
		}
		/* Every arc and every write failed once. */
		ASSERT_TRUE(n > (kind ? (int)(sizeof(image) / 3) : 4));
	}
	close(memfd);
	ASSERT_EQ(fds, open_fds());
}

KTEST(devstate_resume_checks_state)
{
	struct kho_devstate saved, ds;
	struct kho_diag diag;
	struct fake f;
	int memfd;

	memfd = saved_memfd(&saved, SC);
	fake_init(&f, SC);
	kho_devstate_init(&ds, 99, f.flags, &fake_ops, &f);
	ASSERT_EQ(0, kho_devstate_load(&ds, memfd, saved.length, saved.crc32,
				       &diag));
	f.get_lies = true;
	ASSERT_EQ(-EILSEQ, kho_devstate_resume(&ds, &diag));
	ASSERT_STR_CONTAINS(diag.msg, "set RUNNING, but the device reads STOP");
	close(memfd);
}
