# SPDX-License-Identifier: GPL-2.0
# An mdev across a real kexec (issue #15, docs/device-state.md): the
# kernel's mtty sample, created in stage 1 (vanilla-debug), owned by the
# test VMM through its VFIO cdev bound to an IOAS, with bytes left in its
# emulated UART's FIFO.  The upgrade to patched-debug carries the mdev's
# identity (hand-off format 5); the restore-agent creates the mdev again
# with its UUID, binds and attaches its cdev, and the VMM adopts it.
# Then an upgrade patched-debug -> patched-debug preserves the iommufd
# itself: the kernel journals the mdev through its access (patches/0006)
# and verifies the agent's replay of it.  Rollback to vanilla-debug does
# the same as the first upgrade once more.
#
# The device's state crosses too: upgrade saves it through the VFIO
# migration v2 FSM (PRE_COPY, then STOP_COPY with the VMM stopped) into a
# sealed memfd in the LUO session; the agent loads it into the new mdev
# (RESUMING, STOP, RUNNING) before the VMM adopts it, which then reads the
# bytes back from the FIFO in order (and puts them back for the rollback).
# A dry run saves and walks the device back to RUNNING with its state.
initrd=$(khotest_initrd)
. /test/kexec.env	# target= and source=: the debug kernels' paths
uuid=83b8f4f2-509f-382f-3c1e-e6bfe0fa1001
label="mdev $uuid (type mtty-1 of mtty)"
label_re="mdev $uuid \\(type mtty-1 of mtty\\)"	# for grep -E
msg=kho-mtty-fifo
after=$msg	# the FIFO after the kexec: the state carried

# adopt_and_serve: the agent created the mdev again, replayed and
# verified, and resumed the state as the plan's records say; the
# restarted VMM adopts it and finds the FIFO as promised.
adopt_and_serve() {
	local run=/run/kho-tool

	khotest_mtty_adopt "$after"
	[ -d "/sys/bus/mdev/devices/$uuid" ] ||
		khotest_fail "stage $KHO_STAGE: the agent did not create $label"
	# the save's arcs, journalled (format 7), and the resume verified
	kho-tool journal "$run/handoff.fdt" | tee /tmp/journal.txt
	grep -Eq "DEVICE_MIG_STATE dev [0-9]+ PRE_COPY_P2P -> STOP_COPY, 0x[0-9a-f]+ bytes, memfd token [0-9]+$" /tmp/journal.txt ||
		khotest_fail "stage $KHO_STAGE: the hand-off's plan has no DEVICE_MIG_STATE arc into STOP_COPY"
	grep -q 'device-state: device [0-9]* (.*): RUNNING, [0-9]* bytes written (crc32 0x[0-9a-f]*), as 3 DEVICE_MIG_STATE record(s) say; ' "$run/restore.log" ||
		khotest_fail "stage $KHO_STAGE: the agent did not verify the resume against the records"
	khotest_mark "adopted-stage$KHO_STAGE"
}

case "$KHO_STAGE" in
1)
	khotest_log "kernel=$(uname -r)"
	khotest_mtty_create "$uuid"
	dev=$(khotest_mdev_cdev "$uuid")
	khotest_start vmm env LD_PRELOAD="$KHOTEST_RECORDER" \
		test-vmm serve --maps 16 --device "$dev" --mtty-fifo "$msg"
	grep -q "wrote \"$msg\" to port 0" /tmp/vmm.log ||
		khotest_fail "the VMM did not fill the mtty's FIFO"
	khotest_mark serving

	# The pre-flight names the mdev and what becomes of its state; the
	# dry run saves it, then walks it back to RUNNING with its state.
	kho-tool upgrade --kernel "$target" --initrd "$initrd" --pid "$KHOTEST_PID" \
		--dry-run --require-device-state > /tmp/dry.txt 2>&1 ||
		{ cat /tmp/dry.txt; khotest_fail "dry run --require-device-state failed"; }
	cat /tmp/dry.txt
	grep -q "^upgrade: device $label: migration v2 (stop-copy+p2p+pre-copy): its state will be carried$" /tmp/dry.txt ||
		khotest_fail "the dry run did not name $label and its fate"
	grep -q "^upgrade: device $label: state saved, [0-9]* bytes" /tmp/dry.txt ||
		khotest_fail "the dry run did not save $label's state"
	grep -q "^upgrade: device $label: device state: back from STOP_COPY to RUNNING, its state kept$" /tmp/dry.txt ||
		khotest_fail "the dry run did not walk $label back to RUNNING"
	grep -q "^upgrade: VMM $KHOTEST_PID continued$" /tmp/dry.txt ||
		khotest_fail "the dry run did not continue the VMM"
	seen=$(grep -c 'on SIGUSR1: FIFO gave' /tmp/vmm.log || true)
	kill -USR1 "$KHOTEST_PID"
	fifo_checked() { [ "$(grep -c "on SIGUSR1: FIFO gave \"$msg\" in order" /tmp/vmm.log)" -gt "$seen" ]; }
	khotest_wait 30 fifo_checked ||
		{ cat /tmp/vmm.log; khotest_fail "after the dry run the mtty's FIFO lost its bytes"; }
	kho-tool capture --pid "$KHOTEST_PID" --out /tmp/h.dtb > /tmp/capture.log 2>&1 ||
		{ cat /tmp/capture.log; khotest_fail "capture --out failed"; }
	kho-tool inspect /tmp/h.dtb | tee /tmp/inspect.txt
	grep -q "^  format-version 5, min-reader-version 5$" /tmp/inspect.txt ||
		khotest_fail "a hand-off with an mdev is not format 5"
	# an emulated device's access attaches to the IOAS itself
	grep -Eq "^  device [0-9]+: $label_re driver mtty, attached to IOAS [0-9]+ " /tmp/inspect.txt ||
		khotest_fail "inspect does not show $label"
	grep -Eq "DEVICE_BIND_IOMMUFD mdev $uuid -> device [0-9]+$" /tmp/inspect.txt ||
		khotest_fail "the replay plan does not bind $uuid"
	khotest_mark preflight-names-mdev

	kho-tool upgrade --kernel "$target" --initrd "$initrd" \
		--append "khotest.stage=2" --pid "$KHOTEST_PID" --json
	khotest_fail "upgrade returned"
	;;
2)
	case "$(uname -r)" in *-kho-b-dbg) ;; *) khotest_fail "stage 2 runs $(uname -r), not patched-debug" ;; esac
	adopt_and_serve
	# patched -> patched: the kernel journalled the agent's replay and
	# the VMM's adoption, the mdev's bind and attach among them (through
	# its iommufd access, patches/0006), so the recorder's journal
	# matches the kernel's and the iommufd itself is preserved.
	kho-tool upgrade --kernel "$target" --initrd "$initrd" \
		--append "khotest.stage=2v" --pid "$KHOTEST_PID" --json
	khotest_fail "upgrade to patched-debug returned"
	;;
2v)
	case "$(uname -r)" in *-kho-b-dbg) ;; *) khotest_fail "stage 2v runs $(uname -r), not patched-debug" ;; esac
	adopt_and_serve
	grep -q 'restore: journal source: kernel (iommufd-journal-v2); replaying [0-9]* recorded ioctls into the preserved iommufd, each checked by the kernel' /run/kho-tool/restore.log ||
		{ cat /run/kho-tool/restore.log; khotest_fail "stage 2v: the agent did not replay into the preserved iommufd"; }
	grep -q 'restore: kernel verified the replay: \([0-9]*\)/\1 records' /run/kho-tool/restore.log ||
		{ cat /run/kho-tool/restore.log; khotest_fail "stage 2v: the kernel did not verify the whole replay"; }
	grep -E "replay: .*mdev $uuid" /run/kho-tool/restore.log | head -n 3
	khotest_mark kernel-verified-mdev
	# This kernel journals the VMM's iommufd; vanilla could not read it.
	kho-tool rollback --kernel "$source" --initrd "$initrd" \
		--append "khotest.stage=3" --pid "$KHOTEST_PID" \
		--userspace-journal --json
	khotest_fail "rollback returned"
	;;
3)
	case "$(uname -r)" in *-kho-a-dbg) ;; *) khotest_fail "stage 3 runs $(uname -r), not vanilla-debug" ;; esac
	adopt_and_serve
	khotest_stop vmm
	khotest_mdev_remove "$uuid"
	khotest_done
	;;
esac
