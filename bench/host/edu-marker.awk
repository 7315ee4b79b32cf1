# SPDX-License-Identifier: GPL-2.0
# The window markers in a QEMU trace: a guest brackets each timed window
# with a 4-byte write of 0x6b680000 | round << 4 | phase to offset 0xfc
# of the edu device's PCI config space (bench/guest/order-loop.c, and
# bench/guest/order-agent.sh around the restore-agent's restores), which
# the pci_cfg_write trace event shows beside the VT-d invalidations.
# Loaded before the script that counts per window:
#   awk -f bench/host/edu-marker.awk -f - TRACE
# and read by it as:
#   edu_marker() { ... edu_phase, edu_round ...; next }

# hex S: the value of the hexadecimal digits S (no 0x; mawk has no strtonum).
function hex(s,   i, v) {
	v = 0
	for (i = 1; i <= length(s); i++)
		v = v * 16 + index("0123456789abcdef", tolower(substr(s, i, 1))) - 1
	return v
}

# edu_marker: 1 when the current line is a marker, with its phase and
# round in edu_phase and edu_round; else 0.
function edu_marker(   v) {
	if ($0 !~ /^pci_cfg_write edu .*@0xfc <- 0x6b68/)
		return 0
	v = hex(substr($NF, 7))
	edu_phase = v % 16
	edu_round = int(v / 16)
	return 1
}
