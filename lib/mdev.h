/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A mediated device's identity as sysfs shows it (issue #15): the form a
 * VFIO cdev of an mdev (the kernel's mtty sample, vGPUs) needs, where a
 * PCI function has its address.  An mdev does not survive a kexec: the
 * new kernel has it only once someone writes its UUID to its type's
 * "create", so the identity carries what that needs (parent and type) as
 * well as the UUID that names it.  The recorder canonicalises an mdev's
 * cdev to it, the hand-off carries it (format 5), the replay creates the
 * mdev again from it (docs/device-state.md).
 */
#ifndef KHO_MDEV_H
#define KHO_MDEV_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <sys/types.h>
#include "kho.h"	/* struct kho_mdev_id, struct kho_diag */

/* "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" and its NUL. */
#define KHO_MDEV_UUID_LEN 37

/**
 * kho_mdev_parse_uuid() - an mdev's name as sysfs spells it
 * @s:    "83b8f4f2-509f-382f-3c1e-e6bfe0fa1001" (hex digits in either case)
 * @uuid: out: its 16 bytes
 *
 * Return: 0; -EINVAL (not 8-4-4-4-12 hex digits, or trailing bytes).
 */
int kho_mdev_parse_uuid(const char *s, uint8_t uuid[16]);

/**
 * kho_mdev_uuid_str() - the canonical, lower-case name of a UUID
 * @uuid: the 16 bytes
 * @buf:  out; KHO_MDEV_UUID_LEN bytes always suffice
 * @size: room in @buf
 *
 * Return: @buf.
 */
char *kho_mdev_uuid_str(const uint8_t uuid[16], char *buf, size_t size);

/**
 * kho_mdev_of_cdev() - the mdev behind a VFIO cdev
 * @sysfs: the sysfs mount, "/sys" but in tests
 * @rdev:  the cdev's device number (fstat of the VMM's device fd)
 * @id:    out: UUID, parent, type and driver
 *
 * Reads <sysfs>/dev/char/MAJ:MIN/device, which for the cdev of an mdev is
 * the mdev itself: its name is the UUID, its "subsystem" link names the
 * mdev bus, its "mdev_type" link ends in .../PARENT/mdev_supported_types/
 * TYPE.
 *
 * Return: 0; -ENODEV (the device is not an mdev: a PCI function, say);
 * -EBADMSG (an mdev whose name is not a UUID or whose type link is not
 * of that shape); -ENAMETOOLONG; the -errno of readlink(2) (-ENOENT: no
 * such cdev).
 */
int kho_mdev_of_cdev(const char *sysfs, dev_t rdev, struct kho_mdev_id *id);

/**
 * kho_mdev_create_path() - the file that creates this mdev again
 * @sysfs: the sysfs mount
 * @id:    the identity
 * @buf:   out: "<sysfs>/class/mdev_bus/PARENT/mdev_supported_types/TYPE/create",
 *         to which the UUID is written
 * @size:  room in @buf
 *
 * Return: 0; -ENAMETOOLONG.
 */
int kho_mdev_create_path(const char *sysfs, const struct kho_mdev_id *id,
			 char *buf, size_t size);

/**
 * kho_mdev_is() - does this identity name an mdev?
 * @id: the identity (a PCI function's is all zero)
 *
 * Return: true if its UUID is not all zero.
 */
bool kho_mdev_is(const struct kho_mdev_id *id);

/**
 * kho_mdev_names_ok() - are its parent and type sysfs names?
 * @id: the identity
 *
 * The replay builds a path of them: each must be one non-empty path
 * component, not "." or "..".
 *
 * Return: true if both are.
 */
bool kho_mdev_names_ok(const struct kho_mdev_id *id);

/**
 * kho_mdev_name() - an mdev as messages name it
 * @id:   the identity
 * @buf:  out: "mdev UUID (type TYPE of PARENT)"
 * @size: room in @buf; 128 always suffice
 *
 * Return: @buf.
 */
char *kho_mdev_name(const struct kho_mdev_id *id, char *buf, size_t size);

/**
 * kho_mdev_sysfs_dir() - the mdev's directory, <sysfs>/bus/mdev/devices/UUID
 * @sysfs: the sysfs mount
 * @id:    the identity
 * @buf:   out
 * @size:  room in @buf
 *
 * Return: 0; -ENAMETOOLONG.
 */
int kho_mdev_sysfs_dir(const char *sysfs, const struct kho_mdev_id *id,
		       char *buf, size_t size);

/**
 * kho_mdev_ensure() - the mdev exists, as recorded, creating it if need be
 * @sysfs:   the sysfs mount
 * @id:      the identity recorded
 * @created: out: true if this call created it
 * @diag:    why not, naming the mdev, the step and the cause
 *
 * After a kexec no mdev exists until its UUID is written to its type's
 * "create" (kho_mdev_create_path()); one that exists already (created by
 * the boot, or by an earlier try) must be of the recorded parent and
 * type, since its UUID alone does not say what it emulates.
 *
 * Return: 0; -ENODEV (it exists with another parent or type, or its
 * parent or type is not offered: no such "create"); the -errno of the
 * write to "create" (the parent refused it: no instances left, say).
 */
int kho_mdev_ensure(const char *sysfs, const struct kho_mdev_id *id,
		    bool *created, struct kho_diag *diag);

/* "mdev UUID (type TYPE of PARENT)" with 31-byte names, and its NUL. */
#define KHO_DEVICE_LABEL_LEN 128

/**
 * kho_device_label() - a device as messages name it
 * @pci:  its PCI identity
 * @mdev: its mdev identity; all zero for a PCI function
 * @buf:  out: "0000:00:03.0", or "mdev UUID (type TYPE of PARENT)"
 * @size: room in @buf; KHO_DEVICE_LABEL_LEN always suffice
 *
 * Return: @buf.
 */
char *kho_device_label(const struct kho_pci_id *pci,
		       const struct kho_mdev_id *mdev, char *buf, size_t size);

/**
 * kho_device_sysname() - a device's name in sysfs
 * @pci:  its PCI identity
 * @mdev: its mdev identity; all zero for a PCI function
 * @buf:  out: "0000:00:03.0", or the mdev's UUID
 * @size: room in @buf; KHO_MDEV_UUID_LEN always suffice
 *
 * Return: @buf.
 */
char *kho_device_sysname(const struct kho_pci_id *pci,
			 const struct kho_mdev_id *mdev, char *buf,
			 size_t size);

#endif /* KHO_MDEV_H */
