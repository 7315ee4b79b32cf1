# SPDX-License-Identifier: GPL-2.0
# The guest booted from a gzip "distro" initrd with our files appended as a
# second cpio segment: both segments' files must be there.
test -x /usr/bin/kho-tool || khotest_fail "payload: /usr/bin/kho-tool from the base segment is missing"
test -f /opt/payload/hello.txt || khotest_fail "payload: /opt/payload/hello.txt from the appended segment is missing"
test "$(cat /opt/payload/hello.txt)" = "$(cat /test/expect.txt)" ||
	khotest_fail "payload: /opt/payload/hello.txt holds '$(cat /opt/payload/hello.txt)'"
khotest_mark payload
khotest_done
