# SPDX-License-Identifier: GPL-2.0
# Shared helpers of the VM suites (load'ed by every tests/vm/*.bats): boot a
# guest through launch.sh and assert on its outcome and serial log.
#
# Conventions, as in podman's system tests: run_vm sets $status, $output
# and $VM_LOG; assertions die with the expected and the actual value.

KHO_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VM_DIR="$KHO_TOP/tests/vm"
GUEST_DIR="$VM_DIR/guest"
export BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD="$KHO_TOP/$BUILD" ;; esac
export KHO_VM_LOGDIR=${KHO_VM_LOGDIR:-$BUILD/vm-logs}

. "$VM_DIR/procs.bash"

# Every process a test starts through run_vm carries this tag in its
# environment (launch.sh, QEMU, a stamper): teardown finds what is left.
VM_PROC_TAG=kho-vm-$$-${BATS_TEST_NUMBER:-0}

# A test name fit for a file name: suite number + test number.
vm_name() {
	local suite=${BATS_TEST_FILENAME##*/}

	echo "${suite%.bats}-${BATS_TEST_NUMBER}${1:+-$1}"
}

# run_vm [launch.sh args...]: boot a guest, record its outcome.  --name
# defaults to the test's own; the serial log is then $VM_LOG.
run_vm() {
	local args=("$@") name="" i

	for ((i = 0; i < ${#args[@]}; i++)); do
		[ "${args[i]}" = --name ] && name=${args[i + 1]}
	done
	if [ -z "$name" ]; then
		name=$(vm_name)
		args=(--name "$name" "${args[@]}")
	fi
	VM_LOG="$KHO_VM_LOGDIR/$name.log"
	run env KHO_PROC_TAG="$VM_PROC_TAG" "$VM_DIR/launch.sh" "${args[@]}"
	# Shown by bats only when the test fails.
	echo "$output"
}

die() {
	echo "# FAIL: $*" >&2
	false
}

# A launch.sh that cannot run QEMU (status 2) is a failure with its reason,
# never a skip: see docs/testing.md.
assert_vm_ok() {
	[ "$status" -eq 0 ] || die "guest failed (launch.sh status $status): see output above"
}

# assert_vm_fails PATTERN: the launch failed as a guest failure (status 1,
# not a usage or rig error) and said PATTERN (an extended regex).
assert_vm_fails() {
	[ "$status" -eq 1 ] ||
		die "expected launch.sh to fail the guest (status 1), got status $status"
	grep -Eq -- "$1" <<<"$output" ||
		die "launch.sh output does not say /$1/"
}

# assert_log PATTERN: the serial log of the last run_vm matches (ERE).
assert_log() {
	grep -Eaq -- "$1" "$VM_LOG" || die "serial log $VM_LOG does not match /$1/"
}

# log_value KEY: the last "KHOTEST: LOG KEY=VALUE" of the serial log.
log_value() {
	grep -a -o "KHOTEST: LOG $1=.*" "$VM_LOG" | tail -n 1 | sed "s/^KHOTEST: LOG $1=//"
}

# kernel_image FLAVOUR: the bzImage of any build-kernel.sh flavour
# (KHO_KERNEL_<FLAVOUR> as set by run.sh or the user, with - and . as _,
# e.g. KHO_KERNEL_PATCHED_7_3_4; else the cached build).
kernel_image() {
	local var=${1^^} img

	var=KHO_KERNEL_${var//[.-]/_}
	img=${!var:-}
	[ -n "$img" ] || img=$("$KHO_TOP/tests/rig/build-kernel.sh" "$1") || return 1
	[ -d "$img" ] && img="$img/bzImage"
	echo "$img"
}

# kernel_release FLAVOUR: what uname -r prints under that kernel.
kernel_release() {
	local img

	img=$(kernel_image "$1") || return 1
	kernel_release_of "$img"
}

# kernel_release_of BZIMAGE: the release a bzImage boots, read from its
# setup header (kernel_version: a 16-bit pointer at 0x20e, relative to
# 0x200), so the suites also hold for your own kernels.
kernel_release_of() {
	local off

	off=$(od -An -tu2 -j $((0x20e)) -N2 "$1" | tr -d ' ')
	dd if="$1" bs=1 skip=$((off + 0x200)) count=256 2>/dev/null |
		tr '\0' '\n' | head -n 1 | cut -d' ' -f1
}

# bad_vmlinux: a vmlinux that declares LUO ABI luo-v9 instead of luo-v5:
# a kernel that could not restore a 7.2 hand-off (tests/vm/060, 130).
bad_vmlinux() {
	local dir out=$BATS_FILE_TMPDIR/vmlinux-luo-v9

	dir=$("$KHO_TOP/tests/rig/build-kernel.sh" vanilla) || die "no vanilla kernel"
	perl -0777 -pe 's/\x00luo-v5\x00/\x00luo-v9\x00/g' < "$dir/vmlinux" > "$out"
	! grep -qa 'luo-v5' "$out" || die "luo-v5 still in $out"
	echo "$out"
}

# debug_kernel [vanilla|patched]: the build dir of that kernel's debug
# flavour (KASAN, kmemleak, lockdep, DEBUG_VM, the KHO test; patched by
# default), KHO_KERNEL_{PATCHED,VANILLA}_DEBUG or the cached build.
debug_kernel() {
	local flavour=${1:-patched}-debug var

	var=KHO_KERNEL_${flavour^^}
	var=${var//-/_}
	if [ -z "${!var:-}" ]; then
		printf -v "$var" '%s' "$("$KHO_TOP/tests/rig/build-kernel.sh" "$flavour")" &&
			[ -n "${!var}" ] || return 1
		export "${var?}"
	fi
	echo "${!var}"
}

# run_debug_round_trip SCRIPT [run_vm option]...: SCRIPT on vanilla-debug,
# kexecing to patched-debug and back (/test/kexec.env gives it target= and
# source=, the two kernels' paths in /boot), and both kexecs seen in the
# log.  The debug twins are the rig's only kernels with mtty and
# MEMORY_FAILURE (tests/rig/kernel-debug.config).
run_debug_round_trip() {
	local script=$1 vdbg pdbg

	shift
	vdbg=$(debug_kernel vanilla) ||
		die "no vanilla-debug kernel: building it failed (tests/rig/build-kernel.sh vanilla-debug)"
	pdbg=$(debug_kernel patched) ||
		die "no patched-debug kernel: building it failed (tests/rig/build-kernel.sh patched-debug)"
	printf 'target=/boot/vmlinuz-patched-dbg\nsource=/boot/vmlinuz-vanilla-dbg\n' \
		> "$BATS_TEST_TMPDIR/kexec.env"
	run_vm --kernel "$vdbg/bzImage" --script "$script" --timeout 1200 \
		--file "$BATS_TEST_TMPDIR/kexec.env:/test/kexec.env" \
		--file "$pdbg/bzImage:/boot/vmlinuz-patched-dbg" \
		--file "$vdbg/bzImage:/boot/vmlinuz-vanilla-dbg" "$@"
	assert_vm_ok
	assert_log 'KHOTEST: LOG kernel=7\.2\.13-kho-a-dbg'
	assert_log 'KHO: exec from: 7\.2\.13-kho-a-dbg'
	assert_log 'KHO: exec from: 7\.2\.13-kho-b-dbg'
}

# assert_kernel_clean: the serial log of the last run_vm holds no report of
# lockdep, the hung-task detector, KASAN or a kernel BUG/WARNING.
assert_kernel_clean() {
	local re='WARNING: (possible|inconsistent|suspicious|bad unlock)|INFO: task .* blocked for more than|BUG: |------------\[ cut here \]------------'

	! grep -Eaq -- "$re" "$VM_LOG" ||
		die "the kernel reported: $(grep -Ea -m1 -A3 -- "$re" "$VM_LOG")"
}

# Leak check, as podman's system tests check for leftover containers: no
# process a test started (run_vm, or anything run with KHO_PROC_TAG set to
# $VM_PROC_TAG) may outlive it.  Leftovers get 5 s to exit, are then
# killed, and fail the test by pid and name.  A suite that defines its own
# teardown calls vm_teardown from it.
vm_teardown() {
	local left i

	for ((i = 0; i < 50; i++)); do
		left=$(procs_tagged "$VM_PROC_TAG")
		[ -n "$left" ] || return 0
		sleep 0.1
	done
	kill -KILL $(cut -d' ' -f1 <<<"$left") 2>/dev/null
	die "processes left behind by this test: $(tr '\n' ';' <<<"$left")"
}

teardown() {
	vm_teardown
}
