// SPDX-License-Identifier: LGPL-2.1-or-later
/* The journal socket: a recording VMM serves its snapshot, capture fetches it. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "handoff.h"
#include "journal.h"
#include "journal_sock.h"
#include "proc.h"
#include "state.h"

/* A client that stalls must not stall the VMM's server for long. */
#define KHO_JSOCK_TIMEOUT_SEC 5

struct kho_jsock_server {
	int lfd;
	pthread_t thread;
	pid_t pid;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	kho_jsock_snapshot_fn fn;
	void *ctx;
	int vmm_pidfd;		/* in the thread's own table; -1: shared table */
	int pidfd_err;		/* own table but no pidfd: pidfd_open's -errno */
};

int kho_journal_sock_path(pid_t pid, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/vmm-%d.sock", kho_rundir_path(),
			 (int)pid);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static int kho_jsock_send_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EPIPE;
		p += n;
		len -= n;
	}
	return 0;
}

static int kho_jsock_recv_all(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len) {
		ssize_t n = recv(fd, p, len, MSG_WAITALL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EBADMSG;	/* short reply */
		p += n;
		len -= n;
	}
	return 0;
}

static int kho_jsock_reply(int fd, int status, const char *msg,
			   const void *blob, size_t blob_len, const int *fds,
			   size_t nr_fds)
{
	struct kho_jsock_reply rep = {
		.magic = "KHOR",
		.version = KHO_JSOCK_VERSION,
		.status = status,
		.nr_fds = nr_fds,
		.blob_len = blob_len,
		.msg_len = msg ? strlen(msg) : 0,
	};
	ssize_t n;
	int ret;

	if (nr_fds > KHO_JSOCK_MAX_FDS)
		return -E2BIG;
	if (rep.msg_len > KHO_JSOCK_MAX_MSG)
		rep.msg_len = KHO_JSOCK_MAX_MSG;
	n = kho_fd_send(fd, &rep, sizeof(rep), fds, nr_fds);
	if (n != (ssize_t)sizeof(rep))
		return n < 0 ? n : -EPIPE;
	ret = kho_jsock_send_all(fd, msg, rep.msg_len);
	if (!ret)
		ret = kho_jsock_send_all(fd, blob, blob_len);
	return ret;
}

/*
 * The server thread's own descriptors (the accepted socket, the fds it
 * got with pidfd_getfd()) live in a table of its own, but a close() here
 * would go through the LD_PRELOAD recorder's wrapper, which edits the
 * VMM's table under the same fd number: the raw system call instead.
 */
static void kho_jsock_close_own(int fd)
{
	syscall(SYS_close, fd);
}

static void kho_jsock_serve_one(struct kho_jsock_server *srv, int fd)
{
	struct timeval tv = { .tv_sec = KHO_JSOCK_TIMEOUT_SEC };
	struct kho_diag diag = { "" };
	struct kho_jsock_req req;
	struct ucred cred;
	socklen_t cl = sizeof(cred);
	void *blob = NULL;
	size_t len = 0, nr_fds = 0, i;
	int *fds = NULL;
	int status;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0) {
		kho_jsock_reply(fd, -EACCES, "no peer credentials", NULL, 0,
				NULL, 0);
		return;
	}
	if (cred.uid != 0 && cred.uid != geteuid()) {
		snprintf(diag.msg, sizeof(diag.msg),
			 "peer pid %d uid %u is neither root nor the VMM's uid %u",
			 (int)cred.pid, cred.uid, geteuid());
		kho_jsock_reply(fd, -EACCES, diag.msg, NULL, 0, NULL, 0);
		return;
	}
	if (kho_jsock_recv_all(fd, &req, sizeof(req)) ||
	    memcmp(req.magic, "KHOQ", 4)) {
		kho_jsock_reply(fd, -EBADMSG, "malformed request", NULL, 0,
				NULL, 0);
		return;
	}
	if (req.version != KHO_JSOCK_VERSION ||
	    req.cmd != KHO_JSOCK_CMD_SNAPSHOT) {
		snprintf(diag.msg, sizeof(diag.msg),
			 "request version %u cmd %u: this recorder speaks version %u, cmd %u",
			 req.version, req.cmd, KHO_JSOCK_VERSION,
			 KHO_JSOCK_CMD_SNAPSHOT);
		kho_jsock_reply(fd, -EPROTONOSUPPORT, diag.msg, NULL, 0, NULL,
				0);
		return;
	}
	if (srv->pidfd_err) {
		snprintf(diag.msg, sizeof(diag.msg),
			 "the server's pidfd_open of its own process failed: %s",
			 strerror(-srv->pidfd_err));
		kho_jsock_reply(fd, srv->pidfd_err, diag.msg, NULL, 0, NULL, 0);
		return;
	}
	status = srv->fn(srv->ctx, srv->vmm_pidfd, &blob, &len, &fds, &nr_fds,
			 &diag);
	if (status && status != -EOPNOTSUPP) {
		free(blob);
		blob = NULL;
		len = 0;
	}
	kho_jsock_reply(fd, status, status ? diag.msg : NULL, blob, len, fds,
			status ? 0 : nr_fds);
	for (i = 0; i < nr_fds; i++)
		kho_jsock_close_own(fds[i]);
	free(fds);
	free(blob);
}

/*
 * Gives the server thread an fd table of its own holding only the
 * listening socket.  A table shared by two threads makes every fdget() in
 * the VMM's ioctls take and drop a file reference (a table with one user
 * borrows it): about 50 guest instructions per ioctl, 1.3% of a MAP on an
 * IOAS without devices, paid for a thread that sleeps in accept().  The
 * copy unshare(2) makes holds every file the VMM had open; all but the
 * socket are closed at once, or a file the VMM closes (an iommufd, a
 * pipe a parent waits on) would stay open here.  Where unshare is refused
 * (seccomp), the thread shares the table and nothing else changes.
 */
static void kho_jsock_own_fd_table(struct kho_jsock_server *srv)
{
	srv->vmm_pidfd = -1;
	if (unshare(CLONE_FILES) < 0)
		return;
	if (srv->lfd > 0)
		syscall(SYS_close_range, 0U, srv->lfd - 1U, 0U);
	syscall(SYS_close_range, srv->lfd + 1U, ~0U, 0U);
	/* getpid() is the VMM's: pidfd_getfd() reads the leader's table */
	srv->vmm_pidfd = syscall(SYS_pidfd_open, getpid(), 0);
	if (srv->vmm_pidfd < 0)
		srv->pidfd_err = -errno;
}

static void *kho_jsock_thread(void *arg)
{
	struct kho_jsock_server *srv = arg;
	sigset_t all;

	/* the VMM's signals are for the VMM's threads */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	kho_jsock_own_fd_table(srv);
	for (;;) {
		int fd = accept4(srv->lfd, NULL, NULL, SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED ||
			    errno == EMFILE || errno == ENFILE)
				continue;
			break;	/* shut down by kho_journal_sock_stop() */
		}
		kho_jsock_serve_one(srv, fd);
		kho_jsock_close_own(fd);
	}
	return NULL;
}

int kho_journal_sock_serve(kho_jsock_snapshot_fn fn, void *ctx,
			   struct kho_jsock_server **out,
			   struct kho_diag *diag)
{
	struct sockaddr_un sa;
	const char *dir = kho_rundir_path();
	struct kho_jsock_server *srv;
	char name[32], tmp[40];
	int ret, dirfd;

	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return -ENOMEM;
	srv->fn = fn;
	srv->ctx = ctx;
	srv->pid = getpid();
	snprintf(name, sizeof(name), "vmm-%d.sock", (int)srv->pid);
	snprintf(tmp, sizeof(tmp), ".vmm-%d.sock.tmp", (int)srv->pid);
	ret = kho_journal_sock_path(srv->pid, srv->path, sizeof(srv->path));
	if (ret) {
		free(srv);
		return kho_diag_set(diag, -ENAMETOOLONG,
				    "journal socket: %s: path too long", dir);
	}
	/* $KHO_RUN_DIR too: a directory others may write is not used */
	dirfd = kho_rundir_open(dir, diag);
	if (dirfd < 0) {
		free(srv);
		return kho_diag_set(diag, dirfd, "journal socket: %s",
				    diag ? diag->msg : "");
	}
	ret = kho_unix_addr_at(dirfd, tmp, &sa);
	if (ret) {
		kho_diag_set(diag, ret, "journal socket: %s/%s: path too long",
			     dir, tmp);
		goto out_dir;
	}
	srv->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (srv->lfd < 0) {
		ret = kho_diag_set(diag, -errno, "journal socket: socket: %s",
				   strerror(errno));
		goto out_dir;
	}
	/*
	 * bind(2) gives the file the socket inode's mode less the umask:
	 * 0600 from birth, with no chmod by path in the directory and no
	 * umask change under the VMM's other threads.
	 */
	if (fchmod(srv->lfd, 0600) < 0) {
		ret = kho_diag_set(diag, -errno, "journal socket: fchmod 0600: %s",
				   strerror(errno));
		goto out_close;
	}
	unlinkat(dirfd, tmp, 0);
	if (bind(srv->lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ret = kho_diag_set(diag, -errno, "journal socket: bind %s/%s: %s",
				   dir, tmp, strerror(errno));
		goto out_close;
	}
	/* listening before the name clients look for exists; it replaces
	 * at once a stale socket of a dead process that had this pid */
	if (listen(srv->lfd, 4) < 0 ||
	    renameat(dirfd, tmp, dirfd, name) < 0) {
		ret = kho_diag_set(diag, -errno,
				   "journal socket: listen/rename %s/%s to %s: %s",
				   dir, tmp, name, strerror(errno));
		unlinkat(dirfd, tmp, 0);
		goto out_close;
	}
	ret = -pthread_create(&srv->thread, NULL, kho_jsock_thread, srv);
	if (ret) {
		kho_diag_set(diag, ret, "journal socket: thread for %s: %s",
			     srv->path, strerror(-ret));
		unlinkat(dirfd, name, 0);
		goto out_close;
	}
	close(dirfd);
	*out = srv;
	return 0;
out_close:
	close(srv->lfd);
out_dir:
	close(dirfd);
	free(srv);
	return ret;
}

void kho_journal_sock_stop(struct kho_jsock_server *srv)
{
	if (!srv)
		return;
	/* wakes accept() in the server thread with EINVAL */
	shutdown(srv->lfd, SHUT_RDWR);
	pthread_join(srv->thread, NULL);
	if (srv->pid == getpid())
		unlink(srv->path);
	close(srv->lfd);
	free(srv);
}

int kho_journal_sock_fd(const struct kho_jsock_server *srv)
{
	return srv->lfd;
}

void kho_journal_sock_abandon(struct kho_jsock_server *srv)
{
	if (!srv)
		return;
	close(srv->lfd);
	free(srv);
}

/* --- client ------------------------------------------------------------- */

static void kho_jsock_close_fds(const int *fds, size_t nr)
{
	while (nr--)
		close(fds[nr]);
}

static int kho_jsock_no_socket(const char *path, pid_t pid,
			       struct kho_diag *diag)
{
	return kho_diag_set(diag, -ENOENT,
			    "%s: no recorder socket: is pid %d running under the recorder (LD_PRELOAD=libkho-record.so) and has it used an iommufd?",
			    path, (int)pid);
}

/*
 * The socket of @pid, connected, once its server is known to be @pid
 * running as its own uid: a name in the run directory is only a name,
 * and root hands what it reads there to the VMM it asked for.
 */
static int kho_jsock_connect(pid_t pid, const char *path,
			     struct kho_diag *diag)
{
	struct timeval tv = { .tv_sec = 30 };
	const char *dir = kho_rundir_path();
	struct sockaddr_un sa;
	struct ucred cred;
	socklen_t cl = sizeof(cred);
	char name[32];
	int fd, dirfd, ret;
	uid_t uid;

	ret = kho_proc_euid(pid, &uid);
	if (ret)
		return kho_diag_set(diag, ret == -ESRCH ? -ENOENT : ret,
				    "%s: VMM %d: /proc/%d/status: %s", path,
				    (int)pid, (int)pid,
				    ret == -ESRCH ? "no such process" : strerror(-ret));
	/* the VMM's own $KHO_RUN_DIR may be its uid's */
	dirfd = kho_rundir_open_peer(dir, uid, diag);
	if (dirfd == -ENOENT)
		return kho_jsock_no_socket(path, pid, diag);
	if (dirfd < 0)
		return kho_diag_set(diag, dirfd, "%s: %s", path,
				    diag ? diag->msg : "");
	snprintf(name, sizeof(name), "vmm-%d.sock", (int)pid);
	ret = kho_unix_addr_at(dirfd, name, &sa);
	if (ret) {
		close(dirfd);
		return kho_diag_set(diag, ret, "%s: path too long", path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		ret = kho_diag_set(diag, -errno, "%s: socket: %s", path,
				   strerror(errno));
		goto out_dir;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ret = errno == ENOENT ? kho_jsock_no_socket(path, pid, diag) :
			kho_diag_set(diag, -errno, "%s: connect: %s", path,
				     strerror(errno));
		goto out_close;
	}
	/* a listener's credentials are those of the process that listened */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0) {
		ret = kho_diag_set(diag, -errno, "%s: SO_PEERCRED: %s", path,
				   strerror(errno));
		goto out_close;
	}
	if (cred.pid != pid || cred.uid != uid) {
		ret = kho_diag_set(diag, -EACCES,
				   "%s: served by pid %d uid %u, not by VMM %d (uid %u): refusing it",
				   path, (int)cred.pid, (unsigned int)cred.uid,
				   (int)pid, (unsigned int)uid);
		goto out_close;
	}
	close(dirfd);
	return fd;
out_close:
	close(fd);
out_dir:
	close(dirfd);
	return ret;
}

int kho_journal_sock_fetch(pid_t pid, struct kho_journal_snapshot *snap,
			   struct kho_diag *diag)
{
	struct kho_jsock_req req = {
		.magic = "KHOQ",
		.version = KHO_JSOCK_VERSION,
		.cmd = KHO_JSOCK_CMD_SNAPSHOT,
	};
	struct kho_jsock_reply rep;
	char msg[KHO_JSOCK_MAX_MSG + 1] = "";
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int fds[KHO_JSOCK_MAX_FDS];
	size_t nr = 0;
	void *blob = NULL;
	int fd, ret, msg_flags = 0;
	ssize_t n;

	kho_journal_snapshot_init(snap);
	if (kho_journal_sock_path(pid, path, sizeof(path)))
		return kho_diag_set(diag, -ENAMETOOLONG,
				    "journal socket of pid %d: path too long",
				    (int)pid);
	fd = kho_jsock_connect(pid, path, diag);
	if (fd < 0)
		return fd;
	/*
	 * A server that refuses the peer answers before reading the
	 * request: the send may fail, and the refusal is still there to read.
	 */
	ret = kho_jsock_send_all(fd, &req, sizeof(req));
	n = kho_fd_recv(fd, &rep, sizeof(rep), MSG_WAITALL, fds, &nr,
			&msg_flags);
	if (ret && n <= 0) {
		kho_diag_set(diag, ret, "%s: sending the request: %s", path,
			     strerror(-ret));
		goto out_fds;
	}
	if (n < 0) {
		ret = kho_diag_set(diag, n, "%s: receiving the reply: %s",
				   path, strerror(-n));
		goto out_close;
	}
	if (n != sizeof(rep) || memcmp(rep.magic, "KHOR", 4) ||
	    (msg_flags & MSG_CTRUNC)) {
		ret = kho_diag_set(diag, -EBADMSG,
				   "%s: malformed reply header (%zd bytes)",
				   path, n);
		goto out_fds;
	}
	if (rep.version != KHO_JSOCK_VERSION) {
		ret = kho_diag_set(diag, -EPROTONOSUPPORT,
				   "%s: reply version %u, this kho-tool reads %u",
				   path, rep.version, KHO_JSOCK_VERSION);
		goto out_fds;
	}
	if (rep.msg_len > KHO_JSOCK_MAX_MSG || rep.blob_len > KHO_HANDOFF_MAX ||
	    rep.nr_fds != nr || rep.status > 0) {
		ret = kho_diag_set(diag, -EBADMSG,
				   "%s: malformed reply (msg %u bytes, blob %llu bytes, %u fds announced, %zu received)",
				   path, rep.msg_len,
				   (unsigned long long)rep.blob_len,
				   rep.nr_fds, nr);
		goto out_fds;
	}
	ret = kho_jsock_recv_all(fd, msg, rep.msg_len);
	if (ret) {
		kho_diag_set(diag, ret, "%s: short reply message", path);
		goto out_fds;
	}
	msg[rep.msg_len] = 0;
	if (rep.status && (rep.status != -EOPNOTSUPP || !rep.blob_len)) {
		ret = kho_diag_set(diag, rep.status, "%s: recorder refused: %s",
				   path, msg[0] ? msg : strerror(-rep.status));
		goto out_fds;
	}
	blob = malloc(rep.blob_len ? rep.blob_len : 1);
	if (!blob) {
		ret = kho_diag_set(diag, -ENOMEM, "%s: reply of %llu bytes",
				   path, (unsigned long long)rep.blob_len);
		goto out_fds;
	}
	ret = kho_jsock_recv_all(fd, blob, rep.blob_len);
	if (ret) {
		kho_diag_set(diag, ret, "%s: short hand-off (%llu bytes announced)",
			     path, (unsigned long long)rep.blob_len);
		goto out_fds;
	}
	ret = kho_journal_snapshot_decode(blob, rep.blob_len, snap, diag);
	if (ret) {
		char why[sizeof(diag->msg)];

		snprintf(why, sizeof(why), "%s", diag ? diag->msg : "");
		kho_diag_set(diag, ret, "%s: the snapshot does not decode: %s",
			     path, why);
		goto out_fds;
	}
	/* the peer checked above: capture proves its claims against it */
	snap->pid = pid;
	if (snap->state.nr_memfd != nr && !rep.status) {
		ret = kho_diag_set(diag, -EBADMSG,
				   "%s: %zu memfds in the snapshot, %zu fds received",
				   path, snap->state.nr_memfd, nr);
		goto out_fds;
	}
	if (rep.status) {
		ret = kho_diag_set(diag, rep.status,
				   "%s: the journal cannot cross kexec: %s", path,
				   msg);
		goto out_fds;
	}
	snap->memfd_fds = malloc((nr ? nr : 1) * sizeof(int));
	if (!snap->memfd_fds) {
		ret = -ENOMEM;
		goto out_fds;
	}
	memcpy(snap->memfd_fds, fds, nr * sizeof(int));
	snap->nr_fds = nr;
	free(blob);
	close(fd);
	return 0;
out_fds:
	kho_jsock_close_fds(fds, nr);
	if (ret != -EOPNOTSUPP)
		kho_journal_snapshot_free(snap);
out_close:
	free(blob);
	close(fd);
	return ret;
}

/* --- the snapshot --------------------------------------------------------- */

void kho_journal_snapshot_init(struct kho_journal_snapshot *snap)
{
	memset(snap, 0, sizeof(*snap));
	kho_state_init(&snap->state);
	kho_journal_init(&snap->journal);
}

int kho_journal_snapshot_encode(const struct kho_journal_snapshot *snap,
				void **blob, size_t *len)
{
	struct kho_handoff h;

	/* a view: the hand-off borrows the snapshot's tables, never frees */
	kho_handoff_init(&h);
	kho_handoff_header(&h, snap->iommufd.present ?
			   KHO_FORMAT_VERSION_IOMMUFD : KHO_FORMAT_VERSION);
	memcpy(h.journal_source, snap->journal_source,
	       sizeof(h.journal_source));
	h.state = snap->state;
	if (kho_state_has_mdev(&h.state))
		kho_handoff_require(&h, KHO_FORMAT_VERSION_MDEV);
	h.replay = snap->journal;
	h.journal_length = snap->journal_length;
	h.iommufd = snap->iommufd;
	return kho_handoff_encode(&h, blob, len);
}

int kho_journal_snapshot_decode(const void *blob, size_t len,
				struct kho_journal_snapshot *snap,
				struct kho_diag *diag)
{
	struct kho_handoff h;
	int ret;

	kho_journal_snapshot_init(snap);
	ret = kho_handoff_decode(blob, len, &h, diag);
	if (ret)
		return ret;
	/* the tables move to the snapshot; the header is not its business */
	snap->state = h.state;
	snap->journal = h.replay;
	snap->journal_length = h.journal_length;
	memcpy(snap->journal_source, h.journal_source,
	       sizeof(snap->journal_source));
	snap->iommufd = h.iommufd;
	return 0;
}

void kho_journal_snapshot_free(struct kho_journal_snapshot *snap)
{
	if (snap->memfd_fds)
		kho_jsock_close_fds(snap->memfd_fds, snap->nr_fds);
	free(snap->memfd_fds);
	kho_state_free(&snap->state);
	kho_journal_free(&snap->journal);
	kho_handoff_iommufd_free(&snap->iommufd);
	kho_journal_snapshot_init(snap);
}

int kho_journal_snapshot_memfd(const struct kho_journal_snapshot *snap,
			       uint64_t token)
{
	size_t i;

	for (i = 0; i < snap->nr_fds && i < snap->state.nr_memfd; i++)
		if (snap->state.memfd[i].token == token)
			return snap->memfd_fds[i];
	return -1;
}
