/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libkho: the public interface of the kho-tool library.  It owns the data
 * model shared by every part of the toolkit: the canonical journal of
 * iommufd/VFIO-cdev ioctls, the live state that journal folds into, and the
 * hand-off that carries both across kexec.
 *
 * Error convention (every function that returns int): 0 or a negative
 * errno, each with one meaning across the library.  Every code lib/ returns
 * is listed; a function's kernel-doc names the ones it can return.
 *
 * The input and the caller:
 *   -EINVAL           caller bug (bad argument, wrong struct size)
 *   -E2BIG            a size-prefixed struct carries non-zero unknown bytes,
 *                     or more items than a message or table can hold
 *   -EBADMSG          corrupt input (blob, journal record, checksum, a
 *                     malformed socket message, an empty hand-off memfd)
 *   -EPROTONOSUPPORT  the input needs a newer reader (format or protocol
 *                     version)
 *   -ENOENT           a referenced object, token, node or file does not
 *                     exist
 *   -EEXIST           a duplicate object ID, token or mapping, or a LUO
 *                     session of that name already exists
 *   -EFBIG            a file or decompressed stream above its cap
 *                     (KHO_HANDOFF_MAX, KHO_KIMAGE_MAX_ELF)
 *   -ENAMETOOLONG     a path built from the caller's does not fit
 *   -ENOSPC           a formatted line or summary does not fit its buffer
 *   -ENOMEM           allocation failure
 *
 * The state model (state.c), mirroring what the 7.2 kernel answers:
 *   -ERANGE           an IOVA or offset outside what the kernel allows
 *                     (verify.c: a mapping outside the usable IOVA ranges)
 *   -EOVERFLOW        an IOVA, offset or length that wraps
 *   -EADDRINUSE       a mapping or reserved region overlaps an existing one
 *   -EBUSY            the kernel rule refuses the change while in use;
 *                     elsewhere: /dev/liveupdate or the upgrade lock is held
 *                     by another process
 *   -EBADF            a memfd token or fd the journal names is not open
 *   -EOPNOTSUPP       an op the journal cannot carry across kexec, or a
 *                     memfd, codec or kernel feature kho-tool cannot use
 *   -ENOTTY           the kernel has no such ioctl (no iommufd journal)
 *
 * Capture, replay and verification:
 *   -EILSEQ           two journals that must be the same records differ
 *                     (the recorder's and the kernel's; a replay's result)
 *   -ENOTUNIQ         the VMM holds several iommufds: which one to carry is
 *                     ambiguous
 *   -ENODATA          the kernel flagged its journal incomplete
 *   -ENODEV           a recorded device is gone, unbound or changed
 *   -ESTALE           what was checked changed before it was used (the
 *                     VMM's iommufd after the capture, the kernel image
 *                     before the load)
 *   -EPROTO           a peer broke the protocol: the agent's adoption
 *                     answer, or a kernel journal not in the state a replay
 *                     needs
 *   -EIO              writing output failed; a replay failure injected by a
 *                     test (fail_at); a short read of a memfd
 *   -EALREADY         the recorder is already serving (record.c)
 *
 * Sockets and the run directory:
 *   -EACCES           the peer is neither root nor the server's uid
 *   -ECONNRESET       the peer closed the connection without an answer
 *   -EPIPE            the peer closed the connection mid-message
 *   -EPERM            the run directory or its lock file has the wrong
 *                     owner or mode
 *   -ELOOP            the run directory or its lock file is a symlink
 *   -EISDIR           a file was expected, a directory found
 *
 * Passed through from the kernel, and told apart where lib checks for them:
 *   -EMSGSIZE         IOMMU_JOURNAL_READ's buffer was too small (retried)
 *   -EWOULDBLOCK      flock(2): the upgrade lock is held (becomes -EBUSY)
 *   -ENOSYS           flock(2) unsupported (the O_EXCL fallback is used)
 *   -ENOEXEC, -EADDRNOTAVAIL  kexec_file_load(2) refused the image; the
 *                     message says why
 * Any other code is the -errno of the syscall the function wraps,
 * unchanged.
 */
#ifndef KHO_H
#define KHO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Version of the toolkit, written into every hand-off it produces. */
#define KHO_TOOL_VERSION "0.1.0"

/*
 * Journal ops: one per state-changing iommufd/VFIO-cdev ioctl.  The numbers
 * are ABI (they are written into the hand-off FDT): never renumber, only
 * append.  Queries (IOVA_RANGES, GET_HW_INFO, GET_DIRTY_BITMAP) and cache
 * operations (HWPT_INVALIDATE) change no state and are never journaled.
 */
enum kho_op {
	KHO_OP_IOAS_ALLOC = 1,
	KHO_OP_DESTROY = 2,
	KHO_OP_IOAS_ALLOW_IOVAS = 3,
	KHO_OP_IOAS_MAP = 4,		/* canonicalised: never written out */
	KHO_OP_IOAS_MAP_FILE = 5,
	KHO_OP_IOAS_COPY = 6,
	KHO_OP_IOAS_UNMAP = 7,
	KHO_OP_OPTION = 8,
	KHO_OP_HWPT_ALLOC = 9,
	KHO_OP_HWPT_SET_DIRTY_TRACKING = 10,
	KHO_OP_DEVICE_BIND = 11,
	KHO_OP_DEVICE_ATTACH = 12,
	KHO_OP_DEVICE_DETACH = 13,
	KHO_OP_VIOMMU_ALLOC = 14,	/* reserved: format room, not yet replayed */
	KHO_OP_VDEVICE_ALLOC = 15,	/* reserved: format room, not yet replayed */
	/*
	 * Only in replay plans made by compaction: map every mapping
	 * [first, first + count) of the IOAS's recorded mapping table with
	 * IOMMU_IOAS_MAP_FILE at its fixed IOVA.  Keeps the hand-off at one
	 * copy of each mapping.
	 */
	KHO_OP_REPLAY_MAPPINGS = 16,
	/*
	 * One arc of a device's VFIO migration v2 FSM
	 * (VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE SET), written by the save
	 * before the kexec (format 7) and checked by the resume after it:
	 * never recorded from the VMM, never in a kernel's journal, never
	 * replayed by lib/replay.c (docs/device-state.md).
	 */
	KHO_OP_DEVICE_MIG_STATE = 17,
	KHO_OP_MAX = KHO_OP_DEVICE_MIG_STATE,
};

/* Inclusive IOVA range, as struct iommu_iova_range. */
struct kho_iova_range {
	uint64_t start;
	uint64_t last;
};

/* A PCI function: the identity a device fd is canonicalised to. */
struct kho_pci_id {
	uint16_t segment;
	uint8_t bus;
	uint8_t devfn;
	uint16_t vendor;
	uint16_t device;
};

/*
 * A mediated device (an mdev: the kernel's mtty sample, a vGPU): the
 * identity a device fd of one is canonicalised to, where a PCI function
 * has its struct kho_pci_id (lib/mdev.h reads it from sysfs).  An mdev
 * does not survive a kexec, so beside the UUID that names it the
 * identity keeps what creating it again takes: its parent and type.  All
 * zero for a PCI function.
 */
struct kho_mdev_id {
	uint8_t uuid[16];
	char parent[32];	/* the parent device: "mtty" */
	char type[32];		/* its mdev type: "mtty-1" */
	char driver[32];	/* the mdev driver bound, "" if none */
};

/*
 * One canonical journal record.  Object IDs are the IDs the kernel handed
 * out when the record was made ("old" IDs); replay remaps them.  Outputs
 * (out_*) are what the kernel returned.  Pointed-to data is owned by the
 * record (freed by kho_journal_free()).
 */
struct kho_rec {
	uint32_t op;		/* enum kho_op */
	union {
		struct {
			uint32_t flags;
			uint32_t out_ioas_id;
		} ioas_alloc;
		struct {
			uint32_t id;
		} destroy;
		struct {
			uint32_t ioas_id;
			uint32_t num_iovas;
			struct kho_iova_range *iovas;
		} allow_iovas;
		/*
		 * IOAS_MAP (by VA) and IOAS_MAP_FILE share one shape: after
		 * canonicalisation both name a memfd by LUO token.  flags keep
		 * the uapi IOMMU_IOAS_MAP_* bits; once the kernel chose an
		 * IOVA, canonicalisation sets FIXED_IOVA and stores it.
		 */
		struct {
			uint32_t flags;
			uint32_t ioas_id;
			uint64_t memfd_token;
			uint64_t offset;
			uint64_t length;
			uint64_t iova;
		} map;
		struct {
			uint32_t flags;
			uint32_t dst_ioas_id;
			uint32_t src_ioas_id;
			uint64_t length;
			uint64_t dst_iova;
			uint64_t src_iova;
		} copy;
		struct {
			uint32_t ioas_id;
			uint64_t iova;
			uint64_t length;	/* as passed in */
			uint64_t out_length;	/* bytes the kernel unmapped */
		} unmap;
		struct {
			uint32_t option_id;
			uint16_t op;
			uint32_t object_id;
			uint64_t val64;
		} option;
		struct {
			uint32_t flags;
			uint32_t dev_id;
			uint32_t pt_id;
			uint32_t out_hwpt_id;
			uint32_t data_type;
			uint32_t data_len;
			uint8_t *data;
			uint32_t fault_id;
		} hwpt_alloc;
		struct {
			uint32_t flags;
			uint32_t hwpt_id;
		} dirty_tracking;
		struct {
			struct kho_pci_id pci;	/* all zero for an mdev */
			uint32_t flags;
			uint32_t out_devid;
			/*
			 * An mdev's UUID, all zero for a PCI function; its
			 * parent and type are in its struct kho_device
			 * (format 5), read from sysfs at capture.
			 */
			uint8_t mdev_uuid[16];
		} bind;
		struct {
			uint32_t dev_id;
			uint32_t flags;
			uint32_t pasid;
			uint32_t pt_id;		/* as passed in: IOAS or HWPT */
			uint32_t out_hwpt_id;	/* what the device ended up on */
		} attach;
		struct {
			uint32_t dev_id;
			uint32_t flags;
			uint32_t pasid;
		} detach;
		struct {
			uint32_t ioas_id;
			uint32_t first;
			uint32_t count;
		} replay_maps;
		/*
		 * length: the bytes through the device's data session once the
		 * device has done its I/O in state "to" (the save's last arc
		 * says the whole data's); the memfd and crc32 the data is
		 * carried in and checked by, as in its device-state node.
		 */
		struct {
			uint32_t dev_id;
			uint32_t from;		/* enum vfio_device_mig_state */
			uint32_t to;
			uint64_t length;
			uint64_t memfd_token;
			uint32_t crc32;
		} mig_state;
	};
};

/* An append-only array of records. */
struct kho_journal {
	struct kho_rec *recs;
	size_t nr;
	size_t cap;
	bool mapped;		/* recs is an mmap()ed area, not malloc()ed */
};

/* --- the live state a journal folds into ------------------------------ */

/* One live IOAS area, always expressed against a preserved memfd. */
struct kho_mapping {
	uint64_t iova;
	uint64_t length;
	uint64_t offset;	/* into the memfd */
	uint64_t memfd_token;
	uint32_t flags;		/* IOMMU_IOAS_MAP_READABLE | _WRITEABLE */
};

struct kho_memfd {
	uint64_t token;		/* LUO token it is preserved under */
	uint64_t size;
	uint32_t seals;
	char name[64];
};

struct kho_ioas {
	uint32_t id;
	uint32_t nr_allowed;
	struct kho_iova_range *allowed;	/* empty: no restriction */
	int64_t huge_pages;		/* IOMMU_OPTION_HUGE_PAGES, -1 unset */
	size_t nr_maps;
	size_t cap_maps;
	struct kho_mapping *maps;	/* sorted by iova, non-overlapping */
};

struct kho_hwpt {
	uint32_t id;
	uint32_t pt_id;		/* the IOAS (or parent HWPT) it translates */
	uint32_t dev_id;	/* device named at alloc; 0 for auto domains */
	uint32_t flags;		/* IOMMU_HWPT_ALLOC_* */
	bool auto_domain;	/* made by ATTACH to an IOAS */
	bool dirty_tracking;
	uint32_t data_type;
	uint32_t data_len;
	uint8_t *data;
};

/*
 * States one device-state save or load records: its start and every
 * state entered (a save from RUNNING enters at most 3, a load 6).
 */
#define KHO_DEVSTATE_PATH_MAX	8

/*
 * A device's migration data, saved through the VFIO migration v2 FSM
 * into a memfd of /memfds (format version 4, the device-state node;
 * docs/device-state.md, lib/devstate.h).  Not present: the device is
 * reset across the kexec.
 */
struct kho_device_state {
	bool present;
	uint64_t memfd_token;		/* a token of /memfds */
	uint64_t length;		/* the data's bytes: the memfd's size */
	uint32_t flags;			/* VFIO_MIGRATION_* it was saved with */
	uint32_t crc32;			/* zlib crc32 of the data */
	uint32_t nr_path;
	uint32_t path[KHO_DEVSTATE_PATH_MAX];	/* vfio_device_mig_state */
};

struct kho_device {
	uint32_t id;			/* devid from BIND */
	struct kho_pci_id pci;		/* all zero for an mdev */
	struct kho_mdev_id mdev;	/* all zero for a PCI function */
	char driver[32];		/* e.g. "vfio-pci" */
	uint32_t attached_pt;		/* HWPT id attached, 0 if none */
	uint32_t attach_flags;
	uint32_t pasid;
	/*
	 * VFIO migration v2 as capture probed it on the VMM's device fd
	 * (VFIO_DEVICE_FEATURE_MIGRATION, lib/vfio_mig.h).  Not replayed
	 * state: kho_state_equal() ignores it.  migration_probed is false
	 * when nobody asked (an older writer, a recorder snapshot) or the
	 * probe failed; migration_flags is then 0.  Probed with flags 0:
	 * the device has no migration support.
	 */
	bool migration_probed;
	uint32_t migration_flags;	/* VFIO_MIGRATION_* */
	int migration_err;	/* capture only, not carried: why unprobed */
	struct kho_device_state saved;	/* not replayed state either */
};

struct kho_state {
	size_t nr_ioas, nr_hwpt, nr_dev, nr_memfd;
	struct kho_ioas *ioas;
	struct kho_hwpt *hwpt;
	struct kho_device *dev;
	struct kho_memfd *memfd;
};

/*
 * A diagnostic a person reads: names the object, the step and the cause,
 * e.g. "replay: IOAS 3: map 0x100000+0x200000 from memfd token 7: EINVAL
 * (IOVA outside allowed ranges)".  Functions that fill one also return a
 * negative errno; a NULL diag is always allowed.
 */
struct kho_diag {
	char msg[512];
};

/**
 * kho_diag_set() - say what failed, for people
 * @diag: where, or NULL (then only @err is returned)
 * @err:  the error being reported
 * @fmt:  printf format of the message; its arguments may include
 *        @diag->msg itself, to wrap an inner failure's message
 *
 * Return: @err, so that a caller can `return kho_diag_set(...)`.
 */
int kho_diag_set(struct kho_diag *diag, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/**
 * kho_errno_name() - the name of an errno, for messages and --json
 * @err: the errno, negative or positive
 *
 * Return: "EINVAL" etc.; "E?" for a number the C library does not know.
 */
const char *kho_errno_name(int err);

/*
 * A poisoned range of a guest-RAM memfd (format 6, the poison node):
 * page-aligned bytes [offset, offset + length) of the memfd preserved
 * under memfd_token.  No mapping of the hand-off covers any byte of it.
 */
struct kho_poison {
	uint64_t memfd_token;
	uint64_t offset;
	uint64_t length;
};

/* The page size poison ranges are aligned to: x86-64's, the only one run. */
#define KHO_POISON_PAGE 4096
/* The most poison ranges a hand-off carries: one per page of 16 GiB. */
#define KHO_POISON_MAX 4194304

/* --- the hand-off: everything that crosses the kexec -------------------- */

#define KHO_HANDOFF_COMPATIBLE "kho-tool,handoff-v1"
/*
 * A writer uses the lowest format that describes the blob: version 1
 * without the iommufd node, version 2 (and min-reader-version 2) with it.
 * A version-1 reader does not know the node and would restore without the
 * kernel's verification, leaving the preserved iommufd unretrieved and the
 * session unfinishable: min-reader-version 2 makes it refuse instead.
 */
#define KHO_FORMAT_VERSION 1
#define KHO_FORMAT_VERSION_IOMMUFD 2
/*
 * Version 3 adds the qemu-cpr node: QEMUs carried by their own
 * cpr-transfer.  A reader that does not know it would hand the memfds it
 * lists to an adopter with no way to name them (the CPR names are in the
 * node alone): min-reader-version 3 makes it refuse instead.
 */
#define KHO_FORMAT_VERSION_QEMU 3
/*
 * Version 4 adds a device's device-state node: its migration data,
 * carried in a memfd.  A reader that ignored it would restore the device
 * without its state and say nothing: min-reader-version 4 makes it refuse
 * instead.
 */
#define KHO_FORMAT_VERSION_DEVSTATE 4
/*
 * Version 5 names a device by its mdev identity (an mdev-uuid, a parent
 * and a type in its device node, the UUID in its BIND record) instead of
 * a PCI address.  A reader that did not know it would look for PCI
 * function 0000:00:00.0: min-reader-version 5 makes it refuse instead.
 * Used only by a hand-off that carries an mdev.
 */
#define KHO_FORMAT_VERSION_MDEV 5
/*
 * Version 6 adds the poison node: ranges of guest-RAM memfds the running
 * kernel had taken a memory failure on, cut out of the hand-off's
 * mappings and punched out of the memfds before LUO preserved them.  A
 * reader that ignored it would hand the VMM a zeroed page where the guest
 * must take a machine check: min-reader-version 6 makes it refuse
 * instead.  Used only by a hand-off that carries poison.
 */
#define KHO_FORMAT_VERSION_POISON 6
/*
 * Version 7 adds DEVICE_MIG_STATE records to the replay plan: the arcs a
 * device's state was saved along, which the resume is checked against.
 * A reader of version 4 to 6 knows the device-state node but would refuse
 * the plan with "unknown op 17": min-reader-version 7 makes it refuse by
 * version instead.  Used only by a hand-off that carries a device's
 * state; one without stays at the version it had.
 */
#define KHO_FORMAT_VERSION_MIG_OP 7
#define KHO_READER_VERSION 7	/* the highest min-reader we understand */

/*
 * The largest hand-off blob anything here accepts: the file reader, the
 * journal socket's snapshot and the restore-agent's memfd.  64 MiB is what
 * tests/unit/test_handoff_cost.c proves the decoder handles in bounded
 * time for its worst shapes (each check O(n log n)); it holds ~760k nodes,
 * more than ten times the largest plan measured (65,536 maps of a 1 GiB
 * guest).  A larger blob could not be restored after the kexec, so it is
 * refused before, where nothing is lost.
 */
#define KHO_HANDOFF_MAX ((size_t)64 << 20)

/* kho_handoff.journal_source: the kernel's iommufd journal, or the recorder */
#define KHO_JOURNAL_SOURCE_KERNEL "kernel"
#define KHO_JOURNAL_SOURCE_USER "userspace"

/*
 * A file the kernel's journal names by inode number (of the kernel that
 * recorded it), and the LUO token its memfd is preserved under: the
 * restore-agent resolves the expected journal's files through this table.
 */
struct kho_kjournal_file {
	uint64_t ino;
	uint64_t token;
};

/*
 * The VMM's iommufd, preserved in the LUO session by the patched kernel's
 * "iommufd-journal-v2" handler (format version 2).  After kexec its
 * RETRIEVE_FD gives an iommufd in RESTORING state that checks every
 * replayed ioctl against the preserved journal.
 */
struct kho_handoff_iommufd {
	bool present;
	char compatible[32];		/* the LUO handler: "iommufd-journal-v2" */
	uint64_t token;			/* LUO token of the iommufd */
	uint64_t journal_length;	/* records in the preserved journal */
	size_t nr_files;
	struct kho_kjournal_file *files;
};

/*
 * A QEMU carried by its own cpr-transfer (format version 3, the qemu-cpr
 * node; docs/qemu-cpr.md): the CPR state as QEMU sent it, its descriptors
 * as memfds of /memfds named by token in placeholder order, and the main
 * migration stream in one more memfd of /memfds.
 */
struct kho_handoff_qemu {
	char name[64];			/* the VMM, for messages */
	uint8_t *cpr_state;		/* the bytes of QEMU's cpr channel */
	size_t cpr_state_len;
	uint64_t *fd_tokens;		/* one per placeholder, in order */
	size_t nr_fd_tokens;
	uint64_t stream_token;		/* the memfd holding the main stream */
	uint64_t stream_length;		/* its bytes */
};

struct kho_handoff {
	uint32_t format_version;
	uint32_t min_reader_version;
	char tool_version[32];
	char kernel_release[65];
	uint64_t created;		/* seconds since the epoch */
	/*
	 * Which record the journal was checked against at capture:
	 * KHO_JOURNAL_SOURCE_*, or "" when the writer did not say (older
	 * writers).  Optional in the blob: older readers ignore it.
	 */
	char journal_source[32];
	struct kho_state state;
	struct kho_journal replay;	/* compacted, ordered replay plan */
	uint64_t journal_length;	/* records before compaction */
	struct kho_handoff_iommufd iommufd;	/* optional (format 2) */
	size_t nr_qemu;				/* the qemu-cpr node (format 3) */
	struct kho_handoff_qemu *qemu;
	size_t nr_poison;			/* the poison node (format 6) */
	struct kho_poison *poison;		/* sorted by token, offset */
};

#endif /* KHO_H */
