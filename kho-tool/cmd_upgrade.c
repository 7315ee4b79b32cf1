// SPDX-License-Identifier: GPL-2.0
/* kho-tool upgrade: kexec into a new kernel, keeping the iommufd/VFIO state. */
#include <getopt.h>
#include <stdio.h>

#include "commands.h"
#include "upgrade.h"

static int usage(FILE *out, int code)
{
	fprintf(out,
		"usage: kho-tool upgrade --kernel IMAGE [--initrd FILE] [--append ARGS]\n"
		"                        [--pid PID] [--dry-run] [--json]\n"
		"  pre-flight the running kernel and IMAGE, capture the recording VMM's\n"
		"  state into a LUO session, load IMAGE with kexec_file_load and kexec.\n"
		"  --initrd FILE  initramfs carrying the restore-agent (see initramfs/)\n"
		"  --append ARGS  words added to the new command line, which keeps the\n"
		"                 running one (minus BOOT_IMAGE=, initrd=) + kho=on liveupdate=on\n"
		"  --pid PID      the VMM serving /run/kho-tool/vmm-PID.sock (recorder)\n"
		"  --dry-run      every step but the kexec, then unload and release\n"
		"  --json         the timeline as one JSON object on stdout\n");
	return code;
}

int cmd_upgrade(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "kernel", required_argument, NULL, 'k' },
		{ "initrd", required_argument, NULL, 'i' },
		{ "append", required_argument, NULL, 'a' },
		{ "pid", required_argument, NULL, 'p' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct kho_upgrade_opts o = { .command = "upgrade" };
	int c;

	while ((c = getopt_long(argc, argv, "k:i:a:p:njh", longopts, NULL)) != -1) {
		switch (c) {
		case 'k': o.kernel = optarg; break;
		case 'i': o.initrd = optarg; break;
		case 'a': o.append = optarg; break;
		case 'p':
			/* One VMM per hand-off: format v1 carries one state. */
			if (o.pid) {
				fprintf(stderr, "kho-tool upgrade: --pid given twice: a hand-off (format v1) carries the state of one VMM\n");
				return KHO_EXIT_USAGE;
			}
			if (kho_upgrade_parse_pid(optarg, &o.pid)) {
				fprintf(stderr, "kho-tool upgrade: --pid '%s': not a process id\n",
					optarg);
				return KHO_EXIT_USAGE;
			}
			break;
		case 'n': o.dry_run = true; break;
		case 'j': o.json = true; break;
		case 'h': return usage(stdout, KHO_EXIT_OK);
		default: return usage(stderr, KHO_EXIT_USAGE);
		}
	}
	if (optind != argc || !o.kernel) {
		fprintf(stderr, "kho-tool upgrade: %s\n", o.kernel ?
			"unexpected argument" : "--kernel IMAGE is required");
		return usage(stderr, KHO_EXIT_USAGE);
	}
	return kho_upgrade_run(&o);
}
