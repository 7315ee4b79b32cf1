// SPDX-License-Identifier: LGPL-2.1-or-later
/* String escaping for every output: JSON, text, and the decoder's check. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "escape.h"

bool kho_str_printable(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return false;
	return true;
}

/* Length of the valid UTF-8 sequence at @p (RFC 3629), 0 if invalid. */
static size_t utf8_len(const unsigned char *p)
{
	size_t n, i;
	uint32_t cp;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		n = 2;
		cp = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3;
		cp = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4;
		cp = p[0] & 0x07;
	} else {
		return 0;
	}
	/* The NUL terminator is not a continuation byte: no overrun. */
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	/* C1 controls: 8-bit terminals read U+009B as CSI. */
	if (cp >= 0x80 && cp <= 0x9f)
		return 0;
	return n;
}

/* The output buffer: pieces are written whole or not at all. */
struct esc_out {
	char *dst;
	size_t size;
	size_t pos;		/* the length the whole output needs */
	size_t fitted;		/* the length written */
	bool cut;
};

static void put(struct esc_out *o, const void *src, size_t n)
{
	if (!o->cut && o->pos + n < o->size) {
		memcpy(o->dst + o->pos, src, n);
		o->fitted = o->pos + n;
	} else {
		o->cut = true;
	}
	o->pos += n;
}

static size_t escape(char *dst, size_t size, const char *s, bool json)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	struct esc_out o = { .dst = dst, .size = size };
	char e[6];
	size_t n;

	if (json)
		put(&o, "\"", 1);
	while (*p) {
		if (*p == '"' || *p == '\\') {
			e[0] = '\\';
			e[1] = *p;
			n = 2;
		} else if (*p >= 0x20 && *p < 0x7f) {
			e[0] = *p;
			n = 1;
		} else if (json && *p >= 0x80 && (n = utf8_len(p))) {
			put(&o, p, n);
			p += n;
			continue;
		} else if (json) {
			memcpy(e, "\\u00", 4);
			e[4] = hex[*p >> 4];
			e[5] = hex[*p & 15];
			n = 6;
		} else {
			e[0] = '\\';
			e[1] = 'x';
			e[2] = hex[*p >> 4];
			e[3] = hex[*p & 15];
			n = 4;
		}
		put(&o, e, n);
		p++;
	}
	if (json)
		put(&o, "\"", 1);
	if (size)
		dst[o.fitted] = '\0';
	return o.pos;
}

size_t kho_json_escape(char *dst, size_t size, const char *s)
{
	return escape(dst, size, s, true);
}

size_t kho_text_escape(char *dst, size_t size, const char *s)
{
	return escape(dst, size, s, false);
}

void kho_json_str(FILE *out, const char *s)
{
	char small[256], *big;
	size_t n = kho_json_escape(small, sizeof(small), s);

	if (n < sizeof(small)) {
		fputs(small, out);
		return;
	}
	big = malloc(n + 1);
	if (big) {
		kho_json_escape(big, n + 1, s);
		fputs(big, out);
		free(big);
		return;
	}
	/* Out of memory: an empty literal keeps the document valid. */
	fputs("\"\"", out);
}

bool kho_json_field(const char *line, const char *key, char *out,
		    size_t size)
{
	size_t klen = strlen(key);
	const char *p = line, *end;

	while ((p = strchr(p, '"'))) {
		p++;
		if (strncmp(p, key, klen) || p[klen] != '"')
			continue;
		p += klen + 1;
		p += strspn(p, " \t");
		if (*p++ != ':')
			continue;
		p += strspn(p, " \t");
		if (*p != '"' || !(end = strchr(p + 1, '"')))
			return false;
		snprintf(out, size, "%.*s", (int)(end - p - 1), p + 1);
		return true;
	}
	return false;
}
