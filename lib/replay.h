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

/**
 * kho_replay_memfd_find() - the fd retrieved for a token
 * @memfds: the retrieved memfds
 * @nr:     their number
 * @token:  the token
 *
 * Return: the fd; -ENOENT (no memfd of that token).
 */
int kho_replay_memfd_find(const struct kho_replay_memfd *memfds, size_t nr,
			  uint64_t token);

/* A device the replay opened and bound. */
struct kho_replay_dev {
	struct kho_pci_id pci;
	struct kho_mdev_id mdev;	/* all zero for a PCI function */
	bool mdev_created;	/* the replay created the mdev */
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
	/*
	 * Called by the kernel-verified replay after each record that
	 * changed the objects, fds or IDs it holds (not after a map): the
	 * agent's keeper copies them, see agent_keeper_share_progress().
	 */
	void (*checkpoint)(struct kho_replay *r);
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

/**
 * kho_replay_init() - set the defaults
 * @r: the replay: /sys, /dev, no failure injection, maps first, no
 *     iommufd yet
 */
void kho_replay_init(struct kho_replay *r);

/**
 * kho_replay_release() - close every fd the replay opened and free its
 * tables
 * @r: the replay
 */
void kho_replay_release(struct kho_replay *r);

/**
 * kho_replay_run() - rebuild the hand-off's state
 * @r:      initialised replay; r->iommufd is opened here if it is -1
 * @h:      the decoded, validated hand-off (state + replay plan)
 * @memfds: the retrieved guest-RAM memfds, one per h->state.memfd entry
 * @nr_memfds: their number
 * @diag:   out: the object, the step and the errno
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
 * plan); -EIO (failure injected by fail_at); -ENOMEM; or the errno of
 * the ioctl that failed, or of opening /dev/iommu or a cdev.  On failure
 * everything opened so far stays in @r for the caller to release.
 */
int kho_replay_run(struct kho_replay *r, const struct kho_handoff *h,
		   const struct kho_replay_memfd *memfds, size_t nr_memfds,
		   struct kho_diag *diag);

/**
 * kho_replay_find_dev() - the device a replay bound for a recorded devid
 * @r:      the replay
 * @old_id: the recorded devid
 *
 * Return: the device, or NULL if none was bound for @old_id.
 */
struct kho_replay_dev *kho_replay_find_dev(struct kho_replay *r,
					   uint32_t old_id);

/**
 * kho_replay_pci_name() - a PCI function's name, as in sysfs
 * @pci: its identity
 * @buf: out: "ssss:bb:dd.f"
 * @len: room in @buf
 *
 * Return: @buf.
 */
char *kho_replay_pci_name(const struct kho_pci_id *pci, char *buf,
			  size_t len);

/**
 * kho_replay_find_mdev_cdev() - the VFIO cdev of a recorded mdev, created
 * @sysfs:   sysfs mount point ("/sys")
 * @mdev:    its identity (UUID, parent, type), from the hand-off
 * @driver:  the mdev driver recorded; NULL or "" to skip the check
 * @name:    out: the cdev's name, "vfio0"
 * @len:     size of @name
 * @created: out: true if this call created the mdev
 * @diag:    why not, naming the mdev, the step and the cause
 *
 * An mdev does not survive a kexec: it is created again with its UUID
 * (kho_mdev_ensure()) unless the boot or an earlier try already did.
 *
 * Return: 0; kho_mdev_ensure()'s errors; -ENODEV (another driver);
 * -ENOENT (no VFIO cdev).
 */
int kho_replay_find_mdev_cdev(const char *sysfs,
			      const struct kho_mdev_id *mdev,
			      const char *driver, char *name, size_t len,
			      bool *created, struct kho_diag *diag);

/**
 * kho_replay_find_cdev() - find the VFIO cdev of a PCI function
 * @sysfs:  sysfs root ("/sys")
 * @pci:    recorded identity; vendor:device must match
 * @driver: recorded driver (may be "" to skip the check)
 * @name:   out: the cdev's name, e.g. "vfio0"
 * @len:    room in @name
 * @diag:   out: the sysfs path and what differs
 *
 * Return: 0; -ENOENT (no such PCI function, or no vfio-dev under it);
 * -ENODEV (vendor:device or driver differ; diag says which); or the
 * -errno of reading sysfs.
 */
int kho_replay_find_cdev(const char *sysfs, const struct kho_pci_id *pci,
			 const char *driver, char *name, size_t len,
			 struct kho_diag *diag);

/*
 * The replay's building blocks, shared by the plan replay above and the
 * record-by-record replay of a kernel journal (replay_kjournal.c).
 */

/**
 * kho_replay_ioctl() - issue one ioctl of a replay
 * @r:   the replay: counts r->steps, injects r->fail_at, times the call
 *       into r->stat
 * @op:  the journal op it replays, for the statistics
 * @fd:  the iommufd or cdev
 * @cmd: the ioctl number
 * @arg: its argument
 *
 * Return: 0; -EIO (failure injected by r->fail_at, nothing issued); or
 * the ioctl's -errno.
 */
int kho_replay_ioctl(struct kho_replay *r, uint32_t op, int fd,
		     unsigned long cmd, void *arg);

/**
 * kho_replay_cause() - the end of a replay message
 * @r:   the replay
 * @err: the -errno
 * @buf: out: "EINVAL (Invalid argument)", or the injected failure
 * @len: room in @buf
 *
 * Return: @buf.
 */
const char *kho_replay_cause(struct kho_replay *r, int err, char *buf,
			     size_t len);

/**
 * kho_replay_map() - IOMMU_IOAS_MAP_FILE of one recorded mapping
 * @r:        the replay
 * @old_ioas: the recorded IOAS, which names it in messages
 * @new_ioas: the IOAS it became
 * @m:        the mapping (IOVA, length, memfd token and offset)
 * @flags:    the map flags, as given
 * @fd:       the memfd; < 0 when it was not retrieved (an error naming
 *            the token)
 * @diag:     out: the IOAS, the range, the token and the errno
 *
 * Return: 0; -ENOENT (@fd < 0: the memfd was not retrieved); -EIO
 * (injected); or the ioctl's -errno.
 */
int kho_replay_map(struct kho_replay *r, uint32_t old_ioas, uint32_t new_ioas,
		   const struct kho_mapping *m, uint32_t flags, int fd,
		   struct kho_diag *diag);

/**
 * kho_replay_idmap_forget() - drop an old ID whose object died
 * @m:      the ID map
 * @old_id: the recorded ID
 *
 * Return: 0 or -ENOMEM.
 */
int kho_replay_idmap_forget(struct kho_idmap *m, uint32_t old_id);

/*
 * One record each: old IDs translated through r->idmap, output IDs
 * learnt into it; diag names the object, the step and the errno.  Each
 * can return -ENOENT (an old ID this replay never created), -EBADMSG (an
 * output ID learnt twice: an inconsistent plan), -ENOMEM, -EIO (injected
 * by r->fail_at) or the ioctl's -errno.
 */

/**
 * kho_replay_ioas_alloc() - replay IOMMU_IOAS_ALLOC
 * @r:    the replay
 * @rec:  the record
 * @diag: out: the object, the step and the errno
 *
 * Return: 0; -EBADMSG; -ENOMEM; -EIO; or the ioctl's -errno.
 */
int kho_replay_ioas_alloc(struct kho_replay *r, const struct kho_rec *rec,
			  struct kho_diag *diag);

/**
 * kho_replay_allow() - replay IOMMU_IOAS_ALLOW_IOVAS
 * @r:    the replay
 * @rec:  the record
 * @diag: out: the object, the step and the errno
 *
 * Return: 0; -ENOENT; -EIO; or the ioctl's -errno.
 */
int kho_replay_allow(struct kho_replay *r, const struct kho_rec *rec,
		     struct kho_diag *diag);

/**
 * kho_replay_option() - replay IOMMU_OPTION
 * @r:    the replay
 * @rec:  the record
 * @diag: out: the object, the step and the errno
 *
 * Return: 0; -ENOENT; -EIO; or the ioctl's -errno.
 */
int kho_replay_option(struct kho_replay *r, const struct kho_rec *rec,
		      struct kho_diag *diag);

/**
 * kho_replay_bind() - open a recorded device's cdev and bind it
 * @r:    the replay; the device is appended to r->dev even on failure
 *        (its fd may be open)
 * @h:    the hand-off, whose state records the device's driver
 * @rec:  the record
 * @diag: out: the device, the step and the errno
 *
 * The cdev is found by the recorded PCI identity (kho_replay_find_cdev()).
 *
 * Return: 0; -ENOENT (no such device or cdev); -ENODEV (identity or
 * driver differ); -EOPNOTSUPP (a VF token, which cannot cross kexec);
 * -EBADMSG; -ENOMEM; -EIO; or the -errno of open(2) or the ioctl.
 */
int kho_replay_bind(struct kho_replay *r, const struct kho_handoff *h,
		    const struct kho_rec *rec, struct kho_diag *diag);

/**
 * kho_replay_hwpt_alloc() - replay IOMMU_HWPT_ALLOC
 * @r:    the replay
 * @rec:  the record
 * @diag: out: the object, the step and the errno
 *
 * Return: 0; -ENOENT; -EOPNOTSUPP (a fault queue, not carried across kexec);
 * -EBADMSG; -ENOMEM; -EIO; or the ioctl's -errno.
 */
int kho_replay_hwpt_alloc(struct kho_replay *r, const struct kho_rec *rec,
			  struct kho_diag *diag);

/**
 * kho_replay_attach() - replay VFIO_DEVICE_ATTACH_IOMMUFD_PT
 * @r:    the replay
 * @rec:  the record
 * @diag: out: the device, the step and the errno
 *
 * Return: 0; -ENOENT (an unbound device or unknown page table); -EBADMSG
 * (the kernel attached another HWPT than the record says); -EEXIST;
 * -ENOMEM; -EIO; or the ioctl's -errno.
 */
int kho_replay_attach(struct kho_replay *r, const struct kho_rec *rec,
		      struct kho_diag *diag);

/**
 * kho_replay_dirty() - replay IOMMU_HWPT_SET_DIRTY_TRACKING
 * @r:    the replay
 * @rec:  the record
 * @diag: out: the object, the step and the errno
 *
 * Return: 0; -ENOENT; -EIO; or the ioctl's -errno.
 */
int kho_replay_dirty(struct kho_replay *r, const struct kho_rec *rec,
		     struct kho_diag *diag);

/* --- the kernel-verified path (replay_kjournal.c) ------------------------ */

/**
 * kho_replay_kjournal_ino_token() - resolve an inode number of the
 * previous kernel's journal to a memfd token
 * @ctx:   the hand-off's iommufd node (const struct kho_handoff_iommufd *),
 *         whose file table is searched
 * @ino:   the inode number the kernel recorded
 * @token: out: the memfd's token
 *
 * Return: 0 or -ENOENT.
 */
int kho_replay_kjournal_ino_token(void *ctx, uint64_t ino, uint64_t *token);

/**
 * kho_replay_kjournal_load() - check a retrieved iommufd and read what it
 * expects
 * @iommufd:  RETRIEVE_FD of h->iommufd.token
 * @h:        the hand-off, with its iommufd node
 * @expected: out: the preserved journal, files resolved to memfd tokens
 * @matched:  out: records the kernel has matched already (0, or where a
 *            failed attempt stopped)
 * @diag:     out: the state or the record that is wrong
 *
 * Return: 0; -EPROTO (not RESTORING: diag names the state); -EBADMSG
 * (the preserved journal is not the length the hand-off says, or names a
 * file the hand-off does not map); -ENOTTY (the kernel has no iommufd
 * journal); the ioctl's -errno.
 */
int kho_replay_kjournal_load(int iommufd, const struct kho_handoff *h,
			     struct kho_journal *expected, uint32_t *matched,
			     struct kho_diag *diag);

/**
 * kho_replay_kjournal() - replay a preserved journal into its iommufd,
 * record by record in order, each checked by the kernel
 * @r:       r->iommufd is the restoring iommufd; r->dev and r->idmap hold
 *           what earlier records built (empty at @start 0)
 * @h:       the hand-off (device drivers)
 * @journal: kho_replay_kjournal_load()'s expected journal
 * @start:   the first record to replay (the kernel's matched count)
 * @memfds:  the retrieved guest-RAM memfds
 * @nr_memfds: their number
 * @diag:    out: the record (1-based), its op and object, and the errno
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

/**
 * kho_replay_kjournal_verified() - check the kernel verified the replay
 * @iommufd: the restoring iommufd
 * @nr:      the journal's records
 * @diag:    out: the state and the progress
 *
 * After the last record the kernel must say VERIFIED with every one of
 * @nr records matched.
 *
 * Return: 0; -EPROTO (another state, or fewer matched); the ioctl's
 * -errno.
 */
int kho_replay_kjournal_verified(int iommufd, size_t nr,
				 struct kho_diag *diag);

#endif /* KHO_REPLAY_H */
