/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The hand-off FDT layout, version 1: node and property names and the
 * packed record layouts shared by lib/handoff_write.c and
 * lib/handoff_read.c.  Private to the library; the format is specified in
 * fdt-schema/kho-tool-handoff.yaml and docs/format.md.
 */
#ifndef KHO_HANDOFF_FORMAT_H
#define KHO_HANDOFF_FORMAT_H

#include <stddef.h>
#include <stdint.h>

/* Root properties. */
#define KHO_P_COMPATIBLE	"compatible"
#define KHO_P_FORMAT_VERSION	"format-version"
#define KHO_P_MIN_READER	"min-reader-version"
#define KHO_P_TOOL_VERSION	"tool-version"
#define KHO_P_KERNEL_RELEASE	"kernel-release"
#define KHO_P_CREATED		"created"
#define KHO_P_CRC32		"crc32"
#define KHO_P_JOURNAL_SOURCE	"journal-source"	/* optional string */

/* Containers, one per object kind; each child node is one object. */
#define KHO_N_MEMFDS		"memfds"
#define KHO_N_DEVICES		"devices"
#define KHO_N_IOASES		"ioases"
#define KHO_N_HWPTS		"hwpts"
#define KHO_N_JOURNAL		"journal"
/*
 * Optional (format version 2): the VMM's iommufd, preserved by the
 * kernel's LUO handler named by its "compatible"; "token" (u64) is its
 * LUO token, "journal-length" (u64) the records of the preserved journal,
 * "file-tokens" packed (u64 inode, u64 memfd token) pairs.
 */
#define KHO_N_IOMMUFD		"iommufd"
#define KHO_P_TOKEN		"token"
#define KHO_P_JOURNAL_LENGTH	"journal-length"
#define KHO_P_FILE_TOKENS	"file-tokens"
#define KHO_FILE_TOKEN_SIZE	16

/*
 * Optional (format version 3): QEMUs carried by cpr-transfer, one child
 * node "qemu-<n>" each: "vmm-name" (string), "cpr-state" (bytes, as QEMU
 * sent them), "fd-tokens" (u64 per placeholder, in order, each a token of
 * /memfds), "stream-token" and "stream-length" (u64: the memfd of /memfds
 * holding the main stream, and its bytes).
 */
#define KHO_N_QEMU_CPR		"qemu-cpr"
#define KHO_P_VMM_NAME		"vmm-name"
#define KHO_P_CPR_STATE		"cpr-state"
#define KHO_P_FD_TOKENS		"fd-tokens"
#define KHO_P_STREAM_TOKEN	"stream-token"
#define KHO_P_STREAM_LENGTH	"stream-length"

/*
 * Optional in a device node (any version: readers ignore what they do
 * not know, and nothing is replayed from it): the VFIO_MIGRATION_* flags
 * capture read from VFIO_DEVICE_FEATURE_MIGRATION; 0 = no migration
 * support; absent = not probed.
 */
#define KHO_P_MIGRATION_FLAGS	"migration-flags"
/* An mdev's identity in its device node, instead of pci-address (format 5) */
#define KHO_P_MDEV_UUID		"mdev-uuid"
#define KHO_P_MDEV_PARENT	"mdev-parent"
#define KHO_P_MDEV_TYPE		"mdev-type"

/*
 * Optional in a device node (format version 4, with min-reader-version
 * 4): the device's migration data.  "memfd-token" (u64, a token of
 * /memfds no mapping and no other device uses), "length" (u64, that
 * memfd's size), "flags" (u32, the migration-flags it was saved with),
 * "fsm-path" (u32 per state, RUNNING first, STOP_COPY last, each step one
 * arc of the kernel's FSM), "crc32" (u32, zlib's, of the data).
 */
#define KHO_N_DEVICE_STATE	"device-state"
#define KHO_P_MEMFD_TOKEN	"memfd-token"
#define KHO_P_LENGTH		"length"
#define KHO_P_FLAGS		"flags"
#define KHO_P_FSM_PATH		"fsm-path"

/*
 * Optional (format version 6, with min-reader-version 6): the poisoned
 * ranges of guest-RAM memfds.  "memfd-ranges" packs (memfd-token u64, offset
 * u64, length u64) records, sorted by token then offset, each page-aligned
 * and inside its memfd, none overlapping another or any mapping of
 * /ioases; "range-cells" is their width.
 */
#define KHO_N_POISON		"poison"
#define KHO_P_RANGES		"memfd-ranges"
#define KHO_P_RANGE_CELLS	"range-cells"
#define KHO_POISON_CELLS	6
#define KHO_POISON_SIZE		(KHO_POISON_CELLS * 4)

/*
 * Packed arrays carry their record width in a "...-cells" property of
 * their container, the way #address-cells sizes "reg" (without the '#':
 * dt-schema caps "#...-cells" at 8): a later format may
 * append fields to a record without breaking a v1 reader, which reads the
 * prefix it knows and skips the rest.
 */
#define KHO_P_MAPPING_CELLS	"mapping-cells"
#define KHO_P_RECORD_CELLS	"record-cells"

/*
 * One mapping, big-endian: iova u64, length u64, offset u64,
 * memfd-token u64, flags u32.  36 bytes: the whole per-mapping cost of the
 * blob, since a mapping is never a node of its own.
 */
#define KHO_MAPPING_CELLS	9
#define KHO_MAPPING_SIZE	(KHO_MAPPING_CELLS * 4)

/*
 * One journal record, big-endian: op u32, then the op's fields packed in
 * the order of struct kho_rec (u32 and u64 as 1 and 2 cells), then zero
 * cells up to the record width.  IOAS_MAP_FILE, the widest, needs 11.
 */
#define KHO_RECORD_CELLS	12
#define KHO_RECORD_SIZE		(KHO_RECORD_CELLS * 4)

/* Pointed-to data (allowed IOVAs, HWPT driver data) lives in the
 * journal's "inline-data" property, each chunk padded to 4 bytes and laid
 * out in record order, referenced by (offset, length). */
#define KHO_INLINE_ALIGN	4

/**
 * kho_inline_pad() - a record's inline data length, padded for FDT
 * @len: the bytes of inline data
 *
 * Return: @len rounded up to KHO_INLINE_ALIGN, the cell size FDT
 * properties keep.
 */
static inline size_t kho_inline_pad(size_t len)
{
	return (len + KHO_INLINE_ALIGN - 1) & ~(size_t)(KHO_INLINE_ALIGN - 1);
}

#endif /* KHO_HANDOFF_FORMAT_H */
