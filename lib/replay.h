/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Replay: rebuilds recorded iommufd/VFIO-cdev state by issuing a replay
 * plan's ioctls against /dev/iommu and the VFIO cdevs, remapping the
 * recorded (old) object IDs to the ones the new kernel hands out.
 */
#ifndef KHO_REPLAY_H
#define KHO_REPLAY_H

#include <stdbool.h>

#include "idmap.h"

/* A retrieved guest-RAM memfd: the fd LUO handed back for a token. */
struct kho_replay_memfd {
	uint64_t token;
	int fd;
};

/* Return: the fd retrieved for @token, or -ENOENT. */
int kho_replay_memfd_find(const struct kho_replay_memfd *memfds, size_t nr,
			  uint64_t token);

/* A device the replay opened and bound. */
struct kho_replay_dev {
	struct kho_pci_id pci;
	uint32_t old_id;
	uint32_t new_id;
	uint32_t old_hwpt;	/* recorded attachment, 0 if none */
	uint32_t new_hwpt;	/* what ATTACH returned, 0 if none */
	int fd;			/* the VFIO cdev */
	char cdev[64];		/* "/dev/vfio/devices/vfio0" */
	char driver[32];
};

/* Replay order; see kho_replay_run(). */
enum kho_replay_order {
	KHO_REPLAY_MAPS_FIRST = 0,	/* default: the cheapest legal order */
	KHO_REPLAY_ATTACH_FIRST = 1,	/* devices before maps: for benches */
};

/* Per-op totals, for the timeline. */
struct kho_replay_stat {
	uint32_t calls;
	uint64_t ns;
};

struct kho_replay {
	/* Inputs, set by the caller after kho_replay_init(). */
	const char *sysfs;		/* "/sys"; a tree root for tests */
	const char *devdir;		/* "/dev"; where vfio cdevs live */
	unsigned int fail_at;		/* test hook: fail step N (1-based) */
	/*
	 * Test hook: call stop() before step N (1-based), for a test to
	 * signal or kill the process halfway through the replay.
	 */
	unsigned int stop_at;
	void (*stop)(struct kho_replay *r);
	/*
	 * Test hook of the kernel-verified replay: issue journal record N
	 * (1-based, an IOAS_MAP_FILE) one page off its recorded IOVA, so
	 * the kernel must refuse it with EILSEQ.
	 */
	unsigned int deviate_at;
	int order;			/* enum kho_replay_order */
	/*
	 * A whole journal (kho_replay_kjournal()) reuses old IDs once their
	 * object died: an output ID mapped before is mapped anew.  A plan
	 * names each ID once, and a second use is an error.
	 */
	bool remap_outputs;
	/* Outputs. */
	int iommufd;			/* -1 until opened */
	struct kho_idmap idmap;
	struct kho_replay_dev *dev;
	size_t nr_dev;
	unsigned int steps;		/* ioctls issued (or injected) */
	/*
	 * Mappings whose FIXED_IOVA MAP_FILE succeeded, per h->state.ioas[]
	 * index: verify checks them against the record by construction.
	 */
	uint32_t *mapped;
	size_t nr_mapped;
	uint64_t identity_ns;		/* sysfs identity checks of devices */
	struct kho_replay_stat stat[KHO_OP_MAX + 1];
};

/* Sets defaults: /sys, /dev, no failure injection, maps first. */
void kho_replay_init(struct kho_replay *r);
/* Closes every fd the replay opened and frees its tables. */
void kho_replay_release(struct kho_replay *r);

/*
 * kho_replay_run() - rebuild the hand-off's state
 * @r:      initialised replay; r->iommufd is opened here if it is -1
 * @h:      the decoded, validated hand-off (state + replay plan)
 * @memfds: the retrieved guest-RAM memfds, one per h->state.memfd entry
 *
 * Issues IOAS_ALLOC, ALLOW_IOVAS and OPTION in plan order, then every
 * mapping with IOMMU_IOAS_MAP_FILE at its recorded (fixed) IOVA, then
 * BIND, HWPT_ALLOC, ATTACH and SET_DIRTY_TRACKING in plan order.  Filling
 * an IOAS before a device attaches fills each domain in one pass instead
 * of one IOTLB flush per map (RIG.md: 4.6x at 4,096 maps); the kernel
 * accepts and refuses the same things in both orders, because allowed
 * ranges, reserved regions and apertures are checked both ways.
 *
 * Devices are found by recorded PCI identity through
 * sysfs/bus/pci/devices/<addr>/vfio-dev/, and their vendor:device and
 * driver must match the record.
 *
 * Return: 0; -ENOENT (a device, memfd token or old ID is missing);
 * -ENODEV (device identity or driver differs from the record);
 * -EOPNOTSUPP (a plan op replay cannot carry); -EBADMSG (inconsistent
 * plan); -EIO (failure injected by fail_at); or the errno of the ioctl
 * that failed.  diag names the object, the step and the errno.  On
 * failure everything opened so far stays in @r for the caller to release.
 */
int kho_replay_run(struct kho_replay *r, const struct kho_handoff *h,
		   const struct kho_replay_memfd *memfds, size_t nr_memfds,
		   struct kho_diag *diag);

/* The device @r bound for recorded devid @old_id, or NULL. */
struct kho_replay_dev *kho_replay_find_dev(struct kho_replay *r,
					   uint32_t old_id);

/*
 * kho_replay_pci_name() - "ssss:bb:dd.f", as in sysfs
 * Return: @buf.
 */
char *kho_replay_pci_name(const struct kho_pci_id *pci, char *buf,
			  size_t len);

/*
 * kho_replay_find_cdev() - find the VFIO cdev of a PCI function
 * @sysfs:  sysfs root ("/sys")
 * @pci:    recorded identity; vendor:device must match
 * @driver: recorded driver (may be "" to skip the check)
 * @name:   out: the cdev's name, e.g. "vfio0"
 *
 * Return: 0; -ENOENT (no such PCI function, or no vfio-dev under it);
 * -ENODEV (vendor:device or driver differ; diag says which).
 */
int kho_replay_find_cdev(const char *sysfs, const struct kho_pci_id *pci,
			 const char *driver, char *name, size_t len,
			 struct kho_diag *diag);

/* "EINVAL" etc. for a negative or positive errno. */
const char *kho_errno_name(int err);

/*
 * The replay's building blocks, shared by the plan replay above and the
 * record-by-record replay of a kernel journal (replay_kjournal.c).
 *
 * kho_replay_ioctl() - issue one ioctl of op @op: counts r->steps,
 * injects r->fail_at (-EIO without issuing it), times it into r->stat.
 * Return: 0 or the ioctl's -errno.
 */
int kho_replay_ioctl(struct kho_replay *r, uint32_t op, int fd,
		     unsigned long cmd, void *arg);
/* The end of a message: "EINVAL (Invalid argument)" or the injection. */
const char *kho_replay_cause(struct kho_replay *r, int err, char *buf,
			     size_t len);
/*
 * kho_replay_map() - IOMMU_IOAS_MAP_FILE of @m into IOAS @new_ioas (the
 * recorded @old_ioas names it in messages) from memfd @fd (< 0: not
 * retrieved, an error naming the token) with @flags as given.
 */
int kho_replay_map(struct kho_replay *r, uint32_t old_ioas, uint32_t new_ioas,
		   const struct kho_mapping *m, uint32_t flags, int fd,
		   struct kho_diag *diag);
/* Drops @old_id from @m (its object died).  Return: 0 or -ENOMEM. */
int kho_replay_idmap_forget(struct kho_idmap *m, uint32_t old_id);

/*
 * One record each, old IDs translated through r->idmap, output IDs
 * learnt into it; diag names the object, the step and the errno.
 * kho_replay_bind() finds the cdev by the recorded PCI identity (and the
 * driver @h's state records for that device), opens and binds it, and
 * appends it to r->dev even on failure (its fd may be open).
 */
int kho_replay_ioas_alloc(struct kho_replay *r, const struct kho_rec *rec,
			  struct kho_diag *diag);
int kho_replay_allow(struct kho_replay *r, const struct kho_rec *rec,
		     struct kho_diag *diag);
int kho_replay_option(struct kho_replay *r, const struct kho_rec *rec,
		      struct kho_diag *diag);
int kho_replay_bind(struct kho_replay *r, const struct kho_handoff *h,
		    const struct kho_rec *rec, struct kho_diag *diag);
int kho_replay_hwpt_alloc(struct kho_replay *r, const struct kho_rec *rec,
			  struct kho_diag *diag);
int kho_replay_attach(struct kho_replay *r, const struct kho_rec *rec,
		      struct kho_diag *diag);
int kho_replay_dirty(struct kho_replay *r, const struct kho_rec *rec,
		     struct kho_diag *diag);

/* --- the kernel-verified path (replay_kjournal.c) ------------------------ */

/*
 * kho_replay_kjournal_ino_token() - resolves the inode numbers of the
 * previous kernel's journal to memfd tokens through the hand-off's
 * iommufd file table; @ctx is the const struct kho_handoff_iommufd *.
 * Return: 0 or -ENOENT.
 */
int kho_replay_kjournal_ino_token(void *ctx, uint64_t ino, uint64_t *token);

/*
 * kho_replay_kjournal_load() - check a retrieved iommufd and read what it
 * expects
 * @iommufd:  RETRIEVE_FD of h->iommufd.token
 * @h:        the hand-off, with its iommufd node
 * @expected: out: the preserved journal, files resolved to memfd tokens
 * @matched:  out: records the kernel has matched already (0, or where a
 *            failed attempt stopped)
 *
 * Return: 0; -EPROTO (not RESTORING: diag names the state); -EBADMSG
 * (the preserved journal is not the length the hand-off says, or names a
 * file the hand-off does not map); -ENOTTY (the kernel has no iommufd
 * journal); the ioctl's -errno.
 */
int kho_replay_kjournal_load(int iommufd, const struct kho_handoff *h,
			     struct kho_journal *expected, uint32_t *matched,
			     struct kho_diag *diag);

/*
 * kho_replay_kjournal() - replay a preserved journal into its iommufd,
 * record by record in order, each checked by the kernel
 * @r:       r->iommufd is the restoring iommufd; r->dev and r->idmap hold
 *           what earlier records built (empty at @start 0)
 * @h:       the hand-off (device drivers)
 * @journal: kho_replay_kjournal_load()'s expected journal
 * @start:   the first record to replay (the kernel's matched count)
 *
 * Replays IOAS_ALLOC, DESTROY (a device's: close its fd, which unbinds),
 * ALLOW_IOVAS, MAP_FILE at the recorded IOVA with the recorded flags from
 * the memfd of that token, COPY, UNMAP, OPTION, HWPT_ALLOC,
 * SET_DIRTY_TRACKING, BIND (the VFIO cdev of the recorded PCI identity),
 * ATTACH and DETACH.  r->fail_at N (1-based) stops before record N.
 *
 * Return: 0; -EILSEQ (the kernel refused a record: the replay deviates
 * from the preserved journal); -EIO (injected); -EOPNOTSUPP (an op that
 * cannot be replayed); -ENOENT (device, memfd or old ID missing); the
 * failing ioctl's -errno.  diag names the record (1-based), its op and
 * object, and the errno.  What was built stays in @r.
 */
int kho_replay_kjournal(struct kho_replay *r, const struct kho_handoff *h,
			const struct kho_journal *journal, size_t start,
			const struct kho_replay_memfd *memfds, size_t nr_memfds,
			struct kho_diag *diag);

/*
 * kho_replay_kjournal_verified() - after the last record the kernel must
 * say VERIFIED with every one of @nr records matched.
 * Return: 0; -EPROTO (diag: state and progress); the ioctl's -errno.
 */
int kho_replay_kjournal_verified(int iommufd, size_t nr,
				 struct kho_diag *diag);

#endif /* KHO_REPLAY_H */
