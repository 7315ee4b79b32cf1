# SPDX-License-Identifier: GPL-2.0
# Harness negative case: a command fails; scripts run under set -e, so
# that fails the test even though the script would go on to print DONE.
khotest_mark checking
test -e /nonexistent/file
khotest_done
