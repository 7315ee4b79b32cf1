# SPDX-License-Identifier: GPL-2.0
# The KASAN and kmemleak checks of the patched-debug kernel, sourced by the
# kjournal-debug-*.sh guest scripts (tests/vm/085-kjournal-debug.bats ships
# it as /test/kjournal-debug-lib.sh).
#
# kdebug_arm before the workload, kdebug_check after it: a KASAN report, a
# warning, an oops, or a kmemleak suspect allocated through the code under
# test fails the check.  Other suspects are printed, not judged.

KDEBUG_LEAKS=/sys/kernel/debug/kmemleak
# Frames of the code under test in a kmemleak backtrace: the journal and
# its LUO handler (iommufd, jrec_*), LUO and KHO, and VFIO, through which
# every bind and attach of the sweep goes.
KDEBUG_OURS='iommufd|jrec_|journal|luo_|liveupdate|kho_|vfio'

# kdebug_arm: this is the debug kernel (KASAN initialized, kmemleak on
# unless the command line says kmemleak=off), and the leak suspects of the
# boot so far are set aside.
kdebug_arm() {
	mount -t debugfs none /sys/kernel/debug 2>/dev/null || true
	dmesg | grep -q 'KernelAddressSanitizer initialized' ||
		khotest_fail "kdebug: KASAN is not on in $(uname -r)"
	KDEBUG_KMEMLEAK=1
	if grep -qw 'kmemleak=off' /proc/cmdline; then
		KDEBUG_KMEMLEAK=0
		khotest_log "kmemleak=off"
		return 0
	fi
	[ -w "$KDEBUG_LEAKS" ] ||
		khotest_fail "kdebug: no $KDEBUG_LEAKS (kmemleak not built in)"
	echo scan > "$KDEBUG_LEAKS" ||
		khotest_fail "kdebug: kmemleak refused a scan (disabled?)"
	khotest_log "boot_leak_suspects=$(grep -c '^unreferenced object' "$KDEBUG_LEAKS")"
	echo clear > "$KDEBUG_LEAKS"
}

# kdebug_scope_failslab: if the command line has
# khotest.failslab_reject=START-END (the text of ACPICA, from the host's
# vmlinux; the kernel runs with nokaslr), an allocation with a frame in that
# range is neither failed nor counted by fail_nth (the failslab stack filter
# also scopes fail_nth in 7.2): the sweep cannot reach ACPICA's error paths.
kdebug_scope_failslab() {
	local word range='' start end probe

	for word in $(cat /proc/cmdline); do
		case "$word" in
		khotest.failslab_reject=*) range=${word#*=} ;;
		esac
	done
	[ -n "$range" ] || return 0
	start=${range%-*}
	end=${range#*-}
	# The range must hold ACPICA's code in this very kernel.
	probe=$(grep ' acpi_ut_update_object_reference$' /proc/kallsyms | cut -d' ' -f1)
	[ -n "$probe" ] || khotest_fail "kdebug: no acpi_ut_update_object_reference in kallsyms"
	case "$(printf '%s\n%s\n%s\n' "${start#0x}" "$probe" "${end#0x}" | sort -c 2>&1)" in
	'') ;;
	*) khotest_fail "kdebug: ACPICA range $range does not hold acpi_ut_update_object_reference at $probe (KASLR on?)" ;;
	esac
	if ! echo "$start" > /sys/kernel/debug/failslab/reject-start ||
	   ! echo "$end" > /sys/kernel/debug/failslab/reject-end; then
		khotest_fail "kdebug: cannot set the failslab stack filter"
	fi
	khotest_log "failslab_reject=$(cat /sys/kernel/debug/failslab/reject-start)-$(cat /sys/kernel/debug/failslab/reject-end)"
}

# kdebug_leaks_ours FILE: how many kmemleak reports in FILE have a frame of
# the code under test in their backtrace (the "comm" line does not count).
kdebug_leaks_ours() {
	awk -v re="$KDEBUG_OURS" '
		/^unreferenced object/ { n++; bt = 0; next }
		/^  backtrace/ { bt = 1; next }
		bt && $0 ~ re { hit[n] = 1 }
		END { c = 0; for (i in hit) c++; print c }' "$1"
}

# kdebug_scan: the kmemleak suspects to /tmp/kmemleak.txt.  kmemleak
# reports an object once it is 5 s old; a second scan drops transient
# suspects (Documentation/dev-tools/kmemleak.rst).
kdebug_scan() {
	sleep 6
	if ! echo scan > "$KDEBUG_LEAKS" || ! echo scan > "$KDEBUG_LEAKS"; then
		KDEBUG_WHY="kmemleak refused a scan (disabled?)"
		return 1
	fi
	cat "$KDEBUG_LEAKS" > /tmp/kmemleak.txt
}

# kdebug_check: after the workload.  Returns 1 with KDEBUG_WHY set if
# anything was found, after printing it to the console.
kdebug_check() {
	local n ours

	KDEBUG_WHY=
	if [ "$KDEBUG_KMEMLEAK" = 0 ]; then
		echo > /tmp/kmemleak.txt
	else
		kdebug_scan || return 1
	fi
	n=$(grep -c "^unreferenced object" /tmp/kmemleak.txt) || true
	ours=$(kdebug_leaks_ours /tmp/kmemleak.txt)
	if [ "$KDEBUG_KMEMLEAK" = 1 ]; then
		khotest_log "kmemleak_suspects=$n"
		khotest_log "kmemleak_ours=$ours"
	fi
	[ "$n" -eq 0 ] || sed 's/^/kmemleak: /' /tmp/kmemleak.txt
	dmesg > /tmp/dmesg.txt
	if grep -q 'BUG: KASAN' /tmp/dmesg.txt; then
		grep -A40 'BUG: KASAN' /tmp/dmesg.txt | head -80
		KDEBUG_WHY="KASAN: $(grep -m1 'BUG: KASAN' /tmp/dmesg.txt | sed 's/^\[[^]]*\] //')"
		return 1
	fi
	if grep -Eq 'WARNING:|BUG:|Oops|refcount_t' /tmp/dmesg.txt; then
		grep -E -A30 'WARNING:|BUG:|Oops|refcount_t' /tmp/dmesg.txt | head -60
		KDEBUG_WHY="the kernel warned: $(grep -E -m1 'WARNING:|BUG:|Oops|refcount_t' /tmp/dmesg.txt | sed 's/^\[[^]]*\] //')"
		return 1
	fi
	if [ "$KDEBUG_KMEMLEAK" = 1 ] &&
	   grep -q 'kmemleak: Kernel memory leak detector disabled' /tmp/dmesg.txt; then
		KDEBUG_WHY="kmemleak disabled itself"
		return 1
	fi
	if [ "$ours" -ne 0 ]; then
		KDEBUG_WHY="kmemleak: $ours of $n suspected leaks were allocated through $KDEBUG_OURS"
		return 1
	fi
	return 0
}
