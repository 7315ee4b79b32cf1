# SPDX-License-Identifier: GPL-2.0
# close_range(2) under the recorder: a VMM's "close every fd above N"
# leaves the recorder's memfd reference open (record still gets the
# memfd), CLOSE_RANGE_CLOEXEC closes nothing and forgets nothing, and the
# iommufd closed by close_range leaves the fd table: the journal starts
# over, and a new iommufd is not "a second iommufd".
num() { sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p" "$2"; }
khotest_start probe env LD_PRELOAD="$KHOTEST_RECORDER" kho-rec-probe closerange
kho-tool record --pid "$KHOTEST_PID" --json > /tmp/rec1.json || {
	cat /tmp/rec1.json
	khotest_fail "closerange: kho-tool record failed after the VMM's close_range over the recorder's memfd reference"
}
cat /tmp/rec1.json
echo
grep -q '"preservable":true' /tmp/rec1.json || khotest_fail "closerange: journal not preservable"
[ "$(num records /tmp/rec1.json)" = 2 ] ||
	khotest_fail "closerange: $(num records /tmp/rec1.json) records, want IOAS_ALLOC and MAP_FILE: CLOSE_RANGE_CLOEXEC closed nothing"
khotest_mark references-survive
kill -USR1 "$KHOTEST_PID"
i=0
while ! grep -q 'closerange: a new iommufd' /tmp/probe.log; do
	[ "$i" -lt 100 ] || { cat /tmp/probe.log; khotest_fail "closerange: the probe did not open a new iommufd"; }
	i=$((i + 1))
	usleep 100000
done
kho-tool record --pid "$KHOTEST_PID" --json > /tmp/rec2.json || {
	cat /tmp/rec2.json
	khotest_fail "closerange: the new iommufd's journal refused: $(sed -n 's/.*"reason":\("[^"]*"\).*/\1/p' /tmp/rec2.json)"
}
cat /tmp/rec2.json
echo
[ "$(num records /tmp/rec2.json)" = 1 ] && [ "$(num IOAS_ALLOC /tmp/rec2.json)" = 1 ] ||
	khotest_fail "closerange: $(num records /tmp/rec2.json) records after the old iommufd went, want the new IOAS_ALLOC alone"
khotest_mark iommufd-dropped
khotest_stop probe

# The socket server accepts in a table of its own, at fd 0 there: its
# close of that socket must not drop the VMM's fd 0, here the iommufd.
khotest_start probe env LD_PRELOAD="$KHOTEST_RECORDER" kho-rec-probe lowfd
kho-tool record --pid "$KHOTEST_PID" --json > /tmp/low1.json ||
	{ cat /tmp/low1.json; khotest_fail "lowfd: the first record failed"; }
kill -USR1 "$KHOTEST_PID"
wait_for /tmp/probe.log 'lowfd: second map done' 10 ||
	{ cat /tmp/probe.log; khotest_fail "lowfd: the probe did not map again"; }
kho-tool record --pid "$KHOTEST_PID" --json > /tmp/low2.json ||
	{ cat /tmp/low2.json; khotest_fail "lowfd: the second record failed"; }
cat /tmp/low2.json
echo
[ "$(num IOAS_MAP_FILE /tmp/low2.json)" = 2 ] ||
	khotest_fail "lowfd: $(num IOAS_MAP_FILE /tmp/low2.json) IOAS_MAP_FILE records after two maps: the server's close of its socket dropped the VMM's iommufd at fd 0"
khotest_mark server-closes-its-own
khotest_stop probe
khotest_done
