# SPDX-License-Identifier: GPL-2.0
# Guest side of bench/replen-vm.sh: replay length over live mappings after
# churn, on one kernel flavour (vanilla: the userspace plan; patched: the
# kernel-verified replay of the iommufd's folded journal).  Boot k runs
# test-vmm serve under the recorder with the k-th "MAPS:CHURN" of $sizes
# and upgrades into the same flavour; boot k+1 lets the restore-agent
# restore, the VMM adopt under the recorder (its journal then starts from
# what the agent replayed: the plan on the userspace path, the adopted
# iommufd's kernel journal on the kernel path, docs/operations.md), and
# logs the agent's counts and the adopted journal's ops for the host.
# bench/replen-vm.sh prepends "flavour=... sizes=...".
. /test/verified-lib.sh

nth() {
	[ "$1" -ge 1 ] || return 0
	echo $sizes | cut -d' ' -f"$1"
}
prev=$(nth $((KHO_STAGE - 1)))
cur=$(nth "$KHO_STAGE")

if [ -n "$prev" ]; then
	n=${prev%%:*}
	wait_for $run/agent.status '^ready' 120 ||
		{ cat $run/restore.log; khotest_fail "$n maps: agent not ready: $(cat $run/agent.status)"; }
	cat $run/restore.log
	khotest_start vmm env LD_PRELOAD="$KHOTEST_RECORDER" test-vmm restart --hold
	grep -q 'bytes intact' /tmp/vmm.log || khotest_fail "$n maps: guest RAM not intact"
	grep -q 'DMA check passed' /tmp/vmm.log || khotest_fail "$n maps: no DMA check after adoption"
	grep -q 'kho-record: ' /tmp/vmm.log &&
		khotest_fail "$n maps: the recorder could not take over the adopted state"
	kho-tool record --pid "$KHOTEST_PID" --json >/tmp/record.json 2>&1 ||
		{ cat /tmp/record.json; khotest_fail "$n maps: kho-tool record failed"; }
	cat /tmp/record.json
	line=$(grep -o 'restore: journal source: .*' $run/restore.log | head -n 1)
	case "$flavour" in
	patched)
		echo "$line" | grep -q 'into the preserved iommufd' ||
			khotest_fail "$n maps: not the kernel-verified path: $line"
		grep -q 'restore: kernel verified the replay' $run/restore.log ||
			khotest_fail "$n maps: the kernel did not verify the replay"
		replayed=$(echo "$line" | sed -n 's/.*replaying \([0-9]*\) recorded ioctls.*/\1/p')
		plan=$(echo "$line" | sed -n 's/.*plan would be \([0-9]*\);.*/\1/p')
		journal=$(echo "$line" | sed -n 's/.*a journal of \([0-9]*\) records.*/\1/p')
		;;
	*)
		echo "$line" | grep -q 'userspace record' ||
			khotest_fail "$n maps: not the userspace path: $line"
		replayed=$(echo "$line" | sed -n 's/.*replaying the plan (\([0-9]*\) ioctls.*/\1/p')
		plan=$replayed
		journal=$(echo "$line" | sed -n 's/.*ioctls, journal \([0-9]*\)).*/\1/p')
		;;
	esac
	# The adopted journal: its map records are the ones replayed.
	ops() { sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p" /tmp/record.json; }
	maps_rec=$(( $(ops IOAS_MAP | head -n 1 || echo 0) + 0 ))
	mapf_rec=$(( $(ops IOAS_MAP_FILE | head -n 1 || echo 0) + 0 ))
	copy_rec=$(( $(ops IOAS_COPY | head -n 1 || echo 0) + 0 ))
	unmap_rec=$(( $(ops IOAS_UNMAP | head -n 1 || echo 0) + 0 ))
	records=$(sed -n 's/.*"records":\([0-9]*\),.*/\1/p' /tmp/record.json)
	live=$(sed -n 's/.*"live_maps":\([0-9]*\),.*/\1/p' /tmp/record.json)
	khotest_log "replen-$flavour-$n=live ${live:-missing} replayed ${replayed:-missing} plan ${plan:-missing} journal ${journal:-missing} adopted-records ${records:-missing} map $maps_rec map-file $mapf_rec copy $copy_rec unmap $unmap_rec"
	khotest_mark "replen-$n"
	khotest_stop vmm
fi

if [ -n "$cur" ]; then
	n=${cur%%:*}
	churn=${cur#*:}
	# khotest_start truncates /tmp/vmm.log in the background child: the
	# adopted VMM's "ready pid=" still in it would pass its wait at once.
	rm -f /tmp/vmm.log
	khotest_start vmm env LD_PRELOAD="$KHOTEST_RECORDER" test-vmm serve --maps "$n" --churn "$churn"
	grep 'test-vmm: setup' /tmp/vmm.log ||
		khotest_fail "$n maps: no setup line from test-vmm serve"
	khotest_log "replen-setup-$flavour-$n=$(sed -n 's/.*test-vmm: setup: .*maps=\([0-9]*\) unmapped=[0-9]* churn=\([0-9]*\) .*/maps \1 churn \2/p' /tmp/vmm.log)"
	kho-tool upgrade --kernel "/boot/vmlinuz-$flavour" --initrd "$(khotest_initrd)" \
		--append "khotest.stage=$((KHO_STAGE + 1))" --pid "$KHOTEST_PID" --json
	khotest_fail "upgrade returned"
fi
khotest_done
