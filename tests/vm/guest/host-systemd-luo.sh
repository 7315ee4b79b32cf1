# SPDX-License-Identifier: GPL-2.0
# systemd 262 as the owner of LUO (tests/vm/120): the host image booted
# with systemd as PID 1 and kho-tool's units (distro/systemd) installed.
# Stage 1: kho-handoff.service gets its session from systemd
# (LUOSession=kho-tool); a runtime drop-in makes it run `kho-tool upgrade`,
# which preserves into that session and kexecs through `systemctl kexec`
# into the same kernel, booting from the disk again.  A unit that is not
# kho-tool's, asking for the same LUOSession= name, gets a session of its
# own.  Stage 2: systemd gave the session back to kho-handoff.service,
# whose restore-agent retrieves and decodes the hand-off.
# With khotest.vmm=1, the test VMM (edu, under the recorder) runs as
# kho-vmm@edu.service, is captured by the upgrade, and in stage 2 adopts
# after the restore unit started, with RAM and DMA checked.  With
# khotest.rollback=1 as well, stage 2 then rolls back the same way
# (`kho-tool rollback` in the unit, a new session) and stage 3 adopts again.
units=/etc/systemd/system
vmm=$(khotest_cmdline_value khotest.vmm 0)
rollback=$(khotest_cmdline_value khotest.rollback 0)
holder() {
	for p in /proc/[0-9]*; do
		ls -l "$p/fd" 2>/dev/null | grep -q ' /dev/liveupdate$' &&
			echo "${p#/proc/} $(cat "$p/comm")"
	done
	return 0
}
journal() {
	journalctl -b -o cat -u "$1" --no-pager
}
# wait_journal UNIT PATTERN SECONDS: until UNIT's journal matches.
wait_journal() {
	local i=0

	while ! journal "$1" | grep -q "$2"; do
		[ "$i" -lt "$3" ] || return 1
		i=$((i + 1))
		sleep 1
	done
}
# in_unit upgrade|rollback APPEND PIDARG: run kho-tool in kho-handoff.service
# (a runtime drop-in) and wait for the kexec it queues.
in_unit() {
	# systemd stops the unit with SIGTERM once the kexec is queued, while
	# kho-tool has its answer still to write.  This systemctl sends that
	# signal at once, so the race is always lost: the JSON must still
	# come (a fleet's controller waits for it).
	mkdir -p /run/khotest-race
	cat > /run/khotest-race/systemctl <<'W'
#!/bin/sh
/usr/bin/systemctl "$@" || exit
kill -TERM "$PPID"
sleep 2
W
	chmod +x /run/khotest-race/systemctl
	mkdir -p /run/systemd/system/kho-handoff.service.d
	cat > /run/systemd/system/kho-handoff.service.d/upgrade.conf <<U
[Service]
Type=oneshot
Environment=PATH=/run/khotest-race:/usr/sbin:/usr/bin:/sbin:/bin
ExecStart=
ExecStart=/opt/kho/bin/kho-tool $1 --kernel /test/bzImage --append "$2" $3 --json
# The JSON on the disk: the journal of a boot that ends in a kexec may not
# be there after it.  systemd-shutdown syncs and unmounts before the kexec.
StandardOutput=file:/var/lib/khotest/kho-tool-s$KHO_STAGE.json
U
	systemctl daemon-reload
	systemctl restart kho-handoff.service &
	# systemctl kexec is queued: the test unit is stopped with the rest.
	sleep 600
	khotest_fail "stage $KHO_STAGE: still running 600 s after kho-tool $1"
}

# after_kexec N: the session back in kho-handoff.service after the Nth
# kexec, the restore-agent's replay, and with the VMM its adoption.
after_kexec() {
	local s=$KHO_STAGE a v i

	khotest_log "kexec_count=$(systemctl show -p KExecCount --value)"
	[ "$(systemctl show -p KExecCount --value)" = "$1" ] ||
		khotest_fail "stage $s: KExecCount is not $1"
	# kho-tool's JSON, written by the previous boot.
	sed "s/^/KHOTEST: LOG s$((s - 1)) kho-tool: /" "/var/lib/khotest/kho-tool-s$((s - 1)).json" ||
		khotest_fail "stage $s: no JSON from kho-tool in stage $((s - 1))"
	khotest_log "fdstore_s$s=$(systemctl show -p NFileDescriptorStore --value kho-handoff.service)"
	# What an operator's boot does: multi-user.target wants kho-vmm.target.
	systemctl start kho-vmm.target
	wait_journal kho-handoff.service 'step decode' 60 ||
		khotest_fail "stage $s: the restore-agent did not decode the hand-off: $(journal kho-handoff.service | tail -n 3)"
	journal kho-handoff.service | sed "s/^/KHOTEST: LOG s$s handoff: /"
	journal kho-handoff.service | grep -q 'from systemd (LUOSession=kho-tool)' ||
		khotest_fail "stage $s: the restore-agent did not get the session from systemd"
	khotest_mark "session-back-in-unit-s$s"
	[ "$vmm" = 1 ] || return 0
	for i in $(seq 1 60); do
		case "$(cat /run/kho-tool/agent.status 2>/dev/null)" in ready*) break ;; esac
		sleep 1
	done
	case "$(cat /run/kho-tool/agent.status 2>/dev/null)" in
	ready*) ;;
	*) khotest_fail "stage $s: the agent is not serving (status '$(cat /run/kho-tool/agent.status 2>/dev/null)')" ;;
	esac
	echo 'VMM=/opt/kho/bin/test-vmm restart --hold' > /etc/kho-tool/vmm/edu.env
	systemctl start kho-vmm@edu.service
	wait_journal kho-vmm@edu.service 'DMA check passed' 90 ||
		khotest_fail "stage $s: kho-vmm@edu did not adopt: $(journal kho-vmm@edu.service | tail -n 5)"
	journal kho-vmm@edu.service | sed "s/^/KHOTEST: LOG s$s vmm: /"
	journal kho-vmm@edu.service | grep -q 'bytes intact' ||
		khotest_fail "stage $s: the guest-RAM pattern did not survive"
	a=$(systemctl show -p ExecMainStartTimestampMonotonic --value kho-handoff.service)
	v=$(systemctl show -p ExecMainStartTimestampMonotonic --value kho-vmm@edu.service)
	khotest_log "restore_start_us=$a vmm_start_us=$v"
	[ "$a" -gt 0 ] && [ "$a" -lt "$v" ] ||
		khotest_fail "stage $s: the restore unit ($a) did not start before the VMM unit ($v)"
	wait_journal kho-handoff.service 'step finish' 30 ||
		khotest_fail "stage $s: the agent did not finish the session"
	journal kho-handoff.service | grep -Ei 'finish|FDSTORE|notification|file descriptor' | sed "s/^/KHOTEST: LOG s$s finish: /"
	for i in $(seq 1 30); do
		[ "$(systemctl show -p NFileDescriptorStore --value kho-handoff.service)" = 0 ] && break
		sleep 1
	done
	khotest_log "fdstore_after_s$s=$(systemctl show -p NFileDescriptorStore --value kho-handoff.service)"
	khotest_mark "vmm-adopted-s$s"
}

case "$KHO_STAGE" in
1)
	test -c /dev/liveupdate || khotest_fail "stage 1: no /dev/liveupdate"
	h=$(holder)
	[ -z "$h" ] || khotest_fail "stage 1: /dev/liveupdate held after boot by: $h"
	cp /test/kho-handoff.service /test/kho-vmm.target /test/kho-vmm@.service "$units/"
	mkdir -p /var/lib/khotest
	# The programs live in /opt/kho here, not where the package puts them.
	mkdir -p "$units/kho-handoff.service.d" "$units/kho-vmm@.service.d"
	printf '[Service]\nExecStart=\nExecStart=/opt/kho/bin/restore-agent\n' \
		> "$units/kho-handoff.service.d/rig.conf"
	printf '[Service]\nEnvironment=LD_PRELOAD=/opt/kho/lib/libkho-record.so\n' \
		> "$units/kho-vmm@.service.d/rig.conf"
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
	wait_journal kho-handoff.service 'new, outgoing one: nothing to restore' 30 ||
		khotest_fail "stage 1: the restore-agent did not see systemd's new session: $(journal kho-handoff.service | tail -n 3)"
	journal kho-handoff.service | sed 's/^/KHOTEST: LOG s1 handoff: /'
	khotest_mark session-from-systemd
	systemctl start not-kho.service
	journal not-kho.service | sed 's/^/KHOTEST: LOG s1 not-kho: /'
	khotest_log "fdstore=$(systemctl show -p NFileDescriptorStore --value kho-handoff.service)"
	pidarg=
	if [ "$vmm" = 1 ]; then
		mkdir -p /etc/kho-tool/vmm
		echo 'VMM=/opt/kho/bin/test-vmm serve --maps 64' > /etc/kho-tool/vmm/edu.env
		systemctl start kho-vmm@edu.service
		wait_journal kho-vmm@edu.service 'ready pid=' 60 ||
			khotest_fail "stage 1: kho-vmm@edu not ready: $(journal kho-vmm@edu.service | tail -n 5)"
		journal kho-vmm@edu.service | sed 's/^/KHOTEST: LOG s1 vmm: /'
		pidarg="--pid $(systemctl show -p MainPID --value kho-vmm@edu.service)"
		khotest_mark vmm-serving
	fi
	# The upgrade, in the unit that owns the session: /run is gone after
	# the kexec, and the unit's ExecStart= is the restore-agent again.
	# No initrd: the rig's kernel mounts root=/dev/vda itself, and rw,
	# since this image has no fstab for systemd to remount it by.
	in_unit upgrade "khotest.stage=2 rw" "$pidarg"
	;;
2)
	after_kexec 1
	if [ "$rollback" = 1 ]; then
		# The finished session left the fd store: the next start of the
		# unit gets a new one, which the rollback preserves into.
		[ "$(systemctl show -p NFileDescriptorStore --value kho-handoff.service)" = 0 ] ||
			khotest_fail "stage 2: the finished session is still in kho-handoff's fd store"
		in_unit rollback "khotest.stage=3" "--pid $(systemctl show -p MainPID --value kho-vmm@edu.service)"
	fi
	h=$(holder)
	[ -z "$h" ] || khotest_fail "stage 2: /dev/liveupdate held by: $h"
	khotest_done
	;;
3)
	after_kexec 2
	h=$(holder)
	[ -z "$h" ] || khotest_fail "stage 3: /dev/liveupdate held by: $h"
	khotest_done
	;;
esac
