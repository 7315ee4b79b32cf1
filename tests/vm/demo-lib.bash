# SPDX-License-Identifier: GPL-2.0
# Shared by the demos (tests/vm/demo.sh, demo-qemu.sh): the host's clock
# on the serial line, the one clock that runs through a guest's kexec.
# The caller sets $log (launch.sh's serial log) and $stamped.

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

