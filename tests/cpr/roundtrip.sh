#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# kho-tool as QEMU 11.1's cpr-transfer peer, on one kernel (issue #13's
# first slice): an unmodified QEMU from the sid host image
# (tests/rig/host-image.sh) runs the L2 payload (tests/cpr/payload.c);
# `kho-tool cpr-relay` migrates it to itself, quits it, and hands the CPR
# state's descriptors and the main stream to a new QEMU started with the
# old command line plus -incoming.  The guest must go on: no second boot,
# the heartbeat continues from the next number, the RAM pattern intact.
# Then --kexec-safe must refuse a QEMU with file-backed RAM by name while
# its guest keeps running; an injected failure after the CPR state must
# cancel the migration with the guest running; and when no new QEMU comes
# after the guest stopped, the guest must resume in the old QEMU.
#
# usage: roundtrip.sh          env: BUILD (default build), KHO_CACHE
# Exit 0 pass, 1 fail.  It skips (exit 0, saying why) only when QEMU
# itself cannot run in the image; a missing image or program is a failure.
set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD:-build}
case "$build" in /*) ;; *) build="$top/$build" ;; esac
tool="$build/bin/kho-tool"
payload="$build/tests/cpr/payload.elf"
work="$build/cpr"
failed=0
pids=()
start=$(date +%s.%N)

say() { echo "cpr: $*"; }
fail() { echo "cpr: FAIL: $*"; failed=$((failed + 1)); }
elapsed() { printf '%.1f s' "$(echo "$(date +%s.%N) - $start" | bc)"; }

cleanup() {
	local p
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null
	done
	for p in "${pids[@]}"; do
		wait "$p" 2>/dev/null
	done
}
trap cleanup EXIT

[ -x "$tool" ] || { fail "no $tool (make all)"; exit 1; }
[ -r "$payload" ] || { fail "no $payload (make $payload)"; exit 1; }
mkdir -p "$work"
root=$("$top/tests/rig/host-image.sh" root "$work/host") ||
	{ fail "the sid host image could not be built"; exit 1; }
say "host image ready at $root ($(elapsed))"
# exec: a backgrounded `run` is then QEMU itself (host-image.sh, unshare, sh
# and chroot all exec), so $! is the PID that cleanup kills.
run() { exec "$top/tests/rig/host-image.sh" run "$root" --bind "$W" "$@"; }

W="$work/run"
rm -rf "$W"
mkdir -p "$W"
cp "$payload" "$W/payload.elf"
if ! ver=$(run qemu-system-x86_64 --version 2>&1); then
	say "SKIP: QEMU cannot run in the host image: $ver"
	exit 0
fi
say "$(head -n1 <<<"$ver")"

# The VM: guest RAM and every auxiliary RAM block in memfds (share=on,
# aux-ram-share=on), which cpr-transfer requires and LUO can preserve.
qemu_args() {
	local mem=$1
	echo -machine q35,aux-ram-share=on -accel tcg -m 64M \
		-object "$mem" -machine memory-backend=ram0 \
		-nodefaults -display none -kernel "$W/payload.elf"
}

# wait_for FILE REGEX SECONDS
wait_for() {
	local i
	for ((i = 0; i < $3 * 10; i++)); do
		grep -qE "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# shellcheck source=tests/cpr/heartbeat.sh
. "$top/tests/cpr/heartbeat.sh"

# --- 1. the round trip -------------------------------------------------------
mem="memory-backend-memfd,id=ram0,size=64M,share=on"
# shellcheck disable=SC2046
run qemu-system-x86_64 $(qemu_args "$mem") -serial "file:$W/old.log" \
	-qmp "unix:$W/old-qmp.sock,server=on,wait=off" > "$W/old.out" 2>&1 &
pids+=($!)
wait_for "$W/old.log" '^hb 5 ' 30 || { fail "the old QEMU's guest never reached hb 5"; cat "$W/old.out"; exit 1; }
say "old QEMU runs the guest ($(elapsed))"

t0=$(date +%s.%N)
"$tool" cpr-relay --qmp "$W/old-qmp.sock" --dir "$W" --to-cpr "$W/new-cpr.sock" \
	--to-main "$W/new-main.sock" --timeout 30 > "$W/relay.out" 2>&1 &
relay=$!
# The old QEMU stays, stopped, until the new one has the guest.
if ! wait_for "$W/relay.out" 'source reports migration completed' 30; then
	fail "cpr-relay did not take the VM from the old QEMU"
	cat "$W/relay.out"
	exit 1
fi
# shellcheck disable=SC2046
run qemu-system-x86_64 $(qemu_args "$mem") -serial "file:$W/new.log" \
	-qmp "unix:$W/new-qmp.sock,server=on,wait=off" \
	-incoming "{\"channel-type\":\"cpr\",\"addr\":{\"transport\":\"socket\",\"type\":\"unix\",\"path\":\"$W/new-cpr.sock\"}}" \
	-incoming "unix:$W/new-main.sock" > "$W/new.out" 2>&1 &
pids+=($!)
if ! wait "$relay"; then
	fail "cpr-relay failed"
fi
t1=$(date +%s.%N)
cat "$W/relay.out"
wait_for "$W/new.log" '^hb [0-9]+ ' 30 || fail "the new QEMU's guest printed no heartbeat"
old_last=$(hb_last "$W/old.log")
sleep 2
new_first=$(hb_first "$W/new.log" "$W/old.log")
new_last=$(hb_last "$W/new.log")
say "old QEMU: last heartbeat ${old_last:-none}; new QEMU: heartbeats ${new_first:-none}..${new_last:-none}"
say "relay (migrate to kho-tool, start a new QEMU, hand over): $(printf '%.2f' "$(echo "$t1 - $t0" | bc)") s"
[ "$(grep -c '^L2 boot' "$W/old.log")" = 1 ] || fail "the old guest booted more than once"
grep -q '^L2 boot' "$W/new.log" && fail "the guest rebooted in the new QEMU"
[ -n "$new_first" ] && [ "$new_first" = $((old_last + 1)) ] ||
	fail "heartbeat does not continue: old ended at ${old_last:-none}, new began at ${new_first:-none}"
[ -n "$new_last" ] && [ "$new_last" -gt "$((new_first + 3))" ] ||
	fail "the new guest does not keep running (${new_first:-none}..${new_last:-none})"
grep -q BAD "$W/old.log" "$W/new.log" && fail "the RAM pattern changed: $(grep -h BAD "$W"/*.log | head -n1)"
grep -q 'fd [0-9]* *ram0 .*memfd' "$W/relay.out" || fail "the guest RAM memfd ram0 was not in the CPR state"
grep -q 'source quit' "$W/relay.out" || fail "cpr-relay did not quit the old QEMU"
[ "$failed" = 0 ] && say "ok: the guest continued in the new QEMU, heartbeat and RAM pattern intact"
kill "${pids[@]}" 2>/dev/null
cleanup
pids=()

# --- 2. refused by name, the guest still running ---------------------------
truncate -s 64M "$W/ram.img"
mem="memory-backend-file,id=ram0,size=64M,share=on,mem-path=$W/ram.img"
rm -f "$W/old.log"
# shellcheck disable=SC2046
run qemu-system-x86_64 $(qemu_args "$mem") -serial "file:$W/old.log" \
	-qmp "unix:$W/old2-qmp.sock,server=on,wait=off" > "$W/old2.out" 2>&1 &
pids+=($!)
wait_for "$W/old.log" '^hb 5 ' 30 || { fail "the file-backed guest never reached hb 5"; cat "$W/old2.out"; exit 1; }
if "$tool" cpr-relay --kexec-safe --qmp "$W/old2-qmp.sock" --dir "$W" \
	--to-cpr "$W/new2-cpr.sock" --to-main "$W/new2-main.sock" --timeout 10 \
	> "$W/relay2.out" 2>&1; then
	fail "cpr-relay --kexec-safe accepted file-backed RAM"
fi
cat "$W/relay2.out"
grep -q "memory backend 'ram0' is memory-backend-file" "$W/relay2.out" ||
	fail "the refusal does not name ram0 and its kind"
before=$(hb_last "$W/old.log")
sleep 2
after=$(hb_last "$W/old.log")
[ -n "$after" ] && [ "$after" -gt "${before:-0}" ] ||
	fail "the refused guest stopped (heartbeat ${before:-none} -> ${after:-none})"
[ "$failed" = 0 ] && say "ok: file-backed RAM refused by name, the guest kept running (hb $before -> $after)"
cleanup
pids=()

# --- 3. a failure after the CPR state arrived: cancelled, the guest runs on --
mem="memory-backend-memfd,id=ram0,size=64M,share=on"
rm -f "$W/old.log"
# shellcheck disable=SC2046
run qemu-system-x86_64 $(qemu_args "$mem") -serial "file:$W/old.log" \
	-qmp "unix:$W/old3-qmp.sock,server=on,wait=off" > "$W/old3.out" 2>&1 &
pids+=($!)
wait_for "$W/old.log" '^hb 5 ' 30 || { fail "the third guest never reached hb 5"; cat "$W/old3.out"; exit 1; }
if KHO_CPR_FAIL_AT=cpr-state "$tool" cpr-relay --kexec-safe --qmp "$W/old3-qmp.sock" \
	--dir "$W" --to-cpr "$W/new3-cpr.sock" --to-main "$W/new3-main.sock" \
	--timeout 10 > "$W/relay3.out" 2>&1; then
	fail "cpr-relay succeeded with an injected failure"
fi
cat "$W/relay3.out"
grep -q 'migration cancelled, the guest keeps running' "$W/relay3.out" ||
	fail "the injected failure did not cancel the migration"
before=$(hb_last "$W/old.log")
sleep 2
after=$(hb_last "$W/old.log")
[ -n "$after" ] && [ "$after" -gt "${before:-0}" ] ||
	fail "the guest stopped after the cancelled migration (heartbeat ${before:-none} -> ${after:-none})"
grep -q BAD "$W/old.log" && fail "the RAM pattern changed after the cancelled migration"
[ "$failed" = 0 ] && say "ok: failure after the CPR state cancelled the migration, the guest kept running (hb $before -> $after)"

cleanup
pids=()

# --- 4. no new QEMU after the guest stopped: it resumes in the old one -------
rm -f "$W/old.log"
# shellcheck disable=SC2046
run qemu-system-x86_64 $(qemu_args "$mem") -serial "file:$W/old.log" \
	-qmp "unix:$W/old4-qmp.sock,server=on,wait=off" > "$W/old4.out" 2>&1 &
pids+=($!)
wait_for "$W/old.log" '^hb 5 ' 30 || { fail "the fourth guest never reached hb 5"; cat "$W/old4.out"; exit 1; }
if "$tool" cpr-relay --qmp "$W/old4-qmp.sock" --dir "$W" --to-cpr "$W/absent-cpr.sock" \
	--to-main "$W/absent-main.sock" --timeout 3 > "$W/relay4.out" 2>&1; then
	fail "cpr-relay succeeded without a new QEMU"
fi
cat "$W/relay4.out"
grep -q 'target cpr channel: Connection timed out' "$W/relay4.out" ||
	fail "the failure does not name the target's cpr channel"
grep -q 'the guest resumed in the source QEMU' "$W/relay4.out" ||
	fail "the guest was not resumed in the source QEMU"
before=$(hb_last "$W/old.log")
sleep 2
after=$(hb_last "$W/old.log")
[ -n "$after" ] && [ "$after" -gt "${before:-0}" ] ||
	fail "the guest did not resume in the old QEMU (heartbeat ${before:-none} -> ${after:-none})"
[ "$(grep -c '^L2 boot' "$W/old.log")" = 1 ] || fail "the guest rebooted in the old QEMU"
grep -q BAD "$W/old.log" && fail "the RAM pattern changed in the resumed guest"
[ "$failed" = 0 ] && say "ok: with no new QEMU the guest resumed in the old one (hb $before -> $after)"

cleanup
pids=()
if pgrep -f "$W/payload.elf" > /dev/null; then
	fail "QEMU processes outlived the test: $(pgrep -f "$W/payload.elf" | paste -sd' ')"
fi

say "took $(elapsed)"
if [ "$failed" != 0 ]; then
	say "$failed failure(s); logs in $W"
	exit 1
fi
say "pass"
