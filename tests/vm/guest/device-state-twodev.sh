# SPDX-License-Identifier: GPL-2.0
# Three devices in one IOAS across a real kexec (issue #15,
# docs/device-state.md, "The --require-device-state pair in one guest"):
# the test VMM owns the edu PCI function (no VFIO migration support) and
# two mtty mdevs (migration v2 with PRE_COPY), all bound through their
# VFIO cdevs and attached to the same IOAS, with different bytes left in
# each mtty's FIFO (the second holds the first's reversed: a state
# resumed into the other device reads back wrong).
# --require-device-state refuses at the pre-flight by edu's name and
# touches nothing: the edu still does DMA, the FIFOs still hold their
# bytes.  A plain upgrade (vanilla-debug -> patched-debug) resets edu and
# carries both mttys; the VMM adopts all three.  The rollback does the
# same once more; from patched-debug it needs --userspace-journal, as
# 066's first test: the kernel's journal does not record an mdev's access.
initrd=$(khotest_initrd)
. /test/kexec.env	# target= and source=: the debug kernels' paths
uuid=83b8f4f2-509f-382f-3c1e-e6bfe0fa1002
uuid2=83b8f4f2-509f-382f-3c1e-e6bfe0fa1003
label="mdev $uuid (type mtty-1 of mtty)"
label2="mdev $uuid2 (type mtty-1 of mtty)"
edu=0000:00:03.0
msg=kho-two-devices
msg2=secived-owt-ohk	# $msg reversed: what test-vmm puts in the second

# checks_seen PATTERN N: the VMM logged PATTERN at least N times.
checks_seen() {
	[ "$(grep -c "$1" /tmp/vmm.log)" -ge "$2" ]
}

# refused_untouched COMMAND OUT DMA: COMMAND (upgrade or rollback) with
# --require-device-state was refused at the pre-flight by edu's name, with
# both mttys said to be carried and nothing saved, preserved or loaded;
# then the VMM's devices still work (SIGUSR1: DMA, whose passing line is
# DMA, and each FIFO read back and put back).
refused_untouched() {
	local cmd="$1" out="$2" dma="$3" n f f2 l lines

	grep -q "^$cmd: device $edu: no migration support: its state will be reset$" "$out" ||
		khotest_fail "$cmd --require-device-state: the pre-flight did not name $edu as reset"
	for l in "$label" "$label2"; do
		grep -q "^$cmd: device $l: migration v2 (stop-copy+p2p+pre-copy): its state will be carried$" "$out" ||
			khotest_fail "$cmd --require-device-state: the pre-flight did not name $l as carried"
	done
	grep -q "kho-tool $cmd: preflight-devices: --require-device-state: 1 of 3 devices would be reset across the kexec: $edu (vfio-pci): no migration support; refused before anything was preserved or loaded" "$out" ||
		khotest_fail "$cmd --require-device-state: the refusal does not name the step, $edu alone and the cause"
	grep -q '"error":{"step":"preflight-devices","errno":"EOPNOTSUPP"' "$out" ||
		khotest_fail "$cmd --require-device-state: the JSON does not say preflight-devices EOPNOTSUPP"
	grep -q 'state saved\|"step":"device-state"\|"step":"preserve"\|"step":"load"' "$out" &&
		khotest_fail "$cmd --require-device-state: refused, but it saved a device's state, preserved or loaded"
	[ "$(cat /sys/kernel/kexec_loaded)" = 0 ] ||
		khotest_fail "$cmd --require-device-state: refused, but an image is loaded"
	grep -q '^State:.*stopped' "/proc/$KHOTEST_PID/status" &&
		khotest_fail "$cmd --require-device-state: refused, but the VMM is left stopped"
	# grep -c exits 1 on a count of 0: set -e would end the script
	n=$(grep -c "$dma" /tmp/vmm.log || true)
	f=$(grep -c "on SIGUSR1: FIFO gave \"$msg\" in order" /tmp/vmm.log || true)
	f2=$(grep -c "on SIGUSR1: FIFO gave \"$msg2\" in order" /tmp/vmm.log || true)
	n=$((n + 1)) f=$((f + 1)) f2=$((f2 + 1))
	lines=$(wc -l < /tmp/vmm.log)
	kill -USR1 "$KHOTEST_PID"
	khotest_wait 30 checks_seen "on SIGUSR1: FIFO gave \"$msg\" in order" "$f" ||
		{ cat /tmp/vmm.log; khotest_fail "after the refused $cmd the first mtty's FIFO lost its bytes"; }
	khotest_wait 30 checks_seen "on SIGUSR1: FIFO gave \"$msg2\" in order" "$f2" ||
		{ cat /tmp/vmm.log; khotest_fail "after the refused $cmd the second mtty's FIFO lost its bytes"; }
	khotest_wait 30 checks_seen "$dma" "$n" ||
		{ cat /tmp/vmm.log; khotest_fail "after the refused $cmd the edu's DMA check did not pass"; }
	# the VMM's log reaches the console at its start and stop only:
	# what SIGUSR1's checks printed, for the host's counts
	echo "after the refused $cmd --require-device-state:"
	tail -n +$((lines + 1)) /tmp/vmm.log
}

# adopt_all: the agent created the mdevs again, bound the three devices
# and resumed the two mttys' states alone, each into its own; the
# restarted VMM adopts all three, edu's DMA works and each FIFO gives its
# own bytes in order.
adopt_all() {
	local log=/run/kho-tool/restore.log l

	khotest_mtty_adopt "$msg"
	grep -q "after adoption: FIFO gave \"$msg2\" in order" /tmp/vmm.log ||
		{ cat /tmp/vmm.log; khotest_fail "stage $KHO_STAGE: the second mtty's FIFO did not give \"$msg2\" back in order"; }
	[ "$(grep -c 'device-state: device [0-9]* (' "$log")" = 2 ] ||
		khotest_fail "stage $KHO_STAGE: the agent did not resume exactly two devices' states"
	for l in "$label" "$label2"; do
		grep -q "device-state: device [0-9]* ($l, .*): RUNNING, [0-9]* bytes written" "$log" ||
			khotest_fail "stage $KHO_STAGE: the agent did not resume $l's state"
	done
	grep -q 'adopted iommufd, 3 device(s)' /tmp/vmm.log ||
		khotest_fail "stage $KHO_STAGE: the VMM did not adopt the three devices"
	grep -q 'restart: DMA check passed' /tmp/vmm.log ||
		khotest_fail "stage $KHO_STAGE: the edu's DMA check did not pass after adoption"
	khotest_mark "adopted-stage$KHO_STAGE"
}

case "$KHO_STAGE" in
1)
	khotest_log "kernel=$(uname -r)"
	khotest_mtty_create "$uuid"
	khotest_mtty_create "$uuid2"
	dev=$(khotest_mdev_cdev "$uuid")
	dev2=$(khotest_mdev_cdev "$uuid2")
	khotest_start vmm env LD_PRELOAD="$KHOTEST_RECORDER" \
		test-vmm serve --maps 16 --mtty "$dev" --mtty "$dev2" --mtty-fifo "$msg"
	grep -q "setup: mtty $dev: devid=[0-9]* attached to IOAS [0-9]* beside " /tmp/vmm.log ||
		khotest_fail "the VMM did not attach $label beside the edu"
	grep -q "setup: mtty $dev2: devid=[0-9]* attached to IOAS [0-9]* beside " /tmp/vmm.log ||
		khotest_fail "the VMM did not attach $label2 beside the edu"
	grep -q 'dma-check: ok:' /tmp/vmm.log ||
		khotest_fail "the VMM's edu DMA check did not pass"
	grep -q "$dev: wrote \"$msg\" to port 0" /tmp/vmm.log ||
		khotest_fail "the VMM did not fill the first mtty's FIFO"
	grep -q "$dev2: wrote \"$msg2\" to port 0" /tmp/vmm.log ||
		khotest_fail "the VMM did not fill the second mtty's FIFO with the reversed bytes"
	khotest_mark serving

	khotest_refused /tmp/req.out "upgrade --require-device-state" \
		kho-tool upgrade --kernel "$target" --initrd "$initrd" \
		--pid "$KHOTEST_PID" --require-device-state --json
	refused_untouched upgrade /tmp/req.out 'dma-check: ok:'
	khotest_mark require-refused

	kho-tool upgrade --kernel "$target" --initrd "$initrd" \
		--append "khotest.stage=2" --pid "$KHOTEST_PID" --json
	khotest_fail "upgrade returned"
	;;
2)
	case "$(uname -r)" in *-kho-b-dbg) ;; *) khotest_fail "stage 2 runs $(uname -r), not patched-debug" ;; esac
	adopt_all
	khotest_refused /tmp/rreq.out "rollback --require-device-state" \
		kho-tool rollback --kernel "$source" --initrd "$initrd" \
		--pid "$KHOTEST_PID" --userspace-journal --require-device-state --json
	refused_untouched rollback /tmp/rreq.out 'restart: DMA check passed'
	khotest_mark rollback-refused
	# This kernel journals the VMM's iommufd; vanilla could not read it.
	kho-tool rollback --kernel "$source" --initrd "$initrd" \
		--append "khotest.stage=3" --pid "$KHOTEST_PID" \
		--userspace-journal --json
	khotest_fail "rollback returned"
	;;
3)
	case "$(uname -r)" in *-kho-a-dbg) ;; *) khotest_fail "stage 3 runs $(uname -r), not vanilla-debug" ;; esac
	adopt_all
	khotest_stop vmm
	khotest_mdev_remove "$uuid"
	khotest_mdev_remove "$uuid2"
	khotest_done
	;;
esac
