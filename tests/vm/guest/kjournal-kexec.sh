# SPDX-License-Identifier: GPL-2.0
# An iommufd preserved through LUO by the patched kernel, replayed after a
# kexec into the patched kernel and checked by it: stage 1 builds a known
# state and holds the session across kexec; stage 2 retrieves it, tries
# deviating replays (each must fail with EILSEQ), replays the journal and
# FINISHes the session.
khotest_log stage$KHO_STAGE=$(uname -r)
if [ "$KHO_STAGE" -le 1 ]; then
	khotest_start hold iommufd_journal stage1
	khotest_mark kjournal-preserved
	khotest_kexec patched
fi
dmesg | grep -q 'KHO: found kexec handover data' ||
	khotest_fail "kjournal: the kernel found no KHO data"
# The replay runs under a fail_nth sweep: keep ACPICA out of it.
. /test/kjournal-lib.sh
kjournal_preenable
iommufd_journal stage2 || khotest_fail "kjournal: stage 2 tests failed"
khotest_mark kjournal-verified
khotest_done
