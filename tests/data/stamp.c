// SPDX-License-Identifier: GPL-2.0
/*
 * stamp: recomputes the crc32 of hand-off blobs in place, for test data
 * made by hand (tests/data/gen.sh); prints each new value.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libfdt.h>

#include "handoff.h"

int main(int argc, char **argv)
{
	struct kho_diag diag = { "" };
	int i, err, ret = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: stamp FILE...\n");
		return 2;
	}
	for (i = 1; i < argc; i++) {
		size_t len;
		void *buf;
		FILE *f;

		err = kho_read_file(argv[i], &buf, &len);
		if (err) {
			fprintf(stderr, "stamp: %s: %s\n", argv[i],
				strerror(-err));
			return 2;
		}
		err = kho_handoff_stamp(buf, len, &diag);
		f = err ? NULL : fopen(argv[i], "wb");
		if (!f || fwrite(buf, 1, len, f) != len || fclose(f)) {
			fprintf(stderr, "stamp: %s: %s\n", argv[i],
				err ? diag.msg : "cannot write");
			ret = 1;
		} else {
			printf("0x%08x\n", fdt32_ld(fdt_getprop(buf, 0, "crc32",
								NULL)));
		}
		free(buf);
	}
	return ret;
}
