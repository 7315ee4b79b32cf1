// SPDX-License-Identifier: LGPL-2.1-or-later
/* VFIO migration v2 support of a device: probe and name its flags. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include "compat.h"
#include <linux/vfio.h>

#include "vfio_mig.h"

int kho_vfio_migration_query(int devfd, uint32_t *flags)
{
	/* The header and the feature's payload, as QEMU lays them out. */
	uint64_t buf[(sizeof(struct vfio_device_feature) +
		      sizeof(struct vfio_device_feature_migration) + 7) / 8];
	struct vfio_device_feature *hdr = (void *)buf;
	struct vfio_device_feature_migration *mig = (void *)hdr->data;

	*flags = 0;
	memset(buf, 0, sizeof(buf));
	hdr->argsz = sizeof(buf);
	hdr->flags = VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_GET |
		     VFIO_DEVICE_FEATURE_MIGRATION;
	if (ioctl(devfd, VFIO_DEVICE_FEATURE, hdr))
		return errno == ENOTTY ? 0 : -errno;
	/* A probe answers only yes or no: GET reads the flags. */
	hdr->flags = VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIGRATION;
	if (ioctl(devfd, VFIO_DEVICE_FEATURE, hdr))
		return -errno;
	*flags = (uint32_t)mig->flags;
	return 0;
}

const char *kho_vfio_migration_str(uint32_t flags, char *buf, size_t size)
{
	static const char *const names[] = { "stop-copy", "p2p", "pre-copy" };
	size_t i, n = 0;

	if (!size)
		return buf;
	buf[0] = '\0';
	if (!flags) {
		snprintf(buf, size, "none");
		return buf;
	}
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (flags & (1u << i) && n < size)
			n += snprintf(buf + n, size - n, "%s%s", n ? "+" : "",
				      names[i]);
	if (flags & ~KHO_VFIO_MIGRATION_KNOWN && n < size)
		snprintf(buf + n, size - n, "%s0x%x", n ? "+" : "",
			 flags & ~KHO_VFIO_MIGRATION_KNOWN);
	return buf;
}
