// SPDX-License-Identifier: GPL-2.0
/*
 * kho-model: the model-based test of the record -> compact -> replay ->
 * verify path, against the kernel itself.  For each seed it runs a random
 * sequence of journaled iommufd ioctls (gen.c) on one iommufd through the
 * linked recorder (lib/record.h), as a VMM is recorded; builds the
 * hand-off as capture does (kho_capture_build(): compaction, encoding),
 * decodes it as the agent does, replays it into a fresh iommufd in the
 * same process (kho_replay_run()) and runs the product's verify
 * (kho_verify_run()).  Then its own probe compares the two iommufds:
 * IOAS count, IOVA_RANGES, HUGE_PAGES, every page of the IOVA window
 * (EEXIST where the original has an area, a successful map in every
 * hole), where auto IOVAs land (allowed ranges), each area's translation
 * through the mock domains (IOMMU_TEST_OP_MD_CHECK_MAP), and finally each
 * area's exact boundaries by unmapping it in both.  On a kernel with the
 * iommufd journal (patches/) the kernel's journal is checked against the
 * recorder's first, as capture does.
 *
 * A failing sequence prints its seed and is shrunk (calls dropped while it
 * still fails) to a short list of calls.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <linux/iommufd.h>

#include "adopt.h"
#include "capture.h"
#include "handoff.h"
#include "iommufd_test.h"
#include "kjournal.h"
#include "record.h"
#include "replay.h"
#include "verify.h"
#include "model.h"

#define MAX_CALLS	256
#define PROBE_PAGES	128	/* the probe memfd; > the window */
#define LOW_PAGES	64	/* auto IOVAs of an IOAS with no domain land low */
#define MAX_ID		128	/* IDs scanned for IOASes */
#define SHRINK_RUNS	400

struct mock_dev {
	uint32_t stdev, hwpt;
};

/* One iommufd as the test drives it. */
struct side {
	int fd;
	uint32_t id[MDL_SLOTS];
	struct mock_dev mock[MDL_SLOTS][MDL_MOCKS];
};

struct env {
	int memfd[2];
	uint8_t *mem[2];
	int probe_fd;
	unsigned int exclude;
	bool kjournal;		/* the kernel has the iommufd journal */
	bool verbose;
	/* what the sequences exercised, for the summary */
	unsigned long calls, ok[MDL_OP_MAX + 1], failed[MDL_OP_MAX + 1];
	unsigned long partial, auto_ok, journaled, plan, probes, kj_checked, kj_refused;
	/* seconds per phase: calls, capture, replay+verify, mocks, probes */
	double t[6];
	double op_t[MDL_OP_MAX + 1];
};

/* Why a sequence failed: the stage, then the detail. */
struct verdict {
	char stage[24];
	char msg[512];
};

static __attribute__((format(printf, 3, 4)))
int fail(struct verdict *v, const char *stage, const char *fmt, ...)
{
	va_list ap;

	snprintf(v->stage, sizeof(v->stage), "%s", stage);
	va_start(ap, fmt);
	vsnprintf(v->msg, sizeof(v->msg), fmt, ap);
	va_end(ap);
	return 1;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* --- raw ioctls (probes and mock devices: never journaled) --------------- */

static int xioctl(struct kho_record *rec, int fd, unsigned long cmd, void *arg)
{
	if (rec)
		return kho_record_ioctl(rec, fd, cmd, arg);
	return ioctl(fd, cmd, arg) ? -errno : 0;
}

static int map_file(struct kho_record *rec, int fd, uint32_t ioas, int memfd,
		    uint64_t off, uint64_t len, uint64_t *iova, bool fixed,
		    bool readonly)
{
	struct iommu_ioas_map_file m = {
		.size = sizeof(m),
		.flags = IOMMU_IOAS_MAP_READABLE |
			 (readonly ? 0 : IOMMU_IOAS_MAP_WRITEABLE) |
			 (fixed ? IOMMU_IOAS_MAP_FIXED_IOVA : 0),
		.ioas_id = ioas, .fd = memfd, .start = off, .length = len,
		.iova = fixed ? *iova : 0,
	};
	int ret = xioctl(rec, fd, IOMMU_IOAS_MAP_FILE, &m);

	if (!ret)
		*iova = m.iova;
	return ret;
}

static int unmap(struct kho_record *rec, int fd, uint32_t ioas, uint64_t iova,
		 uint64_t len, uint64_t *out)
{
	struct iommu_ioas_unmap u = {
		.size = sizeof(u), .ioas_id = ioas, .iova = iova, .length = len,
	};
	int ret = xioctl(rec, fd, IOMMU_IOAS_UNMAP, &u);

	if (out)
		*out = ret ? 0 : u.length;
	return ret;
}

static int destroy(struct kho_record *rec, int fd, uint32_t id)
{
	struct iommu_destroy d = { .size = sizeof(d), .id = id };

	return xioctl(rec, fd, IOMMU_DESTROY, &d);
}

static int mock_add(int fd, uint32_t ioas, struct mock_dev *m)
{
	struct iommu_test_cmd cmd = {
		.size = sizeof(cmd), .op = IOMMU_TEST_OP_MOCK_DOMAIN, .id = ioas,
	};

	if (ioctl(fd, IOMMU_TEST_CMD, &cmd))
		return -errno;
	m->stdev = cmd.mock_domain.out_stdev_id;
	m->hwpt = cmd.mock_domain.out_hwpt_id;
	return 0;
}

static int mock_check_map(int fd, uint32_t hwpt, uint64_t iova, uint64_t len,
			  const void *va)
{
	struct iommu_test_cmd cmd = {
		.size = sizeof(cmd), .op = IOMMU_TEST_OP_MD_CHECK_MAP, .id = hwpt,
		.check_map = { .iova = iova, .length = len, .uptr = (uintptr_t)va },
	};

	return ioctl(fd, IOMMU_TEST_CMD, &cmd) ? -errno : 0;
}

static int huge_pages_get(int fd, uint32_t ioas, uint64_t *val)
{
	struct iommu_option o = {
		.size = sizeof(o), .option_id = IOMMU_OPTION_HUGE_PAGES,
		.op = IOMMU_OPTION_OP_GET, .object_id = ioas,
	};
	int ret = ioctl(fd, IOMMU_OPTION, &o) ? -errno : 0;

	*val = o.val64;
	return ret;
}

struct ranges {
	int ret;
	uint32_t num;
	uint64_t align;
	struct iommu_iova_range r[8];
};

static void iova_ranges(int fd, uint32_t ioas, struct ranges *out)
{
	struct iommu_ioas_iova_ranges q = {
		.size = sizeof(q), .ioas_id = ioas, .num_iovas = 8,
		.allowed_iovas = (uintptr_t)out->r,
	};

	memset(out, 0, sizeof(*out));
	out->ret = ioctl(fd, IOMMU_IOAS_IOVA_RANGES, &q) ? -errno : 0;
	out->num = q.num_iovas;
	out->align = q.out_iova_alignment;
}

/* IOASes on @fd: IOVA_RANGES answers ENOENT for anything else. */
static unsigned int count_ioas(int fd)
{
	struct iommu_ioas_iova_ranges q;
	unsigned int id, n = 0;

	for (id = 1; id < MAX_ID; id++) {
		q = (struct iommu_ioas_iova_ranges){ .size = sizeof(q), .ioas_id = id };
		if (!ioctl(fd, IOMMU_IOAS_IOVA_RANGES, &q) || errno != ENOENT)
			n++;
	}
	return n;
}

/* 0: a hole (mapped and unmapped again); -EEXIST: an area; else -errno. */
static int probe_page(struct env *e, int fd, uint32_t ioas, uint64_t iova)
{
	uint64_t at = iova;
	int ret = map_file(NULL, fd, ioas, e->probe_fd, 0, MDL_PAGE, &at, true,
			   false);

	e->probes++;
	if (!ret && unmap(NULL, fd, ioas, iova, MDL_PAGE, NULL))
		return -EIO;
	return ret;
}

/* The same for @pages pages from @iova. */
static int probe_run(struct env *e, int fd, uint32_t ioas, uint64_t iova,
		     uint64_t pages)
{
	uint64_t at = iova;
	int ret = map_file(NULL, fd, ioas, e->probe_fd, 0, pages * MDL_PAGE, &at,
			   true, false);

	e->probes++;
	if (!ret && unmap(NULL, fd, ioas, iova, pages * MDL_PAGE, NULL))
		return -EIO;
	return ret;
}

/* --- one call of a sequence on the recorded iommufd ---------------------- */

#define SKIPPED 1	/* the call makes no sense here (a shrunk sequence) */

static int run_call(struct env *e, struct kho_record *rec, struct side *a,
		    struct mdl_shadow *s, const struct mdl_call *c)
{
	struct mdl_slot *sl = &s->slot[c->slot];
	uint32_t id = a->id[c->slot];
	uint64_t iova = c->iova, out;
	int ret;

	if (c->op != MDL_ALLOC && !sl->live)
		return SKIPPED;
	switch (c->op) {
	case MDL_ALLOC: {
		struct iommu_ioas_alloc al = { .size = sizeof(al) };

		if (sl->live)
			return SKIPPED;
		ret = xioctl(rec, a->fd, IOMMU_IOAS_ALLOC, &al);
		if (!ret) {
			memset(sl, 0, sizeof(*sl));
			sl->live = true;
			sl->huge_pages = -1;
			sl->id = a->id[c->slot] = al.out_ioas_id;
		}
		return ret;
	}
	case MDL_DESTROY:
		ret = destroy(rec, a->fd, id);
		if (!ret) {
			memset(sl, 0, sizeof(*sl));
			sl->huge_pages = -1;
			a->id[c->slot] = 0;
		}
		return ret;
	case MDL_ALLOW: {
		struct iommu_iova_range r[MDL_MAX_RANGES];
		struct iommu_ioas_allow_iovas al = {
			.size = sizeof(al), .num_iovas = c->nr_ranges, .ioas_id = id,
			.allowed_iovas = (uintptr_t)r,
		};
		unsigned int i;

		for (i = 0; i < c->nr_ranges; i++)
			r[i] = (struct iommu_iova_range){ c->range[i].start,
							  c->range[i].last };
		ret = xioctl(rec, a->fd, IOMMU_IOAS_ALLOW_IOVAS, &al);
		if (!ret) {
			sl->nr_ranges = c->nr_ranges;
			memcpy(sl->range, c->range, sizeof(sl->range));
		}
		return ret;
	}
	case MDL_MAP_VA: {
		struct iommu_ioas_map m = {
			.size = sizeof(m),
			.flags = IOMMU_IOAS_MAP_READABLE |
				 (c->readonly ? 0 : IOMMU_IOAS_MAP_WRITEABLE) |
				 (c->fixed ? IOMMU_IOAS_MAP_FIXED_IOVA : 0),
			.ioas_id = id, .user_va = (uintptr_t)(e->mem[0] + c->offset),
			.length = c->length, .iova = c->iova,
		};

		ret = xioctl(rec, a->fd, IOMMU_IOAS_MAP, &m);
		iova = m.iova;
		goto mapped;
	}
	case MDL_MAP_FILE:
		ret = map_file(rec, a->fd, id, e->memfd[c->memfd], c->offset,
			       c->length, &iova, c->fixed, c->readonly);
mapped:
		if (!ret) {
			struct mdl_area ar = { .iova = iova, .length = c->length,
					       .memfd = c->op == MDL_MAP_VA ? 0 : c->memfd,
					       .offset = c->offset };

			if (!c->fixed)
				e->auto_ok++;
			if (mdl_shadow_add(sl, &ar))
				return -ENOSPC;
		}
		return ret;
	case MDL_COPY: {
		struct iommu_ioas_copy cp = {
			.size = sizeof(cp),
			.flags = IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE |
				 (c->fixed ? IOMMU_IOAS_MAP_FIXED_IOVA : 0),
			.dst_ioas_id = id, .src_ioas_id = a->id[c->src],
			.length = c->length, .dst_iova = c->iova,
			.src_iova = c->offset,
		};

		if (!s->slot[c->src].live)
			return SKIPPED;
		ret = xioctl(rec, a->fd, IOMMU_IOAS_COPY, &cp);
		if (!ret) {
			if (!c->fixed)
				e->auto_ok++;
			if (mdl_shadow_copy(sl, &s->slot[c->src], c->offset,
					    c->length, cp.dst_iova))
				return -ENOSPC;
		}
		return ret;
	}
	case MDL_UNMAP:
		ret = unmap(rec, a->fd, id, c->iova, c->length, NULL);
		if (mdl_shadow_unmap(sl, c->iova, c->length, ret) && ret)
			e->partial++;
		return ret;
	case MDL_UNMAP_ALL:
		ret = unmap(rec, a->fd, id, 0, UINT64_MAX, &out);
		if (!ret)
			sl->nr = 0;
		return ret;
	case MDL_OPTION: {
		struct iommu_option o = {
			.size = sizeof(o), .option_id = IOMMU_OPTION_HUGE_PAGES,
			.op = IOMMU_OPTION_OP_SET, .object_id = id, .val64 = c->value,
		};

		ret = xioctl(rec, a->fd, IOMMU_OPTION, &o);
		if (!ret)
			sl->huge_pages = c->value;
		return ret;
	}
	case MDL_MOCK_ADD:
		if (sl->nr_mock == MDL_MOCKS)
			return SKIPPED;
		ret = mock_add(a->fd, id, &a->mock[c->slot][sl->nr_mock]);
		if (!ret)
			sl->nr_mock++;
		return ret;
	case MDL_MOCK_DEL:
		if (c->mock >= sl->nr_mock)
			return SKIPPED;
		ret = destroy(NULL, a->fd, a->mock[c->slot][c->mock].stdev);
		if (!ret) {
			memmove(&a->mock[c->slot][c->mock], &a->mock[c->slot][c->mock + 1],
				(MDL_MOCKS - c->mock - 1) * sizeof(struct mock_dev));
			sl->nr_mock--;
		}
		return ret;
	}
	return SKIPPED;
}

/* --- the comparison ------------------------------------------------------ */

/* Every page to probe in a slot: the window, low IOVAs, areas elsewhere. */
static bool probe_set(const struct mdl_slot *sl, size_t i, uint64_t *iova)
{
	size_t k;

	if (i < MDL_WIN_PAGES) {
		*iova = MDL_WIN_BASE + i * MDL_PAGE;
		return true;
	}
	i -= MDL_WIN_PAGES;
	if (i < LOW_PAGES) {
		*iova = i * MDL_PAGE;
		return true;
	}
	i -= LOW_PAGES;
	/* Areas outside both windows: every page and one past each end. */
	for (k = 0; k < sl->nr; k++) {
		const struct mdl_area *ar = &sl->area[k];
		uint64_t pages = ar->length / MDL_PAGE + 2;

		if (ar->iova < LOW_PAGES * MDL_PAGE + MDL_PAGE ||
		    (ar->iova + MDL_PAGE >= MDL_WIN_BASE &&
		     ar->iova < MDL_WIN_BASE + (MDL_WIN_PAGES + 1) * MDL_PAGE))
			continue;
		if (i < pages) {
			*iova = ar->iova - MDL_PAGE + i * MDL_PAGE;
			return true;
		}
		i -= pages;
	}
	return false;
}

static int compare_slot(struct env *e, struct mdl_slot *sl, unsigned int slot,
			struct side *a, struct side *b, struct verdict *v)
{
	uint32_t ia = a->id[slot], ib = b->id[slot];
	struct ranges ra, rb;
	uint64_t iova, ha, hb, oa, ob, len;
	unsigned int i, m;
	size_t p;
	int pa, pb;

	iova_ranges(a->fd, ia, &ra);
	iova_ranges(b->fd, ib, &rb);
	if (ra.ret || rb.ret || ra.num != rb.num || ra.align != rb.align ||
	    memcmp(ra.r, rb.r, sizeof(ra.r)))
		return fail(v, "probe", "slot %u (IOAS %u, replayed %u): IOVA_RANGES differ: %d, %u ranges, alignment 0x%llx, first 0x%llx-0x%llx against %d, %u, 0x%llx, 0x%llx-0x%llx",
			    slot, ia, ib, ra.ret, ra.num, (unsigned long long)ra.align,
			    (unsigned long long)ra.r[0].start, (unsigned long long)ra.r[0].last,
			    rb.ret, rb.num, (unsigned long long)rb.align,
			    (unsigned long long)rb.r[0].start, (unsigned long long)rb.r[0].last);
	pa = huge_pages_get(a->fd, ia, &ha);
	pb = huge_pages_get(b->fd, ib, &hb);
	if (pa || pb || ha != hb)
		return fail(v, "probe", "slot %u: HUGE_PAGES %llu (%d) in the original, %llu (%d) replayed",
			    slot, (unsigned long long)ha, pa, (unsigned long long)hb, pb);

	/*
	 * Mapping by mapping: EEXIST at every page the shadow has an area
	 * on, and in every run of holes one map of the whole run, which
	 * succeeds only if no page of it is mapped.  A run that does not
	 * succeed alike in both is probed page by page to name the page.
	 */
	for (p = 0; probe_set(sl, p, &iova); p++) {
		const struct mdl_area *ar = mdl_shadow_find(sl, iova);
		uint64_t run = 1, next;

		if (!ar)
			while (probe_set(sl, p + run, &next) && next == iova + run * MDL_PAGE &&
			       !mdl_shadow_find(sl, next) && run < PROBE_PAGES)
				run++;
		if (!ar && run > 1) {
			pa = probe_run(e, a->fd, ia, iova, run);
			pb = probe_run(e, b->fd, ib, iova, run);
			if (pa == pb && pa != -EEXIST) {
				p += run - 1;
				continue;
			}
		}
		pa = probe_page(e, a->fd, ia, iova);
		pb = probe_page(e, b->fd, ib, iova);
		if (pa != pb)
			return fail(v, "probe", "slot %u: IOVA 0x%llx: a one-page map %s in the original (IOAS %u), %s replayed (IOAS %u)",
				    slot, (unsigned long long)iova,
				    kho_errno_name(pa), ia, kho_errno_name(pb), ib);
		if (ar ? pa != -EEXIST : pa == -EEXIST)
			return fail(v, "shadow", "slot %u: IOVA 0x%llx: the test's shadow has %s, the kernel answers %s",
				    slot, (unsigned long long)iova,
				    ar ? "an area" : "a hole", kho_errno_name(pa));
	}

	/*
	 * Allowed ranges and areas decide where an auto IOVA lands: the same
	 * place in both, and a map bigger than every allowed range is
	 * refused in both (fixed IOVAs are not held to allowed ranges:
	 * iopt_check_iova() checks reserved regions only).
	 */
	for (len = MDL_PAGE; len <= PROBE_PAGES * MDL_PAGE; len *= 2) {
		oa = ob = 0;
		pa = map_file(NULL, a->fd, ia, e->probe_fd, 0, len, &oa, false, false);
		pb = map_file(NULL, b->fd, ib, e->probe_fd, 0, len, &ob, false, false);
		if (!pa)
			unmap(NULL, a->fd, ia, oa, len, NULL);
		if (!pb)
			unmap(NULL, b->fd, ib, ob, len, NULL);
		if (pa != pb || oa != ob)
			return fail(v, "probe", "slot %u: an auto-IOVA map of 0x%llx bytes: %s at 0x%llx in the original, %s at 0x%llx replayed",
				    slot, (unsigned long long)len, kho_errno_name(pa),
				    (unsigned long long)oa, kho_errno_name(pb),
				    (unsigned long long)ob);
		if (sl->nr_ranges && len > MDL_WIN_PAGES * MDL_PAGE && pa != -ENOSPC)
			return fail(v, "shadow", "slot %u: an auto-IOVA map of 0x%llx bytes, more than every allowed range, gave %s",
				    slot, (unsigned long long)len, kho_errno_name(pa));
	}

	/* The kernel's own check of each translation, in every mock domain. */
	for (m = 0; m < sl->nr_mock; m++)
		for (i = 0; i < sl->nr; i++) {
			const struct mdl_area *ar = &sl->area[i];
			const uint8_t *va = e->mem[ar->memfd] + ar->offset;

			pa = mock_check_map(a->fd, a->mock[slot][m].hwpt, ar->iova, ar->length, va);
			pb = mock_check_map(b->fd, b->mock[slot][m].hwpt, ar->iova, ar->length, va);
			if (pa || pb)
				return fail(v, "probe", "slot %u: mock domain %u: area 0x%llx+0x%llx (memfd %u +0x%llx) does not translate: %s in the original (HWPT %u), %s replayed (HWPT %u)",
					    slot, m, (unsigned long long)ar->iova,
					    (unsigned long long)ar->length, ar->memfd,
					    (unsigned long long)ar->offset,
					    kho_errno_name(pa), a->mock[slot][m].hwpt,
					    kho_errno_name(pb), b->mock[slot][m].hwpt);
		}

	/* Area boundaries: each area unmaps exactly, in both; then nothing. */
	for (i = 0; i < sl->nr; i++) {
		const struct mdl_area *ar = &sl->area[i];

		pa = unmap(NULL, a->fd, ia, ar->iova, ar->length, &oa);
		pb = unmap(NULL, b->fd, ib, ar->iova, ar->length, &ob);
		if (pa || pb || oa != ar->length || ob != ar->length)
			return fail(v, "probe", "slot %u: UNMAP of area 0x%llx+0x%llx: %s (0x%llx bytes) in the original, %s (0x%llx bytes) replayed",
				    slot, (unsigned long long)ar->iova,
				    (unsigned long long)ar->length, kho_errno_name(pa),
				    (unsigned long long)oa, kho_errno_name(pb),
				    (unsigned long long)ob);
	}
	pa = unmap(NULL, a->fd, ia, 0, UINT64_MAX, &oa);
	pb = unmap(NULL, b->fd, ib, 0, UINT64_MAX, &ob);
	if (pa || pb || oa || ob)
		return fail(v, "probe", "slot %u: after every area was unmapped, UNMAP of everything: %s (0x%llx bytes) in the original, %s (0x%llx bytes) replayed",
			    slot, kho_errno_name(pa), (unsigned long long)oa,
			    kho_errno_name(pb), (unsigned long long)ob);
	return 0;
}

/* Record, capture, replay, verify, compare: 0 pass, 1 fail (*@v says). */
static int run_sequence(struct env *e, uint64_t seed, struct mdl_call *calls,
			size_t *nr_calls, bool generate, int *results,
			struct verdict *v)
{
	struct kho_journal_snapshot snap = { 0 };
	struct kho_capture cap = { .handoff_fd = -1, .luo_fd = -1, .session_fd = -1 };
	struct kho_replay_memfd memfds[4];
	struct kho_verify_report rep;
	struct kho_diag diag = { "" };
	struct kho_record *rec = NULL;
	struct kho_replay r;
	struct kho_handoff h;
	struct mdl_shadow s;
	struct side a = { .fd = -1 }, b = { .fd = -1 };
	struct mdl_rng rng;
	bool decoded = false;
	unsigned int slot, m, live = 0, na, nb;
	size_t i, n = generate ? 8 + seed % 48 : *nr_calls;
	double t = 0;
	int ret = 1;

	memset(v, 0, sizeof(*v));
	mdl_shadow_init(&s);
	mdl_rng_seed(&rng, seed);
	kho_handoff_init(&h);
	kho_replay_init(&r);
	if (kho_record_new(&rec)) {
		fail(v, "setup", "kho_record_new: out of memory");
		goto out;
	}
	a.fd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
	if (a.fd < 0) {
		fail(v, "setup", "open /dev/iommu: %s", strerror(errno));
		goto out;
	}
	kho_record_fd_opened(rec, a.fd, "/dev/iommu");

	t = now_s();
	for (i = 0; i < n; i++) {
		if (generate)
			mdl_gen(&rng, &s, e->exclude, &calls[i]);
		double t1 = now_s();

		if (e->verbose) {
			/* before the call: a kernel crash shows what it was */
			printf("kho-model: seed %llu call %zu: ", (unsigned long long)seed, i + 1);
			mdl_call_print(stdout, &calls[i]);
			fflush(stdout);
		}
		results[i] = run_call(e, rec, &a, &s, &calls[i]);
		e->op_t[calls[i].op] += now_s() - t1;
		if (results[i] == -ENOSPC && calls[i].op != MDL_MAP_VA &&
		    calls[i].op != MDL_MAP_FILE && calls[i].op != MDL_COPY) {
			fail(v, "setup", "call %zu: the shadow's table is full", i + 1);
			goto out;
		}
		if (results[i] == SKIPPED)
			continue;
		e->calls++;
		if (results[i])
			e->failed[calls[i].op]++;
		else
			e->ok[calls[i].op]++;
	}
	if (generate)
		*nr_calls = n;
	e->t[0] += now_s() - t;
	t = now_s();

	if (kho_record_status(rec, &diag)) {
		fail(v, "record", "the recorder calls the journal unpreservable: %s", diag.msg);
		goto out;
	}
	ret = kho_record_snapshot(rec, &snap, true);
	if (ret) {
		fail(v, "record", "kho_record_snapshot: %s", kho_errno_name(ret));
		ret = 1;
		goto out;
	}
	ret = 1;
	e->journaled += snap.journal.nr;
	/* As capture does, before this process holds a second iommufd. */
	if (e->kjournal) {
		bool mocked = false, tried = false;

		for (i = 0; i < n; i++) {
			mocked |= calls[i].op == MDL_MOCK_ADD && !results[i];
			tried |= calls[i].op == MDL_MOCK_ADD && results[i] != SKIPPED;
		}
		ret = kho_capture_check_kjournal(getpid(), &snap, NULL, false, &diag);
		/*
		 * A mock device is bound like a device, but not a PCI one:
		 * the kernel's journal marks itself not carriable, and
		 * capture must refuse.  So does a MOCK_DOMAIN that bound its
		 * device and then failed to attach it (EADDRINUSE: an area
		 * outside the mock aperture): the bind stays in the journal.
		 * The rest of the path goes on from the recorder's journal,
		 * as --userspace-journal would.
		 */
		if (tried && ret == -EOPNOTSUPP && strstr(diag.msg, "cannot cross kexec"))
			mocked = true;
		if (mocked && (ret != -EOPNOTSUPP || !strstr(diag.msg, "cannot cross kexec"))) {
			fail(v, "kjournal", "a mock device was bound, yet the kernel journal check gave %s: %s",
			     kho_errno_name(ret), diag.msg);
			ret = 1;
			goto out;
		}
		if (!mocked && ret) {
			fail(v, "kjournal", "%s", diag.msg);
			ret = 1;
			goto out;
		}
		ret = 1;
		if (mocked)
			e->kj_refused++;
		else
			e->kj_checked++;
	}
	if (kho_capture_build(&snap, &cap, &diag)) {
		fail(v, "capture", "%s", diag.msg);
		goto out;
	}
	e->plan += cap.handoff.replay.nr;
	/* The agent's side: the blob, decoded and validated. */
	if (kho_handoff_decode(cap.blob, cap.blob_len, &h, &diag)) {
		fail(v, "decode", "%s", diag.msg);
		goto out;
	}
	decoded = true;
	e->t[1] += now_s() - t;
	t = now_s();
	for (i = 0; i < snap.nr_fds && i < 4; i++)
		memfds[i] = (struct kho_replay_memfd){ snap.state.memfd[i].token,
						       snap.memfd_fds[i] };
	if (kho_replay_run(&r, &h, memfds, i, &diag)) {
		fail(v, "replay", "%s", diag.msg);
		goto out;
	}
	if (kho_verify_run(&r, &h, memfds, i, KHO_VERIFY_PROBE_ENDS, &rep, &diag)) {
		fail(v, "verify", "%s", diag.msg);
		goto out;
	}

	e->t[2] += now_s() - t;
	t = now_s();
	/* The independent comparison. */
	b.fd = r.iommufd;
	for (slot = 0; slot < MDL_SLOTS; slot++) {
		if (!s.slot[slot].live)
			continue;
		live++;
		if (kho_idmap_lookup(&r.idmap, a.id[slot], &b.id[slot])) {
			fail(v, "probe", "slot %u: IOAS %u was not replayed", slot, a.id[slot]);
			goto out;
		}
		/* The mock devices are the test's, not the VMM's: rebuilt here. */
		for (m = 0; m < s.slot[slot].nr_mock; m++)
			if (mock_add(b.fd, b.id[slot], &b.mock[slot][m])) {
				fail(v, "probe", "slot %u: mock device %u on the replayed IOAS %u: %s",
				     slot, m, b.id[slot], strerror(errno));
				goto out;
			}
	}
	e->t[3] += now_s() - t;
	t = now_s();
	na = count_ioas(a.fd);
	nb = count_ioas(b.fd);
	if (na != live || nb != live) {
		fail(v, "probe", "%u IOASes in the original, %u replayed, %u in the test's shadow",
		     na, nb, live);
		goto out;
	}
	for (slot = 0; slot < MDL_SLOTS; slot++)
		if (s.slot[slot].live && compare_slot(e, &s.slot[slot], slot, &a, &b, v))
			goto out;
	ret = 0;
	e->t[4] += now_s() - t;
out:
	t = now_s();
	/* Mock devices first: an IOAS cannot go while one holds it. */
	for (slot = 0; slot < MDL_SLOTS; slot++)
		for (m = 0; m < s.slot[slot].nr_mock; m++) {
			if (a.fd >= 0 && a.mock[slot][m].stdev)
				destroy(NULL, a.fd, a.mock[slot][m].stdev);
			if (b.fd >= 0 && b.mock[slot][m].stdev)
				destroy(NULL, b.fd, b.mock[slot][m].stdev);
		}
	kho_replay_release(&r);
	if (decoded)
		kho_handoff_free(&h);
	kho_capture_release(&cap);
	kho_journal_snapshot_free(&snap);
	kho_record_free(rec);
	if (a.fd >= 0)
		close(a.fd);
	e->t[5] += now_s() - t;
	return ret;
}

/* --- across a real kexec ----------------------------------------------------- */

/*
 * What the test can see of one IOAS, as lines of text: IOVA_RANGES,
 * HUGE_PAGES, a one-page map at every page of the probe set, where auto
 * IOVAs land, and then (destructive) each area's exact UNMAP and an UNMAP
 * of everything.  Written before the kexec from the original iommufd and
 * after it from the adopted one; the two texts must be equal.
 */
static void observe_slot(struct env *e, int fd, uint32_t id,
			 const struct mdl_slot *sl, FILE *out)
{
	struct ranges rg;
	uint64_t iova, val, len, got;
	unsigned int i;
	size_t p;
	int ret;

	iova_ranges(fd, id, &rg);
	fprintf(out, "iova_ranges %d %u 0x%llx", rg.ret, rg.num,
		(unsigned long long)rg.align);
	for (i = 0; i < rg.num && i < 8; i++)
		fprintf(out, " 0x%llx-0x%llx", (unsigned long long)rg.r[i].start,
			(unsigned long long)rg.r[i].last);
	ret = huge_pages_get(fd, id, &val);
	fprintf(out, "\nhuge_pages %d %llu\n", ret, (unsigned long long)val);
	for (p = 0; probe_set(sl, p, &iova); p++)
		fprintf(out, "page 0x%llx %s\n", (unsigned long long)iova,
			kho_errno_name(probe_page(e, fd, id, iova)));
	for (len = MDL_PAGE; len <= PROBE_PAGES * MDL_PAGE; len *= 2) {
		got = 0;
		ret = map_file(NULL, fd, id, e->probe_fd, 0, len, &got, false, false);
		if (!ret)
			unmap(NULL, fd, id, got, len, NULL);
		fprintf(out, "auto 0x%llx %s 0x%llx\n", (unsigned long long)len,
			kho_errno_name(ret), (unsigned long long)got);
	}
	for (i = 0; i < sl->nr; i++) {
		ret = unmap(NULL, fd, id, sl->area[i].iova, sl->area[i].length, &got);
		fprintf(out, "unmap 0x%llx+0x%llx %s 0x%llx\n",
			(unsigned long long)sl->area[i].iova,
			(unsigned long long)sl->area[i].length, kho_errno_name(ret),
			(unsigned long long)got);
	}
	ret = unmap(NULL, fd, id, 0, UINT64_MAX, &got);
	fprintf(out, "unmap_all %s 0x%llx\n", kho_errno_name(ret), (unsigned long long)got);
}

static int observe(struct env *e, int fd, const struct mdl_shadow *s,
		   const uint32_t *ids, char **text)
{
	size_t len = 0;
	FILE *out = open_memstream(text, &len);
	unsigned int slot;

	if (!out)
		return -ENOMEM;
	fprintf(out, "ioas_count %u\n", count_ioas(fd));
	for (slot = 0; slot < MDL_SLOTS; slot++) {
		if (!s->slot[slot].live)
			continue;
		fprintf(out, "slot %u\n", slot);
		observe_slot(e, fd, ids[slot], &s->slot[slot], out);
	}
	return fclose(out) ? -errno : 0;
}

/*
 * Before the kexec: run seed @seed's sequence through the recorder, capture
 * and preserve it as `kho-tool upgrade` does (kho_capture_preserve(): the
 * hand-off and the memfds in the LUO session), write to @path the
 * shadow's IOASes and what the test observes of the original, then hold
 * the session until SIGTERM (the kexec).
 */
static int kexec_save(struct env *e, uint64_t seed, const char *path)
{
	static struct mdl_call calls[MAX_CALLS];
	struct kho_journal_snapshot snap = { 0 };
	struct kho_capture cap;
	struct kho_diag diag = { "" };
	struct kho_record *rec;
	struct mdl_shadow s;
	struct mdl_rng rng;
	struct side a = { .fd = -1 };
	unsigned int slot, i;
	size_t n = 8 + seed % 48, k;
	char *text = NULL;
	sigset_t set;
	FILE *f;
	int sig;

	mdl_shadow_init(&s);
	mdl_rng_seed(&rng, seed);
	if (kho_record_new(&rec))
		return 1;
	a.fd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
	if (a.fd < 0)
		return 1;
	kho_record_fd_opened(rec, a.fd, "/dev/iommu");
	for (k = 0; k < n; k++) {
		int ret;

		mdl_gen(&rng, &s, e->exclude, &calls[k]);
		ret = run_call(e, rec, &a, &s, &calls[k]);
		printf("kho-model: %2zu. [%s] ", k + 1, ret == SKIPPED ? "skipped" :
		       ret ? kho_errno_name(ret) : "ok");
		mdl_call_print(stdout, &calls[k]);
	}
	if (kho_record_status(rec, &diag) ||
	    kho_record_snapshot(rec, &snap, true) ||
	    kho_capture_build(&snap, &cap, &diag) ||
	    kho_capture_preserve(&cap, &snap, -1, &diag)) {
		fprintf(stderr, "kho-model: seed %llu: capture: %s\n",
			(unsigned long long)seed, diag.msg);
		return 1;
	}
	f = fopen(path, "w");
	if (!f)
		return 1;
	for (slot = 0; slot < MDL_SLOTS; slot++) {
		const struct mdl_slot *sl = &s.slot[slot];

		if (!sl->live)
			continue;
		fprintf(f, "S %u %u %zu\n", slot, a.id[slot], sl->nr);
		for (i = 0; i < sl->nr; i++)
			fprintf(f, "A %llu %llu\n", (unsigned long long)sl->area[i].iova,
				(unsigned long long)sl->area[i].length);
	}
	fprintf(f, "E\n");
	/* The session holds the hand-off now: observing may unmap. */
	if (observe(e, a.fd, &s, a.id, &text))
		return 1;
	fputs(text, f);
	if (fclose(f))
		return 1;
	printf("kho-model: seed %llu: %zu calls, %zu plan records preserved, observations in %s\n",
	       (unsigned long long)seed, n, cap.handoff.replay.nr, path);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, NULL);
	printf("kho-model: ready pid=%d\n", getpid());
	fflush(stdout);
	sigwait(&set, &sig);
	return 0;
}

/* After the kexec: adopt the agent's iommufd and observe the same. */
static int kexec_check(struct env *e, const char *path)
{
	struct kho_adopt_token token;
	struct kho_adopt_set set;
	struct kho_diag diag = { "" };
	struct mdl_shadow s;
	uint32_t ids[MDL_SLOTS] = { 0 }, old;
	unsigned int slot = 0;
	char line[256], *before = NULL, *after = NULL, *bl, *al;
	unsigned long long iova, len;
	size_t nr, blen = 0, lineno = 1;
	FILE *f = fopen(path, "r");

	if (!f) {
		fprintf(stderr, "kho-model: %s: %s\n", path, strerror(errno));
		return 1;
	}
	mdl_shadow_init(&s);
	while (fgets(line, sizeof(line), f) && line[0] != 'E') {
		if (sscanf(line, "S %u %u %zu", &slot, &old, &nr) == 3 && slot < MDL_SLOTS) {
			s.slot[slot].live = true;
			s.slot[slot].id = old;
		} else if (sscanf(line, "A %llu %llu", &iova, &len) == 2) {
			struct mdl_area ar = { .iova = iova, .length = len };

			mdl_shadow_add(&s.slot[slot], &ar);
		}
	}
	{
		FILE *m = open_memstream(&before, &blen);

		while (fgets(line, sizeof(line), f))
			fputs(line, m);
		fclose(m);
	}
	fclose(f);
	/* Root, its own launcher: the agent's token is ours to read. */
	if (kho_adopt_token_read(KHO_ADOPT_TOKEN_FILE, &token, &diag) ||
	    kho_adopt_connect(KHO_ADOPT_SOCK, &token, &set, &diag)) {
		fprintf(stderr, "kho-model: adopt: %s\n", diag.msg);
		return 1;
	}
	for (slot = 0; slot < MDL_SLOTS; slot++)
		if (s.slot[slot].live &&
		    kho_idmap_lookup(&set.idmap, s.slot[slot].id, &ids[slot])) {
			fprintf(stderr, "kho-model: slot %u: IOAS %u was not restored\n",
				slot, s.slot[slot].id);
			return 1;
		}
	if (observe(e, set.iommufd, &s, ids, &after))
		return 1;
	for (bl = before, al = after; *bl || *al; lineno++) {
		size_t bn = strcspn(bl, "\n"), an = strcspn(al, "\n");

		if (bn != an || memcmp(bl, al, bn)) {
			printf("kho-model: FAIL after kexec: observation %zu: before \"%.*s\", after \"%.*s\"\n",
			       lineno, (int)bn, bl, (int)an, al);
			return 1;
		}
		bl += bn + (bl[bn] == '\n');
		al += an + (al[an] == '\n');
	}
	printf("kho-model: ok after kexec: %zu observations equal (IOAS count, ranges, HUGE_PAGES, every probed page, auto IOVAs, area boundaries)\n",
	       lineno - 1);
	kho_adopt_set_free(&set, 1);
	free(before);
	free(after);
	return 0;
}

/* --- shrinking ------------------------------------------------------------ */

/*
 * Drops calls while the sequence still fails at the same stage: chunks
 * first, then one call at a time, within SHRINK_RUNS runs.
 */
static size_t shrink(struct env *e, uint64_t seed, struct mdl_call *calls,
		     size_t n, const struct verdict *first, struct verdict *last)
{
	struct mdl_call *try = calls + MAX_CALLS;
	int results[MAX_CALLS];
	struct verdict v;
	unsigned int runs = 0;
	size_t chunk, at, k, m;

	*last = *first;
	for (chunk = n / 2; chunk >= 1 && runs < SHRINK_RUNS; chunk /= 2) {
		for (at = 0; at + chunk <= n && runs < SHRINK_RUNS;) {
			for (k = m = 0; k < n; k++)
				if (k < at || k >= at + chunk)
					try[m++] = calls[k];
			runs++;
			if (run_sequence(e, seed, try, &m, false, results, &v) &&
			    !strcmp(v.stage, first->stage)) {
				memcpy(calls, try, m * sizeof(*calls));
				n = m;
				*last = v;
			} else {
				at += chunk;
			}
		}
	}
	return n;
}

static void report(struct env *e, uint64_t seed, struct mdl_call *calls,
		   size_t n, const struct verdict *v)
{
	char x[128];
	struct verdict last;
	int results[MAX_CALLS];
	size_t i, m;

	printf("kho-model: FAIL seed %llu: %s: %s\n", (unsigned long long)seed,
	       v->stage, v->msg);
	printf("kho-model: replay it with: kho-model --seed %llu%s%s\n",
	       (unsigned long long)seed, e->exclude ? " -x " : "",
	       e->exclude ? mdl_features_name(e->exclude, x, sizeof(x)) : "");
	m = shrink(e, seed, calls, n, v, &last);
	run_sequence(e, seed, calls, &m, false, results, &last);
	printf("kho-model: seed %llu shrunk from %zu to %zu calls, still failing at %s: %s\n",
	       (unsigned long long)seed, n, m, last.stage, last.msg);
	for (i = 0; i < m; i++) {
		printf("kho-model:   %2zu. [%s] ", i + 1,
		       results[i] == SKIPPED ? "skipped" :
		       results[i] ? kho_errno_name(results[i]) : "ok");
		mdl_call_print(stdout, &calls[i]);
	}
	fflush(stdout);
}

/* --- setup and the command line ------------------------------------------ */

static int ram(struct env *e, unsigned int i)
{
	size_t len = MDL_MEM_PAGES * MDL_PAGE;
	char name[32];

	snprintf(name, sizeof(name), "kho-model-ram%u", i);
	e->memfd[i] = memfd_create(name, MFD_CLOEXEC);
	if (e->memfd[i] < 0 || ftruncate(e->memfd[i], len))
		return -errno;
	e->mem[i] = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED,
			 e->memfd[i], 0);
	if (e->mem[i] == MAP_FAILED)
		return -errno;
	/* Distinct bytes in every page: a translation check sees a swap. */
	for (len = 0; len < MDL_MEM_PAGES; len++)
		memset(e->mem[i] + len * MDL_PAGE, 1 + i * MDL_MEM_PAGES + len, MDL_PAGE);
	return 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: kho-model [--seeds FIRST-LAST | --seed N] [-x FEATURE[,FEATURE...]] [-v]\n"
		"       kho-model --seed N --kexec-save FILE [-x ...]   (before kexec; holds the session)\n"
		"       kho-model --kexec-check FILE                    (after kexec; adopts)\n"
		"  runs one random sequence per seed (FIRST..LAST inclusive) against\n"
		"  /dev/iommu; -x leaves features out: allow copy cut auto option va\n"
		"  file2 destroy mock\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "seeds", required_argument, NULL, 's' },
		{ "seed", required_argument, NULL, 'S' },
		{ "exclude", required_argument, NULL, 'x' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "kexec-save", required_argument, NULL, 'K' },
		{ "kexec-check", required_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	static struct mdl_call calls[2 * MAX_CALLS];
	unsigned long long first = 1, last = 1000, seed;
	int results[MAX_CALLS];
	struct env e = { .memfd = { -1, -1 } };
	struct verdict v;
	unsigned long failed = 0, runs = 0;
	const char *bad, *save = NULL, *check = NULL;
	char x[128];
	double t0;
	size_t n;
	int c, err;

	while ((c = getopt_long(argc, argv, "x:vh", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (sscanf(optarg, "%llu-%llu", &first, &last) != 2 || last < first) {
				usage();
				return 2;
			}
			break;
		case 'S':
			first = last = strtoull(optarg, NULL, 0);
			break;
		case 'x':
			if (mdl_features_parse(optarg, &e.exclude, &bad)) {
				fprintf(stderr, "kho-model: -x: unknown feature '%s'\n", bad);
				usage();
				return 2;
			}
			break;
		case 'v':
			e.verbose = true;
			break;
		case 'K':
			save = optarg;
			break;
		case 'C':
			check = optarg;
			break;
		default:
			usage();
			return c == 'h' ? 0 : 2;
		}
	}
	if (optind != argc) {
		usage();
		return 2;
	}
	err = ram(&e, 0);
	err = err ? err : ram(&e, 1);
	if (!err) {
		e.probe_fd = memfd_create("kho-model-probe", MFD_CLOEXEC);
		if (e.probe_fd < 0 || ftruncate(e.probe_fd, PROBE_PAGES * MDL_PAGE))
			err = -errno;
	}
	if (err) {
		fprintf(stderr, "kho-model: guest RAM memfds: %s\n", strerror(-err));
		return 1;
	}
	if (save)
		return kexec_save(&e, first, save);
	if (check)
		return kexec_check(&e, check);
	e.kjournal = kho_kjournal_available();
	printf("kho-model: seeds %llu-%llu, leaving out: %s, kernel journal: %s\n",
	       first, last, mdl_features_name(e.exclude, x, sizeof(x)),
	       e.kjournal ? "checked against the recorder" : "none (vanilla kernel)");
	fflush(stdout);

	t0 = now_s();
	for (seed = first; seed <= last; seed++) {
		runs++;
		if (run_sequence(&e, seed, calls, &n, true, results, &v)) {
			failed++;
			/* Shrink the first few: each costs up to SHRINK_RUNS runs. */
			if (failed <= 3)
				report(&e, seed, calls, n, &v);
			else
				printf("kho-model: FAIL seed %llu: %s: %s\n", seed,
				       v.stage, v.msg);
			fflush(stdout);
		} else if (e.verbose) {
			printf("kho-model: seed %llu: ok, %zu calls\n", seed, n);
			fflush(stdout);
		}
		if (runs % 500 == 0) {
			printf("kho-model: %lu sequences, %lu failed, %.1f s\n", runs,
			       failed, now_s() - t0);
			fflush(stdout);
		}
	}
	printf("kho-model: calls:");
	for (c = 1; c <= MDL_OP_MAX; c++)
		printf(" %s %lu/%lu", mdl_op_name(c), e.ok[c], e.ok[c] + e.failed[c]);
	printf(" (ok/issued)\n");
	printf("kho-model: seconds per call kind:");
	for (c = 1; c <= MDL_OP_MAX; c++)
		printf(" %s %.2f", mdl_op_name(c), e.op_t[c]);
	printf("\n");
	printf("kho-model: %lu partial UNMAPs (removed areas, then failed), %lu auto IOVAs, %lu records journaled, %lu in the replay plans, %lu probes, %lu kernel journals checked, %lu refused for a mock device\n",
	       e.partial, e.auto_ok, e.journaled, e.plan, e.probes, e.kj_checked,
	       e.kj_refused);
	printf("kho-model: seconds in: calls %.1f, record+capture %.1f, replay+verify %.1f, mock devices %.1f, probes %.1f, teardown %.1f\n",
	       e.t[0], e.t[1], e.t[2], e.t[3], e.t[4], e.t[5]);
	printf("kho-model: %s: %lu sequences (%lu calls), %lu failed, in %.1f s: %.1f sequences/s\n",
	       failed ? "FAILED" : "ok", runs, e.calls, failed, now_s() - t0,
	       runs / (now_s() - t0));
	return failed ? 1 : 0;
}
