// SPDX-License-Identifier: LGPL-2.1-or-later
/* Adoption: both ends of the agent <-> VMM descriptor hand-over. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <linux/iommufd.h>

#include "adopt.h"
#include "fdpass.h"
#include "file.h"
#include "handoff.h"

void kho_adopt_set_init(struct kho_adopt_set *s)
{
	memset(s, 0, sizeof(*s));
	s->iommufd = -1;
	s->handoff_fd = -1;
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
		if (s->handoff_fd >= 0)
			close(s->handoff_fd);
	}
	kho_idmap_free(&s->idmap);
	free(s->dev);
	free(s->memfd);
	kho_adopt_set_init(s);
}

int kho_adopt_token_new(struct kho_adopt_token *t)
{
	size_t got = 0;
	ssize_t n;

	while (got < sizeof(t->b)) {
		n = getrandom(t->b + got, sizeof(t->b) - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		got += n;
	}
	return 0;
}

int kho_adopt_token_format(const struct kho_adopt_token *t, char *buf,
			   size_t len)
{
	size_t i;

	if (len < 2 * sizeof(t->b) + 2)
		return -ENOSPC;
	for (i = 0; i < sizeof(t->b); i++)
		snprintf(buf + 2 * i, 3, "%02x", t->b[i]);
	buf[2 * i] = '\n';
	buf[2 * i + 1] = '\0';
	return 2 * i + 1;
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int kho_adopt_token_read_fd(int fd, const char *what,
			    struct kho_adopt_token *t, struct kho_diag *diag)
{
	char buf[2 * KHO_ADOPT_TOKEN_LEN + 2];
	ssize_t n;
	size_t i;
	int err;

	do
		n = pread(fd, buf, sizeof(buf), 0);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		err = -errno;
		return kho_diag_set(diag, err, "adopt: token %s: read: %s",
				    what, kho_errno_name(err));
	}
	if (n > 0 && buf[n - 1] == '\n')
		n--;
	if (n != 2 * KHO_ADOPT_TOKEN_LEN)
		return kho_diag_set(diag, -EBADMSG,
				    "adopt: token %s: %zd bytes, not %d hex digits",
				    what, n, 2 * KHO_ADOPT_TOKEN_LEN);
	for (i = 0; i < KHO_ADOPT_TOKEN_LEN; i++) {
		int hi = hex_digit(buf[2 * i]), lo = hex_digit(buf[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return kho_diag_set(diag, -EBADMSG,
					    "adopt: token %s: not lowercase hex at byte %zu",
					    what, 2 * i);
		t->b[i] = hi << 4 | lo;
	}
	return 0;
}

int kho_adopt_token_read(const char *path, struct kho_adopt_token *t,
			 struct kho_diag *diag)
{
	int fd, err;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		err = -errno;
		return kho_diag_set(diag, err, "adopt: token %s: open: %s",
				    path, kho_errno_name(err));
	}
	err = kho_adopt_token_read_fd(fd, path, t, diag);
	close(fd);
	return err;
}

int kho_adopt_listen(const char *path, struct kho_diag *diag)
{
	return kho_adopt_listen_as(path, path, diag);
}

int kho_adopt_listen_as(const char *path, const char *shown,
			struct kho_diag *diag)
{
	struct sockaddr_un sa;
	char dir[sizeof(sa.sun_path)];
	char *slash;
	int fd, err;

	err = kho_unix_addr(path, &sa);
	if (err)
		return kho_diag_set(diag, err, "adopt: %s: path too long", shown);
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
	/*
	 * Born 0600: bind gives the socket file the mode of the socket's own
	 * inode, so no window where others may connect, no umask to change
	 * (process-wide) and no chmod by path afterwards.
	 */
	err = fchmod(fd, 0600) < 0 ? -errno : 0;
	if (!err && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		err = -errno;
	if (!err && listen(fd, 4) < 0)
		err = -errno;
	if (err) {
		close(fd);
		return kho_diag_set(diag, err, "adopt: %s: bind/listen: %s",
				    shown, kho_errno_name(err));
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
	size_t nr_fds = 1 + set->nr_dev + set->nr_memfd +
			(set->handoff_fd >= 0), len, i, k = 0;
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
	if (set->handoff_fd >= 0)
		h.flags |= KHO_ADOPT_HDR_HANDOFF;
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
	if (set->handoff_fd >= 0)
		fds[k++] = set->handoff_fd;
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

/* One peer of the agent, from its connect to its ack. */
struct adopt_peer {
	int fd;
	int offered;		/* the set was sent: waiting for the ack */
	uint64_t deadline_ms;	/* CLOCK_MONOTONIC */
	struct kho_adopt_peer_result r;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int ack_timeout_ms(const struct kho_adopt_auth *auth)
{
	return auth->ack_timeout_ms ? auth->ack_timeout_ms : auth->timeout_ms;
}

/* Refuses the peer by name, on the wire and in its diag. */
static int peer_refuse(struct adopt_peer *p, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int peer_refuse(struct adopt_peer *p, int err, const char *fmt, ...)
{
	char msg[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	kho_adopt_refuse(p->fd, err, msg);
	return kho_diag_set(&p->r.diag, err, "%s", msg);
}

/*
 * The peer's credentials.  Return: 0 to wait for its hello, or why it is
 * refused.
 */
static int peer_start(struct adopt_peer *p, int cfd,
		      const struct kho_adopt_auth *auth)
{
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	int err;

	memset(p, 0, sizeof(*p));
	p->fd = cfd;
	p->r.pid = -1;
	p->r.uid = (uid_t)-1;
	p->deadline_ms = now_ms() + auth->timeout_ms;
	if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0) {
		err = -errno;
		return kho_diag_set(&p->r.diag, err,
				    "adopt: peer credentials: %s",
				    kho_errno_name(err));
	}
	p->r.uid = cred.uid;
	p->r.pid = cred.pid;
	if (cred.uid != auth->uid)
		return peer_refuse(p, -EACCES,
				   "adopt: refused pid %d: uid %u is not the owner uid %u",
				   (int)cred.pid, (unsigned int)cred.uid,
				   (unsigned int)auth->uid);
	return 0;
}

/* Compares in constant time: how much of a guess was right stays unsaid. */
static int token_equal(const struct kho_adopt_token *a,
		       const struct kho_adopt_token *b)
{
	unsigned int diff = 0;
	size_t i;

	for (i = 0; i < sizeof(a->b); i++)
		diff |= a->b[i] ^ b->b[i];
	return diff == 0;
}

/*
 * The peer's next message, without blocking.  Return: its length; 0 when
 * there is none yet; or why the peer is done (a hang-up is -EPROTO).
 */
static ssize_t peer_recv(struct adopt_peer *p, void *buf, size_t len,
			 const char *what)
{
	ssize_t n = recv(p->fd, buf, len, MSG_DONTWAIT);
	int err;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n < 0) {
		err = -errno;
		return kho_diag_set(&p->r.diag, err, "adopt: pid %d: %s: %s",
				    (int)p->r.pid, what, kho_errno_name(err));
	}
	if (n == 0)
		return kho_diag_set(&p->r.diag, -EPROTO,
				    "adopt: pid %d: hung up without its %s",
				    (int)p->r.pid, what);
	return n;
}

static int peer_hello(struct adopt_peer *p, const struct kho_adopt_auth *auth,
		      const struct kho_adopt_set *set)
{
	struct kho_adopt_hello hi;
	ssize_t n;
	int err;

	n = peer_recv(p, &hi, sizeof(hi), "hello");
	if (n <= 0)
		return n ? n : 1;
	if (n != sizeof(hi) || memcmp(hi.magic, KHO_ADOPT_MAGIC, 8))
		return peer_refuse(p, -EPROTO,
				   "adopt: refused pid %d: malformed hello (%zd bytes)",
				   (int)p->r.pid, n);
	if (hi.version != KHO_ADOPT_VERSION)
		return peer_refuse(p, -EPROTONOSUPPORT,
				   "adopt: refused pid %d: it speaks protocol %u, the agent %u",
				   (int)p->r.pid, hi.version, KHO_ADOPT_VERSION);
	if (auth->token && !(hi.flags & KHO_ADOPT_HELLO_TOKEN))
		return peer_refuse(p, -EACCES,
				   "adopt: refused pid %d uid %u: no adoption token (its launcher holds %s)",
				   (int)p->r.pid, (unsigned int)p->r.uid,
				   KHO_ADOPT_TOKEN_FILE);
	if (auth->token && !token_equal(&hi.token, auth->token))
		return peer_refuse(p, -EACCES,
				   "adopt: refused pid %d uid %u: wrong adoption token (not the one in %s)",
				   (int)p->r.pid, (unsigned int)p->r.uid,
				   KHO_ADOPT_TOKEN_FILE);
	err = send_set(p->fd, set);
	if (err)
		return kho_diag_set(&p->r.diag, err,
				    "adopt: pid %d: sending %zu device(s), %zu memfd(s): %s",
				    (int)p->r.pid, set->nr_dev, set->nr_memfd,
				    kho_errno_name(err));
	p->offered = 1;
	p->deadline_ms = now_ms() + ack_timeout_ms(auth);
	return 1;
}

static int peer_ack(struct adopt_peer *p)
{
	struct kho_adopt_ack a;
	ssize_t n;
	int err;

	n = peer_recv(p, &a, sizeof(a), "acknowledgement");
	if (n <= 0)
		return n ? n : 1;
	if (n != sizeof(a) || memcmp(a.magic, KHO_ADOPT_MAGIC, 8) ||
	    a.version != KHO_ADOPT_VERSION)
		return kho_diag_set(&p->r.diag, -EPROTO,
				    "adopt: pid %d: malformed or missing acknowledgement (%zd bytes)",
				    (int)p->r.pid, n);
	a.msg[sizeof(a.msg) - 1] = '\0';
	if (a.status) {
		err = a.status < 0 ? a.status : -EPROTO;
		return kho_diag_set(&p->r.diag, err,
				    "adopt: pid %d: VMM reports failure: %s: %s; not adopted, the set stays served",
				    (int)p->r.pid, kho_errno_name(err), a.msg);
	}
	return 0;
}

/*
 * The peer's socket is readable (or hung up).  Return: 1 to wait on, 0
 * adopted, or why the peer is done.
 */
static int peer_input(struct adopt_peer *p, const struct kho_adopt_auth *auth,
		      const struct kho_adopt_set *set)
{
	return p->offered ? peer_ack(p) : peer_hello(p, auth, set);
}

static int peer_timed_out(struct adopt_peer *p, const struct kho_adopt_auth *auth)
{
	return kho_diag_set(&p->r.diag, -ETIMEDOUT,
			    "adopt: pid %d: no %s within %d ms%s",
			    (int)p->r.pid,
			    p->offered ? "acknowledgement" : "hello",
			    p->offered ? ack_timeout_ms(auth) : auth->timeout_ms,
			    p->offered ? "; not adopted, the set stays served" : "");
}

int kho_adopt_serve_one(int cfd, const struct kho_adopt_auth *auth,
			const struct kho_adopt_set *set, uid_t *peer_uid,
			pid_t *peer_pid, struct kho_diag *diag)
{
	struct adopt_peer p;
	struct pollfd pfd = { .fd = cfd, .events = POLLIN };
	uint64_t now;
	int err, n;

	err = peer_start(&p, cfd, auth);
	for (;;) {
		if (err)
			break;
		now = now_ms();
		if (now >= p.deadline_ms) {
			err = peer_timed_out(&p, auth);
			break;
		}
		/* A signal restarts the wait with the time that is left. */
		n = poll(&pfd, 1, (int)(p.deadline_ms - now));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = kho_diag_set(&p.r.diag, -errno, "adopt: pid %d: poll: %s",
					   (int)p.r.pid, kho_errno_name(errno));
			break;
		}
		if (n == 0)
			continue;
		err = peer_input(&p, auth, set);
		if (err <= 0)
			break;
		err = 0;
	}
	if (peer_uid)
		*peer_uid = p.r.uid;
	if (peer_pid)
		*peer_pid = p.r.pid;
	if (err && diag)
		*diag = p.r.diag;
	return err;
}

static void peer_done(struct adopt_peer *p, int err, kho_adopt_peer_fn *failed,
		      void *ctx)
{
	p->r.err = err;
	if (failed)
		failed(&p->r, ctx);
	close(p->fd);
	p->fd = -1;
}

int kho_adopt_serve(int lfd, const struct kho_adopt_auth *auth,
		    const struct kho_adopt_set *set, kho_adopt_peer_fn *failed,
		    void *ctx, struct kho_adopt_peer_result *won)
{
	struct adopt_peer peers[KHO_ADOPT_MAX_PEERS];
	struct pollfd pfd[KHO_ADOPT_MAX_PEERS + 1];
	int slot[KHO_ADOPT_MAX_PEERS + 1];
	size_t i, nr;
	uint64_t now, next;
	int err = 0, n, cfd, adopted = -1;

	for (i = 0; i < KHO_ADOPT_MAX_PEERS; i++)
		peers[i].fd = -1;
	while (adopted < 0) {
		/* Each peer against its own deadline; the listener never waits. */
		now = now_ms();
		next = now + auth->timeout_ms;
		pfd[0] = (struct pollfd){ .fd = lfd, .events = POLLIN };
		nr = 1;
		for (i = 0; i < KHO_ADOPT_MAX_PEERS; i++) {
			struct adopt_peer *p = &peers[i];

			if (p->fd < 0)
				continue;
			if (now >= p->deadline_ms) {
				peer_done(p, peer_timed_out(p, auth), failed, ctx);
				continue;
			}
			if (p->deadline_ms < next)
				next = p->deadline_ms;
			slot[nr] = i;
			pfd[nr++] = (struct pollfd){ .fd = p->fd, .events = POLLIN };
		}
		n = poll(pfd, nr, (int)(next - now));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = -errno;
			break;
		}
		for (i = 1; i < nr && adopted < 0; i++) {
			struct adopt_peer *p = &peers[slot[i]];

			if (!pfd[i].revents)
				continue;
			err = peer_input(p, auth, set);
			if (err == 0)
				adopted = slot[i];
			else if (err < 0)
				peer_done(p, err, failed, ctx);
		}
		err = 0;
		if (adopted >= 0 || !(pfd[0].revents & POLLIN))
			continue;
		cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (cfd < 0) {
			if (errno == EINTR || errno == EAGAIN ||
			    errno == ECONNABORTED)
				continue;
			err = -errno;
			break;
		}
		for (i = 0; i < KHO_ADOPT_MAX_PEERS && peers[i].fd >= 0; i++)
			;
		if (i == KHO_ADOPT_MAX_PEERS) {
			struct adopt_peer busy;

			err = peer_start(&busy, cfd, auth);
			if (!err)
				err = peer_refuse(&busy, -EBUSY,
						  "adopt: refused pid %d: %d peers wait already",
						  (int)busy.r.pid, KHO_ADOPT_MAX_PEERS);
			peer_done(&busy, err, failed, ctx);
			err = 0;
			continue;
		}
		err = peer_start(&peers[i], cfd, auth);
		if (err)
			peer_done(&peers[i], err, failed, ctx);
		err = 0;
	}
	/*
	 * The others hang up.  One that was offered the set keeps the fds
	 * it got: a passed fd cannot be taken back.
	 */
	for (i = 0; i < KHO_ADOPT_MAX_PEERS; i++) {
		if (peers[i].fd < 0)
			continue;
		if ((int)i == adopted) {
			if (won)
				*won = peers[i].r;
			close(peers[i].fd);
			continue;
		}
		peer_done(&peers[i], -ECANCELED, NULL, NULL);
	}
	return err;
}

int kho_adopt_hello(int fd, const struct kho_adopt_token *token)
{
	struct kho_adopt_hello hi;

	memset(&hi, 0, sizeof(hi));
	memcpy(hi.magic, KHO_ADOPT_MAGIC, sizeof(hi.magic));
	hi.version = KHO_ADOPT_VERSION;
	if (token) {
		hi.flags = KHO_ADOPT_HELLO_TOKEN;
		hi.token = *token;
	}
	if (send(fd, &hi, sizeof(hi), MSG_NOSIGNAL) < 0)
		return -errno;
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
	size_t cap = 1 << 20, nr_fds = 0, need, i, handoff;
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
	/*
	 * An agent that refused us and closed with our hello unread leaves
	 * ECONNRESET on our socket, reported once and before its queued
	 * answer: read again for the answer.
	 */
	if (n == -ECONNRESET)
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
	handoff = !!(h.flags & KHO_ADOPT_HDR_HANDOFF);
	if (h.nr_ids > cap || h.nr_devs > KHO_ADOPT_MAX_FDS ||
	    h.nr_memfds > KHO_ADOPT_MAX_FDS || need != (size_t)n ||
	    (h.flags & ~KHO_ADOPT_HDR_HANDOFF) ||
	    h.nr_fds != 1 + h.nr_devs + h.nr_memfds + handoff ||
	    h.nr_fds != nr_fds) {
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
	if (handoff)
		set->handoff_fd = fds[nr_fds - 1];
	free(buf);
	return 0;
fail:
	close_fds(fds, nr_fds);
	free(buf);
	kho_adopt_set_free(set, 0);
	return err;
}

int kho_adopt_request(int fd, const struct kho_adopt_token *token,
		      struct kho_adopt_set *set, struct kho_diag *diag)
{
	int hello_err, err;

	/*
	 * An agent that refuses without reading the hello may have hung up
	 * before it is sent: its answer is still read.
	 */
	hello_err = kho_adopt_hello(fd, token);
	err = kho_adopt_recv(fd, set, diag);
	if (err == -ECONNRESET && hello_err)
		err = kho_diag_set(diag, hello_err, "adopt: hello: %s",
				   kho_errno_name(hello_err));
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

int kho_adopt_connect(const char *path, const struct kho_adopt_token *token,
		      struct kho_adopt_set *set, struct kho_diag *diag)
{
	struct iommu_ioas_change_process cp = { .size = sizeof(cp) };
	char msg[128];
	int fd, err;

	kho_adopt_set_init(set);
	fd = kho_unix_connect(path, SOCK_SEQPACKET);
	if (fd == -ENAMETOOLONG)
		return kho_diag_set(diag, fd, "adopt: %s: path too long", path);
	if (fd < 0)
		return kho_diag_set(diag, fd, "adopt: connect %s: %s", path,
				    kho_errno_name(fd));
	err = kho_adopt_request(fd, token, set, diag);
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

int kho_adopt_poison(const struct kho_adopt_set *set, struct kho_poison **list,
		     size_t *nr, struct kho_diag *diag)
{
	struct kho_handoff h;
	size_t len = 0;
	void *blob = NULL;
	int err;

	*list = NULL;
	*nr = 0;
	if (set->handoff_fd < 0)
		return kho_diag_set(diag, -ENODATA, "adopt: poison: the agent sent no copy of the hand-off");
	err = lseek(set->handoff_fd, 0, SEEK_SET) < 0 ? -errno :
	      kho_read_fd_max(set->handoff_fd, KHO_HANDOFF_MAX, &blob, &len);
	if (err)
		return kho_diag_set(diag, err, "adopt: poison: reading the hand-off copy: %s",
				    strerror(-err));
	err = kho_handoff_decode(blob, len, &h, diag);
	free(blob);
	if (err)
		return kho_diag_set(diag, err, "adopt: poison: %s", diag->msg);
	*list = h.poison;
	*nr = h.nr_poison;
	h.poison = NULL;
	h.nr_poison = 0;
	kho_handoff_free(&h);
	return 0;
}
