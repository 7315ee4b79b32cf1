# SPDX-License-Identifier: GPL-2.0
# Guest side of the VM test contract, installed as /test/lib.sh: the serial
# markers tests/vm/launch.sh reads, and the kexec plumbing of chained stages.
#
# Sourced by /init before /test/script.sh runs (busybox ash, set -e).
# Markers: "KHOTEST: MARK <name>", "KHOTEST: FAIL <why>", "KHOTEST: DONE".

# Where the dynamic test binaries and the LD_PRELOAD recorder live.
KHOTEST_RECORDER=/usr/lib/kho-tool/libkho-record.so
export KHOTEST_RECORDER

khotest_poweroff() {
	sync
	poweroff -f
	# Only reached if ACPI power-off is missing: QEMU runs with
	# -no-reboot, so a reboot ends it too.
	reboot -f
}

khotest_mark() {
	echo "KHOTEST: MARK $*"
}

khotest_fail() {
	echo "KHOTEST: FAIL $*"
	khotest_poweroff
}

khotest_done() {
	echo "KHOTEST: DONE"
}

# khotest_log WHAT: print a value for the host to read back
# ("KHOTEST: LOG <what>"), e.g. a timing.
khotest_log() {
	echo "KHOTEST: LOG $*"
}

# khotest_start [--timeout SEC] NAME CMD [ARGS...]: start CMD in the
# background with its output in /tmp/NAME.log, wait until it prints
# "ready pid=" (test-vmm serve, luo-hold), echo its log to the console and
# set KHOTEST_PID.  A command that dies, or stays silent for SEC seconds
# (default $KHOTEST_START_TIMEOUT, else 60: a guest doing real work under
# TCG may need more), fails the test.
khotest_start() {
	local timeout=${KHOTEST_START_TIMEOUT:-60} name log i=0

	if [ "$1" = --timeout ]; then
		timeout=$2
		shift 2
	fi
	case "$timeout" in
	'' | *[!0-9]*) khotest_fail "khotest_start: --timeout '$timeout' is not a number of seconds" ;;
	esac
	name=$1
	log=/tmp/$1.log
	shift
	"$@" > "$log" 2>&1 &
	KHOTEST_PID=$!
	while ! grep -q 'ready pid=' "$log"; do
		if ! kill -0 "$KHOTEST_PID" 2>/dev/null; then
			cat "$log"
			khotest_fail "$name: '$*' exited before it got ready"
		fi
		if [ "$i" -ge $((timeout * 10)) ]; then
			cat "$log"
			khotest_fail "$name: '$*' not ready after ${timeout}s (khotest_start --timeout)"
		fi
		i=$((i + 1))
		usleep 100000
	done
	cat "$log"
}

# khotest_stop NAME: SIGTERM the command khotest_start started, wait for it
# and fail unless it exited 0; its log goes to the console.
khotest_stop() {
	local rc=0

	kill -TERM "$KHOTEST_PID"
	wait "$KHOTEST_PID" || rc=$?
	# What it printed since khotest_start showed its log.
	sed '1,/ready pid=/d' "/tmp/$1.log"
	[ "$rc" -eq 0 ] || khotest_fail "$1: exited with status $rc after SIGTERM"
}

# khotest_initrd: print the path of an initrd that boots this very guest
# environment again (same /init, binaries, kernels, /test script), for the
# next kexec stage.  It is rebuilt from the root filesystem on first use:
# /proc, /sys, /dev, /run and /tmp are other mounts, so -xdev leaves their
# contents (and the image itself, in /run) out.
khotest_initrd() {
	local img=/run/khotest/initrd.img

	if [ ! -s "$img" ]; then
		mkdir -p /run/khotest
		(cd / && find . -xdev | cpio -o -H newc > "$img.tmp" 2>/dev/null) ||
			{ echo "khotest_initrd: cannot build $img" >&2; return 1; }
		mv "$img.tmp" "$img"
	fi
	echo "$img"
}

# khotest_cmdline_next [ARGS...]: the current command line with the stage
# advanced by one and ARGS added (the last khotest.stage= wins).
khotest_cmdline_next() {
	echo "$(cat /proc/cmdline) khotest.stage=$((KHO_STAGE + 1)) $*"
}

# khotest_kexec KERNEL [ARGS...]: kexec into KERNEL (a path or
# vanilla|patched) with this guest's initrd and the next stage's command
# line, through kexec_file_load (kexec -s), which is what carries KHO.
# Does not return on success.
khotest_kexec() {
	local kernel="$1" initrd

	shift
	case "$kernel" in
	vanilla|patched) kernel=/boot/vmlinuz-$kernel ;;
	esac
	initrd=$(khotest_initrd) || khotest_fail "kexec: no initrd for the next stage"
	kexec -s -l "$kernel" --initrd="$initrd" \
		--command-line="$(khotest_cmdline_next "$@")" ||
		khotest_fail "kexec: loading $kernel failed"
	khotest_mark "kexec-to-$(basename "$kernel")"
	kexec -e
	khotest_fail "kexec: kexec -e into $kernel returned"
}

# khotest_agent_ready [ARGS...]: start restore-agent ARGS (stdin closed,
# stderr in /tmp/agent.err, its pid in $agent_pid) and wait until its
# agent.status says ready, held, failed or none (in $agent_status); fails
# after 600 s.  The benches time the agent's restore on a guest of one
# CPU, where whatever runs meanwhile is charged to it: this waits with
# shell builtins only (read with a timeout on a FIFO nobody writes),
# never forking a grep or a sleep per poll.
khotest_agent_ready() {
	local run=/run/kho-tool i=0

	mkdir -p $run
	rm -f $run/agent.status /tmp/agent-tick
	mkfifo /tmp/agent-tick
	exec 3<>/tmp/agent-tick
	restore-agent "$@" </dev/null 2>/tmp/agent.err &
	agent_pid=$!
	agent_status=
	while :; do
		read -t 0.05 -u 3 _ || :
		if [ -e $run/agent.status ]; then
			read -r agent_status <$run/agent.status || :
		fi
		case "$agent_status" in ready* | held* | failed* | none*) break ;; esac
		i=$((i + 1))
		[ "$i" -lt 12000 ] || khotest_fail "restore-agent never answered"
	done
	exec 3>&-
}

# khotest_agent_restored WHAT: after khotest_agent_ready, fail (naming
# WHAT) unless the agent is ready; print its stderr and steps, and its
# whole restore's time ("restored in") in $agent_ms.
khotest_agent_restored() {
	local run=/run/kho-tool

	cat /tmp/agent.err
	case "$agent_status" in
	ready*) ;;
	*) cat $run/restore.log; khotest_fail "$1: agent not ready: $agent_status" ;;
	esac
	grep -E "step |restored in" $run/restore.log
	agent_ms=$(sed -n 's/.*restored in \([0-9.]*\) ms.*/\1/p' $run/restore.log | tail -n 1)
}

# khotest_stage ARGS...: `test-vmm stage ARGS` in the background until
# it holds the session for the next boot ("ready"), then its output
# (/tmp/stage.out); fails if it exits first, or after 600 s.
khotest_stage() {
	local pid i=0

	: >/tmp/stage.out
	test-vmm stage "$@" >/tmp/stage.out 2>&1 &
	pid=$!
	until grep -q '^test-vmm: ready' /tmp/stage.out; do
		kill -0 "$pid" 2>/dev/null ||
			khotest_fail "test-vmm stage $* exited: $(cat /tmp/stage.out)"
		i=$((i + 1))
		[ "$i" -lt 6000 ] || khotest_fail "test-vmm stage $*: $(cat /tmp/stage.out)"
		sleep 0.1
	done
	cat /tmp/stage.out
}

# khotest_vmm_user UID DIR: what a launcher does before it starts a VMM
# that is not root (060, 067): DIR, the run directory its recorder serves
# from (kho-tool is told with KHO_RUN_DIR: /run/kho-tool is root's),
# UID's alone; the pinned-memory limit lifted for what it maps.
khotest_vmm_user() {
	mkdir -p "$2"
	chown "$1" "$2"
	chmod 0700 "$2"
	ulimit -l unlimited
}

# wait_for FILE PATTERN SECONDS: until FILE matches PATTERN (ERE).
wait_for() {
	khotest_wait "$3" file_has "$1" "$2"
}

# file_has FILE ERE: FILE exists and has a line matching ERE.
file_has() {
	grep -Eq "$2" "$1" 2>/dev/null
}

# khotest_wait SECS CMD...: run CMD every 0.1 s until it succeeds; 1 if it
# has not after SECS.
khotest_wait() {
	local n=$(($1 * 10)) i=0

	shift
	until "$@"; do
		[ "$i" -lt "$n" ] || return 1
		usleep 100000
		i=$((i + 1))
	done
}

# khotest_cmdline_value KEY DEFAULT: the last KEY=VALUE on the command line.
khotest_cmdline_value() {
	local word val=$2

	for word in $(cat /proc/cmdline); do
		case "$word" in
		"$1"=*) val=${word#*=} ;;
		esac
	done
	echo "$val"
}

# khotest_watchdog: in the background, until khotest.deadline= (the host's
# clock, in seconds, a little before launch.sh kills the guest): then the
# guest's own account of a hang on the console, which the host cannot get
# from a guest it kills: its processes, the tasks blocked in the kernel
# (sysrq w) and the tail of each test log.  Every stage starts its own;
# the deadline rides the command line across each kexec.  A guest clock
# that disagrees with the host's by more than the deadline starts none.
khotest_watchdog() {
	local deadline now

	deadline=$(khotest_cmdline_value khotest.deadline 0)
	now=$(date +%s)
	case "$deadline" in '' | *[!0-9]*) return 0 ;; esac
	[ "$deadline" -gt "$now" ] && [ $((deadline - now)) -lt 86400 ] || return 0
	(
		sleep $((deadline - now))
		echo "KHOTEST: HANG stage $KHO_STAGE: the test's time is nearly up; what the guest is doing:"
		# Userspace only: the kernel's threads are in sysrq's list.
		ps | grep -v ' \[[^]]*\]$'
		echo w > /proc/sysrq-trigger
		for f in /tmp/*.log /tmp/*.out /run/kho-tool/*.log; do
			[ -f "$f" ] || continue
			echo "--- $f"
			tail -n 15 "$f"
		done
		echo "KHOTEST: HANG stage $KHO_STAGE: end of the guest's account"
	) &
}

# khotest_refused OUT WHAT CMD...: CMD must exit 1, a refusal; its output
# goes to OUT and the serial log.  WHAT names the case in the failure.
khotest_refused() {
	local out=$1 what=$2 rc=0

	shift 2
	"$@" >"$out" 2>&1 || rc=$?
	cat "$out"
	[ "$rc" = 1 ] || khotest_fail "$what: '$*' exited $rc, expected a refusal (1)"
}

# khotest_mtty_create UUID: an instance of the kernel's mtty sample, type
# mtty-1 (one port), which only the debug flavours build
# (tests/rig/kernel-debug.config).
khotest_mtty_create() {
	local types=/sys/class/mdev_bus/mtty/mdev_supported_types/mtty-1

	[ -d "$types" ] ||
		khotest_fail "no $types: the kernel lacks CONFIG_SAMPLE_VFIO_MDEV_MTTY"
	echo "$1" > "$types/create" || khotest_fail "mtty: creating $1 failed"
}

# khotest_mdev_remove UUID: the mdev removed, as a test leaves the guest.
khotest_mdev_remove() {
	echo 1 > "/sys/bus/mdev/devices/$1/remove" ||
		khotest_fail "mtty: removing $1 failed"
}

# khotest_mtty_adopt FIFO: after a kexec that carried an mtty's state, the
# agent's log (printed) has a verify that passed, and the test VMM
# restarted under the recorder adopts what the agent rebuilt: the guest
# RAM intact, the mtty's FIFO giving FIFO back in order, the recorder
# taking the adopted devices over.  The VMM holds them (KHOTEST_PID).
khotest_mtty_adopt() {
	local log=/run/kho-tool/restore.log

	cat "$log" 2>/dev/null || true
	grep -q 'step verify .*ok: ' "$log" ||
		khotest_fail "stage $KHO_STAGE: the agent logged no successful verify"
	khotest_start vmm env LD_PRELOAD="$KHOTEST_RECORDER" \
		test-vmm restart --hold --mtty-fifo "$1"
	grep -q 'bytes intact' /tmp/vmm.log ||
		khotest_fail "stage $KHO_STAGE: the guest-RAM pattern did not survive"
	grep -q "after adoption: FIFO gave \"$1\" in order" /tmp/vmm.log ||
		{ cat /tmp/vmm.log; khotest_fail "stage $KHO_STAGE: the mtty's FIFO did not give \"$1\" back in order"; }
	! grep -q 'kho-record: ' /tmp/vmm.log ||
		khotest_fail "stage $KHO_STAGE: the recorder could not take over the adopted devices"
}

# khotest_mdev_cdev UUID: the VFIO cdev of an mdev, /dev/vfio/devices/vfioN.
khotest_mdev_cdev() {
	local d

	for d in /sys/bus/mdev/devices/"$1"/vfio-dev/vfio*; do
		[ -e "$d" ] && { echo "/dev/vfio/devices/${d##*/}"; return 0; }
	done
	khotest_fail "mdev $1 has no VFIO cdev (CONFIG_VFIO_DEVICE_CDEV?)"
}
