# SPDX-License-Identifier: GPL-2.0
# Shared by the demos (tests/vm/demo.sh, demo-qemu.sh): the host's clock
# on the serial line, the one clock that runs through a guest's kexec.
# demo_init sets $log (launch.sh's serial log) and $stamped.

# Stamp serial lines on arrival.  launch.sh truncates the log when QEMU
# starts; tail -F follows it through that.  The stamper (tail and the loop)
# is a process group of its own, ended on every way out of this script.
stamp_serial() {
	tail -F -n +1 "$log" 2>/dev/null | while IFS= read -r line; do
		printf '%s %s\n' "$(date +%s.%N)" "${line%$'\r'}"
	done > "$stamped"
}

# stamp_of PATTERN: the host time of the first stamped line matching it.
stamp_of() {
	grep -a -m1 -- "$1" "$stamped" | cut -d' ' -f1
}

# steps JSON: one "  name  N ms" line per step of a timeline JSON object
steps() {
	grep -a -o '"step":"[^"]*","[a-z_]*ms":[0-9.]*\(,"ms":[0-9.]*\)\?' |
		sed 's/"step":"\([^"]*\)".*"ms":\([0-9.]*\)$/\1 \2/' |
		while read -r step ms; do printf '  %-18s %10.1f ms\n' "$step" "$ms"; done
}

# demo_init NAME: $BUILD made absolute, $log and $stamped under the VM
# log directory, and both kernels (KHO_KERNEL_VANILLA / KHO_KERNEL_PATCHED,
# a kernel dir or image as for tests/vm/run.sh, skip that flavour's build).
# Needs $top.  Exits 2 if a kernel cannot be built.
demo_init() {
	local logdir flavour var kdir

	export BUILD=${BUILD:-build}
	case "$BUILD" in /*) ;; *) BUILD="$top/$BUILD" ;; esac
	logdir=${KHO_VM_LOGDIR:-$BUILD/vm-logs}
	log="$logdir/$1.log"
	stamped="$logdir/$1.stamped.log"
	mkdir -p "$logdir"
	echo "$1: kernels (cached after the first build, ~6 min each otherwise)"
	for flavour in vanilla patched; do
		var=KHO_KERNEL_${flavour^^}
		[ -n "${!var:-}" ] && continue
		kdir=$("$top/tests/rig/build-kernel.sh" "$flavour") || exit 2
		export "$var=$kdir"
	done
}

# demo_launch LAUNCH-ARGS...: tests/vm/launch.sh --name $name with the
# serial stamped while it runs; sets rc (launch.sh's status, or 1 if a
# process the demo started outlived it).  Needs procs.bash.
demo_launch() {
	local tag=$name-$$ left

	stamper=
	trap 'helper_stop "$stamper"' EXIT
	trap 'exit 130' INT TERM HUP
	: > "$log"
	HELPER_TAG=$tag helper_start stamper stamp_serial
	"$top/tests/vm/launch.sh" --name "$name" "$@"
	rc=$?
	sleep 0.5
	helper_stop "$stamper"
	stamper=
	# Nothing the demo started may outlive it.
	left=$(procs_tagged "$tag")
	if [ -n "$left" ]; then
		echo "$name: FAILED: processes left behind: $(echo $left)" >&2
		rc=1
	fi
}
