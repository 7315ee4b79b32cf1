# SPDX-License-Identifier: GPL-2.0
# Nested cpr-transfer (issue #13): in the L1 host guest, QEMU 11.1 runs the
# L2 payload (tests/cpr/payload.c: RAM pattern, heartbeat on COM1) under
# TCG with its RAM in a memfd; kho-tool cpr-relay migrates it to itself and
# hands it to a new QEMU started with the old command line plus -incoming.
# The L2 guest must go on: no second boot, the heartbeat continues from the
# next number, the RAM pattern intact.  tests/cpr/roundtrip.sh's part 1,
# one level down.

W=/tmp/cpr
mkdir -p "$W"
args="-machine q35,aux-ram-share=on -accel tcg -m 32M
	-object memory-backend-memfd,id=ram0,size=32M,share=on
	-machine memory-backend=ram0 -nodefaults -display none
	-kernel /test/payload.elf"
hb() { grep -oE '^hb [0-9]+' "$1" | sed -n "$2" | cut -d' ' -f2; }
uptime_s() { cut -d' ' -f1 /proc/uptime; }
dump() {
	for f in "$W"/*.out "$W"/*.log; do
		echo "--- $f"
		tail -n 20 "$f"
	done
}

t0=$(uptime_s)
# shellcheck disable=SC2086 # a word per argument
qemu-system-x86_64 $args -serial "file:$W/old.log" \
	-qmp "unix:$W/old-qmp.sock,server=on,wait=off" > "$W/old.out" 2>&1 &
old=$!
wait_for "$W/old.log" '^hb 3 ' 300 || { dump; khotest_fail "the L2 guest never reached hb 3"; }
t1=$(uptime_s)
khotest_log "l2_start_to_hb3_s=$(echo "$t1 $t0" | awk '{printf "%.1f", $1 - $2}')"
khotest_mark l2-running

kho-tool cpr-relay --qmp "$W/old-qmp.sock" --dir "$W" --to-cpr "$W/new-cpr.sock" \
	--to-main "$W/new-main.sock" --timeout 120 > "$W/relay.out" 2>&1 &
relay=$!
wait_for "$W/relay.out" 'source reports migration completed' 120 ||
	{ dump; khotest_fail "cpr-relay did not take the VM from the old QEMU"; }
# shellcheck disable=SC2086
qemu-system-x86_64 $args -serial "file:$W/new.log" \
	-qmp "unix:$W/new-qmp.sock,server=on,wait=off" \
	-incoming "{\"channel-type\":\"cpr\",\"addr\":{\"transport\":\"socket\",\"type\":\"unix\",\"path\":\"$W/new-cpr.sock\"}}" \
	-incoming "unix:$W/new-main.sock" > "$W/new.out" 2>&1 &
new=$!
rc=0
wait "$relay" || rc=$?
t2=$(uptime_s)
cat "$W/relay.out"
[ "$rc" -eq 0 ] || { dump; khotest_fail "cpr-relay failed (exit $rc)"; }
khotest_log "relay_s=$(echo "$t2 $t1" | awk '{printf "%.1f", $1 - $2}')"
khotest_mark relayed

wait_for "$W/new.log" '^hb [0-9]+ ' 300 || { dump; khotest_fail "the new QEMU's L2 guest printed no heartbeat"; }
old_last=$(hb "$W/old.log" '$p')
new_first=$(hb "$W/new.log" 1p)
wait_for "$W/new.log" "^hb $((new_first + 2)) " 300 ||
	{ dump; khotest_fail "the L2 guest does not keep running in the new QEMU"; }
new_last=$(hb "$W/new.log" '$p')
khotest_log "heartbeat=old ..$old_last, new $new_first..$new_last"
[ "$(grep -c '^L2 boot' "$W/old.log")" = 1 ] || khotest_fail "the L2 guest booted more than once"
if grep -q '^L2 boot' "$W/new.log"; then khotest_fail "the L2 guest rebooted in the new QEMU"; fi
[ "$new_first" = $((old_last + 1)) ] ||
	khotest_fail "the heartbeat does not continue: old ended at $old_last, new began at $new_first"
if grep -q BAD "$W/old.log" "$W/new.log"; then
	khotest_fail "the L2 RAM pattern changed: $(grep -h BAD "$W"/*.log | head -n 1)"
fi
grep -q 'fd [0-9]* *ram0 .*memfd' "$W/relay.out" || khotest_fail "no ram0 memfd in the CPR state"
grep -q 'source quit' "$W/relay.out" || khotest_fail "cpr-relay did not quit the old QEMU"
khotest_mark l2-continued
kill "$new"
wait "$new" || true
khotest_done
