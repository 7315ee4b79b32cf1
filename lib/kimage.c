// SPDX-License-Identifier: LGPL-2.1-or-later
/* Kernel-image inspection: bzImage payload -> vmlinux ELF -> ABI strings. */
#include <errno.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "decompress.h"
#include "file.h"
#include "handoff.h"
#include "kimage.h"

/*
 * The x86 boot protocol setup header (Documentation/arch/x86/boot.rst):
 * offsets into the bzImage file.
 */
#define BZ_SETUP_SECTS		0x1f1
#define BZ_HEADER_MAGIC		0x202	/* "HdrS" */
#define BZ_VERSION		0x206
#define BZ_KERNEL_VERSION	0x20e	/* pointer, relative to 0x200 */
#define BZ_PAYLOAD_OFFSET	0x248	/* relative to the protected-mode code */
#define BZ_PAYLOAD_LENGTH	0x24c
#define BZ_HEADER_END		0x250
/* payload_offset/length appeared in boot protocol 2.08. */
#define BZ_MIN_VERSION		0x0208

static uint16_t get_le16(const unsigned char *p)
{
	return p[0] | p[1] << 8;
}

static uint32_t get_le32(const unsigned char *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static bool is_bzimage(const unsigned char *p, size_t len)
{
	return len >= BZ_HEADER_END && !memcmp(p + BZ_HEADER_MAGIC, "HdrS", 4);
}

/* The first word of a kernel_version or banner string: the release. */
static int copy_release(const unsigned char *p, size_t len, char *release,
			size_t size)
{
	size_t n = 0;

	while (n < len && p[n] > ' ' && p[n] < 0x7f)
		n++;
	if (n == 0)
		return -EBADMSG;
	if (n >= size)
		return -EINVAL;
	memcpy(release, p, n);
	release[n] = '\0';
	return 0;
}

/* The setup header's kernel_version pointer, as a file offset. */
static size_t bz_version_off(const unsigned char *p)
{
	uint16_t ptr = get_le16(p + BZ_KERNEL_VERSION);

	return ptr ? (size_t)ptr + 0x200 : 0;
}

/* Magic numbers of the payload codecs arch/x86/boot/compressed offers. */
static const struct {
	const char *name;
	unsigned char magic[6];
	size_t len;
} codecs[] = {
	{ "gzip", { 0x1f, 0x8b }, 2 },
	{ "xz", { 0xfd, '7', 'z', 'X', 'Z', 0 }, 6 },
	{ "zstd", { 0x28, 0xb5, 0x2f, 0xfd }, 4 },
	{ "bzip2", { 'B', 'Z', 'h' }, 3 },
	{ "lzma", { 0x5d, 0, 0 }, 3 },
	{ "lz4", { 0x02, 0x21, 0x4c, 0x18 }, 4 },
	{ "lzo", { 0x89, 'L', 'Z', 'O' }, 4 },
	{ "none", { 0x7f, 'E', 'L', 'F' }, 4 },
};

/* Decompresses (or copies) a payload into img->elf. */
static int kimage_unpack(const unsigned char *p, size_t len,
			 struct kho_kimage *img, struct kho_diag *diag)
{
	size_t i, hint = 0;
	void *elf;
	int err;

	for (i = 0; i < sizeof(codecs) / sizeof(codecs[0]); i++)
		if (len >= codecs[i].len && !memcmp(p, codecs[i].magic, codecs[i].len))
			break;
	if (i == sizeof(codecs) / sizeof(codecs[0]))
		return kho_diag_set(diag, -EBADMSG,
				    "payload: unknown format (magic %02x %02x %02x %02x)",
				    len > 0 ? p[0] : 0, len > 1 ? p[1] : 0,
				    len > 2 ? p[2] : 0, len > 3 ? p[3] : 0);
	img->codec = codecs[i].name;
	if (!strcmp(img->codec, "none")) {
		img->elf = malloc(len);
		if (!img->elf)
			return -ENOMEM;
		memcpy(img->elf, p, len);
		img->elf_len = len;
		return 0;
	}
	if (strcmp(img->codec, "xz") && strcmp(img->codec, "gzip") &&
	    strcmp(img->codec, "zstd"))
		return kho_diag_set(diag, -EOPNOTSUPP,
				    "payload compressed with %s: kho-tool reads xz, gzip and zstd kernels only (rebuild the target with CONFIG_KERNEL_XZ, _GZIP or _ZSTD, or pass its vmlinux)",
				    img->codec);
	/* arch/x86/boot/compressed/Makefile appends the size, little endian. */
	if (len >= 4)
		hint = get_le32(p + len - 4);
	err = kho_decompress(img->codec, p, len, hint, KHO_KIMAGE_MAX_ELF,
			     &elf, &img->elf_len, NULL, diag);
	if (err == -EFBIG)
		kho_diag_set(diag, err, "%s payload decompresses beyond %lu MiB",
			     img->codec, KHO_KIMAGE_MAX_ELF >> 20);
	if (err)
		return err;
	img->elf = elf;
	return 0;
}

/* Collects the sections a compatible string can live in. */
static int kimage_read_elf(struct kho_kimage *img, struct kho_diag *diag)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx, cap = 0;
	Elf *elf;
	int err = 0;

	if (elf_version(EV_CURRENT) == EV_NONE)
		return kho_diag_set(diag, -ENOMEM, "libelf: %s", elf_errmsg(-1));
	if (img->elf_len < 4 || memcmp(img->elf, "\177ELF", 4))
		return kho_diag_set(diag, -EBADMSG,
				    "vmlinux: not an ELF file (%s payload)", img->codec);
	elf = elf_memory((char *)img->elf, img->elf_len);
	if (!elf || elf_kind(elf) != ELF_K_ELF || elf_getshdrstrndx(elf, &shstrndx)) {
		err = kho_diag_set(diag, -EBADMSG, "vmlinux: corrupt ELF: %s",
				   elf_errmsg(-1));
		goto out;
	}
	while ((scn = elf_nextscn(elf, scn))) {
		struct kho_kimage_sec *secs;
		GElf_Shdr sh;

		if (!gelf_getshdr(scn, &sh)) {
			err = kho_diag_set(diag, -EBADMSG,
					   "vmlinux: corrupt section header: %s",
					   elf_errmsg(-1));
			goto out;
		}
		/*
		 * String literals land in .rodata, but a compatible that is a
		 * char array inside a handler struct (memfd's "memfd-v2") sits
		 * in .data, and __initconst ones in .init.data: take every
		 * allocated section with contents except code.  x86's vmlinux
		 * marks .data "WAX" (the linker merges it with executable
		 * input), so code is what is executable and read-only.
		 */
		if (sh.sh_type != SHT_PROGBITS || !(sh.sh_flags & SHF_ALLOC) ||
		    (sh.sh_flags & (SHF_EXECINSTR | SHF_WRITE)) == SHF_EXECINSTR ||
		    sh.sh_size == 0)
			continue;
		if (sh.sh_offset > img->elf_len ||
		    sh.sh_size > img->elf_len - sh.sh_offset) {
			const char *name = elf_strptr(elf, shstrndx, sh.sh_name);

			err = kho_diag_set(diag, -EBADMSG,
					   "vmlinux: section %s at 0x%llx+0x%llx runs past the end of the image (0x%zx): truncated",
					   name ? name : "?",
					   (unsigned long long)sh.sh_offset,
					   (unsigned long long)sh.sh_size, img->elf_len);
			goto out;
		}
		if (img->nr_secs == cap) {
			cap = cap ? cap * 2 : 16;
			secs = realloc(img->secs, cap * sizeof(*secs));
			if (!secs) {
				err = -ENOMEM;
				goto out;
			}
			img->secs = secs;
		}
		img->secs[img->nr_secs++] = (struct kho_kimage_sec){
			sh.sh_offset, sh.sh_size };
	}
	if (img->nr_secs == 0)
		err = kho_diag_set(diag, -EBADMSG,
				   "vmlinux: no data sections (corrupt or stripped to nothing)");
out:
	elf_end(elf);
	return err;
}

/*
 * A byte that may sit inside a compatible string: a match preceded by one
 * of these is the tail of a longer string ("kho-tool,luo-v5").
 */
static bool compat_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '_' || c == ',' ||
	       c == '.';
}

/*
 * Calls @fn for each whole string starting with @prefix (whole: preceded by
 * a non-string byte, ended by NUL).  Stops when @fn returns non-zero.
 */
static int kimage_scan(const struct kho_kimage *img, const char *prefix,
		       int (*fn)(const char *s, size_t n, void *arg), void *arg)
{
	size_t plen = strlen(prefix), i;

	for (i = 0; i < img->nr_secs; i++) {
		const unsigned char *base = img->elf + img->secs[i].off;
		const unsigned char *end = base + img->secs[i].len;
		const unsigned char *p = base;

		while ((p = memmem(p, end - p, prefix, plen))) {
			const unsigned char *q = p + plen;
			int ret;

			while (q < end && compat_char(*q))
				q++;
			if ((p == base || !compat_char(p[-1])) && q < end && !*q) {
				ret = fn((const char *)p, q - p, arg);
				if (ret)
					return ret;
			}
			p++;
		}
	}
	return 0;
}

struct exact {
	const char *s;
	size_t n;
};

static int match_exact(const char *s, size_t n, void *arg)
{
	const struct exact *e = arg;

	return n == e->n && !memcmp(s, e->s, n);
}

int kho_kimage_has_abi(const struct kho_kimage *img, const char *compatible,
		       bool *found)
{
	struct exact e = { compatible, strlen(compatible) };

	if (e.n == 0)
		return -EINVAL;
	*found = kimage_scan(img, compatible, match_exact, &e) == 1;
	return 0;
}

/* Collects up to 4 distinct strings of one family, comma separated. */
struct family {
	char list[128];
	size_t nr;
};

static int collect_family(const char *s, size_t n, void *arg)
{
	struct family *f = arg;
	size_t used = strlen(f->list);
	char item[64];

	if (n >= sizeof(item))
		return 0;
	memcpy(item, s, n);
	item[n] = '\0';
	/* Several handlers may carry the same string: list it once. */
	for (const char *h = f->list; (h = strstr(h, item)); h += n)
		if ((h == f->list || h[-1] == ' ') && (!h[n] || h[n] == ','))
			return 0;
	if (f->nr >= 4 || used + n + 3 >= sizeof(f->list))
		return 0;
	snprintf(f->list + used, sizeof(f->list) - used, "%s%s",
		 used ? ", " : "", item);
	f->nr++;
	return 0;
}

/* "luo-v5" -> "LUO", for messages. */
static const char *abi_subsystem(const char *compatible)
{
	static const struct {
		const char *compatible, *what;
	} names[] = {
		{ KHO_ABI_KHO, "KHO" },
		{ KHO_ABI_LUO, "LUO" },
		{ KHO_ABI_MEMFD, "LUO memfd" },
		{ KHO_ABI_IOMMUFD_JOURNAL, "iommufd journal" },
	};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(names[i].compatible, compatible))
			return names[i].what;
	return "hand-off";
}

int kho_kimage_check_abi(const struct kho_kimage *img,
			 const char *const *needed, size_t nr,
			 struct kho_diag *diag)
{
	size_t i;

	for (i = 0; i < nr; i++) {
		struct family f = { "", 0 };
		char prefix[64];
		const char *v;
		bool found;
		int err;

		err = kho_kimage_has_abi(img, needed[i], &found);
		if (err)
			return err;
		if (found)
			continue;
		/* The family is everything up to the version: "luo-v". */
		v = strrchr(needed[i], 'v');
		snprintf(prefix, sizeof(prefix), "%.*s",
			 v ? (int)(v - needed[i] + 1) : (int)strlen(needed[i]),
			 needed[i]);
		kimage_scan(img, prefix, collect_family, &f);
		return kho_diag_set(diag, -EPROTONOSUPPORT,
				    "target %s: needs %s ABI %s, the image carries %s%s",
				    img->release[0] ? img->release : "kernel",
				    abi_subsystem(needed[i]), needed[i],
				    f.nr ? f.list : "no ", f.nr ? "" : prefix);
	}
	return 0;
}

/* The kernel series of patches/, by the kernel version they apply to. */
static const struct {
	const char *version;	/* major.minor */
	const char *series;
} kernel_series[] = {
	{ "7.2", "patches/series" },
	{ "7.3", "patches/7.3/series" },
};

bool kho_kimage_series(const struct kho_kimage *img, char *buf, size_t size)
{
	const char *rel = img->release[0] ? img->release : "(no release)";
	const char *dot;
	size_t i, n = 0;
	bool found;

	if (kho_kimage_has_abi(img, KHO_ABI_IOMMUFD_JOURNAL, &found) || !found) {
		snprintf(buf, size, "none: vanilla %s (no %s)", rel,
			 KHO_ABI_IOMMUFD_JOURNAL);
		return false;
	}
	/* "7.3.4-kho-b": the series is picked by "7.3". */
	dot = strchr(img->release, '.');
	if (dot)
		n = dot + 1 - img->release + strspn(dot + 1, "0123456789");
	for (i = 0; n && i < sizeof(kernel_series) / sizeof(kernel_series[0]); i++) {
		if (strlen(kernel_series[i].version) != n ||
		    strncmp(kernel_series[i].version, img->release, n))
			continue;
		snprintf(buf, size, "%s (%s, %s)", kernel_series[i].series,
			 KHO_ABI_IOMMUFD_JOURNAL, rel);
		return true;
	}
	snprintf(buf, size, "%s on %s, a kernel no series of this project is for",
		 KHO_ABI_IOMMUFD_JOURNAL, rel);
	return true;
}

/* The release a vmlinux names in its banner: "Linux version 7.2.13 ...". */
static void vmlinux_release(struct kho_kimage *img)
{
	static const char banner[] = "Linux version ";
	size_t i;

	for (i = 0; i < img->nr_secs; i++) {
		const unsigned char *base = img->elf + img->secs[i].off;
		const unsigned char *end = base + img->secs[i].len;
		const unsigned char *p;

		p = memmem(base, end - base, banner, sizeof(banner) - 1);
		if (!p)
			continue;
		p += sizeof(banner) - 1;
		if (!copy_release(p, end - p, img->release, sizeof(img->release)))
			return;
	}
}

int kho_kimage_parse(const void *buf, size_t len, struct kho_kimage *img,
		     struct kho_diag *diag)
{
	const unsigned char *p = buf;
	int err;

	memset(img, 0, sizeof(*img));
	if (is_bzimage(p, len)) {
		size_t setup = ((size_t)(p[BZ_SETUP_SECTS] ? p[BZ_SETUP_SECTS] : 4) + 1) * 512;
		size_t off = get_le32(p + BZ_PAYLOAD_OFFSET);
		size_t plen = get_le32(p + BZ_PAYLOAD_LENGTH);

		img->format = "bzImage";
		if (get_le16(p + BZ_VERSION) < BZ_MIN_VERSION)
			return kho_diag_set(diag, -EOPNOTSUPP,
					    "bzImage: boot protocol %u.%02u has no payload fields (need 2.08)",
					    get_le16(p + BZ_VERSION) >> 8,
					    get_le16(p + BZ_VERSION) & 0xff);
		if (bz_version_off(p) && bz_version_off(p) < len &&
		    copy_release(p + bz_version_off(p), len - bz_version_off(p),
				 img->release, sizeof(img->release)))
			img->release[0] = '\0';
		if (setup > len || off > len - setup || plen > len - setup - off ||
		    plen == 0)
			return kho_diag_set(diag, -EBADMSG,
					    "bzImage %s: payload 0x%zx+0x%zx (after %zu setup bytes) runs past the end of the file (%zu bytes): truncated",
					    img->release[0] ? img->release : "?",
					    off, plen, setup, len);
		err = kimage_unpack(p + setup + off, plen, img, diag);
	} else if (len >= 4 && !memcmp(p, "\177ELF", 4)) {
		img->format = "vmlinux";
		err = kimage_unpack(p, len, img, diag);
	} else {
		return kho_diag_set(diag, -EBADMSG,
				    "not a kernel image: neither a bzImage (no HdrS at 0x202) nor an ELF vmlinux");
	}
	if (!err)
		err = kimage_read_elf(img, diag);
	if (!err && !img->release[0])
		vmlinux_release(img);
	if (err)
		kho_kimage_free(img);
	return err;
}

int kho_kimage_open(const char *path, struct kho_kimage *img,
		    struct kho_diag *diag)
{
	struct kho_diag inner = { "" };
	void *buf;
	size_t len;
	int err;

	struct stat st;
	int fd;

	memset(img, 0, sizeof(*img));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return kho_diag_set(diag, -errno, "%s: cannot open: %s", path,
				    strerror(errno));
	if (fstat(fd, &st)) {
		err = -errno;
		close(fd);
		return kho_diag_set(diag, err, "%s: fstat: %s", path,
				    strerror(-err));
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return kho_diag_set(diag, -EINVAL,
				    "%s: not a regular file (kexec_file_load loads files)",
				    path);
	}
	err = kho_read_fd_max(fd, KHO_KIMAGE_MAX_ELF, &buf, &len);
	if (err) {
		close(fd);
		return kho_diag_set(diag, err, "%s: cannot read: %s", path,
				    strerror(-err));
	}
	err = kho_kimage_parse(buf, len, img, &inner);
	free(buf);
	if (err) {
		close(fd);
		return kho_diag_set(diag, err, "%s: %s", path, inner.msg);
	}
	img->own_fd = true;
	img->fd = fd;
	img->st = st;
	return 0;
}

void kho_kimage_free(struct kho_kimage *img)
{
	if (img->own_fd)
		close(img->fd);
	img->own_fd = false;
	free(img->elf);
	free(img->secs);
	img->elf = NULL;
	img->secs = NULL;
	img->elf_len = 0;
	img->nr_secs = 0;
}

int kho_kimage_release(const char *path, char *release, size_t size)
{
	unsigned char hdr[BZ_HEADER_END], buf[128];
	ssize_t n;
	int fd, err;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = pread(fd, hdr, sizeof(hdr), 0);
	if (n < 0) {
		err = -errno;
		goto out;
	}
	if (!is_bzimage(hdr, n) || !bz_version_off(hdr)) {
		err = -EBADMSG;
		goto out;
	}
	n = pread(fd, buf, sizeof(buf), bz_version_off(hdr));
	if (n < 0) {
		err = -errno;
		goto out;
	}
	err = copy_release(buf, n, release, size);
out:
	close(fd);
	return err;
}
