// SPDX-License-Identifier: GPL-2.0
/* Unit-test helper: decode a good hand-off blob from tests/data/good. */
#include <stdio.h>
#include <stdlib.h>

#include "blob.h"

int ktest_load_blob(const char *name, struct kho_handoff *h)
{
	const char *dir = getenv("KHO_TEST_DATA");
	struct kho_diag d = { "" };
	char path[512];
	size_t len;
	void *buf;
	int ret;

	snprintf(path, sizeof(path), "%s/good/%s", dir ? dir : "tests/data",
		 name);
	kho_handoff_init(h);
	ret = kho_read_file(path, &buf, &len);
	if (ret)
		return ret;
	ret = kho_handoff_decode(buf, len, h, &d);
	free(buf);
	if (ret)
		printf("#   %s: %s\n", path, d.msg);
	return ret;
}
