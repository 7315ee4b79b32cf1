// SPDX-License-Identifier: GPL-2.0
/* The journal container: deep copies, formatting and JSON of every op. */
#include <stdint.h>
#include <stdlib.h>

#include "ktest.h"
#include "journal.h"

KTEST(journal_every_op_formats_and_copies)
{
	struct kho_iova_range rg = { 0x1000, 0x1fff };
	uint8_t data[4] = { 0xde, 0xad, 0xbe, 0xef };
	struct kho_journal j;
	char line[256], *json = NULL;
	size_t len = 0;
	uint32_t op;
	FILE *f;

	kho_journal_init(&j);
	for (op = 1; op <= KHO_OP_MAX; op++) {
		struct kho_rec r = { .op = op };

		if (op == KHO_OP_IOAS_ALLOW_IOVAS) {
			r.allow_iovas.num_iovas = 1;
			r.allow_iovas.iovas = &rg;
		}
		if (op == KHO_OP_HWPT_ALLOC) {
			r.hwpt_alloc.data_len = 4;
			r.hwpt_alloc.data = data;
		}
		ASSERT_EQ(0, kho_journal_append(&j, &r));
		ASSERT_EQ(0, kho_rec_format(&j.recs[j.nr - 1], line, sizeof(line)));
		ASSERT_STR_CONTAINS(line, kho_op_name(op));
	}
	ASSERT_TRUE(j.recs[KHO_OP_IOAS_ALLOW_IOVAS - 1].allow_iovas.iovas != &rg);
	ASSERT_TRUE(j.recs[KHO_OP_HWPT_ALLOC - 1].hwpt_alloc.data != data);
	f = open_memstream(&json, &len);
	ASSERT_EQ(0, kho_journal_print_json(&j, f));
	fclose(f);
	ASSERT_STR_CONTAINS(json, "\"op\": \"IOAS_MAP_FILE\"");
	ASSERT_STR_CONTAINS(json, "\"data\": \"deadbeef\"");
	ASSERT_STR_CONTAINS(json, "{\"start\": \"0x1000\", \"last\": \"0x1fff\"}");
	free(json);
	ASSERT_EQ(-ENOSPC, kho_rec_format(&j.recs[0], line, 4));
	ASSERT_STR_CONTAINS(kho_op_name(99), "op#99");
	kho_journal_free(&j);
	ASSERT_EQ(0, j.nr);
}

/*
 * Past 64 KiB the records move to a mapping that mremap() grows; a
 * journal decoded from a blob (calloc'ed, full) grows into one too, and
 * keeps every record.
 */
KTEST(journal_grows_into_a_mapping_keeping_records)
{
	struct kho_journal j;
	size_t i, n = 5000;

	kho_journal_init(&j);
	j.recs = calloc(3, sizeof(*j.recs));
	ASSERT_TRUE(j.recs != NULL);
	j.nr = j.cap = 3;
	for (i = 0; i < 3; i++)
		j.recs[i].op = KHO_OP_DESTROY, j.recs[i].destroy.id = i;
	for (i = 3; i < n; i++) {
		struct kho_rec r = { .op = KHO_OP_DESTROY };

		r.destroy.id = i;
		ASSERT_EQ(0, kho_journal_append(&j, &r));
	}
	ASSERT_TRUE(j.mapped);
	ASSERT_EQ(n, j.nr);
	for (i = 0; i < n; i++)
		ASSERT_EQ(i, j.recs[i].destroy.id);
	kho_journal_free(&j);
	ASSERT_EQ(0, j.nr);
	ASSERT_TRUE(!j.mapped);
}
