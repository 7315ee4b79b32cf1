/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A PCI function's identity as sysfs shows it: its name, vendor, device
 * and driver.  The recorder reads it for a VFIO cdev, capture checks it
 * before it preserves, replay finds the cdev of the function recorded.
 */
#ifndef KHO_PCI_H
#define KHO_PCI_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include "kho.h"

/* "ssss:bb:dd.f" and its NUL, with room to spare. */
#define KHO_PCI_NAME_LEN 16

/**
 * kho_pci_name() - the sysfs name of a PCI function, "ssss:bb:dd.f"
 * @pci: the function
 * @buf: where the name goes
 * @len: size of @buf; KHO_PCI_NAME_LEN always holds the whole name
 *
 * Return: @buf.
 */
char *kho_pci_name(const struct kho_pci_id *pci, char *buf, size_t len);

/**
 * kho_pci_is_none() - is this the all-zero identity of no PCI function?
 * @pci: the identity (an mdev's BIND record carries this one)
 *
 * Return: true if every field is zero; vendor 0 is no PCI vendor.
 */
bool kho_pci_is_none(const struct kho_pci_id *pci);

/**
 * kho_pci_parse_name() - segment, bus and devfn from a sysfs name
 * @name: "ssss:bb:dd.f", as the last component of a sysfs device path
 * @pci: segment, bus and devfn are set; vendor and device are left alone
 *
 * Return: 0, or -EINVAL if @name is not a PCI function's name.
 */
int kho_pci_parse_name(const char *name, struct kho_pci_id *pci);

/**
 * kho_pci_sysfs_dir() - the directory of a PCI function under @sysfs
 * @sysfs: the sysfs mount, "/sys" but in tests
 * @pci: the function
 * @buf: where "<sysfs>/bus/pci/devices/<name>" goes
 * @len: size of @buf
 *
 * Return: 0, or -ENAMETOOLONG if @buf is too small.
 */
int kho_pci_sysfs_dir(const char *sysfs, const struct kho_pci_id *pci,
		      char *buf, size_t len);

/**
 * kho_sysfs_link_base() - the last component of a sysfs symlink's target
 * @dir:  a sysfs directory (or a link to one)
 * @attr: the link's name in it: "driver", "subsystem", "mdev_type", ...
 * @buf:  out: the target's last component
 * @size: size of @buf
 *
 * Return: 0; -ENAMETOOLONG; the -errno of readlink(2) (-ENOENT: no link).
 */
int kho_sysfs_link_base(const char *dir, const char *attr, char *buf,
			size_t size);

/**
 * kho_pci_read_hex() - a hex attribute of a device, such as "0x1af4\n"
 * @dir: the device's sysfs directory (or a link to it)
 * @attr: the attribute's file name, "vendor" or "device"
 * @val: the value read
 *
 * Return: 0; -ENAMETOOLONG if the path does not fit; the -errno of
 * open(2) or read(2) (-ENOENT: no such device or attribute); -EBADMSG if
 * the file does not start with a hex number.
 */
int kho_pci_read_hex(const char *dir, const char *attr, unsigned long *val);

/**
 * kho_pci_read_driver() - the driver a device is bound to
 * @dir: the device's sysfs directory (or a link to it)
 * @buf: the driver's name, the last component of the "driver" link
 * @size: size of @buf
 *
 * Return: 0; -ENAMETOOLONG if the path or the name does not fit; the
 * -errno of readlink(2) (-ENOENT: no driver bound).
 */
int kho_pci_read_driver(const char *dir, char *buf, size_t size);

/**
 * kho_pci_vfio_cdev() - the VFIO cdev of a device bound to a VFIO driver
 * @dir:  the device's sysfs directory
 * @name: out: the cdev's name, "vfioN" (/dev/vfio/devices/vfioN)
 * @len:  size of @name
 * @rdev: out, unless NULL: its device number, from vfio-dev/vfioN/dev
 *
 * Return: 0; -ENOENT (vfio-dev is empty); -EBADMSG (a dev attribute that
 * is not MAJOR:MINOR); -ENAMETOOLONG; the -errno of opendir(3) on
 * vfio-dev (-ENOENT: no cdev, the device is not bound to VFIO) or of
 * reading dev.
 */
int kho_pci_vfio_cdev(const char *dir, char *name, size_t len, dev_t *rdev);

/**
 * kho_pci_vfio_group() - the legacy VFIO group node of a device
 * @sysfs: the sysfs mount, "/sys" but in tests
 * @dir:   the device's sysfs directory
 * @group: out: its IOMMU group number (/dev/vfio/N)
 * @rdev:  out: the device number of /dev/vfio/N, from class/vfio/N/dev
 *
 * Return: 0; -EBADMSG (a malformed group link or dev attribute);
 * -ENAMETOOLONG; the -errno of readlink(2) on iommu_group or of reading
 * dev (-ENOENT: no IOMMU group, or no VFIO group interface).
 */
int kho_pci_vfio_group(const char *sysfs, const char *dir,
		       unsigned int *group, dev_t *rdev);

#endif /* KHO_PCI_H */
