# SPDX-License-Identifier: GPL-2.0
# The model-based test (tests/model/): random sequences of the journaled
# iommufd ioctls, recorded, compacted, replayed into a second iommufd,
# verified, and probed page by page against the original.  /test/model.env
# sets KHOTEST_MODEL_SEEDS (FIRST-LAST) and KHOTEST_MODEL_EXCLUDE (the
# features left out because of a known bug; empty: none) and
# KHOTEST_MODEL_ARGS (more options, by hand).
. /test/model.env
# Each mock device logs its iommu group: on the serial console under TCG
# that costs more than the test.
echo 1 > /proc/sys/kernel/printk
set -- --seeds "$KHOTEST_MODEL_SEEDS"
[ -z "$KHOTEST_MODEL_EXCLUDE" ] || set -- "$@" -x "$KHOTEST_MODEL_EXCLUDE"
# By hand: more options (-v prints every seed, to find one that crashes).
set -- "$@" ${KHOTEST_MODEL_ARGS:-}
start=$(cut -d' ' -f1 /proc/uptime)
kho-model "$@" || khotest_fail "kho-model $* failed"
end=$(cut -d' ' -f1 /proc/uptime)
khotest_log "model_seconds=$(awk "BEGIN { print $end - $start }")"
khotest_mark model
n=$(ls -d /sys/bus/*/devices/iommufd_mock* 2>/dev/null | wc -l)
khotest_log "mock_devices_left=$n"
khotest_done
