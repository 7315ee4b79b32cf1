# SPDX-License-Identifier: GPL-2.0
# patched -> vanilla rollback: the running kernel journals the VMM's
# iommufd and the vanilla target lacks "iommufd-journal-v2", so the
# rollback is refused before anything is captured or loaded, and nothing
# changed (no image, no session, the VMM's iommufd still maps).  With
# --userspace-journal it degrades, says so, and the vanilla kernel's
# agent restores from the userspace record.
. /test/verified-lib.sh
case "$KHO_STAGE" in
1)
	khotest_start vmm env LD_PRELOAD="$KHOTEST_RECORDER" test-vmm serve --maps 64 --churn 100
	vmm=$KHOTEST_PID
	khotest_mark serving
	khotest_refused /tmp/refused.log "rollback without --userspace-journal" \
		kho-tool rollback --kernel /boot/vmlinuz-vanilla --initrd "$(khotest_initrd)" \
		--append "khotest.stage=2" --pid "$vmm"
	grep -q 'preflight-target: /boot/vmlinuz-vanilla .*does not carry iommufd-journal-v2' /tmp/refused.log ||
		khotest_fail "the refusal does not name the target and iommufd-journal-v2"
	grep -q 'luo_file_deserialize_one' /tmp/refused.log ||
		khotest_fail "the refusal does not say why"
	grep -q '^rollback: \(capture\|preserve\|load\) ' /tmp/refused.log &&
		khotest_fail "the refused rollback went past the pre-flight"
	no_session_left "refused rollback"
	[ "$(probe_map "$vmm")" = ok ] ||
		khotest_fail "the VMM's iommufd refuses a map after the refused rollback"
	khotest_mark refused-before-load
	kho-tool rollback --kernel /boot/vmlinuz-vanilla --initrd "$(khotest_initrd)" \
		--append "khotest.stage=2" --pid "$vmm" --userspace-journal --json
	khotest_fail "rollback --userspace-journal returned"
	;;
2)
	case "$(uname -r)" in *-kho-a) ;; *) khotest_fail "stage 2 runs $(uname -r), not vanilla" ;; esac
	adopt_after_restore
	khotest_mark adopted-degraded
	khotest_done
	;;
esac
