# SPDX-License-Identifier: GPL-2.0
# A dry run with a recording VMM: capture fetches its journal, preserves its
# guest-RAM memfds, then releases them; the VMM keeps running and its DMA
# check still passes afterwards.
khotest_start vmm env LD_PRELOAD="$KHOTEST_RECORDER" test-vmm serve --maps 64 --churn 200
vmm=$KHOTEST_PID
kho-tool upgrade --kernel /boot/vmlinuz-patched --initrd "$(khotest_initrd)" \
	--pid "$vmm" --dry-run --json > /tmp/dry.json ||
	{ cat /tmp/dry.json; khotest_fail "dry run with VMM $vmm failed"; }
cat /tmp/dry.json
grep -q '"result":"ok"' /tmp/dry.json || khotest_fail "dry run: result not ok"
grep -q '"preserved_fds":[2-9]' /tmp/dry.json || khotest_fail "dry run: no guest-RAM memfd preserved"
khotest_log "journal_length=$(sed 's/.*"journal_length":\([0-9]*\).*/\1/' /tmp/dry.json)"
khotest_log "replay_length=$(sed 's/.*"replay_length":\([0-9]*\).*/\1/' /tmp/dry.json)"
[ "$(cat /sys/kernel/kexec_loaded)" = 0 ] || khotest_fail "dry run left an image loaded"
khotest_mark captured
kill -USR1 "$vmm"
i=0
while [ "$(grep -c 'dma-check: ok:' /tmp/vmm.log)" -lt 2 ]; do
	kill -0 "$vmm" || khotest_fail "VMM died after the dry run"
	[ "$i" -lt 300 ] || khotest_fail "no DMA recheck after the dry run"
	i=$((i + 1))
	usleep 100000
done
khotest_mark vmm-intact
khotest_stop vmm
khotest_done
