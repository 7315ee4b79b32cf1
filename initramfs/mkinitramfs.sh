#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Assembles a newc initramfs from busybox-static, our binaries (with the
# shared libraries they need) and payload files, or appends those files to
# an existing distro initrd as a concatenated cpio.
#
# The kernel unpacks every cpio segment of an initrd in turn, each with its
# own compression (Documentation/driver-api/early-userspace/buffer-format.rst),
# so a host keeps its distro initrd untouched and ships the restore-agent as
# one more segment behind it.
#
# usage: mkinitramfs.sh -o OUT [options]
#   -o, --output FILE        the image to write (written atomically)
#   --busybox PATH           busybox-static to install as /bin/busybox with a
#                            link per applet (default: none)
#   --init FILE              install FILE as /init
#   --bin HOST[:GUEST]       an executable; default GUEST is /usr/bin/NAME.
#                            Dynamic ones bring the libraries ldd lists,
#                            the dynamic loader included
#   --file HOST:GUEST        a plain file, mode kept
#   --dir HOST:GUEST         a directory tree, copied into GUEST
#   --append-to INITRD       write INITRD first, then our segment
#   --compress gzip|none     compression of our segment (default none:
#                            under TCG an uncompressed image boots faster)
set -euo pipefail

prog=mkinitramfs
out=
busybox=
init=
append_to=
compress=none
bins=()
files=()
dirs=()

die() {
	echo "$prog: $*" >&2
	exit 2
}

while [ $# -gt 0 ]; do
	case "$1" in
	-o|--output) out=${2:?}; shift ;;
	--busybox) busybox=${2:?}; shift ;;
	--init) init=${2:?}; shift ;;
	--bin) bins+=("${2:?}"); shift ;;
	--file) files+=("${2:?}"); shift ;;
	--dir) dirs+=("${2:?}"); shift ;;
	--append-to) append_to=${2:?}; shift ;;
	--compress) compress=${2:?}; shift ;;
	-h|--help) sed -n '/^# usage/,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown argument '$1' (see --help)" ;;
	esac
	shift
done
[ -n "$out" ] || die "no output given (-o FILE)"
case "$compress" in gzip|none) ;; *) die "unknown compression '$compress'" ;; esac
[ -z "$append_to" ] || [ -r "$append_to" ] ||
	die "cannot read the initrd to append to: $append_to"

stage=$(mktemp -d "${TMPDIR:-/tmp}/mkinitramfs.XXXXXX")
tmpout="$out.tmp.$$"
trap 'rm -rf "$stage" "$tmpout"' EXIT

# install_file HOST GUEST: copy dereferencing links, so that the image holds
# the file ldd or the caller named under the path the guest will look for.
install_file() {
	local src=$1 dst=$2

	[ -e "$src" ] || die "$src: no such file"
	mkdir -p "$stage$(dirname "$dst")"
	cp -L --preserve=mode "$src" "$stage$dst"
}

# The libraries a dynamic executable needs, as ldd resolves them on this
# host; a static one has none ("not a dynamic executable").
install_libs() {
	local bin=$1 line lib

	ldd "$bin" >/dev/null 2>&1 || return 0
	while read -r line; do
		case "$line" in
		*'=> not found'*) die "$bin: shared library ${line%% *} not found" ;;
		*'=> /'*) lib=${line#*=> }; lib=${lib%% (*} ;;
		/*) lib=${line%% (*} ;;
		*) continue ;;
		esac
		[ -e "$stage$lib" ] || install_file "$lib" "$lib"
	done < <(ldd "$bin")
}

mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,run,tmp,etc,root}
# The kernel opens /dev/console for init before anything mounts devtmpfs.
mknod -m 600 "$stage/dev/console" c 5 1 2>/dev/null || true

if [ -n "$busybox" ]; then
	! ldd "$busybox" >/dev/null 2>&1 ||
		die "$busybox is not a static busybox (install busybox-static)"
	install_file "$busybox" /bin/busybox
	for applet in $("$busybox" --list); do
		[ "$applet" = busybox ] && continue
		[ -e "$stage/bin/$applet" ] || ln -s busybox "$stage/bin/$applet"
	done
fi

if [ -n "$init" ]; then
	install_file "$init" /init
	chmod 0755 "$stage/init"
fi

for spec in "${bins[@]}"; do
	host=${spec%%:*}
	guest=/usr/bin/$(basename "$host")
	[ "$spec" = "$host" ] || guest=${spec#*:}
	install_file "$host" "$guest"
	install_libs "$host"
done

for spec in "${files[@]}"; do
	case "$spec" in *:/*) ;; *) die "--file wants HOST:/GUEST, got '$spec'" ;; esac
	install_file "${spec%%:*}" "${spec#*:}"
done

for spec in "${dirs[@]}"; do
	case "$spec" in *:/*) ;; *) die "--dir wants HOST:/GUEST, got '$spec'" ;; esac
	[ -d "${spec%%:*}" ] || die "${spec%%:*}: not a directory"
	mkdir -p "$stage${spec#*:}"
	cp -a "${spec%%:*}/." "$stage${spec#*:}/"
done

{
	if [ -n "$append_to" ]; then
		cat "$append_to"
		# init/initramfs.c only recognises an uncompressed cpio that
		# starts 4-byte aligned, and it skips zero padding between
		# segments.
		pad=$(( (4 - $(stat -c %s "$append_to") % 4) % 4 ))
		head -c "$pad" /dev/zero
	fi
	# Sorted names give the same image from the same input; owner root
	# because the guest's init runs as root and checks nothing else.
	(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort |
		cpio --quiet -o -H newc -R 0:0) |
		if [ "$compress" = gzip ]; then gzip -n -6; else cat; fi
} > "$tmpout"
mv "$tmpout" "$out"
