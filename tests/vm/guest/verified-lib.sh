# SPDX-License-Identifier: GPL-2.0
# Helpers of the verified-*.sh guest scripts (tests/vm/090-verified-upgrade.bats),
# sourced by them after lib.sh.
run=/run/kho-tool

# probe_map PID: SIGUSR2 makes test-vmm serve map and unmap one chunk;
# prints its answer ("ok", or the errno name).
probe_map() {
	local n i=0

	n=$(grep -c 'probe-map:' /tmp/vmm.log)
	kill -USR2 "$1"
	while [ "$(grep -c 'probe-map:' /tmp/vmm.log)" -le "$n" ]; do
		[ "$i" -lt 100 ] || khotest_fail "VMM $1 did not answer the probe map"
		i=$((i + 1))
		usleep 100000
	done
	grep 'probe-map:' /tmp/vmm.log | tail -n 1 | sed 's/.*: //'
}

# no_session_left: nothing loaded, and a new session "kho-tool" can be
# made (EEXIST or EBUSY otherwise): a dry run without a VMM succeeds.
no_session_left() {
	[ "$(cat /sys/kernel/kexec_loaded)" = 0 ] ||
		khotest_fail "$1: an image is loaded"
	kho-tool upgrade --kernel /boot/vmlinuz-patched --initrd "$(khotest_initrd)" \
		--dry-run > /tmp/nosession.log 2>&1 ||
		{ cat /tmp/nosession.log; khotest_fail "$1: a session or /dev/liveupdate was left behind"; }
	[ "$(cat /sys/kernel/kexec_loaded)" = 0 ] ||
		khotest_fail "$1: the check's dry run left an image"
}

# adopt_after_restore: the agent is ready; the VMM adopts, the guest RAM
# survived, the edu DMA check passes on it, the agent finishes the session.
adopt_after_restore() {
	cat $run/restore.log
	wait_for $run/agent.status '^ready' 60 ||
		khotest_fail "agent not ready: $(cat $run/agent.status)"
	test-vmm restart > /tmp/restart.out 2>&1 ||
		{ cat /tmp/restart.out; khotest_fail "the VMM did not adopt"; }
	sed 's/^/restart: /' /tmp/restart.out
	grep -q 'bytes intact' /tmp/restart.out ||
		khotest_fail "guest RAM not intact after the restore"
	grep -q 'DMA check passed' /tmp/restart.out ||
		khotest_fail "no edu DMA check after the adoption"
	wait_for $run/agent.status '^finished' 10 ||
		khotest_fail "agent did not finish the session: $(cat $run/agent.status)"
	cat $run/restore.log
}
