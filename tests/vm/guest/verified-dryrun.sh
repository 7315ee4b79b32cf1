# SPDX-License-Identifier: GPL-2.0
# A dry run that preserves the VMM's iommufd (patched -> patched): the
# iommufd is frozen while the session holds it, and afterwards no image is
# loaded, no session is left, and the VMM's iommufd maps again.
. /test/verified-lib.sh
khotest_start vmm env LD_PRELOAD="$KHOTEST_RECORDER" test-vmm serve --maps 64 --churn 100
vmm=$KHOTEST_PID
kho-tool upgrade --kernel /boot/vmlinuz-patched --initrd "$(khotest_initrd)" \
	--pid "$vmm" --dry-run --json > /tmp/dry.json ||
	{ cat /tmp/dry.json; khotest_fail "dry run with VMM $vmm failed"; }
cat /tmp/dry.json
grep -q '"result":"ok"' /tmp/dry.json || khotest_fail "dry run: result not ok"
grep -q '"iommufd":{"decision":"preserve",[^}]*"preserved":true' /tmp/dry.json ||
	khotest_fail "dry run: the VMM's iommufd was not preserved"
grep -q '"step":"dry-run-undo",[^}]*"status":"ok","detail":"[^"]*the VMM.s iommufd records again' /tmp/dry.json ||
	khotest_fail "dry run: the undo did not check the iommufd records again"
khotest_mark dry-run-preserved
no_session_left "dry run"
[ "$(probe_map "$vmm")" = ok ] || khotest_fail "the VMM's iommufd refuses a map after the dry run"
kill -USR1 "$vmm"
i=0
while [ "$(grep -c 'dma-check: ok:' /tmp/vmm.log)" -lt 2 ]; do
	kill -0 "$vmm" || khotest_fail "VMM died after the dry run"
	[ "$i" -lt 300 ] || khotest_fail "no DMA recheck after the dry run"
	i=$((i + 1))
	usleep 100000
done
khotest_mark vmm-maps-again
khotest_stop vmm
khotest_done
