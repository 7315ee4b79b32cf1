# SPDX-License-Identifier: GPL-2.0
# The whole path: stage 1 (vanilla) runs the test VMM under the recorder and
# upgrades into the patched kernel; stage 2 lets the restore-agent restore,
# the VMM adopt and check DMA, then rolls back; stage 3 (vanilla again)
# adopts and checks once more.
initrd=$(khotest_initrd)

# adopt_and_serve: the restarted VMM adopts what the agent rebuilt, passes
# the DMA check on the memory preserved across the kexec, and keeps serving
# (under the recorder) so that the next upgrade can capture it.
adopt_and_serve() {
	khotest_start vmm env LD_PRELOAD="$KHOTEST_RECORDER" test-vmm restart
	grep -q 'dma-check: ok' /tmp/vmm.log || khotest_fail "stage $KHO_STAGE: no DMA check after adoption"
	khotest_mark "adopted-stage$KHO_STAGE"
}

case "$KHO_STAGE" in
1)
	khotest_start vmm env LD_PRELOAD="$KHOTEST_RECORDER" test-vmm serve --maps 64
	khotest_mark serving
	kho-tool upgrade --kernel /boot/vmlinuz-patched --initrd "$initrd" \
		--append "khotest.stage=2" --pid "$KHOTEST_PID" --json
	khotest_fail "upgrade returned"
	;;
2)
	case "$(uname -r)" in *-kho-b) ;; *) khotest_fail "stage 2 runs $(uname -r), not the patched kernel" ;; esac
	adopt_and_serve
	cat /run/kho-tool/previous-kernel 2>/dev/null || true
	kho-tool rollback --initrd "$initrd" --append "khotest.stage=3" \
		--pid "$KHOTEST_PID" --json
	khotest_fail "rollback returned"
	;;
3)
	case "$(uname -r)" in *-kho-a) ;; *) khotest_fail "stage 3 runs $(uname -r), not vanilla" ;; esac
	adopt_and_serve
	khotest_stop vmm
	khotest_done
	;;
esac
