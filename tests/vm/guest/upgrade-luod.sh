# SPDX-License-Identifier: GPL-2.0
# luod owns /dev/liveupdate (tests/luod/luod-standin.c plays it): kho-tool
# is its client.  Stage 1 (vanilla): the VMM serves under the recorder;
# `kho-tool upgrade` takes its session from luod (START_PRESERVATION),
# preserves into it, loads patched and says READY, and luod kexecs.
# Stage 2 (patched; kho_agent=off, so the initramfs hook leaves the
# restore to this script, after luod is up, as a unit ordering would):
# the restore-agent CLAIMs the session from luod, the VMM adopts with its
# RAM and DMA checked, and the agent FINISHes it with luod.
initrd=$(khotest_initrd)
run=/run/kho-tool

case "$KHO_STAGE" in
1)
	khotest_start luod luod-standin
	luod=$KHOTEST_PID
	# luod holds the device: the direct path is closed to kho-tool.
	khotest_refused /tmp/dry.out "dry run on the luod path" \
		kho-tool upgrade --kernel /boot/vmlinuz-patched --initrd "$initrd" --dry-run
	grep -q "preflight-running: --dry-run on the luod path" /tmp/dry.out ||
		khotest_fail "the dry run was not refused for the luod path"
	khotest_start vmm env LD_PRELOAD="$KHOTEST_RECORDER" test-vmm serve --maps 16
	khotest_mark serving
	kho-tool upgrade --kernel /boot/vmlinuz-patched --initrd "$initrd" \
		--append "khotest.stage=2 kho_agent=off" --pid "$KHOTEST_PID" --json
	khotest_fail "upgrade returned (luod pid $luod)"
	;;
2)
	case "$(uname -r)" in *-kho-b) ;; *) khotest_fail "stage 2 runs $(uname -r), not the patched kernel" ;; esac
	[ ! -e $run/agent.status ] || khotest_fail "the initramfs hook ran an agent despite kho_agent=off"
	khotest_start luod luod-standin
	restore-agent </dev/null >/tmp/agent.out 2>&1 &
	wait_for $run/agent.status '^ready' 60 ||
		{ cat /tmp/agent.out; khotest_fail "the agent did not restore from luod's session: $(cat $run/agent.status 2>/dev/null)"; }
	grep -q "step session .* ok: kho-tool from luod (CLAIM)" $run/restore.log ||
		{ cat $run/restore.log; khotest_fail "the agent did not take its session from luod"; }
	test-vmm restart >/tmp/restart.out 2>&1 ||
		{ cat /tmp/restart.out; khotest_fail "the VMM did not adopt"; }
	cat /tmp/restart.out
	grep -q "bytes intact" /tmp/restart.out || khotest_fail "guest RAM not intact"
	grep -q "DMA check passed" /tmp/restart.out || khotest_fail "no DMA check"
	wait_for $run/agent.status '^finished' 10 ||
		khotest_fail "the agent did not finish: $(cat $run/agent.status)"
	grep -q "session 'kho-tool' finished: luod told (FINISH)" $run/restore.log ||
		{ cat $run/restore.log; khotest_fail "luod was not told the session finished"; }
	cat $run/restore.log
	khotest_mark adopted-from-luod
	khotest_stop luod
	khotest_done
	;;
esac
