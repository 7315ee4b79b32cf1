// SPDX-License-Identifier: LGPL-2.1-or-later
/* Adoption: both ends of the agent <-> VMM descriptor hand-over. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <linux/iommufd.h>

#include "adopt.h"
#include "fdpass.h"

/* An ack that never comes must not wedge the agent forever. */
#define ADOPT_ACK_TIMEOUT_MS 30000

void kho_adopt_set_init(struct kho_adopt_set *s)
{
	memset(s, 0, sizeof(*s));
	s->iommufd = -1;
	kho_idmap_init(&s->idmap);
}

void kho_adopt_set_free(struct kho_adopt_set *s, int close_fds)
{
	size_t i;

	if (close_fds) {
		if (s->iommufd >= 0)
			close(s->iommufd);
		for (i = 0; i < s->nr_dev; i++)
			if (s->dev[i].fd >= 0)
				close(s->dev[i].fd);
		for (i = 0; i < s->nr_memfd; i++)
			if (s->memfd[i].fd >= 0)
				close(s->memfd[i].fd);
	}
	kho_idmap_free(&s->idmap);
	free(s->dev);
	free(s->memfd);
	kho_adopt_set_init(s);
}

int kho_adopt_listen(const char *path, struct kho_diag *diag)
{
	struct sockaddr_un sa;
	char dir[sizeof(sa.sun_path)];
	char *slash;
	mode_t old;
	int fd, err;

	err = kho_unix_addr(path, &sa);
	if (err)
		return kho_diag_set(diag, err, "adopt: %s: path too long", path);
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
			err = -errno;
			return kho_diag_set(diag, err, "adopt: mkdir %s: %s",
					    dir, kho_errno_name(err));
		}
	}
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err = -errno;
		return kho_diag_set(diag, err, "adopt: socket: %s",
				    kho_errno_name(err));
	}
	unlink(path);
	/* Created 0600 from the start: no window where others may connect. */
	old = umask(0177);
	err = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? -errno : 0;
	umask(old);
	if (!err && chmod(path, 0600) < 0)
		err = -errno;
	if (!err && listen(fd, 4) < 0)
		err = -errno;
	if (err) {
		close(fd);
		return kho_diag_set(diag, err, "adopt: %s: bind/listen: %s",
				    path, kho_errno_name(err));
	}
	return fd;
}

static void hdr_init(struct kho_adopt_hdr *h, int status)
{
	memset(h, 0, sizeof(*h));
	memcpy(h->magic, KHO_ADOPT_MAGIC, sizeof(h->magic));
	h->version = KHO_ADOPT_VERSION;
	h->status = status;
}

int kho_adopt_refuse(int cfd, int status, const char *msg)
{
	struct kho_adopt_hdr h;

	hdr_init(&h, status < 0 ? status : -EIO);
	snprintf(h.msg, sizeof(h.msg), "%s", msg);
	if (send(cfd, &h, sizeof(h), MSG_NOSIGNAL) < 0)
		return -errno;
	return 0;
}

static int send_set(int cfd, const struct kho_adopt_set *set)
{
	size_t nr_fds = 1 + set->nr_dev + set->nr_memfd, len, i, k = 0;
	int fds[KHO_ADOPT_MAX_FDS];
	struct kho_adopt_hdr h;
	char *buf, *p;
	ssize_t n;

	if (nr_fds > KHO_ADOPT_MAX_FDS)
		return -E2BIG;
	hdr_init(&h, 0);
	h.nr_ids = set->idmap.nr;
	h.nr_devs = set->nr_dev;
	h.nr_memfds = set->nr_memfd;
	h.nr_fds = nr_fds;
	len = sizeof(h) + h.nr_ids * sizeof(struct kho_idmap_ent) +
	      h.nr_devs * sizeof(struct kho_adopt_dev) +
	      h.nr_memfds * sizeof(struct kho_adopt_memfd);
	buf = calloc(1, len);
	if (!buf)
		return -ENOMEM;
	p = buf;
	memcpy(p, &h, sizeof(h));
	p += sizeof(h);
	memcpy(p, set->idmap.ent, h.nr_ids * sizeof(struct kho_idmap_ent));
	p += h.nr_ids * sizeof(struct kho_idmap_ent);
	for (i = 0; i < set->nr_dev; i++) {
		struct kho_adopt_dev d = set->dev[i];

		d.fd = -1;
		memcpy(p, &d, sizeof(d));
		p += sizeof(d);
	}
	for (i = 0; i < set->nr_memfd; i++) {
		struct kho_adopt_memfd m = set->memfd[i];

		m.fd = -1;
		memcpy(p, &m, sizeof(m));
		p += sizeof(m);
	}

	fds[k++] = set->iommufd;
	/* The device fds travel in the same order as their table entries. */
	for (i = 0; i < set->nr_dev; i++)
		fds[k++] = set->dev[i].fd;
	for (i = 0; i < set->nr_memfd; i++)
		fds[k++] = set->memfd[i].fd;
	n = kho_fd_send(cfd, buf, len, fds, nr_fds);
	free(buf);
	return n < 0 ? n : 0;
}

static int ack_init(struct kho_adopt_ack *a, int status, const char *msg)
{
	memset(a, 0, sizeof(*a));
	memcpy(a->magic, KHO_ADOPT_MAGIC, sizeof(a->magic));
	a->version = KHO_ADOPT_VERSION;
	a->status = status;
	snprintf(a->msg, sizeof(a->msg), "%s", msg ? msg : "");
	return 0;
}

int kho_adopt_ack(int fd, int status, const char *msg)
{
	struct kho_adopt_ack a;

	ack_init(&a, status, msg);
	if (send(fd, &a, sizeof(a), MSG_NOSIGNAL) < 0)
		return -errno;
	return 0;
}

int kho_adopt_serve_one(int cfd, uid_t uid, const struct kho_adopt_set *set,
			uid_t *peer_uid, pid_t *peer_pid,
			struct kho_diag *diag)
{
	struct pollfd pfd = { .fd = cfd, .events = POLLIN };
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	struct kho_adopt_ack a;
	char msg[160];
	ssize_t n;
	int err;

	if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0) {
		err = -errno;
		return kho_diag_set(diag, err, "adopt: peer credentials: %s",
				    kho_errno_name(err));
	}
	if (peer_uid)
		*peer_uid = cred.uid;
	if (peer_pid)
		*peer_pid = cred.pid;
	if (cred.uid != uid) {
		snprintf(msg, sizeof(msg),
			 "adopt: refused pid %d: uid %u is not the owner uid %u",
			 (int)cred.pid, (unsigned int)cred.uid,
			 (unsigned int)uid);
		kho_adopt_refuse(cfd, -EACCES, msg);
		return kho_diag_set(diag, -EACCES, "%s", msg);
	}
	err = send_set(cfd, set);
	if (err)
		return kho_diag_set(diag, err,
				    "adopt: pid %d: sending %zu device(s), %zu memfd(s): %s",
				    (int)cred.pid, set->nr_dev, set->nr_memfd,
				    kho_errno_name(err));

	n = poll(&pfd, 1, ADOPT_ACK_TIMEOUT_MS);
	if (n == 0)
		return kho_diag_set(diag, -EPROTO,
				    "adopt: pid %d: no acknowledgement within %d s",
				    (int)cred.pid, ADOPT_ACK_TIMEOUT_MS / 1000);
	n = recv(cfd, &a, sizeof(a), 0);
	if (n < 0) {
		err = -errno;
		return kho_diag_set(diag, err, "adopt: pid %d: ack: %s",
				    (int)cred.pid, kho_errno_name(err));
	}
	if (n == 0)
		return kho_diag_set(diag, -EPROTO,
				    "adopt: pid %d: hung up without acknowledging",
				    (int)cred.pid);
	if (n != sizeof(a) || memcmp(a.magic, KHO_ADOPT_MAGIC, 8) ||
	    a.version != KHO_ADOPT_VERSION)
		return kho_diag_set(diag, -EPROTO,
				    "adopt: pid %d: malformed or missing acknowledgement (%zd bytes)",
				    (int)cred.pid, n);
	a.msg[sizeof(a.msg) - 1] = '\0';
	if (a.status) {
		err = a.status < 0 ? a.status : -EPROTO;
		return kho_diag_set(diag, err,
				    "adopt: pid %d: VMM reports failure: %s: %s",
				    (int)cred.pid, kho_errno_name(err), a.msg);
	}
	return 0;
}

/* Every fd received so far, so that a malformed message leaks none. */
static void close_fds(const int *fds, size_t nr)
{
	size_t i;

	for (i = 0; i < nr; i++)
		close(fds[i]);
}

int kho_adopt_recv(int fd, struct kho_adopt_set *set, struct kho_diag *diag)
{
	size_t cap = 1 << 20, nr_fds = 0, need, i;
	struct kho_adopt_hdr h;
	int fds[KHO_ADOPT_MAX_FDS];
	int err, msg_flags = 0;
	char *buf, *p;
	ssize_t n;

	kho_adopt_set_init(set);
	buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	n = kho_fd_recv(fd, buf, cap, 0, fds, &nr_fds, &msg_flags);
	if (n < 0) {
		free(buf);
		return kho_diag_set(diag, n, "adopt: receive: %s",
				    kho_errno_name(n));
	}
	err = -EBADMSG;
	if (n == 0) {
		err = kho_diag_set(diag, -ECONNRESET,
				   "adopt: the agent closed the connection without an answer");
		goto fail;
	}
	if ((size_t)n < sizeof(h) || (msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
		kho_diag_set(diag, err, "adopt: short or truncated message (%zd bytes)", n);
		goto fail;
	}
	memcpy(&h, buf, sizeof(h));
	h.msg[sizeof(h.msg) - 1] = '\0';
	if (memcmp(h.magic, KHO_ADOPT_MAGIC, sizeof(h.magic))) {
		kho_diag_set(diag, err, "adopt: not a kho-tool agent (bad magic)");
		goto fail;
	}
	if (h.version != KHO_ADOPT_VERSION) {
		err = kho_diag_set(diag, -EPROTONOSUPPORT,
				   "adopt: agent speaks protocol %u, we speak %u",
				   h.version, KHO_ADOPT_VERSION);
		goto fail;
	}
	if (h.status) {
		err = kho_diag_set(diag, h.status < 0 ? h.status : -EPROTO,
				   "adopt: the agent refused: %s", h.msg);
		goto fail;
	}
	need = sizeof(h) + (size_t)h.nr_ids * sizeof(struct kho_idmap_ent) +
	       (size_t)h.nr_devs * sizeof(struct kho_adopt_dev) +
	       (size_t)h.nr_memfds * sizeof(struct kho_adopt_memfd);
	if (h.nr_ids > cap || h.nr_devs > KHO_ADOPT_MAX_FDS ||
	    h.nr_memfds > KHO_ADOPT_MAX_FDS || need != (size_t)n ||
	    h.nr_fds != 1 + h.nr_devs + h.nr_memfds || h.nr_fds != nr_fds) {
		kho_diag_set(diag, err,
			     "adopt: message of %zd bytes and %zu fds does not match its header (%u ids, %u devices, %u memfds)",
			     n, nr_fds, h.nr_ids, h.nr_devs, h.nr_memfds);
		goto fail;
	}

	err = -ENOMEM;
	p = buf + sizeof(h);
	set->idmap.ent = calloc(h.nr_ids + 1, sizeof(*set->idmap.ent));
	set->dev = calloc(h.nr_devs + 1, sizeof(*set->dev));
	set->memfd = calloc(h.nr_memfds + 1, sizeof(*set->memfd));
	if (!set->idmap.ent || !set->dev || !set->memfd)
		goto fail;
	memcpy(set->idmap.ent, p, h.nr_ids * sizeof(*set->idmap.ent));
	set->idmap.nr = set->idmap.cap = h.nr_ids;
	p += h.nr_ids * sizeof(*set->idmap.ent);
	memcpy(set->dev, p, h.nr_devs * sizeof(*set->dev));
	p += h.nr_devs * sizeof(*set->dev);
	memcpy(set->memfd, p, h.nr_memfds * sizeof(*set->memfd));
	set->nr_dev = h.nr_devs;
	set->nr_memfd = h.nr_memfds;
	set->iommufd = fds[0];
	for (i = 0; i < set->nr_dev; i++) {
		set->dev[i].fd = fds[1 + i];
		set->dev[i].cdev[sizeof(set->dev[i].cdev) - 1] = '\0';
	}
	for (i = 0; i < set->nr_memfd; i++)
		set->memfd[i].fd = fds[1 + set->nr_dev + i];
	free(buf);
	return 0;
fail:
	close_fds(fds, nr_fds);
	free(buf);
	kho_adopt_set_free(set, 0);
	return err;
}

/* Who kho_adopt_connect() tells: set once, by a recorder's constructor. */
static kho_adopt_notify_fn *adopt_notify;
static void *adopt_notify_ctx;

kho_adopt_notify_fn *kho_adopt_set_notify(kho_adopt_notify_fn *fn, void *ctx)
{
	kho_adopt_notify_fn *old = adopt_notify;

	adopt_notify = fn;
	adopt_notify_ctx = ctx;
	return old;
}

int kho_adopt_connect(const char *path, struct kho_adopt_set *set,
		      struct kho_diag *diag)
{
	struct iommu_ioas_change_process cp = { .size = sizeof(cp) };
	struct sockaddr_un sa;
	char msg[128];
	int fd, err;

	kho_adopt_set_init(set);
	err = kho_unix_addr(path, &sa);
	if (err)
		return kho_diag_set(diag, err, "adopt: %s: path too long", path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return kho_diag_set(diag, -errno, "adopt: socket: %s",
				    kho_errno_name(errno));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = -errno;
		close(fd);
		return kho_diag_set(diag, err, "adopt: connect %s: %s", path,
				    kho_errno_name(err));
	}
	err = kho_adopt_recv(fd, set, diag);
	if (err) {
		close(fd);
		return err;
	}
	/*
	 * Move the pinned-page accounting of every MAP_FILE area from the
	 * agent to us: from now on the pages count against this process.
	 */
	if (ioctl(set->iommufd, IOMMU_IOAS_CHANGE_PROCESS, &cp) < 0) {
		err = -errno;
		snprintf(msg, sizeof(msg), "IOMMU_IOAS_CHANGE_PROCESS: %s",
			 kho_errno_name(err));
		kho_adopt_ack(fd, err, msg);
		close(fd);
		kho_adopt_set_free(set, 1);
		return kho_diag_set(diag, err, "adopt: %s", msg);
	}
	err = kho_adopt_ack(fd, 0, "adopted");
	close(fd);
	if (err) {
		kho_adopt_set_free(set, 1);
		return kho_diag_set(diag, err, "adopt: acknowledge: %s",
				    kho_errno_name(err));
	}
	/* A recorder registered: the next capture must see these. */
	if (adopt_notify)
		adopt_notify(set, adopt_notify_ctx);
	return 0;
}
