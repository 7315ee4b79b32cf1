// SPDX-License-Identifier: GPL-2.0
/* The shared main() of every unit-test binary: runs the registered cases. */
#include "ktest.h"

struct ktest_case ktest_cases[KTEST_MAX];
int ktest_nr;

int main(int argc, char **argv)
{
	int i, nr_failed = 0;

	printf("TAP version 13\n1..%d\n", ktest_nr);
	for (i = 0; i < ktest_nr; i++) {
		int failed = 0;

		if (argc > 1 && !strstr(ktest_cases[i].name, argv[1]))
			continue;
		ktest_cases[i].fn(&failed);
		printf("%s %d %s\n", failed ? "not ok" : "ok", i + 1,
		       ktest_cases[i].name);
		nr_failed += failed;
	}
	printf("# %d cases, %d failed\n", ktest_nr, nr_failed);
	return nr_failed ? 1 : 0;
}
