// SPDX-License-Identifier: GPL-2.0
/*
 * replay-loop: the guest half of bench/replay-vm.sh that makes one guest
 * run give a stable ratio.  Run once the restore-agent is ready, it adopts
 * the agent's objects like a VMM (so the device and the retrieved memfds
 * are free and warm), lets them go, and then alternates, ROUNDS times:
 *
 *   ours  kho_replay_run() + kho_verify_run() of the agent's own hand-off
 *         (/run/kho-tool/handoff.fdt), on the retrieved memfds;
 *   raw   the same ioctls issued bare (raw-ioctls.h, the code
 *         bare-restore issues too): open /dev/iommu, IOAS_ALLOC,
 *         MAP_FILE of every mapping (same memfd, offset, length, IOVA,
 *         flags, same order), open the cdev, BIND, ATTACH.
 *
 * Both are torn down outside the timed window (closing the device and the
 * iommufd unmaps everything), so each round starts from the same state.
 * Prints one line per round and one line of medians; the host computes
 * the ratios from the medians.
 *
 * With --wait-pid PID (the agent's) it waits, after the adoption, until
 * the agent has exited: only then has it closed its copy of the device
 * fd, which keeps the device bound, and finished its session.
 *
 * With --preserve-for-bare it then preserves, for the next boot's
 * bare-restore, the same memfd(s) (the agent's session is finished, so
 * LUO lets them be preserved again) and the hand-off in session
 * BARE_SESSION, and holds it until the kexec: the bare side then restores
 * the very same folios, at the same physical addresses, so mapping and
 * attaching them costs the same.  (Two memfds of the same size cost
 * differently: iommufd maps a physically contiguous run at once.)  It
 * forks a child that holds the session, and exits.
 *
 * Built and shipped by bench/replay-vm.sh (static, like the agent), not by
 * the Makefile: the C files directly in bench/ are host benches.
 *
 * usage: replay-loop ROUNDS [--wait-pid PID] [--preserve-for-bare]
 */
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "adopt.h"
#include "handoff.h"
#include "journal.h"
#include "journal_sock.h"
#include "luo.h"
#include "raw-ioctls.h"
#include "verify.h"

#define MAX_ROUNDS 64

/* What one round of each side costs, in ns. */
struct round {
	uint64_t ours, replay, verify;	/* ours = replay + verify */
	uint64_t ours_maps, ours_bind, ours_attach, ours_identity;
	uint64_t raw, raw_maps, raw_bind, raw_attach;
};

/* What the raw loop needs, resolved once, outside every timed window. */
struct raw_plan {
	const struct kho_handoff *h;
	const struct kho_replay_memfd *memfds;
	size_t nr_memfds;
	char cdev[64];
};

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Median of one field over the rounds (the lower one of an even count). */
static double median_ms(const struct round *rs, int n, size_t off)
{
	uint64_t v[MAX_ROUNDS];
	int i;

	for (i = 0; i < n; i++)
		memcpy(&v[i], (const char *)&rs[i] + off, sizeof(v[i]));
	qsort(v, n, sizeof(v[0]), cmp_u64);
	return v[(n - 1) / 2] / 1e6;
}

/* The bare ioctls (raw-ioctls.h); teardown is outside the timed window. */
static int raw_round(const struct raw_plan *p, struct round *rd)
{
	struct raw_ioctls r;
	int ret;

	ret = raw_ioctls_run(&p->h->state.ioas[0], p->memfds, p->nr_memfds,
			     p->cdev, &r);
	if (ret)
		return ret;
	rd->raw = r.total;
	rd->raw_maps = r.maps;
	rd->raw_bind = r.bind;
	rd->raw_attach = r.attach;
	raw_ioctls_close(&r);
	return 0;
}

static int ours_round(const struct raw_plan *p, struct round *rd,
		      struct kho_diag *diag)
{
	struct kho_verify_report vr;
	struct kho_replay r;
	uint64_t t0, t1;
	int ret;

	kho_replay_init(&r);
	t0 = now_ns();
	ret = kho_replay_run(&r, p->h, p->memfds, p->nr_memfds, diag);
	t1 = now_ns();
	if (!ret)
		ret = kho_verify_run(&r, p->h, p->memfds, p->nr_memfds,
				     KHO_VERIFY_PROBE_SAMPLE, &vr, diag);
	rd->verify = now_ns() - t1;
	rd->replay = t1 - t0;
	rd->ours = rd->replay + rd->verify;
	rd->ours_maps = r.stat[KHO_OP_IOAS_MAP_FILE].ns;
	rd->ours_bind = r.stat[KHO_OP_DEVICE_BIND].ns;
	rd->ours_attach = r.stat[KHO_OP_DEVICE_ATTACH].ns;
	rd->ours_identity = r.identity_ns;
	kho_replay_release(&r);
	return ret;
}

/* The least disturbed round: what wall clock on a loaded host can tell. */
static double best_ms(const struct round *rs, int n, size_t off)
{
	uint64_t v, best = UINT64_MAX;
	int i;

	for (i = 0; i < n; i++) {
		memcpy(&v, (const char *)&rs[i] + off, sizeof(v));
		if (v < best)
			best = v;
	}
	return best / 1e6;
}

/*
 * Preserve the memfds and the hand-off for bare-restore, then hold the
 * session: closing it before the kexec would unpreserve it.  Returns only
 * on failure or a signal.
 */
static int preserve_for_bare(const struct kho_replay_memfd *memfds,
			     size_t nr_memfds, const void *blob, size_t len)
{
	int luo, session, plan, ret, sig;
	pid_t child;
	sigset_t set;
	size_t i;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	plan = memfd_create("bare-plan", MFD_CLOEXEC);
	if (plan < 0 || pwrite(plan, blob, len, 0) != (ssize_t)len) {
		fprintf(stderr, "replay-loop: plan memfd: %s\n", strerror(errno));
		return 1;
	}
	luo = kho_luo_open();
	if (luo < 0) {
		fprintf(stderr, "replay-loop: open %s: %s\n", KHO_LUO_DEV,
			strerror(-luo));
		return 1;
	}
	session = kho_luo_create_session(luo, BARE_SESSION);
	if (session < 0) {
		fprintf(stderr, "replay-loop: create session %s: %s\n",
			BARE_SESSION, strerror(-session));
		return 1;
	}
	ret = kho_luo_preserve_fd(session, plan, BARE_PLAN_TOKEN);
	for (i = 0; !ret && i < nr_memfds; i++)
		ret = kho_luo_preserve_fd(session, memfds[i].fd,
					  memfds[i].token);
	if (ret) {
		fprintf(stderr, "replay-loop: preserve for the bare restore: %s\n",
			strerror(-ret));
		return 1;
	}
	/* test-vmm stage opens /dev/liveupdate next: one owner at a time. */
	close(luo);
	/* The caller goes on; the child keeps the session open. */
	child = fork();
	if (child < 0) {
		fprintf(stderr, "replay-loop: fork: %s\n", strerror(errno));
		return 1;
	}
	if (child) {
		printf("replay-loop: bare session ready: %s, %zu memfd(s) and the plan, held by pid %d\n",
		       BARE_SESSION, nr_memfds, (int)child);
		return 0;
	}
	fclose(stdout);
	sigwait(&set, &sig);
	fprintf(stderr, "replay-loop: %s before kexec, bare session unpreserved\n",
		strsignal(sig));
	return 1;
}

/* Wait until @pid has exited: it may still hold the device. */
static int wait_exit(pid_t pid)
{
	struct pollfd pfd = { .events = POLLIN };
	int ret;

	pfd.fd = syscall(SYS_pidfd_open, pid, 0);
	if (pfd.fd < 0)
		return errno == ESRCH ? 0 : -errno;
	ret = poll(&pfd, 1, 30000);
	close(pfd.fd);
	if (ret < 0)
		return -errno;
	return ret ? 0 : -ETIMEDOUT;
}

#define MS(field) median_ms(rs, rounds, offsetof(struct round, field))
#define BEST(field) best_ms(rs, rounds, offsetof(struct round, field))

int main(int argc, char **argv)
{
	struct kho_diag diag = { "" };
	struct kho_replay_memfd *memfds;
	struct round rs[MAX_ROUNDS];
	struct kho_adopt_token token;
	struct kho_adopt_set set;
	struct kho_handoff h;
	struct raw_plan p;
	uint64_t t0, decode_ns;
	size_t len, i;
	void *blob;
	int rounds, k, ret, for_bare = 0, wait_pid = 0;

	rounds = argc >= 2 ? atoi(argv[1]) : 0;
	for (k = 2; k < argc; k++) {
		if (!strcmp(argv[k], "--preserve-for-bare"))
			for_bare = 1;
		else if (!strcmp(argv[k], "--wait-pid") && k + 1 < argc)
			wait_pid = atoi(argv[++k]);
		else
			rounds = 0;
	}
	if (rounds < 1 || rounds > MAX_ROUNDS) {
		fprintf(stderr, "usage: replay-loop ROUNDS (1..%d) [--wait-pid PID] [--preserve-for-bare]\n",
			MAX_ROUNDS);
		return 2;
	}
	/*
	 * Adopt like a VMM its root launcher started, with the agent's
	 * token: the agent then finishes the session.
	 */
	ret = kho_adopt_token_read(KHO_ADOPT_TOKEN_FILE, &token, &diag);
	if (!ret)
		ret = kho_adopt_connect(KHO_ADOPT_SOCK, &token, &set, &diag);
	if (ret) {
		fprintf(stderr, "replay-loop: adopt: %s\n", diag.msg);
		return 1;
	}
	memfds = calloc(set.nr_memfd + 1, sizeof(*memfds));
	if (!memfds)
		return 1;
	for (i = 0; i < set.nr_memfd; i++) {
		memfds[i].token = set.memfd[i].token;
		memfds[i].fd = set.memfd[i].fd;
	}
	/* Keep the memfds, free the device and every mapping. */
	for (i = 0; i < set.nr_dev; i++)
		close(set.dev[i].fd);
	close(set.iommufd);
	if (wait_pid > 0) {
		ret = wait_exit(wait_pid);
		if (ret) {
			fprintf(stderr, "replay-loop: the agent (pid %d) did not exit: %s\n",
				wait_pid, strerror(-ret));
			return 1;
		}
	}

	ret = kho_read_file(KHO_RUN_DIR "/handoff.fdt", &blob, &len);
	if (ret) {
		fprintf(stderr, "replay-loop: %s/handoff.fdt: %s\n",
			KHO_RUN_DIR, strerror(-ret));
		return 1;
	}
	t0 = now_ns();
	ret = kho_handoff_decode(blob, len, &h, &diag);
	decode_ns = now_ns() - t0;
	p = (struct raw_plan){ .h = &h, .memfds = memfds,
			       .nr_memfds = set.nr_memfd };
	if (!ret)
		ret = raw_plan_cdev(&h, p.cdev, sizeof(p.cdev), &diag);
	if (ret) {
		fprintf(stderr, "replay-loop: %s\n", diag.msg);
		return 1;
	}
	memset(rs, 0, sizeof(rs));
	for (k = 0; k < rounds; k++) {
		ret = ours_round(&p, &rs[k], &diag);
		if (ret) {
			fprintf(stderr, "replay-loop: round %d: %s\n", k, diag.msg);
			return 1;
		}
		ret = raw_round(&p, &rs[k]);
		if (ret) {
			fprintf(stderr, "replay-loop: round %d: raw: %s\n", k,
				strerror(-ret));
			return 1;
		}
		printf("replay-loop: round %d: replay %.3f verify %.3f raw %.3f ms (maps %.3f/%.3f, open+bind %.3f/%.3f, attach %.3f/%.3f, identity %.3f)\n",
		       k, rs[k].replay / 1e6, rs[k].verify / 1e6, rs[k].raw / 1e6,
		       rs[k].ours_maps / 1e6, rs[k].raw_maps / 1e6,
		       rs[k].ours_bind / 1e6, rs[k].raw_bind / 1e6,
		       rs[k].ours_attach / 1e6, rs[k].raw_attach / 1e6,
		       rs[k].ours_identity / 1e6);
	}
	/* One line, key value pairs, for the host script. */
	printf("replay-loop: medians rounds %d ours %.3f replay %.3f verify %.3f raw %.3f ours_maps %.3f raw_maps %.3f ours_bind %.3f raw_bind %.3f ours_attach %.3f raw_attach %.3f identity %.3f decode_warm %.3f best_ours %.3f best_raw %.3f\n",
	       rounds, MS(ours), MS(replay), MS(verify), MS(raw), MS(ours_maps),
	       MS(raw_maps), MS(ours_bind), MS(raw_bind), MS(ours_attach),
	       MS(raw_attach), MS(ours_identity), decode_ns / 1e6, BEST(ours),
	       BEST(raw));
	fflush(stdout);
	if (for_bare)
		return preserve_for_bare(memfds, set.nr_memfd, blob, len);
	kho_handoff_free(&h);
	free(blob);
	return 0;
}
