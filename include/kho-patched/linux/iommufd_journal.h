/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * A copy of the uapi that patches/ adds to include/uapi/linux/iommufd.h
 * (IOMMU_JOURNAL_READ and its record format), for userspace built against
 * the vanilla 7.2 headers in include/uapi-7.2.  The patched kernel's own
 * iommufd.h is the reference; keep this file identical to what the series
 * adds (it is generated from it: see docs/kernel-patches.md).
 */
#ifndef KHO_PATCHED_IOMMUFD_JOURNAL_H
#define KHO_PATCHED_IOMMUFD_JOURNAL_H

#include <linux/iommufd.h>
#include <linux/types.h>

#ifndef IOMMU_JOURNAL_READ
/* 0x95 is left to IOMMU_HWPT_LU_SET_PRESERVE (iommu live update) */
#define IOMMUFD_CMD_JOURNAL_READ 0x96

/**
 * enum iommu_journal_op - Operation of a journal record
 * @IOMMU_JOURNAL_OP_IOAS_ALLOC: IOMMU_IOAS_ALLOC, &struct iommu_journal_ioas_alloc
 * @IOMMU_JOURNAL_OP_DESTROY: IOMMU_DESTROY, or the unbind of a device,
 *                            &struct iommu_journal_destroy
 * @IOMMU_JOURNAL_OP_IOAS_ALLOW_IOVAS: IOMMU_IOAS_ALLOW_IOVAS,
 *                                     &struct iommu_journal_allow_iovas
 * @IOMMU_JOURNAL_OP_IOAS_MAP_FILE: IOMMU_IOAS_MAP_FILE, or IOMMU_IOAS_MAP of
 *                                  a shared memfd mapping resolved to its
 *                                  file, &struct iommu_journal_map_file
 * @IOMMU_JOURNAL_OP_IOAS_COPY: IOMMU_IOAS_COPY, &struct iommu_journal_copy
 * @IOMMU_JOURNAL_OP_IOAS_UNMAP: IOMMU_IOAS_UNMAP, &struct iommu_journal_unmap
 * @IOMMU_JOURNAL_OP_OPTION: IOMMU_OPTION (set), &struct iommu_journal_option
 * @IOMMU_JOURNAL_OP_HWPT_ALLOC: IOMMU_HWPT_ALLOC,
 *                               &struct iommu_journal_hwpt_alloc
 * @IOMMU_JOURNAL_OP_HWPT_SET_DIRTY_TRACKING: IOMMU_HWPT_SET_DIRTY_TRACKING,
 *                                            &struct iommu_journal_dirty_tracking
 * @IOMMU_JOURNAL_OP_DEVICE_BIND: a device bound to the iommufd (for VFIO:
 *                                VFIO_DEVICE_BIND_IOMMUFD),
 *                                &struct iommu_journal_bind
 * @IOMMU_JOURNAL_OP_DEVICE_ATTACH: a device attached to, or replaced onto, an
 *                                  IOAS or HWPT, &struct iommu_journal_attach
 * @IOMMU_JOURNAL_OP_DEVICE_DETACH: a device detached,
 *                                  &struct iommu_journal_detach
 *
 * The values are those of the canonical journal kept by userspace
 * record/replay tools; value 4 (a map by user VA) never appears because the
 * kernel resolves the VA to its backing file before recording.
 */
enum iommu_journal_op {
	IOMMU_JOURNAL_OP_IOAS_ALLOC = 1,
	IOMMU_JOURNAL_OP_DESTROY = 2,
	IOMMU_JOURNAL_OP_IOAS_ALLOW_IOVAS = 3,
	IOMMU_JOURNAL_OP_IOAS_MAP_FILE = 5,
	IOMMU_JOURNAL_OP_IOAS_COPY = 6,
	IOMMU_JOURNAL_OP_IOAS_UNMAP = 7,
	IOMMU_JOURNAL_OP_OPTION = 8,
	IOMMU_JOURNAL_OP_HWPT_ALLOC = 9,
	IOMMU_JOURNAL_OP_HWPT_SET_DIRTY_TRACKING = 10,
	IOMMU_JOURNAL_OP_DEVICE_BIND = 11,
	IOMMU_JOURNAL_OP_DEVICE_ATTACH = 12,
	IOMMU_JOURNAL_OP_DEVICE_DETACH = 13,
};

/**
 * enum iommu_journal_rec_flags - Flags of a journal record
 * @IOMMU_JOURNAL_REC_BY_VA: The record was made from IOMMU_IOAS_MAP; the user
 *                           VA was resolved to a file and offset
 * @IOMMU_JOURNAL_REC_NOT_CARRIED: The mapping's backing is not a memfd (for
 *                                 example anonymous memory) and cannot be
 *                                 carried across a live update
 * @IOMMU_JOURNAL_REC_REPLACE: The attach replaced an existing attachment
 * @IOMMU_JOURNAL_REC_EMULATED: The bind is of an emulated device (an mdev),
 *                              which the kernel reaches through an access
 *                              instead of a HWPT; it attaches to an IOAS,
 *                              which is its attach's out_hwpt_id
 */
enum iommu_journal_rec_flags {
	IOMMU_JOURNAL_REC_BY_VA = 1 << 0,
	IOMMU_JOURNAL_REC_NOT_CARRIED = 1 << 1,
	IOMMU_JOURNAL_REC_REPLACE = 1 << 2,
	IOMMU_JOURNAL_REC_EMULATED = 1 << 3,
};

/**
 * struct iommu_journal_hdr - Header of every journal record
 * @op: One of enum iommu_journal_op
 * @flags: Combination of enum iommu_journal_rec_flags
 * @len: Length of the record in bytes, header included, a multiple of 8
 *
 * Object IDs in a record are the IDs the kernel returned when the record was
 * made. Outputs (out_*, and an IOVA the kernel chose) are recorded as the
 * kernel returned them. Records are packed back to back, 8 byte aligned.
 */
struct iommu_journal_hdr {
	__u16 op;
	__u16 flags;
	__u32 len;
};

/**
 * struct iommu_journal_ioas_alloc - IOMMU_JOURNAL_OP_IOAS_ALLOC
 * @hdr: Record header
 * @flags: As passed to IOMMU_IOAS_ALLOC
 * @out_ioas_id: The IOAS ID returned
 */
struct iommu_journal_ioas_alloc {
	struct iommu_journal_hdr hdr;
	__u32 flags;
	__u32 out_ioas_id;
};

/**
 * struct iommu_journal_destroy - IOMMU_JOURNAL_OP_DESTROY
 * @hdr: Record header
 * @id: The object destroyed
 * @__reserved: Must be 0
 */
struct iommu_journal_destroy {
	struct iommu_journal_hdr hdr;
	__u32 id;
	__u32 __reserved;
};

/**
 * struct iommu_journal_allow_iovas - IOMMU_JOURNAL_OP_IOAS_ALLOW_IOVAS
 * @hdr: Record header
 * @ioas_id: The IOAS
 * @num_iovas: Number of entries in @iovas
 * @iovas: The allowed ranges, copied from the caller's array
 */
struct iommu_journal_allow_iovas {
	struct iommu_journal_hdr hdr;
	__u32 ioas_id;
	__u32 num_iovas;
	struct iommu_iova_range iovas[];
};

/**
 * struct iommu_journal_map_file - IOMMU_JOURNAL_OP_IOAS_MAP_FILE
 * @hdr: Record header
 * @flags: The IOMMU_IOAS_MAP_* flags; IOMMU_IOAS_MAP_FIXED_IOVA is set when
 *         the kernel chose the IOVA, so that a replay maps the same range
 * @ioas_id: The IOAS
 * @file_ino: Inode number of the backing file, 0 if not carried
 * @file_size: Size of the backing file when it was mapped
 * @start: Offset into the file
 * @length: Length of the mapping
 * @iova: IOVA of the mapping
 */
struct iommu_journal_map_file {
	struct iommu_journal_hdr hdr;
	__u32 flags;
	__u32 ioas_id;
	__aligned_u64 file_ino;
	__aligned_u64 file_size;
	__aligned_u64 start;
	__aligned_u64 length;
	__aligned_u64 iova;
};

/**
 * struct iommu_journal_copy - IOMMU_JOURNAL_OP_IOAS_COPY
 * @hdr: Record header
 * @flags: As passed, with IOMMU_IOAS_MAP_FIXED_IOVA set
 * @dst_ioas_id: Destination IOAS
 * @src_ioas_id: Source IOAS
 * @__reserved: Must be 0
 * @length: Length copied
 * @dst_iova: Destination IOVA (output if the kernel chose it)
 * @src_iova: Source IOVA
 */
struct iommu_journal_copy {
	struct iommu_journal_hdr hdr;
	__u32 flags;
	__u32 dst_ioas_id;
	__u32 src_ioas_id;
	__u32 __reserved;
	__aligned_u64 length;
	__aligned_u64 dst_iova;
	__aligned_u64 src_iova;
};

/**
 * struct iommu_journal_unmap - IOMMU_JOURNAL_OP_IOAS_UNMAP
 * @hdr: Record header
 * @ioas_id: The IOAS
 * @__reserved: Must be 0
 * @iova: IOVA passed
 * @length: Length passed
 * @out_length: Bytes the kernel unmapped
 */
struct iommu_journal_unmap {
	struct iommu_journal_hdr hdr;
	__u32 ioas_id;
	__u32 __reserved;
	__aligned_u64 iova;
	__aligned_u64 length;
	__aligned_u64 out_length;
};

/**
 * struct iommu_journal_option - IOMMU_JOURNAL_OP_OPTION
 * @hdr: Record header
 * @option_id: One of enum iommufd_option
 * @op: IOMMU_OPTION_OP_SET (gets are not recorded)
 * @__reserved: Must be 0
 * @object_id: The object, 0 for global options
 * @__reserved2: Must be 0
 * @val64: The value set
 */
struct iommu_journal_option {
	struct iommu_journal_hdr hdr;
	__u32 option_id;
	__u16 op;
	__u16 __reserved;
	__u32 object_id;
	__u32 __reserved2;
	__aligned_u64 val64;
};

/**
 * struct iommu_journal_hwpt_alloc - IOMMU_JOURNAL_OP_HWPT_ALLOC
 * @hdr: Record header
 * @flags: As passed to IOMMU_HWPT_ALLOC
 * @dev_id: As passed
 * @pt_id: As passed
 * @out_hwpt_id: The HWPT ID returned
 * @data_type: As passed
 * @data_len: Bytes in @data
 * @fault_id: As passed
 * @__reserved: Must be 0
 * @data: The driver data, copied from the caller, zero padded to 8 bytes
 */
struct iommu_journal_hwpt_alloc {
	struct iommu_journal_hdr hdr;
	__u32 flags;
	__u32 dev_id;
	__u32 pt_id;
	__u32 out_hwpt_id;
	__u32 data_type;
	__u32 data_len;
	__u32 fault_id;
	__u32 __reserved;
	__u8 data[];
};

/**
 * struct iommu_journal_dirty_tracking - IOMMU_JOURNAL_OP_HWPT_SET_DIRTY_TRACKING
 * @hdr: Record header
 * @flags: As passed
 * @hwpt_id: As passed
 */
struct iommu_journal_dirty_tracking {
	struct iommu_journal_hdr hdr;
	__u32 flags;
	__u32 hwpt_id;
};

/**
 * struct iommu_journal_bind - IOMMU_JOURNAL_OP_DEVICE_BIND
 * @hdr: Record header
 * @segment: PCI segment of the device
 * @bus: PCI bus number
 * @devfn: PCI device and function
 * @vendor: PCI vendor ID
 * @device: PCI device ID
 * @flags: Must be 0
 * @out_dev_id: The device ID returned
 * @uuid: The UUID of an emulated device (IOMMU_JOURNAL_REC_EMULATED), which
 *        names it on the mdev bus; zero for a PCI device
 *
 * A PCI device is named by @segment to @device, an emulated device by @uuid
 * (the PCI fields are zero). Any other device is not carried: its record
 * has IOMMU_JOURNAL_REC_NOT_CARRIED set and an identity of zero.
 */
struct iommu_journal_bind {
	struct iommu_journal_hdr hdr;
	__u16 segment;
	__u8 bus;
	__u8 devfn;
	__u16 vendor;
	__u16 device;
	__u32 flags;
	__u32 out_dev_id;
	__u8 uuid[16];
};

/**
 * struct iommu_journal_attach - IOMMU_JOURNAL_OP_DEVICE_ATTACH
 * @hdr: Record header
 * @dev_id: The device
 * @flags: Must be 0
 * @pasid: The PASID, IOMMU_NO_PASID (0) if none
 * @pt_id: As passed: an IOAS or a HWPT
 * @out_hwpt_id: The HWPT the device is attached to
 * @__reserved: Must be 0
 */
struct iommu_journal_attach {
	struct iommu_journal_hdr hdr;
	__u32 dev_id;
	__u32 flags;
	__u32 pasid;
	__u32 pt_id;
	__u32 out_hwpt_id;
	__u32 __reserved;
};

/**
 * struct iommu_journal_detach - IOMMU_JOURNAL_OP_DEVICE_DETACH
 * @hdr: Record header
 * @dev_id: The device
 * @flags: Must be 0
 * @pasid: The PASID
 * @__reserved: Must be 0
 */
struct iommu_journal_detach {
	struct iommu_journal_hdr hdr;
	__u32 dev_id;
	__u32 flags;
	__u32 pasid;
	__u32 __reserved;
};

/**
 * enum iommu_journal_state - State of the journal of an iommufd
 * @IOMMU_JOURNAL_STATE_RECORDING: Successful state-changing ioctls are
 *                                 recorded
 * @IOMMU_JOURNAL_STATE_PRESERVED: The iommufd is preserved for a live update;
 *                                 state-changing ioctls fail with EBUSY
 * @IOMMU_JOURNAL_STATE_RESTORING: The iommufd was retrieved after a live
 *                                 update; it holds the journal of the
 *                                 previous kernel (IOMMU_JOURNAL_READ_EXPECTED).
 *                                 Each state-changing operation must be the
 *                                 next record of that journal, with object IDs
 *                                 and files translated through what the replay
 *                                 returned so far; anything else fails with
 *                                 EILSEQ before it runs. The live update cannot
 *                                 finish (LUO FINISH fails with EBUSY)
 * @IOMMU_JOURNAL_STATE_VERIFIED: Every expected record was replayed; the
 *                                iommufd records as in the RECORDING state
 * @IOMMU_JOURNAL_STATE_DIVERGED: An operation that cannot be refused (a
 *                                detach, an unbind) or an output (the length
 *                                an unmap removed) did not match; every
 *                                further state-changing ioctl fails with
 *                                EILSEQ and the live update cannot finish
 */
enum iommu_journal_state {
	IOMMU_JOURNAL_STATE_RECORDING = 0,
	IOMMU_JOURNAL_STATE_PRESERVED = 1,
	IOMMU_JOURNAL_STATE_RESTORING = 2,
	IOMMU_JOURNAL_STATE_VERIFIED = 3,
	IOMMU_JOURNAL_STATE_DIVERGED = 4,
};

/**
 * enum iommu_journal_read_flags - Flags for IOMMU_JOURNAL_READ
 * @IOMMU_JOURNAL_READ_EXPECTED: Read the journal preserved by the previous
 *                               kernel instead of this iommufd's own
 */
enum iommu_journal_read_flags {
	IOMMU_JOURNAL_READ_EXPECTED = 1 << 0,
};

/**
 * enum iommu_journal_flags - Properties of a whole journal
 * @IOMMU_JOURNAL_NOT_CARRIED: At least one record cannot be carried across a
 *                             live update (a mapping of memory that is not a
 *                             memfd, a device that is not PCI, or an object
 *                             type the journal does not describe); the
 *                             iommufd cannot be preserved
 * @IOMMU_JOURNAL_INCOMPLETE: A record could not be stored (out of memory in a
 *                            path that cannot fail); the iommufd cannot be
 *                            preserved
 */
enum iommu_journal_flags {
	IOMMU_JOURNAL_NOT_CARRIED = 1 << 0,
	IOMMU_JOURNAL_INCOMPLETE = 1 << 1,
};

/**
 * struct iommu_journal_read - ioctl(IOMMU_JOURNAL_READ)
 * @size: sizeof(struct iommu_journal_read)
 * @flags: Combination of enum iommu_journal_read_flags
 * @start: Index of the first record to return
 * @buf_len: Bytes available at @buf_uptr
 * @buf_uptr: User pointer to the buffer that receives the records
 * @out_buf_len: Bytes written to the buffer, always whole records. If the
 *               next record does not fit the ioctl fails with EMSGSIZE and
 *               this is the length that record needs
 * @out_num_records: Records written
 * @out_total: Records in the journal
 * @out_state: One of enum iommu_journal_state
 * @out_flags: Combination of enum iommu_journal_flags
 * @out_matched: Records of the expected journal replayed so far
 *
 * Read the journal the kernel keeps of the state-changing ioctls that
 * succeeded on this iommufd, and on the VFIO devices bound to it. Queries and
 * cache invalidations are not recorded. A call with @buf_len 0 returns only
 * the status fields.
 */
struct iommu_journal_read {
	__u32 size;
	__u32 flags;
	__u32 start;
	__u32 buf_len;
	__aligned_u64 buf_uptr;
	__u32 out_buf_len;
	__u32 out_num_records;
	__u32 out_total;
	__u32 out_state;
	__u32 out_flags;
	__u32 out_matched;
};
#define IOMMU_JOURNAL_READ _IO(IOMMUFD_TYPE, IOMMUFD_CMD_JOURNAL_READ)
#endif /* IOMMU_JOURNAL_READ */

/* The LUO compatible string of the iommufd file handler the series adds. */
#define IOMMUFD_LUO_FH_COMPATIBLE "iommufd-journal-v2"

#endif /* KHO_PATCHED_IOMMUFD_JOURNAL_H */
