# SPDX-License-Identifier: GPL-2.0
# A VMM that maps from a SIGALRM handler while the recorder is busy in the
# same thread (kho-rec-signal): every map the handler made is in the
# journal, or the journal is refused naming the call; none is missing
# while the journal says it is whole.  Across fork, parent and child each
# journal what they did.
N=${KHOTEST_SIGNAL_MAPS:-1000}
NFORK=${KHOTEST_SIGNAL_FORKS:-100}
reason='recorder: ioctl IOAS_MAP_FILE on fd [0-9]* from a signal handler while the recorder was busy: journal unpreservable'

num() { sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p" "$2"; }

# sig_record NAME PID: kho-tool record --json into /tmp/NAME.json, shown
sig_record() {
	kho-tool record --pid "$2" --json > "/tmp/$1.json" || true	# 1: unpreservable
	cat "/tmp/$1.json"
	echo
}

# The open/close storm: the recorder's fd table work blocks signals, so
# each handler runs after it, and every map is journaled.
khotest_start sigstorm env LD_PRELOAD="$KHOTEST_RECORDER" kho-rec-signal storm "$N"
grep -q "storm: handler maps=$N" /tmp/sigstorm.log || khotest_fail "storm: the handler did not map $N times"
sig_record storm "$KHOTEST_PID"
grep -q '"preservable":true' /tmp/storm.json ||
	khotest_fail "storm: journal not preservable: $(sed -n 's/.*"reason":\("[^"]*"\).*/\1/p' /tmp/storm.json)"
[ "$(num IOAS_MAP_FILE /tmp/storm.json)" = $((N + 1)) ] ||
	khotest_fail "storm: $(num IOAS_MAP_FILE /tmp/storm.json) maps journaled, the VMM made $((N + 1)) ($N from its handler)"
khotest_mark storm-journaled
khotest_stop sigstorm

# The ioctl path runs its call and writes its record with signals open: a
# handler that maps in between cannot be journaled in order, and says so.
khotest_start sigioctl env LD_PRELOAD="$KHOTEST_RECORDER" kho-rec-signal ioctl "$N"
grep -q "ioctl: handler maps=$N" /tmp/sigioctl.log || khotest_fail "ioctl: the handler did not map $N times"
sig_record ioctl "$KHOTEST_PID"
maps=$(num IOAS_MAP_FILE /tmp/ioctl.json)
if grep -q '"preservable":true' /tmp/ioctl.json; then
	[ "$maps" = $((N + 1)) ] ||
		khotest_fail "ioctl: $maps maps journaled, the VMM made $((N + 1)), and the journal says it is whole"
	khotest_log "signal_ioctl=journaled"
else
	grep -q "\"reason\":\"[^\"]*: $reason\"" /tmp/ioctl.json ||
		khotest_fail "ioctl: refused, but not naming the handler's map"
	if kho-tool capture --pid "$KHOTEST_PID" --out /tmp/cap.blob > /tmp/cap.out 2>&1; then
		cat /tmp/cap.out
		khotest_fail "ioctl: capture took a journal that misses a handler's map"
	fi
	cat /tmp/cap.out
	grep -q "$reason" /tmp/cap.out || khotest_fail "ioctl: capture does not name the handler's map"
	khotest_log "signal_ioctl=refused"
fi
khotest_mark ioctl-journaled-or-named
khotest_stop sigioctl

# fork: the recorder's fork handlers block signals; the child keeps the
# parent's journal and adds its own map.
khotest_start sigfork env LD_PRELOAD="$KHOTEST_RECORDER" kho-rec-signal fork "$NFORK"
grep -q "fork: handler maps=$NFORK" /tmp/sigfork.log || khotest_fail "fork: the handler did not map $NFORK times"
child=$(sed -n 's/.*child pid=\([0-9]*\).*/\1/p' /tmp/sigfork.log)
[ -n "$child" ] || khotest_fail "fork: no child pid"
sig_record fork "$KHOTEST_PID"
grep -q '"preservable":true' /tmp/fork.json || khotest_fail "fork: parent's journal not preservable"
[ "$(num IOAS_MAP_FILE /tmp/fork.json)" = $((NFORK + 1)) ] ||
	khotest_fail "fork: parent journaled $(num IOAS_MAP_FILE /tmp/fork.json) maps, made $((NFORK + 1)) ($NFORK from its handler)"
khotest_mark fork-parent-journaled
sig_record forkchild "$child"
grep -q '"preservable":true' /tmp/forkchild.json || khotest_fail "fork: child's journal not preservable"
[ "$(num IOAS_MAP_FILE /tmp/forkchild.json)" = $((NFORK + 2)) ] ||
	khotest_fail "fork: child journaled $(num IOAS_MAP_FILE /tmp/forkchild.json) maps, want $((NFORK + 2)): the parent's and its own"
khotest_mark fork-child-journaled
khotest_stop sigfork
khotest_done
