# SPDX-License-Identifier: GPL-2.0
# The L2 guest of the nested cpr-transfer tests (110), sourced by
# host-cpr.sh and host-cpr-kexec.sh: its QEMU 11.1 arguments (the payload
# under TCG, RAM in a memfd, auxiliary RAM shareable), where its files go,
# and the helpers that read its heartbeat.
W=/tmp/cpr
mkdir -p "$W"
# Each L2 serial log, on the disk: the next stage reads the old guest's
# last heartbeat there (l2_last).  The console copy (l2_console) loses
# the lines still in flight when the kexec comes, and kho-tool syncs the
# disk before it kexecs.  $W/TAG.log links to it.
S=/var/tmp/l2-serial
[ "${KHO_STAGE:-1}" != 1 ] || rm -rf "$S"
mkdir -p "$S"
# The kexec's initrd, on the disk: its overlay outlives L1's kexecs (/tmp
# does not), so one build serves every stage.
initrd=/var/tmp/l1-initrd.img
l2_args="-machine q35,aux-ram-share=on -accel tcg -m 32M
	-object memory-backend-memfd,id=ram0,size=32M,share=on
	-machine memory-backend=ram0 -nodefaults -display none
	-kernel /test/payload.elf"
# hb_last FILE, hb_first NEW OLD: the heartbeats across a move.
. /test/heartbeat.sh
# l2_serial TAG: QEMU's -serial value for the L2 guest TAG, on the disk.
l2_serial() {
	ln -sf "$S/$1.log" "$W/$1.log"
	echo "file:$S/$1.log"
}
# l2_last TAG: logs TAG_last, the last heartbeat TAG's guest wrote before
# the kexec that ended this QEMU, for the host to compare with the first
# of its successor.
l2_last() {
	khotest_log "$1_last=$(hb_last "$S/$1.log")"
}
# dump [FILE...]: the tail of every output and log of $W, and of FILEs.
dump() {
	for f in "$W"/*.out "$W"/*.log "$@"; do
		[ -f "$f" ] || continue
		echo "--- $f"
		tail -n 30 "$f"
	done
}
# l2_start TAG [incoming]: in the background, a QEMU running the L2 guest:
# serial $W/TAG.log, QMP $W/TAG-qmp.sock; with "incoming", a new QEMU that
# takes the guest over its cpr and main channels ($W/TAG-cpr.sock,
# TAG-main.sock) and blocks until its CPR state arrives.  $! is its pid.
l2_start() {
	if [ "${2:-}" = incoming ]; then
		# shellcheck disable=SC2086 # a word per argument
		qemu-system-x86_64 $l2_args -serial "$(l2_serial "$1")" \
			-qmp "unix:$W/$1-qmp.sock,server=on,wait=off" \
			-incoming "{\"channel-type\":\"cpr\",\"addr\":{\"transport\":\"socket\",\"type\":\"unix\",\"path\":\"$W/$1-cpr.sock\"}}" \
			-incoming "unix:$W/$1-main.sock" > "$W/$1.out" 2>&1 &
	else
		# shellcheck disable=SC2086 # a word per argument
		qemu-system-x86_64 $l2_args -serial "$(l2_serial "$1")" \
			-qmp "unix:$W/$1-qmp.sock,server=on,wait=off" > "$W/$1.out" 2>&1 &
	fi
}
# start_new_qemu: l2_start new incoming (host-cpr*.sh's one new QEMU).
start_new_qemu() { l2_start new incoming; }
# l2_console TAG: the L2 serial on the L1 console as "L2TAG: ...", up to
# the kexec, for whoever reads the log (/tmp does not survive it).
l2_console() {
	tail -F "$W/$1.log" 2>/dev/null | sed -u "s/^/L2$1: /" > /dev/console &
}
# start_agent: the restore-agent from the disk root, in the background,
# until it is ready (host-cpr-kexec.sh says why not from the initrd).
start_agent() {
	local i=0

	restore-agent > "$W/agent.out" 2>&1 &
	until grep -q '^ready' /run/kho-tool/agent.status 2>/dev/null; do
		if [ "$i" -ge 600 ] || grep -q '^failed' /run/kho-tool/agent.status 2>/dev/null; then
			cat "$W/agent.out"
			dump
			khotest_fail "the restore-agent did not get ready: $(cat /run/kho-tool/agent.status 2>/dev/null)"
		fi
		usleep 100000
		i=$((i + 1))
	done
}
# The initrd of the kexec: the L1 initramfs' job (tests/vm/host/init:
# mount the disk, copy /opt/kho and /test in, switch_root) from what this
# root holds, with busybox-static.  It carries the agent and a kho-init.d
# hook, so that kho-tool upgrade uses it as is; but this init runs no
# hooks and switches root, which would take the agent's socket in /run
# with it: stage 2 starts the agent from the disk root instead, as a
# systemd unit would on a real host.
make_initrd() {
	local d=/tmp/l1-initrd

	rm -rf "$d"
	mkdir -p "$d/bin" "$d/opt" "$d/proc" "$d/sys" "$d/dev" "$d/newroot"
	cp /bin/busybox "$d/bin/busybox"
	for a in $(/bin/busybox --list); do
		[ "$a" = busybox ] || ln -s busybox "$d/bin/$a"
	done
	ln -s bin "$d/sbin"
	mkdir -p "$d/usr"
	ln -s ../bin "$d/usr/bin"
	ln -s ../bin "$d/usr/sbin"
	mkdir -p "$d/usr/lib/kho-tool" "$d/etc/kho/init.d"
	cp /opt/kho/bin/restore-agent "$d/usr/lib/kho-tool/restore-agent"
	printf '#!/bin/sh\n# not run by tests/vm/host/init: see host-cpr-kexec.sh\n' \
		> "$d/etc/kho/init.d/10-restore-agent"
	cp /test/host-init "$d/init"
	chmod 755 "$d/init"
	cp -a /opt/kho "$d/opt/kho"
	cp -a /test "$d/test"
	(cd "$d" && find . | busybox cpio -o -H newc > "$initrd" 2>/dev/null) ||
		khotest_fail "cannot build the kexec's initrd"
}
# restore_one OLD NEW: `cpr-relay --restore` of the hand-off's QEMU OLD
# (its QMP socket before the kexec) into the new QEMU NEW.
# The new QEMU must listen first: the agent waits 30 s for --restore's
# ack, and a QEMU starting under nested TCG next to a running guest can
# take longer than that.
# Logs NEW_restore_wall, when it started and ended on L1's clock.
restore_one() {
	local rc=0 t0

	khotest_wait 300 test -S "$W/$2-cpr.sock" ||
		{ dump; khotest_fail "the new QEMU $2 never listened on $W/$2-cpr.sock"; }
	t0=$(date +%s.%N)
	kho-tool cpr-relay --restore --vmm "$W/$1-qmp.sock" --to-cpr "$W/$2-cpr.sock" \
		--to-main "$W/$2-main.sock" --timeout 120 > "$W/restore-$2.out" 2>&1 || rc=$?
	echo "$t0,$(date +%s.%N)" > "$W/$2.restore-wall"
	khotest_log "$2_restore_wall=$(cat "$W/$2.restore-wall")"
	cat "$W/restore-$2.out"
	[ "$rc" -eq 0 ] || { dump /run/kho-tool/restore.log; khotest_fail "cpr-relay --restore --vmm $1 failed (exit $rc)"; }
	l2_last "$1"
}

# continues TAG OLD: TAG's guest, taken over from QEMU OLD, beats twice
# more, never rebooted, pattern intact; logs TAG_first, its first
# heartbeat (a line OLD's QEMU began is TAG's), for the host.
continues() {
	local first

	wait_for "$W/$1.log" '^hb [0-9]+ ' 300 || { dump; khotest_fail "QEMU $1's L2 guest printed no heartbeat"; }
	khotest_log "$1_first_wall=$(date +%s.%N)"
	first=$(hb_first "$W/$1.log" "$S/$2.log")
	wait_for "$W/$1.log" "^hb $((first + 2)) " 300 || { dump; khotest_fail "QEMU $1's L2 guest does not keep running"; }
	if grep -q '^L2 boot' "$W/$1.log"; then khotest_fail "QEMU $1's L2 guest rebooted"; fi
	if grep -q BAD "$W/$1.log"; then khotest_fail "QEMU $1's L2 RAM pattern changed: $(grep BAD "$W/$1.log" | head -n 1)"; fi
	khotest_log "$1_first=$first"
}

# agent_status WANT: the restore-agent's status begins with WANT (waits 10 s).
agent_status() {
	khotest_wait 10 grep -q "^$1" /run/kho-tool/agent.status ||
		khotest_fail "agent status '$(cat /run/kho-tool/agent.status)', not $1"
}

# kexec_with CMD KERNEL STAGE [--json] TAG...: kho-tool CMD (upgrade or
# rollback) of the QEMUs TAG... into KERNEL, its output on the console
# (/tmp does not survive the kexec); returns only if it failed.
kexec_with() {
	local cmd=$1 kernel=$2 stage=$3 rc=0 json= qemus=

	shift 3
	[ "${1:-}" = --json ] && { json=--json; shift; }
	for t in "$@"; do qemus="$qemus --qemu-qmp $W/$t-qmp.sock"; done
	[ -f "$initrd" ] || make_initrd
	sync
	khotest_log "${cmd}_start_wall=$(date +%s.%N)"
	# shellcheck disable=SC2086 # a word per option
	kho-tool "$cmd" --kernel "$kernel" --initrd "$initrd" \
		--append "khotest.stage=$stage" $json $qemus > /dev/console 2>&1 || rc=$?
	dump /run/kho-tool/restore.log
	khotest_fail "kho-tool $cmd of $* returned (exit $rc)"
}

# restores_overlap NEW1 NEW2: "yes" if the --restores into the new QEMUs
# NEW1 and NEW2 (restore_one's $W/NEW.restore-wall) ran at the same time.
restores_overlap() {
	awk -F, 'NR == 1 { s = $1; e = $2 } NR == 2 { print (s < $2 && $1 < e) ? "yes" : "no" }' \
		"$W/$1.restore-wall" "$W/$2.restore-wall"
}
