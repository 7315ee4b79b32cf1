// SPDX-License-Identifier: LGPL-2.1-or-later
/* Passing file descriptors over a unix socket (SCM_RIGHTS). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fdpass.h"

/* Aligned for struct cmsghdr, sized for the most a message can carry. */
union kho_fdpass_cmsg {
	char buf[CMSG_SPACE(sizeof(int) * KHO_FDPASS_MAX)];
	struct cmsghdr align;
};

ssize_t kho_fd_send(int sock, const void *buf, size_t len, const int *fds,
		    size_t nr_fds)
{
	struct iovec iov = { (void *)buf, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	union kho_fdpass_cmsg u;
	struct cmsghdr *c;
	ssize_t n;

	if (nr_fds > KHO_FDPASS_MAX)
		return -E2BIG;
	if (nr_fds) {
		memset(&u, 0, sizeof(u));
		mh.msg_control = u.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nr_fds);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nr_fds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nr_fds);
	}
	do
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

ssize_t kho_fd_recv(int sock, void *buf, size_t len, int flags, int *fds,
		    size_t *nr_fds, int *msg_flags)
{
	struct iovec iov = { buf, len };
	union kho_fdpass_cmsg u;
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = u.buf, .msg_controllen = sizeof(u.buf),
	};
	struct cmsghdr *c;
	size_t nr = 0, k;
	ssize_t n;

	*nr_fds = 0;
	do
		n = recvmsg(sock, &mh, flags | MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		if (k > KHO_FDPASS_MAX - nr)
			k = KHO_FDPASS_MAX - nr;
		memcpy(fds + nr, CMSG_DATA(c), k * sizeof(int));
		nr += k;
	}
	*nr_fds = nr;
	if (msg_flags)
		*msg_flags = mh.msg_flags;
	return n;
}

int kho_unix_addr(const char *path, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	strcpy(sa->sun_path, path);
	return 0;
}

int kho_unix_connect(const char *path, int type)
{
	struct sockaddr_un sa;
	int fd, err;

	err = kho_unix_addr(path, &sa);
	if (err)
		return err;
	fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

int kho_unix_addr_at(int dirfd, const char *name, struct sockaddr_un *sa)
{
	char path[sizeof(sa->sun_path) + 1];
	int n = snprintf(path, sizeof(path), "/proc/thread-self/fd/%d/%s",
			 dirfd, name);

	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	return kho_unix_addr(path, sa);
}
