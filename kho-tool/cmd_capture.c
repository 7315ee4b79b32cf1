// SPDX-License-Identifier: GPL-2.0
/* kho-tool capture: a recording VMM's state as a hand-off blob. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "capture.h"
#include "commands.h"
#include "handoff_print.h"
#include "journal_sock.h"
#include "upgrade.h"

static int usage(FILE *out, int code)
{
	fprintf(out,
		"usage: kho-tool capture --pid PID [--out FILE] [--json]\n"
		"  fetch the journal of the VMM serving /run/kho-tool/vmm-PID.sock,\n"
		"  compact it and encode the hand-off; --out writes the blob.\n"
		"  Nothing is preserved: a LUO session dies with the process that\n"
		"  holds it, so only `kho-tool upgrade` preserves (and then kexecs).\n");
	return code;
}

int cmd_capture(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "pid", required_argument, NULL, 'p' },
		{ "out", required_argument, NULL, 'o' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct kho_journal_snapshot snap;
	struct kho_diag diag = { "" };
	struct kho_capture cap;
	const char *out = NULL;
	bool json = false;
	pid_t pid = 0;
	int c, err;

	while ((c = getopt_long(argc, argv, "p:o:jh", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (kho_upgrade_parse_pid(optarg, &pid)) {
				fprintf(stderr, "kho-tool capture: --pid '%s': not a process id\n",
					optarg);
				return KHO_EXIT_USAGE;
			}
			break;
		case 'o': out = optarg; break;
		case 'j': json = true; break;
		case 'h': return usage(stdout, KHO_EXIT_OK);
		default: return usage(stderr, KHO_EXIT_USAGE);
		}
	}
	if (optind != argc || !pid) {
		fprintf(stderr, "kho-tool capture: --pid PID is required\n");
		return usage(stderr, KHO_EXIT_USAGE);
	}
	err = kho_journal_sock_fetch(pid, &snap, &diag);
	if (err) {
		fprintf(stderr, "kho-tool capture: VMM %d: %s\n", (int)pid, diag.msg);
		return err == -ENOENT ? KHO_EXIT_USAGE : KHO_EXIT_FAILED;
	}
	err = kho_capture_check_kjournal(pid, &snap, &diag);
	if (!err)
		err = kho_capture_build(&snap, &cap, &diag);
	if (err) {
		fprintf(stderr, "kho-tool capture: VMM %d: %s\n", (int)pid, diag.msg);
		kho_journal_snapshot_free(&snap);
		return KHO_EXIT_FAILED;
	}
	if (out)
		err = kho_capture_write(&cap, out, &diag);
	if (err)
		fprintf(stderr, "kho-tool capture: %s\n", diag.msg);
	else if (json) {
		printf("{\"pid\":%d,\"journal_length\":%" PRIu64 ",\"replay_length\":%zu,"
		       "\"ioas\":%zu,\"hwpt\":%zu,\"devices\":%zu,\"memfds\":%zu,"
		       "\"handoff_bytes\":%zu,\"journal_source\":\"%s\",\"out\":",
		       (int)pid,
		       cap.handoff.journal_length, cap.handoff.replay.nr,
		       cap.handoff.state.nr_ioas, cap.handoff.state.nr_hwpt,
		       cap.handoff.state.nr_dev, cap.handoff.state.nr_memfd,
		       cap.blob_len, cap.handoff.journal_source);
		if (out)
			kho_json_str(stdout, out);
		else
			printf("null");
		printf("}\n");
	} else {
		printf("capture: VMM %d: journal %" PRIu64 " records -> replay %zu; %zu IOAS, %zu HWPT, %zu devices, %zu memfds; hand-off %zu bytes%s%s\n",
		       (int)pid, cap.handoff.journal_length, cap.handoff.replay.nr,
		       cap.handoff.state.nr_ioas, cap.handoff.state.nr_hwpt,
		       cap.handoff.state.nr_dev, cap.handoff.state.nr_memfd,
		       cap.blob_len, out ? " written to " : " (not written: no --out)",
		       out ? out : "");
		printf("capture: journal source: %s\n",
		       !strcmp(cap.handoff.journal_source, KHO_JOURNAL_SOURCE_KERNEL) ?
		       "kernel (iommufd-journal-v1): the recorder's journal matches it" :
		       "userspace record (running kernel has no iommufd journal)");
		printf("capture: nothing preserved: the session would end with this process; `kho-tool upgrade` captures, preserves and kexecs in one\n");
	}
	kho_capture_release(&cap);
	kho_journal_snapshot_free(&snap);
	return err ? KHO_EXIT_USAGE : KHO_EXIT_OK;
}
