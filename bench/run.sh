#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Runs every bench binary given, in one run, and prints their output under
# a header naming each; exits non-zero if any of them failed.  `make bench`
# calls it; CI does not (the figures depend on the machine).
set -u
rc=0
echo "bench: $(uname -r), $(nproc) CPUs, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
for b in "$@"; do
	echo "== $(basename "$b")"
	if ! "$b"; then
		echo "bench: $(basename "$b") failed"
		rc=1
	fi
done
exit $rc
