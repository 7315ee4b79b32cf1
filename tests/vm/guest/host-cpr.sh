# SPDX-License-Identifier: GPL-2.0
# Nested cpr-transfer (issue #13): in the L1 host guest, QEMU 11.1 runs the
# L2 payload (tests/cpr/payload.c: RAM pattern, heartbeat on COM1) under
# TCG with its RAM in a memfd; kho-tool cpr-relay migrates it to itself and
# hands it to a new QEMU started with the old command line plus -incoming.
# The L2 guest must go on: no second boot, the heartbeat continues from the
# next number, the RAM pattern intact.  tests/cpr/roundtrip.sh's part 1,
# one level down.

. /test/host-l2.sh
args=$l2_args
# khotest.l2=vfio-state: the L1's edu device (on vfio-pci: vfio_pci.ids) passed
# through to L2 by iommufd, as issue #13's L2 guests have it.
l2=$(khotest_cmdline_value khotest.l2 plain)
if [ "$l2" != plain ]; then
	edu=
	for dev in /sys/bus/pci/devices/*; do
		[ "$(cat "$dev/vendor"):$(cat "$dev/device")" = "0x1234:0x11e8" ] && edu=${dev##*/}
	done
	[ -n "$edu" ] || khotest_fail "no edu device in L1"
	[ "$(basename "$(readlink "/sys/bus/pci/devices/$edu/driver")")" = vfio-pci ] ||
		khotest_fail "edu $edu is not bound to vfio-pci"
	khotest_log "l1_edu=$edu"
	args="$args -object iommufd,id=iommufd0
		-device vfio-pci,host=$edu,iommufd=iommufd0,id=edu0"
	# QEMU's own account of its cpr and iommufd steps, in old.out.
	trace="-trace iommufd* -trace vfio_cpr* -trace cpr* -trace vfio_migration*"
fi
uptime_s() { cut -d' ' -f1 /proc/uptime; }

t0=$(uptime_s)
# shellcheck disable=SC2086 # a word per argument
qemu-system-x86_64 $args ${trace:-} -serial "file:$W/old.log" \
	-qmp "unix:$W/old-qmp.sock,server=on,wait=off" > "$W/old.out" 2>&1 &
old=$!
wait_for "$W/old.log" '^hb 3 ' 300 || { dump; khotest_fail "the L2 guest never reached hb 3"; }
t1=$(uptime_s)
khotest_log "l2_start_to_hb3_s=$(echo "$t1 $t0" | awk '{printf "%.1f", $1 - $2}')"
khotest_mark l2-running

# khotest.l2=vfio-state: what QEMU puts in the CPR state for a passthrough
# device, read by kho-tool, which must then refuse and cancel before the
# main stream: QEMU 11.1.3 cannot go further without KVM (its PRECOPY_SETUP
# notifier, hw/vfio/cpr.c vfio_cpr_set_msi_virq, calls KVM_IRQFD on
# kvm_state, NULL under TCG: the source segfaults).
if [ "$l2" = vfio-state ]; then
	rc=0
	kho-tool cpr-relay --kexec-safe --qmp "$W/old-qmp.sock" \
		--dir "$W" --to-cpr "$W/new-cpr.sock" --to-main "$W/new-main.sock" \
		--timeout 60 > "$W/relay.out" 2>&1 || rc=$?
	cat "$W/relay.out"
	[ "$rc" -ne 0 ] || khotest_fail "cpr-relay moved a VFIO device without KVM"
	grep -q "vfio device '$edu' in a QEMU without KVM" "$W/relay.out" ||
		{ dump; khotest_fail "the refusal does not name the device and KVM"; }
	grep -q 'migration cancelled, the guest keeps running' "$W/relay.out" ||
		{ dump; khotest_fail "the refusal did not cancel the migration"; }
	for want in 'ram0 .*memfd' 'iommufd0 .*iommufd' "$edu .*vfio-device" \
		"${edu}_intx-interrupt .*eventfd" "${edu}_req_notifier .*eventfd"; do
		grep -Eq "fd [0-9]+ +$want" "$W/relay.out" ||
			khotest_fail "the CPR state has no fd matching '$want'"
	done
	grep -Eq "vfio device $edu: devid [0-9]+ ioas [0-9]+ hwpt [0-9]+" "$W/relay.out" ||
		khotest_fail "the CPR state's vfio devices do not list $edu"
	echo "cpr-state.bin:"
	od -An -tx1 -v "$W/cpr-state.bin"
	khotest_mark cpr-state-read
	before=$(hb_last "$W/old.log")
	wait_for "$W/old.log" "^hb $((before + 2)) " 120 ||
		{ dump; khotest_fail "the L2 guest stopped after the cancelled migration"; }
	if grep -q BAD "$W/old.log"; then khotest_fail "the L2 RAM pattern changed"; fi
	khotest_log "heartbeat=$before..$(hb_last "$W/old.log") in the old QEMU"
	khotest_mark l2-continued
	kill "$old"
	wait "$old" || true
	khotest_done
	exit 0
fi

kho-tool cpr-relay --qmp "$W/old-qmp.sock" --dir "$W" --to-cpr "$W/new-cpr.sock" \
	--to-main "$W/new-main.sock" --timeout 120 > "$W/relay.out" 2>&1 &
relay=$!
# Until the source has migrated, or cpr-relay gave up.
i=0
while ! grep -q 'source reports migration completed' "$W/relay.out"; do
	if ! kill -0 "$relay" 2>/dev/null || [ "$i" -ge 1200 ]; then
		dump
		khotest_fail "cpr-relay did not take the VM from the old QEMU"
	fi
	usleep 100000
	i=$((i + 1))
done
start_new_qemu
new=$!
rc=0
wait "$relay" || rc=$?
t2=$(uptime_s)
cat "$W/relay.out"
[ "$rc" -eq 0 ] || { dump; khotest_fail "cpr-relay failed (exit $rc)"; }
khotest_log "relay_s=$(echo "$t2 $t1" | awk '{printf "%.1f", $1 - $2}')"
khotest_mark relayed

wait_for "$W/new.log" '^hb [0-9]+ ' 300 || { dump; khotest_fail "the new QEMU's L2 guest printed no heartbeat"; }
old_last=$(hb_last "$W/old.log")
new_first=$(hb_first "$W/new.log" "$W/old.log")
wait_for "$W/new.log" "^hb $((new_first + 2)) " 300 ||
	{ dump; khotest_fail "the L2 guest does not keep running in the new QEMU"; }
new_last=$(hb_last "$W/new.log")
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
