# SPDX-License-Identifier: GPL-2.0
# Restore after kexec, and its failure paths (tests/vm/070-restore.bats).
# The case comes from the command line: khotest.restore=ok|corrupt|
# fail-at|uid|uid-retry|nodev|allowed|salvage.  Stage 1 builds the state and the hand-off with
# `test-vmm stage` and kexecs; stage 2 finds the agent started by the
# initramfs hook, and checks what it did, what a VMM gets, and, after a
# failure, that a retry restores the intact state.

. /test/restore-lib.sh

mode=$(khotest_cmdline_value khotest.restore ok)
salvage=/var/lib/khotest/salvage

if [ "$KHO_STAGE" = 1 ]; then
	sargs=
	extra=
	case "$mode" in
	ok|uid) ;;
	uid-retry) extra="kho_agent.uid=1000 kho_agent.fail_at=5" ;;
	corrupt) sargs=--corrupt ;;
	nodev) sargs="--fake-bdf 0000:00:1f.7" ;;
	fail-at) extra=kho_agent.fail_at=5 ;;
	allowed) sargs=--allowed ;;
	salvage) sargs=--allowed-differs ;;
	*) khotest_fail "unknown khotest.restore=$mode" ;;
	esac
	[ "$mode" = uid ] && extra=kho_agent.uid=1000
	stage_vmm $sargs
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
	# The owner's uid without the token (a stranger of the same user),
	# then with a wrong one: refused by name, and nothing adopted.
	! adopt --as-uid 1000 --no-token || khotest_fail "uid 1000 adopted without the token"
	grep -q "the agent refused: adopt: refused pid [0-9]* uid 1000: no adoption token" /tmp/restart.out ||
		khotest_fail "the VMM without the token was not told why"
	printf '%064d\n' 7 >/tmp/wrong.token
	! adopt --as-uid 1000 --token-file /tmp/wrong.token ||
		khotest_fail "uid 1000 adopted with a wrong token"
	grep -q "wrong adoption token" /tmp/restart.out ||
		khotest_fail "the VMM with a wrong token was not told why"
	grep -q "ready" $run/agent.status ||
		khotest_fail "the agent stopped serving after the impostors: $(cat $run/agent.status)"
	# The token is root's: a process of the owner's uid cannot read it.
	[ "$(stat -c '%u %a' $run/adopt.token)" = "0 600" ] ||
		khotest_fail "adopt.token is $(stat -c '%u %a' $run/adopt.token), not root's 0600"
	khotest_mark refused-impostor
	# The launcher (root) reads the token and starts the VMM as 1000.
	expect_adopted --as-uid 1000
	[ ! -e $run/adopt.token ] || khotest_fail "the spent token is still in $run"
	;;
uid-retry)
	# Held for a retry, the socket stays the owner's: the VMM is told
	# why, not refused at connect.
	[ "$(stat -c %u $run/agent.sock)" = 1000 ] ||
		khotest_fail "the held agent's socket belongs to uid $(stat -c %u $run/agent.sock), not 1000"
	adopt_as="--as-uid 1000"
	expect_restart "map 0x[0-9a-f]+\+0x10000 from memfd token [0-9]+ offset 0x[0-9a-f]+: EIO \(injected failure at step 5\)" \
		--retry --uid 1000
	[ "$(stat -c %u $run/agent.sock)" = 1000 ] ||
		khotest_fail "the retry's socket belongs to uid $(stat -c %u $run/agent.sock), not 1000"
	khotest_mark socket-owned
	expect_adopted --as-uid 1000
	;;
corrupt)
	expect_restart "decode: " --retry --handoff "$good"
	;;
fail-at)
	# A plain second run (no --retry) finds the held session by itself.
	expect_restart "map 0x[0-9a-f]+\+0x10000 from memfd token [0-9]+ offset 0x[0-9a-f]+: EIO \(injected failure at step 5\)"
	;;
nodev)
	expect_restart "device 0000:00:1f.7: not present" --retry --handoff "$good"
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
