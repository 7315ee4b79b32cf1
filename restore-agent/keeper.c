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

enum keeper_msg_type {
	KEEPER_SESSION = 1,	/* fds: session, hand-off memfd (or none) */
	KEEPER_MEMFDS = 2,	/* fds: memfds, tokens in the payload */
	KEEPER_FINISHED = 3,	/* the session is finished or handed on */
};

struct keeper_msg {
	uint32_t type;
	uint32_t nr;
	uint64_t token[KEEPER_FDS];
};

static int keeper_sock = -1;	/* the worker's end; -1 without a keeper */
static pid_t keeper_pid;

/* What the keeper holds. */
struct keeper {
	int session;
	int handoff_fd;
	struct kho_replay_memfd *memfd;
	size_t nr_memfd;
	int finished;
};

static int send_fds(const struct keeper_msg *m, const int *fds, size_t nr)
{
	ssize_t n = kho_fd_send(keeper_sock, m, sizeof(*m), fds, nr);

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
	err = send_fds(&m, fds, handoff_fd >= 0 ? 2 : 1);
	for (i = 0; !err && i < nr_memfd; i += n) {
		n = nr_memfd - i < KEEPER_FDS ? nr_memfd - i : KEEPER_FDS;
		m = (struct keeper_msg){ .type = KEEPER_MEMFDS, .nr = n };
		for (size_t k = 0; k < n; k++) {
			m.token[k] = memfd[i + k].token;
			fds[k] = memfd[i + k].fd;
		}
		err = send_fds(&m, fds, n);
	}
	if (err)
		return kho_diag_set(diag, err,
				    "keeper pid %d: share session '%s' and %zu memfd(s): %s",
				    (int)keeper_pid, KHO_LUO_SESSION, nr_memfd,
				    kho_errno_name(err));
	return 0;
}

void agent_keeper_finished(void)
{
	struct keeper_msg m = { .type = KEEPER_FINISHED };

	if (keeper_sock >= 0 && !send_fds(&m, NULL, 0)) {
		close(keeper_sock);
		keeper_sock = -1;
	}
}

/*
 * Receives one message; its fds (at most KEEPER_FDS) go to @fds.
 * Return: fds + 1, 0 at EOF, -errno.
 */
static int recv_fds(int sock, struct keeper_msg *m, int *fds)
{
	int all[KHO_FDPASS_MAX];
	size_t nr, i;
	ssize_t n;

	n = kho_fd_recv(sock, m, sizeof(*m), 0, all, &nr, NULL);
	if (n < 0)
		return (int)n;
	/* The type is there even when the fds are not. */
	if (n == 0 || n < (ssize_t)(2 * sizeof(uint32_t)) || nr > KEEPER_FDS) {
		for (i = 0; i < nr; i++)
			close(all[i]);
		return n == 0 ? 0 : -EBADMSG;
	}
	memcpy(fds, all, sizeof(int) * nr);
	return (int)nr + 1;
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

static int keeper_take(struct keeper *k, const struct keeper_msg *m,
		       const int *fds, int nr)
{
	struct kho_replay_memfd *tab;
	int i;

	switch (m->type) {
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
	struct keeper k = { .session = -1, .handoff_fd = -1 };
	struct keeper_msg m;
	int fds[KEEPER_FDS], n, st;
	char why[512];

	/*
	 * The notification fd is the worker's: its readers wait for its
	 * first status or EOF (kho-tool salvage reads to EOF), which a copy
	 * here would hold back for the keeper's whole life.  A worker that
	 * dies first still ends their wait, and our status is in the file.
	 */
	agent_notify_fd(-1);
	for (;;) {
		n = recv_fds(sock, &m, fds);
		if (n <= 0)
			break;
		if (keeper_take(&k, &m, fds, n - 1))
			agent_log(-EBADMSG, "keeper pid %d: a malformed message from worker pid %d: ignored",
				  (int)getpid(), (int)worker);
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
	agent_log(-ECHILD, "%s: its replay objects went with it; keeper pid %d holds session '%s', %zu memfd(s)",
		  why, (int)getpid(), KHO_LUO_SESSION, k.nr_memfd);
	orphaned(k.session, k.handoff_fd, k.memfd, k.nr_memfd, why);
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
