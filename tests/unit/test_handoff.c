// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of the hand-off FDT: round trips of random states and plans,
 * the documented rejection of every file in tests/data/bad, the
 * compatibility rules, and the robustness sweeps (every truncation, every
 * single-bit flip, header corruption).
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>
#include <libfdt.h>
#include <linux/iommufd.h>
#include "compat.h"
#include <linux/vfio.h>

#include "ktest.h"
#include "capture.h"
#include "devstate.h"
#include "file.h"
#include "handoff.h"
#include "journal.h"
#include "migrec.h"
#include "mdev.h"
#include "pci.h"
#include "state.h"

/* xorshift64*: seeded, so a failure names the seed that reproduces it. */
static uint64_t rnd_state;

static uint64_t rnd(void)
{
	rnd_state ^= rnd_state >> 12;
	rnd_state ^= rnd_state << 25;
	rnd_state ^= rnd_state >> 27;
	return rnd_state * 0x2545F4914F6CDD1DULL;
}

static uint64_t rnd_below(uint64_t n)
{
	return n ? rnd() % n : 0;
}

/* One random record of @op with plausible fields and inline data. */
static void rand_rec(struct kho_rec *r, uint32_t op, const struct kho_state *s)
{
	uint32_t i;

	memset(r, 0, sizeof(*r));
	r->op = op;
	switch (op) {
	case KHO_OP_IOAS_ALLOC:
		r->ioas_alloc.out_ioas_id = rnd_below(100) + 1;
		break;
	case KHO_OP_DESTROY:
		r->destroy.id = rnd();
		break;
	case KHO_OP_IOAS_ALLOW_IOVAS:
		r->allow_iovas.ioas_id = rnd();
		r->allow_iovas.num_iovas = rnd_below(4);
		if (r->allow_iovas.num_iovas)
			r->allow_iovas.iovas = calloc(r->allow_iovas.num_iovas,
						      sizeof(*r->allow_iovas.iovas));
		for (i = 0; i < r->allow_iovas.num_iovas; i++) {
			r->allow_iovas.iovas[i].start = rnd();
			r->allow_iovas.iovas[i].last = rnd();
		}
		break;
	case KHO_OP_IOAS_MAP:
	case KHO_OP_IOAS_MAP_FILE:
		r->map.flags = rnd() & 7;
		r->map.ioas_id = rnd();
		r->map.memfd_token = rnd();
		r->map.offset = rnd();
		r->map.length = rnd();
		r->map.iova = rnd();
		break;
	case KHO_OP_IOAS_COPY:
		r->copy.flags = rnd();
		r->copy.dst_ioas_id = rnd();
		r->copy.src_ioas_id = rnd();
		r->copy.length = rnd();
		r->copy.dst_iova = rnd();
		r->copy.src_iova = rnd();
		break;
	case KHO_OP_IOAS_UNMAP:
		r->unmap.ioas_id = rnd();
		r->unmap.iova = rnd();
		r->unmap.length = rnd();
		r->unmap.out_length = rnd();
		break;
	case KHO_OP_OPTION:
		r->option.option_id = rnd();
		r->option.op = rnd();
		r->option.object_id = rnd();
		r->option.val64 = rnd();
		break;
	case KHO_OP_HWPT_ALLOC:
		r->hwpt_alloc.flags = rnd();
		r->hwpt_alloc.dev_id = rnd();
		r->hwpt_alloc.pt_id = rnd();
		r->hwpt_alloc.out_hwpt_id = rnd();
		r->hwpt_alloc.data_type = rnd();
		r->hwpt_alloc.data_len = rnd_below(3) ? rnd_below(40) : 0;
		if (r->hwpt_alloc.data_len)
			r->hwpt_alloc.data = malloc(r->hwpt_alloc.data_len);
		for (i = 0; i < r->hwpt_alloc.data_len; i++)
			r->hwpt_alloc.data[i] = rnd();
		r->hwpt_alloc.fault_id = rnd();
		break;
	case KHO_OP_HWPT_SET_DIRTY_TRACKING:
		r->dirty_tracking.flags = rnd();
		r->dirty_tracking.hwpt_id = rnd();
		break;
	case KHO_OP_DEVICE_BIND:
		r->bind.pci = (struct kho_pci_id){ rnd(), rnd(), rnd(), rnd(),
						   rnd() };
		r->bind.flags = rnd();
		r->bind.out_devid = rnd();
		break;
	case KHO_OP_DEVICE_ATTACH:
		r->attach.dev_id = rnd();
		r->attach.flags = rnd();
		r->attach.pasid = rnd();
		r->attach.pt_id = rnd();
		r->attach.out_hwpt_id = rnd();
		break;
	case KHO_OP_DEVICE_DETACH:
		r->detach.dev_id = rnd();
		r->detach.flags = rnd();
		r->detach.pasid = rnd();
		break;
	case KHO_OP_REPLAY_MAPPINGS: {
		const struct kho_ioas *a = NULL;
		size_t k;

		for (k = 0; k < s->nr_ioas; k++)
			if (s->ioas[k].nr_maps)
				a = &s->ioas[k];
		if (!a) {	/* no slice possible: fall back */
			r->op = KHO_OP_DESTROY;
			break;
		}
		r->replay_maps.ioas_id = a->id;
		r->replay_maps.first = rnd_below(a->nr_maps);
		r->replay_maps.count = 1 + rnd_below(a->nr_maps -
						     r->replay_maps.first);
		break;
	}
	case KHO_OP_DEVICE_MIG_STATE:
		/*
		 * Valid only as the arcs of a device-state node (format 7):
		 * handoff_mig_records_* build those; here, fall back.
		 */
		r->op = KHO_OP_DESTROY;
		r->destroy.id = rnd();
		break;
	default:
		break;
	}
}

/*
 * A random but consistent hand-off: IDs unique across kinds, mappings
 * sorted and inside their memfds, references that resolve, and a plan
 * holding every op at least once.
 */
static void rand_handoff(struct kho_handoff *h, uint64_t seed, size_t maps)
{
	struct kho_state *s = &h->state;
	uint32_t next_id = 1, op;
	size_t i, k;

	rnd_state = seed * 0x9E3779B97F4A7C15ULL + 1;
	kho_handoff_init(h);
	h->format_version = KHO_FORMAT_VERSION;
	h->min_reader_version = 1;
	snprintf(h->tool_version, sizeof(h->tool_version), "%s",
		 KHO_TOOL_VERSION);
	snprintf(h->kernel_release, sizeof(h->kernel_release), "7.2.13-%llu",
		 (unsigned long long)seed);
	h->created = rnd();
	h->journal_length = rnd_below(1000000);

	s->nr_memfd = 1 + rnd_below(4);
	s->memfd = calloc(s->nr_memfd, sizeof(*s->memfd));
	for (i = 0; i < s->nr_memfd; i++) {
		s->memfd[i].token = 1000 + i * 7 + rnd_below(7);
		s->memfd[i].size = 1ULL << 40;
		s->memfd[i].seals = rnd() & 0x1f;
		snprintf(s->memfd[i].name, sizeof(s->memfd[i].name),
			 "guest-ram-%zu", i);
	}
	s->nr_ioas = 1 + rnd_below(3);
	s->ioas = calloc(s->nr_ioas, sizeof(*s->ioas));
	for (i = 0; i < s->nr_ioas; i++) {
		struct kho_ioas *a = &s->ioas[i];
		uint64_t iova = rnd_below(16) << 12;

		a->id = next_id++;
		a->huge_pages = (int64_t)rnd_below(3) - 1;
		a->nr_allowed = rnd_below(3);
		if (a->nr_allowed)
			a->allowed = calloc(a->nr_allowed, sizeof(*a->allowed));
		for (k = 0; k < a->nr_allowed; k++) {
			a->allowed[k].start = k << 32;
			a->allowed[k].last = (k << 32) + 0xfffffff;
		}
		a->nr_maps = i == 0 ? maps : rnd_below(maps + 1);
		a->cap_maps = a->nr_maps;
		if (a->nr_maps)
			a->maps = calloc(a->nr_maps, sizeof(*a->maps));
		for (k = 0; k < a->nr_maps; k++) {
			struct kho_mapping *m = &a->maps[k];

			m->iova = iova;
			m->length = (1 + rnd_below(4)) << 12;
			m->memfd_token = s->memfd[rnd_below(s->nr_memfd)].token;
			m->offset = rnd_below(1 << 20) << 12;
			m->flags = (rnd() & 3) << 1;
			iova += m->length + (rnd_below(3) << 12);
		}
	}
	s->nr_dev = rnd_below(3);
	s->dev = s->nr_dev ? calloc(s->nr_dev, sizeof(*s->dev)) : NULL;
	for (i = 0; i < s->nr_dev; i++) {
		s->dev[i].id = next_id++;
		s->dev[i].pci = (struct kho_pci_id){ 0, 1 + i, rnd(), 0x1234,
						     0x11e8 };
		snprintf(s->dev[i].driver, sizeof(s->dev[i].driver),
			 "vfio-pci");
	}
	s->nr_hwpt = s->nr_dev;
	s->hwpt = s->nr_hwpt ? calloc(s->nr_hwpt, sizeof(*s->hwpt)) : NULL;
	for (i = 0; i < s->nr_hwpt; i++) {
		struct kho_hwpt *w = &s->hwpt[i];

		w->id = next_id++;
		w->pt_id = s->ioas[rnd_below(s->nr_ioas)].id;
		w->dev_id = s->dev[i].id;
		w->auto_domain = rnd() & 1;
		w->dirty_tracking = rnd() & 1;
		w->flags = rnd() & 3;
		w->data_len = rnd_below(2) ? 8 + rnd_below(30) : 0;
		if (w->data_len) {
			w->data = malloc(w->data_len);
			for (k = 0; k < w->data_len; k++)
				w->data[k] = rnd();
		}
		s->dev[i].attached_pt = rnd() & 1 ? w->id : 0;
		s->dev[i].attach_flags = rnd() & 1;
		s->dev[i].pasid = rnd_below(2);
		/* Unprobed, none, or STOP_COPY with any of P2P, PRE_COPY
		 * and a bit this reader does not name. */
		s->dev[i].migration_probed = rnd() & 1;
		if (s->dev[i].migration_probed && rnd() & 1)
			s->dev[i].migration_flags = 1 | (rnd() & 6) |
						    (rnd() & 1 ? 0x100 : 0);
	}
	/* Every op once, then random ones. */
	for (op = KHO_OP_IOAS_ALLOC; op <= KHO_OP_MAX + 10; op++) {
		struct kho_rec r;

		rand_rec(&r, op <= KHO_OP_MAX ? op :
			 KHO_OP_IOAS_ALLOC + rnd_below(KHO_OP_MAX), s);
		kho_journal_append(&h->replay, &r);
		kho_rec_release(&r);
	}
	/* Every third hand-off carries a preserved iommufd (format 2). */
	if (seed % 3 == 0) {
		struct kho_handoff_iommufd *io = &h->iommufd;

		h->format_version = KHO_FORMAT_VERSION_IOMMUFD;
		h->min_reader_version = KHO_FORMAT_VERSION_IOMMUFD;
		io->present = true;
		snprintf(io->compatible, sizeof(io->compatible), "%s",
			 "iommufd-journal-v2");
		io->token = 0x6b686f2d696f6d6dULL;
		io->journal_length = rnd_below(1u << 31);
		io->nr_files = rnd_below(s->nr_memfd + 1);
		io->files = calloc(io->nr_files + 1, sizeof(*io->files));
		for (i = 0; i < io->nr_files; i++) {
			io->files[i].ino = 1000 + i * 3 + rnd_below(3);
			io->files[i].token = s->memfd[i].token;
		}
	}
}

/* Deep comparison; returns a description of the first difference. */
static const char *handoff_diff(const struct kho_handoff *a,
				const struct kho_handoff *b)
{
	const struct kho_state *x = &a->state, *y = &b->state;
	size_t i;

	if (a->format_version != b->format_version ||
	    a->min_reader_version != b->min_reader_version ||
	    strcmp(a->tool_version, b->tool_version) ||
	    strcmp(a->kernel_release, b->kernel_release) ||
	    a->created != b->created || a->journal_length != b->journal_length)
		return "metadata";
	if (x->nr_memfd != y->nr_memfd || x->nr_dev != y->nr_dev ||
	    x->nr_ioas != y->nr_ioas || x->nr_hwpt != y->nr_hwpt)
		return "object counts";
	for (i = 0; i < x->nr_memfd; i++)
		if (memcmp(&x->memfd[i], &y->memfd[i], sizeof(x->memfd[i])))
			return "memfd";
	for (i = 0; i < x->nr_dev; i++)
		if (memcmp(&x->dev[i], &y->dev[i], sizeof(x->dev[i])))
			return "device";
	for (i = 0; i < x->nr_ioas; i++) {
		const struct kho_ioas *p = &x->ioas[i], *q = &y->ioas[i];

		if (p->id != q->id || p->huge_pages != q->huge_pages ||
		    p->nr_allowed != q->nr_allowed || p->nr_maps != q->nr_maps)
			return "ioas";
		if (p->nr_allowed && memcmp(p->allowed, q->allowed,
					    p->nr_allowed * sizeof(*p->allowed)))
			return "allowed iovas";
		if (p->nr_maps && memcmp(p->maps, q->maps,
					 p->nr_maps * sizeof(*p->maps)))
			return "mappings";
	}
	for (i = 0; i < x->nr_hwpt; i++) {
		const struct kho_hwpt *p = &x->hwpt[i], *q = &y->hwpt[i];

		if (p->id != q->id || p->pt_id != q->pt_id ||
		    p->dev_id != q->dev_id || p->flags != q->flags ||
		    p->auto_domain != q->auto_domain ||
		    p->dirty_tracking != q->dirty_tracking ||
		    p->data_type != q->data_type || p->data_len != q->data_len ||
		    (p->data_len && memcmp(p->data, q->data, p->data_len)))
			return "hwpt";
	}
	if (a->iommufd.present != b->iommufd.present ||
	    (a->iommufd.present &&
	     (strcmp(a->iommufd.compatible, b->iommufd.compatible) ||
	      a->iommufd.token != b->iommufd.token ||
	      a->iommufd.journal_length != b->iommufd.journal_length ||
	      a->iommufd.nr_files != b->iommufd.nr_files ||
	      (a->iommufd.nr_files &&
	       memcmp(a->iommufd.files, b->iommufd.files,
		      a->iommufd.nr_files * sizeof(*a->iommufd.files))))))
		return "iommufd";
	if (a->replay.nr != b->replay.nr)
		return "replay length";
	for (i = 0; i < a->replay.nr; i++) {
		const struct kho_rec *p = &a->replay.recs[i];
		const struct kho_rec *q = &b->replay.recs[i];
		char fa[512], fb[512];

		if (p->op != q->op)
			return "replay op";
		switch (p->op) {
		case KHO_OP_IOAS_ALLOW_IOVAS:
			if (p->allow_iovas.ioas_id != q->allow_iovas.ioas_id ||
			    p->allow_iovas.num_iovas != q->allow_iovas.num_iovas ||
			    (p->allow_iovas.num_iovas &&
			     memcmp(p->allow_iovas.iovas, q->allow_iovas.iovas,
				    p->allow_iovas.num_iovas * 16)))
				return "ALLOW_IOVAS record";
			break;
		case KHO_OP_HWPT_ALLOC:
			if (p->hwpt_alloc.data_len != q->hwpt_alloc.data_len ||
			    (p->hwpt_alloc.data_len &&
			     memcmp(p->hwpt_alloc.data, q->hwpt_alloc.data,
				    p->hwpt_alloc.data_len)))
				return "HWPT_ALLOC data";
			snprintf(fa, sizeof(fa), "%u %u %u %u %u %u",
				 p->hwpt_alloc.flags, p->hwpt_alloc.dev_id,
				 p->hwpt_alloc.pt_id, p->hwpt_alloc.out_hwpt_id,
				 p->hwpt_alloc.data_type,
				 p->hwpt_alloc.fault_id);
			snprintf(fb, sizeof(fb), "%u %u %u %u %u %u",
				 q->hwpt_alloc.flags, q->hwpt_alloc.dev_id,
				 q->hwpt_alloc.pt_id, q->hwpt_alloc.out_hwpt_id,
				 q->hwpt_alloc.data_type,
				 q->hwpt_alloc.fault_id);
			if (strcmp(fa, fb))
				return "HWPT_ALLOC record";
			break;
		default:
			/* Records are zeroed before filling on both sides, so
			 * the union compares bytewise. */
			if (memcmp(p, q, sizeof(*p)))
				return "replay record";
		}
	}
	return NULL;
}

static int encode_decode(const struct kho_handoff *h, struct kho_handoff *out,
			 size_t *bytes, struct kho_diag *diag)
{
	void *blob;
	size_t len;
	int err;

	err = kho_handoff_encode(h, &blob, &len);
	if (err)
		return err;
	if (bytes)
		*bytes = len;
	err = kho_handoff_decode(blob, len, out, diag);
	free(blob);
	return err;
}

KTEST(handoff_round_trip_random)
{
	struct kho_diag diag = { "" };
	uint64_t seed;

	for (seed = 1; seed <= 300; seed++) {
		struct kho_handoff h, back;
		const char *diff;
		int err;

		rand_handoff(&h, seed, rnd_below(200));
		err = encode_decode(&h, &back, NULL, &diag);
		if (err)
			printf("#   seed %llu: %s\n", (unsigned long long)seed,
			       diag.msg);
		ASSERT_EQ(0, err);
		diff = handoff_diff(&h, &back);
		if (diff)
			printf("#   seed %llu: %s differs\n",
			       (unsigned long long)seed, diff);
		ASSERT_TRUE(diff == NULL);
		kho_handoff_free(&h);
		kho_handoff_free(&back);
	}
}

KTEST(handoff_round_trip_empty)
{
	struct kho_handoff h, back;
	struct kho_diag diag = { "" };

	kho_handoff_init(&h);
	h.format_version = 1;
	h.min_reader_version = 1;
	ASSERT_EQ(0, encode_decode(&h, &back, NULL, &diag));
	ASSERT_TRUE(handoff_diff(&h, &back) == NULL);
	kho_handoff_free(&back);
}

KTEST(handoff_bytes_per_mapping)
{
	struct kho_handoff h, back;
	struct kho_diag diag = { "" };
	size_t small, big;

	rand_handoff(&h, 7, 0);
	ASSERT_EQ(0, encode_decode(&h, &back, &small, &diag));
	kho_handoff_free(&h);
	kho_handoff_free(&back);
	rand_handoff(&h, 7, 10000);
	ASSERT_EQ(0, encode_decode(&h, &back, &big, &diag));
	kho_handoff_free(&h);
	kho_handoff_free(&back);
	/* The bound: at most 48 bytes per mapping, measured. */
	printf("#   %.2f bytes per mapping\n", (big - small) / 10000.0);
	ASSERT_TRUE(big - small <= 48 * 10000);
}

KTEST(handoff_encode_refuses_caller_bugs)
{
	struct kho_handoff h;
	struct kho_rec r = { .op = 99 };
	void *blob;
	size_t len;

	rand_handoff(&h, 3, 4);
	memset(h.tool_version, 'x', sizeof(h.tool_version));
	ASSERT_EQ(-EINVAL, kho_handoff_encode(&h, &blob, &len));
	h.tool_version[0] = 0;
	ASSERT_EQ(0, kho_journal_append(&h.replay, &r));
	ASSERT_EQ(-EINVAL, kho_handoff_encode(&h, &blob, &len));
	kho_handoff_free(&h);
}

/* Bytes this process has read(2) so far (/proc/self/io rchar). */
static long long rchar(void)
{
	char line[128];
	long long v = -1;
	FILE *f = fopen("/proc/self/io", "re");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "rchar: %lld", &v) == 1)
			break;
	if (f)
		fclose(f);
	return v;
}

/*
 * Issue #21 item 7: `kho-tool validate /dev/zero` read 2 GiB, twice the
 * cap, because the buffer doubled once past it.  A capped read reads at
 * most cap + 1 bytes of anything.
 */
KTEST(handoff_read_file_stops_at_the_cap)
{
	char path[] = "/tmp/kho-read-XXXXXX";
	size_t len, max = 1 << 20;
	long long before;
	void *buf;
	int fd;

	before = rchar();
	ASSERT_TRUE(before >= 0);
	ASSERT_EQ(-EFBIG, kho_read_file_max("/dev/zero", max, &buf, &len));
	ASSERT_TRUE(rchar() - before <= (long long)max + 1 + 4096);
	/* The real cap (KHO_HANDOFF_MAX), the path validate takes. */
	before = rchar();
	ASSERT_EQ(-EFBIG, kho_read_file("/dev/zero", &buf, &len));
	printf("#   /dev/zero: %lld bytes read for a %zu MiB cap\n",
	       rchar() - before, KHO_HANDOFF_MAX >> 20);
	ASSERT_TRUE(rchar() - before <=
		    (long long)KHO_HANDOFF_MAX + 1 + 4096);
	/* A regular file of exactly the cap is read; one byte more is not. */
	fd = mkstemp(path);
	ASSERT_TRUE(fd >= 0);
	ASSERT_EQ(0, ftruncate(fd, max));
	ASSERT_EQ(0, kho_read_file_max(path, max, &buf, &len));
	ASSERT_EQ(max, len);
	free(buf);
	ASSERT_EQ(0, ftruncate(fd, max + 1));
	ASSERT_EQ(-EFBIG, kho_read_file_max(path, max, &buf, &len));
	ASSERT_EQ(0, ftruncate(fd, 0));
	ASSERT_EQ(0, kho_read_file_max(path, max, &buf, &len));
	ASSERT_EQ(0, len);
	free(buf);
	close(fd);
	unlink(path);
}

KTEST(handoff_fdt_errno_never_eperm)
{
	ASSERT_EQ(-ENOENT, kho_fdt_errno(-FDT_ERR_NOTFOUND));
	ASSERT_EQ(-ENOMEM, kho_fdt_errno(-FDT_ERR_NOSPACE));
	ASSERT_EQ(-EBADMSG, kho_fdt_errno(-FDT_ERR_TRUNCATED));
	ASSERT_EQ(-EBADMSG, kho_fdt_errno(-FDT_ERR_BADSTRUCTURE));
	ASSERT_EQ(-EINVAL, kho_fdt_errno(-FDT_ERR_BADOFFSET));
	ASSERT_EQ(0, kho_fdt_errno(0));
}

/* Encodes a reference blob: every op, a few dozen mappings. */
static void *ref_blob(size_t *len)
{
	struct kho_handoff h;
	void *blob = NULL;

	rand_handoff(&h, 42, 40);
	if (kho_handoff_encode(&h, &blob, len))
		blob = NULL;
	kho_handoff_free(&h);
	return blob;
}

/* Edits a copy of @blob with @edit, restamps it, and decodes it. */
static int edit_and_decode(const void *blob, size_t len,
			   int (*edit)(void *fdt), bool stamp,
			   struct kho_diag *diag)
{
	struct kho_handoff h;
	size_t size = len + 4096;
	void *fdt = malloc(size);
	int err;

	if (fdt_open_into(blob, fdt, size) || edit(fdt) || fdt_pack(fdt)) {
		free(fdt);
		return -EFAULT;
	}
	if (stamp && kho_handoff_stamp(fdt, fdt_totalsize(fdt), NULL)) {
		free(fdt);
		return -EFAULT;
	}
	err = kho_handoff_decode(fdt, fdt_totalsize(fdt), &h, diag);
	if (!err)
		kho_handoff_free(&h);
	free(fdt);
	return err;
}

static int edit_unknown_props(void *fdt)
{
	/* Offsets move with every edit: look the node up afterwards. */
	if (fdt_setprop_string(fdt, 0, "future-field", "x"))
		return -1;
	return fdt_setprop_u32(fdt, fdt_path_offset(fdt, "/ioases/ioas-1"),
			       "future-ioas-field", 7);
}

static int edit_min_reader_1(void *fdt)
{
	return fdt_setprop_u32(fdt, 0, "min-reader-version", 1);
}

static int edit_format_v2(void *fdt)
{
	return fdt_setprop_u32(fdt, 0, "format-version", 2);
}

static int edit_min_reader_too_new(void *fdt)
{
	if (fdt_setprop_u32(fdt, 0, "format-version", KHO_READER_VERSION + 1))
		return -1;
	return fdt_setprop_u32(fdt, 0, "min-reader-version",
			       KHO_READER_VERSION + 1);
}

/* A later format appending a cell to every mapping: a v1 reader reads
 * the 9 cells it knows. */
static int edit_wider_mappings(void *fdt)
{
	const uint8_t *old;
	uint8_t *wide;
	int ioas, len, i, nr, err = 0;

	/* Editing a node keeps its own offset valid (only later nodes move),
	 * so the subnode walk survives the setprop. */
	fdt_for_each_subnode(ioas, fdt, fdt_path_offset(fdt, "/ioases")) {
		old = fdt_getprop(fdt, ioas, "mappings", &len);
		if (!old)
			continue;
		nr = len / 36;
		wide = malloc(nr * 40);
		for (i = 0; i < nr; i++) {
			memcpy(wide + i * 40, old + i * 36, 36);
			fdt32_st(wide + i * 40 + 36, 0xabcd);
		}
		err = fdt_setprop(fdt, ioas, "mappings", wide, nr * 40);
		free(wide);
		if (err)
			return err;
	}
	return fdt_setprop_u32(fdt, fdt_path_offset(fdt, "/ioases"),
			       "mapping-cells", 10);
}

/*
 * Issue #21 item 5: a forged hand-off chooses what rollback kexecs through
 * kernel-release ("\n/path" becomes line 2 of previous-kernel), and every
 * string reaches a terminal or a JSON reader.  The writer refuses what the
 * reader would, so capture fails before the kexec instead of the restore.
 */
KTEST(handoff_encode_refuses_unprintable_strings)
{
	struct kho_handoff h;
	void *blob;
	size_t len;

	rand_handoff(&h, 5, 4);
	strcpy(h.kernel_release, "7.2\n/tmp/evil");
	ASSERT_EQ(-EINVAL, kho_handoff_encode(&h, &blob, &len));
	strcpy(h.kernel_release, "../../tmp/evil");
	ASSERT_EQ(-EINVAL, kho_handoff_encode(&h, &blob, &len));
	strcpy(h.kernel_release, "7.2.13");
	strcpy(h.state.memfd[0].name, "ram\x1b[2J");
	ASSERT_EQ(-EINVAL, kho_handoff_encode(&h, &blob, &len));
	strcpy(h.state.memfd[0].name, "ram");
	ASSERT_EQ(0, kho_handoff_encode(&h, &blob, &len));
	free(blob);
	kho_handoff_free(&h);
}

struct str_edit {
	const char *node;	/* path of the node to edit */
	bool child;		/* edit its first child instead */
	const char *prop;	/* property to set, or NULL: rename the node */
	const char *val;
	const char *want;	/* in the message */
};

static const struct str_edit *cur_edit;

static int edit_string(void *fdt)
{
	int node = fdt_path_offset(fdt, cur_edit->node);

	if (node >= 0 && cur_edit->child)
		node = fdt_first_subnode(fdt, node);
	if (node < 0)
		return node;
	if (!cur_edit->prop)
		return fdt_set_name(fdt, node, cur_edit->val);
	return fdt_setprop_string(fdt, node, cur_edit->prop, cur_edit->val);
}

KTEST(handoff_decode_rejects_unprintable_strings)
{
	static const struct str_edit edits[] = {
		{ "/", false, "kernel-release", "7.2\n/tmp/evil", "kernel-release: holds a control" },
		{ "/", false, "kernel-release", "x/../../tmp/evil", "kernel-release: \"x/../../tmp/evil\" names a directory" },
		{ "/", false, "tool-version", "0.1\x1b]0;owned\x07", "tool-version: holds a control" },
		{ "/", false, "journal-source", "kernel\r", "journal-source: holds a control" },
		{ "/", false, "tool-version", "0.1\x7f", "tool-version: holds a control" },
		{ "/", false, "tool-version", "0.1\xc3\xa9", "tool-version: holds a control or non-ASCII character (byte 3)" },
		{ "/memfds", true, "memfd-name", "ram\x1b[2J", "memfd-name: holds a control" },
		{ "/devices", true, "driver", "vfio\tpci", "driver: holds a control" },
		{ "/devices", true, NULL, "device-1\n", "/devices: a child's name holds a control" },
	};
	struct kho_diag diag = { "" };
	struct kho_handoff h;
	void *blob;
	size_t len, i;

	rand_handoff(&h, 7, 4);
	/* Known node names for the edits. */
	ASSERT_TRUE(h.state.nr_memfd && h.state.nr_dev);
	ASSERT_EQ(0, kho_handoff_encode(&h, &blob, &len));
	kho_handoff_free(&h);
	for (i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		int err;

		cur_edit = &edits[i];
		diag.msg[0] = 0;
		err = edit_and_decode(blob, len, edit_string, true, &diag);
		if (err != -EBADMSG || !strstr(diag.msg, edits[i].want))
			printf("#   edit %zu (%s %s): %d \"%s\"\n", i,
			       edits[i].node, edits[i].prop ? edits[i].prop : "name",
			       err, diag.msg);
		ASSERT_EQ(-EBADMSG, err);
		ASSERT_STR_CONTAINS(diag.msg, edits[i].want);
	}
	free(blob);
}

KTEST(handoff_compatibility_rules)
{
	struct kho_diag diag = { "" };
	char want[80];
	size_t len;
	void *blob = ref_blob(&len);
	int err;

	ASSERT_TRUE(blob);
	ASSERT_EQ(0, edit_and_decode(blob, len, edit_unknown_props, true,
				     &diag));
	ASSERT_EQ(0, edit_and_decode(blob, len, edit_format_v2, true, &diag));
	err = edit_and_decode(blob, len, edit_wider_mappings, true, &diag);
	if (err)
		printf("#   wider mappings: %s\n", diag.msg);
	ASSERT_EQ(0, err);
	ASSERT_EQ(-EPROTONOSUPPORT, edit_and_decode(blob, len,
						    edit_min_reader_too_new,
						    true, &diag));
	snprintf(want, sizeof(want), "min-reader-version %d: this reader is version %d",
		 KHO_READER_VERSION + 1, KHO_READER_VERSION);
	ASSERT_STR_CONTAINS(diag.msg, want);
	/* The same edit without restamping is caught by the crc32. */
	ASSERT_EQ(-EBADMSG, edit_and_decode(blob, len, edit_unknown_props,
					    false, &diag));
	ASSERT_STR_CONTAINS(diag.msg, "crc32");
	free(blob);
}

/*
 * The preserved iommufd's node: it round-trips, it needs format 2 from the
 * writer, a reader refuses it under min-reader-version 1 (a v1 reader
 * would restore unverified), and it adds its LUO handler to what a target
 * must read.
 */
KTEST(handoff_iommufd_node)
{
	struct kho_diag diag = { "" };
	struct kho_handoff h, back;
	const char *abi[KHO_CAPTURE_MAX_ABI];
	void *blob;
	size_t len, n;

	rand_handoff(&h, 3, 8);
	ASSERT_TRUE(h.iommufd.present);
	ASSERT_EQ(0, encode_decode(&h, &back, NULL, &diag));
	ASSERT_TRUE(handoff_diff(&h, &back) == NULL);
	ASSERT_EQ(2, back.format_version);
	ASSERT_EQ(2, back.min_reader_version);
	kho_handoff_free(&back);
	n = kho_capture_abi_needs(&h, abi, KHO_CAPTURE_MAX_ABI);
	ASSERT_EQ(4, n);
	ASSERT_STR_CONTAINS(abi[3], "iommufd-journal-v2");
	/* The writer refuses the node under a reader that ignores it. */
	h.min_reader_version = 1;
	ASSERT_EQ(-EINVAL, kho_handoff_encode(&h, &blob, &len));
	/* And the reader refuses a blob edited that way. */
	h.min_reader_version = 2;
	ASSERT_EQ(0, kho_handoff_encode(&h, &blob, &len));
	ASSERT_EQ(-EBADMSG, edit_and_decode(blob, len, edit_min_reader_1,
					    true, &diag));
	ASSERT_STR_CONTAINS(diag.msg, "/iommufd: present, but min-reader-version 1");
	free(blob);
	kho_handoff_free(&h);
	/* Without the node: base ABIs only. */
	rand_handoff(&h, 4, 8);
	ASSERT_TRUE(!h.iommufd.present);
	ASSERT_EQ(3, kho_capture_abi_needs(&h, abi, KHO_CAPTURE_MAX_ABI));
	kho_handoff_free(&h);
}

static const char *data_dir(void);

static int edit_qemu_min_reader_2(void *fdt)
{
	if (fdt_setprop_u32(fdt, 0, "format-version", 2))
		return -1;
	return fdt_setprop_u32(fdt, 0, "min-reader-version", 2);
}

static int edit_qemu_token_unknown(void *fdt)
{
	int node = fdt_path_offset(fdt, "/qemu-cpr/qemu-0");
	uint64_t toks[6] = { 0 };

	return node < 0 ? node : fdt_setprop(fdt, node, "fd-tokens", toks,
					     sizeof(toks));
}

static int edit_qemu_token_short(void *fdt)
{
	int node = fdt_path_offset(fdt, "/qemu-cpr/qemu-0");
	const void *v;
	int len;

	if (node < 0 || !(v = fdt_getprop(fdt, node, "fd-tokens", &len)))
		return -1;
	/* Five tokens for six placeholders. */
	return fdt_setprop(fdt, node, "fd-tokens", v, len - 8);
}

static int edit_qemu_stream_unknown(void *fdt)
{
	int node = fdt_path_offset(fdt, "/qemu-cpr/qemu-0");

	return node < 0 ? node : fdt_setprop_u64(fdt, node, "stream-token", 999);
}

static int edit_qemu_state_magic(void *fdt)
{
	int node = fdt_path_offset(fdt, "/qemu-cpr/qemu-0");
	const uint8_t *v;
	uint8_t *copy;
	int len, err;

	if (node < 0 || !(v = fdt_getprop(fdt, node, "cpr-state", &len)))
		return -1;
	copy = malloc(len);
	memcpy(copy, v, len);
	copy[0] ^= 0xff;
	err = fdt_setprop(fdt, node, "cpr-state", copy, len);
	free(copy);
	return err;
}

/*
 * The qemu-cpr node (format 3): QEMU 11.1.3's own CPR state (six memfd
 * placeholders) and its stream, as memfds of /memfds, round trip; the
 * writer and the reader refuse it under an older min-reader; a token not
 * in /memfds, a token per placeholder missing, and a corrupt state are
 * refused naming the node.
 */
KTEST(handoff_qemu_cpr_node)
{
	struct kho_diag diag = { "" };
	struct kho_handoff h, back;
	struct kho_handoff_qemu *q;
	char path[PATH_MAX];
	void *state, *blob;
	size_t state_len, len, i;

	snprintf(path, sizeof(path), "%s/cpr/qemu-11.1.3-q35-memfd.cpr",
		 data_dir());
	ASSERT_EQ(0, kho_read_file(path, &state, &state_len));
	kho_handoff_init(&h);
	kho_handoff_header(&h, KHO_FORMAT_VERSION_QEMU);
	for (i = 0; i < 7; i++) {
		struct kho_memfd m = { .token = 0x6b686f2d63707200ULL + i,
				       .size = 4096 * (i + 1) };

		snprintf(m.name, sizeof(m.name), i < 6 ? "cpr-%zu" : "stream", i);
		ASSERT_EQ(0, kho_state_add_memfd(&h.state, &m));
	}
	h.qemu = calloc(1, sizeof(*h.qemu));
	h.nr_qemu = 1;
	q = &h.qemu[0];
	snprintf(q->name, sizeof(q->name), "/run/qemu/vm0.qmp");
	q->cpr_state = state;
	q->cpr_state_len = state_len;
	q->nr_fd_tokens = 6;
	q->fd_tokens = calloc(6, sizeof(*q->fd_tokens));
	for (i = 0; i < 6; i++)
		q->fd_tokens[i] = 0x6b686f2d63707200ULL + 5 - i;
	q->stream_token = 0x6b686f2d63707206ULL;
	q->stream_length = 77998;

	ASSERT_EQ(0, encode_decode(&h, &back, NULL, &diag));
	ASSERT_EQ(3, back.format_version);
	ASSERT_EQ(3, back.min_reader_version);
	ASSERT_EQ(1, back.nr_qemu);
	ASSERT_TRUE(!strcmp("/run/qemu/vm0.qmp", back.qemu[0].name));
	ASSERT_EQ(state_len, back.qemu[0].cpr_state_len);
	ASSERT_TRUE(!memcmp(state, back.qemu[0].cpr_state, state_len));
	ASSERT_EQ(6, back.qemu[0].nr_fd_tokens);
	for (i = 0; i < 6; i++)
		ASSERT_EQ(q->fd_tokens[i], back.qemu[0].fd_tokens[i]);
	ASSERT_EQ(q->stream_token, back.qemu[0].stream_token);
	ASSERT_EQ(77998, back.qemu[0].stream_length);
	kho_handoff_free(&back);

	/* The writer refuses the node under a reader that ignores it. */
	h.min_reader_version = 2;
	ASSERT_EQ(-EINVAL, kho_handoff_encode(&h, &blob, &len));
	h.min_reader_version = 3;
	ASSERT_EQ(0, kho_handoff_encode(&h, &blob, &len));
	ASSERT_EQ(-EBADMSG, edit_and_decode(blob, len, edit_qemu_min_reader_2,
					    true, &diag));
	ASSERT_STR_CONTAINS(diag.msg, "/qemu-cpr: present, but min-reader-version 2");
	ASSERT_EQ(-EBADMSG, edit_and_decode(blob, len, edit_qemu_token_unknown,
					    true, &diag));
	ASSERT_STR_CONTAINS(diag.msg, "/qemu-cpr/qemu-0: fd 0: memfd token 0 is not in /memfds");
	ASSERT_EQ(-EBADMSG, edit_and_decode(blob, len, edit_qemu_token_short,
					    true, &diag));
	ASSERT_STR_CONTAINS(diag.msg, "/qemu-cpr/qemu-0: property cpr-state (179 bytes, 5 fd tokens)");
	ASSERT_EQ(-EBADMSG, edit_and_decode(blob, len, edit_qemu_stream_unknown,
					    true, &diag));
	ASSERT_STR_CONTAINS(diag.msg, "stream-token 999 is not in /memfds");
	ASSERT_EQ(-EPROTONOSUPPORT, edit_and_decode(blob, len,
						    edit_qemu_state_magic,
						    true, &diag));
	ASSERT_STR_CONTAINS(diag.msg, "/qemu-cpr/qemu-0: property cpr-state");
	/* Every truncation of a blob with the node is refused. */
	for (i = 0; i < len; i += 7)
		ASSERT_TRUE(kho_handoff_decode(blob, i, &back, &diag) != 0);
	free(blob);
	kho_handoff_free(&h);
}

/* Decodes a blob that must be refused; counts the ones that were not. */
static int must_fail(const void *buf, size_t len)
{
	struct kho_diag diag = { "" };
	struct kho_handoff h;
	int err = kho_handoff_decode(buf, len, &h, &diag);

	if (!err) {
		kho_handoff_free(&h);
		return 1;
	}
	/* Only the documented codes: corrupt or too new. */
	return err != -EBADMSG && err != -EPROTONOSUPPORT;
}

KTEST(handoff_every_truncation_rejected)
{
	size_t len, cut;
	void *blob = ref_blob(&len);
	int bad = 0;

	ASSERT_TRUE(blob);
	for (cut = 0; cut < len; cut++) {
		/* An exact-size copy so that ASan sees any over-read. */
		void *copy = malloc(cut ? cut : 1);

		memcpy(copy, blob, cut);
		bad += must_fail(copy, cut);
		free(copy);
	}
	printf("#   %zu truncations of a %zu-byte blob\n", len, len);
	ASSERT_EQ(0, bad);
	free(blob);
}

KTEST(handoff_every_bit_flip_rejected)
{
	struct timespec t0, t1;
	size_t len, bit;
	void *blob = ref_blob(&len);
	uint8_t *copy;
	int bad = 0;

	ASSERT_TRUE(blob);
	copy = malloc(len);
	memcpy(copy, blob, len);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* Every bit of the blob: header, reservation map, structure and
	 * strings blocks.  The crc32 covers all of them. */
	for (bit = 0; bit < len * 8; bit++) {
		copy[bit / 8] ^= 1u << (bit % 8);
		if (must_fail(copy, len)) {
			if (bad < 5)
				printf("#   flip of bit %zu accepted\n", bit);
			bad++;
		}
		copy[bit / 8] ^= 1u << (bit % 8);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("#   %zu bit flips in %.2f s\n", len * 8,
	       (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
	ASSERT_EQ(0, bad);
	free(copy);
	free(blob);
}

KTEST(handoff_header_corruption_rejected)
{
	size_t len, i, k;
	void *blob = ref_blob(&len);
	uint8_t *copy;
	int bad = 0;

	ASSERT_TRUE(blob);
	copy = malloc(len);
	rnd_state = 0x5eed;
	/* Random words over every header field, and the classic
	 * troublemakers: 0, all-ones, sizes just past the buffer. */
	for (i = 0; i < 10 * sizeof(struct fdt_header); i++) {
		static const uint32_t special[] = { 0, 0xffffffff, 0x7fffffff,
						    0x80000000, 40, 17, 16 };
		size_t field = (i / 4) % 10;
		uint32_t v = i % 4 < 2 ? special[rnd_below(7)] : rnd();

		memcpy(copy, blob, len);
		if (i % 4 == 2)
			v = len + (rnd() & 0xff);
		if (fdt32_ld((fdt32_t *)copy + field) == v)
			continue;
		fdt32_st((fdt32_t *)copy + field, v);
		bad += must_fail(copy, len);
		/* And with a larger buffer than the header claims. */
		for (k = 0; k < 2; k++)
			copy[rnd_below(len)] ^= rnd();
		bad += must_fail(copy, len);
	}
	ASSERT_EQ(0, bad);
	free(copy);
	free(blob);
}

static const char *data_dir(void)
{
	const char *d = getenv("KHO_TEST_DATA");

	return d ? d : "tests/data";
}

KTEST(handoff_good_files_accepted)
{
	char path[PATH_MAX], line[512];
	struct kho_diag diag = { "" };
	int nr = 0;
	FILE *list;

	/* The list of good files is the one check.sh uses too. */
	snprintf(path, sizeof(path), "%s/good/LIST", data_dir());
	list = fopen(path, "r");
	ASSERT_TRUE(list != NULL);
	while (fgets(line, sizeof(line), list)) {
		struct kho_handoff h;
		size_t len;
		void *buf;
		int err;

		line[strcspn(line, "\n")] = 0;
		if (!line[0] || line[0] == '#')
			continue;
		snprintf(path, sizeof(path), "%s/good/%s", data_dir(), line);
		err = kho_read_file(path, &buf, &len);
		if (err)
			printf("#   %s: %s\n", path, strerror(-err));
		ASSERT_EQ(0, err);
		err = kho_handoff_decode(buf, len, &h, &diag);
		free(buf);
		if (err)
			printf("#   %s: %s\n", path, diag.msg);
		ASSERT_EQ(0, err);
		kho_handoff_free(&h);
		nr++;
	}
	fclose(list);
	ASSERT_TRUE(nr > 0);
}

/* Decodes tests/data/good/NAME; the caller frees @h. */
static void decode_good(const char *name, struct kho_handoff *h)
{
	char path[PATH_MAX];
	struct kho_diag diag = { "" };
	size_t len;
	void *buf;

	snprintf(path, sizeof(path), "%s/good/%s", data_dir(), name);
	if (kho_read_file(path, &buf, &len))
		abort();
	if (kho_handoff_decode(buf, len, h, &diag)) {
		printf("#   %s: %s\n", path, diag.msg);
		abort();
	}
	free(buf);
}

/*
 * migration-flags (issue #15) is optional in any format version: a blob
 * without it (every version-1 blob before it) reads as "not probed"; one
 * with it reads the flags; a device without it is written without it;
 * the writer refuses flags a reader would refuse.
 */
KTEST(handoff_migration_flags_optional)
{
	struct kho_handoff old, now, back;
	struct kho_diag diag = { "" };
	const void *v;
	void *blob;
	size_t len;
	int node, plen;

	decode_good("edu-vm.dtb", &old);
	decode_good("edu-vm-migration.dtb", &now);
	ASSERT_EQ(1, (int)old.state.nr_dev);
	ASSERT_EQ(1, (int)now.state.nr_dev);
	ASSERT_TRUE(!old.state.dev[0].migration_probed);
	ASSERT_EQ(0, (int)old.state.dev[0].migration_flags);
	ASSERT_TRUE(now.state.dev[0].migration_probed);
	ASSERT_EQ(0, (int)now.state.dev[0].migration_flags);
	/* The same format version: the property needs no newer reader. */
	ASSERT_EQ(1, (int)now.format_version);
	ASSERT_EQ(1, (int)now.min_reader_version);
	ASSERT_EQ(0, kho_state_equal(&old.state, &now.state, &diag));

	/* Unprobed: no property at all. */
	ASSERT_EQ(0, kho_handoff_encode(&old, &blob, &len));
	node = fdt_path_offset(blob, "/devices/device-2");
	ASSERT_TRUE(node >= 0);
	ASSERT_TRUE(fdt_getprop(blob, node, "migration-flags", &plen) == NULL);
	free(blob);

	/* STOP_COPY + PRE_COPY round-trips, as one u32. */
	now.state.dev[0].migration_flags = 0x5;
	ASSERT_EQ(0, kho_handoff_encode(&now, &blob, &len));
	node = fdt_path_offset(blob, "/devices/device-2");
	v = fdt_getprop(blob, node, "migration-flags", &plen);
	ASSERT_TRUE(v != NULL);
	ASSERT_EQ(4, plen);
	ASSERT_EQ(0x5, (int)fdt32_ld(v));
	ASSERT_EQ(0, kho_handoff_decode(blob, len, &back, &diag));
	ASSERT_TRUE(back.state.dev[0].migration_probed);
	ASSERT_EQ(0x5, (int)back.state.dev[0].migration_flags);
	free(blob);
	kho_handoff_free(&back);

	/* PRE_COPY without STOP_COPY is no migration v2 device. */
	now.state.dev[0].migration_flags = 0x4;
	ASSERT_EQ(-EINVAL, kho_handoff_encode(&now, &blob, &len));
	kho_handoff_free(&old);
	kho_handoff_free(&now);
}

/*
 * Gives device @d a carried state (format 4) saved with @flags: a memfd of
 * its own, sized to the data, and the FSM path a save takes (through
 * PRE_COPY when offered), walked with the kernel's next-state rule.
 */
static void add_device_state(struct kho_handoff *h, size_t d, uint32_t flags)
{
	struct kho_state *s = &h->state;
	struct kho_device_state *ds = &s->dev[d].saved;
	uint32_t st = VFIO_DEVICE_STATE_RUNNING, next;
	struct kho_memfd *m;

	s->memfd = realloc(s->memfd, (s->nr_memfd + 1) * sizeof(*s->memfd));
	if (!s->memfd)
		abort();
	m = &s->memfd[s->nr_memfd++];
	memset(m, 0, sizeof(*m));
	m->token = 0x6b686f2d64730000ULL + d;
	m->size = 200 + d * 4096;
	m->seals = 0xf;
	snprintf(m->name, sizeof(m->name), "kho-devstate:%zu", d);
	s->dev[d].migration_probed = true;
	s->dev[d].migration_flags = flags;
	memset(ds, 0, sizeof(*ds));
	ds->present = true;
	ds->memfd_token = m->token;
	ds->length = m->size;
	ds->flags = flags;
	ds->crc32 = (uint32_t)rnd();
	ds->path[ds->nr_path++] = st;
	while (st != VFIO_DEVICE_STATE_STOP_COPY) {
		uint32_t target = flags & VFIO_MIGRATION_PRE_COPY &&
				  st == VFIO_DEVICE_STATE_RUNNING ?
				  VFIO_DEVICE_STATE_PRE_COPY :
				  VFIO_DEVICE_STATE_STOP_COPY;

		if (kho_devstate_next(flags, st, target, &next))
			abort();
		ds->path[ds->nr_path++] = st = next;
	}
	h->format_version = KHO_FORMAT_VERSION_DEVSTATE;
	h->min_reader_version = KHO_FORMAT_VERSION_DEVSTATE;
}

/* Every migration v2 flag combination, carried on every device. */
KTEST(handoff_device_state_round_trip)
{
	static const uint32_t flag_sets[] = { 0x1, 0x3, 0x5, 0x7, 0x107 };
	struct kho_diag diag = { "" };
	uint64_t seed;
	size_t d, n = 0;

	for (seed = 1; seed <= 60; seed++) {
		struct kho_handoff h, back;
		int err;

		rand_handoff(&h, seed, rnd_below(50));
		for (d = 0; d < h.state.nr_dev; d++, n++)
			add_device_state(&h, d, flag_sets[n % 5]);
		err = encode_decode(&h, &back, NULL, &diag);
		if (err)
			printf("#   seed %llu: %s\n", (unsigned long long)seed,
			       diag.msg);
		ASSERT_EQ(0, err);
		ASSERT_TRUE(handoff_diff(&h, &back) == NULL);
		for (d = 0; d < back.state.nr_dev; d++)
			ASSERT_TRUE(back.state.dev[d].saved.present);
		kho_handoff_free(&h);
		kho_handoff_free(&back);
	}
	ASSERT_TRUE(n >= 10);
}

/*
 * Without the node (every blob before format 4) a device reads as reset;
 * the example with it reads back what it says.
 */
KTEST(handoff_device_state_optional)
{
	static const uint32_t path[] = { 2, 6, 7, 3 };
	struct kho_handoff old, now;
	const struct kho_device_state *ds;

	decode_good("edu-vm-migration.dtb", &old);
	ASSERT_TRUE(!old.state.dev[0].saved.present);
	decode_good("vm-device-state.dtb", &now);
	ASSERT_EQ(4, (int)now.format_version);
	ASSERT_EQ(4, (int)now.min_reader_version);
	ds = &now.state.dev[0].saved;
	ASSERT_TRUE(ds->present);
	ASSERT_EQ(9, ds->memfd_token);
	ASSERT_EQ(4096, ds->length);
	ASSERT_EQ(7, ds->flags);
	ASSERT_EQ(0x1c291ca3, ds->crc32);
	ASSERT_EQ(4, ds->nr_path);
	ASSERT_EQ(0, memcmp(path, ds->path, sizeof(path)));
	kho_handoff_free(&old);
	kho_handoff_free(&now);
}

/* What a reader would refuse, the writer refuses first (caller bugs). */
/*
 * A device named as an mdev (format 5): the writer refuses it below
 * min-reader-version 5 or with a parent or type no path may be built of;
 * at 5 it round-trips, the device node and its BIND naming one UUID.
 */
KTEST(handoff_mdev_round_trip_and_writer_refuses)
{
	struct kho_handoff h, back;
	struct kho_diag diag = { "" };
	struct kho_device *d;
	const struct kho_device *bd;
	void *blob;
	size_t i, len, binds = 0;
	uint64_t seed;

	for (seed = 1; ; seed++) {
		rand_handoff(&h, seed, 4);
		if (h.state.nr_dev)
			break;
		kho_handoff_free(&h);
	}
	d = &h.state.dev[0];
	memset(&d->pci, 0, sizeof(d->pci));
	ASSERT_EQ(0, kho_mdev_parse_uuid("83b8f4f2-509f-382f-3c1e-e6bfe0fa1001",
					 d->mdev.uuid));
	snprintf(d->mdev.parent, sizeof(d->mdev.parent), "mtty");
	snprintf(d->mdev.type, sizeof(d->mdev.type), "mtty-1");
	snprintf(d->driver, sizeof(d->driver), "mtty");
	for (i = 0; i < h.replay.nr; i++) {
		struct kho_rec *r = &h.replay.recs[i];

		if (r->op != KHO_OP_DEVICE_BIND || r->bind.out_devid != d->id)
			continue;
		memset(&r->bind.pci, 0, sizeof(r->bind.pci));
		memcpy(r->bind.mdev_uuid, d->mdev.uuid, 16);
		binds++;
	}
	ASSERT_TRUE(kho_state_has_mdev(&h.state));
	ASSERT_EQ(-EINVAL, kho_handoff_encode(&h, &blob, &len));
	kho_handoff_require(&h, KHO_FORMAT_VERSION_MDEV);
	ASSERT_EQ(KHO_FORMAT_VERSION_MDEV, h.min_reader_version);
	kho_handoff_require(&h, KHO_FORMAT_VERSION_QEMU);	/* never lowers */
	ASSERT_EQ(KHO_FORMAT_VERSION_MDEV, h.format_version);
	ASSERT_EQ(0, kho_handoff_encode(&h, &blob, &len));
	ASSERT_EQ(0, kho_handoff_decode(blob, len, &back, &diag));
	free(blob);
	bd = kho_state_find_dev(&back.state, d->id);
	ASSERT_TRUE(bd != NULL);
	ASSERT_TRUE(!memcmp(bd->mdev.uuid, d->mdev.uuid, 16));
	ASSERT_EQ(0, strcmp("mtty", bd->mdev.parent));
	ASSERT_EQ(0, strcmp("mtty-1", bd->mdev.type));
	ASSERT_TRUE(kho_pci_is_none(&bd->pci));
	for (i = 0; i < back.replay.nr; i++)
		if (back.replay.recs[i].op == KHO_OP_DEVICE_BIND &&
		    back.replay.recs[i].bind.out_devid == d->id) {
			ASSERT_TRUE(!memcmp(back.replay.recs[i].bind.mdev_uuid,
					    d->mdev.uuid, 16));
			binds--;
		}
	ASSERT_EQ(0, binds);
	kho_handoff_free(&back);
	snprintf(d->mdev.type, sizeof(d->mdev.type), "..");
	ASSERT_EQ(-EINVAL, kho_handoff_encode(&h, &blob, &len));
	snprintf(d->mdev.type, sizeof(d->mdev.type), "mtty-1");
	d->pci.bus = 1;		/* one or the other */
	ASSERT_EQ(-EINVAL, kho_handoff_encode(&h, &blob, &len));
	kho_handoff_free(&h);
}

/*
 * The poison node (format 6): carried only at min-reader-version 6,
 * read back as written, and held by the writer to the reader's rules.
 */
KTEST(handoff_poison_round_trip_and_writer_refuses)
{
	struct kho_memfd m = { .token = 99999, .size = 8 * 4096, .name = "ram" };
	struct kho_poison p[2] = { { 99999, 4096, 4096 },
				   { 99999, 3 * 4096, 2 * 4096 } };
	struct kho_handoff h, back;
	struct kho_diag diag = { "" };
	struct kho_mapping *mp;
	struct kho_ioas *a;
	void *blob;
	size_t len;

	rand_handoff(&h, 7, 4);
	ASSERT_EQ(0, kho_state_add_memfd(&h.state, &m));
	h.poison = malloc(sizeof(p));
	ASSERT_TRUE(h.poison != NULL);
	memcpy(h.poison, p, sizeof(p));
	h.nr_poison = 2;
	/* A reader that would map the pages as good must be kept out. */
	ASSERT_EQ(-EINVAL, kho_handoff_encode(&h, &blob, &len));
	kho_handoff_require(&h, KHO_FORMAT_VERSION_POISON);
	ASSERT_EQ(0, kho_handoff_encode(&h, &blob, &len));
	ASSERT_EQ(0, kho_handoff_decode(blob, len, &back, &diag));
	free(blob);
	ASSERT_EQ(KHO_FORMAT_VERSION_POISON, back.min_reader_version);
	ASSERT_EQ(2, back.nr_poison);
	ASSERT_TRUE(!memcmp(back.poison, p, sizeof(p)));
	kho_handoff_free(&back);

	/* Out of order, overlapping, unaligned, past the memfd: refused. */
	h.poison[1].offset = 0;
	ASSERT_EQ(-EINVAL, kho_handoff_encode(&h, &blob, &len));
	h.poison[1].offset = 4096;
	ASSERT_EQ(-EINVAL, kho_handoff_encode(&h, &blob, &len));
	h.poison[1].offset = 3 * 4096 + 1;
	ASSERT_EQ(-EINVAL, kho_handoff_encode(&h, &blob, &len));
	h.poison[1].offset = 7 * 4096;
	ASSERT_EQ(-EINVAL, kho_handoff_encode(&h, &blob, &len));
	h.poison[1].offset = 3 * 4096;
	ASSERT_EQ(0, kho_handoff_poison_check(&h, &diag));

	/* A mapping of the poisoned page: the replay would map it. */
	a = &h.state.ioas[0];
	mp = realloc(a->maps, (a->nr_maps + 1) * sizeof(*mp));
	ASSERT_TRUE(mp != NULL);
	a->maps = mp;
	a->cap_maps = a->nr_maps + 1;
	mp[a->nr_maps] = (struct kho_mapping){
		.iova = mp[a->nr_maps - 1].iova + mp[a->nr_maps - 1].length + 0x100000,
		.length = 4096, .offset = 4 * 4096, .memfd_token = 99999,
		.flags = 4 };
	a->nr_maps++;
	ASSERT_EQ(-EBADMSG, kho_handoff_poison_check(&h, &diag));
	ASSERT_STR_CONTAINS(diag.msg, "covers poisoned range 0x3000+0x2000: the replay must leave it unmapped");
	ASSERT_EQ(-EINVAL, kho_handoff_encode(&h, &blob, &len));
	kho_handoff_free(&h);
}

KTEST(handoff_device_state_writer_refuses)
{
	struct kho_handoff h;
	struct kho_device_state keep;
	void *blob;
	size_t len, d = 0;
	uint64_t seed;

	for (seed = 1; !d; seed++) {
		rand_handoff(&h, seed, 4);
		d = h.state.nr_dev;
		if (!d)
			kho_handoff_free(&h);
	}
	add_device_state(&h, 0, 0x7);
	keep = h.state.dev[0].saved;
	ASSERT_EQ(0, kho_handoff_encode(&h, &blob, &len));
	free(blob);
	h.min_reader_version = KHO_FORMAT_VERSION_QEMU;
	ASSERT_EQ(-EINVAL, kho_handoff_encode(&h, &blob, &len));
	h.min_reader_version = KHO_FORMAT_VERSION_DEVSTATE;
	h.state.dev[0].saved.flags = 0x3;
	ASSERT_EQ(-EINVAL, kho_handoff_encode(&h, &blob, &len));
	h.state.dev[0].saved = keep;
	h.state.dev[0].migration_probed = false;
	ASSERT_EQ(-EINVAL, kho_handoff_encode(&h, &blob, &len));
	h.state.dev[0].migration_probed = true;
	h.state.dev[0].saved.length = 0;
	ASSERT_EQ(-EINVAL, kho_handoff_encode(&h, &blob, &len));
	h.state.dev[0].saved = keep;
	h.state.dev[0].saved.nr_path--;	/* ends in PRE_COPY_P2P */
	ASSERT_EQ(-EINVAL, kho_handoff_encode(&h, &blob, &len));
	h.state.dev[0].saved.nr_path = 1;
	ASSERT_EQ(-EINVAL, kho_handoff_encode(&h, &blob, &len));
	h.state.dev[0].saved = keep;
	h.state.dev[0].saved.path[2] = VFIO_DEVICE_STATE_STOP;
	ASSERT_EQ(-EINVAL, kho_handoff_encode(&h, &blob, &len));
	kho_handoff_free(&h);
}

/*
 * What upgrade does with a saved device state (kho-tool/devsave.c): the
 * memfd joins the table under the device's own token, the device gets
 * its device-state node, the plan one DEVICE_MIG_STATE record per arc,
 * the hand-off becomes format 7, and the blob decodes with all of it; a
 * device the hand-off lacks is refused, and a refusal adds no record.
 */
KTEST(capture_add_devstate_carries_the_memfd)
{
	struct kho_device_state saved = {
		.length = 5, .flags = VFIO_MIGRATION_STOP_COPY |
				      VFIO_MIGRATION_PRE_COPY,
		.crc32 = 0x8587d865,	/* crc32 of "hello" */
		.nr_path = 3,
		.path = { VFIO_DEVICE_STATE_RUNNING,
			  VFIO_DEVICE_STATE_PRE_COPY,
			  VFIO_DEVICE_STATE_STOP_COPY },
	};
	struct kho_diag diag = { "" };
	struct kho_capture cap;
	const struct kho_device *d;
	const struct kho_memfd *m;
	const struct kho_rec *r;
	struct kho_handoff back;
	size_t nr_plan, nr;
	int fd;

	memset(&cap, 0, sizeof(cap));
	cap.handoff_fd = cap.luo_fd = cap.session_fd = cap.given_session = -1;
	decode_good("edu-vm-migration.dtb", &cap.handoff);
	cap.handoff.state.dev[0].migration_flags = saved.flags;
	fd = kho_devstate_memfd("kho-devstate:0000:00:03.0");
	ASSERT_TRUE(fd >= 0);
	ASSERT_EQ(5, write(fd, "hello", 5));
	nr_plan = cap.handoff.replay.nr;
	ASSERT_EQ(-ENOENT, kho_capture_add_devstate(&cap, 99, fd, &saved, 2,
						    &diag));
	ASSERT_EQ(-EINVAL, kho_capture_add_devstate(&cap, 2, fd, &saved, 6,
						    &diag));
	ASSERT_EQ(nr_plan, cap.handoff.replay.nr);
	ASSERT_EQ(0, kho_capture_add_devstate(&cap, 2, fd, &saved, 2, &diag));
	ASSERT_EQ(1, cap.nr_extra);
	ASSERT_EQ(0, kho_handoff_decode(cap.blob, cap.blob_len, &back, &diag));
	ASSERT_EQ(KHO_FORMAT_VERSION_MIG_OP, back.format_version);
	ASSERT_EQ(KHO_FORMAT_VERSION_MIG_OP, back.min_reader_version);
	ASSERT_EQ(nr_plan + 2, back.replay.nr);
	r = &back.replay.recs[nr_plan];
	ASSERT_EQ(KHO_OP_DEVICE_MIG_STATE, r->op);
	ASSERT_EQ(2, r->mig_state.dev_id);
	ASSERT_EQ(VFIO_DEVICE_STATE_RUNNING, r->mig_state.from);
	ASSERT_EQ(VFIO_DEVICE_STATE_PRE_COPY, r->mig_state.to);
	ASSERT_EQ(2, r->mig_state.length);	/* what PRE_COPY read */
	ASSERT_EQ(KHO_DEVSTATE_TOKEN_BASE + 2, r->mig_state.memfd_token);
	ASSERT_EQ(0x8587d865, r->mig_state.crc32);
	r = kho_migrec_find(&back.replay, 2, &nr);
	ASSERT_EQ(2, nr);
	ASSERT_TRUE(r == &back.replay.recs[nr_plan + 1]);
	ASSERT_EQ(VFIO_DEVICE_STATE_PRE_COPY, r->mig_state.from);
	ASSERT_EQ(VFIO_DEVICE_STATE_STOP_COPY, r->mig_state.to);
	ASSERT_EQ(5, r->mig_state.length);	/* the whole data */
	d = kho_state_find_dev(&back.state, 2);
	ASSERT_TRUE(d && d->saved.present);
	ASSERT_EQ(KHO_DEVSTATE_TOKEN_BASE + 2, d->saved.memfd_token);
	ASSERT_EQ(5, d->saved.length);
	ASSERT_EQ(3, d->saved.nr_path);
	m = kho_state_find_memfd(&back.state, KHO_DEVSTATE_TOKEN_BASE + 2);
	ASSERT_TRUE(m != NULL);
	ASSERT_EQ(5, m->size);
	ASSERT_EQ(0, strcmp("kho-devstate:0000:00:03.0", m->name));
	kho_handoff_free(&back);
	/* the same device twice: its token is taken, no record added */
	nr_plan = cap.handoff.replay.nr;
	ASSERT_EQ(-EEXIST, kho_capture_add_devstate(&cap, 2, -1, &saved, 2,
						    &diag));
	ASSERT_EQ(nr_plan, cap.handoff.replay.nr);
	kho_capture_release(&cap);	/* closes fd */
	ASSERT_EQ(0, cap.nr_extra);
}

/* A device in @s carrying state in memfd @token, whatever its size. */
static void carry_in(struct kho_state *s, uint64_t token)
{
	struct kho_device *d;
	size_t m;

	s->dev = realloc(s->dev, (s->nr_dev + 1) * sizeof(*s->dev));
	if (!s->dev)
		abort();
	d = &s->dev[s->nr_dev++];
	memset(d, 0, sizeof(*d));
	d->id = 0x7000;
	d->pci = (struct kho_pci_id){ 0, 5, 0, 0x15b3, 0x101e };
	snprintf(d->driver, sizeof(d->driver), "mlx5_vfio_pci");
	d->migration_probed = true;
	d->migration_flags = VFIO_MIGRATION_STOP_COPY;
	d->saved = (struct kho_device_state){
		.present = true, .memfd_token = token,
		.flags = VFIO_MIGRATION_STOP_COPY, .nr_path = 3,
		.path = { VFIO_DEVICE_STATE_RUNNING, VFIO_DEVICE_STATE_STOP,
			  VFIO_DEVICE_STATE_STOP_COPY },
	};
	for (m = 0; m < s->nr_memfd; m++)
		if (s->memfd[m].token == token)
			d->saved.length = s->memfd[m].size;
}

/* A device's memfd that is also a QEMU's or the iommufd's: refused. */
KTEST(handoff_device_state_memfd_not_qemus_nor_iommufds)
{
	struct kho_diag diag = { "" };
	struct kho_handoff h, back;
	char want[96];

	decode_good("qemu-cpr-one.dtb", &h);
	ASSERT_TRUE(h.nr_qemu == 1);
	carry_in(&h.state, h.qemu[0].stream_token);
	ASSERT_TRUE(h.state.dev[h.state.nr_dev - 1].saved.length > 0);
	h.format_version = h.min_reader_version = KHO_FORMAT_VERSION_DEVSTATE;
	ASSERT_EQ(-EBADMSG, encode_decode(&h, &back, NULL, &diag));
	snprintf(want, sizeof(want), "/qemu-cpr/qemu-0: memfd token %llu holds a device's state",
		 (unsigned long long)h.qemu[0].stream_token);
	ASSERT_STR_CONTAINS(diag.msg, want);
	kho_handoff_free(&h);

	kho_handoff_init(&h);
	h.state.memfd = calloc(1, sizeof(*h.state.memfd));
	h.state.nr_memfd = 1;
	h.state.memfd[0] = (struct kho_memfd){ .token = 5, .size = 200 };
	carry_in(&h.state, 5);
	h.iommufd.present = true;
	snprintf(h.iommufd.compatible, sizeof(h.iommufd.compatible), "iommufd-journal-v2");
	h.iommufd.token = 0x6b686f2d696f6d6dULL;
	h.iommufd.nr_files = 1;
	h.iommufd.files = calloc(1, sizeof(*h.iommufd.files));
	h.iommufd.files[0] = (struct kho_kjournal_file){ .ino = 1, .token = 5 };
	h.format_version = h.min_reader_version = KHO_FORMAT_VERSION_DEVSTATE;
	ASSERT_EQ(-EBADMSG, encode_decode(&h, &back, NULL, &diag));
	ASSERT_STR_CONTAINS(diag.msg, "/iommufd: file-tokens: memfd token 5 holds a device's state");
	/* The same without the iommufd's claim is a good hand-off. */
	h.iommufd.nr_files = 0;
	ASSERT_EQ(0, encode_decode(&h, &back, NULL, &diag));
	ASSERT_TRUE(back.state.dev[0].saved.present);
	kho_handoff_free(&back);
	kho_handoff_free(&h);
}

/* One memfd, two devices' state: the reader refuses it by name. */
KTEST(handoff_device_state_memfd_shared)
{
	struct kho_diag diag = { "" };
	struct kho_handoff h, back;
	uint64_t seed;

	for (seed = 1;; seed++) {
		rand_handoff(&h, seed, 4);
		if (h.state.nr_dev >= 2)
			break;
		kho_handoff_free(&h);
	}
	add_device_state(&h, 0, 0x1);
	add_device_state(&h, 1, 0x1);
	h.state.memfd[h.state.nr_memfd - 1].size = h.state.dev[0].saved.length;
	h.state.dev[1].saved.memfd_token = h.state.dev[0].saved.memfd_token;
	h.state.dev[1].saved.length = h.state.dev[0].saved.length;
	ASSERT_EQ(-EBADMSG, encode_decode(&h, &back, NULL, &diag));
	ASSERT_STR_CONTAINS(diag.msg, "holds the state of two devices");
	kho_handoff_free(&h);
}

static int errno_by_name(const char *name)
{
	if (!strcmp(name, "EBADMSG"))
		return -EBADMSG;
	if (!strcmp(name, "EPROTONOSUPPORT"))
		return -EPROTONOSUPPORT;
	return 1;
}

KTEST(handoff_bad_files_rejected_as_documented)
{
	char path[PATH_MAX], line[1024];
	int nr = 0, failed = 0;
	FILE *list;

	snprintf(path, sizeof(path), "%s/bad/EXPECTED", data_dir());
	list = fopen(path, "r");
	ASSERT_TRUE(list != NULL);
	/* FILE <tab> ERRNO <tab> DT-VALIDATE <tab> MESSAGE SUBSTRING */
	while (fgets(line, sizeof(line), list)) {
		char *file, *eno, *dtv, *text, *save = NULL;
		struct kho_diag diag = { "" };
		struct kho_handoff h;
		size_t len;
		void *buf;
		int err;

		line[strcspn(line, "\n")] = 0;
		if (!line[0] || line[0] == '#')
			continue;
		file = strtok_r(line, "\t", &save);
		eno = strtok_r(NULL, "\t", &save);
		dtv = strtok_r(NULL, "\t", &save);
		text = strtok_r(NULL, "\t", &save);
		ASSERT_TRUE(file && eno && dtv && text);
		snprintf(path, sizeof(path), "%s/bad/%s", data_dir(), file);
		ASSERT_EQ(0, kho_read_file(path, &buf, &len));
		err = kho_handoff_decode(buf, len, &h, &diag);
		free(buf);
		if (!err)
			kho_handoff_free(&h);
		if (err != errno_by_name(eno) || !strstr(diag.msg, text)) {
			printf("#   %s: got %d \"%s\", expected %s \"%s\"\n",
			       file, err, diag.msg, eno, text);
			failed++;
		}
		nr++;
	}
	fclose(list);
	printf("#   %d bad files\n", nr);
	ASSERT_TRUE(nr >= 10);
	ASSERT_EQ(0, failed);
}

/*
 * The crc32 stops a random flip before any field parser runs.  To reach
 * the parsers with damage, flip every bit and restamp the crc: the
 * decoder may accept the result (a flipped mapping length is still a
 * mapping), but must never crash or leak (run under ASan), must return
 * only its documented codes, and what it accepts must survive a round
 * trip.
 */
KTEST(handoff_restamped_flips_reach_the_parsers)
{
	size_t len, bit, accepted = 0, rejected = 0;
	void *blob = ref_blob(&len);
	uint8_t *copy;
	int bad = 0;

	ASSERT_TRUE(blob);
	copy = malloc(len);
	for (bit = 0; bit < len * 8; bit++) {
		struct kho_diag diag = { "" };
		struct kho_handoff h, back;
		int err;

		memcpy(copy, blob, len);
		copy[bit / 8] ^= 1u << (bit % 8);
		if (kho_handoff_stamp(copy, len, NULL))
			continue;	/* no longer an FDT: covered above */
		err = kho_handoff_decode(copy, len, &h, &diag);
		if (err) {
			bad += err != -EBADMSG && err != -EPROTONOSUPPORT;
			rejected++;
			continue;
		}
		accepted++;
		if (encode_decode(&h, &back, NULL, &diag) ||
		    handoff_diff(&h, &back)) {
			if (bad < 5)
				printf("#   bit %zu: accepted but no round trip: %s\n",
				       bit, diag.msg);
			bad++;
		} else {
			kho_handoff_free(&back);
		}
		kho_handoff_free(&h);
	}
	printf("#   %zu restamped flips accepted, %zu rejected\n", accepted,
	       rejected);
	ASSERT_EQ(0, bad);
	ASSERT_TRUE(rejected > 0);
	free(copy);
	free(blob);
}
