// SPDX-License-Identifier: LGPL-2.1-or-later
/* PCI identity through sysfs: names, vendor:device and the bound driver. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pci.h"

char *kho_pci_name(const struct kho_pci_id *pci, char *buf, size_t len)
{
	snprintf(buf, len, "%04x:%02x:%02x.%x", pci->segment, pci->bus,
		 pci->devfn >> 3, pci->devfn & 7);
	return buf;
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

int kho_pci_read_hex(const char *dir, const char *attr, unsigned long *val)
{
	char path[PATH_MAX], buf[32], *end;
	ssize_t n;
	int fd, err;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, attr) >=
	    sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	err = errno;
	close(fd);
	if (n < 0)
		return -err;
	buf[n] = '\0';
	*val = strtoul(buf, &end, 16);
	return end == buf ? -EBADMSG : 0;
}

int kho_pci_read_driver(const char *dir, char *buf, size_t size)
{
	char path[PATH_MAX], link[PATH_MAX];
	const char *base;
	ssize_t n;

	if ((size_t)snprintf(path, sizeof(path), "%s/driver", dir) >=
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
