// SPDX-License-Identifier: LGPL-2.1-or-later
/* LUO sessions: create, preserve, retrieve and finish. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/liveupdate.h>

#include "luo.h"

static int luo_ioctl(int fd, unsigned long cmd, void *arg)
{
	if (ioctl(fd, cmd, arg) < 0)
		return -errno;
	return 0;
}

int kho_luo_open(void)
{
	int fd = open(KHO_LUO_DEV, O_RDWR | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

static int copy_name(uint8_t *dst, const char *name)
{
	if (strlen(name) >= LIVEUPDATE_SESSION_NAME_LENGTH)
		return -EINVAL;
	memset(dst, 0, LIVEUPDATE_SESSION_NAME_LENGTH);
	memcpy(dst, name, strlen(name));
	return 0;
}

int kho_luo_create_session(int luo_fd, const char *name)
{
	struct liveupdate_ioctl_create_session arg = { .size = sizeof(arg) };
	int ret = copy_name(arg.name, name);

	if (ret)
		return ret;
	ret = luo_ioctl(luo_fd, LIVEUPDATE_IOCTL_CREATE_SESSION, &arg);
	return ret ? ret : arg.fd;
}

int kho_luo_retrieve_session(int luo_fd, const char *name)
{
	struct liveupdate_ioctl_retrieve_session arg = { .size = sizeof(arg) };
	int ret = copy_name(arg.name, name);

	if (ret)
		return ret;
	ret = luo_ioctl(luo_fd, LIVEUPDATE_IOCTL_RETRIEVE_SESSION, &arg);
	return ret ? ret : arg.fd;
}

int kho_luo_preserve_fd(int session_fd, int fd, uint64_t token)
{
	struct liveupdate_session_preserve_fd arg = {
		.size = sizeof(arg), .fd = fd, .token = token,
	};

	return luo_ioctl(session_fd, LIVEUPDATE_SESSION_PRESERVE_FD, &arg);
}

int kho_luo_retrieve_fd(int session_fd, uint64_t token)
{
	struct liveupdate_session_retrieve_fd arg = {
		.size = sizeof(arg), .token = token,
	};
	int ret = luo_ioctl(session_fd, LIVEUPDATE_SESSION_RETRIEVE_FD, &arg);

	return ret ? ret : arg.fd;
}

int kho_luo_finish(int session_fd)
{
	struct liveupdate_session_finish arg = { .size = sizeof(arg) };

	return luo_ioctl(session_fd, LIVEUPDATE_SESSION_FINISH, &arg);
}
