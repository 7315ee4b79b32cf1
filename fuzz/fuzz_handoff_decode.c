// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target for the hand-off reader: kho_handoff_decode() on an
 * untrusted blob, and for every blob it accepts, the encode/decode round
 * trip and the plan re-derivation `kho-tool journal --compact` runs.
 *
 * A mutated blob almost never carries a valid crc32, so each input is also
 * decoded once more after kho_handoff_stamp() fixed its sum: without that
 * the fuzzer never gets past the integrity check to the field parsers.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compact.h"
#include "handoff.h"
#include "journal.h"
#include "state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * The reader documents a closed set of errnos; anything else (notably -1,
 * a leaked -FDT_ERR_NOTFOUND) is a bug even if nothing crashed.
 */
static void check_errno(const char *step, int ret, const struct kho_diag *d)
{
	if (ret == 0 || ret == -EBADMSG || ret == -EPROTONOSUPPORT ||
	    ret == -ENOMEM)
		return;
	fprintf(stderr, "%s: undocumented return %d: %s\n", step, ret, d->msg);
	abort();
}

static void decode_one(const uint8_t *data, size_t size)
{
	struct kho_handoff h, h2;
	struct kho_diag d = { "" };
	struct kho_state folded;
	struct kho_journal plan;
	size_t nr_expanded, len;
	void *blob = NULL;
	int ret;

	kho_handoff_init(&h);
	kho_handoff_init(&h2);
	ret = kho_handoff_decode(data, size, &h, &d);
	check_errno("decode", ret, &d);
	if (ret)
		goto out;

	/*
	 * What the reader accepted the writer must be able to write, and the
	 * reader must accept again: an asymmetry here means a hand-off that
	 * survives one kexec but not the next.
	 */
	ret = kho_handoff_encode(&h, &blob, &len);
	if (ret == -ENOMEM)
		goto out;
	if (ret) {
		fprintf(stderr, "encode of a decoded hand-off failed: %d\n", ret);
		abort();
	}
	ret = kho_handoff_decode(blob, len, &h2, &d);
	if (ret && ret != -ENOMEM) {
		fprintf(stderr, "re-decode of an encoded hand-off failed: %d: %s\n",
			ret, d.msg);
		abort();
	}

	/* Exercises expand + fold on a validated plan; refusals are fine. */
	ret = kho_compact_handoff(&h, &folded, &plan, &nr_expanded, &d);
	if (!ret) {
		kho_state_free(&folded);
		kho_journal_free(&plan);
	}
out:
	free(blob);
	kho_handoff_free(&h);
	kho_handoff_free(&h2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy;

	decode_one(data, size);
	copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	if (!kho_handoff_stamp(copy, size, NULL))
		decode_one(copy, size);
	free(copy);
	return 0;
}
