// SPDX-License-Identifier: GPL-2.0
/*
 * Compaction throughput: a journal of heavy churn (maps and unmaps at
 * random IOVAs) that ends in 100,000 live mappings, folded by kho_compact()
 * in one timed run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <linux/iommufd.h>

#include "compact.h"
#include "journal.h"
#include "state.h"

#define LIVE 100000u
#define SLOTS (LIVE * 2)	/* IOVA slots of 16 KiB */
#define PIECE 0x4000ULL

static uint64_t st = 88172645463325252ULL;

static uint64_t rnd(void)
{
	st ^= st << 13;
	st ^= st >> 7;
	st ^= st << 17;
	return st;
}

int main(void)
{
	struct kho_journal j, plan;
	struct kho_state s;
	struct kho_memfd m = { .token = 7, .size = SLOTS * PIECE };
	struct kho_diag d = { "" };
	struct timespec t0, t1, c0, c1;
	uint8_t *used = calloc(SLOTS, 1);
	uint32_t live = 0;
	struct kho_rec r;
	double secs, cpu;
	int ret;

	kho_journal_init(&j);
	memset(&r, 0, sizeof(r));
	r.op = KHO_OP_IOAS_ALLOC;
	r.ioas_alloc.out_ioas_id = 1;
	kho_journal_append(&j, &r);
	/* Churn: 1,000,000 records; maps win 55:45 until LIVE are live,
	 * then unmaps and maps alternate to stay there. */
	while (j.nr < 1000000 || live != LIVE) {
		uint32_t slot = rnd() % SLOTS;
		bool map = j.nr >= 1000000 ? live < LIVE : rnd() % 100 < 55;

		if (live >= LIVE && j.nr < 1000000)
			map = false;
		memset(&r, 0, sizeof(r));
		if (map && !used[slot]) {
			r.op = KHO_OP_IOAS_MAP_FILE;
			r.map.flags = IOMMU_IOAS_MAP_FIXED_IOVA |
				      IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE;
			r.map.ioas_id = 1;
			r.map.memfd_token = 7;
			r.map.offset = slot * PIECE;
			r.map.length = PIECE;
			r.map.iova = 0x100000 + slot * PIECE;
			used[slot] = 1;
			live++;
		} else if (!map && used[slot]) {
			r.op = KHO_OP_IOAS_UNMAP;
			r.unmap.ioas_id = 1;
			r.unmap.iova = 0x100000 + slot * PIECE;
			r.unmap.length = PIECE;
			r.unmap.out_length = PIECE;
			used[slot] = 0;
			live--;
		} else {
			continue;
		}
		if (kho_journal_append(&j, &r))
			return 1;
	}
	kho_state_init(&s);
	kho_state_add_memfd(&s, &m);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
	ret = kho_compact(&j, &s, &plan, &d);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (ret) {
		fprintf(stderr, "compact: %s\n", d.msg);
		return 1;
	}
	secs = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("compact: %zu journal records -> %zu replay steps (%zu mappings)\n",
	       j.nr, plan.nr, s.ioas[0].nr_maps);
	/* CPU time as well: on a loaded machine wall time also counts the
	 * time other processes held the CPU. */
	cpu = (c1.tv_sec - c0.tv_sec) + (c1.tv_nsec - c0.tv_nsec) / 1e9;
	printf("compact: %.3f s wall, %.3f s CPU (%.2f million records/s of CPU)\n",
	       secs, cpu, j.nr / cpu / 1e6);
	printf("compact: %.2f million records/s (target >= 2)\n", j.nr / secs / 1e6);
	kho_journal_free(&j);
	kho_journal_free(&plan);
	kho_state_free(&s);
	free(used);
	return 0;
}
