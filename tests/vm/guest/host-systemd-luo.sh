# SPDX-License-Identifier: GPL-2.0
# systemd 262 as the owner of LUO (tests/vm/120): the host image booted
# with systemd as PID 1 and kho-tool's units (distro/systemd) installed.
# Stage 1: kho-handoff.service gets its session from systemd
# (LUOSession=kho-tool); a runtime drop-in makes it run `kho-tool upgrade`,
# which preserves into that session and kexecs through `systemctl kexec`
# into the same kernel, booting from the disk again.  A unit that is not
# kho-tool's, asking for the same LUOSession= name, gets a session of its
# own.  Stage 2: systemd gave the session back to kho-handoff.service,
# whose restore-agent retrieved and decoded the hand-off.
units=/etc/systemd/system
holder() {
	for p in /proc/[0-9]*; do
		ls -l "$p/fd" 2>/dev/null | grep -q ' /dev/liveupdate$' &&
			echo "${p#/proc/} $(cat "$p/comm")"
	done
	return 0
}
case "$KHO_STAGE" in
1)
	test -c /dev/liveupdate || khotest_fail "stage 1: no /dev/liveupdate"
	h=$(holder)
	[ -z "$h" ] || khotest_fail "stage 1: /dev/liveupdate held after boot by: $h"
	cp /test/kho-handoff.service /test/kho-vmm.target "$units/"
	mkdir -p "$units/kho-handoff.service.d"
	# The programs live in /opt/kho here, not where the package puts them.
	printf '[Service]\nExecStart=\nExecStart=/opt/kho/bin/restore-agent\n' \
		> "$units/kho-handoff.service.d/rig.conf"
	# Not kho-tool's: the same LUOSession= name in another unit.
	cat > "$units/not-kho.service" <<'U'
[Service]
Type=oneshot
RemainAfterExit=yes
LUOSession=kho-tool
FileDescriptorStorePreserve=yes
ExecStart=/bin/sh -c 'echo "KHOTEST: LOG not_kho_session=$(readlink /proc/self/fd/3)"; exec /opt/kho/bin/restore-agent'
StandardOutput=journal+console
U
	systemctl daemon-reload
	systemctl start kho-handoff.service
	sleep 2
	journalctl -b -o cat -u kho-handoff.service --no-pager | sed 's/^/KHOTEST: LOG s1 handoff: /'
	journalctl -b -o cat -u kho-handoff.service --no-pager | grep -q 'new, outgoing one: nothing to restore' ||
		khotest_fail "stage 1: the restore-agent did not see systemd's new session"
	khotest_mark session-from-systemd
	systemctl start not-kho.service
	journalctl -b -o cat -u not-kho.service --no-pager | sed 's/^/KHOTEST: LOG s1 not-kho: /'
	khotest_log "fdstore=$(systemctl show -p NFileDescriptorStore --value kho-handoff.service)"
	# The upgrade, in the unit that owns the session: /run is gone after
	# the kexec, and the unit's ExecStart= is the restore-agent again.
	mkdir -p /run/systemd/system/kho-handoff.service.d
	cmd=$(sed 's/khotest.stage=1/khotest.stage=2/' /proc/cmdline)
	cat > /run/systemd/system/kho-handoff.service.d/upgrade.conf <<U
[Service]
Type=oneshot
ExecStart=
ExecStart=/opt/kho/bin/kho-tool upgrade --kernel /test/bzImage --append khotest.stage=2 --json
U
	systemctl daemon-reload
	systemctl restart kho-handoff.service &
	# systemctl kexec is queued: the test unit is stopped with the rest.
	sleep 600
	khotest_fail "stage 1: still running 600 s after the upgrade"
	;;
2)
	khotest_log "kexec_count=$(systemctl show -p KExecCount --value)"
	[ "$(systemctl show -p KExecCount --value)" = 1 ] || khotest_fail "stage 2: KExecCount is not 1"
	journalctl -b -1 -o cat --no-pager 2>/dev/null | grep -E 'upgrade: |luo_path' | sed 's/^/KHOTEST: LOG s1 upgrade: /'
	for i in $(seq 1 60); do
		journalctl -b -o cat -u kho-handoff.service --no-pager | grep -q 'decode' && break
		sleep 1
	done
	journalctl -b -o cat -u kho-handoff.service --no-pager | sed 's/^/KHOTEST: LOG s2 handoff: /'
	journalctl -b -o cat -u kho-handoff.service --no-pager | grep -q 'from systemd (LUOSession=kho-tool)' ||
		khotest_fail "stage 2: the restore-agent did not get the session from systemd"
	khotest_mark session-back-in-unit
	journalctl -b -o cat -u kho-handoff.service --no-pager | grep -q 'decode' ||
		khotest_fail "stage 2: the restore-agent did not decode the hand-off"
	khotest_mark handoff-restored
	h=$(holder)
	[ -z "$h" ] || khotest_fail "stage 2: /dev/liveupdate held by: $h"
	;;
esac
