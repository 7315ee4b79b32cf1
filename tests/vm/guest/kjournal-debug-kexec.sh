# SPDX-License-Identifier: GPL-2.0
# kjournal-kexec.sh on the patched-debug kernel, kexec'ing into itself
# (/boot/vmlinuz-dbg): the journal preserved, the deviating and the matching
# replays with their fail_nth sweep, FINISH; KASAN and kmemleak checked in
# both stages.
. /test/kjournal-debug-lib.sh
khotest_log "stage$KHO_STAGE=$(uname -r)"
kdebug_arm
if [ "$KHO_STAGE" -le 1 ]; then
	khotest_start hold iommufd_journal stage1
	khotest_mark kjournal-preserved
	kdebug_check || khotest_fail "kdebug: stage 1: $KDEBUG_WHY"
	khotest_mark kdebug-clean-stage1
	khotest_kexec /boot/vmlinuz-dbg
fi
dmesg | grep -q 'KHO: found kexec handover data' ||
	khotest_fail "kjournal: the kernel found no KHO data"
kdebug_scope_failslab
t0=$(date +%s)
iommufd_journal stage2 || khotest_fail "kjournal: stage 2 tests failed"
khotest_log stage2_seconds=$(($(date +%s) - t0))
khotest_mark kjournal-verified
kdebug_check || khotest_fail "kdebug: stage 2: $KDEBUG_WHY"
khotest_mark kdebug-clean-stage2
khotest_done
