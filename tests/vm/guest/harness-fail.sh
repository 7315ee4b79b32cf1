# SPDX-License-Identifier: GPL-2.0
# Harness negative case: the guest reports a failure itself.
khotest_mark checking
khotest_fail "edu 0000:00:03.0: pattern mismatch at byte 17 (deliberate)"
khotest_done
