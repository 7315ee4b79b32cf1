// SPDX-License-Identifier: LGPL-2.1-or-later
/* QEMU's CPR state: parse and encode its bytes (format in cpr_state.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include <unistd.h>

#include "cpr_state.h"
#include "escape.h"
#include "kho.h"

/* QEMU_VM_SUBSECTION in migration/savevm.c. */
#define CPR_SUBSECTION 0x05
/* The byte QEMU's qemu_file_put_fd() sends with each descriptor. */
#define CPR_FD_BYTE ' '

struct cursor {
	const uint8_t *buf;
	size_t len;
	size_t off;
	char *err;
	size_t errlen;
};

__attribute__((format(printf, 2, 3)))
static int fail(struct cursor *c, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!c->err || !c->errlen)
		return -EBADMSG;
	n = snprintf(c->err, c->errlen, "cpr state: offset %zu: ", c->off);
	if (n < 0 || (size_t)n >= c->errlen)
		return -EBADMSG;
	va_start(ap, fmt);
	vsnprintf(c->err + n, c->errlen - n, fmt, ap);
	va_end(ap);
	return -EBADMSG;
}

static int get_u8(struct cursor *c, const char *field, uint8_t *v)
{
	if (c->len - c->off < 1)
		return fail(c, "%s: truncated (1 byte needed, none left)", field);
	*v = c->buf[c->off++];
	return 0;
}

static int get_be32(struct cursor *c, const char *field, uint32_t *v)
{
	const uint8_t *p;

	if (c->len - c->off < 4)
		return fail(c, "%s: truncated (4 bytes needed, %zu left)",
			    field, c->len - c->off);
	p = c->buf + c->off;
	*v = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	     (uint32_t)p[2] << 8 | p[3];
	c->off += 4;
	return 0;
}

void kho_cpr_state_free(struct kho_cpr_state *st)
{
	unsigned int i;

	if (!st)
		return;
	for (i = 0; i < st->nr_fds; i++)
		if (st->fds[i].fd >= 0)
			close(st->fds[i].fd);
	free(st->fds);
	free(st->vfio);
	free(st->tail);
	memset(st, 0, sizeof(*st));
}

/*
 * A name as QEMU sends it: a be32 length, then strlen + 1 bytes with
 * exactly one NUL, at the end.  @dst gets it (KHO_CPR_NAME_MAX bytes of
 * room), @esc an escaped copy, cut short, for messages: a peer's name
 * goes into them no other way.
 */
static int get_name(struct cursor *c, const char *what, char *dst, char *esc,
		    size_t esclen)
{
	char field[96];
	uint32_t namelen = 0;
	int ret;

	snprintf(field, sizeof(field), "%s: namelen", what);
	ret = get_be32(c, field, &namelen);
	if (ret)
		return ret;
	if (namelen == 0 || namelen > KHO_CPR_NAME_MAX) {
		c->off -= 4;
		return fail(c, "%s: namelen %u outside 1..%u", what, namelen,
			    KHO_CPR_NAME_MAX);
	}
	if (c->len - c->off < namelen)
		return fail(c, "%s: name: truncated (%u bytes needed, %zu left)",
			    what, namelen, c->len - c->off);
	if (c->buf[c->off + namelen - 1] != '\0' ||
	    memchr(c->buf + c->off, '\0', namelen - 1))
		return fail(c, "%s: name: not one NUL-terminated string of %u bytes",
			    what, namelen);
	memcpy(dst, c->buf + c->off, namelen);
	c->off += namelen;
	kho_text_escape(esc, esclen, dst);
	return 0;
}

/* The body of "CprState/vfio devices" v1: a list of cpr vfio device. */
static int parse_vfio(struct cursor *c, struct kho_cpr_state *st)
{
	struct kho_cpr_vfio_dev *d;
	char field[96], name[64], what[32];
	uint32_t v = 0;
	uint8_t more = 0;
	unsigned int n = 0;
	int ret;

	st->vfio = calloc(KHO_CPR_MAX_VFIO, sizeof(*st->vfio));
	if (!st->vfio)
		return -ENOMEM;
	for (;;) {
		ret = get_u8(c, "vfio devices: list marker", &more);
		if (ret)
			return ret;
		if (more == 0)
			break;
		if (more != 1) {
			c->off--;
			return fail(c, "vfio devices: list marker %u after %u devices, not 0 or 1",
				    more, n);
		}
		if (n == KHO_CPR_MAX_VFIO) {
			fail(c, "vfio devices: more than %u", KHO_CPR_MAX_VFIO);
			return -E2BIG;
		}
		d = &st->vfio[n];
		snprintf(what, sizeof(what), "vfio device %u", n);
		ret = get_name(c, what, d->name, name, sizeof(name));
		if (ret)
			return ret;
		snprintf(field, sizeof(field), "vfio device %u (%s): devid", n, name);
		ret = get_be32(c, field, &v);
		if (ret)
			return ret;
		d->devid = (int32_t)v;
		snprintf(field, sizeof(field), "vfio device %u (%s): ioas_id", n, name);
		ret = get_be32(c, field, &d->ioas_id);
		if (ret)
			return ret;
		snprintf(field, sizeof(field), "vfio device %u (%s): hwpt_id", n, name);
		ret = get_be32(c, field, &d->hwpt_id);
		if (ret)
			return ret;
		n++;
	}
	st->nr_vfio = n;
	st->has_vfio = 1;
	return 0;
}

/* One "cpr fd" element: namelen, name, id, placeholder byte. */
static int parse_fd(struct cursor *c, struct kho_cpr_fd *e, unsigned int idx)
{
	char field[96], name[64], what[32];
	uint32_t id = 0;
	uint8_t b = 0;
	int ret;

	snprintf(what, sizeof(what), "fd %u", idx);
	ret = get_name(c, what, e->name, name, sizeof(name));
	if (ret)
		return ret;
	snprintf(field, sizeof(field), "fd %u (%s): id", idx, name);
	ret = get_be32(c, field, &id);
	if (ret)
		return ret;
	e->id = (int32_t)id;
	snprintf(field, sizeof(field), "fd %u (%s): fd", idx, name);
	ret = get_u8(c, field, &b);
	if (ret)
		return ret;
	if (b != CPR_FD_BYTE) {
		c->off--;
		return fail(c, "fd %u (%s): fd placeholder is 0x%02x, not 0x%02x",
			    idx, name, b, CPR_FD_BYTE);
	}
	return 0;
}

int kho_cpr_state_parse(const uint8_t *buf, size_t len, const int *fds,
			unsigned int nr_fds, struct kho_cpr_state *st,
			char *err, size_t errlen)
{
	struct cursor c = { buf, len, 0, err, errlen };
	struct kho_cpr_fd *list = NULL;
	unsigned int n = 0, i;
	uint32_t magic = 0, version = 0;
	uint8_t more = 0;
	int ret;

	memset(st, 0, sizeof(*st));
	if (!buf && len)
		return -EINVAL;
	if (len > KHO_CPR_STATE_MAX) {
		fail(&c, "state is %zu bytes, over %u", len, KHO_CPR_STATE_MAX);
		return -E2BIG;
	}
	ret = get_be32(&c, "magic", &magic);
	if (ret)
		return ret;
	if (magic != KHO_CPR_MAGIC) {
		c.off = 0;
		fail(&c, "magic: 0x%08x, not 0x%08x (QCPR)", magic, KHO_CPR_MAGIC);
		return -EPROTONOSUPPORT;
	}
	ret = get_be32(&c, "version", &version);
	if (ret)
		return ret;
	if (version != KHO_CPR_VERSION) {
		c.off = 4;
		fail(&c, "version: %u, this reader knows %u", version,
		     KHO_CPR_VERSION);
		return -EPROTONOSUPPORT;
	}
	list = calloc(KHO_CPR_MAX_FDS, sizeof(*list));
	if (!list)
		return -ENOMEM;
	for (;;) {
		ret = get_u8(&c, "fds: list marker", &more);
		if (ret)
			goto out_free;
		if (more == 0)
			break;
		if (more != 1) {
			c.off--;
			ret = fail(&c, "fds: list marker %u after %u fds, not 0 or 1",
				   more, n);
			goto out_free;
		}
		if (n == KHO_CPR_MAX_FDS) {
			fail(&c, "fds: more than %u", KHO_CPR_MAX_FDS);
			ret = -E2BIG;
			goto out_free;
		}
		list[n].fd = -1;
		ret = parse_fd(&c, &list[n], n);
		if (ret)
			goto out_free;
		n++;
	}
	if (n != nr_fds) {
		ret = fail(&c, "fds: %u named in the state, %u received", n, nr_fds);
		goto out_free;
	}
	if (c.off < len) {
		uint8_t tag = buf[c.off], nl;
		uint32_t sver = 0;
		size_t start = c.off;

		if (tag != CPR_SUBSECTION) {
			ret = fail(&c, "after the fd list: byte 0x%02x, not a subsection (0x%02x)",
				   tag, CPR_SUBSECTION);
			goto out_free;
		}
		if (len - c.off > KHO_CPR_TAIL_MAX) {
			fail(&c, "subsections: %zu bytes, over %u", len - c.off,
			     KHO_CPR_TAIL_MAX);
			ret = -E2BIG;
			goto out_free;
		}
		/* The header (tag, name length, name, be32 version) must be whole. */
		if (len - c.off < 2 || (nl = buf[c.off + 1]) == 0 ||
		    len - c.off - 2 < (size_t)nl + 4) {
			ret = fail(&c, "subsection: header truncated or name empty");
			goto out_free;
		}
		memcpy(st->tail_name, buf + c.off + 2, nl);
		st->tail_name[nl] = '\0';
		c.off += 2 + nl;
		get_be32(&c, "subsection: version", &sver);
		if (!strcmp(st->tail_name, KHO_CPR_VFIO_SUBSECTION) &&
		    sver == KHO_CPR_VFIO_VERSION) {
			ret = parse_vfio(&c, st);
			if (ret)
				goto out_free;
			st->tail_name[0] = '\0';
			start = c.off;
		}
		/* Whatever follows (a later QEMU's subsections) stays opaque. */
		if (start < len) {
			if (!st->tail_name[0]) {
				if (buf[start] != CPR_SUBSECTION || len - start < 2 ||
				    !buf[start + 1] || len - start - 2 < buf[start + 1]) {
					ret = fail(&c, "after the vfio devices: no subsection header");
					goto out_free;
				}
				memcpy(st->tail_name, buf + start + 2, buf[start + 1]);
				st->tail_name[buf[start + 1]] = '\0';
			}
			st->tail = malloc(len - start);
			if (!st->tail) {
				ret = -ENOMEM;
				goto out_free;
			}
			memcpy(st->tail, buf + start, len - start);
			st->tail_len = len - start;
		}
	}
	for (i = 0; i < n; i++)
		list[i].fd = fds[i];
	st->version = version;
	st->nr_fds = n;
	st->fds = list;
	return 0;

out_free:
	free(list);
	free(st->vfio);
	free(st->tail);
	memset(st, 0, sizeof(*st));
	return ret;
}

static int put(uint8_t *buf, size_t cap, size_t *off, const void *p, size_t n)
{
	if (cap - *off < n)
		return -ENOSPC;
	memcpy(buf + *off, p, n);
	*off += n;
	return 0;
}

static int put_be32(uint8_t *buf, size_t cap, size_t *off, uint32_t v)
{
	uint8_t b[4] = { v >> 24, v >> 16, v >> 8, v };

	return put(buf, cap, off, b, 4);
}

/*
 * A list element's start as QEMU writes it: the "more" marker 1, then the
 * name as a be32 length and strlen + 1 bytes.  -EINVAL for an empty name
 * or one over KHO_CPR_NAME_MAX.
 */
static int put_element_name(uint8_t *buf, size_t cap, size_t *off,
			    const char *name)
{
	static const uint8_t one = 1;
	size_t namelen = strnlen(name, KHO_CPR_NAME_MAX) + 1;
	int ret;

	if (namelen == 1 || namelen > KHO_CPR_NAME_MAX)
		return -EINVAL;
	ret = put(buf, cap, off, &one, 1);
	if (!ret)
		ret = put_be32(buf, cap, off, namelen);
	if (!ret)
		ret = put(buf, cap, off, name, namelen);
	return ret;
}

int kho_cpr_state_encode(const struct kho_cpr_state *st, uint8_t *buf,
			 size_t cap, size_t *len, size_t *fd_offsets)
{
	static const uint8_t zero = 0, fdbyte = CPR_FD_BYTE;
	size_t off = 0;
	unsigned int i;
	int ret;

	if (st->nr_fds > KHO_CPR_MAX_FDS || st->tail_len > KHO_CPR_TAIL_MAX)
		return -EINVAL;
	ret = put_be32(buf, cap, &off, KHO_CPR_MAGIC);
	if (!ret)
		ret = put_be32(buf, cap, &off, KHO_CPR_VERSION);
	for (i = 0; !ret && i < st->nr_fds; i++) {
		const struct kho_cpr_fd *e = &st->fds[i];

		ret = put_element_name(buf, cap, &off, e->name);
		if (!ret)
			ret = put_be32(buf, cap, &off, (uint32_t)e->id);
		if (!ret) {
			fd_offsets[i] = off;
			ret = put(buf, cap, &off, &fdbyte, 1);
		}
	}
	if (!ret)
		ret = put(buf, cap, &off, &zero, 1);
	if (!ret && st->has_vfio) {
		static const uint8_t hdr[] = { CPR_SUBSECTION,
					       sizeof(KHO_CPR_VFIO_SUBSECTION) - 1 };

		if (st->nr_vfio > KHO_CPR_MAX_VFIO)
			return -EINVAL;
		ret = put(buf, cap, &off, hdr, 2);
		if (!ret)
			ret = put(buf, cap, &off, KHO_CPR_VFIO_SUBSECTION,
				  sizeof(KHO_CPR_VFIO_SUBSECTION) - 1);
		if (!ret)
			ret = put_be32(buf, cap, &off, KHO_CPR_VFIO_VERSION);
		for (i = 0; !ret && i < st->nr_vfio; i++) {
			const struct kho_cpr_vfio_dev *d = &st->vfio[i];

			ret = put_element_name(buf, cap, &off, d->name);
			if (!ret)
				ret = put_be32(buf, cap, &off, (uint32_t)d->devid);
			if (!ret)
				ret = put_be32(buf, cap, &off, d->ioas_id);
			if (!ret)
				ret = put_be32(buf, cap, &off, d->hwpt_id);
		}
		if (!ret)
			ret = put(buf, cap, &off, &zero, 1);
	}
	if (!ret && st->tail_len)
		ret = put(buf, cap, &off, st->tail, st->tail_len);
	if (ret)
		return ret;
	*len = off;
	return 0;
}

static const char *const kind_names[] = {
	[KHO_CPR_KIND_UNKNOWN] = "unknown",
	[KHO_CPR_KIND_MEMFD] = "memfd",
	[KHO_CPR_KIND_IOMMUFD] = "iommufd",
	[KHO_CPR_KIND_VFIO_DEVICE] = "vfio-device",
	[KHO_CPR_KIND_EVENTFD] = "eventfd",
	[KHO_CPR_KIND_VHOST] = "vhost",
	[KHO_CPR_KIND_TAP] = "tap",
	[KHO_CPR_KIND_FILE] = "file",
	[KHO_CPR_KIND_OTHER] = "other",
};

int kho_cpr_state_memfds(const struct kho_cpr_state *st,
			 struct kho_memfd **memfds, int **fds, size_t *nr)
{
	struct kho_memfd *m;
	char what[256];
	unsigned int i;
	size_t n = 0;
	int *f;

	*memfds = NULL;
	*fds = NULL;
	*nr = 0;
	m = calloc(st->nr_fds ? st->nr_fds : 1, sizeof(*m));
	f = calloc(st->nr_fds ? st->nr_fds : 1, sizeof(*f));
	if (!m || !f) {
		free(m);
		free(f);
		return -ENOMEM;
	}
	for (i = 0; i < st->nr_fds; i++) {
		if (st->fds[i].fd < 0 ||
		    kho_cpr_fd_kind(st->fds[i].fd, what, sizeof(what)) != KHO_CPR_KIND_MEMFD)
			continue;
		m[n].token = i;
		/* For messages only: a longer name is cut. */
		snprintf(m[n].name, sizeof(m[n].name), "%.*s",
			 (int)sizeof(m[n].name) - 1, st->fds[i].name);
		f[n++] = st->fds[i].fd;
	}
	if (!n) {
		free(m);
		free(f);
		return 0;
	}
	*memfds = m;
	*fds = f;
	*nr = n;
	return 0;
}

const char *kho_cpr_kind_name(enum kho_cpr_kind kind)
{
	if ((unsigned int)kind >= sizeof(kind_names) / sizeof(kind_names[0]))
		return "unknown";
	return kind_names[kind];
}

int kho_cpr_kind_crosses_kexec(enum kho_cpr_kind kind)
{
	return kind == KHO_CPR_KIND_MEMFD || kind == KHO_CPR_KIND_IOMMUFD ||
	       kind == KHO_CPR_KIND_VFIO_DEVICE || kind == KHO_CPR_KIND_EVENTFD;
}

enum kho_cpr_kind kho_cpr_fd_kind(int fd, char *what, size_t whatlen)
{
	char path[64], link[256];
	struct stat sb;
	ssize_t n;

	if (whatlen)
		what[0] = '\0';
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return KHO_CPR_KIND_UNKNOWN;
	link[n] = '\0';
	if (whatlen)
		snprintf(what, whatlen, "%s", link);
	if (!strncmp(link, "/memfd:", 7))
		return KHO_CPR_KIND_MEMFD;
	/*
	 * A memfd LUO restored after a kexec: the kernel makes it nameless
	 * (memfd_luo: memfd_alloc_file("")), so it reads "/ (deleted)".  An
	 * unlinked tmpfs file reads with its old path, a nameless one only
	 * comes from shmem itself: a QEMU restored by cpr-relay --restore,
	 * carried again (rollback).
	 */
	if (!strcmp(link, "/ (deleted)")) {
		struct statfs fs;

		if (fstatfs(fd, &fs) == 0 && fs.f_type == TMPFS_MAGIC &&
		    fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode))
			return KHO_CPR_KIND_MEMFD;
	}
	if (!strcmp(link, "anon_inode:[eventfd]"))
		return KHO_CPR_KIND_EVENTFD;
	if (!strcmp(link, "/dev/iommu"))
		return KHO_CPR_KIND_IOMMUFD;
	if (!strncmp(link, "/dev/vfio/devices/", 18))
		return KHO_CPR_KIND_VFIO_DEVICE;
	if (!strncmp(link, "/dev/vhost-", 11))
		return KHO_CPR_KIND_VHOST;
	if (!strcmp(link, "/dev/net/tun"))
		return KHO_CPR_KIND_TAP;
	if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode))
		return KHO_CPR_KIND_FILE;
	return KHO_CPR_KIND_OTHER;
}
