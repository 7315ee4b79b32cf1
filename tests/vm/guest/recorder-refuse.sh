# SPDX-License-Identifier: GPL-2.0
# A map of anonymous memory cannot cross kexec: the recorder lets the
# VMM's ioctl succeed, but record and capture refuse, naming the IOVA and
# the reason; once the VMM unmaps it the journal is whole again.
khotest_start probe env LD_PRELOAD="$KHOTEST_RECORDER" kho-rec-probe hold
if kho-tool record --pid "$KHOTEST_PID" > /tmp/rec.out 2>&1; then
	cat /tmp/rec.out
	khotest_fail "refuse: kho-tool record accepted a journal with an anonymous map"
fi
cat /tmp/rec.out
grep -q 'preservable: no: .*IOVA 0x800000+0x10000: VA 0x[0-9a-f]*+0x10000: anonymous memory' /tmp/rec.out ||
	khotest_fail "refuse: record does not name the anonymous map and why"
khotest_mark record-refuses
if kho-tool capture --pid "$KHOTEST_PID" --out /tmp/cap.blob > /tmp/cap.out 2>&1; then
	cat /tmp/cap.out
	khotest_fail "refuse: kho-tool capture accepted a journal with an anonymous map"
fi
cat /tmp/cap.out
grep -q 'anonymous memory' /tmp/cap.out || khotest_fail "refuse: capture does not say why"
khotest_mark capture-refuses
kill -USR1 "$KHOTEST_PID"
i=0
while ! grep -q 'anonymous map unmapped' /tmp/probe.log; do
	[ "$i" -lt 100 ] || khotest_fail "refuse: the probe did not unmap"
	i=$((i + 1))
	usleep 100000
done
kho-tool record --pid "$KHOTEST_PID" > /tmp/rec.out 2>&1 || {
	cat /tmp/rec.out
	khotest_fail "refuse: still refused after the anonymous map went"
}
cat /tmp/rec.out
grep -q 'preservable: yes' /tmp/rec.out || khotest_fail "refuse: not preservable after unmap"
khotest_mark whole-after-unmap
khotest_stop probe
khotest_done
