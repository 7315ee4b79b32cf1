#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The hand-off format, checked twice: dt-validate against
# fdt-schema/kho-tool-handoff.yaml and the C validator (`kho-tool validate`)
# on every example and every file in tests/data, held to agree with each
# other through tests/data/bad/EXPECTED.  Called by `make check-schema`.
# Ends with "schema: N passed, N failed"; exits non-zero on any failure.
#
# usage: fdt-schema/check.sh KHO_TOOL
set -u
cd "$(dirname "$0")/.."
KHO_TOOL=${1:?usage: fdt-schema/check.sh KHO_TOOL}
passed=0
failed=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

ok() { passed=$((passed + 1)); echo "ok - $*"; }
fail() { failed=$((failed + 1)); echo "not ok - $*"; }

for tool in dtc dt-validate dt-doc-validate dt-mk-schema python3; do
	if ! command -v "$tool" >/dev/null; then
		# A missing tool is a failure, never a skip: run `make deps`.
		echo "not ok - $tool is not installed (make deps)"
		echo "schema: 0 passed, 1 failed"
		exit 1
	fi
done

# The schema itself, against dt-schema's meta-schema.
if out=$(dt-doc-validate -u fdt-schema fdt-schema/kho-tool-handoff.yaml 2>&1) &&
   [ -z "$out" ]; then
	ok "dt-doc-validate kho-tool-handoff.yaml"
else
	fail "dt-doc-validate kho-tool-handoff.yaml: $out"
fi

# Process it with the core schemas, minus root-node.yaml: that one
# describes the root of a machine's devicetree (it requires model,
# #address-cells, #size-cells), and a hand-off blob is not one.
mkdir "$tmp/schemas"
cp fdt-schema/kho-tool-handoff.yaml "$tmp/schemas/"
if ! dt-mk-schema -j "$tmp/schemas" > "$tmp/all.json" 2> "$tmp/mk.err" ||
   ! python3 - "$tmp/all.json" "$tmp/processed.json" <<'PY'
import json, sys
schemas = json.load(open(sys.argv[1]))
del schemas['http://devicetree.org/schemas/root-node.yaml#']
json.dump(schemas, open(sys.argv[2], 'w'))
PY
then
	fail "dt-mk-schema: $(cat "$tmp/mk.err")"
	echo "schema: $passed passed, $failed failed"
	exit 1
fi

# dt-validate 2022.08 exits 0 even when it reports errors: judge it by its
# output.  reject: it reported the blob; accept: silent; unreadable: it
# could not parse the blob (a Python traceback).
dtv() {
	local out
	out=$(dt-validate -m -s "$tmp/processed.json" "$1" 2>&1)
	if [ -z "$out" ]; then
		echo accept
	elif grep -q '^Traceback' <<<"$out"; then
		echo unreadable
	else
		echo reject
		printf '%s\n' "$out" > "$tmp/dtv.last"
	fi
}

# Examples: dtc without warnings, dt-validate silent, the C validator
# content, and identical to the committed good blob of the same name.
for dts in fdt-schema/examples/*.dts; do
	name=$(basename "${dts%.dts}")
	blob="$tmp/$name.dtb"
	if ! dtc -I dts -O dtb -o "$blob" "$dts" 2> "$tmp/dtc.err" ||
	   [ -s "$tmp/dtc.err" ]; then
		fail "dtc $dts: $(cat "$tmp/dtc.err")"
		continue
	fi
	v=$(dtv "$blob")
	if [ "$v" = accept ]; then
		ok "dt-validate $dts"
	else
		fail "dt-validate $dts: $v: $(cat "$tmp/dtv.last" 2>/dev/null)"
	fi
	if msg=$("$KHO_TOOL" validate "$blob" 2>&1); then
		ok "kho-tool validate $dts"
	else
		fail "kho-tool validate $dts: $msg"
	fi
	if cmp -s "$blob" "tests/data/good/$name.dtb"; then
		ok "tests/data/good/$name.dtb is $dts compiled"
	else
		fail "tests/data/good/$name.dtb differs from $dts (tests/data/gen.sh)"
	fi
done

# Good data: both validators accept.
for blob in tests/data/good/*.dtb; do
	v=$(dtv "$blob")
	msg=$("$KHO_TOOL" validate "$blob" 2>&1)
	rc=$?
	if [ "$rc" -eq 0 ] && [ "$v" = accept ]; then
		ok "good $blob: both accept"
	else
		fail "good $blob: kho-tool exit $rc ($msg), dt-validate $v"
	fi
done

# Bad data: the C validator rejects each with its documented text, exit 1;
# dt-validate says what the table says it says.
declare -A listed
while IFS=$'\t' read -r file eno want_dtv text; do
	case "$file" in '#'* | '') continue ;; esac
	listed[$file]=1
	blob=tests/data/bad/$file
	if [ ! -e "$blob" ]; then
		fail "bad $file: listed in EXPECTED but missing"
		continue
	fi
	msg=$("$KHO_TOOL" validate "$blob" 2>&1)
	rc=$?
	if [ "$rc" -eq 1 ] && grep -qF -- "$text" <<<"$msg" &&
	   grep -qF -- "($eno)" <<<"$msg"; then
		ok "bad $file: kho-tool validate: $eno"
	else
		fail "bad $file: kho-tool validate exit $rc: \"$msg\", expected 1, $eno, \"$text\""
	fi
	v=$(dtv "$blob")
	if [ "$v" = "$want_dtv" ]; then
		ok "bad $file: dt-validate: $v, as EXPECTED says"
	else
		fail "bad $file: dt-validate: $v, EXPECTED says $want_dtv"
	fi
done < tests/data/bad/EXPECTED
for blob in tests/data/bad/*; do
	file=$(basename "$blob")
	[ "$file" = EXPECTED ] && continue
	[ -n "${listed[$file]:-}" ] || fail "bad $file: not listed in EXPECTED"
done

# Exit codes of the CLI: unreadable input is 2, usage errors are 2.
"$KHO_TOOL" validate "$tmp/does-not-exist" >/dev/null 2>&1
rc=$?
[ "$rc" -eq 2 ] && ok "validate of a missing file exits 2" ||
	fail "validate of a missing file exits $rc, not 2"
"$KHO_TOOL" validate >/dev/null 2>&1
rc=$?
[ "$rc" -eq 2 ] && ok "validate without FILE exits 2" ||
	fail "validate without FILE exits $rc, not 2"
# --json is parseable, and says the same as the exit code.
for blob in tests/data/good/edu-vm.dtb tests/data/bad/unknown-op.dtb; do
	for cmd in validate inspect; do
		"$KHO_TOOL" "$cmd" --json "$blob" > "$tmp/out.json" 2>/dev/null
		rc=$?
		if [ "$cmd" = inspect ] && [ "$rc" -ne 0 ]; then
			[ ! -s "$tmp/out.json" ] && ok "inspect --json $blob: exit $rc, no output" ||
				fail "inspect --json $blob: exit $rc with output"
			continue
		fi
		if python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d.get("valid", True) == (sys.argv[2] == "0") else 1)' \
			"$tmp/out.json" "$rc"; then
			ok "$cmd --json $blob: JSON, agrees with exit $rc"
		else
			fail "$cmd --json $blob: not JSON or disagrees with exit $rc"
		fi
	done
done

# A carried device state (format 4): inspect shows it, in text and JSON.
blob=tests/data/good/vm-device-state.dtb
if "$KHO_TOOL" inspect "$blob" 2>&1 |
   grep -q 'migration stop-copy+p2p+pre-copy: state carried, 4096 bytes in memfd 9 (crc32 0x1c291ca3), saved RUNNING -> PRE_COPY -> PRE_COPY_P2P -> STOP_COPY$'; then
	ok "inspect $blob: the device's state carried, its size, memfd and FSM path"
else
	fail "inspect $blob: no 'state carried' line for device 2"
fi
if "$KHO_TOOL" inspect --json "$blob" > "$tmp/ds.json" 2>/dev/null &&
   python3 - "$tmp/ds.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))["devices"][0]
s = d["device_state"]
sys.exit(0 if d["state"] == "carried" and s["memfd_token"] == "0x9" and
         s["length"] == "0x1000" and s["flags"] == 7 and
         s["crc32"] == 0x1c291ca3 and
         s["fsm_path"] == ["RUNNING", "PRE_COPY", "PRE_COPY_P2P", "STOP_COPY"]
         else 1)
PY
then
	ok "inspect --json $blob: devices[0].device_state"
else
	fail "inspect --json $blob: devices[0].device_state missing or wrong"
fi

# The arcs it was saved along (format 7): `journal` shows each, and
# --json names the states.
blob=tests/data/good/vm-device-state-arcs.dtb
if "$KHO_TOOL" journal "$blob" 2>&1 |
   grep -q 'DEVICE_MIG_STATE dev 2 PRE_COPY_P2P -> STOP_COPY, 0x1000 bytes, memfd token 9$' &&
   "$KHO_TOOL" journal --compact "$blob" 2>&1 |
   grep -q 'DEVICE_MIG_STATE dev 2 RUNNING -> PRE_COPY, 0xc00 bytes, memfd token 9$'; then
	ok "journal $blob: the device's DEVICE_MIG_STATE arcs, compacted or not"
else
	fail "journal $blob: no DEVICE_MIG_STATE line for device 2"
fi
if "$KHO_TOOL" journal --json "$blob" > "$tmp/arcs.json" 2>/dev/null &&
   python3 - "$tmp/arcs.json" <<'PY'
import json, sys
r = [x for x in json.load(open(sys.argv[1])) if x["op"] == "DEVICE_MIG_STATE"]
sys.exit(0 if [(x["from"], x["to"], x["length"]) for x in r] == [
    ("RUNNING", "PRE_COPY", "0xc00"), ("PRE_COPY", "PRE_COPY_P2P", "0xc00"),
    ("PRE_COPY_P2P", "STOP_COPY", "0x1000")] and
    all(x["dev_id"] == 2 and x["memfd_token"] == "0x9" and
        x["crc32"] == 0x1c291ca3 for x in r) else 1)
PY
then
	ok "journal --json $blob: the DEVICE_MIG_STATE records"
else
	fail "journal --json $blob: DEVICE_MIG_STATE records missing or wrong"
fi

# A device named as an mdev (format 5): inspect shows its identity.
blob=tests/data/good/mtty-vm.dtb
if "$KHO_TOOL" inspect "$blob" 2>&1 |
   grep -q '^  device 2: mdev 83b8f4f2-509f-382f-3c1e-e6bfe0fa1001 (type mtty-1 of mtty) driver mtty, ' &&
   "$KHO_TOOL" inspect "$blob" 2>&1 |
   grep -q 'DEVICE_BIND_IOMMUFD mdev 83b8f4f2-509f-382f-3c1e-e6bfe0fa1001 -> device 2$'; then
	ok "inspect $blob: the mdev's UUID, type and parent, in its device and its BIND"
else
	fail "inspect $blob: no mdev line for device 2 or its BIND"
fi
if "$KHO_TOOL" inspect --json "$blob" > "$tmp/mdev.json" 2>/dev/null &&
   python3 - "$tmp/mdev.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))["devices"][0]
sys.exit(0 if d["pci"] is None and d["mdev"] == {
    "uuid": "83b8f4f2-509f-382f-3c1e-e6bfe0fa1001", "parent": "mtty",
    "type": "mtty-1"} and d["driver"] == "mtty" else 1)
PY
then
	ok "inspect --json $blob: devices[0].mdev"
else
	fail "inspect --json $blob: devices[0].mdev missing or wrong"
fi

echo "schema: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
