#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Writes a seed corpus for fuzz_kimage into $1: a tiny vmlinux-like ELF
# carrying the ABI strings, raw and as bzImages with each payload codec, so
# the fuzzer starts past the magic checks instead of having to guess them.
set -eu
out=$1
cc=${CC:-clang}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$out"

cat > "$tmp/v.c" <<'SRC'
const char linux_banner[] = "Linux version 7.2.0-fuzz (fuzz@kho) #1 SMP\n";
const char kho_compat[] = "kho-v4";
const char luo_compat[] = "luo-v5";
char memfd_compat[16] = "memfd-v2";
const char journal_compat[] = "iommufd-journal-v2";
SRC
$cc -c -O0 -o "$tmp/vmlinux" "$tmp/v.c"
cp "$tmp/vmlinux" "$out/vmlinux.elf"

# A setup area of (setup_sects + 1) * 512 bytes with the 2.15 boot header,
# kernel_version at 0x300, payload at offset 0 of the protected-mode code.
bzimage() {
	payload=$1 dst=$2
	plen=$(wc -c < "$payload")
	head -c 2560 /dev/zero > "$tmp/setup"
	# Escapes, not bytes: $(...) would drop the NULs.
	le32() {
		printf '\\%03o\\%03o\\%03o\\%03o' $(($1 & 255)) $(($1 >> 8 & 255)) \
			$(($1 >> 16 & 255)) $(($1 >> 24 & 255))
	}
	put() {
		printf "$2" | dd of="$tmp/setup" bs=1 seek=$(($1)) conv=notrunc 2>/dev/null
	}
	put 0x1f1 '\004'
	put 0x202 'HdrS'
	put 0x206 '\017\002'
	put 0x20e '\000\001'
	put 0x300 '7.2.0-fuzz (fuzz@kho) #1 SMP'
	put 0x248 "$(le32 0)"
	put 0x24c "$(le32 "$plen")"
	cat "$tmp/setup" "$payload" > "$dst"
}

gzip -9 -n -c "$tmp/vmlinux" > "$tmp/p.gz"
xz --check=crc32 -c "$tmp/vmlinux" > "$tmp/p.xz"
zstd -q -19 -c "$tmp/vmlinux" > "$tmp/p.zst"
bzimage "$tmp/p.gz" "$out/bzImage-gzip"
bzimage "$tmp/p.xz" "$out/bzImage-xz"
bzimage "$tmp/p.zst" "$out/bzImage-zstd"
bzimage "$tmp/vmlinux" "$out/bzImage-none"
