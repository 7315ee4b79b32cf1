# SPDX-License-Identifier: GPL-2.0
# Device state across the upgrade (issue #15, the part today's rig kernels
# can prove): the edu device under vfio-pci has no VFIO migration v2, so
# its state is reset across the kexec.  Stage 1 (vanilla): the pre-flight
# and its JSON name it so; inspect shows it from the hand-off;
# --require-device-state refuses upgrade and rollback at the pre-flight
# with nothing touched (no image, no session, the VMM's DMA still works);
# then a normal upgrade goes on.  Stage 2 (patched): the VMM adopts and
# its DMA works.
initrd=$(khotest_initrd)
target=/boot/vmlinuz-patched
edu=0000:00:03.0

# dma_checks N: wait until the VMM has logged N passing DMA checks.
dma_checks() {
	[ "$(grep -c 'dma-check: ok:' /tmp/vmm.log)" -ge "$1" ]
}

# nothing_touched WHAT: no image loaded, no session left (a dry run can
# create the session "kho-tool" again and open /dev/liveupdate), and the
# VMM's device still does DMA through the IOAS it programmed.
nothing_touched() {
	local n

	[ "$(cat /sys/kernel/kexec_loaded)" = 0 ] ||
		khotest_fail "$1: an image is loaded"
	kho-tool upgrade --kernel "$target" --initrd "$initrd" --pid "$KHOTEST_PID" \
		--dry-run > /tmp/after.log 2>&1 ||
		{ cat /tmp/after.log; khotest_fail "$1: a dry run afterwards failed: state left behind"; }
	[ "$(cat /sys/kernel/kexec_loaded)" = 0 ] ||
		khotest_fail "$1: the dry run afterwards left an image"
	n=$(($(grep -c 'dma-check: ok:' /tmp/vmm.log) + 1))
	kill -USR1 "$KHOTEST_PID"
	khotest_wait 30 dma_checks "$n" ||
		{ cat /tmp/vmm.log; khotest_fail "$1: the VMM's DMA check did not pass afterwards"; }
}

case "$KHO_STAGE" in
1)
	khotest_start vmm env LD_PRELOAD="$KHOTEST_RECORDER" test-vmm serve --maps 16
	khotest_mark serving

	# The pre-flight says it, in text ...
	kho-tool upgrade --kernel "$target" --initrd "$initrd" --pid "$KHOTEST_PID" \
		--dry-run > /tmp/dry.txt 2>&1 ||
		{ cat /tmp/dry.txt; khotest_fail "dry run failed"; }
	cat /tmp/dry.txt
	grep -q "^upgrade: device $edu: no migration support: its state will be reset$" /tmp/dry.txt ||
		khotest_fail "the dry run did not name $edu as reset for lack of migration support"
	grep -q '^upgrade: preflight-devices .*1 devices: 0 carried, 1 reset (--require-device-state would refuse)' /tmp/dry.txt ||
		khotest_fail "no preflight-devices step in the dry run"
	# ... and in its JSON (the text line then goes to stderr).
	kho-tool upgrade --kernel "$target" --initrd "$initrd" --pid "$KHOTEST_PID" \
		--dry-run --json > /tmp/dry.json 2> /tmp/dry.err ||
		{ cat /tmp/dry.json /tmp/dry.err; khotest_fail "dry run --json failed"; }
	cat /tmp/dry.json
	grep -q "\"devices\":\[{\"id\":[0-9]*,\"bdf\":\"$edu\",\"driver\":\"vfio-pci\",\"migration\":\"none\",\"migration_flags\":0,\"state\":\"reset\",\"reason\":\"no migration support\"}\]" /tmp/dry.json ||
		khotest_fail "the JSON does not list $edu as migration none, state reset"
	grep -q '"result":"ok"' /tmp/dry.json || khotest_fail "dry run --json: result not ok"
	grep -q "^upgrade: device $edu: no migration support" /tmp/dry.err ||
		khotest_fail "with --json the device line is not on stderr"
	khotest_mark json-says-reset

	# inspect reads it back from a hand-off capture wrote.
	kho-tool capture --pid "$KHOTEST_PID" --out /tmp/h.dtb > /tmp/capture.log 2>&1 ||
		{ cat /tmp/capture.log; khotest_fail "capture --out failed"; }
	kho-tool inspect /tmp/h.dtb | tee /tmp/inspect.txt
	grep -Eq "^  device [0-9]+: $edu \[1234:11e8\] driver vfio-pci, attached to HWPT [0-9]+ .*, migration none: state reset$" /tmp/inspect.txt ||
		khotest_fail "inspect does not show $edu's migration support"
	kho-tool inspect --json /tmp/h.dtb > /tmp/inspect.json
	grep -q "\"pci\":\"$edu\".*\"migration\":\"none\",\"migration_flags\":0,\"state\":\"reset\"" /tmp/inspect.json ||
		{ cat /tmp/inspect.json; khotest_fail "inspect --json does not show $edu's migration support"; }
	khotest_mark inspect-shows

	# --require-device-state: refused at the pre-flight, by name.
	khotest_refused /tmp/req.out "upgrade --require-device-state" \
		kho-tool upgrade --kernel "$target" --initrd "$initrd" \
		--pid "$KHOTEST_PID" --require-device-state --json
	grep -q "kho-tool upgrade: preflight-devices: --require-device-state: 1 of 1 devices would be reset across the kexec: $edu (vfio-pci): no migration support; refused before anything was preserved or loaded" /tmp/req.out ||
		khotest_fail "the refusal does not name the step, $edu and the cause"
	grep -q '"error":{"step":"preflight-devices","errno":"EOPNOTSUPP"' /tmp/req.out ||
		khotest_fail "the JSON does not say preflight-devices EOPNOTSUPP"
	grep -q '"step":"preserve"\|"step":"load"' /tmp/req.out &&
		khotest_fail "the refused upgrade reached preserve or load"
	nothing_touched "after the refused upgrade"
	khotest_refused /tmp/rreq.out "rollback --require-device-state" \
		kho-tool rollback --kernel /boot/vmlinuz-vanilla --initrd "$initrd" \
		--pid "$KHOTEST_PID" --require-device-state
	grep -q "kho-tool rollback: preflight-devices: --require-device-state: 1 of 1 devices would be reset across the kexec: $edu (vfio-pci)" /tmp/rreq.out ||
		khotest_fail "the refused rollback does not name the step and $edu"
	nothing_touched "after the refused rollback"
	khotest_mark require-refused

	# Nothing was lost: a normal upgrade goes on.
	kho-tool upgrade --kernel "$target" --initrd "$initrd" \
		--append "khotest.stage=2" --pid "$KHOTEST_PID" --json
	khotest_fail "upgrade returned"
	;;
2)
	case "$(uname -r)" in *-kho-b) ;; *) khotest_fail "stage 2 runs $(uname -r), not the patched kernel" ;; esac
	khotest_start vmm env LD_PRELOAD="$KHOTEST_RECORDER" test-vmm restart --hold
	grep -q 'bytes intact' /tmp/vmm.log ||
		khotest_fail "the guest-RAM pattern did not survive"
	grep -q 'DMA check passed' /tmp/vmm.log ||
		khotest_fail "no DMA check after adoption"
	khotest_mark adopted
	khotest_stop vmm
	khotest_done
	;;
esac
