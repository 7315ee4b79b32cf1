// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of the cpr-transfer transport (lib/cpr_chan.c) over real
 * unix sockets: a CPR state sent with one fd per placeholder arrives with
 * the same bytes and the same open files, in order, also past the 253 fds
 * one message can carry; the byte and fd bounds refuse more; the hang-up
 * wait tells a close from stray bytes; and the QMP client negotiates,
 * skips events and reports an error's desc, against a scripted server.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ktest.h"
#include "cpr_chan.h"
#include "cpr_state.h"

/* Builds a state of @n memfds named "m<i>", sends it on one end of a
 * socketpair from a child, and receives it on the other. */
static int round_trip(unsigned int n, unsigned int maxfds, size_t maxbytes,
		      struct kho_cpr_state *got, char *err, size_t errlen)
{
	struct kho_cpr_state st = { 0 };
	uint8_t *buf, *rbuf = NULL;
	size_t len, rlen = 0, *offs;
	int sv[2], *fds, *rfds = NULL, ret, status;
	unsigned int i, rn = 0;
	pid_t pid;

	st.nr_fds = n;
	st.fds = calloc(n + 1, sizeof(*st.fds));
	offs = calloc(n + 1, sizeof(*offs));
	fds = calloc(n + 1, sizeof(*fds));
	buf = malloc(KHO_CPR_STATE_MAX);
	if (!st.fds || !offs || !fds || !buf)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		snprintf(st.fds[i].name, sizeof(st.fds[i].name), "m%u", i);
		st.fds[i].id = i;
		st.fds[i].fd = memfd_create(st.fds[i].name, MFD_CLOEXEC);
		fds[i] = st.fds[i].fd;
	}
	ret = kho_cpr_state_encode(&st, buf, KHO_CPR_STATE_MAX, &len, offs);
	if (ret || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return -EIO;
	pid = fork();
	if (pid == 0) {
		close(sv[0]);
		ret = kho_cpr_send_state(sv[1], buf, len, offs, fds, n);
		shutdown(sv[1], SHUT_WR);
		_exit(ret ? 1 : 0);
	}
	close(sv[1]);
	ret = kho_cpr_recv_all(sv[0], maxbytes, maxfds, &rbuf, &rlen, &rfds,
			       &rn, 5000);
	close(sv[0]);
	waitpid(pid, &status, 0);
	if (!ret) {
		ret = kho_cpr_state_parse(rbuf, rlen, rfds, rn, got, err, errlen);
		if (ret)
			for (i = 0; i < rn; i++)
				close(rfds[i]);
	}
	free(rbuf);
	free(rfds);
	kho_cpr_state_free(&st);
	free(offs);
	free(fds);
	free(buf);
	return ret;
}

KTEST(chan_state_and_fds_arrive_in_order)
{
	struct kho_cpr_state got;
	char err[256], what[256], want[64];
	unsigned int i;

	/* 300: more than one recvmsg's worth of fds (SCM_MAX_FD, 253). */
	ASSERT_EQ(0, round_trip(300, KHO_CPR_MAX_FDS, KHO_CPR_STATE_MAX, &got,
				err, sizeof(err)));
	ASSERT_EQ(300, got.nr_fds);
	for (i = 0; i < got.nr_fds; i++) {
		snprintf(want, sizeof(want), "/memfd:m%u ", i);
		ASSERT_EQ(KHO_CPR_KIND_MEMFD,
			  kho_cpr_fd_kind(got.fds[i].fd, what, sizeof(what)));
		/* The fd paired with placeholder i is the file sent as i. */
		ASSERT_STR_CONTAINS(what, want);
		ASSERT_EQ(i, got.fds[i].id);
		ASSERT_TRUE(fcntl(got.fds[i].fd, F_GETFD) & FD_CLOEXEC);
	}
	kho_cpr_state_free(&got);
}

KTEST(chan_bounds)
{
	struct kho_cpr_state got;
	char err[256];

	ASSERT_EQ(-E2BIG, round_trip(10, 9, KHO_CPR_STATE_MAX, &got, err,
				     sizeof(err)));
	ASSERT_EQ(-E2BIG, round_trip(10, KHO_CPR_MAX_FDS, 64, &got, err,
				     sizeof(err)));
	ASSERT_EQ(0, round_trip(0, 0, 64, &got, err, sizeof(err)));
	kho_cpr_state_free(&got);
}

KTEST(chan_wait_hup)
{
	int sv[2];

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	ASSERT_EQ(-ETIMEDOUT, kho_cpr_wait_hup(sv[0], 10));
	ASSERT_EQ(1, write(sv[1], "x", 1));
	ASSERT_EQ(-EPROTO, kho_cpr_wait_hup(sv[0], 1000));
	close(sv[1]);
	ASSERT_EQ(0, kho_cpr_wait_hup(sv[0], 1000));
	close(sv[0]);
}

/* A QMP server that answers a script of lines, one per command read. */
static pid_t fake_qmp(const char *path, const char *const *answers)
{
	int l = kho_cpr_listen(path);
	pid_t pid;

	if (l < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		char c;
		int s = kho_cpr_accept(l, 5000);

		if (s < 0)
			_exit(1);
		dprintf(s, "{\"QMP\": {\"version\": {}, \"capabilities\": []}}\r\n");
		for (; *answers; answers++) {
			do
				if (read(s, &c, 1) != 1)
					_exit(2);
			while (c != '\n');
			dprintf(s, "%s\r\n", *answers);
		}
		_exit(0);
	}
	close(l);
	return pid;
}

KTEST(chan_qmp_client)
{
	static const char *const answers[] = {
		"{\"return\": {}}",
		"{\"timestamp\": {\"seconds\": 1}, \"event\": \"STOP\"}\r\n"
		"{\"return\": {\"status\": \"running\", \"running\": true}}",
		"{\"error\": {\"class\": \"GenericError\", \"desc\": \"mode cpr-transfer needs aux-ram-share\"}}",
		NULL,
	};
	char path[] = "/tmp/kho-test-qmp-XXXXXX", sock[64], reply[256], err[256];
	struct kho_qmp *q = calloc(1, sizeof(*q));
	int status;
	pid_t pid;

	ASSERT_TRUE(q && mkdtemp(path));
	snprintf(sock, sizeof(sock), "%s/qmp.sock", path);
	pid = fake_qmp(sock, answers);
	ASSERT_TRUE(pid > 0);
	ASSERT_EQ(0, kho_qmp_open(q, sock, 5000, err, sizeof(err)));
	ASSERT_EQ(0, kho_qmp_exec(q, "{\"execute\":\"query-status\"}", reply,
				  sizeof(reply), 5000, err, sizeof(err)));
	ASSERT_STR_CONTAINS(reply, "\"running\"");
	ASSERT_EQ(-EREMOTEIO, kho_qmp_exec(q, "{\"execute\":\"migrate\"}", NULL,
					   0, 5000, err, sizeof(err)));
	ASSERT_EQ(0, strcmp("mode cpr-transfer needs aux-ram-share", err));
	/* The server is gone: the next command fails, naming why. */
	waitpid(pid, &status, 0);
	ASSERT_EQ(0, WEXITSTATUS(status));
	ASSERT_TRUE(kho_qmp_exec(q, "{\"execute\":\"quit\"}", NULL, 0, 1000,
				 err, sizeof(err)) < 0);
	ASSERT_STR_CONTAINS(err, "qmp: ");
	kho_qmp_close(q);
	free(q);
	unlink(sock);
	rmdir(path);
	/* Nobody listening: connect gives up after its timeout. */
	ASSERT_EQ(-ETIMEDOUT, kho_cpr_connect(sock, 100));
}
