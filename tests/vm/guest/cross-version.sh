# SPDX-License-Identifier: GPL-2.0
# Upgrades across kernel versions (tests/vm/105-cross-version.bats): the
# test VMM serves under the recorder in stage 1, and every stage upgrades
# into the next kernel of a chain, e.g. 7.2.13 -> 7.3.4 -> 7.2.13.
#
# /test/cross.env sets hops="IMAGE IMAGE ...": stage N upgrades into the
# Nth image.  Every stage after the first checks that the VMM adopted what
# the agent rebuilt: the guest-RAM pattern intact, and an edu DMA through
# the restored IOAS.
#
# Before each hop the pre-flight's verdict is taken alone (--dry-run):
#   go       the upgrade passes its pre-flight as it is;
#   degrade  it is refused, and passes only with --userspace-journal (a
#            patched kernel into one without iommufd-journal-v2: the
#            iommufd stays out of the session, the replay is unverified);
#   refuse   it is refused even so, or as it is at a stage listed in
#            $anyway (cross.env): the refusal is logged (it must name the
#            ABI or format difference) and the upgrade is done anyway
#            (KHO_TOOL_TEST_IGNORE_PREFLIGHT=1), so that the host can
#            compare the verdict with what really happens.
# "KHOTEST: LOG verdict_sN=", "why_sN=" and "release_sN=" carry that to the
# host, which writes docs/compat-matrix.md from them.
. /test/cross.env
initrd=$(khotest_initrd)

# hop N: the Nth image of $hops, "" past the end.
hop() {
	local i=0 h

	for h in $hops; do
		i=$((i + 1))
		[ "$i" = "$1" ] && { echo "$h"; return 0; }
	done
	return 0
}

# What the agent rebuilt matches what it read, and the VMM adopted it with
# the guest RAM intact and DMA working (060's check_restore/adopt_and_serve).
adopt_and_serve() {
	local run=/run/kho-tool

	khotest_start vmm env LD_PRELOAD="$KHOTEST_RECORDER" test-vmm restart --hold
	grep -q 'bytes intact' /tmp/vmm.log ||
		khotest_fail "stage $KHO_STAGE: the guest-RAM pattern did not survive $(cat /proc/sys/kernel/osrelease)"
	grep -q 'DMA check passed' /tmp/vmm.log ||
		khotest_fail "stage $KHO_STAGE: no DMA check after adoption"
	cat "$run/restore.log" 2>/dev/null || true
	grep -q 'step verify .*ok: ' "$run/restore.log" ||
		khotest_fail "stage $KHO_STAGE: the agent logged no successful verify"
	khotest_log "verified_s$KHO_STAGE=$(sed -n 's/.*step verify .*ok: //p' "$run/restore.log" | tail -n 1)"
	grep -q 'finished' "$run/agent.status" ||
		khotest_fail "stage $KHO_STAGE: agent status '$(cat "$run/agent.status")', not finished after adoption"
	khotest_mark "adopted-stage$KHO_STAGE"
}

khotest_log "release_s$KHO_STAGE=$(uname -r)"
if [ "$KHO_STAGE" = 1 ]; then
	khotest_start vmm env LD_PRELOAD="$KHOTEST_RECORDER" test-vmm serve --maps 64
	khotest_mark serving
else
	adopt_and_serve
fi

target=$(hop "$KHO_STAGE")
if [ -z "$target" ]; then
	khotest_stop vmm
	khotest_done
	exit 0
fi

# The verdict, from the pre-flight alone: a dry run changes nothing.
up="kho-tool upgrade --kernel $target --initrd $initrd --append khotest.stage=$((KHO_STAGE + 1)) --pid $KHOTEST_PID"
verdict=go
flag=
if ! $up --dry-run > /tmp/pf.log 2>&1; then
	cat /tmp/pf.log
	grep -q 'kho-tool upgrade: preflight-target: ' /tmp/pf.log ||
		khotest_fail "stage $KHO_STAGE: the dry run into $target failed outside the pre-flight"
	why=$(grep -m1 'kho-tool upgrade: preflight-target: ' /tmp/pf.log | cut -c1-400)
	case " ${anyway:-} " in
	*" $KHO_STAGE "*) as_is=1 ;;
	*) as_is=0 ;;
	esac
	if [ "$as_is" = 0 ] && $up --dry-run --userspace-journal > /tmp/pf2.log 2>&1; then
		verdict=degrade
		flag=--userspace-journal
	elif [ "$as_is" = 0 ]; then
		cat /tmp/pf2.log
		verdict=refuse
		why=$(grep -m1 'preflight-target' /tmp/pf2.log | cut -c1-400)
	else
		verdict=refuse
	fi
	khotest_log "why_s$KHO_STAGE=$why"
fi
grep -o 'preflight-target: .*' /tmp/pf.log | head -n 1
khotest_log "series_s$KHO_STAGE=$(sed -n 's/.*; series: \([^;]*\);.*/\1/p' /tmp/pf.log /tmp/pf2.log 2>/dev/null | head -n 1)"
khotest_log "verdict_s$KHO_STAGE=$verdict"

if [ "$verdict" = refuse ]; then
	khotest_mark "anyway-stage$KHO_STAGE"
	KHO_TOOL_TEST_IGNORE_PREFLIGHT=1 $up --json
	khotest_fail "stage $KHO_STAGE: upgrade into $target (anyway) returned"
fi
$up $flag --json
khotest_fail "stage $KHO_STAGE: upgrade into $target returned"
