// SPDX-License-Identifier: GPL-2.0
/* kho-tool upgrade: kexec into a new kernel, keeping the iommufd/VFIO state. */
#include <getopt.h>
#include <stdio.h>

#include "commands.h"
#include "rundir.h"
#include "upgrade.h"

static int usage(FILE *out, int code)
{
	fprintf(out,
		"usage: kho-tool upgrade --kernel IMAGE [--initrd FILE] [--append ARGS]\n"
		"                        [--pid PID | --qemu-qmp SOCK...] [--dry-run] [--json]\n"
		"                        [--userspace-journal] [--require-device-state]\n"
		"  pre-flight the running kernel and IMAGE, capture the recording VMM's\n"
		"  state into a LUO session, load IMAGE with kexec_file_load and kexec.\n"
		"  --initrd FILE  initramfs carrying the restore-agent (see initramfs/)\n"
		"  --append ARGS  words added to the new command line, which keeps the\n"
		"                 running one (minus BOOT_IMAGE=, initrd=) + kho=on liveupdate=on\n"
		"  --pid PID      the VMM serving " KHO_RUN_DIR "/vmm-PID.sock (recorder)\n"
		"  --qemu-qmp SOCK  a QEMU 11.1 (memfd RAM, no passthrough device) to carry\n"
		"                 by its own cpr-transfer: kho-tool migrates it to itself,\n"
		"                 keeps its memfds and stream in the hand-off; after the\n"
		"                 kexec start it again with -incoming and run `kho-tool\n"
		"                 cpr-relay --restore --vmm SOCK` (docs/qemu-cpr.md).\n"
		"                 Repeat it for each QEMU (up to 16): every one's descriptors\n"
		"                 are checked before any guest stops; any failure before\n"
		"                 the kexec resumes every guest in its QEMU\n"
		"  --dry-run      every step but the kexec, then unload and release\n"
		"  --json         the timeline as one JSON object on stdout\n"
		"  --userspace-journal  leave the VMM's iommufd out of the session (degraded:\n"
		"                 the target's replay is not verified by its kernel); needed\n"
		"                 when the running kernel journals iommufds and IMAGE lacks\n"
		"                 iommufd-journal-v2\n"
		"  --require-device-state  refuse, before anything is preserved, when a\n"
		"                 passed-through device's state would be reset (no VFIO\n"
		"                 migration v2; docs/device-state.md)\n");
	return code;
}

int cmd_upgrade(int argc, char **argv)
{
	struct kho_upgrade_opts o = { .command = "upgrade" };
	int ret = kho_upgrade_parse_opts(argc, argv, &o, usage);

	if (ret >= 0)
		return ret;
	if (!o.kernel) {
		fprintf(stderr, "kho-tool upgrade: --kernel IMAGE is required\n");
		return usage(stderr, KHO_EXIT_USAGE);
	}
	return kho_upgrade_run(&o);
}
