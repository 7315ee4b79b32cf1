# SPDX-License-Identifier: GPL-2.0
# kho-tool upgrade --dry-run leaves the system as it was (no image loaded,
# no LUO session), and a target lacking a hand-off ABI is refused before
# anything is captured or loaded.  The host passes /boot/vmlinux-luo-v9, a
# vmlinux whose "luo-v5" was rewritten to "luo-v9".
initrd=$(khotest_initrd)

kho-tool upgrade --kernel /boot/vmlinuz-patched --initrd "$initrd" \
	--append "khotest.stage=2" --dry-run --json > /tmp/dry1.json ||
	{ cat /tmp/dry1.json; khotest_fail "dry run: kho-tool upgrade failed"; }
cat /tmp/dry1.json
grep -q '"result":"ok"' /tmp/dry1.json || khotest_fail "dry run: result not ok"
for step in preflight-running preflight-target capture preserve load dry-run-undo; do
	grep -q "\"step\":\"$step\",[^}]*\"status\":\"ok\"" /tmp/dry1.json ||
		khotest_fail "dry run: step $step missing or failed"
done
[ "$(cat /sys/kernel/kexec_loaded)" = 0 ] ||
	khotest_fail "dry run: /sys/kernel/kexec_loaded is $(cat /sys/kernel/kexec_loaded) after the dry run"
khotest_mark dry-run-ok

# The session "kho-tool" is gone: the second run creates one of that name
# again (EEXIST otherwise) and can open /dev/liveupdate (EBUSY otherwise).
kho-tool upgrade --kernel /boot/vmlinuz-patched --initrd "$initrd" --dry-run \
	> /tmp/dry2.log 2>&1 || { cat /tmp/dry2.log; khotest_fail "second dry run failed: state left behind"; }
cat /tmp/dry2.log
[ "$(cat /sys/kernel/kexec_loaded)" = 0 ] || khotest_fail "second dry run left an image"
khotest_mark no-session-left

khotest_refused /tmp/bad.log "bad ABI" \
	kho-tool upgrade --kernel /boot/vmlinux-luo-v9 --initrd "$initrd"
grep -q 'preflight-target: .*needs LUO ABI luo-v5, the image carries luo-v9' /tmp/bad.log ||
	khotest_fail "bad ABI: the refusal does not name luo-v5 and luo-v9"
grep -q 'capture\|preserve\|load' /tmp/bad.log && khotest_fail "bad ABI: went past pre-flight"
[ "$(cat /sys/kernel/kexec_loaded)" = 0 ] || khotest_fail "bad ABI: an image got loaded"
khotest_mark bad-abi-refused

# Another owner of /dev/liveupdate (as PID 1 or luod would be): refused
# before capture and load, naming it; once it is gone the dry run passes.
(exec 9<>/dev/liveupdate && exec sleep 600) &
holder=$!
i=0
until [ "$(readlink /proc/$holder/fd/9 2>/dev/null)" = /dev/liveupdate ]; do
	[ "$i" -lt 50 ] || khotest_fail "the holder never opened /dev/liveupdate"
	usleep 100000
	i=$((i + 1))
done
khotest_refused /tmp/owned.json "owned device" \
	kho-tool upgrade --kernel /boot/vmlinuz-patched --initrd "$initrd" --dry-run --json
grep -q "preflight-running: /dev/liveupdate is held by pid $holder (sleep), [^:]*: the kernel lets one process open it" /tmp/owned.json ||
	khotest_fail "owned device: the refusal does not name pid $holder (sleep)"
grep -q '"error":{"step":"preflight-running","errno":"EBUSY"' /tmp/owned.json ||
	khotest_fail "owned device: the JSON does not say preflight-running EBUSY"
grep -q '"luo_path":"direct"' /tmp/owned.json || khotest_fail "owned device: no luo_path in the JSON"
grep -q '"step":"capture"' /tmp/owned.json && khotest_fail "owned device: went past pre-flight"
kill "$holder"
wait "$holder" 2>/dev/null || :
kho-tool upgrade --kernel /boot/vmlinuz-patched --initrd "$initrd" --dry-run \
	> /tmp/freed.log 2>&1 || { cat /tmp/freed.log; khotest_fail "dry run after the owner left failed"; }
khotest_mark foreign-owner-refused
khotest_done
