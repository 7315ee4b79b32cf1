# SPDX-License-Identifier: GPL-2.0
# A LUO memfd carried across real kexecs between the two rig kernels.
# /test/luo.env sets KHOTEST_CHAIN, the kernels to visit after the first
# ("patched", or "patched vanilla" for an upgrade and a rollback), and
# KHOTEST_LUO_DROP=1 to close the session before the kexec (the negative
# case: nothing may come back).  Each stage checks what the last one
# preserved, preserves a fresh memfd for the next, and kexecs.
. /test/luo.env

# Stage N's memfd: its own token and pattern seed, so that a stale memfd
# from an earlier stage cannot pass for this one.
token=$((4200 + KHO_STAGE))
seed=$((0x1000 + KHO_STAGE))
prev_token=$((token - 1))
prev_seed=$((seed - 1))
size=$((1024 * 1024 + 4096 * KHO_STAGE))
prev_size=$((size - 4096))

# shellcheck disable=SC2086 # a list of kernels, split on purpose
set -- $KHOTEST_CHAIN
nstages=$(($# + 1))
khotest_log "stage$KHO_STAGE=$(uname -r)"

if [ "$KHO_STAGE" -gt 1 ]; then
	dmesg | grep -q 'KHO: found kexec handover data' ||
		khotest_fail "stage $KHO_STAGE: the kernel found no KHO data"
	khotest_mark "stage$KHO_STAGE-kho"
	test-vmm luo-check --session "khotest-$((KHO_STAGE - 1))" \
		--token "$prev_token" --seed "$prev_seed" --size "$prev_size" ||
		khotest_fail "stage $KHO_STAGE: memfd of stage $((KHO_STAGE - 1)) not retrieved intact"
	khotest_mark "stage$KHO_STAGE-memfd-intact"
fi

if [ "$KHO_STAGE" -ge "$nstages" ]; then
	khotest_done
	exit 0
fi

khotest_start hold test-vmm luo-hold --session "khotest-$KHO_STAGE" \
	--token "$token" --seed "$seed" --size "$size"
if [ "${KHOTEST_LUO_DROP:-0}" = 1 ]; then
	khotest_stop hold
	khotest_mark dropped
fi
shift $((KHO_STAGE - 1))
khotest_kexec "$1"
