# SPDX-License-Identifier: GPL-2.0
# The fail_nth sweep of kjournal-failnth.sh on the patched-debug kernel:
# every allocation on the way fails once, in turn, under KASAN, and then
# kmemleak must find nothing allocated through the code under test.
. /test/kjournal-debug-lib.sh
khotest_log "kernel=$(uname -r)"
kdebug_arm
kdebug_scope_failslab
t0=$(date +%s)
iommufd_journal failnth || khotest_fail "kjournal: fail_nth sweep failed"
khotest_log sweep_seconds=$(($(date +%s) - t0))
khotest_mark kjournal-failnth
kdebug_check || khotest_fail "kdebug: $KDEBUG_WHY"
khotest_mark kdebug-clean
khotest_done
