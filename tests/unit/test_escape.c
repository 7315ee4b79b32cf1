// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of the one string escaper every output uses (issue #21 item
 * 5, issue #20): JSON literals stay valid and carry no terminal escape,
 * text lines stay one line, and the agent's handoff.json is valid JSON
 * whatever printable strings a hand-off holds.
 */
#include <stdio.h>
#include <string.h>

#include "ktest.h"
#include "escape.h"
#include "handoff.h"

static const char *json(const char *s)
{
	static char buf[256];

	kho_json_escape(buf, sizeof(buf), s);
	return buf;
}

static const char *text(const char *s)
{
	static char buf[256];

	kho_text_escape(buf, sizeof(buf), s);
	return buf;
}

KTEST(escape_json)
{
	ASSERT_EQ(0, strcmp(json("vfio-pci"), "\"vfio-pci\""));
	ASSERT_EQ(0, strcmp(json("a\"b\\c"), "\"a\\\"b\\\\c\""));
	ASSERT_EQ(0, strcmp(json("7.2\n/tmp/x"), "\"7.2\\u000a/tmp/x\""));
	ASSERT_EQ(0, strcmp(json("\x1b[2J\x7f"), "\"\\u001b[2J\\u007f\""));
	/* Valid UTF-8 passes; a C1 control (CSI) and invalid bytes do not. */
	ASSERT_EQ(0, strcmp(json("caf\xc3\xa9"), "\"caf\xc3\xa9\""));
	ASSERT_EQ(0, strcmp(json("\xc2\x9b" "2J"), "\"\\u00c2\\u009b2J\""));
	ASSERT_EQ(0, strcmp(json("\xff\xc3"), "\"\\u00ff\\u00c3\""));
	ASSERT_EQ(0, strcmp(json("\xed\xa0\x80"), "\"\\u00ed\\u00a0\\u0080\""));
}

KTEST(escape_text)
{
	ASSERT_EQ(0, strcmp(text("7.2.13-amd64"), "7.2.13-amd64"));
	ASSERT_EQ(0, strcmp(text("7.2\n/tmp/x"), "7.2\\x0a/tmp/x"));
	ASSERT_EQ(0, strcmp(text("\x1b]0;t\x07\"\\"), "\\x1b]0;t\\x07\\\"\\\\"));
	ASSERT_EQ(0, strcmp(text("\xc3\xa9"), "\\xc3\\xa9"));
}

/* Truncation keeps whole escapes and reports the length needed. */
KTEST(escape_truncates_whole)
{
	char buf[8];

	ASSERT_EQ(18, kho_json_escape(buf, sizeof(buf), "ab\ncd\n"));
	ASSERT_EQ(0, strcmp(buf, "\"ab"));
	ASSERT_EQ(0, kho_text_escape(buf, sizeof(buf), ""));
	ASSERT_EQ(0, strcmp(buf, ""));
	ASSERT_EQ(3, kho_text_escape(NULL, 0, "abc"));
}

KTEST(escape_printable)
{
	ASSERT_TRUE(kho_str_printable("7.2.13 x~", 9));
	ASSERT_TRUE(!kho_str_printable("a\tb", 3));
	ASSERT_TRUE(!kho_str_printable("a\x7f", 2));
	ASSERT_TRUE(!kho_str_printable("\xc3\xa9", 2));
}

/* The agent's handoff.json: valid JSON for quotes and backslashes, which
 * the decoder accepts (they are printable), checked by python3's parser
 * when there is one. */
KTEST(escape_handoff_summary_json)
{
	struct kho_handoff h;
	char buf[1024], small[16];
	FILE *p;
	int n;

	kho_handoff_init(&h);
	strcpy(h.kernel_release, "7.2\",\"x\":\"\\");
	strcpy(h.tool_version, "0.1\n");
	n = kho_handoff_summary_json(&h, buf, sizeof(buf));
	ASSERT_TRUE(n > 0);
	ASSERT_STR_CONTAINS(buf, "\"kernel_release\":\"7.2\\\",\\\"x\\\":\\\"\\\\\"");
	ASSERT_STR_CONTAINS(buf, "\"tool_version\":\"0.1\\u000a\"");
	ASSERT_EQ(-ENOSPC, kho_handoff_summary_json(&h, small, sizeof(small)));
	if (system("python3 -c '' 2>/dev/null"))
		return;
	p = popen("python3 -c 'import json,sys; json.load(sys.stdin)'", "w");
	ASSERT_TRUE(p);
	fputs(buf, p);
	ASSERT_EQ(0, pclose(p));
}

/* The reply readers' one JSON accessor (QMP's desc, luod's status). */
KTEST(json_field_reads_a_string_value)
{
	char v[8];

	ASSERT_TRUE(kho_json_field("{\"status\":\"ok\"}", "status", v, sizeof(v)));
	ASSERT_EQ(0, strcmp(v, "ok"));
	/* QMP spaces its replies. */
	ASSERT_TRUE(kho_json_field("{\"error\": {\"class\": \"G\", \"desc\": \"no\"}}",
				   "desc", v, sizeof(v)));
	ASSERT_EQ(0, strcmp(v, "no"));
	/* A key that is a prefix of another, or a value, is not the key. */
	ASSERT_TRUE(!kho_json_field("{\"statusx\":\"ok\"}", "status", v, sizeof(v)));
	ASSERT_TRUE(!kho_json_field("{\"a\":\"status\"}", "status", v, sizeof(v)));
	ASSERT_TRUE(!kho_json_field("{\"status\":1}", "status", v, sizeof(v)));
	/* Truncated to the room given. */
	ASSERT_TRUE(kho_json_field("{\"e\":\"0123456789\"}", "e", v, sizeof(v)));
	ASSERT_EQ(0, strcmp(v, "0123456"));
}
