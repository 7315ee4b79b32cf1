/* SPDX-License-Identifier: GPL-2.0 */
/* Unit-test helper: decode a good hand-off blob from tests/data/good. */
#ifndef KTEST_BLOB_H
#define KTEST_BLOB_H

#include "handoff.h"

/*
 * ktest_load_blob() - read and decode tests/data/good/@name (the
 * directory from $KHO_TEST_DATA when set) into @h.
 * Return: 0, or the errno of the read or the decode (the decoder's
 * message is printed as a TAP comment).
 */
int ktest_load_blob(const char *name, struct kho_handoff *h);

#endif /* KTEST_BLOB_H */
