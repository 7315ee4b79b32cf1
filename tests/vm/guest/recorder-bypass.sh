# SPDX-License-Identifier: GPL-2.0
# On the patched kernel a VMM cannot bypass the kernel's journal: a MAP_FILE
# made through syscall(2), which the LD_PRELOAD recorder cannot see, is in
# the kernel's journal.  `kho-tool record` says the VMM is not preservable
# (the same check as capture), capture refuses, naming the record, and
# --userspace-journal takes the recorder's record with a warning.
khotest_start probe env LD_PRELOAD="$KHOTEST_RECORDER" kho-rec-probe bypass
pid=$KHOTEST_PID

if kho-tool record --pid "$pid" > /tmp/rec.txt 2>&1; then
	cat /tmp/rec.txt
	khotest_fail "bypass: kho-tool record says preservable"
fi
cat /tmp/rec.txt
grep -q 'preservable: no: kernel journal: record 2 differs: kernel has "IOAS_MAP_FILE' /tmp/rec.txt ||
	khotest_fail "bypass: kho-tool record does not name the kernel's record 2"
khotest_mark record-refuses

if kho-tool capture --pid "$pid" --out /tmp/h.fdt > /tmp/cap.txt 2>&1; then
	cat /tmp/cap.txt
	khotest_fail "bypass: capture took a journal the kernel contradicts"
fi
cat /tmp/cap.txt
grep -q "kho-tool capture: VMM $pid: kernel journal: record 2 differs" /tmp/cap.txt ||
	khotest_fail "bypass: capture does not name the differing record"
[ ! -e /tmp/h.fdt ] || khotest_fail "bypass: a refused capture left /tmp/h.fdt"
khotest_mark capture-refuses

kho-tool capture --pid "$pid" --userspace-journal --out /tmp/h.fdt --json > /tmp/cap.json 2> /tmp/cap.err ||
	{ cat /tmp/cap.err; khotest_fail "bypass: capture --userspace-journal failed"; }
cat /tmp/cap.err /tmp/cap.json
grep -q "warning: kernel journal: record 2 differs.*--userspace-journal: the recorder's record is used, unverified by the kernel" /tmp/cap.err ||
	khotest_fail "bypass: capture --userspace-journal does not warn of the difference"
grep -q '"journal_source":"userspace"' /tmp/cap.json ||
	khotest_fail "bypass: the hand-off's journal source is not userspace"
kho-tool validate /tmp/h.fdt || khotest_fail "bypass: the degraded hand-off does not validate"
khotest_mark userspace-journal-degrades
khotest_stop probe
khotest_done
