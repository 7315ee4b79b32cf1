# SPDX-License-Identifier: GPL-2.0
# khotest_start's limit is a parameter: a command that gets ready after
# 3 s passes with --timeout 10, and one that never does fails at the
# 2 s asked for, long before the 60 s default.
khotest_start --timeout 10 slow sh -c 'sleep 3; echo "ready pid=$$"; sleep 600'
khotest_mark slow-ready
kill "$KHOTEST_PID"
khotest_mark silent-starting
khotest_start --timeout 2 silent sleep 600
khotest_mark silent-ready
