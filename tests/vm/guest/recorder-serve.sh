# SPDX-License-Identifier: GPL-2.0
# test-vmm serve under the LD_PRELOAD recorder: the journal holds every
# state-changing ioctl test-vmm says it made (the pairs that cancel at its
# tail elided as they happen), compaction keeps only the
# live maps, the socket is 0600, DMA still works, the socket goes at exit.
MAPS=16
CHURN=2000
khotest_start vmm env LD_PRELOAD="$KHOTEST_RECORDER" test-vmm serve --maps $MAPS --churn $CHURN
grep -q "setup: .*maps=$MAPS unmapped=0 churn=$CHURN" /tmp/vmm.log ||
	khotest_fail "recorder: test-vmm setup line does not show $MAPS maps, $CHURN churn"
sock=/run/kho-tool/vmm-$KHOTEST_PID.sock
[ -S "$sock" ] || khotest_fail "recorder: no socket $sock"
[ "$(stat -c %a "$sock")" = 600 ] || khotest_fail "recorder: $sock has mode $(stat -c %a "$sock"), not 600"
khotest_mark socket-0600

kho-tool record --pid "$KHOTEST_PID" || khotest_fail "recorder: kho-tool record failed"
kho-tool record --pid "$KHOTEST_PID" --json --out /tmp/snap.blob > /tmp/rec.json ||
	khotest_fail "recorder: kho-tool record --json failed"
cat /tmp/rec.json
num() { sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p" /tmp/rec.json; }
records=$(num records)
held=$(num held)
elided=$(num elided_pairs)
maps=$(num IOAS_MAP_FILE)
unmaps=$(num IOAS_UNMAP)
# test-vmm: 1 IOAS_ALLOC, CHURN maps + CHURN unmaps, MAPS maps (by VA and
# by file: both canonicalised to MAP_FILE), 1 BIND, 1 ATTACH.  Its churn
# cycles go in twos, alternately one after the other and overlapped:
# the recorder elides the first kind as it happens (each UNMAP cancels
# the map just journaled), and holds the second.
want=$((1 + 2 * CHURN + MAPS + 2))
want_elided=$((CHURN / 2))
[ "$(num IOAS_ALLOC)" = 1 ] || khotest_fail "recorder: IOAS_ALLOC count $(num IOAS_ALLOC), want 1"
[ "$elided" = $want_elided ] ||
	khotest_fail "recorder: $elided map/unmap pairs elided, test-vmm made $want_elided one after the other"
[ "$maps" = $((CHURN - want_elided + MAPS)) ] ||
	khotest_fail "recorder: $maps maps held (+ $elided elided), test-vmm made $((CHURN + MAPS))"
[ "$unmaps" = $((CHURN - want_elided)) ] ||
	khotest_fail "recorder: $unmaps unmaps held (+ $elided elided), test-vmm made $CHURN"
[ "$(num DEVICE_BIND_IOMMUFD)" = 1 ] && [ "$(num DEVICE_ATTACH_IOMMUFD_PT)" = 1 ] ||
	khotest_fail "recorder: BIND/ATTACH not journaled once each"
[ "$records" = "$want" ] || khotest_fail "recorder: journal length $records, test-vmm made $want calls"
[ "$held" = $((want - 2 * want_elided)) ] ||
	khotest_fail "recorder: $held records held, want $((want - 2 * want_elided))"
khotest_mark journal-complete
live=$(num live_maps)
replay=$(num replay_length)
khotest_log "journal_length=$records"
khotest_log "journal_held=$held"
khotest_log "elided_pairs=$elided"
khotest_log "replay_length=$replay"
khotest_log "live_maps=$live"
[ "$live" = $MAPS ] || khotest_fail "recorder: compaction leaves $live live maps, want $MAPS"
[ "$replay" -lt "$held" ] && [ "$replay" -le $((MAPS + 3)) ] ||
	khotest_fail "recorder: replay length $replay for $MAPS live maps (journal $held held)"
khotest_mark churn-compacted
grep -q '"pci":"0000:00:03.0","vendor":"1234","device":"11e8"' /tmp/rec.json ||
	khotest_fail "recorder: edu device identity missing from the record"
grep -q '"name":"test-vmm-ram"' /tmp/rec.json || khotest_fail "recorder: guest RAM memfd missing"
grep -q '"preservable":true' /tmp/rec.json || khotest_fail "recorder: journal not preservable"
khotest_mark identities
# The snapshot is a raw journal in a hand-off blob: it decodes, and its
# journal is the one served; but it is no hand-off the agent would take
# (its state is not what its journal builds), and validate says so.
kho-tool journal /tmp/snap.blob > /tmp/snap.txt ||
	khotest_fail "recorder: the --out snapshot does not decode"
[ "$(grep -c 'IOAS_MAP_FILE' /tmp/snap.txt)" -ge "$MAPS" ] ||
	khotest_fail "recorder: the --out snapshot lacks the journal's maps"
if kho-tool validate /tmp/snap.blob > /tmp/snap.val 2>&1; then
	khotest_fail "recorder: validate took a raw snapshot for a hand-off"
fi
grep -q 'replay plan cannot be replayed: state: object counts differ' /tmp/snap.val ||
	{ cat /tmp/snap.val; khotest_fail "recorder: validate refused the snapshot for another reason"; }
khotest_mark snapshot-valid

kill -USR1 "$KHOTEST_PID"
i=0
while [ "$(grep -c 'dma-check: ok:' /tmp/vmm.log)" -lt 2 ]; do
	kill -0 "$KHOTEST_PID" || { cat /tmp/vmm.log; khotest_fail "recorder: test-vmm died after SIGUSR1"; }
	[ "$i" -lt 300 ] || khotest_fail "recorder: no second DMA check under the recorder"
	i=$((i + 1))
	usleep 100000
done
khotest_mark dma-under-recorder
khotest_stop vmm
[ -e "$sock" ] && khotest_fail "recorder: $sock left behind after exit"
khotest_mark socket-removed
khotest_done
