/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * VFIO migration v2 support of a device, as VFIO_DEVICE_FEATURE_MIGRATION
 * reports it (issue #15).  Today kho-tool only detects and records it: a
 * device's state crosses the kexec only once the FSM path of
 * docs/device-state.md is built, so every device is still reset.
 */
#ifndef KHO_VFIO_MIG_H
#define KHO_VFIO_MIG_H

#include <stddef.h>
#include <stdint.h>

/* The flags this tool names; others are printed as a hex remainder. */
#define KHO_VFIO_MIGRATION_KNOWN	0x7u	/* STOP_COPY | P2P | PRE_COPY */

/**
 * kho_vfio_migration_query() - the migration v2 flags of a device
 * @devfd: an open, bound VFIO device fd (a cdev fd after
 *         VFIO_DEVICE_BIND_IOMMUFD, or a group's device fd)
 * @flags: out: the VFIO_MIGRATION_* flags; 0 when the device has no
 *         migration support
 *
 * Probes first (VFIO_DEVICE_FEATURE_PROBE | GET | MIGRATION), which
 * moves nothing: ENOTTY there is the kernel's "no migration support"
 * (vfio_ioctl_device_feature_migration(): no mig_ops).  Then reads the
 * flags with GET.  The device's FSM state is not changed.
 *
 * Return: 0; -EINVAL (@devfd not bound: a cdev fd before BIND); the
 * -errno of the ioctl otherwise (-ENOTTY from GET after a successful
 * probe would be a kernel bug and is returned as is).
 */
int kho_vfio_migration_query(int devfd, uint32_t *flags);

/**
 * kho_vfio_migration_str() - migration flags for people and JSON
 * @flags: VFIO_MIGRATION_* flags
 * @buf:   out: "none", or the names joined by '+' in bit order
 *         ("stop-copy+p2p+pre-copy"), unknown bits as "+0x..."
 * @size:  room in @buf; 40 bytes always suffice
 *
 * Return: @buf.
 */
const char *kho_vfio_migration_str(uint32_t flags, char *buf, size_t size);

#endif /* KHO_VFIO_MIG_H */
