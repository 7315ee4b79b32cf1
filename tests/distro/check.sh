#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The Debian package on Debian: lintian passes it; dpkg installs it into a
# sid root (tests/distro/chroot.sh) with initramfs-tools and into another
# with dracut (the two conflict); update-initramfs and dracut build initrds
# that hold the agent and what starts it.  Each root then builds a second
# initrd with a test-only hook that adds the rig's guest environment, which
# tests/vm/100-distro-initrd.bats kexecs into.
#
# usage: check.sh DEB [initramfs-tools|dracut|lintian]...   (default: all)
# env:   BUILD (outputs in $BUILD/distro), KHO_CACHE (chroot tarballs),
#        KHO_KERNEL_VANILLA / KHO_KERNEL_PATCHED (as tests/vm/launch.sh)
# Exit 0 only if every check passed; each failure is named.
set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
deb=${1:?usage: check.sh DEB [part]...}
shift
parts=("$@")
[ "${#parts[@]}" -gt 0 ] || parts=(lintian initramfs-tools dracut)
build=${BUILD:-build}
case "$build" in /*) ;; *) build="$top/$build" ;; esac
case "$deb" in /*) ;; *) deb="$PWD/$deb" ;; esac
out="$build/distro"
mkdir -p "$out"
# The release of the rig's patched kernel: Debian's tools want
# /lib/modules/<release>.  Our kernels have no modules (everything the
# rig needs is built in), so the directory is faked: empty module lists and
# depmod's indexes of nothing.
kver=7.2.13-kho-b
failed=0

say() { echo "distro: $*"; }
fail() { echo "distro: FAIL: $*"; failed=$((failed + 1)); }
[ -r "$deb" ] || { fail "no package $deb (make deb)"; exit 1; }

# in_root ROOT CMD...: run CMD chrooted, with /proc and /dev, in a private
# mount namespace so that nothing stays mounted whatever happens.
in_root() {
	local root=$1
	shift
	unshare -m --propagation private sh -c '
		root=$1; shift
		mount -t proc proc "$root/proc" && mount --rbind /dev "$root/dev" &&
		exec chroot "$root" "$@"' sh "$root" "$@"
}

# The rig's guest environment (as tests/vm/launch.sh builds it) plus the
# distro stage's init and script: what the test initrds unpack as root.
payload() {
	local args=() b h vanilla patched

	vanilla=${KHO_KERNEL_VANILLA:-$("$top/tests/rig/build-kernel.sh" vanilla)} || return 1
	patched=${KHO_KERNEL_PATCHED:-$("$top/tests/rig/build-kernel.sh" patched)} || return 1
	[ -d "$vanilla" ] && vanilla="$vanilla/bzImage"
	[ -d "$patched" ] && patched="$patched/bzImage"
	args=(--busybox /bin/busybox --init "$top/initramfs/init"
		--file "$top/tests/vm/guest/distro-init.sh:/khotest-init"
		--file "$top/tests/vm/guest/lib.sh:/test/lib.sh"
		--file "$top/tests/vm/guest/distro-upgrade.sh:/test/script.sh"
		--file "$vanilla:/boot/vmlinuz-vanilla"
		--file "$patched:/boot/vmlinuz-patched")
	for b in "$build"/bin/*; do
		[ -f "$b" ] && [ -x "$b" ] && args+=(--bin "$b")
	done
	args+=(--bin "$build/lib/libkho-record.so:/usr/lib/kho-tool/libkho-record.so")
	args+=(--bin "$(command -v kexec):/usr/sbin/kexec")
	for h in "$top"/initramfs/init.d/*; do
		[ -f "$h" ] && args+=(--file "$h:/etc/kho/init.d/${h##*/}")
	done
	"$top/initramfs/mkinitramfs.sh" -o "$out/payload.cpio" "${args[@]}"
}

# fake_kver ROOT: /lib/modules/$kver with nothing in it.
fake_kver() {
	mkdir -p "$1/lib/modules/$kver"
	: > "$1/lib/modules/$kver/modules.order"
	: > "$1/lib/modules/$kver/modules.builtin"
	in_root "$1" depmod "$kver" 2>/dev/null
}

# install_deb ROOT: dpkg -i, then the files the package must have put there.
install_deb() {
	local root=$1 f

	cp "$deb" "$root/tmp/" || return 1
	in_root "$root" dpkg -i "/tmp/${deb##*/}" > "$out/${root##*/}.dpkg.log" 2>&1 ||
		{ cat "$out/${root##*/}.dpkg.log"; return 1; }
	for f in /usr/sbin/kho-tool /usr/lib/kho-tool/restore-agent \
		 /usr/lib/kho-tool/libkho-record.so /usr/lib/kho-tool/init.d/10-restore-agent \
		 /usr/share/man/man8/kho-tool.8.gz; do
		[ -e "$root$f" ] || { echo "dpkg -i left no $f"; return 1; }
	done
	# The dynamic tool runs with sid's libraries.
	in_root "$root" /usr/sbin/kho-tool --version
}

# has LISTING PATH...: every PATH is in the initrd listing.
has() {
	local listing=$1 p rc=0

	shift
	for p in "$@"; do
		grep -qx -- "$p" "$listing" || { echo "initrd lacks $p"; rc=1; }
	done
	return $rc
}

check_lintian() {
	local t0=$SECONDS

	command -v lintian >/dev/null || { fail "lintian: not installed (make deps)"; return; }
	# Overrides (debian/kho-tool.lintian-overrides) say why each one is
	# right; anything else at warning or above fails.
	if lintian --fail-on error,warning "$deb" > "$out/lintian.log" 2>&1; then
		say "lintian: no error, no warning ($((SECONDS - t0)) s)"
	else
		cat "$out/lintian.log"
		fail "lintian"
	fi
}

check_initramfs_tools() {
	local root t0=$SECONDS listing="$out/initramfs-tools.list"

	root=$("$top/tests/distro/roots.sh" initramfs-tools "$out/initramfs-tools") ||
		{ fail "initramfs-tools: building the sid root failed"; return; }
	say "initramfs-tools: sid root ready ($((SECONDS - t0)) s)"
	install_deb "$root" || { fail "initramfs-tools: dpkg -i"; return; }
	fake_kver "$root"
	# The test-only part (hook + boot script + payload) goes in with the
	# package's: one update-initramfs builds the initrd both checked here
	# and booted by tests/vm/100 (the test part changes nothing of ours).
	mkdir -p "$root/khotest" "$root/etc/initramfs-tools/scripts"
	cp "$out/payload.cpio" "$root/khotest/payload.cpio"
	install -m 0755 "$top/tests/distro/khotest-hook" "$root/etc/initramfs-tools/hooks/khotest"
	install -m 0644 "$top/tests/distro/khotest-boot" "$root/etc/initramfs-tools/scripts/khotest"
	in_root "$root" update-initramfs -c -k "$kver" > "$out/update-initramfs.log" 2>&1 ||
		{ cat "$out/update-initramfs.log"; fail "initramfs-tools: update-initramfs -c -k $kver"; return; }
	in_root "$root" lsinitramfs "/boot/initrd.img-$kver" > "$listing" ||
		{ fail "initramfs-tools: lsinitramfs"; return; }
	has "$listing" usr/lib/kho-tool/restore-agent usr/lib/kho-tool/init.d/10-restore-agent \
		scripts/init-premount/kho-tool usr/bin/mkfifo ||
		{ fail "initramfs-tools: the initrd does not carry the agent and its script"; return; }
	# Debian's /init runs init-premount scripts in the order of this file.
	# (sid's unmkinitramfs, 3cpio, unpacks every segment into one tree.)
	rm -rf "$root/tmp/unpack"
	in_root "$root" unmkinitramfs "/boot/initrd.img-$kver" /tmp/unpack > /dev/null 2>&1
	grep -qs '^/scripts/init-premount/kho-tool ' "$root"/tmp/unpack/scripts/init-premount/ORDER \
	    "$root"/tmp/unpack/main/scripts/init-premount/ORDER ||
		{ fail "initramfs-tools: scripts/init-premount/ORDER does not run kho-tool"; return; }
	cp "$root/boot/initrd.img-$kver" "$out/initrd-khotest-initramfs-tools.img"
	say "initramfs-tools: update-initramfs built an initrd with the agent and scripts/init-premount/kho-tool: $out/initrd-khotest-initramfs-tools.img ($((SECONDS - t0)) s)"
}

check_dracut() {
	local root t0=$SECONDS listing="$out/dracut.list" img

	root=$("$top/tests/distro/roots.sh" dracut "$out/dracut") ||
		{ fail "dracut: building the sid root failed"; return; }
	say "dracut: sid root ready ($((SECONDS - t0)) s)"
	install_deb "$root" || { fail "dracut: dpkg -i"; return; }
	fake_kver "$root"
	img=/boot/initrd.img-$kver
	# The test-only module (99khotest, added with -a) rides along, as for
	# initramfs-tools.  sid's dracut puts systemd into the initrd when it
	# is installed (it is, as a dependency); systemd kills every process
	# at switch-root but those whose argv[0] starts with '@', which the
	# agent's does not yet: the initrd leaves systemd out and runs
	# dracut's own init.
	mkdir -p "$root/khotest" "$root/usr/lib/dracut/modules.d/99khotest"
	cp "$out/payload.cpio" "$root/khotest/payload.cpio"
	cp /bin/busybox "$root/khotest/busybox"
	install -m 0755 "$top/tests/distro/dracut-khotest-setup.sh" \
		"$root/usr/lib/dracut/modules.d/99khotest/module-setup.sh"
	install -m 0755 "$top/tests/distro/dracut-khotest-cmdline.sh" \
		"$root/usr/lib/dracut/modules.d/99khotest/khotest-cmdline.sh"
	install -m 0755 "$top/tests/distro/dracut-khotest-mount.sh" \
		"$root/usr/lib/dracut/modules.d/99khotest/khotest-mount.sh"
	in_root "$root" dracut --force --no-hostonly -a khotest \
		-o "systemd dracut-systemd systemd-initrd" --kver "$kver" "$img" \
		> "$out/dracut.log" 2>&1 ||
		{ tail -n 30 "$out/dracut.log"; fail "dracut: dracut --kver $kver"; return; }
	in_root "$root" lsinitrd -m "$img" > "$out/dracut.modules" 2>&1 ||
		{ fail "dracut: lsinitrd -m"; return; }
	grep -qx kho-tool "$out/dracut.modules" ||
		{ cat "$out/dracut.modules"; fail "dracut: the kho-tool module was not included"; return; }
	in_root "$root" lsinitrd "$img" > "$out/dracut.lsinitrd" 2>&1 ||
		{ fail "dracut: lsinitrd"; return; }
	awk '{print $NF}' "$out/dracut.lsinitrd" | sed 's|^\./||' > "$listing"
	has "$listing" usr/lib/kho-tool/restore-agent usr/lib/kho-tool/init.d/10-restore-agent ||
		{ fail "dracut: the initrd does not carry the agent"; return; }
	grep -Eq 'hooks/pre-mount/10-kho-tool-restore\.sh$' "$listing" ||
		{ fail "dracut: the initrd does not carry the pre-mount hook"; return; }
	cp "$root$img" "$out/initrd-khotest-dracut.img"
	say "dracut: dracut built an initrd with the agent and hooks/pre-mount/10-kho-tool-restore.sh: $out/initrd-khotest-dracut.img ($((SECONDS - t0)) s)"
}

start=$SECONDS
payload > "$out/payload.log" 2>&1 || { cat "$out/payload.log"; fail "building the test payload"; exit 1; }
lintian_pid=
for part in "${parts[@]}"; do
	case "$part" in
	# lintian is slow (20-50 s) and reads only the .deb: alongside.
	lintian) check_lintian > "$out/lintian.out" 2>&1 & lintian_pid=$! ;;
	initramfs-tools) check_initramfs_tools ;;
	dracut) check_dracut ;;
	*) fail "unknown part '$part'" ;;
	esac
done
if [ -n "$lintian_pid" ]; then
	wait "$lintian_pid"
	cat "$out/lintian.out"
	grep -q '^distro: FAIL' "$out/lintian.out" && failed=$((failed + 1))
fi
say "wall time $((SECONDS - start)) s"
[ "$failed" -eq 0 ] && say "all checks passed" && exit 0
say "$failed check(s) failed"
exit 1
