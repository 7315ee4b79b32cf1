// SPDX-License-Identifier: GPL-2.0
/*
 * Hand-off FDT throughput: encode and validate+decode of a state of
 * 100,000 mappings, and the blob's bytes per mapping.  Prints
 * "handoff: <figure>" lines; the targets are 5 million mappings/s both ways
 * and at most 48 bytes per mapping.
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <linux/iommufd.h>

#include "handoff.h"
#include "journal.h"

#define BENCH_MAPS 100000
#define BENCH_IOAS 4

static double bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A VM-like state: a few IOASes, 4 KiB..16 KiB mappings of two memfds,
 * a compacted plan of one REPLAY_MAPPINGS slice per IOAS. */
static void bench_state(struct kho_handoff *h, size_t maps)
{
	struct kho_state *s = &h->state;
	size_t i, k, per = maps / BENCH_IOAS;

	kho_handoff_init(h);
	h->format_version = KHO_FORMAT_VERSION;
	h->min_reader_version = 1;
	snprintf(h->tool_version, sizeof(h->tool_version), "%s",
		 KHO_TOOL_VERSION);
	snprintf(h->kernel_release, sizeof(h->kernel_release), "7.2.13");
	h->created = time(NULL);
	h->journal_length = maps * 3;
	s->nr_memfd = 2;
	s->memfd = calloc(2, sizeof(*s->memfd));
	for (i = 0; i < 2; i++) {
		s->memfd[i].token = 7 + i;
		s->memfd[i].size = 1ULL << 40;
		snprintf(s->memfd[i].name, sizeof(s->memfd[i].name), "ram%zu",
			 i);
	}
	s->nr_ioas = BENCH_IOAS;
	s->ioas = calloc(BENCH_IOAS, sizeof(*s->ioas));
	for (i = 0; i < BENCH_IOAS; i++) {
		struct kho_ioas *a = &s->ioas[i];
		struct kho_rec r = { .op = KHO_OP_REPLAY_MAPPINGS };
		uint64_t iova = 0x100000;

		a->id = i + 1;
		a->huge_pages = -1;
		a->nr_maps = a->cap_maps = per;
		a->maps = calloc(per, sizeof(*a->maps));
		for (k = 0; k < per; k++) {
			a->maps[k].iova = iova;
			a->maps[k].length = 4096 << (k % 3);
			a->maps[k].offset = iova;
			a->maps[k].memfd_token = 7 + (k & 1);
			a->maps[k].flags = IOMMU_IOAS_MAP_READABLE |
					   IOMMU_IOAS_MAP_WRITEABLE;
			iova += a->maps[k].length + 4096;
		}
		r.replay_maps.ioas_id = a->id;
		r.replay_maps.count = per;
		kho_journal_append(&h->replay, &r);
	}
}

int main(void)
{
	struct kho_diag diag = { "" };
	struct kho_handoff h, out, empty;
	double t0, enc, dec, cold_enc, cold_dec;
	size_t len, base_len;
	void *blob = NULL, *base;
	int i, rounds = 20;

	/*
	 * Keep multi-megabyte buffers on the heap so that rounds reuse them:
	 * otherwise glibc mmaps each blob afresh and every round pays the
	 * first touch of ~900 pages, which on this VM costs more than the
	 * encoding.  The first call, faults included, is reported apart.
	 */
	mallopt(M_MMAP_THRESHOLD, 256 << 20);
	mallopt(M_TRIM_THRESHOLD, 512 << 20);
	bench_state(&h, BENCH_MAPS);
	bench_state(&empty, 0);
	if (kho_handoff_encode(&empty, &base, &base_len))
		return 1;
	free(base);
	t0 = bench_now();
	if (kho_handoff_encode(&h, &blob, &len))
		return 1;
	cold_enc = bench_now() - t0;
	t0 = bench_now();
	if (kho_handoff_decode(blob, len, &out, &diag))
		return 1;
	cold_dec = bench_now() - t0;
	kho_handoff_free(&out);
	free(blob);
	t0 = bench_now();
	for (i = 0; i < rounds; i++) {
		if (kho_handoff_encode(&h, &blob, &len))
			return 1;
		if (i < rounds - 1)
			free(blob);
	}
	enc = (bench_now() - t0) / rounds;
	t0 = bench_now();
	for (i = 0; i < rounds; i++) {
		if (kho_handoff_decode(blob, len, &out, &diag)) {
			fprintf(stderr, "bench_handoff: decode: %s\n", diag.msg);
			return 1;
		}
		kho_handoff_free(&out);
	}
	dec = (bench_now() - t0) / rounds;
	printf("handoff: %d mappings, %zu-byte blob\n", BENCH_MAPS, len);
	printf("handoff: encode %.1f M mappings/s (%.2f ms, mean of %d)\n",
	       BENCH_MAPS / enc / 1e6, enc * 1e3, rounds);
	printf("handoff: validate+decode %.1f M mappings/s (%.2f ms, mean of %d)\n",
	       BENCH_MAPS / dec / 1e6, dec * 1e3, rounds);
	printf("handoff: first call in this process: encode %.2f ms, validate+decode %.2f ms (page faults included)\n",
	       cold_enc * 1e3, cold_dec * 1e3);
	printf("handoff: %.2f bytes per mapping (%.2f without the fixed %zu bytes)\n",
	       (double)len / BENCH_MAPS, (double)(len - base_len) / BENCH_MAPS,
	       base_len);
	free(blob);
	kho_handoff_free(&h);
	kho_handoff_free(&empty);
	return 0;
}
