// SPDX-License-Identifier: GPL-2.0
/* The target initrd: scan for the restore-agent, or append it. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "decompress.h"
#include "file.h"
#include "kho.h"
#include "initrd.h"

/*
 * An initrd, a file appended to one, or a segment that decompresses beyond
 * this is refused (a bomb): far above any distro's initrd.
 */
#define MAX_UNPACKED (2UL << 30)

static int read_all(const char *path, unsigned char **buf, size_t *len)
{
	return kho_read_file_max(path, MAX_UNPACKED, (void **)buf, len);
}

static unsigned long hex8(const unsigned char *p)
{
	char tmp[9];

	memcpy(tmp, p, 8);
	tmp[8] = '\0';
	return strtoul(tmp, NULL, 16);
}

static void note_name(struct kho_initrd_scan *s, const char *name)
{
	static const char *const agents[] = {
		"usr/lib/kho-tool/restore-agent", "lib/kho-tool/restore-agent",
		"usr/bin/restore-agent", "usr/sbin/restore-agent",
	};
	static const struct { const char *suffix, *what; } starters[] = {
		{ "scripts/init-premount/kho-tool", "initramfs-tools" },
		{ "hooks/pre-mount/10-kho-tool-restore.sh", "dracut" },
		{ "etc/kho/init.d/10-restore-agent", "kho-init.d" },
	};
	size_t i, n;

	while (name[0] == '.' && name[1] == '/')
		name += 2;
	while (name[0] == '/')
		name++;
	for (i = 0; i < sizeof(agents) / sizeof(agents[0]); i++)
		if (!strcmp(name, agents[i]) && !s->agent[0])
			snprintf(s->agent, sizeof(s->agent), "/%.120s", name);
	n = strlen(name);
	for (i = 0; i < sizeof(starters) / sizeof(starters[0]); i++) {
		size_t l = strlen(starters[i].suffix);

		if (n >= l && !strcmp(name + n - l, starters[i].suffix) &&
		    !s->starter[0]) {
			snprintf(s->starter, sizeof(s->starter), "%s", starters[i].what);
			snprintf(s->starter_path, sizeof(s->starter_path), "/%.120s", name);
		}
	}
}

static void note_segment(struct kho_initrd_scan *s, const char *what)
{
	size_t l = strlen(s->segments);

	snprintf(s->segments + l, sizeof(s->segments) - l, "%s%s",
		 l ? "+" : "", what);
}

/* Walks one buffer of concatenated segments; compressed ones recurse once. */
static int walk(const unsigned char *buf, size_t len, struct kho_initrd_scan *s,
		int depth, struct kho_diag *diag)
{
	size_t off = 0;
	int err;

	while (off < len) {
		const unsigned char *p = buf + off;
		size_t rest = len - off;

		if (p[0] == 0) {		/* padding between segments */
			off++;
			continue;
		}
		if (rest >= 110 && (!memcmp(p, "070701", 6) || !memcmp(p, "070702", 6))) {
			unsigned long fsize = hex8(p + 54), nsize = hex8(p + 94);
			size_t name_end = 110 + nsize, data;
			char name[PATH_MAX];

			if (nsize == 0 || name_end > rest || nsize > sizeof(name))
				return kho_diag_set(diag, -EBADMSG,
						    "cpio header at %zu: bad name size", off);
			memcpy(name, p + 110, nsize);
			name[nsize - 1] = '\0';
			data = (name_end + 3) & ~3UL;
			if (data + fsize > rest)
				return kho_diag_set(diag, -EBADMSG,
						    "cpio entry %s at %zu: truncated", name, off);
			off += (data + fsize + 3) & ~3UL;
			if (!strcmp(name, "TRAILER!!!")) {
				if (depth == 0)
					note_segment(s, "cpio");
				continue;
			}
			s->entries++;
			note_name(s, name);
			continue;
		}
		if (depth == 0) {
			const char *codec = NULL;
			size_t olen = 0, used = 0;
			void *out = NULL;

			if (rest >= 2 && p[0] == 0x1f && p[1] == 0x8b)
				codec = "gzip";
			else if (rest >= 6 && !memcmp(p, "\xfd" "7zXZ\0", 6))
				codec = "xz";
			else if (rest >= 4 && !memcmp(p, "\x28\xb5\x2f\xfd", 4))
				codec = "zstd";
			if (codec) {
				err = kho_decompress(codec, p, rest, 0, MAX_UNPACKED,
						     &out, &olen, &used, diag);
				if (!err)
					err = walk(out, olen, s, 1, diag);
				else
					kho_diag_set(diag, err, "%s segment at offset %zu: %s",
						     codec, off, err == -EFBIG ?
						     "unpacks beyond 2 GiB" : "corrupt");
				free(out);
				if (err)
					return err;
				note_segment(s, codec);	/* a compressed cpio */
				off += used ? used : rest;
				continue;
			}
		}
		return kho_diag_set(diag, -EBADMSG,
				    "unknown data at offset %zu (not cpio, gzip, xz or zstd)", off);
	}
	return 0;
}

/*
 * A regular file is mapped, not read: a distro's initrd of tens of MiB
 * then costs no copy beside its page cache, on a host about to kexec
 * that may be short of memory (the rig's first boot has 340 MiB free).
 * Anything else (a pipe, a device) is read.
 */
static int map_or_read(const char *path, unsigned char **buf, size_t *len,
		       bool *mapped)
{
	struct stat st;
	int fd, err;

	*mapped = false;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		err = -errno;
	} else if (!S_ISREG(st.st_mode) || st.st_size == 0) {
		err = kho_read_fd_max(fd, MAX_UNPACKED, (void **)buf, len);
	} else if ((uint64_t)st.st_size > MAX_UNPACKED) {
		err = -EFBIG;
	} else {
		*buf = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		err = *buf == MAP_FAILED ? -errno : 0;
		*len = st.st_size;
		*mapped = !err;
	}
	close(fd);
	return err;
}

int kho_initrd_scan(const char *path, struct kho_initrd_scan *s,
		    struct kho_diag *diag)
{
	unsigned char *buf;
	bool mapped;
	size_t len;
	int err;

	memset(s, 0, sizeof(*s));
	err = map_or_read(path, &buf, &len, &mapped);
	if (err)
		return kho_diag_set(diag, err, "cannot read initrd %s: %s",
				    path, strerror(-err));
	err = walk(buf, len, s, 0, diag);
	if (mapped)
		munmap(buf, len);
	else
		free(buf);
	return err;
}

/* --- the append fallback ---------------------------------------------- */

static int pad4(int fd, size_t *pos)
{
	static const char zero[4];
	size_t n = (4 - *pos % 4) % 4;

	*pos += n;
	return kho_write_all(fd, zero, n);
}

static int newc_entry(int fd, size_t *pos, unsigned ino, const char *name,
		      unsigned mode, const void *data, size_t size)
{
	char hdr[160];
	int err;

	snprintf(hdr, sizeof(hdr),
		 "070701%08X%08X%08X%08X%08X%08X%08zX%08X%08X%08X%08X%08zX%08X",
		 ino, mode, 0, 0, 1, 0, size, 0, 0, 0, 0, strlen(name) + 1, 0);
	err = kho_write_all(fd, hdr, 110);
	if (!err)
		err = kho_write_all(fd, name, strlen(name) + 1);
	*pos += 110 + strlen(name) + 1;
	if (!err)
		err = pad4(fd, pos);
	if (!err && size)
		err = kho_write_all(fd, data, size);
	*pos += size;
	if (!err)
		err = pad4(fd, pos);
	return err;
}

/* @name from /usr/lib/kho-tool, else from next to this binary. */
static int find_host_file(const char *name, char *out, size_t len)
{
	char self[PATH_MAX];
	ssize_t n;

	snprintf(out, len, "/usr/lib/kho-tool/%s", name);
	if (access(out, R_OK) == 0)
		return 0;
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		snprintf(out, len, "%s/%s", dirname(self), name);
		if (access(out, R_OK) == 0)
			return 0;
	}
	return -ENOENT;
}

int kho_initrd_append_agent(const char *path, int *fdp, struct kho_diag *diag)
{
	static const char *const dirs[] = {
		"etc", "etc/kho", "etc/kho/init.d", "usr", "usr/lib", "usr/lib/kho-tool",
	};
	unsigned char *base = NULL, *agent = NULL, *hook = NULL;
	size_t blen, alen, hlen, pos = 0, i;
	char apath[PATH_MAX], hpath[PATH_MAX];
	int fd, err;

	if (find_host_file("restore-agent", apath, sizeof(apath)))
		return kho_diag_set(diag, -ENOENT,
				    "no restore-agent in /usr/lib/kho-tool or next to kho-tool to append");
	if (find_host_file("init.d/10-restore-agent", hpath, sizeof(hpath)) &&
	    (snprintf(hpath, sizeof(hpath), "/etc/kho/init.d/10-restore-agent"),
	     access(hpath, R_OK)))
		return kho_diag_set(diag, -ENOENT,
				    "no init.d/10-restore-agent in /usr/lib/kho-tool or next to kho-tool to append");
	err = read_all(path, &base, &blen);
	if (!err)
		err = read_all(apath, &agent, &alen);
	if (!err)
		err = read_all(hpath, &hook, &hlen);
	if (err) {
		kho_diag_set(diag, err, "reading %s, %s, %s: %s", path, apath,
			     hpath, strerror(-err));
		goto out;
	}
	fd = memfd_create("kho-initrd", MFD_CLOEXEC);
	if (fd < 0) {
		err = kho_diag_set(diag, -errno, "memfd_create: %s", strerror(errno));
		goto out;
	}
	/* The kernel reads the next segment at a 4-byte boundary. */
	err = kho_write_all(fd, base, blen);
	pos = blen;
	if (!err)
		err = pad4(fd, &pos);
	for (i = 0; !err && i < sizeof(dirs) / sizeof(dirs[0]); i++)
		err = newc_entry(fd, &pos, 900 + i, dirs[i], 040755, NULL, 0);
	if (!err)
		err = newc_entry(fd, &pos, 910, "usr/lib/kho-tool/restore-agent",
				 0100755, agent, alen);
	if (!err)
		err = newc_entry(fd, &pos, 911, "etc/kho/init.d/10-restore-agent",
				 0100755, hook, hlen);
	if (!err)
		err = newc_entry(fd, &pos, 0, "TRAILER!!!", 0, NULL, 0);
	if (err) {
		close(fd);
		kho_diag_set(diag, err, "writing the appended initrd: %s", strerror(-err));
		goto out;
	}
	*fdp = fd;
out:
	free(base);
	free(agent);
	free(hook);
	return err;
}
