#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Runs every unit-test binary given, prints its TAP, and closes with the
# one summary line CI reads: "unit: N passed, N failed".
set -u
passed=0
failed=0
for t in "$@"; do
	echo "== $(basename "$t")"
	out=$("$t" 2>&1)
	rc=$?
	echo "$out"
	p=$(grep -c '^ok ' <<<"$out")
	f=$(grep -c '^not ok ' <<<"$out")
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "not ok $(basename "$t") exited $rc without a failed case"
		f=1
	fi
	passed=$((passed + p))
	failed=$((failed + f))
done
if [ "$((passed + failed))" -eq 0 ]; then
	echo "unit: no test ran"
	exit 1
fi
echo "unit: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
