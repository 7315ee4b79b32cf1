# SPDX-License-Identifier: GPL-2.0
# Harness negative case: markers "b" then "a", and never "c"; the test
# expects an order or a marker this guest does not give.
khotest_mark b
khotest_mark a
khotest_done
