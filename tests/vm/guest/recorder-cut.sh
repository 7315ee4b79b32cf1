# SPDX-License-Identifier: GPL-2.0
# An UNMAP the kernel refuses halfway still removed the maps before the
# one it could not take whole.  The recorder journals that removal, so the
# journal folds into the maps the kernel really has: the first one mapped
# again and the third; without it, the first would be mapped twice.
khotest_start probe env LD_PRELOAD="$KHOTEST_RECORDER" kho-rec-probe cut
grep -q 'cut: UNMAP failed with ENOENT after removing the first two maps' /tmp/probe.log ||
	khotest_fail "cut: the kernel did not remove the maps before the cut one"
khotest_mark kernel-removes-before-the-cut
kho-tool record --pid "$KHOTEST_PID" --json > /tmp/rec.json ||
	{ cat /tmp/rec.json; khotest_fail "cut: kho-tool record failed"; }
cat /tmp/rec.json
num() { sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p" /tmp/rec.json; }
grep -q '"compact_error":null' /tmp/rec.json ||
	khotest_fail "cut: the journal does not fold: $(sed -n 's/.*"compact_error":\("[^"]*"\).*/\1/p' /tmp/rec.json)"
[ "$(num live_maps)" = 2 ] || khotest_fail "cut: $(num live_maps) live maps, the kernel has 2"
[ "$(num IOAS_UNMAP)" = 1 ] || khotest_fail "cut: $(num IOAS_UNMAP) unmaps journaled, want 1 for the two maps removed"
grep -q '"preservable":true' /tmp/rec.json || khotest_fail "cut: journal not preservable"
khotest_mark journal-matches-kernel
khotest_stop probe
khotest_done
