// SPDX-License-Identifier: LGPL-2.1-or-later
/* PCI identity through sysfs: names, vendor:device, the bound driver, the VFIO nodes. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "pci.h"

char *kho_pci_name(const struct kho_pci_id *pci, char *buf, size_t len)
{
	snprintf(buf, len, "%04x:%02x:%02x.%x", pci->segment, pci->bus,
		 pci->devfn >> 3, pci->devfn & 7);
	return buf;
}

bool kho_pci_is_none(const struct kho_pci_id *pci)
{
	return !pci->segment && !pci->bus && !pci->devfn && !pci->vendor &&
	       !pci->device;
}

int kho_pci_parse_name(const char *name, struct kho_pci_id *pci)
{
	unsigned int seg, bus, dev, fn;

	if (sscanf(name, "%x:%x:%x.%x", &seg, &bus, &dev, &fn) != 4)
		return -EINVAL;
	pci->segment = seg;
	pci->bus = bus;
	pci->devfn = (dev << 3) | (fn & 7);
	return 0;
}

int kho_pci_sysfs_dir(const char *sysfs, const struct kho_pci_id *pci,
		      char *buf, size_t len)
{
	char name[KHO_PCI_NAME_LEN];
	int n;

	n = snprintf(buf, len, "%s/bus/pci/devices/%s", sysfs,
		     kho_pci_name(pci, name, sizeof(name)));
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* The first line of @dir/@attr, NUL-terminated. */
static int read_attr(const char *dir, const char *attr, char *buf,
		     size_t size)
{
	char path[PATH_MAX];
	ssize_t n;
	int fd, err;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, attr) >=
	    sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	err = errno;
	close(fd);
	if (n < 0)
		return -err;
	buf[n] = '\0';
	return 0;
}

/* The last component of the link @dir/@attr. */
int kho_sysfs_link_base(const char *dir, const char *attr, char *buf,
			size_t size)
{
	char path[PATH_MAX], link[PATH_MAX];
	const char *base;
	ssize_t n;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, attr) >=
	    sizeof(path))
		return -ENAMETOOLONG;
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return -errno;
	link[n] = '\0';
	base = strrchr(link, '/');
	base = base ? base + 1 : link;
	if (strlen(base) >= size)
		return -ENAMETOOLONG;
	memcpy(buf, base, strlen(base) + 1);
	return 0;
}

int kho_pci_read_hex(const char *dir, const char *attr, unsigned long *val)
{
	char buf[32], *end;
	int err = read_attr(dir, attr, buf, sizeof(buf));

	if (err)
		return err;
	*val = strtoul(buf, &end, 16);
	return end == buf ? -EBADMSG : 0;
}

int kho_pci_read_driver(const char *dir, char *buf, size_t size)
{
	return kho_sysfs_link_base(dir, "driver", buf, size);
}

/* A "dev" attribute: "MAJOR:MINOR\n". */
static int read_devt(const char *dir, dev_t *rdev)
{
	unsigned int maj, min;
	char buf[32];
	int err = read_attr(dir, "dev", buf, sizeof(buf));

	if (err)
		return err;
	if (sscanf(buf, "%u:%u", &maj, &min) != 2)
		return -EBADMSG;
	*rdev = makedev(maj, min);
	return 0;
}

int kho_pci_vfio_cdev(const char *dir, char *name, size_t len, dev_t *rdev)
{
	char path[PATH_MAX], node[PATH_MAX];
	struct dirent *de;
	int err = -ENOENT;
	DIR *d;

	if ((size_t)snprintf(path, sizeof(path), "%s/vfio-dev", dir) >=
	    sizeof(path))
		return -ENAMETOOLONG;
	d = opendir(path);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, "vfio", 4))
			continue;
		snprintf(name, len, "%s", de->d_name);
		err = 0;
		break;
	}
	closedir(d);
	if (err || !rdev)
		return err;
	if ((size_t)snprintf(node, sizeof(node), "%s/%s", path, name) >=
	    sizeof(node))
		return -ENAMETOOLONG;
	return read_devt(node, rdev);
}

int kho_pci_vfio_group(const char *sysfs, const char *dir,
		       unsigned int *group, dev_t *rdev)
{
	char name[32], path[PATH_MAX], *end;
	int err = kho_sysfs_link_base(dir, "iommu_group", name, sizeof(name));

	if (err)
		return err;
	*group = strtoul(name, &end, 10);
	if (end == name || *end)
		return -EBADMSG;
	if ((size_t)snprintf(path, sizeof(path), "%s/class/vfio/%s", sysfs,
			     name) >= sizeof(path))
		return -ENAMETOOLONG;
	return read_devt(path, rdev);
}
