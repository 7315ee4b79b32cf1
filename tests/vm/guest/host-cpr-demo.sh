# SPDX-License-Identifier: GPL-2.0
# `make demo-qemu` (tests/vm/demo-qemu.sh): an unmodified QEMU 11.1 guest
# (L2) crosses a kexec of its host (L1, the sid host image).  Stage 1
# (vanilla): QEMU a runs the L2 payload; `kho-tool upgrade --json
# --qemu-qmp a` kexecs into the patched kernel.  Stage 2: the
# restore-agent, a new QEMU with -incoming, `cpr-relay --restore`; the
# guest goes on.  Both QEMUs' serials are on the L1 console as they come,
# so the host's clock on the serial line times the blackout.

. /test/host-l2.sh

case "$KHO_STAGE" in
1)
	make_initrd
	l2_start a
	l2_console a
	wait_for "$W/a.log" '^hb 3 ' 300 || { dump; khotest_fail "the L2 guest never reached hb 3"; }
	khotest_mark l2-running
	kexec_with upgrade /test/vmlinuz-patched 2 --json a
	;;
2)
	start_agent
	l2_start a2 incoming
	l2_console a2
	restore_one a a2
	agent_status finished
	echo "agent-timeline: $(cat /run/kho-tool/timeline.json 2>/dev/null)" > /dev/console
	continues a2 a
	khotest_mark l2-continued
	khotest_done
	;;
esac
