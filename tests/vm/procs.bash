# SPDX-License-Identifier: GPL-2.0
# Helper processes of the host-side scripts (demo.sh, bench/*-vm.sh, the
# VM suites): each is started in its own process group and tagged in its
# environment, so that it can be ended whole and a leak can be found.
#
#   helper_start VAR CMD...   run CMD in the background, its pgid in $VAR;
#                             with $HELPER_TAG set, tagged with it
#   helper_stop PGID          end that process group (TERM, then KILL)
#   procs_tagged TAG          pids whose environment holds KHO_PROC_TAG=TAG
#
# A pipeline in a background subshell is three processes: killing the
# subshell alone orphans the others (demo.sh's `tail -F` stamper outlived
# `make demo` by 85 minutes, issue #21), hence the process group.

helper_start() {
	local __var=$1 __m=$-

	shift
	# Job control only for this fork: a background job gets its own
	# process group, whose id is its pid.
	set -m
	(
		[ -z "${HELPER_TAG:-}" ] || export KHO_PROC_TAG=$HELPER_TAG
		"$@"
	) &
	printf -v "$__var" '%s' "$!"
	[[ $__m == *m* ]] || set +m
}

helper_stop() {
	local pgid=$1 i

	[ -n "$pgid" ] || return 0
	kill -TERM -- "-$pgid" 2>/dev/null || return 0
	for ((i = 0; i < 50; i++)); do
		kill -0 -- "-$pgid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL -- "-$pgid" 2>/dev/null || :
	wait "$pgid" 2>/dev/null || :
}

# procs_tagged TAG: every live process started with KHO_PROC_TAG=TAG in
# its environment, as "pid comm" lines (its environ is readable: root, or
# the same user).
procs_tagged() {
	local e pid

	# One grep over every environ (-z: NUL-separated entries).
	for e in $(grep -lzxF "KHO_PROC_TAG=$1" /proc/[0-9]*/environ 2>/dev/null); do
		pid=${e#/proc/}
		pid=${pid%/environ}
		[ "$pid" != "$$" ] && [ "$pid" != "$BASHPID" ] || continue
		[ -e "/proc/$pid" ] || continue
		echo "$pid $(cat "/proc/$pid/comm" 2>/dev/null)"
	done
}
