// SPDX-License-Identifier: GPL-2.0
/*
 * bare-restore: the bare side of bench/replay-vm.sh's agent-total ratio.
 * A restore without kho-tool still has to get its guest RAM back from LUO
 * after the kexec, so the floor the agent's whole restore is measured
 * against is: retrieve a session and its memfds with the raw LUO ioctls,
 * then issue the same iommufd/VFIO ioctls bare (raw-ioctls.h).  Nothing
 * else: no FDT decode, no verify, no logging.
 *
 * LUO retrieves a session once per boot, so the bare side restores one
 * boot after the agent: replay-loop --preserve-for-bare preserved the
 * agent's own guest-RAM memfd again (same folios, same physical pages)
 * and the hand-off, in session BARE_SESSION, before the next kexec.
 *
 *   bare-restore first-open
 *       first thing after the kexec: the first open of /dev/liveupdate
 *       deserializes every incoming session, the agent's and the bare
 *       one, and whoever came first would pay for the other's; so neither
 *       does, and its cost is printed apart.
 *   bare-restore restore ROUNDS
 *       timed: open /dev/liveupdate, RETRIEVE_SESSION, close it (as the
 *       agent does).  Untimed: RETRIEVE_FD of the plan (the agent's
 *       hand-off), its decode and the cdev's lookup (a bare VMM knows its
 *       layout and its device).  Timed again: RETRIEVE_FD of every memfd
 *       the hand-off names, and the bare ioctls.  The total is the sum of
 *       the two timed spans.  Sizes are checked after them.
 *       Then the bare ioctls again, ROUNDS times on the same memfd: their
 *       median, set beside replay-loop's raw median in the agent's boot
 *       (same code, same memfd), tells whether the two boots cost the
 *       same.
 *
 * Built and shipped by bench/replay-vm.sh (static, like the agent).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "journal_sock.h"
#include "luo.h"
#include "raw-ioctls.h"

static int fail(const char *what, int err)
{
	fprintf(stderr, "bare-restore: %s: %s\n", what, strerror(-err));
	return 1;
}

static int cmd_first_open(void)
{
	uint64_t t0 = now_ns(), ns;
	int luo = kho_luo_open();

	if (luo < 0)
		return fail("open " KHO_LUO_DEV, luo);
	close(luo);
	ns = now_ns() - t0;
	printf("luo-first-open %.3f\n", ns / 1e6);
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static double median_ms(uint64_t *v, int n)
{
	qsort(v, n, sizeof(v[0]), cmp_u64);
	return v[(n - 1) / 2] / 1e6;
}

#define MAX_ROUNDS 64

/* The warm bare ioctls on the bare memfd, teardown outside each round. */
static int warm_rounds(const struct kho_ioas *ioas,
		       const struct kho_replay_memfd *memfds, size_t nr,
		       const char *cdev, int rounds)
{
	uint64_t total[MAX_ROUNDS], maps[MAX_ROUNDS], attach[MAX_ROUNDS];
	struct raw_ioctls r;
	int k, ret;

	for (k = 0; k < rounds; k++) {
		ret = raw_ioctls_run(ioas, memfds, nr, cdev, &r);
		if (ret)
			return fail("warm bare ioctls", ret);
		total[k] = r.total;
		maps[k] = r.maps;
		attach[k] = r.attach;
		raw_ioctls_close(&r);
	}
	printf("bare-warm %.3f bare-warm-maps %.3f bare-warm-attach %.3f\n",
	       median_ms(total, rounds), median_ms(maps, rounds),
	       median_ms(attach, rounds));
	return 0;
}

static int cmd_restore(int rounds)
{
	struct kho_diag diag = { "" };
	struct kho_replay_memfd *memfds;
	uint64_t t0, t1, t2, t3, t4;
	struct raw_ioctls r;
	struct kho_handoff h;
	char cdev[64], path[64];
	int luo, session, plan, ret;
	size_t len, i, nr;
	struct stat st;
	void *blob;

	t0 = now_ns();
	luo = kho_luo_open();
	if (luo < 0)
		return fail("open " KHO_LUO_DEV, luo);
	session = kho_luo_retrieve_session(luo, BARE_SESSION);
	if (session < 0)
		return fail("retrieve session " BARE_SESSION, session);
	close(luo);
	t1 = now_ns();

	/* Which ioctls to issue: outside the timed spans. */
	plan = kho_luo_retrieve_fd(session, BARE_PLAN_TOKEN);
	if (plan < 0)
		return fail("retrieve the plan", plan);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", plan);
	ret = kho_read_file(path, &blob, &len);
	if (ret)
		return fail("read the plan", ret);
	ret = kho_handoff_decode(blob, len, &h, &diag);
	if (!ret)
		ret = raw_plan_cdev(&h, cdev, sizeof(cdev), &diag);
	if (ret) {
		fprintf(stderr, "bare-restore: %s\n", diag.msg);
		return 1;
	}
	nr = h.state.nr_memfd;
	memfds = calloc(nr + 1, sizeof(*memfds));
	if (!memfds)
		return fail("calloc", -ENOMEM);

	t2 = now_ns();
	for (i = 0; i < nr; i++) {
		memfds[i].token = h.state.memfd[i].token;
		memfds[i].fd = kho_luo_retrieve_fd(session, memfds[i].token);
		if (memfds[i].fd < 0)
			return fail("retrieve a memfd", memfds[i].fd);
	}
	t3 = now_ns();
	ret = raw_ioctls_run(&h.state.ioas[0], memfds, nr, cdev, &r);
	t4 = now_ns();
	if (ret)
		return fail("bare ioctls", ret);

	/* The same guest RAM as the agent's, or the ratio means nothing. */
	for (i = 0; i < nr; i++) {
		if (fstat(memfds[i].fd, &st) < 0)
			return fail("fstat", -errno);
		if ((uint64_t)st.st_size != h.state.memfd[i].size) {
			fprintf(stderr, "bare-restore: memfd token 0x%llx: %lld bytes, the agent's had %llu\n",
				(unsigned long long)memfds[i].token,
				(long long)st.st_size,
				(unsigned long long)h.state.memfd[i].size);
			return 1;
		}
	}
	printf("bare-restore: %zu maps, %zu memfd(s), %s\n",
	       h.state.ioas[0].nr_maps, nr, cdev);
	/* One line, key value pairs, for the host script. */
	printf("bare-total %.3f bare-session %.3f bare-memfds %.3f bare-ioctls %.3f baresplit %.3f %.3f %.3f\n",
	       (t1 - t0 + t4 - t2) / 1e6, (t1 - t0) / 1e6, (t3 - t2) / 1e6,
	       (t4 - t3) / 1e6, r.maps / 1e6, r.bind / 1e6, r.attach / 1e6);
	raw_ioctls_close(&r);
	if (warm_rounds(&h.state.ioas[0], memfds, nr, cdev, rounds))
		return 1;
	/* Closing the retrieved session finishes it. */
	for (i = 0; i < nr; i++)
		close(memfds[i].fd);
	close(plan);
	close(session);
	kho_handoff_free(&h);
	free(blob);
	free(memfds);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "first-open"))
		return cmd_first_open();
	if (argc == 3 && !strcmp(argv[1], "restore") &&
	    atoi(argv[2]) >= 1 && atoi(argv[2]) <= MAX_ROUNDS)
		return cmd_restore(atoi(argv[2]));
	fprintf(stderr, "usage: bare-restore first-open | restore ROUNDS (1..%d)\n",
		MAX_ROUNDS);
	return 2;
}
