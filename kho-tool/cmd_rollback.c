// SPDX-License-Identifier: GPL-2.0
/* kho-tool rollback: the upgrade path aimed at the kernel we came from. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "file.h"
#include "handoff.h"
#include "kexec.h"
#include "kimage.h"
#include "rundir.h"
#include "upgrade.h"

/* Written by the operator or the restore-agent: the previous image's path. */
#define PREVIOUS_KERNEL_FILE KHO_RUN_DIR "/previous-kernel"
#define BOOT_DIR "/boot"

static int usage(FILE *out, int code)
{
	fprintf(out,
		"usage: kho-tool rollback [--kernel IMAGE] [--initrd FILE] [--append ARGS]\n"
		"                         [--pid PID | --qemu-qmp SOCK...] [--dry-run] [--json]\n"
		"                         [--userspace-journal] [--require-device-state]\n"
		"  kexec back to the kernel this one was kexec'd from, keeping the state.\n"
		"  --pid and --qemu-qmp as for `kho-tool upgrade` (the same path).\n"
		"  The target is, in order: --kernel IMAGE; the image the restore-agent\n"
		"  recorded in %s; the image in %s whose setup header\n"
		"  names the previous release (KHO kexec-metadata: %s).\n"
		"  --userspace-journal  leave the VMM's iommufd out of the session (degraded:\n"
		"  the replay is not verified by the target's kernel); required when the\n"
		"  running kernel journals iommufds and the target lacks iommufd-journal-v2.\n"
		"  --require-device-state  refuse, before anything is preserved, when a\n"
		"  passed-through device's state would be reset (docs/device-state.md).\n",
		PREVIOUS_KERNEL_FILE, BOOT_DIR, KHO_KEXEC_METADATA);
	return code;
}

/*
 * Finds the previous kernel's image; @why says how, for the timeline.
 * @prev: the previous release from KHO's kexec-metadata, "" if unknown;
 * the restore-agent's record fills it in when the kernel does not.
 * Return: 0, or -ENOENT (-ENOMEM) with the reason printed.
 */
static int find_previous(char *path, size_t size, char *why, size_t wsize,
			 char *prev, size_t psize)
{
	char *buf, *line2, *raw;
	size_t len;
	int err;

	/*
	 * The restore-agent writes the hand-off's kernel_release on line 1
	 * and, when /boot/vmlinuz-RELEASE exists, that path on line 2.
	 */
	err = kho_read_file(PREVIOUS_KERNEL_FILE, (void **)&raw, &len);
	if (!err) {
		/* kho_read_file() returns bytes, not a string. */
		buf = strndup(raw, len);
		free(raw);
		if (!buf) {
			fprintf(stderr, "kho-tool rollback: reading %s: out of memory\n",
				PREVIOUS_KERNEL_FILE);
			return -ENOMEM;
		}
		line2 = strchr(buf, '\n');
		if (line2)
			*line2++ = '\0';
		if (!prev[0])
			snprintf(prev, psize, "%.64s", buf);
		else if (strcmp(prev, buf))
			fprintf(stderr,
				"kho-tool rollback: warning: %s names %s, KHO kexec-metadata %s: using the kernel's\n",
				PREVIOUS_KERNEL_FILE, buf, prev);
		if (line2 && line2[0] && !strcmp(prev, buf)) {
			line2[strcspn(line2, "\n")] = '\0';
			snprintf(path, size, "%s", line2);
			snprintf(why, wsize, "%s (release %s)",
				 PREVIOUS_KERNEL_FILE, prev);
			free(buf);
			return 0;
		}
		free(buf);
	}
	if (!prev[0]) {
		fprintf(stderr,
			"kho-tool rollback: no previous kernel known: %s is missing and %s is unreadable (cold boot, or debugfs not mounted); pass --kernel IMAGE\n",
			PREVIOUS_KERNEL_FILE, KHO_KEXEC_METADATA);
		return -ENOENT;
	}
	err = kho_kexec_find_image(BOOT_DIR, prev, path, size);
	if (err) {
		fprintf(stderr,
			"kho-tool rollback: the previous kernel was %s, but no image in %s names that release: %s; pass --kernel IMAGE\n",
			prev, BOOT_DIR, strerror(-err));
		return -ENOENT;
	}
	snprintf(why, wsize, "previous release %s, found in %s", prev, BOOT_DIR);
	return 0;
}

int cmd_rollback(int argc, char **argv)
{
	struct kho_upgrade_opts o = { .command = "rollback" };
	char path[4096], why[256], prev[65] = "", rel[65];
	int ret = kho_upgrade_parse_opts(argc, argv, &o, usage);

	if (ret >= 0)
		return ret;
	if (kho_kexec_previous_release(prev, sizeof(prev), NULL))
		prev[0] = '\0';
	if (o.kernel) {
		o.why = "--kernel";
		/* Allowed (an operator may know better), but never silent. */
		if (prev[0] && !kho_kimage_release(o.kernel, rel, sizeof(rel)) &&
		    strcmp(rel, prev))
			fprintf(stderr,
				"kho-tool rollback: warning: %s is %s, but this kernel was kexec'd from %s\n",
				o.kernel, rel, prev);
	} else {
		if (find_previous(path, sizeof(path), why, sizeof(why), prev,
				  sizeof(prev)))
			return KHO_EXIT_FAILED;
		o.kernel = path;
		o.why = why;
	}
	if (!o.json)
		printf("rollback: target %s (chosen by %s)\n", o.kernel, o.why);
	return kho_upgrade_run(&o);
}
