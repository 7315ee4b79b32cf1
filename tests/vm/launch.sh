#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Boots one kho-tool test guest under QEMU and judges it by its serial log:
# the launcher every VM suite and `make demo` go through.
#
# usage: launch.sh --name NAME --script GUEST_SCRIPT
#                  [--kernel vanilla|patched|PATH] [--file HOST:GUEST]...
#                  [--append "ARGS"] [--timeout SEC] [--expect MARKER]...
#                  [--qemu-arg ARG]... [--initrd BASE] [--exact-marks]
#                  [--host-image khotest-init|systemd] [--ssh-port PORT]
#
# --exact-marks: the guest's markers must be exactly the --expect list; any
# other marker (an unexpected path through the script) fails.
#
# --initrd BASE boots BASE (e.g. a distro initrd with our files appended by
# initramfs/mkinitramfs.sh --append-to) instead of the rig's own image; the
# test script still rides in a segment appended behind it.
#
# --host-image INIT boots the rig's host image (tests/rig/host-image.sh disk:
# Debian sid with QEMU 11.1 and systemd) as an L1 host instead of the
# busybox guest: its ext4 disk as virtio-blk root=/dev/vda, read-only
# under QEMU's throw-away overlay (snapshot=on).  A small initramfs
# (tests/vm/host/init) mounts it, copies in our programs (/opt/kho/bin),
# the harness and /test, and switches to INIT: khotest-init (a shell PID 1
# that runs the script) or systemd (khotest.target runs it in a unit).
# Only --kernel's image is needed; --file GUEST paths must be under /test/.
#
# --ssh-port PORT makes the guest reachable by SSH on 127.0.0.1:PORT of the
# host (tests/vm/130): the rig's kernels have no network driver, so the
# port is QEMU's, a socket chardev behind a second 16550 (the guest's
# ttyS1), and the guest relays that line to `sshd -i`
# (tests/vm/guest/serial-sshd.py).  One connection at a time, as a serial
# line carries one stream: use SSH connection sharing (ControlMaster).
#
# Exit 0 only if every --expect marker appeared in order, the guest printed
# "KHOTEST: DONE" and nothing failed; otherwise 1 after saying why and
# printing the last serial lines (2: usage error, or the rig cannot run).
#
# env: BUILD               build dir with bin/ and lib/ (default build)
#      KHO_VM_LOGDIR       serial logs (default $BUILD/vm-logs)
#      KHO_ACCEL           QEMU accelerator (default tcg: KVM hangs here)
#      KHO_QEMU            QEMU binary (default qemu-system-x86_64)
#      KHO_KERNEL_VANILLA, KHO_KERNEL_PATCHED
#                          a bzImage or kernel build dir to use instead of
#                          tests/rig/build-kernel.sh's for that flavour
#      KHO_CACHE           kernel cache (default ~/.cache/kho-tool)
set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD:-build}
case "$build" in /*) ;; *) build="$top/$build" ;; esac
logdir=${KHO_VM_LOGDIR:-$build/vm-logs}
accel=${KHO_ACCEL:-tcg}
qemu=${KHO_QEMU:-qemu-system-x86_64}

name=
script=
kernel=vanilla
timeout=180
append=
files=()
expects=()
qemu_args=()
base_override=
exact=0
host_init=
ssh_port=

usage() {
	echo "launch: $*" >&2
	echo "usage: launch.sh --name NAME --script FILE [--kernel vanilla|patched|PATH]" \
		"[--file HOST:GUEST]... [--append ARGS] [--timeout SEC]" \
		"[--expect MARKER]... [--qemu-arg ARG]... [--initrd BASE] [--exact-marks]" \
		"[--host-image khotest-init|systemd] [--ssh-port PORT]" >&2
	exit 2
}

while [ $# -gt 0 ]; do
	if [ "$1" = --exact-marks ]; then
		exact=1
		shift
		continue
	fi
	[ $# -ge 2 ] || usage "$1 wants a value"
	case "$1" in
	--name) name=$2 ;;
	--script) script=$2 ;;
	--kernel) kernel=$2 ;;
	--file) files+=("$2") ;;
	--append) append=$2 ;;
	--timeout) timeout=$2 ;;
	--expect) expects+=("$2") ;;
	--qemu-arg) qemu_args+=("$2") ;;
	--initrd) base_override=$2 ;;
	--host-image) host_init=$2 ;;
	--ssh-port) ssh_port=$2 ;;
	*) usage "unknown argument '$1'" ;;
	esac
	shift 2
done
[ -n "$name" ] || usage "no --name"
[ -n "$script" ] || usage "no --script"
[ -r "$script" ] || usage "cannot read guest script $script"
case "$timeout" in ''|*[!0-9]*) usage "--timeout wants seconds, got '$timeout'" ;; esac
case "$host_init" in
''|khotest-init|systemd) ;;
*) usage "--host-image wants khotest-init or systemd, got '$host_init'" ;;
esac
[ -z "$host_init" ] || [ -z "$base_override" ] || usage "--host-image and --initrd exclude each other"
case "$ssh_port" in
'') ;;
*[!0-9]*) usage "--ssh-port wants a TCP port, got '$ssh_port'" ;;
*)
	[ "$ssh_port" -ge 1024 ] && [ "$ssh_port" -le 65535 ] ||
		usage "--ssh-port wants a port in 1024-65535, got '$ssh_port'"
	# The guest's ttyS1.  Both ports by -serial: a -device isa-serial
	# would turn off -nographic's console on ttyS0.
	qemu_args+=(-chardev "socket,id=ssh,host=127.0.0.1,port=$ssh_port,server=on,wait=off"
		-serial mon:stdio -serial chardev:ssh)
	;;
esac

# The rig cannot run: say so and fail.  Never skip: a suite that passes
# without booting anything proves nothing.
rig_broken() {
	echo "launch: $name: cannot run the VM: $*" >&2
	exit 2
}

command -v "$qemu" >/dev/null ||
	rig_broken "$qemu not found (install qemu-system-x86: make deps)"
if [ ! -x /bin/busybox ] || ldd /bin/busybox >/dev/null 2>&1; then
	rig_broken "no static /bin/busybox (install busybox-static: make deps)"
fi

# kernel_image FLAVOUR: the bzImage of a flavour, building it on a cache
# miss (the kernel builder locks, so parallel launches wait for one build).
kernel_image() {
	local flavour=$1 override dir

	case "$flavour" in
	vanilla) override=${KHO_KERNEL_VANILLA:-} ;;
	patched) override=${KHO_KERNEL_PATCHED:-} ;;
	esac
	if [ -n "$override" ]; then
		[ -d "$override" ] && override="$override/bzImage"
		[ -r "$override" ] || rig_broken "$flavour kernel $override: not readable"
		echo "$override"
		return
	fi
	dir=$("$top/tests/rig/build-kernel.sh" "$flavour") ||
		rig_broken "building the $flavour kernel failed"
	echo "$dir/bzImage"
}

# The host image needs only the kernel it boots; the busybox image carries
# both (for kexec), so it needs both built.
if [ -z "$host_init" ]; then
	vanilla=$(kernel_image vanilla) || exit 2
	patched=$(kernel_image patched) || exit 2
fi
case "$kernel" in
vanilla) boot=${vanilla:-$(kernel_image vanilla)} || exit 2 ;;
patched) boot=${patched:-$(kernel_image patched)} || exit 2 ;;
*)
	boot=$kernel
	[ -d "$boot" ] && boot="$boot/bzImage"
	[ -r "$boot" ] || rig_broken "kernel $kernel: not readable"
	;;
esac

mkdir -p "$logdir" "$build/vm" || rig_broken "cannot create $logdir"
log="$logdir/$name.log"
work=$(mktemp -d "${TMPDIR:-/tmp}/kho-vm.$name.XXXXXX")
trap 'rm -rf "$work"' EXIT

# host_initrd OUT: the L1 host guest's initramfs: busybox and
# tests/vm/host/init, which copies /opt/kho and /test into the disk's root.
host_initrd() {
	local h="$top/tests/vm/host" args b u f

	args=(--busybox /bin/busybox --init "$h/init"
		--file "$h/khotest-init:/opt/kho/khotest-init"
		--file "$h/khotest-run:/opt/kho/khotest-run"
		--file "$top/tests/vm/guest/lib.sh:/test/lib.sh"
		--file "$script:/test/script.sh")
	for u in "$h"/systemd/*; do
		args+=(--file "$u:/opt/kho/systemd/${u##*/}")
	done
	# sid's root has every library these link (libfdt, libelf, zlib,
	# xz, zstd) and a newer libc: the binaries go in alone.
	for b in "$build"/bin/*; do
		[ -f "$b" ] && [ -x "$b" ] && args+=(--file "$b:/opt/kho/bin/${b##*/}")
	done
	[ -f "$build/lib/libkho-record.so" ] &&
		args+=(--file "$build/lib/libkho-record.so:/opt/kho/lib/libkho-record.so")
	for f in "${files[@]}"; do
		case "$f" in *:/test/*) ;; *) usage "--host-image: --file wants HOST:/test/..., got '$f'" ;; esac
		args+=(--file "$f")
	done
	"$top/initramfs/mkinitramfs.sh" -o "$1" "${args[@]}"
}

if [ -n "$host_init" ]; then
	disk=$("$top/tests/rig/host-image.sh" disk) ||
		rig_broken "building the host image's disk failed"
	host_initrd "$work/initrd.img" ||
		rig_broken "building the host guest's initramfs failed"
	qemu_args=(-drive "file=$disk,if=virtio,format=raw,snapshot=on" "${qemu_args[@]}")
	case "$host_init" in
	khotest-init) append="init=/opt/kho/khotest-init $append" ;;
	# firstboot would prompt on the console for a locale and a root
	# password: the image is a fresh debootstrap.
	systemd) append="init=/lib/systemd/systemd systemd.unit=khotest.target systemd.firstboot=off $append" ;;
	esac
	append="root=/dev/vda vfio_pci.ids=1234:11e8 $append"
fi

# The base image (busybox, /init, our binaries, both kernels) is the same
# for every test of a run: rebuild it only when an input is newer.  The
# test's own script and files ride in a second cpio segment behind it,
# which is also how a real host appends the restore-agent to its initrd.
base="$build/vm/initramfs-base.cpio"
inputs=("$top/initramfs" "$top/tests/vm/guest/lib.sh" "${vanilla:-}" "${patched:-}"
	"$build/bin" "$build/lib")
# Which kernels went in: switching KHO_KERNEL_* to an older image must
# rebuild too, which mtimes alone would miss.
key=
[ -n "$host_init" ] || key=$(stat -L -c '%n %s %Y' "$vanilla" "$patched")
stale=0
if [ -n "$host_init" ]; then
	:
elif [ ! -s "$base" ] || [ "$key" != "$(cat "$base.key" 2>/dev/null)" ]; then
	stale=1
elif [ -n "$(find "${inputs[@]}" -newer "$base" 2>/dev/null | head -n 1)" ]; then
	stale=1
fi
if [ -n "$host_init" ]; then
	:
elif [ -n "$base_override" ]; then
	[ -r "$base_override" ] || usage "cannot read --initrd $base_override"
	base=$base_override
elif [ "$stale" = 1 ]; then
	args=(--busybox /bin/busybox --init "$top/initramfs/init"
		--file "$top/tests/vm/guest/lib.sh:/test/lib.sh"
		--file "$vanilla:/boot/vmlinuz-vanilla"
		--file "$patched:/boot/vmlinuz-patched")
	for b in "$build"/bin/*; do
		[ -f "$b" ] && [ -x "$b" ] && args+=(--bin "$b")
	done
	[ -f "$build/lib/libkho-record.so" ] &&
		args+=(--bin "$build/lib/libkho-record.so:/usr/lib/kho-tool/libkho-record.so")
	kexec=$(command -v kexec || true)
	[ -n "$kexec" ] && args+=(--bin "$kexec:/usr/sbin/kexec")
	for h in "$top"/initramfs/init.d/*; do
		[ -f "$h" ] && args+=(--file "$h:/etc/kho/init.d/${h##*/}")
	done
	"$top/initramfs/mkinitramfs.sh" -o "$base" "${args[@]}" ||
		rig_broken "building the guest initramfs failed"
	echo "$key" > "$base.key"
fi

if [ -z "$host_init" ]; then
	args=(--append-to "$base" --file "$script:/test/script.sh")
	for f in "${files[@]}"; do
		case "$f" in *:/*) ;; *) usage "--file wants HOST:/GUEST, got '$f'" ;; esac
		args+=(--file "$f")
	done
	"$top/initramfs/mkinitramfs.sh" -o "$work/initrd.img" "${args[@]}" ||
		rig_broken "building the test's initramfs segment failed"
fi

# no_timer_check: under TCG on a loaded host the IO-APIC timer check at
# boot can miss its window and panic ("timer doesn't work through
# Interrupt-remapped IO-APIC"); the check proves nothing about our code.
# kho_scratch: by default KHO sizes its scratch areas at 200% of what the
# kernel reserved at boot, each contiguous.  In a 1 GiB guest with a large
# initrd, where KASLR puts the kernel decides whether the per-node one
# fits: 13 boots of 60 lost KHO, and with it /dev/liveupdate ("KHO: Failed
# to reserve nid 0 scratch buffer"), with a 47 MB initrd; 0 of 50 with these
# sizes.  KASAN's kernels need them too: its shadow is part of the default.
# kho-tool keeps the running command line, so it carries over every kexec.
cmdline="console=ttyS0 intel_iommu=on no_timer_check kho=on liveupdate=on kho_scratch=32M,192M,32M khotest.stage=1 panic=-1"
# The guest's hang report (khotest_watchdog) comes this long before the
# timeout: a twentieth of it, from 5 to 90 s.
margin=$((timeout / 20))
[ "$margin" -ge 5 ] || margin=5
[ "$margin" -le 90 ] || margin=90
cmdline="$cmdline khotest.deadline=$(($(date +%s) + timeout - margin))"
[ -z "$append" ] || cmdline="$cmdline $append"

# panic=-1 reboots at once on a panic and -no-reboot turns that reboot
# into QEMU's exit, so a crashed guest never waits for the timeout.
# shellcheck disable=SC2054 # the commas belong to QEMU's option syntax
qemu_cmd=("$qemu" -accel "$accel"
	-machine q35,kernel-irqchip=split
	-device intel-iommu,intremap=on,caching-mode=on
	-device edu
	-m 1G -smp 1 -nographic -no-reboot
	-kernel "$boot" -initrd "$work/initrd.img" -append "$cmdline"
	"${qemu_args[@]}")

start=$(date +%s.%N)
# -k: a QEMU that ignores SIGTERM is killed 5 s later.
timeout -k 5 "$timeout" "${qemu_cmd[@]}" < /dev/null > "$log" 2> "$work/qemu.err"
rc=$?
elapsed=$(printf '%.1f' "$(echo "$(date +%s.%N) - $start" | bc)")
# Serial output has CRLF line ends.
sed -i 's/\r$//' "$log"

fail() {
	local said

	echo "launch: $name: FAIL: $*" >&2
	# KHO's and LUO's own warnings come at boot, far above the last
	# lines: a CI summary keeps only what is printed here (stop 22's CI
	# lost "KHO: Failed to reserve nid 0 scratch buffer" that way).
	said=$(grep -a -E '^(\[ *[0-9.]+\] )?(KHO|luo): .*([Ff]ail|[Dd]isabl|[Ee]rror|invalid|broken)' "$log" | head -n 8)
	[ -z "$said" ] || {
		echo "launch: $name: the kernel's KHO/LUO warnings:" >&2
		printf '%s\n' "$said" | sed 's/^/    | /' >&2
	}
	echo "launch: $name: serial log $log; last 30 lines:" >&2
	tail -n 30 "$log" | sed 's/^/    | /' >&2
	exit 1
}

# hang_summary: one line from the guest's hang report (khotest_watchdog)
# for the failure, which is all a CI summary keeps: the stage and last
# mark it reached, and the tasks blocked in its kernel.
hang_summary() {
	local stage mark blocked

	stage=$(grep -a -o 'KHOTEST: BOOT stage=[0-9]*' "$log" | tail -n 1)
	mark=$(grep -a -o 'KHOTEST: MARK .*' "$log" | tail -n 1)
	printf '; stage %s, last mark %s' "${stage#*=}" "${mark#KHOTEST: MARK }"
	if ! grep -aq 'KHOTEST: HANG' "$log"; then
		printf '; no hang report from the guest (its kernel or console stopped)'
		return
	fi
	blocked=$(sed -n '/KHOTEST: HANG/,$p' "$log" | grep -a -o 'task:[^ ]*' |
		sed 's/^task://' | sort -u | tr '\n' ' ')
	printf '; blocked in the kernel: %s' "${blocked:-none}"
}

if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
	fail "timed out after $timeout s (guest hung)$(hang_summary); its report: the lines from 'KHOTEST: HANG' in the serial log"
fi
if [ "$rc" -ne 0 ]; then
	echo "launch: $name: QEMU exited with status $rc:" >&2
	sed 's/^/    qemu: /' "$work/qemu.err" >&2
	fail "QEMU failed (status $rc)"
fi
panic=$(grep -m1 -a 'Kernel panic' "$log")
[ -z "$panic" ] || fail "guest kernel panicked: ${panic#*] }"
failure=$(grep -m1 -a 'KHOTEST: FAIL' "$log")
[ -z "$failure" ] || fail "guest reported: ${failure#*KHOTEST: FAIL }"

# Every expected marker, in the order given; a marker out of order counts
# as missing.
i=0
n=${#expects[@]}
while read -r mark; do
	[ "$i" -lt "$n" ] && [ "$mark" = "${expects[$i]}" ] && i=$((i + 1))
done < <(grep -a -o 'KHOTEST: MARK .*' "$log" | sed 's/^KHOTEST: MARK //')
if [ "$i" -lt "$n" ]; then
	seen=$(grep -a -o 'KHOTEST: MARK .*' "$log" | sed 's/^KHOTEST: MARK //' | paste -sd' ')
	fail "marker '${expects[$i]}' missing or out of order (expected: ${expects[*]}; seen: ${seen:-none})"
fi
if [ "$exact" = 1 ]; then
	seen=$(grep -a -o 'KHOTEST: MARK .*' "$log" | sed 's/^KHOTEST: MARK //' | paste -sd' ')
	[ "$seen" = "${expects[*]}" ] ||
		fail "unexpected marker (expected exactly: ${expects[*]}; seen: ${seen:-none})"
fi
grep -q -a 'KHOTEST: DONE' "$log" ||
	fail "guest powered off without printing KHOTEST: DONE"

echo "launch: $name: ok in $elapsed s (kernel $(basename "$(dirname "$boot")"), log $log)"
exit 0
