// SPDX-License-Identifier: GPL-2.0
/*
 * The keeper: a second process that holds copies of the session and the
 * guest-RAM memfds while the worker replays, so that a worker killed
 * halfway (kill -9, the OOM killer despite its score, a crash) does not
 * take the only copies with it.
 *
 * Closing the last fd of a retrieved LUO session FINISHes it and the
 * kernel discards every memfd not yet retrieved; a retrieved memfd dies
 * with its last fd.  The worker shares its fds with the keeper as soon as
 * it has them, over a socketpair; from then on either process alone keeps
 * the session alive.  If the worker dies of a signal, the keeper holds
 * the session the way a failed agent does (agent.status "held ...",
 * VMMs refused with the reason, agent-held.sock for a restart), and so it
 * does if the worker exits without saying that the session is finished
 * or handed on.  Otherwise (adopted and finished, handed to a retry,
 * nothing to restore) the keeper closes its copies and exits with the
 * worker's status.
 *
 * On the kernel-verified path the worker also shares its progress after
 * every record that changes it (agent_keeper_share_progress()): the
 * restoring iommufd, whose progress the kernel keeps, the fds of the
 * devices bound so far and the ID map.  Without them a restart found the
 * kernel waiting at record N with no device bound and no way to name the
 * objects of records 1..N-1; with them it resumes at N.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.h"
#include "fdpass.h"
#include "escape.h"
#include "luo.h"

/* At most this many fds per message: SCM_MAX_FD is 253. */
#define KEEPER_FDS 200

/* The largest progress message: under the socket's default wmem. */
#define KEEPER_MSG_MAX (192 * 1024)

enum keeper_msg_type {
	KEEPER_SESSION = 1,	/* fds: session, hand-off memfd (or none) */
	KEEPER_MEMFDS = 2,	/* fds: memfds, tokens in the payload */
	KEEPER_FINISHED = 3,	/* the session is finished or handed on */
	KEEPER_PROGRESS = 4,	/* struct keeper_progress; fds: iommufd, devices */
};

struct keeper_msg {
	uint32_t type;
	uint32_t nr;
	uint64_t token[KEEPER_FDS];
};

/*
 * KEEPER_PROGRESS: followed by @nr_dev struct kho_replay_dev (their fd
 * fields meaningless: the fds ride along, the iommufd first, then one per
 * device in order) and @nr_id struct kho_idmap_ent.
 */
struct keeper_progress {
	uint32_t type;
	uint32_t nr_dev;
	uint64_t token;
	uint32_t nr_id;
	uint32_t pad;
};

union keeper_buf {
	struct keeper_msg msg;
	struct keeper_progress progress;
	unsigned char raw[KEEPER_MSG_MAX];
};

static int keeper_sock = -1;	/* the worker's end; -1 without a keeper */
static pid_t keeper_pid;

/* What the keeper holds. */
struct keeper {
	int session;
	int handoff_fd;
	struct kho_replay_memfd *memfd;
	size_t nr_memfd;
	struct agent_progress progress;
	int finished;
};

static int send_fds(const struct keeper_msg *m, size_t len, const int *fds,
		    size_t nr)
{
	ssize_t n = kho_fd_send(keeper_sock, m, len, fds, nr);

	return n < 0 ? (int)n : 0;
}

int agent_keeper_share(int session, int handoff_fd,
		       const struct kho_replay_memfd *memfd, size_t nr_memfd,
		       struct kho_diag *diag)
{
	struct keeper_msg m = { .type = KEEPER_SESSION };
	int fds[KEEPER_FDS];
	size_t i, n;
	int err;

	if (keeper_sock < 0)
		return 0;
	fds[0] = session;
	fds[1] = handoff_fd;
	err = send_fds(&m, sizeof(m), fds, handoff_fd >= 0 ? 2 : 1);
	for (i = 0; !err && i < nr_memfd; i += n) {
		n = nr_memfd - i < KEEPER_FDS ? nr_memfd - i : KEEPER_FDS;
		m = (struct keeper_msg){ .type = KEEPER_MEMFDS, .nr = n };
		for (size_t k = 0; k < n; k++) {
			m.token[k] = memfd[i + k].token;
			fds[k] = memfd[i + k].fd;
		}
		err = send_fds(&m, sizeof(m), fds, n);
	}
	if (err)
		return kho_diag_set(diag, err,
				    "keeper pid %d: share session '%s' and %zu memfd(s): %s",
				    (int)keeper_pid, KHO_LUO_SESSION, nr_memfd,
				    kho_errno_name(err));
	return 0;
}

int agent_keeper_share_progress(const struct kho_replay *r, uint64_t token)
{
	static union keeper_buf buf;
	struct keeper_progress *p = &buf.progress;
	size_t len = sizeof(*p) + r->nr_dev * sizeof(*r->dev) +
		     r->idmap.nr * sizeof(*r->idmap.ent);
	int fds[KEEPER_FDS], err;
	char ack;
	size_t i;

	if (keeper_sock < 0)
		return 0;
	if (len > sizeof(buf) || r->nr_dev + 1 > KEEPER_FDS)
		return -E2BIG;
	*p = (struct keeper_progress){ .type = KEEPER_PROGRESS,
		.nr_dev = r->nr_dev, .token = token, .nr_id = r->idmap.nr };
	memcpy(p + 1, r->dev, r->nr_dev * sizeof(*r->dev));
	memcpy((unsigned char *)(p + 1) + r->nr_dev * sizeof(*r->dev),
	       r->idmap.ent, r->idmap.nr * sizeof(*r->idmap.ent));
	fds[0] = r->iommufd;
	for (i = 0; i < r->nr_dev; i++)
		fds[i + 1] = r->dev[i].fd;
	err = send_fds((const struct keeper_msg *)p, len, fds, r->nr_dev + 1);
	/*
	 * Wait for the keeper to have dropped its last copy: a device the
	 * replay just unbound (closed) stays bound while the keeper holds
	 * its fd, and the next record may bind it again.
	 */
	if (!err && recv(keeper_sock, &ack, 1, 0) != 1)
		err = -EPIPE;
	return err;
}

void agent_keeper_finished(void)
{
	struct keeper_msg m = { .type = KEEPER_FINISHED };

	if (keeper_sock >= 0 && !send_fds(&m, sizeof(m), NULL, 0)) {
		close(keeper_sock);
		keeper_sock = -1;
	}
}

/*
 * Receives one message; its fds (at most KEEPER_FDS) go to @fds.
 * Return: fds + 1, 0 at EOF, -errno.
 */
static int recv_fds(int sock, union keeper_buf *b, size_t *len, int *fds)
{
	int all[KHO_FDPASS_MAX];
	size_t nr, i;
	ssize_t n;

	n = kho_fd_recv(sock, b, sizeof(*b), 0, all, &nr, NULL);
	if (n < 0)
		return (int)n;
	/* The type is there even when the fds are not. */
	if (n == 0 || n < (ssize_t)(2 * sizeof(uint32_t)) || nr > KEEPER_FDS) {
		for (i = 0; i < nr; i++)
			close(all[i]);
		return n == 0 ? 0 : -EBADMSG;
	}
	*len = n;
	memcpy(fds, all, sizeof(int) * nr);
	return (int)nr + 1;
}

static void progress_close(struct agent_progress *p)
{
	size_t i;

	if (p->iommufd >= 0)
		close(p->iommufd);
	p->iommufd = -1;
	for (i = 0; i < p->nr_dev; i++)
		close(p->dev[i].fd);
	free(p->dev);
	p->dev = NULL;
	p->nr_dev = 0;
	kho_idmap_free(&p->idmap);
}

/* A KEEPER_PROGRESS replaces the last one whole. */
static int progress_take(struct agent_progress *p,
			 const struct keeper_progress *m, size_t len,
			 const int *fds, int nr)
{
	const struct kho_idmap_ent *ent;
	size_t i, want;

	want = sizeof(*m) + (size_t)m->nr_dev * sizeof(*p->dev) +
	       (size_t)m->nr_id * sizeof(*ent);
	if (len != want || (size_t)nr != m->nr_dev + 1u)
		return -EBADMSG;
	progress_close(p);
	p->dev = calloc(m->nr_dev + 1, sizeof(*p->dev));
	if (!p->dev)
		return -ENOMEM;
	memcpy(p->dev, m + 1, m->nr_dev * sizeof(*p->dev));
	for (i = 0; i < m->nr_dev; i++)
		p->dev[i].fd = fds[i + 1];
	p->nr_dev = m->nr_dev;
	p->iommufd = fds[0];
	p->token = m->token;
	ent = (const void *)((const unsigned char *)(m + 1) +
			     m->nr_dev * sizeof(*p->dev));
	for (i = 0; i < m->nr_id; i++)
		if (kho_idmap_add(&p->idmap, ent[i].kind, ent[i].old_id,
				  ent[i].new_id))
			return -ENOMEM;
	return 0;
}

static void keeper_close(struct keeper *k)
{
	size_t i;

	for (i = 0; i < k->nr_memfd; i++)
		close(k->memfd[i].fd);
	k->nr_memfd = 0;
	if (k->handoff_fd >= 0)
		close(k->handoff_fd);
	if (k->session >= 0)
		close(k->session);
	k->handoff_fd = k->session = -1;
}

static int keeper_take(struct keeper *k, const union keeper_buf *b,
		       size_t len, const int *fds, int nr)
{
	const struct keeper_msg *m = &b->msg;
	struct kho_replay_memfd *tab;
	int i;

	switch (m->type) {
	case KEEPER_PROGRESS:
		if (!progress_take(&k->progress, &b->progress, len, fds, nr))
			return 0;
		break;
	case KEEPER_SESSION:
		keeper_close(k);
		k->session = nr > 0 ? fds[0] : -1;
		k->handoff_fd = nr > 1 ? fds[1] : -1;
		return 0;
	case KEEPER_MEMFDS:
		if ((uint32_t)nr != m->nr)
			break;
		tab = realloc(k->memfd, (k->nr_memfd + nr) * sizeof(*tab));
		if (!tab)
			break;
		k->memfd = tab;
		for (i = 0; i < nr; i++) {
			tab[k->nr_memfd].token = m->token[i];
			tab[k->nr_memfd++].fd = fds[i];
		}
		return 0;
	case KEEPER_FINISHED:
		keeper_close(k);
		progress_close(&k->progress);
		k->finished = 1;
		return 0;
	}
	for (i = 0; i < nr; i++)
		close(fds[i]);
	return -EBADMSG;
}

static const char *signal_name(int sig)
{
	switch (sig) {
	case SIGKILL:
		return "SIGKILL";
	case SIGSEGV:
		return "SIGSEGV";
	case SIGABRT:
		return "SIGABRT";
	case SIGBUS:
		return "SIGBUS";
	case SIGTERM:
		return "SIGTERM";
	}
	return "a signal";
}

static void keeper_main(pid_t worker, int sock, agent_orphaned_fn orphaned)
{
	struct keeper k = { .session = -1, .handoff_fd = -1,
			    .progress.iommufd = -1 };
	static union keeper_buf buf;
	int fds[KEEPER_FDS], n, st;
	char why[512];
	size_t len = 0;

	/*
	 * The notification fd is the worker's: its readers wait for its
	 * first status or EOF (kho-tool salvage reads to EOF), which a copy
	 * here would hold back for the keeper's whole life.  A worker that
	 * dies first still ends their wait, and our status is in the file.
	 */
	agent_notify_fd(-1);
	for (;;) {
		n = recv_fds(sock, &buf, &len, fds);
		if (n <= 0)
			break;
		if (keeper_take(&k, &buf, len, fds, n - 1))
			agent_log(-EBADMSG, "keeper pid %d: a malformed message from worker pid %d: ignored",
				  (int)getpid(), (int)worker);
		/* The worker waits for this: see agent_keeper_share_progress(). */
		if (buf.msg.type == KEEPER_PROGRESS &&
		    send(sock, "", 1, MSG_NOSIGNAL) != 1)
			break;
	}
	close(sock);
	while (waitpid(worker, &st, 0) < 0) {
		if (errno != EINTR) {
			st = 0;
			break;
		}
	}
	agent_note_signals();
	/*
	 * Finished, handed on, or never had a session: nothing to keep.  A
	 * worker that ended any other way left the session to us, whether
	 * a signal killed it or it exited on a path that forgot it.
	 */
	if (k.finished || (k.session < 0 && WIFEXITED(st))) {
		keeper_close(&k);
		progress_close(&k.progress);
		free(k.memfd);
		exit(WIFEXITED(st) ? WEXITSTATUS(st) : 0);
	}
	if (WIFEXITED(st))
		snprintf(why, sizeof(why),
			 "keeper: worker pid %d exited with status %d after step %s without handing the session on",
			 (int)worker, WEXITSTATUS(st), agent_last_step());
	else
		snprintf(why, sizeof(why),
			 "keeper: worker pid %d killed by %s (signal %d) after step %s",
			 (int)worker, signal_name(WTERMSIG(st)),
			 WTERMSIG(st), agent_last_step());
	if (k.session < 0) {
		/* Killed before it shared anything: what it had is gone. */
		agent_log(-ECHILD, "%s, before it shared the session: whatever session it had retrieved was finished when it died",
			  why);
		agent_status("failed %s", why);
		exit(1);
	}
	if (k.progress.iommufd >= 0)
		agent_log(-ECHILD, "%s: keeper pid %d holds session '%s', %zu memfd(s), the restoring iommufd, %zu device(s) and %zu ID(s) of its progress",
			  why, (int)getpid(), KHO_LUO_SESSION, k.nr_memfd,
			  k.progress.nr_dev, k.progress.idmap.nr);
	else
		agent_log(-ECHILD, "%s: its replay objects went with it; keeper pid %d holds session '%s', %zu memfd(s)",
			  why, (int)getpid(), KHO_LUO_SESSION, k.nr_memfd);
	orphaned(k.session, k.handoff_fd, k.memfd, k.nr_memfd, &k.progress,
		 why);
	/* orphaned() owns the fds and does not return. */
	exit(1);
}

int agent_keeper_start(agent_orphaned_fn orphaned)
{
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	agent_share_steps();
	pid = fork();
	if (pid < 0) {
		int err = -errno;

		close(sv[0]);
		close(sv[1]);
		return err;
	}
	if (pid > 0) {
		close(sv[1]);
		keeper_main(pid, sv[0], orphaned);
		/* not reached */
	}
	close(sv[0]);
	keeper_sock = sv[1];
	keeper_pid = getppid();
	return 0;
}

pid_t agent_keeper_pid(void)
{
	return keeper_sock >= 0 ? keeper_pid : 0;
}
