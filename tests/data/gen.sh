#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Regenerates tests/data/good and tests/data/bad from the annotated
# examples in fdt-schema/examples.  The blobs are committed on purpose: they
# pin format version 1, so a later reader that stops accepting today's
# blobs fails `make check-unit` and `make check-schema`.  Format 2 (the
# preserved iommufd's node) is pinned by verified-edu-vm the same way.  Run this only when
# the format deliberately changes, then review the diff.
#
# usage: tests/data/gen.sh [BUILD]   (BUILD holds lib/libkho.a; default build)
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${1:-build}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cc -O2 -Ilib -o "$tmp/stamp" tests/data/stamp.c "$BUILD/lib/libkho.a" \
	-lfdt -lz

# good: every example, as dtc makes it.  The crc32 written in each .dts must
# be the one it stamps to, so the examples themselves are valid hand-offs.
: > tests/data/good/LIST
for dts in fdt-schema/examples/*.dts; do
	name=$(basename "${dts%.dts}")
	dtc -q -I dts -O dtb -o "tests/data/good/$name.dtb" "$dts"
	want=$(sed -n 's/^\s*crc32 = <\(0x[0-9a-f]*\)>;.*/\1/p' "$dts")
	cp "tests/data/good/$name.dtb" "$tmp/s.dtb"
	got=$("$tmp/stamp" "$tmp/s.dtb")
	if [ "$want" != "$got" ]; then
		echo "gen: $dts: crc32 is $want, must be $got: edit the .dts" >&2
		exit 1
	fi
	echo "$name.dtb" >> tests/data/good/LIST
done

# bad: edu-vm.dts with one defect each.  NAME STAMP SED-EXPRESSION: STAMP
# "yes" recomputes the crc32 so that the defect, not the sum, is what the
# validator must find.
base=fdt-schema/examples/edu-vm.dts
bad() {
	local name=$1 stamp=$2 expr=$3 from=${4:-$base}
	sed -e "$expr" "$from" > "$tmp/$name.dts"
	if cmp -s "$from" "$tmp/$name.dts"; then
		echo "gen: $name: the edit changed nothing" >&2
		exit 1
	fi
	dtc -q -I dts -O dtb -o "tests/data/bad/$name.dtb" "$tmp/$name.dts"
	[ "$stamp" = no ] || "$tmp/stamp" "tests/data/bad/$name.dtb" >/dev/null
}
bad wrong-compatible yes 's/"kho-tool,handoff-v1"/"kho-tool,handoff-v0"/'
bad min-reader-too-new yes 's/format-version = <1>/format-version = <8>/; s/min-reader-version = <1>/min-reader-version = <8>/'
bad wrong-format-version yes 's/format-version = <1>/format-version = <0>/'
bad checksum-mismatch no 's/0x0 0x1000000 0x0 0x100000/0x0 0x1000000 0x0 0x200000/; s/<0x0 0x100000  0x0 0x7f00000/<0x0 0x100000  0x0 0x7e00000/'
bad missing-property yes '/kernel-release = /d'
bad missing-node yes '/^\thwpts {/,/^\t};/d'
bad wrong-property-type yes 's|created = /bits/ 64 <1795428000>|created = <1795428000>|'
bad mapping-array-length yes 's/0x0 8  0x4>;/0x0 8  0x4 0x0>;/'
bad mapping-cells-too-small yes 's/mapping-cells = <9>/mapping-cells = <8>/'
bad overlapping-mappings yes 's/<0x0 0x8000000 0x0 0x100000 /<0x0 0x7ff0000 0x0 0x100000 /'
bad unsorted-mappings yes 's/<0x0 0x8100000 0x0 0x100000 /<0x0 0x0000000 0x0 0x100000 /'
bad empty-mapping yes 's/<0x0 0x8000000 0x0 0x100000 /<0x0 0x8000000 0x0 0x0      /'
bad mapping-unknown-memfd yes 's/0x0 7  0x6>/0x0 9  0x6>/'
bad mapping-past-memfd yes 's/0x0 0x100000  0x0 8  0x4>;/0x0 0x180000  0x0 8  0x4>;/'
bad mapping-unknown-flags yes 's/0x0 7  0x6>/0x0 7  0x7>/'
bad odd-allowed-iovas yes 's|allowed-iovas = /bits/ 64 <0x0 0xfffffff>|allowed-iovas = /bits/ 64 <0x0 0xfffffff 0x0>|'
bad unknown-op yes 's/<12 2 0 0 1 3  0 0 0 0 0 0>/<99 2 0 0 1 3  0 0 0 0 0 0>/'
bad reserved-cell-nonzero yes 's/<12 2 0 0 1 3  0 0 0 0 0 0>/<12 2 0 0 1 3  0 0 0 0 0 1>/'
bad record-array-length yes 's/<12 2 0 0 1 3  0 0 0 0 0 0>/<12 2 0 0 1 3  0 0 0 0 0>/'
bad slice-out-of-range yes 's/<16 1 0 3 /<16 1 1 3 /'
bad inline-data-mismatch yes 's|inline-data = /bits/ 64 <0x0 0xfffffff>|inline-data = /bits/ 64 <0x0 0xfffffff 0x0>|'
bad dangling-attached-pt yes 's/attached-pt = <3>/attached-pt = <9>/'
bad duplicate-id yes 's/id = <3>;/id = <1>;/; s/hwpt-3 {/hwpt-1 {/; s/attached-pt = <3>/attached-pt = <1>/'
bad pci-out-of-range yes 's/pci-address = <0x0 0x0 0x18>/pci-address = <0x0 0x100 0x18>/'
bad string-too-long yes 's/memfd-name = "guest-ram"/memfd-name = "guest-ram-0123456789012345678901234567890123456789012345678901234567890"/'
# Strings: printable ASCII only, and no "/" in kernel-release (issue #21:
# rollback kexecs /boot/vmlinuz-RELEASE, read back from a file of lines).
bad release-control-char yes 's/kernel-release = "7.2.13"/kernel-release = "7.2.13\\n\/boot\/evil"/'
bad release-names-directory yes 's/kernel-release = "7.2.13"/kernel-release = "..\/..\/tmp\/evil"/'
bad memfd-name-terminal-escape yes 's/memfd-name = "guest-ram"/memfd-name = "guest-ram\\x1b[2J"/'
bad driver-control-char yes 's/driver = "vfio-pci"/driver = "vfio\\tpci"/'
# The preserved iommufd's node (format 2): verified-edu-vm.dts, one defect.
v=fdt-schema/examples/verified-edu-vm.dts
bad iommufd-min-reader-1 yes 's/min-reader-version = <2>/min-reader-version = <1>/' "$v"
bad iommufd-unknown-compatible yes 's/compatible = "iommufd-journal-v2"/compatible = "iommufd-journal-v1"/' "$v"
bad iommufd-token-is-memfd yes 's/token = \/bits\/ 64 <0x6b686f2d696f6d6d>/token = \/bits\/ 64 <7>/' "$v"
bad iommufd-file-unknown-memfd yes 's/1042 8>/1042 9>/' "$v"
bad iommufd-file-twice yes 's/1042 8>/1042 7>/' "$v"
bad iommufd-file-tokens-length yes 's/<1041 7  1042 8>/<1041 7  1042>/' "$v"
bad iommufd-missing-token yes '/token = \/bits\/ 64 <0x6b686f2d696f6d6d>/d' "$v"
bad iommufd-journal-length-too-big yes 's/journal-length = \/bits\/ 64 <57>;\t\/\* preserved/journal-length = \/bits\/ 64 <0x100000000>;\t\/* preserved/' "$v"
# The optional migration-flags of a device (issue #15): edu-vm-migration.dts.
m=fdt-schema/examples/edu-vm-migration.dts
bad migration-flags-no-stop-copy yes 's/migration-flags = <0x0>/migration-flags = <0x4>/' "$m"
bad migration-flags-length yes 's/migration-flags = <0x0>/migration-flags = \/bits\/ 64 <0x1>/' "$m"
# A device's carried state (format 4): vm-device-state.dts, one defect.
d=fdt-schema/examples/vm-device-state.dts
bad devstate-min-reader-3 yes 's/min-reader-version = <4>/min-reader-version = <3>/' "$d"
bad devstate-unknown-memfd yes 's|memfd-token = /bits/ 64 <9>|memfd-token = /bits/ 64 <10>|' "$d"
bad devstate-length-not-size yes 's|length = /bits/ 64 <0x1000>|length = /bits/ 64 <0x800>|' "$d"
bad devstate-flags-differ yes 's|flags = <0x7>;\t/\* as|flags = <0x3>;\t/* as|' "$d"
bad devstate-path-skips-arc yes 's/fsm-path = <2 6 7 3>/fsm-path = <2 6 3>/' "$d"
bad devstate-path-not-stop-copy yes 's/fsm-path = <2 6 7 3>/fsm-path = <2 6 7>/' "$d"
bad devstate-path-length yes 's|fsm-path = <2 6 7 3>|fsm-path = /bits/ 8 <2 6 7 3 0>|' "$d"
bad devstate-missing-crc yes '/crc32 = <472456355>/d' "$d"
bad devstate-memfd-is-mapped yes 's|memfd-token = /bits/ 64 <9>|memfd-token = /bits/ 64 <8>|; s|length = /bits/ 64 <0x1000>|length = /bits/ 64 <0x200000>|' "$d"
# A device's saved arcs as DEVICE_MIG_STATE records (format 7):
# vm-device-state-arcs.dts, one defect.
a=fdt-schema/examples/vm-device-state-arcs.dts
bad migop-min-reader-6 yes 's/min-reader-version = <7>/min-reader-version = <6>/' "$a"
bad migop-unknown-device yes 's/<17 2 2 6 /<17 5 2 6 /' "$a"
bad migop-arc-not-in-path yes 's/<17 2 6 7 /<17 2 6 3 /' "$a"
bad migop-token-differs yes 's/<17 2 2 6  0 0xc00   0 9 /<17 2 2 6  0 0xc00   0 8 /' "$a"
bad migop-length-not-node yes 's/<17 2 7 3  0 0x1000 /<17 2 7 3  0 0xfff  /' "$a"
bad migop-arc-missing yes '/<17 2 6 7 /d' "$a"
# A device named as an mdev (format 5): mtty-vm.dts, one defect.
t=fdt-schema/examples/mtty-vm.dts
bad mdev-min-reader-4 yes 's/format-version = <5>/format-version = <4>/; s/min-reader-version = <5>/min-reader-version = <4>/' "$t"
bad mdev-and-pci-address yes 's|mdev-parent = "mtty";|mdev-parent = "mtty"; pci-address = <0x0 0x0 0x18>;|' "$t"
bad mdev-type-path yes 's|mdev-type = "mtty-1";|mdev-type = "../mtty-1";|' "$t"
bad mdev-missing-parent yes '/mdev-parent = "mtty";/d' "$t"
bad mdev-uuid-length yes 's/mdev-uuid = \[83 b8 f4 f2 50 9f 38 2f 3c 1e e6 bf e0 fa 10 01\]/mdev-uuid = [83 b8 f4 f2 50 9f 38 2f 3c 1e e6 bf e0 fa 10]/' "$t"
bad mdev-bind-other-uuid yes 's/0x83b8f4f2 0x509f382f 0x3c1ee6bf 0xe0fa1001>/0x83b8f4f2 0x509f382f 0x3c1ee6bf 0xe0fa1002>/' "$t"
bad mdev-bind-of-pci yes 's/0x1234 0x11e8 0 2  0 0 0 0>/0x1234 0x11e8 0 2  0x83b8f4f2 0x509f382f 0x3c1ee6bf 0xe0fa1001>/; s/format-version = <1>/format-version = <5>/; s/min-reader-version = <1>/min-reader-version = <5>/'
# The poison node (format 6): poison-vm.dts, one defect.
x=fdt-schema/examples/poison-vm.dts
bad poison-min-reader-5 yes 's/min-reader-version = <6>/min-reader-version = <5>/' "$x"
bad poison-mapped yes 's/memfd-ranges = \/bits\/ 64 <7 0x200000 0x1000>/memfd-ranges = \/bits\/ 64 <7 0x1ff000 0x1000>/' "$x"
bad poison-unknown-memfd yes 's/memfd-ranges = \/bits\/ 64 <7 0x200000/memfd-ranges = \/bits\/ 64 <9 0x200000/' "$x"
bad poison-past-memfd yes 's/memfd-ranges = \/bits\/ 64 <7 0x200000 0x1000>/memfd-ranges = \/bits\/ 64 <8 0x200000 0x1000>/' "$x"
bad poison-unaligned yes 's/memfd-ranges = \/bits\/ 64 <7 0x200000 0x1000>/memfd-ranges = \/bits\/ 64 <7 0x200000 0x800>/' "$x"
bad poison-unsorted yes 's/memfd-ranges = \/bits\/ 64 <7 0x200000 0x1000>/memfd-ranges = \/bits\/ 64 <8 0x0 0x1000  7 0x200000 0x1000>/' "$x"
bad poison-ranges-length yes 's/memfd-ranges = \/bits\/ 64 <7 0x200000 0x1000>/memfd-ranges = \/bits\/ 64 <7 0x200000 0x1000 0>/' "$x"
bad poison-missing-ranges yes '/memfd-ranges = \/bits\/ 64 <7 0x200000 0x1000>;/d' "$x"
# The qemu-cpr node (format 3): qemu-cpr-two.dts, one defect.
q=fdt-schema/examples/qemu-cpr-two.dts
bad qemu-duplicate-name yes 's|"/tmp/cpr/b-qmp.sock"|"/tmp/cpr/a-qmp.sock"|' "$q"
bad qemu-shared-memfd yes 's|fd-tokens = /bits/ 64 <0x6b686f2d63707202>|fd-tokens = /bits/ 64 <0x6b686f2d63707200>|' "$q"
bad qemu-min-reader-2 yes 's/min-reader-version = <3>/min-reader-version = <2>/' "$q"

# Damage no dts can express: cut the good blob short, corrupt its header,
# append bytes past its totalsize.
good=tests/data/good/edu-vm.dtb
head -c 300 "$good" > tests/data/bad/truncated.dtb
printf '\xd0\x0d\xfe\xef' | cat - <(tail -c +5 "$good") > tests/data/bad/bad-magic.dtb
cat "$good" <(printf '\0\0\0\0') > tests/data/bad/trailing-bytes.dtb
: > tests/data/bad/empty.dtb
echo "gen: $(wc -l < tests/data/good/LIST) good, $(ls tests/data/bad/*.dtb | wc -l) bad"
