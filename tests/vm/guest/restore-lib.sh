# SPDX-License-Identifier: GPL-2.0
# Helpers of the restore guests (guest/restore.sh, guest/faults.sh):
# stage the VMM's state before the kexec, wait on the agent's files, and
# adopt with the VMM's restart (guest RAM byte for byte, edu DMA through
# the restored IOAS).  Sourced from /test/restore-lib.sh.

run=/run/kho-tool
good=/var/lib/khotest/good.fdt
# The root file system is the one place that survives the kexec.
ramsum=/var/lib/khotest/ram.sha256

# stage_vmm [STAGE ARGS]: build the state and its hand-off with `test-vmm
# stage`, hold the session, and keep the guest RAM's SHA-256.
stage_vmm() {
	mkdir -p "${good%/*}"
	test-vmm stage --maps 8 --save-good "$good" "$@" >/tmp/stage.out 2>&1 &
	wait_for /tmp/stage.out '^test-vmm: ready' 60 ||
		khotest_fail "stage: $(cat /tmp/stage.out)"
	cat /tmp/stage.out
	# The guest RAM as the VMM leaves it, to compare after the kexec.
	for f in /proc/$!/fd/*; do
		case "$(readlink "$f")" in
		*memfd:test-vmm-ram*) sha256sum <"$f" | cut -d' ' -f1 >$ramsum ;;
		esac
	done
	[ -s $ramsum ] || khotest_fail "stage: no guest-RAM memfd in /proc/$!/fd"
	khotest_log "ram-before=$(cat $ramsum)"
	khotest_mark staged
}

# adopt [ARGS]: run the VMM's restart; its output is in /tmp/restart.out.
adopt() {
	test-vmm restart "$@" >/tmp/restart.out 2>&1
	local rc=$?

	sed 's/^/restart: /' /tmp/restart.out
	return $rc
}

# expect_vmm_adopted [ARGS]: the VMM adopts, its guest RAM is intact byte
# for byte and the edu DMA through the restored IOAS works.
expect_vmm_adopted() {
	adopt "$@" || khotest_fail "restart $*: the VMM did not adopt: $(cat /tmp/restart.out)"
	grep -q "test-vmm: adopted" /tmp/restart.out || khotest_fail "restart: no adoption line"
	grep -q "bytes intact" /tmp/restart.out ||
		khotest_fail "restart: guest RAM not checked intact"
	grep -q "DMA check passed" /tmp/restart.out || khotest_fail "restart: no DMA check"
	khotest_mark adopted
}

# expect_adopted [ARGS]: expect_vmm_adopted, and the agent then finishes
# the session.
expect_adopted() {
	expect_vmm_adopted "$@"
	wait_for $run/agent.status '^finished' 10 ||
		khotest_fail "agent did not finish the session after adoption: $(cat $run/agent.status)"
	khotest_mark finished
	khotest_log "timeline=$(cat $run/timeline.json)"
}

# expect_restart PATTERN [ARGS]: the agent holds the session, said PATTERN
# (ERE) in its status and log; a VMM is refused and told why; a restarted
# agent (ARGS: --retry, --handoff ...) takes the session over and restores.
expect_restart() {
	local pat=$1

	shift
	grep -Eq "^held .*$pat" $run/agent.status ||
		khotest_fail "agent status is '$(cat $run/agent.status)', expected held: $pat"
	grep -Eq "error: .*$pat" $run/restore.log ||
		khotest_fail "restore.log does not name the failure /$pat/"
	khotest_log "held=$(cat $run/agent.status)"
	khotest_mark held
	# A VMM (of the owner's uid, $adopt_as) is told why, and gets nothing.
	! adopt $adopt_as || khotest_fail "a VMM adopted from a failed restore"
	grep -q "refused" /tmp/restart.out || khotest_fail "the VMM was not told the restore failed"
	khotest_mark vmm-refused
	# The session is neither finished nor lost: a restart takes it over.
	restore-agent "$@" </dev/null &
	wait_for $run/agent.status '^ready' 60 ||
		khotest_fail "restart did not restore: $(cat $run/agent.status)"
	khotest_mark retried
}
