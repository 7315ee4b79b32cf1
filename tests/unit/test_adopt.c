// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of lib/adopt.c: the agent <-> VMM hand-over over a real
 * unix socket pair with real memfds, the peer-credential refusal, the
 * VMM's failure report, malformed messages and the socket's mode.
 */
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ktest.h"
#include "adopt.h"

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

/* Runs the agent side in a child; Return: its kho_adopt_serve_one() result. */
static pid_t serve_in_child(int fd, int peer, uid_t uid, struct offer *o)
{
	pid_t pid = fork();

	if (pid == 0) {
		/* Only the parent may hold the VMM's end: its close is a hangup. */
		close(peer);
		struct kho_diag diag;
		int err = kho_adopt_serve_one(fd, uid, &o->set, NULL, NULL,
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

	offer_init(&o);
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv));
	ASSERT_EQ(-EACCES, kho_adopt_serve_one(sv[0], getuid() + 1, &o.set,
					       NULL, NULL, &sdiag));
	snprintf(want, sizeof(want), "uid %u is not the owner uid %u",
		 getuid(), getuid() + 1);
	ASSERT_STR_CONTAINS(sdiag.msg, want);
	ASSERT_EQ(-EACCES, kho_adopt_recv(sv[1], &got, &diag));
	ASSERT_STR_CONTAINS(diag.msg, "the agent refused");
	ASSERT_STR_CONTAINS(diag.msg, want);
	ASSERT_EQ(-1, got.iommufd);
	close(sv[0]);
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
	ASSERT_EQ(0, kho_adopt_recv(sv[1], &got, &diag));
	ASSERT_EQ(0, kho_adopt_ack(sv[1], -EINVAL, "IOMMU_IOAS_CHANGE_PROCESS: EINVAL"));
	ASSERT_EQ(-EINVAL, child_result(pid));
	kho_adopt_set_free(&got, 1);

	/* No ack at all: the peer hung up. */
	t0 = time(NULL);
	pid = serve_in_child(sv[0], sv[1], getuid(), &o);
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
