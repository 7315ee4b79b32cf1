/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A mediated device's identity as sysfs shows it (issue #15): the form a
 * VFIO cdev of an mdev (the kernel's mtty sample, vGPUs) needs, where a
 * PCI function has its address.  An mdev does not survive a kexec: the
 * new kernel has it only once someone writes its UUID to its type's
 * "create", so the identity carries what that needs (parent and type) as
 * well as the UUID that names it.  Not yet in the journal or the hand-off
 * (docs/device-state.md says what remains).
 */
#ifndef KHO_MDEV_H
#define KHO_MDEV_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" and its NUL. */
#define KHO_MDEV_UUID_LEN 37

struct kho_mdev_id {
	uint8_t uuid[16];
	char parent[32];	/* the parent device: "mtty" */
	char type[32];		/* its mdev type: "mtty-1" */
	char driver[32];	/* the mdev driver bound, "" if none */
};

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

#endif /* KHO_MDEV_H */
