# SPDX-License-Identifier: GPL-2.0
# Poisoned guest pages across a real kexec (issue #15, docs/device-state.md
# "Poisoned pages stay poisoned"), on the debug twins, which have
# CONFIG_MEMORY_FAILURE and CONFIG_USERFAULTFD: vanilla-debug ->
# patched-debug -> rollback to vanilla-debug, the edu device passed through.
#
# Stage 1: the VMM's guest RAM takes memory failures at 0x53000 and at
# 0x108000, a page of the chunk no IOAS maps (MADV_HWPOISON, the
# injector).  capture and inspect show the poison list (format 6); a dry
# run punches the pages out and poisons them again, so nothing is lost;
# so do two upgrades that fail after the punch (KHO_TOOL_TEST_FAIL_AT:
# the last memfd's PRESERVE_FD, then kexec_file_load): each names its
# step and cause, continues the VMM, whose own read of each page takes
# SIGBUS BUS_MCEERR_AR again, the rest of its RAM intact.  The retried
# upgrade carries both: the guest-RAM mapping is cut around the first
# (the second needs no cut), the pages punched out before LUO preserves
# the memfd.
# Stage 2: the agent's replay leaves IOVA 0x153000 unmapped (verify
# probes the hole only on vanilla-debug: patched-debug journals the
# probe); the adopted VMM poisons the pages again (UFFDIO_POISON)
# and a read of each takes SIGBUS BUS_MCEERR_AR, the pages around them
# hold their pattern, an edu DMA to and from their IOVAs reaches no page.
# A new failure at 0xa7000; a rollback that would preserve the
# kernel-journalled iommufd is refused by name with nothing touched (that
# journal still maps the new page), then the rollback with
# --userspace-journal carries all three.  Stage 3: the three pages fail
# again, the rest is intact.
initrd=$(khotest_initrd)
. /test/kexec.env	# target= and source=: the debug kernels' paths
run=/run/kho-tool
first=0x53000	# guest-RAM offsets: chunk 5 and chunk 10 of test-vmm
second=0xa7000
unmapped=0x108000	# chunk 16: guest RAM that no IOAS maps (--maps 16)

# inspect_poison FILE N RANGE...: the hand-off FILE is format 6 and lists
# exactly the ranges RANGE (memfd offsets of one page each).
inspect_poison() {
	local file=$1 n=$2 off

	shift 2
	kho-tool inspect "$file" > /tmp/inspect.txt ||
		{ cat /tmp/inspect.txt; khotest_fail "inspect $file failed"; }
	cat /tmp/inspect.txt
	grep -q "^  format-version 6, min-reader-version 6$" /tmp/inspect.txt ||
		khotest_fail "$file: a hand-off with poison is not format 6"
	grep -q "^poison: $n ranges, unmapped and punched out of their memfds$" /tmp/inspect.txt ||
		khotest_fail "$file: inspect does not list $n poisoned ranges"
	for off in "$@"; do
		grep -q "^  memfd [0-9]*: $off+0x1000 (1 pages)$" /tmp/inspect.txt ||
			khotest_fail "$file: inspect does not list $off"
	done
	kho-tool inspect --json "$file" > /tmp/inspect.json ||
		khotest_fail "inspect --json $file failed"
	grep -q "\"poison\":\[{\"memfd_token\":\"0x[0-9a-f]*\",\"offset\":\"$1\",\"length\":\"0x1000\"}" /tmp/inspect.json ||
		{ cat /tmp/inspect.json; khotest_fail "$file: inspect --json does not list $1"; }
}

# adopt: the agent verified the holes; the VMM poisons each page again and
# proves it: SIGBUS BUS_MCEERR_AR, the rest intact, DMA reaching nothing.
adopt() {
	local n=$1 off

	shift
	cat "$run/restore.log" 2>/dev/null || true
	# patched-debug journals every iommufd: a probe would land in that
	# journal, so verify leaves the holes to construction there (as it
	# does the allow lists); vanilla-debug probes them.
	case "$(uname -r)" in
	*-kho-b-dbg) holes='0' ;;
	*) holes='[1-9][0-9]*' ;;
	esac
	grep -Eq "step verify .*ok: .* $holes poison hole\\(s\\) probed empty" "$run/restore.log" ||
		khotest_fail "stage $KHO_STAGE: verify did not probe the poisoned holes as this kernel should ($holes)"
	grep -q "poison: $n range(s) left unmapped by the replay" "$run/restore.log" ||
		khotest_fail "stage $KHO_STAGE: the agent does not say it left $n range(s) unmapped"
	khotest_start vmm env LD_PRELOAD="$KHOTEST_RECORDER" \
		test-vmm restart --hold ${POISON_NEXT:+--poison-offset "$POISON_NEXT"}
	cat /tmp/vmm.log
	grep -q 'bytes intact around the poisoned range(s)' /tmp/vmm.log ||
		khotest_fail "stage $KHO_STAGE: the guest RAM around the poison did not survive"
	for off in "$@"; do
		grep -q "restart: poison: memfd token [0-9]* $off+0x1000 poisoned again in the VMM's mapping (UFFDIO_POISON)" /tmp/vmm.log ||
			khotest_fail "stage $KHO_STAGE: $off was not poisoned again"
		grep -q "restart: poison: read of memfd token [0-9]* offset $off: SIGBUS BUS_MCEERR_AR at the page" /tmp/vmm.log ||
			khotest_fail "stage $KHO_STAGE: a read of $off did not take SIGBUS BUS_MCEERR_AR"
		grep -q "restart: poison: edu DMA to and from IOVA $(printf 0x%x $((0x100000 + off))) reached no page" /tmp/vmm.log ||
			khotest_fail "stage $KHO_STAGE: an edu DMA at $off's IOVA reached a page"
	done
	grep -q 'DMA check passed' /tmp/vmm.log ||
		khotest_fail "stage $KHO_STAGE: no edu DMA check after the adoption"
	khotest_mark "adopted-stage$KHO_STAGE"
}

# stopped_and_continued LOG WHO PID: LOG, an upgrade's output, says WHO
# (an ERE: "VMM N", or another process holding the guest RAM) was
# stopped before the punch and continued after it, and PID runs again.
stopped_and_continued() {
	grep -Eq "^upgrade: poison: $2 (holds memfd token [0-9]+ too: |opened memfd token [0-9]+ after the punch: )?stopped until the kexec" "$1" ||
		{ cat "$1"; khotest_fail "$1: $2 was not stopped before the punch"; }
	grep -Eq "^upgrade: poison: $2 continued\$" "$1" ||
		{ cat "$1"; khotest_fail "$1: $2 was not continued after the pages were poisoned again"; }
	grep -q '^State:[[:space:]]*[RS]' "/proc/$3/status" ||
		khotest_fail "$2 is not running after $1: $(grep '^State:' "/proc/$3/status")"
}

# failed_upgrade STEP MESSAGE [LINE]: an upgrade with STEP failing
# (KHO_TOOL_TEST_FAIL_AT) after the punch fails with MESSAGE (an ERE of
# the end of its error line) and prints LINE; the VMM is continued, its
# own read of each poisoned page takes SIGBUS BUS_MCEERR_AR again, the
# rest of its guest RAM holds its pattern; no image stays loaded.
failed_upgrade() {
	local step=$1 msg=$2 line=${3:-} seen off

	if KHO_TOOL_TEST_FAIL_AT=$step kho-tool upgrade --kernel "$target" \
		--initrd "$initrd" --pid "$KHOTEST_PID" > "/tmp/fail-$step.txt" 2>&1; then
		cat "/tmp/fail-$step.txt"
		khotest_fail "an upgrade whose $step failed succeeded"
	fi
	cat "/tmp/fail-$step.txt"
	grep -Eq "^kho-tool upgrade: $msg" "/tmp/fail-$step.txt" ||
		khotest_fail "the failed $step does not name its step, object and cause"
	[ -z "$line" ] || grep -q "$line" "/tmp/fail-$step.txt" ||
		khotest_fail "the failed $step did not say: $line"
	stopped_and_continued "/tmp/fail-$step.txt" "VMM $KHOTEST_PID" "$KHOTEST_PID"
	stopped_and_continued "/tmp/fail-$step.txt" "process $sharer \(sleep\)" "$sharer"
	[ "$(cat /sys/kernel/kexec_loaded)" = 0 ] ||
		khotest_fail "the failed $step left an image loaded"
	seen=$(grep -c 'serve: guest RAM: [0-9]* bytes intact around the poisoned range(s)' /tmp/vmm.log || true)
	kill -USR1 "$KHOTEST_PID"
	checked() { [ "$(grep -c 'serve: guest RAM: [0-9]* bytes intact around the poisoned range(s)' /tmp/vmm.log)" -gt "$seen" ]; }
	khotest_wait 30 checked ||
		{ cat /tmp/vmm.log; khotest_fail "after the failed $step the VMM's guest RAM is not as before"; }
	grep 'test-vmm: serve: ' /tmp/vmm.log | tail -n 3
	for off in "$first" "$unmapped"; do
		[ "$(grep -c "serve: poison: read of guest RAM offset $off: SIGBUS BUS_MCEERR_AR at the page" /tmp/vmm.log)" -gt "$seen" ] ||
			{ cat /tmp/vmm.log; khotest_fail "after the failed $step a read of $off did not take SIGBUS BUS_MCEERR_AR"; }
	done
	khotest_log "failed $step: the VMM runs, its poisoned pages fail again, the rest is intact"
}

case "$KHO_STAGE" in
1)
	khotest_log "kernel=$(uname -r)"
	[ -e /proc/sys/vm/memory_failure_early_kill ] ||
		khotest_fail "$(uname -r) has no CONFIG_MEMORY_FAILURE: nothing can poison a page"
	khotest_start vmm env LD_PRELOAD="$KHOTEST_RECORDER" \
		test-vmm serve --maps 16 --unmapped-chunks 1 \
		--poison-offset "$first" --poison-offset "$unmapped"
	for off in "$first" "$unmapped"; do
		grep -q "guest RAM offset $off: memory failure injected" /tmp/vmm.log ||
			khotest_fail "the VMM's guest RAM did not take the memory failure at $off"
	done
	khotest_mark serving

	# Another process holds the guest-RAM memfd (as a vhost-user backend
	# would): it could read a punched page's zeroes, so it is stopped
	# with the VMM and continued with it.
	ramfd=$(ls -l "/proc/$KHOTEST_PID/fd" | sed -n 's/.* \([0-9]*\) -> \/memfd:test-vmm-ram .*/\1/p' | head -n 1)
	[ -n "$ramfd" ] || { ls -l "/proc/$KHOTEST_PID/fd"; khotest_fail "no guest-RAM memfd among the VMM's fds"; }
	sh -c "exec 7< /proc/$KHOTEST_PID/fd/$ramfd; exec sleep 100000" &
	sharer=$!
	khotest_wait 10 eval '[ -e /proc/$sharer/fd/7 ]' ||
		khotest_fail "the sharer did not open the VMM's guest RAM"

	kho-tool capture --pid "$KHOTEST_PID" --out /tmp/h.dtb > /tmp/capture.log 2>&1 ||
		{ cat /tmp/capture.log; khotest_fail "capture --out failed"; }
	inspect_poison /tmp/h.dtb 2 "$first" "$unmapped"
	khotest_mark inspect-shows-poison

	# A dry run punches the page out, then poisons it again.  While its
	# image loads, a third process opens the punched memfd: the search
	# before the kexec stops it too (KHO_TOOL_TEST_RUN_AT runs it then).
	cat > /tmp/late-opener.sh <<-EOF
		sh -c 'exec 7< /proc/$KHOTEST_PID/fd/$ramfd; exec sleep 100000' > /dev/null 2>&1 &
		echo \$! > /tmp/late.pid
		i=0
		until [ -e /proc/\$!/fd/7 ]; do
			[ \$i -lt 100 ] || exit 1
			usleep 100000
			i=\$((i + 1))
		done
	EOF
	KHO_TOOL_TEST_RUN_AT="load:sh /tmp/late-opener.sh" \
		kho-tool upgrade --kernel "$target" --initrd "$initrd" --pid "$KHOTEST_PID" \
		--dry-run > /tmp/dry.txt 2>&1 ||
		{ cat /tmp/dry.txt; khotest_fail "dry run failed"; }
	cat /tmp/dry.txt
	late=$(cat /tmp/late.pid)
	grep -q "^upgrade: poison: process $late (sleep) opened memfd token [0-9]* after the punch: stopped until the kexec" /tmp/dry.txt ||
		khotest_fail "the process that opened the punched memfd during the load was not stopped"
	grep -q '^upgrade: sharers .* 2 process(es) besides the VMM hold a punched memfd, all stopped$' /tmp/dry.txt ||
		khotest_fail "the dry run's search before the kexec does not count both holders"
	stopped_and_continued /tmp/dry.txt "process $late \(sleep\)" "$late"
	grep -q '^upgrade: capture .* 2 poisoned ranges, ' /tmp/dry.txt ||
		khotest_fail "the dry run's capture does not count the poisoned ranges"
	grep -q '^upgrade: poison: 2 punched range(s) poisoned again, as before the upgrade$' /tmp/dry.txt ||
		khotest_fail "the dry run did not poison the punched pages again"
	# Between the punch and the poison's return a read would get zeroes:
	# the VMM waits, stopped, and runs again after.
	stopped_and_continued /tmp/dry.txt "VMM $KHOTEST_PID" "$KHOTEST_PID"
	stopped_and_continued /tmp/dry.txt "process $sharer \(sleep\)" "$sharer"
	khotest_log "dry run: the sharer $sharer was stopped with the VMM and continued"
	kho-tool capture --pid "$KHOTEST_PID" --out /tmp/h2.dtb > /tmp/capture.log 2>&1 ||
		{ cat /tmp/capture.log; khotest_fail "capture after the dry run failed"; }
	inspect_poison /tmp/h2.dtb 2 "$first" "$unmapped"
	khotest_mark dry-run-kept-poison

	# Upgrades that fail after the punch: the pages fail again.
	failed_upgrade preserve 'preserve: preserve: memfd token [0-9]+ \(.*, 1114112 bytes\): Input/output error \(injected: KHO_TOOL_TEST_FAIL_AT=preserve\); the 2 punched poison range\(s\) are poisoned again$'
	failed_upgrade load "load: load: kexec_file_load\\($target\\): Input/output error \\(injected: KHO_TOOL_TEST_FAIL_AT=load\\)\$" \
		'^upgrade: poison: 2 punched range(s) poisoned again, as before the upgrade$'
	kho-tool capture --pid "$KHOTEST_PID" --out /tmp/h4.dtb > /tmp/capture.log 2>&1 ||
		{ cat /tmp/capture.log; khotest_fail "capture after the failed upgrades failed"; }
	inspect_poison /tmp/h4.dtb 2 "$first" "$unmapped"
	khotest_mark failed-upgrades-kept-poison

	kho-tool upgrade --kernel "$target" --initrd "$initrd" \
		--append "khotest.stage=2" --pid "$KHOTEST_PID" --json
	khotest_fail "upgrade returned"
	;;
2)
	case "$(uname -r)" in *-kho-b-dbg) ;; *) khotest_fail "stage 2 runs $(uname -r), not patched-debug" ;; esac
	POISON_NEXT=$second adopt 2 "$first" "$unmapped"
	grep -q "guest RAM offset $second: memory failure injected" /tmp/vmm.log ||
		khotest_fail "the adopted guest RAM did not take the second memory failure"

	# The failure path: this kernel journals the VMM's iommufd, and its
	# journal maps the new page; a rollback preserving it is refused
	# before anything is touched.
	if kho-tool rollback --kernel "$target" --initrd "$initrd" --pid "$KHOTEST_PID" \
		--dry-run > /tmp/refused.txt 2>&1; then
		cat /tmp/refused.txt
		khotest_fail "a rollback preserving the kernel-journalled iommufd was not refused"
	fi
	cat /tmp/refused.txt
	grep -q "capture: poison: memfd token [0-9]* $second+0x1000 is poisoned and mapped for DMA, and the hand-off carries the VMM's iommufd: .*carry it with --userspace-journal" /tmp/refused.txt ||
		khotest_fail "the refusal does not name the poisoned page and the way out"
	[ "$(cat /sys/kernel/kexec_loaded)" = 0 ] || khotest_fail "the refused rollback left an image"
	kill -0 "$KHOTEST_PID" || khotest_fail "the VMM died after the refused rollback"
	kho-tool capture --pid "$KHOTEST_PID" --userspace-journal --out /tmp/h3.dtb \
		> /tmp/capture.log 2>&1 ||
		{ cat /tmp/capture.log; khotest_fail "capture after the refusal failed"; }
	inspect_poison /tmp/h3.dtb 3 "$first" "$second" "$unmapped"
	khotest_mark kjournal-refused

	kho-tool rollback --kernel "$source" --initrd "$initrd" \
		--append "khotest.stage=3" --pid "$KHOTEST_PID" \
		--userspace-journal --json
	khotest_fail "rollback returned"
	;;
3)
	case "$(uname -r)" in *-kho-a-dbg) ;; *) khotest_fail "stage 3 runs $(uname -r), not vanilla-debug" ;; esac
	adopt 3 "$first" "$second" "$unmapped"
	khotest_stop vmm
	khotest_done
	;;
esac
