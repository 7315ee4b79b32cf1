# SPDX-License-Identifier: GPL-2.0
# An upgrade through a distro initrd (tests/distro, tests/vm/100): stage 1
# (vanilla, the rig's initrd) runs the test VMM under the recorder and
# upgrades into the patched kernel with /boot/initrd.img-distro, built by
# Debian's update-initramfs or dracut with kho-tool's package installed.
# That initrd is used as is: its own init starts the restore-agent; its
# test-only boot part then switches to the rig environment, where stage 2
# adopts, checks DMA and rolls back to vanilla through the rig's initrd
# (stage 3 adopts and checks once more).
case "$KHO_STAGE" in
1)
	khotest_start vmm env LD_PRELOAD="$KHOTEST_RECORDER" test-vmm serve --maps 64
	khotest_mark serving
	kho-tool upgrade --kernel /boot/vmlinuz-patched --initrd /boot/initrd.img-distro \
		--append "khotest.stage=2 $(cat /boot/distro.append)" \
		--pid "$KHOTEST_PID" --json
	khotest_fail "upgrade returned"
	;;
2)
	case "$(uname -r)" in *-kho-b) ;; *) khotest_fail "stage 2 runs $(uname -r), not the patched kernel" ;; esac
	run=/run/kho-tool
	echo "distro-upgrade: agent status '$(cat "$run/agent.status" 2>/dev/null)'"
	case "$(cat "$run/agent.status" 2>/dev/null)" in
	ready*) ;;
	*) khotest_fail "stage 2: the distro initrd's agent is not serving (status '$(cat "$run/agent.status" 2>/dev/null)')" ;;
	esac
	khotest_mark agent-serving-from-distro-initrd
	khotest_start vmm env LD_PRELOAD="$KHOTEST_RECORDER" test-vmm restart --hold
	grep -q 'bytes intact' /tmp/vmm.log ||
		khotest_fail "stage 2: the guest-RAM pattern did not survive"
	grep -q 'DMA check passed' /tmp/vmm.log ||
		khotest_fail "stage 2: no DMA check after adoption"
	cat "$run/restore.log" 2>/dev/null || true
	khotest_log "verified_s2=$(sed -n 's/.*step verify .*ok: //p' "$run/restore.log" | tail -n 1)"
	# The agent adopted after the initrd had switched root: what it wrote
	# then must be here, in the /run the system sees, and its socket gone.
	finished() { [ "$(cat "$run/agent.status" 2>/dev/null)" = finished ]; }
	khotest_wait 30 finished ||
		khotest_fail "stage 2: agent.status is '$(cat "$run/agent.status" 2>/dev/null)' after the adoption, not 'finished'"
	grep -q '"result":"adopted"' "$run/timeline.json" ||
		khotest_fail "stage 2: timeline.json does not record the adoption"
	grep -q "adopted; session 'kho-tool' finished" "$run/restore.log" ||
		khotest_fail "stage 2: restore.log lacks the lines written after the switch"
	[ ! -e "$run/agent.sock" ] ||
		khotest_fail "stage 2: the agent left $run/agent.sock behind"
	khotest_mark agent-files-after-switch
	khotest_mark adopted-stage2
	kho-tool rollback --initrd "$(khotest_initrd)" --append "khotest.stage=3" \
		--pid "$KHOTEST_PID" --userspace-journal --json
	khotest_fail "rollback returned"
	;;
3)
	case "$(uname -r)" in *-kho-a) ;; *) khotest_fail "stage 3 runs $(uname -r), not vanilla" ;; esac
	khotest_start vmm env LD_PRELOAD="$KHOTEST_RECORDER" test-vmm restart --hold
	grep -q 'DMA check passed' /tmp/vmm.log ||
		khotest_fail "stage 3: no DMA check after adoption"
	khotest_mark adopted-stage3
	khotest_stop vmm
	khotest_done
	;;
esac
