# SPDX-License-Identifier: GPL-2.0
# Harness negative case: the guest hangs and never powers off.
khotest_mark hanging
while :; do sleep 60; done
