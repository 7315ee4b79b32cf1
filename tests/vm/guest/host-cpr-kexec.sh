# SPDX-License-Identifier: GPL-2.0
# An L2 guest carried across a kexec of its L1 host by QEMU 11.1's own
# cpr-transfer (issue #13, docs/qemu-cpr.md "Across a kexec").
# Stage 1 (vanilla L1): QEMU runs the L2 payload (tests/cpr/payload.c: RAM
# pattern, heartbeat on COM1) with memfd RAM; its serial goes to the L1
# console ("L2: ..."), and `kho-tool upgrade --qemu-qmp` migrates it to
# kho-tool, preserves its memfds and stream through LUO and kexecs into
# the patched kernel.  Stage 2: the restore-agent restores the session; a
# new QEMU with the old command line plus -incoming gets the state from
# `kho-tool cpr-relay --restore`; the heartbeat must go on from the next
# number (the host compares both stages' lines), no second L2 boot, no BAD.

. /test/host-l2.sh
args=$l2_args

if [ "$KHO_STAGE" = 1 ]; then
	# shellcheck disable=SC2086 # a word per argument
	qemu-system-x86_64 $args -serial "$(l2_serial old)" \
		-qmp "unix:$W/old-qmp.sock,server=on,wait=off" > "$W/old.out" 2>&1 &
	old=$!
	# The L2 serial on the L1 console, to the last line before the kexec.
	tail -F "$W/old.log" 2>/dev/null | sed -u 's/^/L2: /' > /dev/console &
	wait_for "$W/old.log" '^hb 3 ' 300 || { dump /run/kho-tool/restore.log; khotest_fail "the L2 guest never reached hb 3"; }
	khotest_mark l2-running
	make_initrd
	khotest_mark initrd
	# A rehearsal: the guest stops, is captured and preserved, the image
	# loaded; then all is undone and the guest resumes in the old QEMU.
	kho-tool upgrade --kernel /test/vmlinuz-patched --initrd "$initrd" \
		--append "khotest.stage=2" --qemu-qmp "$W/old-qmp.sock" --dry-run > "$W/dry.out" 2>&1 ||
		{ cat "$W/dry.out"; dump; khotest_fail "upgrade --qemu-qmp --dry-run failed"; }
	cat "$W/dry.out"
	grep -q 'the guest resumed in the source QEMU' "$W/dry.out" ||
		khotest_fail "the dry run did not resume the guest in the old QEMU"
	before=$(hb_last "$W/old.log")
	wait_for "$W/old.log" "^hb $((before + 2)) " 120 ||
		{ dump; khotest_fail "the guest does not run after the dry run"; }
	khotest_mark dry-run-resumed
	sync
	# The wall clock (L1's RTC) is the one clock both stages read.
	khotest_log "upgrade_start_wall=$(date +%s.%N)"
	rc=0
	# Straight to the console: /tmp does not survive the kexec.
	kho-tool upgrade --kernel /test/vmlinuz-patched --initrd "$initrd" \
		--append "khotest.stage=2" --qemu-qmp "$W/old-qmp.sock" > /dev/console 2>&1 || rc=$?
	# Only a failure comes back: the guest must run on in the old QEMU.
	before=$(hb_last "$W/old.log")
	wait_for "$W/old.log" "^hb $((before + 2)) " 120 ||
		{ dump /run/kho-tool/restore.log; khotest_fail "upgrade failed (exit $rc) and the guest did not resume"; }
	dump
	khotest_fail "kho-tool upgrade --qemu-qmp returned (exit $rc); the guest resumed in the old QEMU"
fi

# Stage 2, the patched kernel.
khotest_log "l1_stage2_kernel=$(uname -r)"
start_agent
khotest_mark agent-ready
start_new_qemu
new=$!
# A --restore that fails after taking the agent's offer: the agent must
# keep the memfds and serve the next one.
khotest_refused "$W/restore-fail.out" "an injected --restore failure" \
	env KHO_CPR_FAIL_AT=restore kho-tool cpr-relay --restore \
	--to-cpr "$W/new-cpr.sock" --to-main "$W/new-main.sock" --timeout 120
grep -q 'descriptors: Operation canceled: injected (KHO_CPR_FAIL_AT=restore) (QEMU /tmp/cpr/old-qmp.sock)' "$W/restore-fail.out" ||
	khotest_fail "the injected failure does not name the step and the QEMU: $(cat "$W/restore-fail.out")"
grep -q 'the restore-agent keeps holding the guest.s memfds' "$W/restore-fail.out" ||
	khotest_fail "the failed --restore does not say the agent keeps the memfds"
grep -q '^ready' /run/kho-tool/agent.status ||
	khotest_fail "after a failed --restore the agent is '$(cat /run/kho-tool/agent.status)', not ready"
khotest_mark restore-refused
rc=0
kho-tool cpr-relay --restore --to-cpr "$W/new-cpr.sock" --to-main "$W/new-main.sock" \
	--timeout 120 > "$W/restore.out" 2>&1 || rc=$?
cat "$W/restore.out"
cat "$W/agent.out"
[ "$rc" -eq 0 ] || { dump /run/kho-tool/restore.log; khotest_fail "cpr-relay --restore failed (exit $rc)"; }
khotest_mark restored
l2_last old
wait_for "$W/new.log" '^hb [0-9]+ ' 300 || { dump /run/kho-tool/restore.log; khotest_fail "the new QEMU's L2 guest printed no heartbeat"; }
khotest_log "first_new_hb_wall=$(date +%s.%N)"
new_first=$(hb_first "$W/new.log" "$S/old.log")
wait_for "$W/new.log" "^hb $((new_first + 2)) " 300 ||
	{ dump /run/kho-tool/restore.log; khotest_fail "the L2 guest does not keep running in the new QEMU"; }
sed 's/^/L2new: /' "$W/new.log"
if grep -q '^L2 boot' "$W/new.log"; then khotest_fail "the L2 guest rebooted in the new QEMU"; fi
if grep -q BAD "$W/new.log"; then khotest_fail "the L2 RAM pattern changed: $(grep BAD "$W/new.log" | head -n 1)"; fi
khotest_log "new_first=$new_first"
i=0
until grep -q finished /run/kho-tool/agent.status 2>/dev/null; do
	[ "$i" -lt 100 ] || khotest_fail "agent status '$(cat /run/kho-tool/agent.status)', not finished after --restore"
	usleep 100000
	i=$((i + 1))
done
khotest_mark l2-continued
kill "$new"
wait "$new" || true
khotest_done
