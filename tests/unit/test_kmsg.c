// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of kho_kmsg_warnings(): the kernel's own reason that KHO and
 * LUO did not start, read from a file in /dev/kmsg's record format (the
 * rig's guests lost /dev/liveupdate on one boot in five, and kho-tool said
 * only "see dmesg").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fstree.h"
#include "kmsg.h"
#include "ktest.h"

static const char *const kho_luo[] = { "KHO: ", "luo: ", NULL };

/* Records as a 1 GiB guest printed them when KHO found no scratch room. */
static const char no_scratch[] =
	"6,0,0,-;Linux version 7.2.13-kho-a (kho@rig)\n"
	" SUBSYSTEM=cpu\n"
	"5,1,0,-;KHO: scratch areas: lowmem: 32MiB global: 192MiB pernode: 32MiB\n"
	"3,2,0,-;KHO: Failed to reserve nid 0 scratch buffer\n"
	"4,3,0,-;KHO: Failed to reserve scratch area, disabling kexec handover\n"
	"4,4,10,-;luo: Disabling liveupdate because KHO is disabled\n"
	"4,5,20,-;ACPI: a warning of another subsystem\n"
	"14,6,30,-;luo: an informational message of the user facility\n"
	"12,7,40,-;KHO: a warning logged from user space (facility 1)\n";

/* kho_kmsg_warnings() of a log file holding @content. */
static int warnings_of(const char *content, char *out, size_t size)
{
	char dir[] = "/tmp/kho-kmsg-XXXXXX", path[64];
	int n;

	if (!mkdtemp(dir))
		abort();
	fstree_put(dir, "kmsg", content);
	snprintf(path, sizeof(path), "%s/kmsg", dir);
	n = kho_kmsg_warnings(path, kho_luo, out, size);
	fstree_rm(dir);
	return n;
}

KTEST(kmsg_quotes_the_scratch_failure_in_order)
{
	char out[512];
	int n = warnings_of(no_scratch, out, sizeof(out));

	/* Warnings and errors of KHO and LUO; not notices, not ACPI. */
	ASSERT_EQ(4, n);
	ASSERT_STR_CONTAINS(out, "\"KHO: Failed to reserve nid 0 scratch buffer\"; \"KHO: Failed to reserve scratch area, disabling kexec handover\"; \"luo: Disabling liveupdate because KHO is disabled\"");
	ASSERT_TRUE(!strstr(out, "scratch areas: lowmem"));
	ASSERT_TRUE(!strstr(out, "ACPI"));
	ASSERT_TRUE(!strstr(out, "informational"));
	/* Facility bits above the level: 12 is user.warning. */
	ASSERT_STR_CONTAINS(out, "from user space");
}

KTEST(kmsg_truncates_and_counts_every_match)
{
	char out[48];
	int n = warnings_of(no_scratch, out, sizeof(out));

	ASSERT_EQ(4, n);
	ASSERT_EQ(sizeof(out) - 1, strlen(out));
	ASSERT_TRUE(!strcmp(out + sizeof(out) - 4, "..."));
}

KTEST(kmsg_a_clean_log_and_a_missing_one)
{
	char out[64];
	int n = warnings_of("6,0,0,-;KHO: scratch areas ok\n", out, sizeof(out));

	ASSERT_EQ(0, n);
	ASSERT_EQ(0, strlen(out));
	ASSERT_EQ(-ENOENT, kho_kmsg_warnings("/nonexistent/kmsg", kho_luo,
					     out, sizeof(out)));
}
