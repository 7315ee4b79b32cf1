# SPDX-License-Identifier: GPL-2.0
# `make demo` in the guest: stage 1 (vanilla) serves a VMM under the
# recorder and upgrades into the patched kernel; stage 2 lets the VMM adopt
# what the restore-agent rebuilt and checks DMA on the preserved memory.
# The JSON lines (kho-tool's and the agent's timelines) are for demo.sh.
case "$KHO_STAGE" in
1)
	khotest_start vmm env LD_PRELOAD="$KHOTEST_RECORDER" test-vmm serve --maps 64 --churn 1000
	khotest_mark serving
	kho-tool upgrade --kernel /boot/vmlinuz-patched --initrd "$(khotest_initrd)" \
		--append "khotest.stage=2" --pid "$KHOTEST_PID" --json
	khotest_fail "upgrade returned"
	;;
2)
	khotest_start vmm env LD_PRELOAD="$KHOTEST_RECORDER" test-vmm restart --hold
	grep -q 'DMA check passed' /tmp/vmm.log || khotest_fail "no DMA check after adoption"
	khotest_mark adopted
	echo "agent-timeline: $(cat /run/kho-tool/timeline.json)"
	echo "agent-verify: $(sed -n 's/.*step verify .*ok: //p' /run/kho-tool/restore.log | tail -n 1)"
	khotest_stop vmm
	khotest_done
	;;
esac
