/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A minimal unit-test harness in the spirit of the kernel's kselftest:
 * each test binary registers cases with KTEST(), prints TAP, and exits
 * non-zero when any case fails.  tests/unit/run.sh sums the binaries up.
 */
#ifndef KTEST_H
#define KTEST_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ktest_case {
	const char *name;
	void (*fn)(int *failed);
};

#define KTEST_MAX 256
extern struct ktest_case ktest_cases[KTEST_MAX];
extern int ktest_nr;

#define KTEST(name)							\
	static void ktest_##name(int *ktest_failed);			\
	__attribute__((constructor)) static void ktest_reg_##name(void)	\
	{								\
		if (ktest_nr < KTEST_MAX)				\
			ktest_cases[ktest_nr++] = (struct ktest_case){	\
				#name, ktest_##name };			\
	}								\
	static void ktest_##name(int *ktest_failed)

/* Fails the case (and returns from it) when cond is false. */
#define ASSERT_TRUE(cond)						\
	do {								\
		if (!(cond)) {						\
			printf("#   %s:%d: ASSERT_TRUE(%s)\n",		\
			       __FILE__, __LINE__, #cond);		\
			*ktest_failed = 1;				\
			return;						\
		}							\
	} while (0)

#define ASSERT_EQ(expected, actual)					\
	do {								\
		long long _e = (long long)(expected);			\
		long long _a = (long long)(actual);			\
		if (_e != _a) {						\
			printf("#   %s:%d: ASSERT_EQ(%s, %s): %lld != %lld\n", \
			       __FILE__, __LINE__, #expected, #actual,	\
			       _e, _a);					\
			*ktest_failed = 1;				\
			return;						\
		}							\
	} while (0)

#define ASSERT_STR_CONTAINS(haystack, needle)				\
	do {								\
		if (!strstr((haystack), (needle))) {			\
			printf("#   %s:%d: \"%s\" does not contain \"%s\"\n", \
			       __FILE__, __LINE__, (haystack), (needle)); \
			*ktest_failed = 1;				\
			return;						\
		}							\
	} while (0)

#endif /* KTEST_H */
