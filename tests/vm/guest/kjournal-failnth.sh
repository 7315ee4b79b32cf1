# SPDX-License-Identifier: GPL-2.0
# fail_nth sweep of the journal, its readout and the LUO preserve path:
# every allocation on the way fails once, in turn, until none is left.
mount -t debugfs none /sys/kernel/debug 2>/dev/null || true
. /test/kjournal-lib.sh
kjournal_preenable
iommufd_journal failnth || khotest_fail "kjournal: fail_nth sweep failed"
khotest_mark kjournal-failnth
# Nothing may have crashed or warned on the way.
if dmesg | grep -Eq 'WARNING:|BUG:|Oops|refcount_t'; then
	dmesg | grep -E -A20 'WARNING:|BUG:|Oops|refcount_t' | head -60
	khotest_fail "kjournal: the kernel warned during the sweep"
fi
khotest_mark kjournal-clean-dmesg
khotest_done
