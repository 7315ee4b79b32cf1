// SPDX-License-Identifier: GPL-2.0
/* kho-tool capture: a recording VMM's state as a hand-off blob. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "args.h"
#include "capture.h"
#include "commands.h"
#include "handoff_print.h"
#include "journal_sock.h"
#include "kjournal.h"

static int usage(FILE *out, int code)
{
	fprintf(out,
		"usage: kho-tool capture --pid PID [--out FILE] [--json] [--userspace-journal]\n"
		"  fetch the journal of the VMM serving " KHO_RUN_DIR "/vmm-PID.sock,\n"
		"  compact it and encode the hand-off; --out writes the blob.\n"
		"  When the running kernel journals iommufds, the hand-off describes the\n"
		"  VMM's iommufd as `upgrade` would preserve it (a restore from it is\n"
		"  verified by the kernel); --userspace-journal leaves it out.\n"
		"  Nothing is preserved: a LUO session dies with the process that\n"
		"  holds it, so only `kho-tool upgrade` preserves (and then kexecs).\n");
	return code;
}

int cmd_capture(int argc, char **argv)
{
	bool json = false, userspace_journal = false;
	const char *out = NULL;
	pid_t pid = 0;
	const struct arg_opt opts[] = {
		{ "pid", 'p', ARG_PID, &pid },
		{ "out", 'o', ARG_STRING, &out },
		{ "json", 'j', ARG_FLAG, &json },
		{ "userspace-journal", 0, ARG_FLAG, &userspace_journal },
		{ NULL },
	};
	struct kho_journal_snapshot snap;
	struct kho_diag diag = { "" };
	struct kho_capture cap;
	enum kho_iommufd_decision decision;
	int iommufd = -1;
	int err;

	err = parse_args("capture", argc, argv, opts, -1, usage);
	if (err >= 0)
		return err;
	if (optind != argc || !pid) {
		fprintf(stderr, "kho-tool capture: --pid PID is required\n");
		return usage(stderr, KHO_EXIT_USAGE);
	}
	err = kho_journal_sock_fetch(pid, &snap, &diag);
	if (err) {
		fprintf(stderr, "kho-tool capture: VMM %d: %s\n", (int)pid, diag.msg);
		return err == -ENOENT ? KHO_EXIT_USAGE : KHO_EXIT_FAILED;
	}
	/* No target: the running kernel alone decides, as for upgrade. */
	decision = kho_iommufd_policy(true, kho_kjournal_available(), true,
				      userspace_journal);
	err = kho_capture_check_kjournal(pid, &snap,
					 decision == KHO_IOMMUFD_PRESERVE ?
					 &iommufd : NULL, userspace_journal, &diag);
	if (!err && diag.msg[0])
		print_unverified_warning(stderr, "kho-tool capture", pid,
					 diag.msg);
	/* Nothing is preserved here: the node only describes the iommufd. */
	if (iommufd >= 0)
		close(iommufd);
	if (!err && decision == KHO_IOMMUFD_PRESERVE &&
	    !snap.iommufd.present)
		decision = KHO_IOMMUFD_NO_VMM;
	if (!err)
		err = kho_capture_build(&snap, &cap, &diag);
	/*
	 * The poisoned pages, as upgrade carries them.  Only root reads the
	 * frames; this file is for inspection, never kexec'd, so without
	 * the right it is said and left out.
	 */
	if (!err) {
		err = kho_capture_poison(&cap, &snap, "/proc", &diag);
		if (err == -EPERM || err == -EACCES) {
			fprintf(stderr, "kho-tool capture: warning: poisoned pages not looked for: %s\n",
				diag.msg);
			err = 0;
		} else if (err) {
			kho_capture_release(&cap);
		}
	}
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
		       "\"handoff_bytes\":%zu,\"journal_source\":\"%s\","
		       "\"format_version\":%u,\"poison_ranges\":%zu,\"iommufd\":{\"decision\":\"%s\","
		       "\"in_handoff\":%s",
		       (int)pid,
		       cap.handoff.journal_length, cap.handoff.replay.nr,
		       cap.handoff.state.nr_ioas, cap.handoff.state.nr_hwpt,
		       cap.handoff.state.nr_dev, cap.handoff.state.nr_memfd,
		       cap.blob_len, cap.handoff.journal_source,
		       cap.handoff.format_version, cap.handoff.nr_poison,
		       kho_iommufd_decision_name(decision),
		       cap.handoff.iommufd.present ? "true" : "false");
		if (cap.handoff.iommufd.present)
			printf(",\"compatible\":\"%s\",\"token\":%llu,\"journal_length\":%llu",
			       cap.handoff.iommufd.compatible,
			       (unsigned long long)cap.handoff.iommufd.token,
			       (unsigned long long)cap.handoff.iommufd.journal_length);
		printf("},\"out\":");
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
		       "kernel (iommufd-journal-v2): the recorder's journal matches it" :
		       "userspace record (running kernel has no iommufd journal)");
		if (decision == KHO_IOMMUFD_PRESERVE)
			printf("capture: iommufd: in the hand-off (%s, token 0x%llx, %llu journal records): a restore from it replays into the preserved iommufd, verified by the kernel\n",
			       cap.handoff.iommufd.compatible,
			       (unsigned long long)cap.handoff.iommufd.token,
			       (unsigned long long)cap.handoff.iommufd.journal_length);
		else if (decision == KHO_IOMMUFD_DEGRADED)
			printf("capture: iommufd: degraded: --userspace-journal leaves the VMM's iommufd out of the hand-off; the replay will not be verified by the kernel\n");
		else if (decision == KHO_IOMMUFD_USERSPACE)
			printf("capture: iommufd: not in the hand-off: the running kernel has no iommufd journal\n");
		printf("capture: nothing preserved: the session would end with this process; `kho-tool upgrade` captures, preserves and kexecs in one\n");
	}
	kho_capture_release(&cap);
	kho_journal_snapshot_free(&snap);
	return err ? KHO_EXIT_USAGE : KHO_EXIT_OK;
}
