#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Fills the rig's caches before the suites run: the five guest kernels,
# upstream's selftests, and the Debian sid roots of the distro checks.
# The roots are network and disk bound, the kernels CPU bound, so the
# roots build alongside the kernels instead of after them; on a warm cache
# every step is a lookup.  Each step's time is printed, for
# docs/testing.md's cold-run figures.
#
# usage: prepare.sh [--no-roots]
#        prepare.sh --cached     exit 0 if every kernel is cached already,
#                                else 1 naming the missing ones (nothing built)
# env:   KHO_CACHE, KERNEL_JOBS (as build-kernel.sh)
set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
# vanilla first, then its twin patched (ccache hits but for the series'
# files), then the debug pair the same way; last 7.3.4 vanilla, for the
# one cross-version pair `make check` runs (tests/vm/105-cross-version.bats;
# the rest of the matrix's kernels: `make matrix-kernels`).
flavours="vanilla patched patched-debug vanilla-debug vanilla-7.3.4"
if [ "${1:-}" = --cached ]; then
	missing=
	for flavour in $flavours; do
		"$top/tests/rig/build-kernel.sh" --cached "$flavour" > /dev/null 2>&1 ||
			missing="$missing $flavour"
	done
	[ -z "$missing" ] || { echo "prepare: not cached:$missing"; exit 1; }
	exit 0
fi
roots=1
[ "${1:-}" = --no-roots ] && roots=0
log=$(mktemp "${TMPDIR:-/tmp}/kho-prepare.XXXXXX")
trap 'rm -f "$log"' EXIT
failed=0

roots_pid=
if [ "$roots" = 1 ]; then
	(
		t0=$SECONDS
		"$top/tests/distro/roots.sh" all - > /dev/null &&
			echo "prepare: sid roots ready in $((SECONDS - t0)) s"
	) > "$log" 2>&1 &
	roots_pid=$!
fi

for flavour in $flavours; do
	t0=$SECONDS
	if "$top/tests/rig/build-kernel.sh" "$flavour" > /dev/null; then
		echo "prepare: $flavour kernel ready in $((SECONDS - t0)) s"
	else
		echo "prepare: FAIL: building the $flavour kernel"
		failed=1
	fi
done
t0=$SECONDS
if "$top/tests/rig/build-selftests.sh" > /dev/null; then
	echo "prepare: upstream's selftests ready in $((SECONDS - t0)) s"
else
	echo "prepare: FAIL: building upstream's selftests"
	failed=1
fi

if [ -n "$roots_pid" ]; then
	wait "$roots_pid" || { echo "prepare: FAIL: building the sid roots"; failed=1; }
	cat "$log"
fi
exit "$failed"
