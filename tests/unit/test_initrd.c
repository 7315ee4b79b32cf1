// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of the target initrd's scan (kho-tool/initrd.c): built here
 * as the distros build theirs, an uncompressed early cpio (microcode)
 * followed by a compressed main cpio, and as the rig's, one plain cpio.
 * The scan must find the agent and what starts it in any segment, say
 * which segments it read, and refuse a damaged initrd by offset.
 */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

#include "ktest.h"
#include "initrd.h"
#include "kho.h"

struct img {
	unsigned char buf[64 << 10];
	size_t len;
};

static void put(struct img *m, const void *p, size_t n)
{
	memcpy(m->buf + m->len, p, n);
	m->len += n;
}

static void pad4(struct img *m)
{
	while (m->len % 4)
		m->buf[m->len++] = 0;
}

/* One newc entry: a file of @size bytes of 'x', or the trailer. */
static void entry(struct img *m, const char *name, size_t size)
{
	char hdr[160];

	snprintf(hdr, sizeof(hdr),
		 "070701%08X%08X%08X%08X%08X%08X%08zX%08X%08X%08X%08X%08zX%08X",
		 1, 0100755, 0, 0, 1, 0, size, 0, 0, 0, 0, strlen(name) + 1, 0);
	put(m, hdr, 110);
	put(m, name, strlen(name) + 1);
	pad4(m);
	memset(m->buf + m->len, 'x', size);
	m->len += size;
	pad4(m);
}

static void cpio(struct img *m, const char *const *names)
{
	for (; *names; names++)
		entry(m, *names, 100);
	entry(m, "TRAILER!!!", 0);
}

/* @in gzip'd onto the end of @m (deflate with a gzip header). */
static void gzip_onto(struct img *m, const struct img *in)
{
	z_stream z = { 0 };

	deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
	z.next_in = (unsigned char *)in->buf;
	z.avail_in = in->len;
	z.next_out = m->buf + m->len;
	z.avail_out = sizeof(m->buf) - m->len;
	deflate(&z, Z_FINISH);
	m->len += z.total_out;
	deflateEnd(&z);
}

/* Scans @m as a file (a memfd, by its /proc path). */
static int scan(const struct img *m, struct kho_initrd_scan *s,
		struct kho_diag *d)
{
	char path[64];
	int fd = memfd_create("initrd", MFD_CLOEXEC), err;

	if (fd < 0 || write(fd, m->buf, m->len) != (ssize_t)m->len)
		return -EIO;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	err = kho_initrd_scan(path, s, d);
	close(fd);
	return err;
}

static const char *const early[] = {
	"kernel", "kernel/x86/microcode/GenuineIntel.bin", NULL,
};

/* dracut's layout: early cpio, then the gzip'd main one. */
KTEST(initrd_dracut_agent_in_compressed_segment)
{
	static const char *const main_names[] = {
		"usr/bin/busybox", "./usr/lib/kho-tool/restore-agent",
		"var/lib/dracut/hooks/pre-mount/10-kho-tool-restore.sh", NULL,
	};
	static struct img m, inner;
	struct kho_initrd_scan s;
	struct kho_diag d = { "" };

	m.len = inner.len = 0;
	cpio(&m, early);
	cpio(&inner, main_names);
	gzip_onto(&m, &inner);
	ASSERT_EQ(0, scan(&m, &s, &d));
	ASSERT_EQ(0, strcmp("/usr/lib/kho-tool/restore-agent", s.agent));
	ASSERT_EQ(0, strcmp("dracut", s.starter));
	ASSERT_EQ(0, strcmp("/var/lib/dracut/hooks/pre-mount/10-kho-tool-restore.sh",
			    s.starter_path));
	ASSERT_EQ(0, strcmp("cpio+gzip", s.segments));
	ASSERT_EQ(5, s.entries);
}

/* The rig's own: one plain cpio, started by /etc/kho/init.d. */
KTEST(initrd_plain_cpio_kho_init_d)
{
	static const char *const names[] = {
		"init", "usr/bin/restore-agent", "etc/kho/init.d/10-restore-agent",
		NULL,
	};
	static struct img m;
	struct kho_initrd_scan s;
	struct kho_diag d = { "" };

	m.len = 0;
	cpio(&m, names);
	ASSERT_EQ(0, scan(&m, &s, &d));
	ASSERT_EQ(0, strcmp("/usr/bin/restore-agent", s.agent));
	ASSERT_EQ(0, strcmp("kho-init.d", s.starter));
	ASSERT_EQ(0, strcmp("cpio", s.segments));
}

/* No agent: the scan succeeds and says so (the upgrade then appends). */
KTEST(initrd_without_agent)
{
	static const char *const names[] = { "init", "scripts/init-premount/udev", NULL };
	static struct img m, inner;
	struct kho_initrd_scan s;
	struct kho_diag d = { "" };

	m.len = inner.len = 0;
	cpio(&m, early);
	cpio(&inner, names);
	gzip_onto(&m, &inner);
	ASSERT_EQ(0, scan(&m, &s, &d));
	ASSERT_EQ(0, strcmp("", s.agent));
	ASSERT_EQ(0, strcmp("", s.starter));
	ASSERT_EQ(0, strcmp("cpio+gzip", s.segments));
}

/* A compressed segment cut short is refused by its codec and offset. */
KTEST(initrd_truncated_segment_refused)
{
	static const char *const names[] = { "usr/lib/kho-tool/restore-agent", NULL };
	static struct img m, inner;
	struct kho_initrd_scan s;
	struct kho_diag d = { "" };
	size_t at;

	m.len = inner.len = 0;
	cpio(&m, early);
	at = m.len;
	cpio(&inner, names);
	gzip_onto(&m, &inner);
	m.len -= 20;
	ASSERT_EQ(-EBADMSG, scan(&m, &s, &d));
	ASSERT_TRUE(strstr(d.msg, "gzip segment at offset") != NULL);
	ASSERT_TRUE(at == strtoul(strstr(d.msg, "offset ") + 7, NULL, 10));
}

/* Bytes that are no segment at all are refused by offset. */
KTEST(initrd_unknown_data_refused)
{
	static struct img m;
	struct kho_initrd_scan s;
	struct kho_diag d = { "" };

	m.len = 0;
	cpio(&m, early);
	put(&m, "MZ not an initrd", 16);
	ASSERT_EQ(-EBADMSG, scan(&m, &s, &d));
	ASSERT_TRUE(strstr(d.msg, "unknown data at offset") != NULL);
}

/* A pipe is read, not mapped, and scanned the same. */
KTEST(initrd_pipe_is_read)
{
	static const char *const names[] = {
		"usr/bin/restore-agent", "etc/kho/init.d/10-restore-agent", NULL,
	};
	static struct img m;
	struct kho_initrd_scan s;
	struct kho_diag d = { "" };
	char path[64];
	int p[2];

	m.len = 0;
	cpio(&m, names);
	ASSERT_EQ(0, pipe(p));
	ASSERT_EQ((ssize_t)m.len, write(p[1], m.buf, m.len));
	close(p[1]);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", p[0]);
	ASSERT_EQ(0, kho_initrd_scan(path, &s, &d));
	close(p[0]);
	ASSERT_EQ(0, strcmp("/usr/bin/restore-agent", s.agent));
	ASSERT_EQ(0, strcmp("kho-init.d", s.starter));
}

/* A missing file is refused with its path and errno. */
KTEST(initrd_missing_file)
{
	struct kho_initrd_scan s;
	struct kho_diag d = { "" };

	ASSERT_EQ(-ENOENT, kho_initrd_scan("/nonexistent/initrd.img", &s, &d));
	ASSERT_TRUE(strstr(d.msg, "/nonexistent/initrd.img") != NULL);
}
