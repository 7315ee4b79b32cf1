// SPDX-License-Identifier: GPL-2.0
/* Unit tests of kernel-image inspection: synthetic images and the rig's. */
#include <gelf.h>
#include <fcntl.h>
#include <glob.h>
#include <libelf.h>
#include <lzma.h>
#include <malloc.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "ktest.h"
#include "handoff.h"
#include "kexec.h"
#include "kimage.h"

static const char *const base_abi[] = { KHO_ABI_KHO, KHO_ABI_LUO, KHO_ABI_MEMFD };
#define NR_BASE (sizeof(base_abi) / sizeof(base_abi[0]))

/* The directory part of @path, in @buf. */
static const char *dirname_of(const char *path, char *buf, size_t size)
{
	const char *slash = strrchr(path, '/');

	snprintf(buf, size, "%.*s", slash ? (int)(slash - path) : 1,
		 slash ? path : ".");
	return buf;
}

/* --- synthetic images ----------------------------------------------------- */

/*
 * Builds a small x86-64 ELF with libelf: a .rodata of string literals, a
 * .data with a compatible inside a struct (as memfd's handler has it) and
 * a .text that must not be searched.
 */
static int make_elf(const char *rodata, size_t rolen, const char *data,
		    size_t dlen, const char *text, size_t tlen,
		    unsigned char **out, size_t *outlen)
{
	static const char shstr[] = "\0.rodata\0.data\0.text\0.shstrtab";
	const struct {
		const char *bytes;
		size_t len;
		unsigned int name;
		uint64_t flags;
	} secs[] = {
		{ rodata, rolen, 1, SHF_ALLOC },
		{ data, dlen, 9, SHF_ALLOC | SHF_WRITE },
		{ text, tlen, 15, SHF_ALLOC | SHF_EXECINSTR },
		{ shstr, sizeof(shstr), 21, 0 },
	};
	Elf64_Ehdr *eh;
	Elf *elf;
	off_t size;
	size_t i;
	int fd, ret = -1;

	elf_version(EV_CURRENT);
	fd = memfd_create("elf", 0);
	if (fd < 0)
		return -1;
	elf = elf_begin(fd, ELF_C_WRITE, NULL);
	if (!elf)
		goto out_close;
	eh = elf64_newehdr(elf);
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_machine = EM_X86_64;
	eh->e_type = ET_EXEC;
	eh->e_version = EV_CURRENT;
	for (i = 0; i < sizeof(secs) / sizeof(secs[0]); i++) {
		Elf_Scn *scn = elf_newscn(elf);
		Elf_Data *d = elf_newdata(scn);
		Elf64_Shdr *sh = elf64_getshdr(scn);

		d->d_buf = (void *)secs[i].bytes;
		d->d_size = secs[i].len;
		d->d_align = 1;
		d->d_type = ELF_T_BYTE;
		sh->sh_name = secs[i].name;
		sh->sh_type = i == 3 ? SHT_STRTAB : SHT_PROGBITS;
		sh->sh_flags = secs[i].flags;
		if (i == 3)
			eh->e_shstrndx = elf_ndxscn(scn);
	}
	if (elf_update(elf, ELF_C_WRITE) < 0)
		goto out_end;
	size = lseek(fd, 0, SEEK_END);
	*out = malloc(size);
	if (*out && pread(fd, *out, size, 0) == size) {
		*outlen = size;
		ret = 0;
	}
out_end:
	elf_end(elf);
out_close:
	close(fd);
	return ret;
}

static const char good_rodata[] =
	"Linux version 9.9.9-synth (t@h) #1\0kho-v4\0luo-v5\0"
	"kho-tool,iommufd-journal-v2\0xyz";
static const char good_data[] = "\xff\xff\xff\xffmemfd-v2\0\0\0\0";
/* A compatible in executable bytes is not a declared ABI. */
static const char good_text[] = "\x90\x90iommufd-journal-v2\0\x90";

static int make_good_elf(unsigned char **out, size_t *len)
{
	return make_elf(good_rodata, sizeof(good_rodata), good_data,
			sizeof(good_data), good_text, sizeof(good_text), out, len);
}

/* Wraps @payload in a minimal boot-protocol-2.15 setup header. */
static unsigned char *make_bzimage(const unsigned char *payload, size_t plen,
				   size_t *len)
{
	static const char ver[] = "9.9.9-bz (t@h) #1 SMP";
	const size_t setup = 2 * 512;	/* setup_sects = 1 */
	unsigned char *p = calloc(1, setup + plen);

	if (!p)
		return NULL;
	p[0x1f1] = 1;
	memcpy(p + 0x202, "HdrS", 4);
	p[0x206] = 0x0f;
	p[0x207] = 0x02;
	p[0x20e] = 0x00;	/* kernel_version at 0x100 + 0x200 */
	p[0x20f] = 0x01;
	memcpy(p + 0x300, ver, sizeof(ver));
	p[0x24c] = plen & 0xff;
	p[0x24d] = plen >> 8 & 0xff;
	p[0x24e] = plen >> 16 & 0xff;
	p[0x24f] = plen >> 24 & 0xff;
	memcpy(p + setup, payload, plen);
	*len = setup + plen;
	return p;
}

/* Compresses @in with @codec and appends the kernel's 4-byte size trailer. */
static unsigned char *pack(const char *codec, const unsigned char *in,
			       size_t len, size_t *outlen)
{
	size_t cap = len + len / 2 + 1024, n = 0;
	unsigned char *out = malloc(cap + 4);

	if (!out)
		return NULL;
	if (!strcmp(codec, "gzip")) {
		z_stream s = { 0 };

		deflateInit2(&s, 6, Z_DEFLATED, 16 + MAX_WBITS, 8,
			     Z_DEFAULT_STRATEGY);
		s.next_in = (unsigned char *)in;
		s.avail_in = len;
		s.next_out = out;
		s.avail_out = cap;
		deflate(&s, Z_FINISH);
		n = s.total_out;
		deflateEnd(&s);
	} else if (!strcmp(codec, "zstd")) {
		n = ZSTD_compress(out, cap, in, len, 3);
		if (ZSTD_isError(n))
			n = 0;
	} else if (!strcmp(codec, "xz")) {
		if (lzma_easy_buffer_encode(6, LZMA_CHECK_CRC32, NULL, in, len,
					    out, &n, cap) != LZMA_OK)
			n = 0;
	}
	if (n == 0) {
		free(out);
		return NULL;
	}
	out[n++] = len & 0xff;
	out[n++] = len >> 8 & 0xff;
	out[n++] = len >> 16 & 0xff;
	out[n++] = len >> 24 & 0xff;
	*outlen = n;
	return out;
}

KTEST(synthetic_elf_abi)
{
	struct kho_kimage img;
	struct kho_diag diag = { "" };
	unsigned char *elf;
	size_t len;
	bool found;

	ASSERT_EQ(0, make_good_elf(&elf, &len));
	ASSERT_EQ(0, kho_kimage_parse(elf, len, &img, &diag));
	free(elf);
	ASSERT_TRUE(!strcmp(img.format, "vmlinux"));
	ASSERT_TRUE(!strcmp(img.codec, "none"));
	ASSERT_TRUE(!strcmp(img.release, "9.9.9-synth"));
	ASSERT_EQ(0, kho_kimage_check_abi(&img, base_abi, NR_BASE, &diag));
	/* Found in .data, as a struct member: */
	ASSERT_EQ(0, kho_kimage_has_abi(&img, "memfd-v2", &found));
	ASSERT_TRUE(found);
	/* Only as the tail of "kho-tool,...", and in .text: not declared. */
	ASSERT_EQ(0, kho_kimage_has_abi(&img, KHO_ABI_IOMMUFD_JOURNAL, &found));
	ASSERT_TRUE(!found);
	/* A prefix of a present string is not the string. */
	ASSERT_EQ(0, kho_kimage_has_abi(&img, "luo-v", &found));
	ASSERT_TRUE(!found);
	ASSERT_EQ(-EINVAL, kho_kimage_has_abi(&img, "", &found));
	kho_kimage_free(&img);
}

KTEST(synthetic_series)
{
	static const char ro73[] = "kho-v4\0luo-v5\0iommufd-journal-v2\0";
	static const char data[] = "memfd-v2";
	struct kho_kimage img;
	struct kho_diag diag = { "" };
	unsigned char *elf;
	char buf[128];
	size_t len;

	/* 9.9.9-synth: the journal string only in .text, so vanilla. */
	ASSERT_EQ(0, make_good_elf(&elf, &len));
	ASSERT_EQ(0, kho_kimage_parse(elf, len, &img, &diag));
	free(elf);
	ASSERT_TRUE(!kho_kimage_series(&img, buf, sizeof(buf)));
	ASSERT_STR_CONTAINS(buf, "none: vanilla 9.9.9-synth (no iommufd-journal-v2)");
	kho_kimage_free(&img);

	ASSERT_EQ(0, make_elf(ro73, sizeof(ro73), data, sizeof(data), "", 1,
			      &elf, &len));
	ASSERT_EQ(0, kho_kimage_parse(elf, len, &img, &diag));
	free(elf);
	strcpy(img.release, "7.3.4-kho-b");
	ASSERT_TRUE(kho_kimage_series(&img, buf, sizeof(buf)));
	ASSERT_STR_CONTAINS(buf, "patches/7.3/series (iommufd-journal-v2, 7.3.4-kho-b)");
	strcpy(img.release, "7.2.13-kho-b-dbg");
	ASSERT_TRUE(kho_kimage_series(&img, buf, sizeof(buf)));
	ASSERT_STR_CONTAINS(buf, "patches/series (iommufd-journal-v2, 7.2.13-kho-b-dbg)");
	/* "7.30.1" is not 7.3. */
	strcpy(img.release, "7.30.1");
	ASSERT_TRUE(kho_kimage_series(&img, buf, sizeof(buf)));
	ASSERT_STR_CONTAINS(buf, "iommufd-journal-v2 on 7.30.1, a kernel no series of this project is for");
	kho_kimage_free(&img);
}

KTEST(synthetic_elf_missing_named)
{
	static const char ro[] = "kho-v4\0luo-v9\0luo-v9\0luo-v10\0";
	static const char data[] = "memfd-v2";
	struct kho_kimage img;
	struct kho_diag diag = { "" };
	unsigned char *elf;
	size_t len;

	ASSERT_EQ(0, make_elf(ro, sizeof(ro), data, sizeof(data), "", 1,
			      &elf, &len));
	ASSERT_EQ(0, kho_kimage_parse(elf, len, &img, &diag));
	free(elf);
	ASSERT_EQ(-EPROTONOSUPPORT,
		  kho_kimage_check_abi(&img, base_abi, NR_BASE, &diag));
	ASSERT_STR_CONTAINS(diag.msg, "needs LUO ABI luo-v5");
	/* Each version listed once. */
	ASSERT_STR_CONTAINS(diag.msg, "carries luo-v9, luo-v10");
	kho_kimage_free(&img);
}

static void check_codec(int *ktest_failed, const char *codec)
{
	struct kho_kimage img;
	struct kho_diag diag = { "" };
	unsigned char *elf, *payload, *bz;
	size_t len, plen, bzlen;

	ASSERT_EQ(0, make_good_elf(&elf, &len));
	payload = pack(codec, elf, len, &plen);
	ASSERT_TRUE(payload);
	bz = make_bzimage(payload, plen, &bzlen);
	ASSERT_TRUE(bz);
	ASSERT_EQ(0, kho_kimage_parse(bz, bzlen, &img, &diag));
	ASSERT_TRUE(!strcmp(img.format, "bzImage"));
	ASSERT_TRUE(!strcmp(img.codec, codec));
	/* The setup header's release wins over the banner's. */
	ASSERT_TRUE(!strcmp(img.release, "9.9.9-bz"));
	ASSERT_EQ(len, img.elf_len);
	ASSERT_TRUE(!memcmp(img.elf, elf, len));
	ASSERT_EQ(0, kho_kimage_check_abi(&img, base_abi, NR_BASE, &diag));
	kho_kimage_free(&img);

	/* One byte short of the payload: truncated, whatever the codec. */
	ASSERT_EQ(-EBADMSG, kho_kimage_parse(bz, bzlen - 1, &img, &diag));
	ASSERT_STR_CONTAINS(diag.msg, "truncated");
	/* The stream cut in half, header fields made consistent. */
	bz[0x24c] = (plen / 2) & 0xff;
	bz[0x24d] = (plen / 2) >> 8 & 0xff;
	bz[0x24e] = (plen / 2) >> 16 & 0xff;
	ASSERT_EQ(-EBADMSG, kho_kimage_parse(bz, 1024 + plen / 2, &img, &diag));
	ASSERT_STR_CONTAINS(diag.msg, codec);
	free(elf);
	free(payload);
	free(bz);
}

KTEST(synthetic_bzimage_xz)
{
	check_codec(ktest_failed, "xz");
}

KTEST(synthetic_bzimage_gzip)
{
	check_codec(ktest_failed, "gzip");
}

KTEST(synthetic_bzimage_zstd)
{
	check_codec(ktest_failed, "zstd");
}

/*
 * The 4-byte size trailer is the payload's claim, not a fact: a tiny image
 * claiming 1000 MiB must parse and must not make kho-tool reserve what it
 * claims.  glibc serves such a request with mmap, which mallinfo2() counts
 * in hblkhd while the image holds the buffer.
 */
KTEST(synthetic_bzimage_size_claim_not_trusted)
{
	struct kho_kimage img;
	struct kho_diag diag = { "" };
	unsigned char *elf, *payload, *bz;
	size_t len, plen, bzlen, claim;

	ASSERT_EQ(0, make_good_elf(&elf, &len));
	payload = pack("gzip", elf, len, &plen);
	ASSERT_TRUE(payload);
	claim = 1000UL << 20;
	payload[plen - 4] = claim & 0xff;
	payload[plen - 3] = claim >> 8 & 0xff;
	payload[plen - 2] = claim >> 16 & 0xff;
	payload[plen - 1] = claim >> 24 & 0xff;
	bz = make_bzimage(payload, plen, &bzlen);
	ASSERT_TRUE(bz);
	ASSERT_EQ(0, kho_kimage_parse(bz, bzlen, &img, &diag));
	ASSERT_EQ(len, img.elf_len);
	ASSERT_TRUE(mallinfo2().hblkhd < (64UL << 20));
	kho_kimage_free(&img);
	free(elf);
	free(payload);
	free(bz);
}

KTEST(synthetic_unsupported_codecs)
{
	static const struct {
		const char *name;
		unsigned char magic[4];
	} c[] = {
		{ "lz4", { 0x02, 0x21, 0x4c, 0x18 } },
		{ "lzma", { 0x5d, 0, 0, 0x80 } },
		{ "bzip2", { 'B', 'Z', 'h', '9' } },
		{ "lzo", { 0x89, 'L', 'Z', 'O' } },
	};
	unsigned char payload[64], *bz;
	struct kho_kimage img;
	struct kho_diag diag;
	size_t i, len;

	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		memset(payload, 0x55, sizeof(payload));
		memcpy(payload, c[i].magic, 4);
		bz = make_bzimage(payload, sizeof(payload), &len);
		ASSERT_TRUE(bz);
		diag.msg[0] = '\0';
		ASSERT_EQ(-EOPNOTSUPP, kho_kimage_parse(bz, len, &img, &diag));
		ASSERT_STR_CONTAINS(diag.msg, c[i].name);
		free(bz);
	}
	/* Unknown magic: not a codec at all, so corrupt. */
	memset(payload, 0x55, sizeof(payload));
	bz = make_bzimage(payload, sizeof(payload), &len);
	ASSERT_TRUE(bz);
	ASSERT_EQ(-EBADMSG, kho_kimage_parse(bz, len, &img, &diag));
	ASSERT_STR_CONTAINS(diag.msg, "unknown format");
	free(bz);
}

KTEST(synthetic_not_an_image)
{
	static const char junk[] = "#!/bin/sh\necho not a kernel\n";
	struct kho_kimage img;
	struct kho_diag diag = { "" };
	unsigned char *elf;
	size_t len;

	ASSERT_EQ(-EBADMSG, kho_kimage_parse(junk, sizeof(junk), &img, &diag));
	ASSERT_STR_CONTAINS(diag.msg, "not a kernel image");
	ASSERT_EQ(-EBADMSG, kho_kimage_parse("", 0, &img, &diag));
	/* An ELF cut inside its section table. */
	ASSERT_EQ(0, make_good_elf(&elf, &len));
	ASSERT_EQ(-EBADMSG, kho_kimage_parse(elf, len - 20, &img, &diag));
	free(elf);
}

/* --- the rig's kernel (tests/rig/build-kernel.sh vanilla) ---------------- */

static char kdir[4096];

static int load(const char *name, unsigned char **buf, size_t *len)
{
	char path[4200];

	snprintf(path, sizeof(path), "%s/%s", kdir, name);
	return kho_read_file(path, (void **)buf, len);
}

/* A temporary file holding @buf, for kho_kimage_open(). */
static int write_tmp(const unsigned char *buf, size_t len, char *path)
{
	int fd;

	strcpy(path, "/tmp/test_kimage.XXXXXX");
	fd = mkstemp(path);
	if (fd < 0)
		return -1;
	if (write(fd, buf, len) != (ssize_t)len) {
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static void real_bzimage(int *ktest_failed)
{
	struct kho_kimage img;
	struct kho_diag diag = { "" };
	char path[4200], rel[65];

	snprintf(path, sizeof(path), "%s/bzImage", kdir);
	ASSERT_EQ(0, kho_kimage_open(path, &img, &diag));
	ASSERT_TRUE(!strcmp(img.format, "bzImage"));
	ASSERT_TRUE(!strcmp(img.codec, "xz"));	/* the rig config: KERNEL_XZ */
	ASSERT_TRUE(!strncmp(img.release, "7.2.", 4));
	ASSERT_EQ(0, kho_kimage_check_abi(&img, base_abi, NR_BASE, &diag));
	/* The header-only read agrees without decompressing. */
	ASSERT_EQ(0, kho_kimage_release(path, rel, sizeof(rel)));
	ASSERT_TRUE(!strcmp(rel, img.release));
	ASSERT_EQ(-EINVAL, kho_kimage_release(path, rel, 4));
	kho_kimage_free(&img);
}

static void real_vmlinux(int *ktest_failed)
{
	struct kho_kimage bz, vm;
	struct kho_diag diag = { "" };
	char path[4200];

	snprintf(path, sizeof(path), "%s/vmlinux", kdir);
	ASSERT_EQ(0, kho_kimage_open(path, &vm, &diag));
	ASSERT_TRUE(!strcmp(vm.format, "vmlinux"));
	ASSERT_EQ(0, kho_kimage_check_abi(&vm, base_abi, NR_BASE, &diag));
	snprintf(path, sizeof(path), "%s/bzImage", kdir);
	ASSERT_EQ(0, kho_kimage_open(path, &bz, &diag));
	/* The banner of the ELF names the release the setup header does. */
	ASSERT_TRUE(!strcmp(vm.release, bz.release));
	kho_kimage_free(&vm);
	kho_kimage_free(&bz);
}

static void real_vmlinux_luo_v9(int *ktest_failed)
{
	struct kho_kimage img;
	struct kho_diag diag = { "" };
	unsigned char *buf, *p;
	char path[64];
	size_t len, n = 0;
	int err;

	ASSERT_EQ(0, load("vmlinux", &buf, &len));
	for (p = buf; (p = memmem(p, buf + len - p, "\0luo-v5\0", 8)); p++) {
		p[6] = '9';
		n++;
	}
	ASSERT_TRUE(n > 0);
	ASSERT_EQ(0, write_tmp(buf, len, path));
	free(buf);
	err = kho_kimage_open(path, &img, &diag);
	unlink(path);
	ASSERT_EQ(0, err);
	ASSERT_EQ(-EPROTONOSUPPORT,
		  kho_kimage_check_abi(&img, base_abi, NR_BASE, &diag));
	ASSERT_STR_CONTAINS(diag.msg, "needs LUO ABI luo-v5");
	ASSERT_STR_CONTAINS(diag.msg, "carries luo-v9");
	kho_kimage_free(&img);
}

static void real_bzimage_broken(int *ktest_failed)
{
	struct kho_kimage img;
	struct kho_diag diag = { "" };
	unsigned char *buf;
	size_t len, setup, off, plen;

	ASSERT_EQ(0, load("bzImage", &buf, &len));
	ASSERT_EQ(-EBADMSG, kho_kimage_parse(buf, len / 2, &img, &diag));
	ASSERT_STR_CONTAINS(diag.msg, "truncated");

	setup = ((size_t)buf[0x1f1] + 1) * 512;
	off = buf[0x248] | buf[0x249] << 8 | buf[0x24a] << 16;
	plen = buf[0x24c] | buf[0x24d] << 8 | buf[0x24e] << 16;
	/* Flip bytes in the middle of the xz stream: its CRC catches it. */
	buf[setup + off + plen / 2] ^= 0xff;
	buf[setup + off + plen / 2 + 1] ^= 0xff;
	ASSERT_EQ(-EBADMSG, kho_kimage_parse(buf, len, &img, &diag));
	ASSERT_STR_CONTAINS(diag.msg, "xz payload corrupt");
	/* The same kernel, but claiming an LZ4 payload. */
	memcpy(buf + setup + off, "\x02\x21\x4c\x18", 4);
	ASSERT_EQ(-EOPNOTSUPP, kho_kimage_parse(buf, len, &img, &diag));
	ASSERT_STR_CONTAINS(diag.msg, "compressed with lz4");
	free(buf);
}

static void real_vmlinux_truncated(int *ktest_failed)
{
	struct kho_kimage img;
	struct kho_diag diag = { "" };
	unsigned char *buf;
	size_t len;

	ASSERT_EQ(0, load("vmlinux", &buf, &len));
	ASSERT_EQ(-EBADMSG, kho_kimage_parse(buf, 1 << 20, &img, &diag));
	free(buf);
}

static void real_missing_optional(int *ktest_failed)
{
	static const char *const journal_abi[] = { KHO_ABI_IOMMUFD_JOURNAL };
	struct kho_kimage img;
	struct kho_diag diag = { "" };
	char path[4200];

	/* The vanilla kernel has no iommufd journal handler. */
	snprintf(path, sizeof(path), "%s/bzImage", kdir);
	ASSERT_EQ(0, kho_kimage_open(path, &img, &diag));
	ASSERT_EQ(-EPROTONOSUPPORT, kho_kimage_check_abi(&img, journal_abi, 1,
							  &diag));
	ASSERT_STR_CONTAINS(diag.msg, "iommufd journal ABI " KHO_ABI_IOMMUFD_JOURNAL);
	kho_kimage_free(&img);
}

/*
 * Every kernel of the rig's cache says which series it carries: the patched
 * ones theirs (by the iommufd journal string and their version), the
 * vanilla ones none.  At least the 7.2.13 vanilla is there (it picked kdir).
 */
static void real_series(int *ktest_failed)
{
	char pattern[4200], dir[4100], path[4200], buf[128];
	size_t i, checked = 0;
	glob_t g;

	snprintf(pattern, sizeof(pattern), "%s/*", dirname_of(kdir, dir, sizeof(dir)));
	ASSERT_EQ(0, glob(pattern, 0, NULL, &g));
	for (i = 0; i < g.gl_pathc; i++) {
		const char *name = strrchr(g.gl_pathv[i], '/') + 1;
		struct kho_kimage img;
		struct kho_diag diag = { "" };
		struct stat st;
		bool carries;

		snprintf(path, sizeof(path), "%s/.done", g.gl_pathv[i]);
		if (stat(path, &st))
			continue;
		snprintf(path, sizeof(path), "%s/bzImage", g.gl_pathv[i]);
		ASSERT_EQ(0, kho_kimage_open(path, &img, &diag));
		carries = kho_kimage_series(&img, buf, sizeof(buf));
		printf("#   %s: %s\n", name, buf);
		if (!strncmp(name, "vanilla-", 8)) {
			ASSERT_TRUE(!carries);
			ASSERT_STR_CONTAINS(buf, "none: vanilla ");
		} else if (!strncmp(name, "patched-7.3.", 12)) {
			ASSERT_TRUE(carries);
			ASSERT_STR_CONTAINS(buf, "patches/7.3/series (iommufd-journal-v2, 7.3.");
		} else if (!strncmp(name, "patched-", 8)) {
			ASSERT_TRUE(carries);
			ASSERT_STR_CONTAINS(buf, "patches/series (iommufd-journal-v2, 7.2.");
		}
		kho_kimage_free(&img);
		checked++;
	}
	globfree(&g);
	ASSERT_TRUE(checked >= 1);
}

static void kernel_missing(int *ktest_failed)
{
	printf("#   no vanilla kernel under %s/kernel and KHO_REQUIRE_KERNEL=1: run tests/rig/build-kernel.sh vanilla\n",
	       getenv("KHO_CACHE") ? getenv("KHO_CACHE") : "~/.cache/kho-tool");
	*ktest_failed = 1;
}

/*
 * The real-image cases exist only when a kernel was built: unit tests run
 * before the kernels in `make check`, and a case that cannot run is not
 * reported as passed.  Registered before the KTEST() constructors run
 * (priority 101), which is fine: order does not matter.
 */
__attribute__((constructor(101))) static void register_real_cases(void)
{
	static const struct ktest_case real[] = {
		{ "real_bzimage", real_bzimage },
		{ "real_vmlinux", real_vmlinux },
		{ "real_vmlinux_luo_v9_refused", real_vmlinux_luo_v9 },
		{ "real_bzimage_truncated_corrupt_lz4", real_bzimage_broken },
		{ "real_vmlinux_truncated", real_vmlinux_truncated },
		{ "real_vanilla_lacks_iommufd_journal", real_missing_optional },
		{ "real_every_cached_kernel_names_its_series", real_series },
	};
	const char *cache = getenv("KHO_CACHE");
	char pattern[4096], path[4200];
	time_t newest = 0;
	glob_t g;
	size_t i;

	if (cache)
		snprintf(pattern, sizeof(pattern), "%s/kernel/vanilla-*", cache);
	else
		snprintf(pattern, sizeof(pattern), "%s/.cache/kho-tool/kernel/vanilla-*",
			 getenv("HOME") ? getenv("HOME") : "/root");
	if (!glob(pattern, 0, NULL, &g)) {
		for (i = 0; i < g.gl_pathc; i++) {
			const char *key = strrchr(g.gl_pathv[i], '/') + sizeof("vanilla-");
			struct stat st;

			/*
			 * The rig's 7.2.13 vanilla only ("vanilla-" and a
			 * 16-digit key), not vanilla-debug-* or another
			 * version's vanilla-7.3.4-*.
			 */
			if (strlen(key) != 16 || strspn(key, "0123456789abcdef") != 16)
				continue;
			snprintf(path, sizeof(path), "%s/.done", g.gl_pathv[i]);
			if (stat(path, &st) || st.st_mtime < newest)
				continue;
			snprintf(path, sizeof(path), "%s/vmlinux", g.gl_pathv[i]);
			if (access(path, R_OK))
				continue;
			newest = st.st_mtime;
			snprintf(kdir, sizeof(kdir), "%s", g.gl_pathv[i]);
		}
		globfree(&g);
	}
	if (!kdir[0]) {
		const char *req = getenv("KHO_REQUIRE_KERNEL");

		if (req && !strcmp(req, "1")) {
			ktest_cases[ktest_nr++] = (struct ktest_case){
				"real_kernel_present", kernel_missing };
			return;
		}
		fprintf(stderr, "test_kimage: no kernel built (%s): %zu real-image cases not run, not counted; KHO_REQUIRE_KERNEL=1 makes that a failure\n",
			pattern, sizeof(real) / sizeof(real[0]));
		return;
	}
	for (i = 0; i < sizeof(real) / sizeof(real[0]); i++)
		ktest_cases[ktest_nr++] = real[i];
}

/* --- the image loaded is the image checked -------------------------------- */

static unsigned char loaded[64];
static ssize_t loaded_len;
static int loaded_calls;

/* Stands in for kexec_file_load(2): remembers the head of what it got. */
static long fake_kexec_file_load(int kfd, int ifd, unsigned long len,
				 const char *cmdline, unsigned long flags)
{
	loaded_calls++;
	loaded_len = pread(kfd, loaded, sizeof(loaded), 0);
	return 0;
}

/*
 * Issue #21 item 7: kexec_file_load reopened the image path after the
 * pre-flight had read it, so a file renamed over the path in between was
 * loaded unchecked.  The checked file is now the loaded one; a write into
 * it after the check is refused.  The path API shows the race it had.
 */
KTEST(kimage_load_is_the_checked_file)
{
	long (*saved)(int, int, unsigned long, const char *, unsigned long) =
		kho_kexec_file_load_fn;
	unsigned char *good, evil[64];
	char path[64], other[64], fdpath[64];
	struct kho_diag diag = { "" };
	struct kho_kimage img;
	size_t len;
	int wfd;

	ASSERT_EQ(0, make_good_elf(&good, &len));
	ASSERT_TRUE(len >= sizeof(loaded));
	ASSERT_EQ(0, write_tmp(good, len, path));
	memset(evil, 0xcc, sizeof(evil));
	ASSERT_EQ(0, write_tmp(evil, sizeof(evil), other));
	ASSERT_EQ(0, kho_kimage_open(path, &img, &diag));
	/* The swap, between the check and the load. */
	ASSERT_EQ(0, rename(other, path));
	kho_kexec_file_load_fn = fake_kexec_file_load;
	loaded_calls = 0;
	ASSERT_EQ(0, kho_kexec_load_image(&img, path, NULL, "quiet", &diag));
	ASSERT_EQ(1, loaded_calls);
	ASSERT_EQ(sizeof(loaded), loaded_len);
	ASSERT_EQ(0, memcmp(loaded, good, sizeof(loaded)));
	/* What loading by path does: the swapped-in file. */
	ASSERT_EQ(0, kho_kexec_load(path, NULL, "quiet", &diag));
	ASSERT_EQ(0, memcmp(loaded, evil, sizeof(loaded)));
	/* A write into the checked file itself is refused. */
	snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", img.fd);
	wfd = open(fdpath, O_WRONLY);
	ASSERT_TRUE(wfd >= 0);
	usleep(10000);	/* a coarse clock must still see a new mtime */
	ASSERT_EQ(1, pwrite(wfd, "\xcc", 1, 0));
	close(wfd);
	loaded_calls = 0;
	ASSERT_EQ(-ESTALE, kho_kexec_load_image(&img, path, NULL, "quiet",
						&diag));
	ASSERT_STR_CONTAINS(diag.msg, "changed after it was checked");
	ASSERT_EQ(0, loaded_calls);
	kho_kexec_file_load_fn = saved;
	kho_kimage_free(&img);
	unlink(path);
	free(good);
}
