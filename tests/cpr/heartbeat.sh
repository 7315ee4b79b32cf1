# SPDX-License-Identifier: GPL-2.0
# The cpr payload's heartbeat (tests/cpr/payload.c: "hb N ok" lines on its
# serial port) across a move from an old QEMU to a new one, sourced by
# tests/cpr/roundtrip.sh and, in the host image, by host-l2.sh (POSIX sh).
# The guest writes each line one byte at a time, so the stop can cut a
# line in two: "hb 6" in the old QEMU's serial log, " ok" in the new
# one's.  That line is the new QEMU's beat: the old one's last is the
# last line its log ends, and the new one's first is read from the cut
# part joined to the new log.

# hb_last FILE: the last heartbeat of a line FILE ends.
hb_last() {
	if [ -n "$(tail -c 1 "$1")" ]; then sed '$d' "$1"; else cat "$1"; fi |
		grep -oE '^hb [0-9]+' | tail -n 1 | cut -d' ' -f2
}

# hb_first NEW [OLD]: the first heartbeat of NEW, the log of the QEMU that
# took the guest over from the one that wrote OLD.
hb_first() {
	{
		[ -z "${2:-}" ] || [ -z "$(tail -c 1 "$2")" ] || tail -n 1 "$2"
		cat "$1"
	} | grep -oE '^hb [0-9]+' | head -n 1 | cut -d' ' -f2
}
