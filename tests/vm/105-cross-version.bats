#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# Upgrades across kernel versions, as fleets do them: 7.2.13 -> 7.3.4 and
# back, and the rollback to an older 7.2 point release (7.2.6), on the
# vanilla kernels and on the patched ones (patches/series, patches/7.3/).
# At every step the VMM adopts what the agent rebuilt and checks its guest
# RAM and an edu DMA; before every hop the pre-flight's verdict (go,
# degrade, refuse) is taken alone and compared with what the hop did.
#
# Each test writes its rows of the compatibility matrix (from, to, verdict,
# outcome, blackout) to $KHO_VM_LOGDIR/compat-matrix/, and
# tests/vm/compat-matrix.sh turns every row there into compat-matrix.md
# (`make check-matrix` writes docs/compat-matrix.md).
#
# `make check` runs the first test only (one cross-version pair, both
# ways); `make check-matrix` runs them all (docs/testing.md).

load helpers

# The serial log stamped with the host's clock on arrival: blackout is the
# time from the old kernel's "reboot(LINUX_REBOOT_CMD_KEXEC)" line to the
# restarted VMM's adoption, which the guests' clocks (restarted by every
# kexec) cannot measure.
# $EPOCHREALTIME, not date(1): a fork per line lags a loaded host by
# seconds, and the stamps with it.
stamp_serial() {
	tail -F -n +1 "$1" 2>/dev/null | while IFS= read -r line; do
		printf '%s %s\n' "$EPOCHREALTIME" "${line%$'\r'}"
	done > "$2"
}

# stamper_drain LOG STAMPED: wait (up to 20 s) until the stamper has read
# every line of LOG.
stamper_drain() {
	local i

	for ((i = 0; i < 200; i++)); do
		[ "$(wc -l < "$2")" -ge "$(wc -l < "$1")" ] && return 0
		sleep 0.1
	done
	echo "# stamper: $(wc -l < "$2") of $(wc -l < "$1") lines stamped" >&3
}

# cross_run [--anyway N] NAME FIRST HOP...: boot FIRST (a rig flavour),
# upgrade through every HOP (flavours), check each step, and write the
# matrix rows.  --anyway N: at stage N a refusal as it is is not degraded
# but done anyway (the guest's $anyway), for its outcome.
cross_run() {
	local anyway=""
	[ "$1" != --anyway ] || { anyway=$2; shift 2; }
	local name=$1 first=$2 hops=() files=() expects=() f img rel i stamper
	local env=$BATS_TEST_TMPDIR/cross.env guest_hops=""

	shift 2
	hops=("$@")
	img=$(kernel_image "$first") || die "no $first kernel"
	for ((i = 0; i < ${#hops[@]}; i++)); do
		f=${hops[i]}
		case "$f" in
		vanilla|patched) guest_hops+=" /boot/vmlinuz-$f" ;;
		*)
			local dir
			dir=$("$KHO_TOP/tests/rig/build-kernel.sh" "$f") || die "building the $f kernel failed"
			files+=(--file "$dir/bzImage:/boot/vmlinuz-$f")
			guest_hops+=" /boot/vmlinuz-$f"
			;;
		esac
		expects+=(--expect "adopted-stage$((i + 2))")
	done
	printf 'hops="%s"\nanyway="%s"\n' "${guest_hops# }" "$anyway" > "$env"

	local vm=105-cross-version-$name
	VM_LOG="$KHO_VM_LOGDIR/$vm.log"
	local stamped=${VM_LOG%.log}.stamped.log
	mkdir -p "$KHO_VM_LOGDIR/compat-matrix"
	: > "$VM_LOG"
	HELPER_TAG=$VM_PROC_TAG helper_start stamper stamp_serial "$VM_LOG" "$stamped"
	run_vm --name "$vm" --script "$GUEST_DIR/cross-version.sh" --kernel "$img" --timeout $((200 + 200 * ${#hops[@]})) \
		--file "$env:/test/cross.env" "${files[@]}" --expect serving "${expects[@]}"
	stamper_drain "$VM_LOG" "$stamped"
	helper_stop "$stamper"
	matrix_rows "$name" "$first" "${hops[@]}" > "$KHO_VM_LOGDIR/compat-matrix/$name.rows" ||
		die "cannot write the matrix rows"
	cat "$KHO_VM_LOGDIR/compat-matrix/$name.rows" >&3
	"$VM_DIR/compat-matrix.sh" "$KHO_VM_LOGDIR/compat-matrix" > /dev/null ||
		die "compat-matrix.sh failed"
}

# stamp_of N PATTERN: the host time of the Nth serial line matching PATTERN.
stamp_of() {
	grep -a -- "$2" "${VM_LOG%.log}.stamped.log" | sed -n "$1p" | cut -d' ' -f1
}

# matrix_rows NAME FIRST HOP...: one tab-separated row per hop: suite,
# from, to, verdict, outcome, blackout (s), the refusal's reason.
matrix_rows() {
	local name=$1 i n from to verdict outcome blackout t0 t1 why
	local flavours=("$2")

	shift 2
	flavours+=("$@")
	for ((i = 1; i < ${#flavours[@]}; i++)); do
		n=$((i + 1))
		from=$(log_value "release_s$i")
		to=$(log_value "release_s$n")
		[ -n "$to" ] || to="$(kernel_release_of "$(hop_image "${flavours[i]}")") (did not boot)"
		verdict=$(log_value "verdict_s$i")
		why=$(log_value "why_s$i" | sed 's/^kho-tool [a-z]*: preflight-target: //' | cut -c1-220)
		if grep -aq "KHOTEST: MARK adopted-stage$n" "$VM_LOG"; then
			outcome=$(log_value "verified_s$n")
			outcome="ok: guest RAM intact, DMA passed; ${outcome%%;*}"
		elif [ -z "$verdict" ]; then
			outcome="not reached"
		else
			# The kernel's and the agent's reasons, then the guest's.
			outcome="FAILED: $( { grep -a -E '^(luo|KHO): .*(No registered|[Ff]ail|[Ee]rror|corrupt)|^restore-agent: error: ' "$VM_LOG" || true; grep -a -m1 -o 'KHOTEST: FAIL .*' "$VM_LOG" | cut -c15-; } | tr -d '\r' | head -n 3 | cut -c1-160 | paste -sd ';' | sed 's/;/; /g')"
		fi
		t0=$(stamp_of "$i" 'kho-tool: reboot(LINUX_REBOOT_CMD_KEXEC)')
		t1=$(stamp_of "$i" 'test-vmm: adopted iommufd')
		blackout=-
		[ -n "$t0" ] && [ -n "$t1" ] && blackout=$(printf '%.1f' "$(echo "$t1 - $t0" | bc)")
		printf '%s\t%s %s\t%s %s\t%s\t%s\t%s\t%s\n' "$name" "${flavours[i - 1]%%-*}" "$from" \
			"${flavours[i]%%-*}" "$to" "${verdict:--}" "$outcome" "$blackout" "${why:-}"
	done
}

# hop_image FLAVOUR: its bzImage (the cached build).
hop_image() {
	local dir

	dir=$("$KHO_TOP/tests/rig/build-kernel.sh" "$1") || return 1
	echo "$dir/bzImage"
}

# assert_hop N VERDICT RELEASE_RE: hop N had that verdict, landed in a
# kernel whose release matches, and the VMM adopted there.
assert_hop() {
	local got

	got=$(log_value "verdict_s$1")
	[ "$got" = "$2" ] || die "hop $1: pre-flight verdict '$got', expected '$2'"
	[[ "$(log_value "release_s$(($1 + 1))")" =~ $3 ]] ||
		die "hop $1 landed in '$(log_value "release_s$(($1 + 1))")', not /$3/"
	assert_log "KHOTEST: MARK adopted-stage$(($1 + 1))"
	[[ "$(log_value "verified_s$(($1 + 1))")" == "1 IOAS, 64 mappings "*", 1 device(s), 1 attachment(s)"* ]] ||
		die "hop $1 verify: '$(log_value "verified_s$(($1 + 1))")'"
}

# assert_series N SERIES: the pre-flight of hop N said the target carries
# SERIES (kho_kimage_series()).
assert_series() {
	[ "$(log_value "series_s$1")" = "$2" ] ||
		die "hop $1: the pre-flight said series '$(log_value "series_s$1")', expected '$2'"
}

# assert_refusal_names N TEXT: hop N's refusal (as it is) says TEXT.
assert_refusal_names() {
	[[ "$(log_value "why_s$1")" == *"$2"* ]] ||
		die "hop $1: the refusal does not name '$2': '$(log_value "why_s$1")'"
}

# assert_intact N: the guest-RAM pattern came through N hops.
assert_intact() {
	[ "$(grep -a -c 'bytes intact' "$VM_LOG")" = "$1" ] ||
		die "guest RAM intact $(grep -a -c 'bytes intact' "$VM_LOG") times, expected $1"
}

@test "cross-version: vanilla 7.2.13 -> 7.3.4 -> 7.2.13, RAM and DMA at each step" {
	cross_run vanilla-7.3 vanilla vanilla-7.3.4 vanilla
	assert_vm_ok
	assert_hop 1 go '^7\.3\.4-kho-a$'
	assert_hop 2 go '^7\.2\.13-kho-a$'
	assert_log 'KHO: exec from: 7.2.13-kho-a \(count 1\)'
	assert_log 'KHO: exec from: 7.3.4-kho-a \(count 2\)'
	assert_series 1 "none: vanilla 7.3.4-kho-a (no iommufd-journal-v2)"
	assert_intact 2
}

@test "cross-version: patched 7.2.13 -> 7.3.4 -> 7.2.13, the iommufd preserved and verified" {
	cross_run patched-7.3 patched patched-7.3.4 patched
	assert_vm_ok
	assert_hop 1 go '^7\.3\.4-kho-b$'
	assert_hop 2 go '^7\.2\.13-kho-b$'
	assert_series 1 "patches/7.3/series (iommufd-journal-v2, 7.3.4-kho-b)"
	assert_series 2 "patches/series (iommufd-journal-v2, 7.2.13-kho-b)"
	# Both kernels journal: the iommufd rides in the session both ways.
	[ "$(grep -a -c '"command":"upgrade".*"iommufd":{"decision":"preserve"' "$VM_LOG")" = 2 ] ||
		die "the iommufd was not preserved on both hops"
	assert_intact 2
}

@test "cross-version: patched 7.2.13 -> vanilla 7.3.4 -> patched 7.2.13, degraded one way" {
	cross_run mixed-7.3 patched vanilla-7.3.4 patched
	assert_vm_ok
	# patched -> vanilla: refused as it is, degraded with --userspace-journal.
	assert_hop 1 degrade '^7\.3\.4-kho-a$'
	assert_refusal_names 1 "does not carry iommufd-journal-v2"
	assert_hop 2 go '^7\.2\.13-kho-b$'
	assert_intact 2
}

@test "cross-version: rollback 7.2.13 -> 7.2.6 -> 7.2.13, vanilla" {
	cross_run vanilla-7.2.6 vanilla vanilla-7.2.6 vanilla
	assert_vm_ok
	assert_hop 1 go '^7\.2\.6-kho-a$'
	assert_hop 2 go '^7\.2\.13-kho-a$'
	assert_log 'KHO: exec from: 7.2.6-kho-a \(count 2\)'
	assert_intact 2
}

@test "cross-version: 7.2.13 vanilla -> patched -> vanilla, the matrix's same-version rows" {
	cross_run same-7.2.13 vanilla patched vanilla
	assert_vm_ok
	assert_hop 1 go '^7\.2\.13-kho-b$'
	assert_series 1 "patches/series (iommufd-journal-v2, 7.2.13-kho-b)"
	assert_hop 2 degrade '^7\.2\.13-kho-a$'
	assert_refusal_names 2 "does not carry iommufd-journal-v2"
}

# The refusal's claim, checked: patched -> vanilla as it is would preserve
# the VMM's iommufd, whose handler vanilla lacks.  Done anyway, the hop
# must fail: a refusal whose hop succeeds is a pre-flight that lies.
@test "cross-version: patched -> vanilla 7.2.13 done anyway, against the refusal: the hop fails" {
	cross_run --anyway 1 refused-anyway-7.2.13 patched vanilla
	assert_vm_fails 'test-vmm restart --hold. exited before it got ready'
	assert_log "luo: No registered handler for compatible 'iommufd-journal-v2'"
	assert_log 'restore-agent: error: open: open /dev/liveupdate: EIO'
	[ "$(log_value verdict_s1)" = refuse ] || die "verdict '$(log_value verdict_s1)', expected refuse"
	assert_refusal_names 1 "does not carry iommufd-journal-v2"
	assert_log 'preflight-target: IGNORED \(KHO_TOOL_TEST_IGNORE_PREFLIGHT=1\)'
	! grep -aq 'KHOTEST: MARK adopted-stage2' "$VM_LOG" || die "the VMM adopted after a refused hop"
}
