// SPDX-License-Identifier: LGPL-2.1-or-later
/* A mediated device's identity: its UUID, parent and type, from sysfs. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "mdev.h"
#include "pci.h"

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int kho_mdev_parse_uuid(const char *s, uint8_t uuid[16])
{
	size_t i, n = 0;

	for (i = 0; i < KHO_MDEV_UUID_LEN - 1; i++) {
		int hi, lo;

		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return -EINVAL;
			continue;
		}
		hi = hexval(s[i]);
		lo = hi < 0 ? -1 : hexval(s[i + 1]);
		if (lo < 0)
			return -EINVAL;
		uuid[n++] = (uint8_t)(hi << 4 | lo);
		i++;
	}
	return s[i] ? -EINVAL : 0;
}

char *kho_mdev_uuid_str(const uint8_t uuid[16], char *buf, size_t size)
{
	snprintf(buf, size,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 uuid[0], uuid[1], uuid[2], uuid[3], uuid[4], uuid[5], uuid[6],
		 uuid[7], uuid[8], uuid[9], uuid[10], uuid[11], uuid[12],
		 uuid[13], uuid[14], uuid[15]);
	return buf;
}

/*
 * The parent: sysfs links are relative ("../mdev_supported_types/TYPE",
 * the mdev being the parent's child), so the name is read from the
 * resolved path .../PARENT/mdev_supported_types/TYPE.
 */
static int type_parent(const char *dir, char *parent, size_t size)
{
	char path[PATH_MAX], real[PATH_MAX], *p, *types;

	if ((size_t)snprintf(path, sizeof(path), "%s/mdev_type", dir) >=
	    sizeof(path))
		return -ENAMETOOLONG;
	if (!realpath(path, real))
		return -errno;
	p = strrchr(real, '/');			/* /TYPE */
	if (!p)
		return -EBADMSG;
	*p = '\0';
	types = strrchr(real, '/');		/* /mdev_supported_types */
	if (!types || strcmp(types + 1, "mdev_supported_types"))
		return -EBADMSG;
	*types = '\0';
	p = strrchr(real, '/');			/* /PARENT */
	p = p ? p + 1 : real;
	if (!*p)
		return -EBADMSG;
	if (strlen(p) >= size)
		return -ENAMETOOLONG;
	memcpy(parent, p, strlen(p) + 1);
	return 0;
}

int kho_mdev_of_cdev(const char *sysfs, dev_t rdev, struct kho_mdev_id *id)
{
	char dir[PATH_MAX], name[64], subsys[32];
	int err;

	memset(id, 0, sizeof(*id));
	if ((size_t)snprintf(dir, sizeof(dir), "%s/dev/char/%u:%u", sysfs,
			     major(rdev), minor(rdev)) >= sizeof(dir))
		return -ENAMETOOLONG;
	err = kho_sysfs_link_base(dir, "device", name, sizeof(name));
	if (err)
		return err;
	/* From here on, the mdev's own directory. */
	if ((size_t)snprintf(dir + strlen(dir), sizeof(dir) - strlen(dir),
			     "/device") >= sizeof(dir) - strlen(dir))
		return -ENAMETOOLONG;
	err = kho_sysfs_link_base(dir, "subsystem", subsys, sizeof(subsys));
	if (err == -ENAMETOOLONG || (!err && strcmp(subsys, "mdev")) ||
	    err == -ENOENT)
		return -ENODEV;
	if (err)
		return err;
	if (kho_mdev_parse_uuid(name, id->uuid))
		return -EBADMSG;
	err = kho_sysfs_link_base(dir, "mdev_type", id->type, sizeof(id->type));
	if (!err)
		err = type_parent(dir, id->parent, sizeof(id->parent));
	if (err == -ENOENT)
		return -EBADMSG;
	if (err)
		return err;
	err = kho_pci_read_driver(dir, id->driver, sizeof(id->driver));
	return err == -ENOENT ? 0 : err;
}

int kho_mdev_create_path(const char *sysfs, const struct kho_mdev_id *id,
			 char *buf, size_t size)
{
	if ((size_t)snprintf(buf, size,
			     "%s/class/mdev_bus/%s/mdev_supported_types/%s/create",
			     sysfs, id->parent, id->type) >= size)
		return -ENAMETOOLONG;
	return 0;
}

bool kho_mdev_is(const struct kho_mdev_id *id)
{
	size_t i;

	for (i = 0; i < sizeof(id->uuid); i++)
		if (id->uuid[i])
			return true;
	return false;
}

static bool sysfs_name_ok(const char *s)
{
	return s[0] && !strchr(s, '/') && strcmp(s, ".") && strcmp(s, "..");
}

bool kho_mdev_names_ok(const struct kho_mdev_id *id)
{
	return sysfs_name_ok(id->parent) && sysfs_name_ok(id->type);
}

char *kho_mdev_name(const struct kho_mdev_id *id, char *buf, size_t size)
{
	char uuid[KHO_MDEV_UUID_LEN];

	snprintf(buf, size, "mdev %s (type %s of %s)",
		 kho_mdev_uuid_str(id->uuid, uuid, sizeof(uuid)), id->type,
		 id->parent);
	return buf;
}

int kho_mdev_sysfs_dir(const char *sysfs, const struct kho_mdev_id *id,
		       char *buf, size_t size)
{
	char uuid[KHO_MDEV_UUID_LEN];

	if ((size_t)snprintf(buf, size, "%s/bus/mdev/devices/%s", sysfs,
			     kho_mdev_uuid_str(id->uuid, uuid,
					       sizeof(uuid))) >= size)
		return -ENAMETOOLONG;
	return 0;
}

/* The existing mdev at @dir is the one recorded: same type, same parent. */
static int check_existing(const char *dir, const struct kho_mdev_id *id,
			  const char *name, struct kho_diag *diag)
{
	char type[sizeof(id->type)], parent[sizeof(id->parent)];
	int err;

	err = kho_sysfs_link_base(dir, "mdev_type", type, sizeof(type));
	if (!err)
		err = type_parent(dir, parent, sizeof(parent));
	if (err)
		return kho_diag_set(diag, -ENODEV,
				    "%s: exists, but its type cannot be read (%s/mdev_type: %s)",
				    name, dir, strerror(-err));
	if (strcmp(type, id->type) || strcmp(parent, id->parent))
		return kho_diag_set(diag, -ENODEV,
				    "%s: exists as type %s of %s, not the type recorded",
				    name, type, parent);
	return 0;
}

int kho_mdev_ensure(const char *sysfs, const struct kho_mdev_id *id,
		    bool *created, struct kho_diag *diag)
{
	char dir[PATH_MAX], create[PATH_MAX], name[128];
	char uuid[KHO_MDEV_UUID_LEN];
	ssize_t n;
	int fd, err;

	*created = false;
	kho_mdev_name(id, name, sizeof(name));
	err = kho_mdev_sysfs_dir(sysfs, id, dir, sizeof(dir));
	if (!err)
		err = kho_mdev_create_path(sysfs, id, create, sizeof(create));
	if (err)
		return kho_diag_set(diag, err, "%s: sysfs path too long", name);
	if (!access(dir, F_OK))
		return check_existing(dir, id, name, diag);
	/* mdev_type's create_store(): the UUID, a newline allowed */
	fd = open(create, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return kho_diag_set(diag, errno == ENOENT ? -ENODEV : -errno,
				    "%s: create: %s: %s%s", name, create,
				    strerror(errno),
				    errno == ENOENT ? " (the parent or its type is not there: is its driver built in this kernel?)" : "");
	kho_mdev_uuid_str(id->uuid, uuid, sizeof(uuid));
	n = write(fd, uuid, strlen(uuid));
	err = n < 0 ? -errno : (size_t)n != strlen(uuid) ? -EIO : 0;
	close(fd);
	if (err)
		return kho_diag_set(diag, err, "%s: create: writing its UUID to %s: %s",
				    name, create, strerror(-err));
	if (access(dir, F_OK))
		return kho_diag_set(diag, -ENODEV,
				    "%s: create: %s took the UUID, but %s is not there",
				    name, create, dir);
	*created = true;
	return 0;
}

char *kho_device_label(const struct kho_pci_id *pci,
		       const struct kho_mdev_id *mdev, char *buf, size_t size)
{
	if (kho_mdev_is(mdev))
		return kho_mdev_name(mdev, buf, size);
	return kho_pci_name(pci, buf, size);
}

char *kho_device_sysname(const struct kho_pci_id *pci,
			 const struct kho_mdev_id *mdev, char *buf,
			 size_t size)
{
	if (kho_mdev_is(mdev))
		return kho_mdev_uuid_str(mdev->uuid, buf, size);
	return kho_pci_name(pci, buf, size);
}
