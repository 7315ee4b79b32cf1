// SPDX-License-Identifier: GPL-2.0
/*
 * bare-restore: the bare side of bench/replay-vm.sh's agent-total ratio.
 * A restore without kho-tool still has to get its guest RAM back from LUO
 * after the kexec, so the floor the agent's whole restore is measured
 * against is: retrieve a session and its memfds with the raw LUO ioctls,
 * then issue the same iommufd/VFIO ioctls bare (raw-ioctls.h).  Nothing
 * else: no hand-off, no FDT decode, no verify, no logging.
 *
 * One memfd cannot be preserved in two sessions (LUO 7.2 keys
 * luo_preserved_files by the memfd's inode: the second PRESERVE_FD gets
 * EBUSY), so the bare side preserves its own memfd, of the same size and
 * filled the same way, in its own session, before the same kexec as the
 * agent's: one boot then serves both sides.
 *
 *   bare-restore preserve SIZE TOKEN
 *       before the kexec: a SIZE-byte memfd, every page written through a
 *       shared mapping like test-vmm stage's guest RAM, preserved under
 *       TOKEN in session "kho-bench-bare"; /dev/liveupdate is closed
 *       again (test-vmm stage opens it next) and the session is held until
 *       the kexec.
 *   bare-restore first-open
 *       after the kexec, before either side: the first open of
 *       /dev/liveupdate deserializes every incoming session, the agent's
 *       and this one.  Whoever came first would pay for both, so neither
 *       does; its cost is printed apart.
 *   bare-restore restore ROUNDS
 *       after the agent and replay-loop: the ioctls to issue are taken
 *       from the agent's hand-off (/run/kho-tool/handoff.fdt), decoded
 *       before the timed window as a bare VMM would know its layout; then,
 *       timed end to end: open /dev/liveupdate, RETRIEVE_SESSION, close
 *       it (as the agent does), RETRIEVE_FD of every memfd the hand-off
 *       names, and the bare ioctls.  Sizes are checked after the window.
 *       Then the bare ioctls again, ROUNDS times on the same memfd: their
 *       median, set beside replay-loop's raw median on the agent's memfd,
 *       tells whether the two memfds cost the same to map and attach
 *       (their folios lie elsewhere in physical memory, and iommufd maps
 *       a physically contiguous run at once).
 *
 * Built and shipped by bench/replay-vm.sh (static, like the agent).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "journal_sock.h"
#include "luo.h"
#include "raw-ioctls.h"

#define BARE_SESSION "kho-bench-bare"

static int fail(const char *what, int err)
{
	fprintf(stderr, "bare-restore: %s: %s\n", what, strerror(-err));
	return 1;
}

static int cmd_preserve(const char *size_arg, const char *token_arg)
{
	size_t size = strtoull(size_arg, NULL, 0);
	uint64_t token = strtoull(token_arg, NULL, 0);
	int memfd, luo, session, ret, sig;
	sigset_t set;
	uint8_t *ram;

	if (!size || size % 4096 || !token)
		return fail("usage: preserve SIZE TOKEN", -EINVAL);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);

	/*
	 * Like test-vmm stage's guest RAM (plain shmem, written through a
	 * shared mapping): the kernel's retrieve restores one folio per
	 * preserved folio, so the same size written the same way costs the
	 * same to retrieve.
	 */
	memfd = memfd_create("bare-ram", MFD_CLOEXEC);
	if (memfd < 0)
		return fail("memfd_create", -errno);
	if (ftruncate(memfd, size) < 0)
		return fail("ftruncate", -errno);
	ram = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	if (ram == MAP_FAILED)
		return fail("mmap", -errno);
	memset(ram, 0x5a, size);
	munmap(ram, size);

	luo = kho_luo_open();
	if (luo < 0)
		return fail("open " KHO_LUO_DEV, luo);
	session = kho_luo_create_session(luo, BARE_SESSION);
	if (session < 0)
		return fail("create session " BARE_SESSION, session);
	ret = kho_luo_preserve_fd(session, memfd, token);
	if (ret)
		return fail("preserve the memfd", ret);
	/* test-vmm stage opens /dev/liveupdate next: one owner at a time. */
	close(luo);
	printf("bare-restore: ready pid=%d session %s memfd %zu bytes token 0x%llx\n",
	       getpid(), BARE_SESSION, size, (unsigned long long)token);
	fflush(stdout);
	/* Closing the session before the kexec would unpreserve it. */
	sigwait(&set, &sig);
	fprintf(stderr, "bare-restore: %s before kexec, session unpreserved\n",
		strsignal(sig));
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
	uint64_t t0, t1, t2, t3;
	struct raw_ioctls r;
	struct kho_handoff h;
	char name[32], cdev[64];
	int luo, session, ret;
	size_t len, i, nr;
	struct stat st;
	void *blob;

	/* Which ioctls to issue: outside the timed window. */
	ret = kho_read_file(KHO_RUN_DIR "/handoff.fdt", &blob, &len);
	if (ret)
		return fail(KHO_RUN_DIR "/handoff.fdt", ret);
	ret = kho_handoff_decode(blob, len, &h, &diag);
	if (!ret)
		ret = raw_plan_check(&h, &diag);
	if (!ret)
		ret = kho_replay_find_cdev("/sys", &h.state.dev[0].pci,
					   h.state.dev[0].driver, name,
					   sizeof(name), &diag);
	if (ret) {
		fprintf(stderr, "bare-restore: %s\n", diag.msg);
		return 1;
	}
	snprintf(cdev, sizeof(cdev), "/dev/vfio/devices/%s", name);
	nr = h.state.nr_memfd;
	memfds = calloc(nr + 1, sizeof(*memfds));
	if (!memfds)
		return fail("calloc", -ENOMEM);

	t0 = now_ns();
	luo = kho_luo_open();
	if (luo < 0)
		return fail("open " KHO_LUO_DEV, luo);
	session = kho_luo_retrieve_session(luo, BARE_SESSION);
	if (session < 0)
		return fail("retrieve session " BARE_SESSION, session);
	close(luo);
	t1 = now_ns();
	for (i = 0; i < nr; i++) {
		memfds[i].token = h.state.memfd[i].token;
		memfds[i].fd = kho_luo_retrieve_fd(session, memfds[i].token);
		if (memfds[i].fd < 0)
			return fail("retrieve a memfd", memfds[i].fd);
	}
	t2 = now_ns();
	ret = raw_ioctls_run(&h.state.ioas[0], memfds, nr, cdev, &r);
	t3 = now_ns();
	if (ret)
		return fail("bare ioctls", ret);

	/* The same guest RAM as the agent's, or the ratio means nothing. */
	for (i = 0; i < nr; i++) {
		if (fstat(memfds[i].fd, &st) < 0)
			return fail("fstat", -errno);
		if ((uint64_t)st.st_size != h.state.memfd[i].size) {
			fprintf(stderr, "bare-restore: memfd token 0x%llx: %lld bytes, the agent's has %llu\n",
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
	       (t3 - t0) / 1e6, (t1 - t0) / 1e6, (t2 - t1) / 1e6,
	       (t3 - t2) / 1e6, r.maps / 1e6, r.bind / 1e6, r.attach / 1e6);
	raw_ioctls_close(&r);
	if (warm_rounds(&h.state.ioas[0], memfds, nr, cdev, rounds))
		return 1;
	/* Closing the retrieved session finishes it. */
	for (i = 0; i < nr; i++)
		close(memfds[i].fd);
	close(session);
	kho_handoff_free(&h);
	free(blob);
	free(memfds);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "preserve"))
		return cmd_preserve(argv[2], argv[3]);
	if (argc == 2 && !strcmp(argv[1], "first-open"))
		return cmd_first_open();
	if (argc == 3 && !strcmp(argv[1], "restore") &&
	    atoi(argv[2]) >= 1 && atoi(argv[2]) <= MAX_ROUNDS)
		return cmd_restore(atoi(argv[2]));
	fprintf(stderr, "usage: bare-restore preserve SIZE TOKEN | first-open | restore ROUNDS (1..%d)\n",
		MAX_ROUNDS);
	return 2;
}
