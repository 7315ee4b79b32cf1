// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target for QEMU's CPR state parser (lib/cpr_state.c): the
 * first byte is how many descriptors "arrived" (as -1, so nothing is
 * closed), the rest is the cpr channel.  Any accepted input must re-encode
 * to exactly the same bytes (the format has one encoding), with each fd
 * offset on a placeholder byte; rejections return a documented errno.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpr_state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fds[256];
	static uint8_t out[KHO_CPR_STATE_MAX];
	static size_t offs[KHO_CPR_MAX_FDS];
	struct kho_cpr_state st;
	char err[256];
	unsigned int n, i;
	size_t len;
	int ret;

	if (size < 1)
		return 0;
	n = data[0];
	for (i = 0; i < n; i++)
		fds[i] = -1;
	ret = kho_cpr_state_parse(data + 1, size - 1, fds, n, &st, err,
				  sizeof(err));
	if (ret) {
		if (ret != -EBADMSG && ret != -EPROTONOSUPPORT && ret != -E2BIG &&
		    ret != -ENOMEM) {
			fprintf(stderr, "parse: undocumented return %d: %s\n", ret, err);
			abort();
		}
		if (!err[0]) {
			fprintf(stderr, "parse: %d without a message\n", ret);
			abort();
		}
		return 0;
	}
	ret = kho_cpr_state_encode(&st, out, sizeof(out), &len, offs);
	if (ret || len != size - 1 || memcmp(out, data + 1, len)) {
		fprintf(stderr, "re-encode: %d, %zu bytes for %zu\n", ret, len,
			size - 1);
		abort();
	}
	for (i = 0; i < st.nr_fds; i++)
		if (out[offs[i]] != ' ' || (i && offs[i] <= offs[i - 1]))
			abort();
	kho_cpr_state_free(&st);
	return 0;
}
