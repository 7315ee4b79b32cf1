# SPDX-License-Identifier: GPL-2.0
# The model-based test across a real kexec (tests/vm/045-model.bats):
# stage 1 runs one seed's sequence through the recorder, captures and
# preserves it in the LUO session as an upgrade does, writes what it
# observes of the original iommufd to the root file system (which
# survives the kexec; /run and /tmp do not), and kexecs.  Stage 2: the
# initramfs hook's restore-agent replays and verifies; kho-model adopts
# its iommufd and must observe the same.  /test/model.env sets
# KHOTEST_MODEL_SEED and KHOTEST_MODEL_EXCLUDE.
. /test/model.env
state=/var/lib/khotest/model-kexec.txt
echo 1 > /proc/sys/kernel/printk
if [ "$KHO_STAGE" = 1 ]; then
	mkdir -p "${state%/*}"
	set -- --seed "$KHOTEST_MODEL_SEED" --kexec-save "$state"
	[ -z "$KHOTEST_MODEL_EXCLUDE" ] || set -- "$@" -x "$KHOTEST_MODEL_EXCLUDE"
	khotest_start model kho-model "$@"
	cat /tmp/model.log
	khotest_mark saved
	khotest_kexec vanilla
fi
cat /run/kho-tool/restore.log 2>/dev/null || true
kho-model --kexec-check "$state" || khotest_fail "kho-model --kexec-check failed"
khotest_mark restored
khotest_done
