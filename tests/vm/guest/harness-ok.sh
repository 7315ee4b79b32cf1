# SPDX-License-Identifier: GPL-2.0
# Harness control: a guest that does everything right, so that the
# negative cases fail for the reason they claim and not for another.
khotest_mark first
khotest_mark second
khotest_done
