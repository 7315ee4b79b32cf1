// SPDX-License-Identifier: GPL-2.0
/*
 * The cost of decoding the worst hand-off the caps admit (issue #21 item
 * 7): one blob per shape that stresses a uniqueness check or a reference
 * lookup, each as large as the restore-agent accepts (64 MiB), decoded
 * once and timed.  Every check must be O(n log n): the bound below is
 * generous (sanitizer builds, a shared 2-core machine), and a quadratic
 * check misses it by minutes.  Prints the figures.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <linux/iommufd.h>
#include "compat.h"
#include <linux/vfio.h>

#include "ktest.h"
#include "handoff.h"
#include "journal.h"
#include "kjournal.h"
#include "migrec.h"

#ifndef COST_CAP	/* -DCOST_CAP=... for a smaller run by hand */
#define COST_CAP	KHO_HANDOFF_MAX	/* the cap every reader applies */
#endif
#define COST_BOUND_S	20.0

enum shape { MEMFDS, HWPTS, MAPPINGS, FILES, SLICES, MIG_ARCS };
static const char *const shape_name[] = {
	"memfd nodes", "device+HWPT nodes", "mappings over many memfds",
	"iommufd file tokens", "REPLAY_MAPPINGS slices",
	"devices with state and DEVICE_MIG_STATE arcs",
};

/* CPU time: the machine is shared, and the bound is about the work. */
static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void add_memfds(struct kho_state *s, size_t n)
{
	size_t i;

	s->memfd = calloc(n, sizeof(*s->memfd));
	s->nr_memfd = n;
	for (i = 0; i < n; i++) {
		s->memfd[i].token = 1000 + i;
		s->memfd[i].size = 1 << 20;
	}
}

/* @n objects of @shape; lookups arrive in the order that defeats caches. */
static void build(struct kho_handoff *h, enum shape shape, size_t n)
{
	struct kho_state *s = &h->state;
	size_t i;

	kho_handoff_init(h);
	h->format_version = shape == FILES ? KHO_FORMAT_VERSION_IOMMUFD :
			    shape == MIG_ARCS ? KHO_FORMAT_VERSION_MIG_OP :
						KHO_FORMAT_VERSION;
	h->min_reader_version = h->format_version;
	strcpy(h->tool_version, "cost");
	strcpy(h->kernel_release, "7.2.13");
	switch (shape) {
	case MEMFDS:
		add_memfds(s, n);
		break;
	case HWPTS:
		/* One IOAS; device i attached to HWPT i, which names it. */
		s->nr_ioas = 1;
		s->ioas = calloc(1, sizeof(*s->ioas));
		s->ioas[0].id = 1;
		s->ioas[0].huge_pages = -1;
		s->dev = calloc(n, sizeof(*s->dev));
		s->hwpt = calloc(n, sizeof(*s->hwpt));
		s->nr_dev = s->nr_hwpt = n;
		for (i = 0; i < n; i++) {
			s->dev[i].id = 2 + 2 * i;
			s->dev[i].attached_pt = 2 + 2 * (n - 1 - i) + 1;
			strcpy(s->dev[i].driver, "vfio-pci");
			s->hwpt[i].id = 2 + 2 * i + 1;
			s->hwpt[i].pt_id = 1;
			s->hwpt[i].dev_id = 2 + 2 * (n - 1 - i);
		}
		break;
	case MAPPINGS:
		/* Half the nodes memfds, one IOAS mapping each, backwards. */
		add_memfds(s, n / 2);
		s->nr_ioas = 1;
		s->ioas = calloc(1, sizeof(*s->ioas));
		s->ioas[0].id = 1;
		s->ioas[0].huge_pages = -1;
		s->ioas[0].maps = calloc(n / 2, sizeof(struct kho_mapping));
		s->ioas[0].nr_maps = s->ioas[0].cap_maps = n / 2;
		for (i = 0; i < n / 2; i++) {
			struct kho_mapping *m = &s->ioas[0].maps[i];

			m->iova = (uint64_t)i << 20;
			m->length = 1 << 20;
			m->memfd_token = s->memfd[n / 2 - 1 - i].token;
			m->flags = IOMMU_IOAS_MAP_READABLE;
		}
		break;
	case FILES:
		add_memfds(s, n);
		h->iommufd.present = true;
		strcpy(h->iommufd.compatible, KHO_KJOURNAL_LUO_COMPATIBLE);
		h->iommufd.token = 1;
		h->iommufd.files = calloc(n, sizeof(*h->iommufd.files));
		h->iommufd.nr_files = n;
		for (i = 0; i < n; i++) {
			h->iommufd.files[i].ino = 1 + i;
			h->iommufd.files[i].token = s->memfd[n - 1 - i].token;
		}
		break;
	case SLICES:
		/* n IOASes of one mapping, the plan replays them backwards. */
		add_memfds(s, 1);
		s->ioas = calloc(n, sizeof(*s->ioas));
		s->nr_ioas = n;
		for (i = 0; i < n; i++) {
			struct kho_ioas *a = &s->ioas[i];

			a->id = 1 + i;
			a->huge_pages = -1;
			a->maps = calloc(1, sizeof(*a->maps));
			a->nr_maps = a->cap_maps = 1;
			a->maps[0] = (struct kho_mapping){
				.length = 4096, .memfd_token = 1000,
				.flags = IOMMU_IOAS_MAP_READABLE };
		}
		for (i = 0; i < n; i++) {
			struct kho_rec r = { .op = KHO_OP_REPLAY_MAPPINGS };

			r.replay_maps.ioas_id = n - i;
			r.replay_maps.count = 1;
			kho_journal_append(&h->replay, &r);
		}
		break;
	case MIG_ARCS:
		/* n devices, each its state in a memfd of its own and 3
		 * arcs; the plan takes the devices backwards, arc by arc. */
		add_memfds(s, n);
		s->dev = calloc(n, sizeof(*s->dev));
		s->nr_dev = n;
		for (i = 0; i < n; i++) {
			struct kho_device *d = &s->dev[i];

			d->id = 1 + i;
			strcpy(d->driver, "vfio-pci");
			d->migration_probed = true;
			d->migration_flags = VFIO_MIGRATION_STOP_COPY |
					     VFIO_MIGRATION_P2P |
					     VFIO_MIGRATION_PRE_COPY;
			d->saved = (struct kho_device_state){
				.present = true,
				.memfd_token = s->memfd[i].token,
				.length = s->memfd[i].size,
				.flags = d->migration_flags, .nr_path = 4,
				.path = { VFIO_DEVICE_STATE_RUNNING,
					  VFIO_DEVICE_STATE_PRE_COPY,
					  VFIO_DEVICE_STATE_PRE_COPY_P2P,
					  VFIO_DEVICE_STATE_STOP_COPY },
			};
		}
		for (i = 0; i < n; i++)
			kho_migrec_append(&h->replay, n - i, &s->dev[n - 1 - i].saved,
					  0);
		break;
	}
}

/* The number of objects of @shape whose blob fills the cap. */
static size_t fill(enum shape shape)
{
	struct kho_handoff h;
	size_t len1, len2, n1 = 1000, n2 = 2000, n;
	void *blob;

	build(&h, shape, n1);
	if (kho_handoff_encode(&h, &blob, &len1))
		return 0;
	free(blob);
	kho_handoff_free(&h);
	build(&h, shape, n2);
	if (kho_handoff_encode(&h, &blob, &len2))
		return 0;
	free(blob);
	kho_handoff_free(&h);
	n = (size_t)((COST_CAP - len1) / ((double)(len2 - len1) / (n2 - n1))) +
	    n1;
	return n - n / 200;	/* below the cap, whatever rounding did */
}

KTEST(handoff_decode_worst_case_cost)
{
	enum shape shape;

	for (shape = MEMFDS; shape <= MIG_ARCS; shape++) {
		struct kho_diag diag = { "" };
		struct kho_handoff h, back;
		size_t n = fill(shape), len;
		double t0, dt;
		void *blob;
		int err;

		ASSERT_TRUE(n > 0);
		for (;;) {
			build(&h, shape, n);
			ASSERT_EQ(0, kho_handoff_encode(&h, &blob, &len));
			kho_handoff_free(&h);
			if (len <= COST_CAP)
				break;
			/* Longer names at larger n: scale down and retry. */
			free(blob);
			n = (size_t)(n * ((double)COST_CAP / len) * 0.995);
		}
		t0 = now();
		err = kho_handoff_decode(blob, len, &back, &diag);
		dt = now() - t0;
		free(blob);
		if (err)
			printf("#   %s: %s\n", shape_name[shape], diag.msg);
		ASSERT_EQ(0, err);
		kho_handoff_free(&back);
		printf("#   %zu %s, %.1f MiB: decode %.3f s of CPU\n", n,
		       shape_name[shape], len / 1048576.0, dt);
		ASSERT_TRUE(dt < COST_BOUND_S);
	}
}
