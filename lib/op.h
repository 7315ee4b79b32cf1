/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The op table: what each journal op (enum kho_op) is, declared once.
 *
 * Like iommufd's own iommufd_ioctl_ops[], one row per op names its uapi
 * command and the size rules of its argument, lists the fields of its
 * struct kho_rec member with what each one is (an object ID taken or
 * handed out, an IOVA, a length, a memfd token, inline data...) and says
 * in which phase a replay plan issues it.  Deep copy, release, ID
 * remapping, the line a person reads, JSON and the hand-off's packed
 * record all walk those field descriptors; what an op does to the state,
 * how an ioctl is canonicalised and how the kernel's journal translates
 * stay with their owners (state.c, canon.c, kjournal.c, replay*.c).
 *
 * Adding an op: one row in lib/op.c (and a number in enum kho_op), plus
 * the semantics that really differ.  tests/unit/test_op.c checks every
 * row against the uapi structs and the record layout.
 */
#ifndef KHO_OP_H
#define KHO_OP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "idmap.h"
#include "kho.h"

/**
 * enum kho_field_kind - what one field of a record is
 * @KHO_FIELD_VALUE: a plain number (u16/u32/u64): option ID, data type, PASID
 * @KHO_FIELD_FLAGS: a u32 of uapi flag bits (hex in the line a person reads)
 * @KHO_FIELD_ID_IN: a u32 object ID the op takes (IOAS, HWPT, device);
 *                   0 means none
 * @KHO_FIELD_ID_OUT: a u32 object ID the kernel handed out; 0 means none
 *                   (e.g. an ATTACH record made without the kernel's answer)
 * @KHO_FIELD_IOVA: a u64 I/O virtual address
 * @KHO_FIELD_LENGTH: a u64 length in bytes
 * @KHO_FIELD_OFFSET: a u64 offset into a memfd
 * @KHO_FIELD_TOKEN: a u64 LUO token of a preserved memfd
 * @KHO_FIELD_COUNT: the u32 element count of the op's inline data
 * @KHO_FIELD_INLINE: the pointer to the op's inline data (owned by the
 *                   record; see struct kho_op_inline)
 * @KHO_FIELD_PCI: a struct kho_pci_id
 * @KHO_FIELD_UUID: 16 bytes: an mdev's UUID, all zero for none
 * @KHO_FIELD_MIG_STATE: a u32 enum vfio_device_mig_state, read by name
 */
enum kho_field_kind {
	KHO_FIELD_VALUE,
	KHO_FIELD_FLAGS,
	KHO_FIELD_ID_IN,
	KHO_FIELD_ID_OUT,
	KHO_FIELD_IOVA,
	KHO_FIELD_LENGTH,
	KHO_FIELD_OFFSET,
	KHO_FIELD_TOKEN,
	KHO_FIELD_COUNT,
	KHO_FIELD_INLINE,
	KHO_FIELD_PCI,
	KHO_FIELD_UUID,
	KHO_FIELD_MIG_STATE,
};

/**
 * struct kho_op_field - one field of an op's struct kho_rec member
 * @name:   its name in JSON and in the op's line template
 * @offset: offsetof(struct kho_rec, ...)
 * @size:   its size in struct kho_rec (2, 4 or 8; a kho_pci_id for PCI,
 *          16 for a UUID)
 * @kind:   enum kho_field_kind
 *
 * The fields are listed in the order of the struct kho_rec member, which
 * is the order of the hand-off's packed record (docs/format.md).
 */
struct kho_op_field {
	const char *name;
	uint16_t offset;
	uint8_t size;
	uint8_t kind;
};

/**
 * enum kho_inline_kind - the elements of an op's inline data
 * @KHO_INLINE_NONE:   the op carries none
 * @KHO_INLINE_RANGES: struct kho_iova_range, packed as two u64 (start, last)
 * @KHO_INLINE_BYTES:  opaque bytes (HWPT driver data)
 */
enum kho_inline_kind {
	KHO_INLINE_NONE,
	KHO_INLINE_RANGES,
	KHO_INLINE_BYTES,
};

/**
 * struct kho_op_inline - where an op keeps the data its uapi struct points to
 * @kind:  enum kho_inline_kind
 * @count: offset in struct kho_rec of the u32 element count
 * @ptr:   offset in struct kho_rec of the pointer to the elements
 * @elem:  bytes per element, in memory and packed
 */
struct kho_op_inline {
	uint8_t kind;
	uint16_t count;
	uint16_t ptr;
	uint8_t elem;
};

/**
 * enum kho_op_phase - when a replay plan issues an op
 * @KHO_PHASE_NONE:    never: the op is not in a plan (a teardown, a copy,
 *                     a reserved or unknown op)
 * @KHO_PHASE_OBJECTS: IOAS allocation and its settings
 * @KHO_PHASE_MAPS:    the mappings
 * @KHO_PHASE_DEVICES: binds, HWPTs, attachments, dirty tracking
 * @KHO_PHASE_DEVICE_STATE: a device's migration FSM arcs: last, once the
 *                     device is bound and attached.  lib/replay.c does
 *                     not issue them: the restore-agent's device-state
 *                     step resumes the device, checked against them, after
 *                     the replay is verified
 *
 * lib/compact.c emits a plan in this order and lib/replay.c runs it by
 * phase, maps before attaches by default (docs/design.md).
 */
enum kho_op_phase {
	KHO_PHASE_NONE,
	KHO_PHASE_OBJECTS,
	KHO_PHASE_MAPS,
	KHO_PHASE_DEVICES,
	KHO_PHASE_DEVICE_STATE,
};

/**
 * enum kho_size_rule - how the kernel checks the size of the ioctl argument
 * @KHO_SIZE_STRUCT: iommufd_fops_ioctl() and vfio_df_ioctl_bind_iommufd():
 *                   below @min_size EINVAL, then copy_struct_from_user():
 *                   a non-zero byte past @size E2BIG
 * @KHO_SIZE_ARGSZ:  vfio_df_ioctl_attach_pt()/detach_pt(): argsz below
 *                   @min_size EINVAL; the tail is never read
 */
enum kho_size_rule {
	KHO_SIZE_STRUCT,
	KHO_SIZE_ARGSZ,
};

#define KHO_OP_FIELDS_MAX 8

/**
 * struct kho_op_desc - one op, declared once
 * @name:      "IOAS_MAP_FILE" etc., as journals and messages print it
 * @cmd:       the uapi ioctl the op records; 0 for a plan step
 *             (REPLAY_MAPPINGS), which replays as IOAS_MAP_FILE
 * @size:      sizeof the uapi argument struct this library knows
 * @min_size:  the kernel's minimum size: offsetofend of the last
 *             mandatory member (IOCTL_OP() in drivers/iommu/iommufd/main.c,
 *             minsz in drivers/vfio/device_cdev.c)
 * @size_rule: enum kho_size_rule
 * @phase:     enum kho_op_phase
 * @nr_fields: entries used in @fields
 * @fields:    the record's fields, in struct (and packed) order
 * @inl:       the op's inline data, if any
 * @fmt:       the line a person reads after the op's name: "{field}" is
 *             the field as its kind prints, "{a+b}" the sum of two u32
 *             fields, "{field?yes:no}" one word by bit 0 of the field
 */
struct kho_op_desc {
	const char *name;
	unsigned long cmd;
	uint32_t size;
	uint32_t min_size;
	uint8_t size_rule;
	uint8_t phase;
	uint8_t nr_fields;
	struct kho_op_field fields[KHO_OP_FIELDS_MAX];
	struct kho_op_inline inl;
	const char *fmt;
};

/**
 * kho_op_get() - the table row of an op
 * @op: enum kho_op
 *
 * Return: the row, or NULL for a number no op has (0, reserved gaps,
 * above KHO_OP_MAX).
 */
const struct kho_op_desc *kho_op_get(uint32_t op);

/**
 * kho_op_by_cmd() - the op that records an ioctl
 * @cmd: the ioctl command
 *
 * Constant time: the recorder asks on every ioctl.
 *
 * Return: the row, or NULL when no op records @cmd.
 */
const struct kho_op_desc *kho_op_by_cmd(unsigned long cmd);

/**
 * kho_op_name() - the name of an op
 * @op: enum kho_op
 *
 * Return: "IOAS_MAP_FILE" etc.; "op#N" (in a thread-local buffer) for a
 * number no op has.
 */
const char *kho_op_name(uint32_t op);

/**
 * kho_op_phase() - when a replay plan issues an op
 * @op: enum kho_op
 *
 * Return: enum kho_op_phase; KHO_PHASE_NONE for an op no plan holds and
 * for a number no op has.
 */
int kho_op_phase(uint32_t op);

/**
 * kho_op_field_get() - read one field of a record
 * @rec: the record
 * @f:   a field of its op's row
 *
 * Return: the value widened to 64 bits (0 for PCI and inline pointers).
 */
uint64_t kho_op_field_get(const struct kho_rec *rec,
			  const struct kho_op_field *f);

/**
 * kho_op_field_set() - write one field of a record
 * @rec: the record
 * @f:   a field of its op's row (not PCI, not an inline pointer)
 * @v:   the value
 *
 * Return: 0; -ERANGE when @v does not fit the field (which is left
 * unchanged); -EINVAL for a PCI or inline-pointer field.
 */
int kho_op_field_set(struct kho_rec *rec, const struct kho_op_field *f,
		     uint64_t v);

/**
 * kho_rec_inline_len() - bytes of inline data a record carries
 * @rec: the record
 *
 * Return: element count times element size; 0 for an op without inline
 * data or a number no op has.
 */
size_t kho_rec_inline_len(const struct kho_rec *rec);

/**
 * kho_rec_release() - free what one record owns (its inline data), not
 * the record itself
 * @rec: the record; its inline pointer is left NULL
 */
void kho_rec_release(struct kho_rec *rec);

/**
 * kho_rec_copy() - deep copy of one record
 * @dst: the copy, owning its own inline data on success
 * @src: the record
 *
 * A @src without elements gets a NULL inline pointer in @dst.
 *
 * Return: 0, or -ENOMEM (then @dst owns nothing).
 */
int kho_rec_copy(struct kho_rec *dst, const struct kho_rec *src);

/* Which object IDs kho_rec_remap_ids() rewrites: a mask. */
#define KHO_OP_ID_IN	(1u << 0)	/* the IDs the op takes */
#define KHO_OP_ID_OUT	(1u << 1)	/* the IDs the kernel handed out */

/**
 * typedef kho_op_id_fn - translate one object ID
 * @ctx:    the caller's context
 * @old_id: the ID in the record (never 0)
 * @new_id: where to put its translation
 *
 * Return: 0, or a negative errno that stops the remap (e.g. -ENOENT for
 * an ID the map does not know).
 */
typedef int (*kho_op_id_fn)(void *ctx, uint32_t old_id, uint32_t *new_id);

/**
 * kho_rec_remap_ids() - rewrite a record's object IDs through @fn
 * @rec:  the record, changed in place
 * @mask: KHO_OP_ID_IN, KHO_OP_ID_OUT or both
 * @fn:   the translation
 * @ctx:  passed to @fn
 *
 * Every field its row marks KHO_FIELD_ID_IN (with KHO_OP_ID_IN) or
 * KHO_FIELD_ID_OUT (with KHO_OP_ID_OUT) goes through @fn, except 0, which
 * names no object.  Replay translates the inputs only: the kernel hands
 * out the outputs anew and the replay learns them.  A record taken whole
 * into another ID space (adoption, a plan replayed on the model) is
 * translated in both.  Which ops may be remapped at all is the caller's
 * rule (a plan holds only ops with a phase: kho_op_phase()).
 *
 * Return: 0; -EBADMSG for a number no op has; -EINVAL for an empty @mask;
 * or @fn's error, the fields before it already rewritten.
 */
int kho_rec_remap_ids(struct kho_rec *rec, unsigned int mask,
		      kho_op_id_fn fn, void *ctx);

/**
 * kho_rec_remap_idmap() - kho_rec_remap_ids() through an old->new ID map
 * @rec:  the record, changed in place
 * @mask: KHO_OP_ID_IN, KHO_OP_ID_OUT or both
 * @map:  the map (lib/idmap.h)
 *
 * What adoption needs: a plan record, replayed, renamed whole (inputs and
 * outputs) into the IDs the agent got.
 *
 * Return: 0; -ENOENT for an ID @map does not hold; -EBADMSG and -EINVAL
 * as kho_rec_remap_ids().
 */
int kho_rec_remap_idmap(struct kho_rec *rec, unsigned int mask,
			const struct kho_idmap *map);

/**
 * kho_rec_format() - the line a person reads about one record
 * @rec: the record
 * @buf: where to write, without a newline
 * @len: size of @buf
 *
 * Return: 0, or -ENOSPC when the line did not fit (it is truncated).
 */
int kho_rec_format(const struct kho_rec *rec, char *buf, size_t len);

/**
 * kho_rec_print_json() - one record as a JSON object
 * @rec: the record
 * @out: the stream
 *
 * Numbers that may exceed 2^53 (u64 fields: IOVAs, lengths, tokens) are
 * written as "0x..." strings so that no JSON reader rounds them.
 *
 * Return: 0, or -EIO when writing failed.
 */
int kho_rec_print_json(const struct kho_rec *rec, FILE *out);

#endif /* KHO_OP_H */
