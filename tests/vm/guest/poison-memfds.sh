# SPDX-License-Identifier: GPL-2.0
# Poisoned pages in two guest-RAM memfds across a real kexec (issue #15,
# docs/device-state.md), on the debug twins: vanilla-debug ->
# patched-debug -> rollback to vanilla-debug, the edu device passed
# through.
#
# The VMM runs as uid 1000 throughout (as 060's does: its launcher,
# this root shell, hands it the devices, then the adoption token through
# an inherited fd; its recorder serves from a run directory of its own).
# Stage 1: the test VMM's guest RAM is two memfds (serve --ram-memfds 2:
# test-vmm-ram, 1 MiB, and test-vmm-ram2, 256 KiB, each with its own
# pattern, both mapped into the IOAS), and each takes a memory failure at
# a different offset: 0x53000 of the first (a chunk mapped by file),
# 0x26000 of the second (a chunk mapped by VA), injected by root through
# /proc (test-vmm inject: MADV_HWPOISON needs root).  capture and inspect
# list both (token, offset, length) ranges; the upgrade carries both
# memfds.
# Stage 2: the agent cannot make the VMM's copy of the hand-off, which
# carries the poison list (a test hook, kho_agent.fail_at=handoff-copy:
# no real fault makes a memfd of a few KiB fail on demand); it refuses
# to serve, naming the copy, the step and the cause, and holds the
# session: a VMM is refused and told why, and `restore-agent --retry`
# serves it.  The adopted VMM poisons each page again in the mapping of
# its own memfd; a read of each takes SIGBUS BUS_MCEERR_AR, every other
# byte of both memfds holds its pattern, an edu DMA to each page's IOVA
# reaches no page: a VMM that is not root poisons them through
# UFFD_USER_MODE_ONLY.  The rollback (--userspace-journal: the patched
# kernel's journal still maps both pages) carries them on; stage 3 the
# same again.
initrd=$(khotest_initrd)
. /test/kexec.env	# target= and source=: the debug kernels' paths
run=/run/kho-tool
first=0x53000	# test-vmm-ram: chunk 5, mapped by file
second=0x26000	# test-vmm-ram2: chunk 2, mapped by VA
ram2_iova=0x4000000	# VMM_RAM2_IOVA
ram_bytes=1048576	# --maps 16 of 64 KiB
ram2_bytes=262144	# VMM_RAM2_CHUNKS of 64 KiB
uid=1000	# the VMM's
# Its recorder serves its journal here, and kho-tool is told so
# (KHO_RUN_DIR): /run/kho-tool is root's.
vmmrun=/run/kho-vmm-$uid

# check_user_vmm: the VMM runs as uid $uid.
check_user_vmm() {
	[ "$(stat -c %u /proc/$KHOTEST_PID)" = $uid ] ||
		khotest_fail "stage $KHO_STAGE: the VMM runs as uid $(stat -c %u /proc/$KHOTEST_PID), not $uid"
}

# token_of NAME FILE: the memfd token of the memfd NAME in inspect's text.
token_of() {
	sed -n "s/^  token \\([0-9]*\\): \"[^\"]*$1\".*/\\1/p" "$2"
}

# inspect_both FILE: FILE lists exactly the two ranges, each with the
# token of its own memfd, in the text and in --json.
inspect_both() {
	local file=$1 t1 t2

	kho-tool inspect "$file" > /tmp/inspect.txt ||
		{ cat /tmp/inspect.txt; khotest_fail "inspect $file failed"; }
	cat /tmp/inspect.txt
	t1=$(token_of test-vmm-ram /tmp/inspect.txt)
	t2=$(token_of test-vmm-ram2 /tmp/inspect.txt)
	[ -n "$t1" ] && [ -n "$t2" ] && [ "$t1" != "$t2" ] ||
		khotest_fail "$file: inspect does not list the two guest-RAM memfds ($t1, $t2)"
	grep -q "^poison: 2 ranges, unmapped and punched out of their memfds$" /tmp/inspect.txt ||
		khotest_fail "$file: inspect does not list 2 poisoned ranges"
	grep -q "^  memfd $t1: $first+0x1000 (1 pages)$" /tmp/inspect.txt ||
		khotest_fail "$file: inspect does not list $first of memfd $t1 (test-vmm-ram)"
	grep -q "^  memfd $t2: $second+0x1000 (1 pages)$" /tmp/inspect.txt ||
		khotest_fail "$file: inspect does not list $second of memfd $t2 (test-vmm-ram2)"
	kho-tool inspect --json "$file" > /tmp/inspect.json ||
		khotest_fail "inspect --json $file failed"
	for range in "$(printf 0x%x "$t1"),$first" "$(printf 0x%x "$t2"),$second"; do
		grep -q "{\"memfd_token\":\"${range%,*}\",\"offset\":\"${range#*,}\",\"length\":\"0x1000\"}" /tmp/inspect.json ||
			{ cat /tmp/inspect.json; khotest_fail "$file: inspect --json does not list memfd ${range%,*} ${range#*,}"; }
	done
}

# check_ram LOG NAME BYTES OFF IOVA: in the adopted VMM's LOG, the memfd
# of BYTES bytes (NAME) was poisoned again at OFF, whose read took SIGBUS
# BUS_MCEERR_AR, the rest of it intact, an edu DMA to IOVA reaching no page.
check_ram() {
	local log=$1 name=$2 bytes=$3 off=$4 iova=$5 t

	t=$(sed -n "s/^test-vmm: restart: memfd token \\([0-9]*\\): $bytes bytes intact around the poisoned range(s)$/\\1/p" "$log")
	[ -n "$t" ] ||
		khotest_fail "stage $KHO_STAGE: $name ($bytes bytes) is not intact around its poisoned page"
	grep -q "restart: poison: memfd token $t $off+0x1000 poisoned again in the VMM's mapping (UFFDIO_POISON)" "$log" ||
		khotest_fail "stage $KHO_STAGE: $name (memfd token $t): $off was not poisoned again"
	grep -q "restart: poison: read of memfd token $t offset $off: SIGBUS BUS_MCEERR_AR at the page" "$log" ||
		khotest_fail "stage $KHO_STAGE: $name (memfd token $t): a read of $off did not take SIGBUS BUS_MCEERR_AR"
	grep -q "restart: poison: edu DMA to and from IOVA $iova reached no page" "$log" ||
		khotest_fail "stage $KHO_STAGE: $name: an edu DMA to $iova reached a page"
	khotest_log "stage $KHO_STAGE: $name (memfd token $t): $off fails with BUS_MCEERR_AR, the other bytes intact"
}

# adopt: the agent left both ranges unmapped; the VMM, started as uid
# $uid by a launcher that hands it the token, adopts both memfds.
adopt() {
	cat "$run/restore.log" 2>/dev/null || true
	wait_for $run/agent.status '^ready' 60 ||
		khotest_fail "stage $KHO_STAGE: agent not ready: $(cat $run/agent.status)"
	grep -q "poison: 2 range(s) left unmapped by the replay" "$run/restore.log" ||
		khotest_fail "stage $KHO_STAGE: the agent does not say it left 2 ranges unmapped"
	[ "$(stat -c %u $run/agent.sock)" = $uid ] ||
		khotest_fail "stage $KHO_STAGE: agent.sock belongs to uid $(stat -c %u $run/agent.sock), not $uid"
	khotest_vmm_user $uid $vmmrun
	exec 3<$run/adopt.token
	khotest_start vmm test-vmm run-as $uid env LD_PRELOAD="$KHOTEST_RECORDER" \
		KHO_RUN_DIR=$vmmrun test-vmm restart --token-fd 3 --hold
	exec 3<&-
	check_user_vmm
	# The agent (the retry's, in stage 2) says who adopted, in its log.
	wait_for $run/agent.status '^finished' 30 ||
		khotest_fail "stage $KHO_STAGE: the agent did not finish: $(cat $run/agent.status)"
	grep "step adopt .*ok: pid $KHOTEST_PID uid $uid ran IOMMU_IOAS_CHANGE_PROCESS" $run/restore.log ||
		khotest_fail "stage $KHO_STAGE: the agent does not say uid $uid adopted"
	cat /tmp/vmm.log
	grep -q '^test-vmm: adopted iommufd, 1 device(s), 2 memfd(s)$' /tmp/vmm.log ||
		khotest_fail "stage $KHO_STAGE: the VMM did not adopt two memfds"
	check_ram /tmp/vmm.log test-vmm-ram "$ram_bytes" "$first" \
		"$(printf 0x%x $((0x100000 + first)))"
	check_ram /tmp/vmm.log test-vmm-ram2 "$ram2_bytes" "$second" \
		"$(printf 0x%x $((ram2_iova + second)))"
	grep -q 'DMA check passed' /tmp/vmm.log ||
		khotest_fail "stage $KHO_STAGE: no edu DMA check after the adoption"
	khotest_mark "adopted-stage$KHO_STAGE"
}

case "$KHO_STAGE" in
1)
	khotest_log "kernel=$(uname -r)"
	[ -e /proc/sys/vm/memory_failure_early_kill ] ||
		khotest_fail "$(uname -r) has no CONFIG_MEMORY_FAILURE: nothing can poison a page"
	khotest_vmm_user $uid $vmmrun
	chown $uid /dev/iommu /dev/vfio/devices/*
	khotest_start vmm test-vmm run-as $uid env LD_PRELOAD="$KHOTEST_RECORDER" \
		KHO_RUN_DIR=$vmmrun test-vmm serve --maps 16 --ram-memfds 2
	check_user_vmm
	grep -q "^test-vmm: setup: second guest-RAM memfd: $ram2_bytes bytes, 4 maps from IOVA $ram2_iova$" /tmp/vmm.log ||
		khotest_fail "the VMM did not map a second guest-RAM memfd"
	for page in "test-vmm-ram $first" "test-vmm-ram2 $second"; do
		set -- $page
		test-vmm inject "$KHOTEST_PID" "$1" "$2" > /tmp/inject.log 2>&1 ||
			{ cat /tmp/inject.log; khotest_fail "no memory failure on $1 at $2"; }
		cat /tmp/inject.log
		grep -q "^test-vmm: inject: pid $KHOTEST_PID's memfd $1 offset $2: memory failure injected" /tmp/inject.log ||
			khotest_fail "$1 did not take the memory failure at $2"
	done
	khotest_mark serving

	KHO_RUN_DIR=$vmmrun kho-tool capture --pid "$KHOTEST_PID" --out /tmp/h.dtb > /tmp/capture.log 2>&1 ||
		{ cat /tmp/capture.log; khotest_fail "capture --out failed"; }
	inspect_both /tmp/h.dtb
	khotest_mark inspect-shows-both

	KHO_RUN_DIR=$vmmrun kho-tool upgrade --kernel "$target" --initrd "$initrd" \
		--append "khotest.stage=2 kho_agent.uid=$uid kho_agent.fail_at=handoff-copy" \
		--pid "$KHOTEST_PID" --json
	khotest_fail "upgrade returned"
	;;
2)
	case "$(uname -r)" in *-kho-b-dbg) ;; *) khotest_fail "stage 2 runs $(uname -r), not patched-debug" ;; esac
	# No copy of the hand-off for the VMM: refused, held, said.
	refusal='adopt: hand-off copy for the VMM \(sealed memfd kho-tool-handoff, [0-9]+ bytes\): EIO \(injected: --fail-at handoff-copy\): it carries the 2 poisoned range\(s\) the VMM must poison again'
	wait_for $run/agent.status '^held' 60 ||
		khotest_fail "the agent without a hand-off copy is not held: $(cat $run/agent.status)"
	cat "$run/agent.status" "$run/restore.log"
	grep -Eq "^held $refusal" $run/agent.status ||
		khotest_fail "the held agent's status does not name the copy, the step and the cause"
	grep -Eq "$refusal" $run/restore.log ||
		khotest_fail "restore.log does not name the failed copy"
	grep -q "holding session '[^']*', 2 memfd(s) unfinished; retry with .restore-agent --retry." $run/restore.log ||
		khotest_fail "the agent does not hold both guest-RAM memfds for a retry"
	if test-vmm restart > /tmp/refused.log 2>&1; then
		cat /tmp/refused.log
		khotest_fail "a VMM adopted from an agent that could not hand it the poison list"
	fi
	cat /tmp/refused.log
	grep -Eq "refused.*$refusal" /tmp/refused.log ||
		khotest_fail "the VMM was not told why it was refused"
	khotest_mark copy-refused
	restore-agent --retry --uid $uid </dev/null > /tmp/retry.log 2>&1 &
	adopt
	KHO_RUN_DIR=$vmmrun kho-tool capture --pid "$KHOTEST_PID" --userspace-journal --out /tmp/h2.dtb \
		> /tmp/capture.log 2>&1 ||
		{ cat /tmp/capture.log; khotest_fail "capture after the adoption failed"; }
	inspect_both /tmp/h2.dtb
	# The rollback keeps this boot's command line: its fail_at=0 ends the hook.
	KHO_RUN_DIR=$vmmrun kho-tool rollback --kernel "$source" --initrd "$initrd" \
		--append "khotest.stage=3 kho_agent.uid=$uid kho_agent.fail_at=0" \
		--pid "$KHOTEST_PID" \
		--userspace-journal --json
	khotest_fail "rollback returned"
	;;
3)
	case "$(uname -r)" in *-kho-a-dbg) ;; *) khotest_fail "stage 3 runs $(uname -r), not vanilla-debug" ;; esac
	adopt
	khotest_stop vmm
	khotest_done
	;;
esac
