# SPDX-License-Identifier: GPL-2.0
# kho-tool's append fallback (tests/vm/100): stage 1 upgrades with an
# initrd made from this guest's root minus the agent and its hook, so
# kho-tool must append them (mode "appended"); stage 2 must find the
# appended agent, started by the rig's init from /etc/kho/init.d, serving,
# and the VMM adopts and passes its DMA check.
case "$KHO_STAGE" in
1)
	khotest_start vmm env LD_PRELOAD="$KHOTEST_RECORDER" test-vmm serve --maps 64
	khotest_mark serving
	mkdir -p /run/khotest
	(cd / && find . -xdev | grep -v -e '^\./usr/bin/restore-agent$' -e '^\./etc/kho' |
		cpio -o -H newc > /run/khotest/noagent.img 2>/dev/null)
	kho-tool upgrade --kernel /boot/vmlinuz-patched --initrd /run/khotest/noagent.img \
		--append "khotest.stage=2" --pid "$KHOTEST_PID" --json
	khotest_fail "upgrade returned"
	;;
2)
	[ ! -e /usr/bin/restore-agent ] || khotest_fail "stage 2: /usr/bin/restore-agent is in the initrd"
	[ -x /usr/lib/kho-tool/restore-agent ] || khotest_fail "stage 2: no appended /usr/lib/kho-tool/restore-agent"
	case "$(cat /run/kho-tool/agent.status 2>/dev/null)" in
	ready*) ;;
	*) khotest_fail "stage 2: the appended agent is not serving" ;;
	esac
	khotest_mark appended-agent-serving
	khotest_start vmm env LD_PRELOAD="$KHOTEST_RECORDER" test-vmm restart --hold
	grep -q 'DMA check passed' /tmp/vmm.log || khotest_fail "stage 2: no DMA check after adoption"
	khotest_mark adopted-stage2
	khotest_stop vmm
	khotest_done
	;;
esac
