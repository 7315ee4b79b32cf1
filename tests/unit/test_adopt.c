// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of lib/adopt.c: the agent <-> VMM hand-over over a real
 * unix socket pair with real memfds, the peer-credential refusal, the
 * adoption token, the VMM's failure report, peers that never answer,
 * signals during the wait, malformed messages and the socket's mode.
 */
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ktest.h"
#include "adopt.h"
#include "file.h"

#define PATTERN "guest RAM written before kexec"

struct offer {
	struct kho_adopt_set set;
	struct kho_adopt_dev dev;
	struct kho_adopt_memfd memfd[2];
};

/* iommufd and device stand-ins are pipes; the memfds are real. */
static void offer_init(struct offer *o)
{
	int p[2], i;

	memset(o, 0, sizeof(*o));
	kho_adopt_set_init(&o->set);
	if (pipe(p))
		abort();
	o->set.iommufd = p[0];
	close(p[1]);
	if (pipe(p))
		abort();
	o->dev = (struct kho_adopt_dev){ .old_id = 2, .new_id = 5,
					 .old_hwpt = 3, .new_hwpt = 6,
					 .fd = p[0] };
	close(p[1]);
	strcpy(o->dev.cdev, "/dev/vfio/devices/vfio0");
	o->set.dev = &o->dev;
	o->set.nr_dev = 1;
	for (i = 0; i < 2; i++) {
		o->memfd[i].fd = memfd_create("kho-test", MFD_CLOEXEC);
		o->memfd[i].token = 100 + i;
		o->memfd[i].size = 4096;
		if (ftruncate(o->memfd[i].fd, 4096) ||
		    pwrite(o->memfd[i].fd, PATTERN, sizeof(PATTERN), 0) < 0)
			abort();
	}
	o->set.memfd = o->memfd;
	o->set.nr_memfd = 2;
	kho_idmap_add(&o->set.idmap, KHO_OBJ_IOAS, 1, 4);
	kho_idmap_add(&o->set.idmap, KHO_OBJ_DEVICE, 2, 5);
	kho_idmap_add(&o->set.idmap, KHO_OBJ_HWPT, 3, 6);
}

static void offer_free(struct offer *o)
{
	close(o->set.iommufd);
	close(o->dev.fd);
	close(o->memfd[0].fd);
	close(o->memfd[1].fd);
	kho_idmap_free(&o->set.idmap);
}

static const struct kho_adopt_token the_token = { { 1, 2, 3, 4, 5, 6, 7, 8 } };

/* Runs the agent side in a child; Return: its kho_adopt_serve_one() result. */
static pid_t serve_in_child(int fd, int peer, uid_t uid, struct offer *o)
{
	pid_t pid = fork();

	if (pid == 0) {
		struct kho_adopt_auth auth = { .uid = uid, .token = &the_token,
					       .timeout_ms = 20000 };
		/* Only the parent may hold the VMM's end: its close is a hangup. */
		close(peer);
		struct kho_diag diag;
		int err = kho_adopt_serve_one(fd, &auth, &o->set, NULL, NULL,
					      &diag);

		if (err)
			fprintf(stderr, "# child: %s\n", diag.msg);
		_exit(-err);
	}
	return pid;
}

static int child_result(pid_t pid)
{
	int st;

	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return -ECHILD;
	return -WEXITSTATUS(st);
}

KTEST(adopt_sends_fds_ids_and_waits_for_ack)
{
	struct kho_adopt_set got;
	struct kho_diag diag = { "" };
	struct offer o;
	char buf[64];
	uint32_t id;
	int sv[2];
	pid_t pid;

	offer_init(&o);
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv));
	pid = serve_in_child(sv[0], sv[1], getuid(), &o);
	ASSERT_EQ(0, kho_adopt_hello(sv[1], &the_token));
	ASSERT_EQ(0, kho_adopt_recv(sv[1], &got, &diag));
	ASSERT_EQ(3, got.idmap.nr);
	ASSERT_EQ(0, kho_idmap_lookup(&got.idmap, 3, &id));
	ASSERT_EQ(6, id);
	ASSERT_EQ(1, got.nr_dev);
	ASSERT_EQ(5, got.dev[0].new_id);
	ASSERT_STR_CONTAINS(got.dev[0].cdev, "vfio0");
	ASSERT_TRUE(got.dev[0].fd >= 0 && got.dev[0].fd != o.dev.fd);
	ASSERT_TRUE(got.iommufd >= 0);
	ASSERT_EQ(2, got.nr_memfd);
	ASSERT_EQ(101, got.memfd[1].token);
	ASSERT_EQ(4096, got.memfd[1].size);
	/* The received memfd is the same file: the agent's bytes are there. */
	memset(buf, 0, sizeof(buf));
	ASSERT_EQ((long)sizeof(PATTERN), pread(got.memfd[1].fd, buf, sizeof(PATTERN), 0));
	ASSERT_STR_CONTAINS(buf, PATTERN);
	ASSERT_EQ(0, kho_adopt_ack(sv[1], 0, "adopted"));
	ASSERT_EQ(0, child_result(pid));
	kho_adopt_set_free(&got, 1);
	close(sv[0]);
	close(sv[1]);
	offer_free(&o);
}

KTEST(adopt_refuses_wrong_uid_and_sends_nothing)
{
	struct kho_adopt_set got;
	struct kho_diag diag = { "" }, sdiag = { "" };
	struct offer o;
	char want[96];
	int sv[2];

	struct kho_adopt_auth auth = { .uid = getuid() + 1,
				       .token = &the_token, .timeout_ms = 2000 };

	offer_init(&o);
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv));
	/*
	 * The hello is sent before the refusal and never read: the agent's
	 * close leaves ECONNRESET, and the VMM must still read why.
	 */
	ASSERT_EQ(0, kho_adopt_hello(sv[1], &the_token));
	ASSERT_EQ(-EACCES, kho_adopt_serve_one(sv[0], &auth, &o.set,
					       NULL, NULL, &sdiag));
	close(sv[0]);
	snprintf(want, sizeof(want), "uid %u is not the owner uid %u",
		 getuid(), getuid() + 1);
	ASSERT_STR_CONTAINS(sdiag.msg, want);
	ASSERT_EQ(-EACCES, kho_adopt_recv(sv[1], &got, &diag));
	ASSERT_STR_CONTAINS(diag.msg, "the agent refused");
	ASSERT_STR_CONTAINS(diag.msg, want);
	ASSERT_EQ(-1, got.iommufd);
	close(sv[1]);
	offer_free(&o);
}

/* What a held agent answers: -EAGAIN and its failure, no descriptors. */
KTEST(adopt_refusal_of_a_failed_restore_is_eagain)
{
	struct kho_adopt_set got;
	struct kho_diag diag = { "" };
	int sv[2];

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv));
	ASSERT_EQ(0, kho_adopt_refuse(sv[0], -EAGAIN,
				      "verify: IOAS 1 (now 1): allowed ranges: x"));
	ASSERT_EQ(-EAGAIN, kho_adopt_recv(sv[1], &got, &diag));
	ASSERT_STR_CONTAINS(diag.msg, "the agent refused");
	ASSERT_STR_CONTAINS(diag.msg, "verify: IOAS 1 (now 1)");
	ASSERT_EQ(-1, got.iommufd);
	close(sv[0]);
	close(sv[1]);
}

KTEST(adopt_vmm_failure_keeps_agent_waiting)
{
	struct kho_adopt_set got;
	struct kho_diag diag = { "" };
	struct offer o;
	time_t t0;
	int sv[2];
	pid_t pid;

	offer_init(&o);
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv));
	pid = serve_in_child(sv[0], sv[1], getuid(), &o);
	ASSERT_EQ(0, kho_adopt_hello(sv[1], &the_token));
	ASSERT_EQ(0, kho_adopt_recv(sv[1], &got, &diag));
	ASSERT_EQ(0, kho_adopt_ack(sv[1], -EINVAL, "IOMMU_IOAS_CHANGE_PROCESS: EINVAL"));
	ASSERT_EQ(-EINVAL, child_result(pid));
	kho_adopt_set_free(&got, 1);

	/* No ack at all: the peer hung up. */
	t0 = time(NULL);
	pid = serve_in_child(sv[0], sv[1], getuid(), &o);
	ASSERT_EQ(0, kho_adopt_hello(sv[1], &the_token));
	ASSERT_EQ(0, kho_adopt_recv(sv[1], &got, &diag));
	kho_adopt_set_free(&got, 1);
	close(sv[1]);
	ASSERT_EQ(-EPROTO, child_result(pid));
	ASSERT_TRUE(time(NULL) - t0 < 10);	/* a hangup, not the timeout */
	close(sv[0]);
	offer_free(&o);
}

KTEST(adopt_recv_rejects_malformed)
{
	struct kho_adopt_set got;
	struct kho_diag diag = { "" };
	struct kho_adopt_hdr h;
	int sv[2];

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv));
	ASSERT_EQ(5, send(sv[0], "hello", 5, 0));
	ASSERT_EQ(-EBADMSG, kho_adopt_recv(sv[1], &got, &diag));
	ASSERT_STR_CONTAINS(diag.msg, "short or truncated");

	memset(&h, 0, sizeof(h));
	memcpy(h.magic, "NOTKHO!!", 8);
	ASSERT_EQ((long)sizeof(h), send(sv[0], &h, sizeof(h), 0));
	ASSERT_EQ(-EBADMSG, kho_adopt_recv(sv[1], &got, &diag));
	ASSERT_STR_CONTAINS(diag.msg, "bad magic");

	/* A header that promises fds it does not carry. */
	memcpy(h.magic, KHO_ADOPT_MAGIC, 8);
	h.version = KHO_ADOPT_VERSION;
	h.nr_fds = 1;
	ASSERT_EQ((long)sizeof(h), send(sv[0], &h, sizeof(h), 0));
	ASSERT_EQ(-EBADMSG, kho_adopt_recv(sv[1], &got, &diag));
	ASSERT_STR_CONTAINS(diag.msg, "does not match its header");

	h.version = 99;
	ASSERT_EQ((long)sizeof(h), send(sv[0], &h, sizeof(h), 0));
	ASSERT_EQ(-EPROTONOSUPPORT, kho_adopt_recv(sv[1], &got, &diag));
	close(sv[0]);
	close(sv[1]);
}

KTEST(adopt_listen_socket_is_0600)
{
	struct kho_diag diag = { "" };
	char dir[] = "/tmp/kho-test-adopt.XXXXXX", path[96];
	struct stat st;
	int fd;

	ASSERT_TRUE(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/run/agent.sock", dir);
	fd = kho_adopt_listen(path, &diag);
	ASSERT_TRUE(fd >= 0);
	ASSERT_EQ(0, stat(path, &st));
	ASSERT_TRUE(S_ISSOCK(st.st_mode));
	ASSERT_EQ(0600, st.st_mode & 07777);
	close(fd);
	/* A stale socket from an earlier agent is replaced. */
	fd = kho_adopt_listen(path, &diag);
	ASSERT_TRUE(fd >= 0);
	close(fd);
	unlink(path);
	snprintf(path, sizeof(path), "%s/run", dir);
	rmdir(path);
	rmdir(dir);
}

/* A listening agent socket in a fresh directory. */
struct agent_sock {
	char dir[64];
	char path[96];
	int lfd;
};

static int agent_sock_open(struct agent_sock *a)
{
	struct kho_diag diag = { "" };

	snprintf(a->dir, sizeof(a->dir), "/tmp/kho-test-adopt.XXXXXX");
	if (!mkdtemp(a->dir))
		return -errno;
	snprintf(a->path, sizeof(a->path), "%s/agent.sock", a->dir);
	a->lfd = kho_adopt_listen(a->path, &diag);
	return a->lfd < 0 ? a->lfd : 0;
}

static void agent_sock_close(struct agent_sock *a)
{
	close(a->lfd);
	unlink(a->path);
	rmdir(a->dir);
}

/* A VMM's connection, its hello sent (with @token, or none). */
static int vmm_connect(const char *path, const struct kho_adopt_token *token)
{
	struct sockaddr_un sa;
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	if (fd < 0 || kho_unix_addr(path, &sa) ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    kho_adopt_hello(fd, token)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* A VMM with the token adopts: hello, the set, an ack of 0.  Return: 0. */
static int vmm_adopts(const char *path)
{
	struct kho_adopt_set got;
	struct kho_diag diag = { "" };
	int fd = vmm_connect(path, &the_token), err;

	if (fd < 0)
		return -ECONNREFUSED;
	err = kho_adopt_recv(fd, &got, &diag);
	if (!err)
		err = kho_adopt_ack(fd, 0, "adopted");
	if (!err)
		kho_adopt_set_free(&got, 1);
	close(fd);
	return err;
}

/*
 * kho_adopt_serve() in a child: exits with the number of peers that
 * failed (a refusal, a failure ack, a timeout) when one adopted, 100 +
 * errno when serving failed.
 */
static int nr_failed;

static void count_failed(const struct kho_adopt_peer_result *r, void *ctx)
{
	nr_failed++;
	fprintf(stderr, "# agent: %s\n", r->diag.msg);
}

static pid_t serve_all_in_child(struct agent_sock *a, struct offer *o,
				int timeout_ms)
{
	pid_t pid = fork();

	if (pid == 0) {
		struct kho_adopt_auth auth = { .uid = getuid(),
					       .token = &the_token,
					       .timeout_ms = timeout_ms };
		struct kho_adopt_peer_result won;
		int err = kho_adopt_serve(a->lfd, &auth, &o->set, count_failed,
					  NULL, &won);

		_exit(err ? 100 - err : nr_failed);
	}
	return pid;
}

static int child_exit(pid_t pid)
{
	int st;

	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A same-uid process without the token gets nothing; the VMM then adopts. */
KTEST(adopt_serve_refuses_same_uid_without_token_then_vmm_adopts)
{
	struct kho_adopt_token wrong = the_token;
	struct kho_adopt_set got;
	struct kho_diag diag = { "" };
	struct agent_sock a;
	struct offer o;
	char buf[64] = "";
	pid_t pid;
	int fd;

	offer_init(&o);
	ASSERT_EQ(0, agent_sock_open(&a));
	pid = serve_all_in_child(&a, &o, 20000);

	fd = vmm_connect(a.path, NULL);
	ASSERT_TRUE(fd >= 0);
	ASSERT_EQ(-EACCES, kho_adopt_recv(fd, &got, &diag));
	ASSERT_STR_CONTAINS(diag.msg, "no adoption token");
	ASSERT_EQ(-1, got.iommufd);
	close(fd);

	wrong.b[31] ^= 1;
	fd = vmm_connect(a.path, &wrong);
	ASSERT_TRUE(fd >= 0);
	ASSERT_EQ(-EACCES, kho_adopt_recv(fd, &got, &diag));
	ASSERT_STR_CONTAINS(diag.msg, "wrong adoption token");
	close(fd);

	/* The set is still served, to the holder of the token. */
	fd = vmm_connect(a.path, &the_token);
	ASSERT_TRUE(fd >= 0);
	ASSERT_EQ(0, kho_adopt_recv(fd, &got, &diag));
	ASSERT_EQ(2, got.nr_memfd);
	ASSERT_EQ((long)sizeof(PATTERN), pread(got.memfd[0].fd, buf, sizeof(PATTERN), 0));
	ASSERT_STR_CONTAINS(buf, PATTERN);
	ASSERT_EQ(0, kho_adopt_ack(fd, 0, "adopted"));
	ASSERT_EQ(2, child_exit(pid));
	kho_adopt_set_free(&got, 1);
	close(fd);
	agent_sock_close(&a);
	offer_free(&o);
}

/* A failure ack is not an adoption: the set stays served and a retry adopts. */
KTEST(adopt_serve_failure_ack_keeps_set_served_for_retry)
{
	struct kho_adopt_set got;
	struct kho_diag diag = { "" };
	struct agent_sock a;
	struct offer o;
	pid_t pid;
	int fd, st;

	offer_init(&o);
	ASSERT_EQ(0, agent_sock_open(&a));
	pid = serve_all_in_child(&a, &o, 20000);

	fd = vmm_connect(a.path, &the_token);
	ASSERT_TRUE(fd >= 0);
	ASSERT_EQ(0, kho_adopt_recv(fd, &got, &diag));
	ASSERT_EQ(0, kho_adopt_ack(fd, -ENOMEM, "IOMMU_IOAS_CHANGE_PROCESS: ENOMEM"));
	kho_adopt_set_free(&got, 1);
	close(fd);
	/* Not adopted: the agent is still serving. */
	usleep(100000);
	ASSERT_EQ(0, waitpid(pid, &st, WNOHANG));

	ASSERT_EQ(0, vmm_adopts(a.path));
	ASSERT_EQ(1, child_exit(pid));
	agent_sock_close(&a);
	offer_free(&o);
}

/*
 * A peer that never says hello and one that never acknowledges stall no
 * one: a second VMM adopts long before their deadlines.
 */
KTEST(adopt_serve_silent_peers_do_not_stall_a_second_vmm)
{
	struct kho_adopt_set hung;
	struct kho_diag diag = { "" };
	struct sockaddr_un sa;
	struct agent_sock a;
	struct offer o;
	uint64_t t0;
	pid_t pid;
	int mute, noack;

	offer_init(&o);
	ASSERT_EQ(0, agent_sock_open(&a));
	t0 = mono_ms();
	pid = serve_all_in_child(&a, &o, 20000);

	/* Connected, says nothing. */
	mute = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	ASSERT_EQ(0, kho_unix_addr(a.path, &sa));
	ASSERT_EQ(0, connect(mute, (struct sockaddr *)&sa, sizeof(sa)));
	/* Takes the set, never acknowledges. */
	noack = vmm_connect(a.path, &the_token);
	ASSERT_TRUE(noack >= 0);
	ASSERT_EQ(0, kho_adopt_recv(noack, &hung, &diag));

	ASSERT_EQ(0, vmm_adopts(a.path));
	ASSERT_EQ(0, child_exit(pid));
	ASSERT_TRUE(mono_ms() - t0 < 5000);
	kho_adopt_set_free(&hung, 1);
	close(noack);
	close(mute);
	agent_sock_close(&a);
	offer_free(&o);
}

/* Each peer's deadline ends it, and the set is served on. */
KTEST(adopt_serve_peer_deadline_then_vmm_adopts)
{
	struct kho_adopt_set hung;
	struct kho_diag diag = { "" };
	struct agent_sock a;
	struct offer o;
	pid_t pid;
	int noack;

	offer_init(&o);
	ASSERT_EQ(0, agent_sock_open(&a));
	pid = serve_all_in_child(&a, &o, 200);
	noack = vmm_connect(a.path, &the_token);
	ASSERT_TRUE(noack >= 0);
	ASSERT_EQ(0, kho_adopt_recv(noack, &hung, &diag));
	usleep(600000);
	/* Timed out: the agent hung up on it. */
	ASSERT_EQ(-EPIPE, kho_adopt_ack(noack, 0, "too late"));
	ASSERT_EQ(0, vmm_adopts(a.path));
	ASSERT_EQ(1, child_exit(pid));
	kho_adopt_set_free(&hung, 1);
	close(noack);
	agent_sock_close(&a);
	offer_free(&o);
}

static void on_alarm(int sig)
{
	(void)sig;
}

/*
 * Signals during the wait for the ack (SIGALRM every 50 ms, no
 * SA_RESTART) neither end it early nor turn it into a wait without end:
 * the deadline holds.  The child is killed if it blocks.
 */
KTEST(adopt_serve_one_deadline_survives_signals)
{
	struct kho_adopt_set got;
	struct kho_diag diag = { "" };
	struct offer o;
	uint64_t t0, ms;
	int sv[2], st;
	pid_t pid;

	offer_init(&o);
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv));
	ASSERT_EQ(0, kho_adopt_hello(sv[1], &the_token));
	t0 = mono_ms();
	pid = fork();
	if (pid == 0) {
		struct sigaction sa = { .sa_handler = on_alarm };
		struct itimerval it = { { 0, 50000 }, { 0, 50000 } };
		struct kho_adopt_auth auth = { .uid = getuid(),
					       .token = &the_token,
					       .timeout_ms = 500 };
		struct kho_diag sdiag;

		close(sv[1]);
		sigaction(SIGALRM, &sa, NULL);
		setitimer(ITIMER_REAL, &it, NULL);
		_exit(-kho_adopt_serve_one(sv[0], &auth, &o.set, NULL, NULL,
					   &sdiag));
	}
	ASSERT_EQ(0, kho_adopt_recv(sv[1], &got, &diag));
	/* No ack, no hang-up: only the deadline can end the wait. */
	while (waitpid(pid, &st, WNOHANG) == 0 && mono_ms() - t0 < 5000)
		usleep(20000);
	ms = mono_ms() - t0;
	if (ms >= 5000) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
	}
	ASSERT_TRUE(ms < 5000);
	ASSERT_TRUE(WIFEXITED(st));
	ASSERT_EQ(ETIMEDOUT, WEXITSTATUS(st));
	ASSERT_TRUE(ms >= 450);
	kho_adopt_set_free(&got, 1);
	close(sv[0]);
	close(sv[1]);
	offer_free(&o);
}

/*
 * The ack has its own deadline: a peer that was offered the set may take
 * longer than its hello's deadline (cpr-relay acks once the new QEMU
 * loaded the guest), and one that never acks ends at the ack deadline.
 */
KTEST(adopt_serve_one_ack_deadline_is_its_own)
{
	struct kho_adopt_set got;
	struct kho_diag diag = { "" };
	struct offer o;
	uint64_t t0, ms;
	int sv[2], round;
	pid_t pid;

	offer_init(&o);
	for (round = 0; round < 2; round++) {
		ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv));
		ASSERT_EQ(0, kho_adopt_hello(sv[1], &the_token));
		t0 = mono_ms();
		pid = fork();
		if (pid == 0) {
			/* round 0: the ack comes after the hello's deadline */
			struct kho_adopt_auth auth = {
				.uid = getuid(), .token = &the_token,
				.timeout_ms = round ? 20000 : 200,
				.ack_timeout_ms = round ? 300 : 20000 };
			struct kho_diag sdiag;

			close(sv[1]);
			_exit(-kho_adopt_serve_one(sv[0], &auth, &o.set, NULL,
						   NULL, &sdiag));
		}
		ASSERT_EQ(0, kho_adopt_recv(sv[1], &got, &diag));
		if (!round) {
			usleep(500000);
			ASSERT_EQ(0, kho_adopt_ack(sv[1], 0, "adopted late"));
			ASSERT_EQ(0, child_result(pid));
		} else {
			/* no ack: the 300 ms deadline, not the hello's 20 s */
			ASSERT_EQ(-ETIMEDOUT, child_result(pid));
			ms = mono_ms() - t0;
			ASSERT_TRUE(ms >= 250 && ms < 10000);
		}
		kho_adopt_set_free(&got, 1);
		close(sv[0]);
		close(sv[1]);
	}
	offer_free(&o);
}

/* The hand-off travels as a sealed copy: the VMM reads it, cannot write it. */
KTEST(adopt_sends_sealed_handoff_copy)
{
	static const char blob[] = "a hand-off blob";
	struct kho_adopt_set got;
	struct kho_diag diag = { "" };
	struct offer o;
	char buf[32] = "";
	int sv[2];
	pid_t pid;

	offer_init(&o);
	o.set.handoff_fd = kho_memfd_sealed("kho-test-handoff", blob, sizeof(blob));
	ASSERT_TRUE(o.set.handoff_fd >= 0);
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv));
	pid = serve_in_child(sv[0], sv[1], getuid(), &o);
	ASSERT_EQ(0, kho_adopt_hello(sv[1], &the_token));
	ASSERT_EQ(0, kho_adopt_recv(sv[1], &got, &diag));
	ASSERT_TRUE(got.handoff_fd >= 0);
	ASSERT_EQ(2, got.nr_memfd);
	ASSERT_EQ((long)sizeof(blob), pread(got.handoff_fd, buf, sizeof(buf), 0));
	ASSERT_STR_CONTAINS(buf, blob);
	ASSERT_EQ(-1, pwrite(got.handoff_fd, "x", 1, 0));
	ASSERT_EQ(EPERM, errno);
	ASSERT_EQ(0, kho_adopt_ack(sv[1], 0, "adopted"));
	ASSERT_EQ(0, child_result(pid));
	kho_adopt_set_free(&got, 1);
	close(o.set.handoff_fd);
	close(sv[0]);
	close(sv[1]);
	offer_free(&o);
}

KTEST(adopt_token_file_round_trip_and_refusals)
{
	char dir[] = "/tmp/kho-test-token.XXXXXX", path[64], buf[80];
	struct kho_adopt_token t, back;
	struct kho_diag diag = { "" };
	int n;

	ASSERT_TRUE(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/adopt.token", dir);
	ASSERT_EQ(0, kho_adopt_token_new(&t));
	n = kho_adopt_token_format(&t, buf, sizeof(buf));
	ASSERT_EQ(2 * KHO_ADOPT_TOKEN_LEN + 1, n);
	ASSERT_EQ(-ENOSPC, kho_adopt_token_format(&t, buf, 2 * KHO_ADOPT_TOKEN_LEN + 1));
	ASSERT_EQ(0, kho_write_file(path, buf, n, 0600, &diag));
	ASSERT_EQ(0, kho_adopt_token_read(path, &back, &diag));
	ASSERT_EQ(0, memcmp(&t, &back, sizeof(t)));
	/* Short, or not hex: refused by name. */
	ASSERT_EQ(0, kho_write_file(path, buf, 10, 0600, &diag));
	ASSERT_EQ(-EBADMSG, kho_adopt_token_read(path, &back, &diag));
	ASSERT_STR_CONTAINS(diag.msg, "not 64 hex digits");
	buf[3] = 'G';
	ASSERT_EQ(0, kho_write_file(path, buf, n, 0600, &diag));
	ASSERT_EQ(-EBADMSG, kho_adopt_token_read(path, &back, &diag));
	ASSERT_STR_CONTAINS(diag.msg, "not lowercase hex");
	unlink(path);
	ASSERT_EQ(-ENOENT, kho_adopt_token_read(path, &back, &diag));
	ASSERT_STR_CONTAINS(diag.msg, "adopt.token: open: ENOENT");
	rmdir(dir);
}
