# SPDX-License-Identifier: GPL-2.0
# Restore after kexec, and its failure paths (tests/vm/070-restore.bats).
# The case comes from the command line: khotest.restore=ok|corrupt|
# fail-at|uid|nodev|allowed|salvage.  Stage 1 builds the state and the hand-off with
# `test-vmm stage` and kexecs; stage 2 finds the agent started by the
# initramfs hook, and checks what it did, what a VMM gets, and, after a
# failure, that a retry restores the intact state.

mode=ok
for word in $(cat /proc/cmdline); do
	case "$word" in
	khotest.restore=*) mode=${word#*=} ;;
	esac
done
run=/run/kho-tool
good=/var/lib/khotest/good.fdt
# The root file system is the one place that survives the kexec.
ramsum=/var/lib/khotest/ram.sha256
salvage=/var/lib/khotest/salvage

# wait_for FILE PATTERN SECONDS: until FILE matches PATTERN (ERE).
wait_for() {
	local i=0

	while [ "$i" -lt $(($3 * 10)) ]; do
		grep -Eq "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

# adopt [ARGS]: run the VMM's restart; its output is in /tmp/restart.out.
adopt() {
	test-vmm restart "$@" >/tmp/restart.out 2>&1
	local rc=$?

	sed 's/^/restart: /' /tmp/restart.out
	return $rc
}

expect_adopted() {
	adopt "$@" || khotest_fail "restart $*: the VMM did not adopt: $(cat /tmp/restart.out)"
	grep -q "test-vmm: adopted" /tmp/restart.out || khotest_fail "restart: no adoption line"
	grep -q "bytes intact" /tmp/restart.out ||
		khotest_fail "restart: guest RAM not checked intact"
	grep -q "DMA check passed" /tmp/restart.out || khotest_fail "restart: no DMA check"
	khotest_mark adopted
	wait_for $run/agent.status '^finished' 10 ||
		khotest_fail "agent did not finish the session after adoption: $(cat $run/agent.status)"
	khotest_mark finished
	khotest_log "timeline=$(cat $run/timeline.json)"
}

# expect_held PATTERN [RETRY ARGS]: the agent failed, said PATTERN (ERE),
# and holds the state; a retry with RETRY ARGS takes it over.
expect_held() {
	local pat=$1

	shift
	grep -Eq "^held .*$pat" $run/agent.status ||
		khotest_fail "agent status is '$(cat $run/agent.status)', expected held: $pat"
	grep -Eq "error: .*$pat" $run/restore.log ||
		khotest_fail "restore.log does not name the failure /$pat/"
	khotest_log "held=$(cat $run/agent.status)"
	khotest_mark held
	# A VMM is told why, and gets nothing.
	! adopt || khotest_fail "a VMM adopted from a failed restore"
	grep -q "refused" /tmp/restart.out || khotest_fail "the VMM was not told the restore failed"
	khotest_mark vmm-refused
	# The session is neither finished nor lost: a retry takes it over.
	restore-agent "$@" </dev/null &
	wait_for $run/agent.status '^ready' 60 ||
		khotest_fail "retry did not restore: $(cat $run/agent.status)"
	khotest_mark retried
}

if [ "$KHO_STAGE" = 1 ]; then
	sargs=
	extra=
	case "$mode" in
	ok|uid) ;;
	corrupt) sargs=--corrupt ;;
	nodev) sargs="--fake-bdf 0000:00:1f.7" ;;
	fail-at) extra=kho_agent.fail_at=5 ;;
	allowed) sargs=--allowed ;;
	salvage) sargs=--allowed-differs ;;
	*) khotest_fail "unknown khotest.restore=$mode" ;;
	esac
	[ "$mode" = uid ] && extra=kho_agent.uid=1000
	mkdir -p "${good%/*}"
	test-vmm stage --maps 8 --save-good "$good" $sargs >/tmp/stage.out 2>&1 &
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
	khotest_kexec vanilla khotest.restore=$mode $extra
fi

cat $run/restore.log
status=$(cat $run/agent.status)
case "$mode" in
ok)
	case "$status" in ready*) ;; *) khotest_fail "agent not ready: $status" ;; esac
	grep -q "step verify .* ok" $run/restore.log || khotest_fail "no verify step"
	khotest_mark agent-ready
	expect_adopted
	;;
uid)
	case "$status" in ready*) ;; *) khotest_fail "agent not ready: $status" ;; esac
	khotest_mark agent-ready
	! adopt || khotest_fail "root adopted although the owner is uid 1000"
	grep -q "uid 0 is not the owner uid 1000" /tmp/restart.out ||
		khotest_fail "root was not refused by peer credentials"
	khotest_mark refused-root
	! adopt --as-uid 2000 || khotest_fail "uid 2000 adopted"
	khotest_mark refused-2000
	grep -q "refused pid .* uid 0 is not the owner uid 1000" $run/restore.log ||
		khotest_fail "the agent did not log the refusal"
	expect_adopted --as-uid 1000
	;;
corrupt)
	expect_held "decode: " --retry --handoff "$good"
	;;
fail-at)
	# A plain second run (no --retry) finds the held session by itself.
	expect_held "map 0x[0-9a-f]+\+0x10000 from memfd token [0-9]+ offset 0x[0-9a-f]+: EIO \(injected failure at step 5\)"
	;;
nodev)
	expect_held "device 0000:00:1f.7: not present" --retry --handoff "$good"
	;;
allowed)
	case "$status" in ready*) ;; *) khotest_fail "agent not ready: $status" ;; esac
	grep -q "step verify .* ok: .*allow lists probed on 3 IOAS" $run/restore.log ||
		khotest_fail "verify did not probe the allow lists of 3 IOASes"
	khotest_mark agent-ready
	expect_adopted
	;;
salvage)
	# Verify fails on purpose: the plan lost an allowed range.
	pat="verify: IOAS [0-9]+ \(now [0-9]+\): allowed ranges: a one-page automatic map failed with ENOSPC, the recorded allowed ranges put it at 0x44000"
	grep -Eq "^held $pat" $run/agent.status ||
		khotest_fail "agent status is '$(cat $run/agent.status)', expected held: $pat"
	khotest_mark held
	! adopt || khotest_fail "a VMM adopted from a failed verify"
	khotest_mark vmm-refused
	kho-tool salvage $salvage >/tmp/salvage.out 2>&1 ||
		khotest_fail "kho-tool salvage: $(cat /tmp/salvage.out)"
	cat /tmp/salvage.out
	cat $salvage/manifest
	file=$(awk '$3 == "test-vmm-ram" { print $4 }' $salvage/manifest)
	[ -n "$file" ] || khotest_fail "the manifest does not list test-vmm-ram"
	after=$(sha256sum <"$salvage/$file" | cut -d' ' -f1)
	khotest_log "ram-after=$after"
	[ "$after" = "$(cat $ramsum)" ] ||
		khotest_fail "salvaged RAM $after differs from the RAM before kexec $(cat $ramsum)"
	khotest_mark salvaged
	# The session is still held, by the salvaging agent now.
	grep -q "^held salvage: guest RAM saved to $salvage" $run/agent.status ||
		khotest_fail "after salvage the status is '$(cat $run/agent.status)'"
	! adopt || khotest_fail "a VMM adopted after the salvage"
	grep -q "guest RAM saved to" /tmp/restart.out ||
		khotest_fail "the VMM was not told the RAM was salvaged: $(cat /tmp/restart.out)"
	khotest_mark still-held
	;;
esac
# After a failure, the retried restore must give the VMM the same RAM.
case "$mode" in
corrupt|nodev|fail-at) expect_adopted ;;
esac
khotest_done
