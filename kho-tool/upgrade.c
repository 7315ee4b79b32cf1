// SPDX-License-Identifier: GPL-2.0
/* The upgrade path: pre-flight, capture, preserve, load, kexec, timed. */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "args.h"
#include "capture.h"
#include "commands.h"
#include "compact.h"
#include "file.h"
#include "handoff.h"
#include "handoff_print.h"
#include "journal_sock.h"
#include "kexec.h"
#include "initrd.h"
#include "kimage.h"
#include "kjournal.h"
#include "luo.h"
#include "luod.h"
#include "devsave.h"
#include "mdev.h"
#include "pci.h"
#include "proc.h"
#include "cpr_relay.h"
#include "rundir.h"
#include "upgrade.h"
#include "vfio_mig.h"

#define MAX_STEPS 10

struct step {
	const char *name;
	double ms;
	int err;
	char detail[600];
};

struct timeline {
	const struct kho_upgrade_opts *o;
	struct step steps[MAX_STEPS];
	size_t nr;
	struct timespec t0;
	struct timespec start;
};

static double ms_since(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t->tv_sec) * 1e3 + (now.tv_nsec - t->tv_nsec) / 1e6;
}

static void step_begin(struct timeline *tl)
{
	clock_gettime(CLOCK_MONOTONIC, &tl->t0);
}

/* Closes a step: records and, for people, prints it at once. */
static int step_end(struct timeline *tl, const char *name, int err,
		    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int step_end(struct timeline *tl, const char *name, int err,
		    const char *fmt, ...)
{
	struct step *s = &tl->steps[tl->nr < MAX_STEPS ? tl->nr++ : MAX_STEPS - 1];
	va_list ap;

	s->name = name;
	s->ms = ms_since(&tl->t0);
	s->err = err;
	va_start(ap, fmt);
	vsnprintf(s->detail, sizeof(s->detail), fmt, ap);
	va_end(ap);
	if (err)
		fprintf(stderr, "kho-tool %s: %s: %s\n", tl->o->command, name,
			s->detail);
	else if (!tl->o->json)
		printf("%s: %-17s %9.1f ms  %s\n", tl->o->command, name, s->ms,
		       s->detail);
	fflush(stdout);
	return err;
}

struct run {
	int lock_fd;		/* the upgrade lock, held until exit */
	int run_fd;		/* the run directory it is in */
	struct kho_kimage img;
	struct kho_journal_snapshot snap;
	bool have_snap;
	struct kho_capture cap;
	bool have_cap;
	/* Kept apart from cap: a dry run releases cap before the timeline. */
	bool captured;
	uint64_t journal_length;
	size_t replay_length;
	size_t replay_ioctls;
	size_t handoff_bytes;
	size_t preserved_fds;
	const char *abi[KHO_CAPTURE_MAX_ABI];
	size_t nr_abi;
	bool target_kjournal;	/* the target carries "iommufd-journal-v2" */
	char series[128];	/* kho_kimage_series() of the target */
	bool running_kjournal;	/* the running kernel journals iommufds */
	enum kho_iommufd_decision iommufd_decision;
	int iommufd;		/* the VMM's iommufd (pidfd_getfd), or -1 */
	uint64_t kjournal_length;	/* its journal, when preserved */
	char cmdline[4096];
	/*
	 * Who owns LUO for this upgrade: "direct" (our own /dev/liveupdate
	 * session and reboot(KEXEC)), "systemd" (the session its
	 * LUOSession= passed us, and systemctl kexec) or "luod" (the session
	 * luod made for us, and its kexec once we say READY).
	 */
	const char *luo_path;
	int given_session;		/* systemd's or luod's session fd, or -1 */
	int luod_fd;			/* the connection to luod, or -1 */
	char session_name[64];		/* its kernel name */
	/* The initrd as loaded: o->initrd as is, or with the agent appended. */
	const char *initrd_mode;	/* "as-is", "appended", NULL: no initrd */
	struct kho_initrd_scan initrd_scan;
	int initrd_fd;			/* the appended image (memfd), or -1 */
	char initrd_load[64];		/* /proc/self/fd/N of it */
	/*
	 * --qemu-qmp: the QEMUs migrated to us (o->nr_qemu, allocated
	 * once have_relay), each stopped once its relay's source_stopped;
	 * their qemu-cpr entries until they are in the hand-off.
	 */
	struct cpr_relay *relay;
	bool have_relay;
	struct kho_handoff_qemu *qemu;
	/* The captured devices, kept for the JSON after a dry run */
	struct kho_device *devs;
	size_t nr_devs;
	/* the devices' state, saved after the pre-flight (devsave.h) */
	struct kho_devsave devsave;
	bool have_devsave;
	bool kexec_queued;	/* systemd kexecs after we return: keep them */
	bool poison_stopped;	/* the VMM, stopped for its punched pages */
	/* other processes holding a poisoned memfd, stopped with the VMM */
	struct kho_proc_holder *sharers;
	size_t nr_sharers;
};

/*
 * What becomes of a device's state across this upgrade, and why.  Today
 * every device is reset: carrying a migration v2 device's state through
 * the FSM is designed (docs/device-state.md), not built.
 */
static const char *device_fate(const struct kho_device *d, char *why,
			       size_t size)
{
	char flags[48];

	if (!d->migration_probed && !d->migration_err)
		snprintf(why, size, "migration support unknown (not probed)");
	else if (!d->migration_probed)
		snprintf(why, size, "migration support unknown (the probe failed: %s)",
			 strerror(-d->migration_err));
	else if (!d->migration_flags)
		snprintf(why, size, "no migration support");
	else if (kho_devsave_carries(d)) {
		snprintf(why, size, "migration v2 (%s)",
			 kho_vfio_migration_str(d->migration_flags, flags,
						sizeof(flags)));
		return "carried";
	} else
		snprintf(why, size, "migration v2 (%s) without STOP_COPY",
			 kho_vfio_migration_str(d->migration_flags, flags,
						sizeof(flags)));
	return "reset";
}

/* "devices": one entry per device the hand-off carries. */
static void json_devices(const struct run *r)
{
	char addr[KHO_MDEV_UUID_LEN], flags[48], why[160];
	size_t i;

	if (!r->captured)
		return;
	printf(",\"devices\":[");
	for (i = 0; i < r->nr_devs; i++) {
		const struct kho_device *d = &r->devs[i];
		const char *state = device_fate(d, why, sizeof(why));

		if (kho_mdev_is(&d->mdev))
			printf("%s{\"id\":%u,\"bdf\":null,\"mdev\":\"%s\",\"driver\":",
			       i ? "," : "", d->id,
			       kho_mdev_uuid_str(d->mdev.uuid, addr,
						 sizeof(addr)));
		else
			printf("%s{\"id\":%u,\"bdf\":\"%s\",\"driver\":",
			       i ? "," : "", d->id,
			       kho_pci_name(&d->pci, addr, sizeof(addr)));
		kho_json_str(stdout, d->driver);
		printf(",\"migration\":\"%s\"", d->migration_probed ?
		       kho_vfio_migration_str(d->migration_flags, flags,
					      sizeof(flags)) : "unknown");
		if (d->migration_probed)
			printf(",\"migration_flags\":%u", d->migration_flags);
		else if (d->migration_err)
			printf(",\"probe_error\":\"%s\"",
			       kho_errno_name(d->migration_err));
		printf(",\"state\":\"%s\",\"reason\":", state);
		kho_json_str(stdout, why);
		printf("}");
	}
	printf("]");
}

static void json_timeline(const struct timeline *tl, const struct run *r,
			  int err)
{
	const struct kho_upgrade_opts *o = tl->o;
	const struct step *failed = NULL;
	size_t i;

	printf("{\"command\":");
	kho_json_str(stdout, o->command);
	printf(",\"dry_run\":%s,\"target\":{\"image\":", o->dry_run ? "true" : "false");
	kho_json_str(stdout, o->kernel);
	printf(",\"release\":");
	kho_json_str(stdout, r->img.release);
	printf(",\"format\":");
	kho_json_str(stdout, r->img.format ? r->img.format : "");
	printf(",\"codec\":");
	kho_json_str(stdout, r->img.codec ? r->img.codec : "");
	if (o->why) {
		printf(",\"chosen_by\":");
		kho_json_str(stdout, o->why);
	}
	printf("},\"initrd\":");
	if (o->initrd)
		kho_json_str(stdout, o->initrd);
	else
		printf("null");
	if (r->initrd_mode) {
		printf(",\"initrd_path\":{\"mode\":\"%s\",\"agent\":", r->initrd_mode);
		kho_json_str(stdout, r->initrd_scan.agent);
		printf(",\"starter\":");
		kho_json_str(stdout, r->initrd_scan.starter);
		printf(",\"starter_path\":");
		kho_json_str(stdout, r->initrd_scan.starter_path);
		printf(",\"segments\":");
		kho_json_str(stdout, r->initrd_scan.segments);
		printf("}");
	}
	printf(",\"cmdline\":");
	kho_json_str(stdout, r->cmdline);
	printf(",\"abi\":[");
	for (i = 0; i < r->nr_abi; i++) {
		printf(i ? "," : "");
		kho_json_str(stdout, r->abi[i]);
	}
	printf("],\"series\":");
	kho_json_str(stdout, r->series);
	/* Which way to LUO (take_given_session(), check_luo_free()). */
	printf(",\"target_kjournal\":%s,\"pid\":%d,\"luo_path\":",
	       r->target_kjournal ? "true" : "false", (int)o->pid);
	kho_json_str(stdout, r->luo_path);
	printf(",\"iommufd\":{\"decision\":\"%s\",\"running_kjournal\":%s,"
	       "\"target_kjournal\":%s,\"userspace_journal_flag\":%s,"
	       "\"preserved\":%s",
	       kho_iommufd_decision_name(r->iommufd_decision),
	       r->running_kjournal ? "true" : "false",
	       r->target_kjournal ? "true" : "false",
	       o->userspace_journal ? "true" : "false",
	       r->captured && r->iommufd_decision == KHO_IOMMUFD_PRESERVE ?
	       "true" : "false");
	if (r->captured && r->iommufd_decision == KHO_IOMMUFD_PRESERVE)
		printf(",\"compatible\":\"%s\",\"token\":%llu,\"journal_length\":%llu",
		       KHO_KJOURNAL_LUO_COMPATIBLE,
		       (unsigned long long)KHO_LUO_IOMMUFD_TOKEN,
		       (unsigned long long)r->kjournal_length);
	printf("}");
	if (r->have_snap && r->snap.journal_source[0]) {
		printf(",\"journal_source\":");
		kho_json_str(stdout, r->snap.journal_source);
	}
	json_devices(r);
	if (r->captured)
		printf(",\"journal_length\":%" PRIu64 ",\"replay_length\":%zu,"
		       "\"replay_ioctls\":%zu,\"handoff_bytes\":%zu,"
		       "\"preserved_fds\":%zu",
		       r->journal_length, r->replay_length, r->replay_ioctls,
		       r->handoff_bytes, r->preserved_fds);
	printf(",\"steps\":[");
	for (i = 0; i < tl->nr; i++) {
		const struct step *s = &tl->steps[i];

		printf("%s{\"step\":", i ? "," : "");
		kho_json_str(stdout, s->name);
		printf(",\"ms\":%.3f,\"status\":\"%s\",\"detail\":", s->ms,
		       s->err ? "failed" : "ok");
		kho_json_str(stdout, s->detail);
		printf("}");
		if (s->err)
			failed = s;
	}
	printf("],\"total_ms\":%.3f,\"result\":\"%s\"", ms_since(&tl->start),
	       err ? "failed" : "ok");
	if (failed) {
		printf(",\"error\":{\"step\":");
		kho_json_str(stdout, failed->name);
		printf(",\"errno\":");
		kho_json_str(stdout, kho_errno_name(failed->err));
		printf(",\"message\":");
		kho_json_str(stdout, failed->detail);
		printf("}");
	}
	printf("}\n");
	fflush(stdout);
}

/* Errors of reading the user's input are exit 2; all others exit 1. */
static int exit_code(int err)
{
	if (!err)
		return KHO_EXIT_OK;
	return err == -ENOENT || err == -EACCES || err == -EISDIR ?
	       KHO_EXIT_USAGE : KHO_EXIT_FAILED;
}

/* Tells the console (and the journal) the instant before the jump. */
static void announce_kexec(const char *release)
{
	struct timespec bt;
	char line[256];
	int fd, n;

	clock_gettime(CLOCK_BOOTTIME, &bt);
	n = snprintf(line, sizeof(line),
		     "kho-tool: reboot(LINUX_REBOOT_CMD_KEXEC) into %s at boottime %lld.%06ld\n",
		     release[0] ? release : "target", (long long)bt.tv_sec,
		     bt.tv_nsec / 1000);
	fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		/* The console line is a courtesy: a failure changes nothing. */
		ssize_t w = write(fd, line, n);

		(void)w;
		close(fd);
	}
}

/*
 * systemd's orderly kexec: it stops the units, then systemd-shutdown
 * opens /dev/liveupdate, preserves the fd stores (our session among them,
 * FileDescriptorStorePreserve=yes) and calls kexec.  The image we loaded
 * is used as is ("Kexec kernel already loaded").  systemctl only queues
 * kexec.target: 0 means queued, not done.
 *
 * Once it is queued, systemd stops our unit with SIGTERM while we still
 * have to write the answer (--json: the caller's only word that the
 * kexec was queued) and let go of what we hold.  A fleet's controller
 * that lost that race waited on an answer that never came.  So the
 * stop signals stay blocked from here to our exit, unless the queueing
 * failed and no kexec is coming.
 */
static int systemctl_kexec(char *why, size_t size)
{
	sigset_t stop, old;
	int st, fd, err;
	pid_t pid;

	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGHUP);
	sigprocmask(SIG_BLOCK, &stop, &old);
	pid = fork();
	if (pid < 0) {
		err = -errno;
		sigprocmask(SIG_SETMASK, &old, NULL);
		return err;
	}
	if (!pid) {
		/*
		 * systemctl ignores them: the stop reaches our whole cgroup,
		 * and a systemctl killed before it returned would read as a
		 * failed queueing, the image unloaded under a kexec that
		 * systemd goes on with.  Ignored, not blocked: an ignored
		 * signal stays ignored across exec, and shells clear the mask.
		 */
		signal(SIGTERM, SIG_IGN);
		signal(SIGINT, SIG_IGN);
		signal(SIGHUP, SIG_IGN);
		sigprocmask(SIG_SETMASK, &old, NULL);
		/* Our stdout may be the JSON: systemctl's words go to stderr. */
		dup2(2, 1);
		fd = open("/dev/null", O_RDONLY);
		if (fd >= 0)
			dup2(fd, 0);
		execlp("systemctl", "systemctl", "--no-ask-password", "kexec",
		       (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR) {
			err = -errno;
			sigprocmask(SIG_SETMASK, &old, NULL);
			return err;
		}
	if (WIFEXITED(st) && !WEXITSTATUS(st))
		return 0;
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (WIFEXITED(st))
		snprintf(why, size, "systemctl kexec exited with status %d%s",
			 WEXITSTATUS(st), WEXITSTATUS(st) == 127 ?
			 " (no systemctl in PATH)" : "");
	else
		snprintf(why, size, "systemctl kexec killed by signal %d",
			 WTERMSIG(st));
	return -ECHILD;
}

/*
 * Where luod serves, it owns /dev/liveupdate: ask it for a session
 * (lib/luod.h says what is assumed of its protocol).  A dry run is
 * refused first: luod keeps its own copy of the session, so what a dry
 * run preserved would stay preserved.
 */
static int take_luod_session(struct run *r, const struct kho_upgrade_opts *o,
			     struct kho_diag *diag)
{
	int err, fd;

	r->luo_path = "direct";
	if (!kho_luod_present(KHO_LUOD_SOCK))
		return 0;
	r->luo_path = "luod";
	if (o->dry_run)
		return kho_diag_set(diag, -EOPNOTSUPP,
				    "--dry-run on the luod path (%s): luod keeps its own copy of the session it makes, so what a dry run preserved would stay preserved; refused before anything was asked of luod, nothing changed",
				    KHO_LUOD_SOCK);
	r->luod_fd = kho_luod_connect(KHO_LUOD_SOCK, diag);
	if (r->luod_fd < 0)
		return r->luod_fd;
	err = kho_luod_call(r->luod_fd, "SUBSCRIBE", "name", KHO_LUO_SESSION,
			    NULL, diag);
	if (!err)
		err = kho_luod_call(r->luod_fd, "START_PRESERVATION", "session",
				    KHO_LUO_SESSION, &fd, diag);
	if (err)
		return err;
	r->given_session = fd;
	snprintf(r->session_name, sizeof(r->session_name), "%s",
		 KHO_LUO_SESSION);
	return 0;
}

/*
 * The session systemd passed by LUOSession=kho-tool, if any: then
 * systemd owns LUO on this host and the upgrade goes its way.
 */
static int take_given_session(struct run *r, const struct kho_upgrade_opts *o,
			      struct kho_diag *diag)
{
	int fd = kho_luo_listen_session(KHO_LUO_SESSION, r->session_name,
					sizeof(r->session_name));

	if (fd == -ENOENT)
		return take_luod_session(r, o, diag);
	if (fd < 0)
		return kho_diag_set(diag, fd,
				    "the service manager passed an fd named \"%s\" (LISTEN_FDNAMES), but %s",
				    KHO_LUO_SESSION, fd == -EMEDIUMTYPE ?
				    "it is not a LUO session" : strerror(-fd));
	r->given_session = fd;
	r->luo_path = "systemd";
	return 0;
}

/* Which record the hand-off was checked against, for every log. */
static void journal_source_line(const struct kho_upgrade_opts *o,
				const struct kho_journal_snapshot *snap)
{
	bool kernel = !strcmp(snap->journal_source,
			      KHO_JOURNAL_SOURCE_KERNEL);

	/* With --json, stdout is the one JSON object: say it on stderr. */
	fprintf(o->json ? stderr : stdout, "%s: journal source: %s\n",
		o->command, kernel ?
		"kernel (" KHO_KJOURNAL_LUO_COMPATIBLE "): the recorder's journal matches it" :
		"userspace record (running kernel has no iommufd journal)");
	fflush(o->json ? stderr : stdout);
}

/* The iommufd decision, said plainly on every path (stderr with --json). */
static void iommufd_line(const struct kho_upgrade_opts *o, const struct run *r)
{
	FILE *f = o->json ? stderr : stdout;

	switch (r->iommufd_decision) {
	case KHO_IOMMUFD_PRESERVE:
		fprintf(f, "%s: iommufd: preserved in the session (" KHO_KJOURNAL_LUO_COMPATIBLE ", %llu journal records): the target's restore-agent replays into it and the kernel verifies every record\n",
			o->command, (unsigned long long)r->kjournal_length);
		break;
	case KHO_IOMMUFD_DEGRADED:
		fprintf(f, "%s: iommufd: degraded: --userspace-journal leaves the VMM's iommufd out of the session; the target replays from the userspace record and the replay will not be verified by the kernel\n",
			o->command);
		break;
	case KHO_IOMMUFD_USERSPACE:
		fprintf(f, "%s: iommufd: not preserved: the running kernel has no iommufd journal; the target replays from the userspace record\n",
			o->command);
		break;
	default:
		return;
	}
	fflush(f);
}

/*
 * The refusal: a target without the handler would lose the whole session
 * if the iommufd were in it, so without an explicit degrade nothing runs.
 */
/*
 * KHO_TOOL_TEST_IGNORE_PREFLIGHT=1 turns a refusal of the target into a
 * warning and goes on as if the target could read the hand-off.  Tests
 * only (tests/vm/105-cross-version.bats): a pre-flight verdict is checked
 * against what the kexec does when it is done anyway.
 */
static int ignore_refusal(const struct timeline *tl, int err, const char *why)
{
	const char *v = getenv("KHO_TOOL_TEST_IGNORE_PREFLIGHT");

	if (!err || !v || strcmp(v, "1"))
		return err;
	fprintf(stderr, "%s: preflight-target: IGNORED (KHO_TOOL_TEST_IGNORE_PREFLIGHT=1): %s\n",
		tl->o->command, why);
	return 0;
}

/*
 * KHO_TOOL_TEST_FAIL_AT=STEP fails that step as if the kernel had
 * refused it: "preserve" (the last guest-RAM memfd's PRESERVE_FD, after
 * its poisoned pages were punched) or "load" (kexec_file_load, every fd
 * preserved).  Tests only (tests/vm/guest/poison.sh): the failure paths
 * after the punch must give the guest its memory failures back.
 */
static bool test_fail_at(const char *step)
{
	const char *v = getenv("KHO_TOOL_TEST_FAIL_AT");

	return v && !strcmp(v, step);
}

/*
 * KHO_TOOL_TEST_RUN_AT=STEP:COMMAND runs COMMAND (sh -c) once STEP is
 * done, and fails the upgrade if it fails.  Tests only
 * (tests/vm/guest/poison.sh): a process that opens a punched memfd while
 * the image loads, at a moment the test chooses rather than races for.
 * Return: true when the command ran and failed.
 */
static bool test_run_at(const char *step)
{
	const char *v = getenv("KHO_TOOL_TEST_RUN_AT");
	size_t n = strlen(step);
	int status;

	if (!v || strncmp(v, step, n) || v[n] != ':')
		return false;
	fflush(NULL);
	status = system(v + n + 1);
	return status == -1 || !WIFEXITED(status) || WEXITSTATUS(status);
}

static int refuse_target(struct timeline *tl, const struct run *r)
{
	const struct kho_upgrade_opts *o = tl->o;

	return step_end(tl, "preflight-target", -EPROTONOSUPPORT,
			"%s (%s) does not carry " KHO_KJOURNAL_LUO_COMPATIBLE ", and the running kernel journals the VMM's iommufd, which %s would preserve in the LUO session: the target's LUO (7.2's and 7.3's alike) cannot deserialize a session holding a file whose handler it lacks (kernel/liveupdate/luo_file.c luo_file_deserialize_one(): -ENOENT \"No registered handler for compatible\"), /dev/liveupdate then fails with EIO and every memfd in the session (the guest RAM) is lost. Refused before capture and load: nothing changed. Pass --userspace-journal to leave the iommufd out (degraded: the replay will not be verified by the kernel), or choose a target carrying " KHO_KJOURNAL_LUO_COMPATIBLE,
			o->kernel, r->img.release[0] ? r->img.release : "no release",
			o->command);
}

/* The pids of live processes named @restore-agent (keeper and worker). */
static size_t agent_pids(char *buf, size_t size)
{
	struct dirent *de;
	char path[64], argv0[32];
	size_t n = 0, len = 0;
	DIR *d = opendir("/proc");
	ssize_t got;
	int fd;

	buf[0] = '\0';
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%.16s/cmdline", de->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		got = read(fd, argv0, sizeof(argv0) - 1);
		close(fd);
		if (got <= 0)
			continue;
		argv0[got] = '\0';
		if (strcmp(argv0, "@restore-agent"))
			continue;
		if (len < size)
			len += snprintf(buf + len, size - len, "%s%s",
					n ? ", " : "", de->d_name);
		n++;
	}
	closedir(d);
	return n;
}

/*
 * A restore-agent that holds the session of the last upgrade, not yet
 * adopted by a VMM (agent.status running, stopped, ready or held): LUO
 * carries across a kexec only the sessions made in this boot
 * (luo_session_serialize() walks the outgoing list alone), so the next
 * kexec would drop the guest RAM the agent holds, silently.  Refused by
 * name before anything is captured or loaded.  A status left by an agent
 * that is gone protects nothing: the session went with it.
 */
static int check_unadopted(struct kho_diag *diag)
{
	char *status = NULL, pids[128], what[320] = "";
	struct kho_diag d = { "" };
	struct kho_handoff h;
	uint64_t bytes = 0;
	size_t len, i, nr;
	void *blob;
	int err;

	/*
	 * An adoption that just ended flips "ready" to "finished" within
	 * milliseconds, once the agent's FINISH returns: give it a second
	 * before calling the session unadopted.
	 */
	for (i = 0;; i++) {
		if (kho_read_file(KHO_RUN_DIR "/agent.status",
				  (void **)&status, &len))
			return 0;
		status[strcspn(status, "\n")] = '\0';
		if (strncmp(status, "ready", 5) && strncmp(status, "held", 4) &&
		    strncmp(status, "running", 7) &&
		    strncmp(status, "stopped", 7)) {
			free(status);
			return 0;
		}
		if (i == 10)
			break;
		free(status);
		usleep(100000);
	}
	nr = agent_pids(pids, sizeof(pids));
	if (!nr) {
		free(status);
		return 0;
	}
	/* What would be lost, from the agent's copy of the hand-off. */
	if (!kho_read_file(KHO_RUN_DIR "/handoff.fdt", &blob, &len)) {
		err = kho_handoff_decode(blob, len, &h, &d);
		free(blob);
		if (!err) {
			for (i = 0; i < h.state.nr_memfd; i++)
				bytes += h.state.memfd[i].size;
			snprintf(what, sizeof(what),
				 "%zu guest-RAM memfd(s), %llu bytes (first: token %llu '%.64s'), from kernel %.64s",
				 h.state.nr_memfd, (unsigned long long)bytes,
				 h.state.nr_memfd ? (unsigned long long)h.state.memfd[0].token : 0ull,
				 h.state.nr_memfd ? h.state.memfd[0].name : "",
				 h.kernel_release[0] ? h.kernel_release : "?");
			kho_handoff_free(&h);
		}
	}
	if (!what[0])
		snprintf(what, sizeof(what), "its guest-RAM memfds");
	kho_diag_set(diag, -EBUSY,
		     "session '%s' is held by restore-agent pid %s and not adopted by any VMM (agent.status: %.60s): a kexec now would lose %s, since LUO carries only sessions made in this boot; refused before capture and load, nothing changed. Adopt it (the VMM's restart) or save it (kho-tool salvage DIR) first",
		     KHO_LUO_SESSION, pids, status, what);
	free(status);
	return -EBUSY;
}

/*
 * The direct path opens /dev/liveupdate itself, and the kernel lets one
 * process hold it.  systemd's path needs it free too: systemd-shutdown
 * opens it at the kexec to preserve the fd stores.  A host whose owner
 * hands out sessions another way (luod) is not supported: refused before
 * anything is captured or loaded, naming the owner.
 */
static int check_luo_free(const struct run *r, struct kho_diag *diag)
{
	char owner[192] = "another process (not found in /proc)";
	int fd = kho_luo_open();

	if (fd >= 0) {
		close(fd);
		return 0;
	}
	if (fd != -EBUSY)
		return kho_diag_set(diag, fd, "open %s: %s", KHO_LUO_DEV,
				    kho_errno_name(fd));
	kho_luo_owner(owner, sizeof(owner));
	if (r->given_session >= 0)
		return kho_diag_set(diag, -EBUSY,
				    "%s is held by %s: systemd passed session '%s', but systemd-shutdown must open the device at the kexec to carry it (and every fd store), and the kernel lets one process open it; refused before capture and load, nothing changed",
				    KHO_LUO_DEV, owner, r->session_name);
	return kho_diag_set(diag, -EBUSY,
			    "%s is held by %s: the kernel lets one process open it, and kho-tool's direct path needs it; a session handed over by that owner is supported only from systemd (LUOSession=kho-tool on the unit running kho-tool, docs/operations.md), not luod's; refused before capture and load, nothing changed",
			    KHO_LUO_DEV, owner);
}

static int take_lock(struct run *r, struct kho_diag *diag)
{
	pid_t holder;

	r->run_fd = kho_rundir_open(KHO_RUN_DIR, diag);
	if (r->run_fd < 0)
		return r->run_fd;
	r->lock_fd = kho_rundir_lock(r->run_fd, KHO_UPGRADE_LOCK, &holder,
				     diag);
	return r->lock_fd < 0 ? r->lock_fd : 0;
}

/*
 * The luod path's jump: READY tells luod our session is complete, and
 * luod kexecs into the image loaded here once every subscriber is.  The
 * timeline goes out first: a READY that works does not return.
 */
static int luod_kexec(struct timeline *tl, struct run *r)
{
	const struct kho_upgrade_opts *o = tl->o;
	struct kho_diag diag = { "" };
	int err;

	step_end(tl, "kexec", 0, "luod: READY: luod kexecs into %s with session '%s'",
		 r->img.release[0] ? r->img.release : o->kernel,
		 r->session_name);
	if (o->json)
		json_timeline(tl, r, 0);
	announce_kexec(r->img.release);
	err = kho_luod_call(r->luod_fd, "READY", "session", r->session_name,
			    NULL, &diag);
	/* luod's kexec ends this process; give it the time it takes. */
	if (!err)
		sleep(KHO_LUOD_KEXEC_WAIT_SEC);
	kho_kexec_unload();
	if (!err)
		err = kho_diag_set(&diag, -ETIMEDOUT,
				   "luod answered READY but did not kexec within %d s",
				   KHO_LUOD_KEXEC_WAIT_SEC);
	fprintf(stderr, "%s: kexec: %s; image unloaded; what was preserved stays in session '%s', which luod holds\n",
		o->command, diag.msg, r->session_name);
	return err;
}

/*
 * Says, per device, whether its state crosses the kexec, and with
 * --require-device-state refuses when one would be reset.  Only the
 * capture names the devices (the VMM's journal), but nothing has been
 * preserved or loaded yet: a refusal here changes nothing.
 */
static int check_devices(struct timeline *tl, struct run *r)
{
	const struct kho_upgrade_opts *o = tl->o;
	const struct kho_state *s = &r->cap.handoff.state;
	char addr[KHO_DEVICE_LABEL_LEN], why[160], refused[400] = "";
	FILE *f = o->json ? stderr : stdout;
	size_t i, n = 0, nr_reset = 0;

	if (!s->nr_dev)
		return 0;
	step_begin(tl);
	r->devs = calloc(s->nr_dev, sizeof(*r->devs));
	if (!r->devs)
		return step_end(tl, "preflight-devices", -ENOMEM,
				"%zu devices: %s", s->nr_dev, strerror(ENOMEM));
	memcpy(r->devs, s->dev, s->nr_dev * sizeof(*r->devs));
	r->nr_devs = s->nr_dev;
	for (i = 0; i < s->nr_dev; i++) {
		const struct kho_device *d = &s->dev[i];
		const char *state = device_fate(d, why, sizeof(why));

		kho_device_label(&d->pci, &d->mdev, addr, sizeof(addr));
		fprintf(f, "%s: device %s: %s: its state will be %s\n",
			o->command, addr, why, state);
		if (strcmp(state, "reset"))
			continue;
		nr_reset++;
		if (n < sizeof(refused))
			n += snprintf(refused + n, sizeof(refused) - n, "%s%s (%s): %s",
				      n ? "; " : "", addr, d->driver, why);
	}
	fflush(f);
	if (nr_reset && o->require_device_state)
		return step_end(tl, "preflight-devices", -EOPNOTSUPP,
				"--require-device-state: %zu of %zu devices would be reset across the kexec: %s; refused before anything was preserved or loaded: the VMM and its devices are untouched",
				nr_reset, s->nr_dev, refused);
	return step_end(tl, "preflight-devices", 0,
			"%zu devices: %zu carried, %zu reset%s", s->nr_dev,
			s->nr_dev - nr_reset, nr_reset,
			nr_reset ? " (--require-device-state would refuse)" : "");
}

/*
 * 2c. The QEMUs by cpr-transfer: each migrates to us.  First every one's
 * CPR state is read and checked while all the guests still run (each
 * source waits for our hang-up of its cpr channel), so that a refusal of
 * any cancels them all with nothing stopped; only then are all cpr
 * channels closed together (the guests stop together, each at the end of
 * its stream) and each stream received.  From the hang-up a failure
 * resumes every stopped guest in its source (kho_upgrade_run()).
 */
static int qemu_cpr(struct timeline *tl, struct run *r)
{
	static const char top[] = KHO_RUN_DIR "/qemu-cpr";
	const struct kho_upgrade_opts *o = tl->o;
	struct cpr_relay *rl;
	uint64_t stream = 0;
	unsigned int i, j, fds = 0;
	char dir[64];
	int err;

	step_begin(tl);
	r->relay = calloc(o->nr_qemu, sizeof(*r->relay));
	r->qemu = calloc(o->nr_qemu, sizeof(*r->qemu));
	if (!r->relay || !r->qemu)
		return step_end(tl, "qemu-cpr", -ENOMEM, "out of memory");
	mkdir(KHO_RUN_DIR, 0700);
	mkdir(top, 0700);
	for (i = 0; i < o->nr_qemu; i++) {
		snprintf(dir, sizeof(dir), "%s/%u", top, i);
		mkdir(dir, 0700);
		rl = &r->relay[i];
		/* Cannot fail: dir is short. */
		cpr_relay_init(rl, o->command, dir);
		rl->qmp = o->qemu_qmp[i];
		rl->kexec_safe = 1;
		rl->memfds_only = 1;
		rl->quiet = o->json;
	}
	r->have_relay = true;
	for (i = 0; i < o->nr_qemu; i++) {
		err = cpr_relay_receive_state(&r->relay[i]);
		if (err) {
			/* The QEMUs before it wait on their cpr channels. */
			for (j = 0; j < i; j++)
				cpr_relay_cancel(&r->relay[j]);
			return step_end(tl, "qemu-cpr", err,
					"QEMU %s (%u of %u): %s; every guest keeps running, nothing changed",
					o->qemu_qmp[i], i + 1, o->nr_qemu,
					r->relay[i].err);
		}
	}
	/* All at once, so that the guests stop together. */
	for (i = 0; i < o->nr_qemu; i++)
		cpr_relay_hangup(&r->relay[i]);
	for (i = 0; i < o->nr_qemu; i++) {
		err = cpr_relay_receive_stream(&r->relay[i]);
		if (err) {
			for (j = i + 1; j < o->nr_qemu; j++)
				cpr_relay_cancel(&r->relay[j]);
			return step_end(tl, "qemu-cpr", err,
					"QEMU %s (%u of %u): receiving its stream: %s",
					o->qemu_qmp[i], i + 1, o->nr_qemu,
					r->relay[i].err);
		}
	}
	kho_journal_snapshot_init(&r->snap);
	r->have_snap = true;
	r->snap.pid = 0;
	for (i = 0; i < o->nr_qemu; i++) {
		rl = &r->relay[i];
		err = cpr_relay_snapshot(rl, &r->snap, &r->qemu[i]);
		if (err)
			return step_end(tl, "qemu-cpr", err, "QEMU %s: %s",
					o->qemu_qmp[i], rl->err);
		fds += rl->st.nr_fds;
		stream += rl->stream_len;
	}
	return step_end(tl, "qemu-cpr", 0,
			"%u QEMU%s migrated to kho-tool (%s stopped): %u memfds, stream%s %llu bytes%s%s",
			o->nr_qemu, o->nr_qemu > 1 ? "s" : "",
			o->nr_qemu > 1 ? "guests" : "guest", fds,
			o->nr_qemu > 1 ? "s" : "",
			(unsigned long long)stream,
			o->nr_qemu == 1 ? ": " : "",
			o->nr_qemu == 1 ? o->qemu_qmp[0] : "");
}

/* The processes stop_sharers() stopped run again. */
static void continue_sharers(const struct timeline *tl, struct run *r)
{
	FILE *f = tl->o->json ? stderr : stdout;
	size_t i;
	int err;

	for (i = 0; i < r->nr_sharers; i++) {
		err = kho_proc_continue(r->sharers[i].pid);
		if (err)
			fprintf(f, "%s: poison: process %d (%s): SIGCONT: %s\n",
				tl->o->command, (int)r->sharers[i].pid,
				r->sharers[i].comm, strerror(-err));
		else
			fprintf(f, "%s: poison: process %d (%s) continued\n",
				tl->o->command, (int)r->sharers[i].pid,
				r->sharers[i].comm);
	}
	free(r->sharers);
	r->sharers = NULL;
	r->nr_sharers = 0;
}

/*
 * Every other process that maps or holds a memfd with poisoned pages (a
 * vhost-user backend, a backup agent) could read the zeroes of a punched
 * page, as the VMM could: each waits, stopped, with the VMM.  Left out:
 * the VMM (stopped already), this process, and pid 1 (systemd's fd store
 * holds a VMM's memfds without reading them, and stopping init would
 * stop the host).  A process gone meanwhile needs no stop.
 *
 * Called before the punch, and again (@late) once the image is loaded,
 * just before the kexec: a process may have opened the memfd in between,
 * through /proc/VMM/fd say, and the load takes seconds.  Those stopped
 * before are left out of the second search; r->sharers gathers both, so
 * that a failure continues them all.
 */
static int stop_sharers(const struct timeline *tl, struct run *r, bool late,
			struct kho_diag *diag)
{
	const struct kho_upgrade_opts *o = tl->o;
	const struct kho_handoff *h = &r->cap.handoff;
	struct kho_proc_holder *found = NULL, *all;
	struct kho_proc_file *files;
	size_t i, j, n = 0, nr_found = 0, nr_skip = 0;
	uint64_t *tokens;
	FILE *f = o->json ? stderr : stdout;
	pid_t *skip;
	struct stat st;
	int err = 0, fd;

	files = calloc(h->nr_poison, sizeof(*files));
	tokens = calloc(h->nr_poison, sizeof(*tokens));
	skip = calloc(3 + r->nr_sharers, sizeof(*skip));
	if (!files || !tokens || !skip) {
		err = kho_diag_set(diag, -ENOMEM, "poison: out of memory");
		goto out;
	}
	skip[nr_skip++] = o->pid;
	skip[nr_skip++] = getpid();
	skip[nr_skip++] = 1;
	for (i = 0; i < r->nr_sharers; i++)
		skip[nr_skip++] = r->sharers[i].pid;
	for (i = 0; i < h->nr_poison; i++) {
		for (j = 0; j < n && tokens[j] != h->poison[i].memfd_token; j++)
			;
		if (j < n)
			continue;
		fd = kho_journal_snapshot_memfd(&r->snap,
						h->poison[i].memfd_token);
		if (fd < 0 || fstat(fd, &st))
			continue;
		tokens[n] = h->poison[i].memfd_token;
		files[n].dev = st.st_dev;
		files[n].ino = st.st_ino;
		n++;
	}
	err = kho_proc_file_holders("/proc", files, n, skip, nr_skip, &found,
				    &nr_found);
	if (err) {
		kho_diag_set(diag, err, "poison: looking for other processes that hold the guest's memfds (/proc)%s: %s",
			     late ? " before the kexec" : "", strerror(-err));
		goto out;
	}
	if (!nr_found)
		goto out;
	all = realloc(r->sharers, (r->nr_sharers + nr_found) * sizeof(*all));
	if (!all) {
		err = kho_diag_set(diag, -ENOMEM, "poison: out of memory");
		goto out;
	}
	r->sharers = all;
	for (i = 0; i < nr_found; i++) {
		const struct kho_proc_holder *p = &found[i];

		err = kho_proc_stop(p->pid);
		if (err == -ESRCH) {
			err = 0;
			continue;
		}
		if (err) {
			kho_diag_set(diag, err, "poison: process %d (%s) holds memfd token %llu, whose poisoned pages %s: stopping it (SIGSTOP): %s; %s",
				     (int)p->pid, p->comm,
				     (unsigned long long)tokens[p->file],
				     late ? "are punched" : "are punched next",
				     strerror(-err),
				     late ? "no kexec" : "nothing punched");
			goto out;
		}
		/* continued with the others, whatever happens next */
		r->sharers[r->nr_sharers++] = *p;
		fprintf(f, "%s: poison: process %d (%s) %s memfd token %llu %s: stopped until the kexec: a punched page would read as zeroes\n",
			o->command, (int)p->pid, p->comm,
			late ? "opened" : "holds",
			(unsigned long long)tokens[p->file],
			late ? "after the punch" : "too");
	}
	fflush(f);
out:
	free(found);
	free(files);
	free(tokens);
	free(skip);
	return err;
}

/*
 * No kexec after all: the poisoned ranges preserve punched out of the
 * guest's memfds fail again, as before the upgrade.
 */
static void undo_punch(const struct timeline *tl, struct run *r)
{
	FILE *f = tl->o->json ? stderr : stdout;
	struct kho_diag diag = { "" };
	size_t n = r->cap.nr_punched;
	int err;

	if (n && !r->cap.poison_kept) {
		if (kho_capture_unpunch(&r->cap, &r->snap, &diag))
			fprintf(f, "%s: %s\n", tl->o->command, diag.msg);
		else
			fprintf(f, "%s: poison: %zu punched range(s) poisoned again, as before the upgrade\n",
				tl->o->command, n);
	}
	continue_sharers(tl, r);
	if (!r->poison_stopped)
		return;
	err = kho_proc_continue(tl->o->pid);
	if (err)
		fprintf(f, "%s: poison: VMM %d: SIGCONT: %s\n", tl->o->command,
			(int)tl->o->pid, strerror(-err));
	else
		fprintf(f, "%s: poison: VMM %d continued\n", tl->o->command,
			(int)tl->o->pid);
	r->poison_stopped = false;
}

static int do_run(struct timeline *tl, struct run *r)
{
	const struct kho_upgrade_opts *o = tl->o;
	struct kho_diag diag = { "" };
	struct kho_handoff empty;
	char *running = NULL;
	size_t len;
	bool loaded;
	int err;

	/*
	 * 0. One upgrade (or rollback) at a time: a second would capture
	 * into the same LUO session and load over the first's image.  No
	 * step when it is free: the timeline stays what it was.
	 */
	step_begin(tl);
	err = take_lock(r, &diag);
	if (err)
		return step_end(tl, "lock", err, "%s", diag.msg);

	/* 1. The running kernel must be able to hand anything over. */
	step_begin(tl);
	err = kho_read_file("/proc/cmdline", (void **)&running, &len);
	if (!err) {
		running[strcspn(running, "\n")] = '\0';
		err = kho_kexec_check_running(running, &diag);
	} else {
		kho_diag_set(&diag, err, "cannot read /proc/cmdline: %s", strerror(-err));
	}
	if (!err)
		err = kho_kexec_cmdline_next(running, o->append, r->cmdline,
					     sizeof(r->cmdline));
	free(running);
	if (!err) {
		err = check_unadopted(&diag);
		if (!err)
			err = take_given_session(r, o, &diag);
		/* luod holds the device: that is the point of its path. */
		if (!err && strcmp(r->luo_path, "luod"))
			err = check_luo_free(r, &diag);
		if (err)
			return step_end(tl, "preflight-running", err, "%s",
					diag.msg);
	}
	if (err)
		return step_end(tl, "preflight-running", err, "%s", diag.msg[0] ?
				diag.msg : "the new command line is too long");
	if (r->given_session >= 0 && o->dry_run)
		return step_end(tl, "preflight-running", -EOPNOTSUPP,
				"--dry-run on the systemd path: systemd holds session '%s' too, so what a dry run preserved would stay preserved; refused before anything was captured, nothing changed",
				r->session_name);
	step_end(tl, "preflight-running", 0, "kho=on liveupdate=on, %s present; LUO path: %s%s%s",
		 "/dev/liveupdate", r->luo_path,
		 r->given_session < 0 ? "" : r->luod_fd >= 0 ?
		 ", session from luod (START_PRESERVATION): " :
		 ", session from LUOSession=: ",
		 r->given_session >= 0 ? r->session_name : "");

	/*
	 * 2. The target must read every ABI a hand-off needs, checked before
	 * anything is captured or preserved, so a refusal changes nothing.
	 */
	step_begin(tl);
	err = kho_kimage_open(o->kernel, &r->img, &diag);
	if (err)
		return step_end(tl, "preflight-target", err, "%s", diag.msg);
	/*
	 * The VMM's iommufd goes into the session when both kernels journal
	 * it; the hand-off then depends on the target's handler.
	 */
	if (kho_kimage_has_abi(&r->img, KHO_KJOURNAL_LUO_COMPATIBLE,
			       &r->target_kjournal))
		r->target_kjournal = false;
	r->running_kjournal = kho_kjournal_available();
	r->iommufd_decision = kho_iommufd_policy(o->pid != 0,
						 r->running_kjournal,
						 r->target_kjournal,
						 o->userspace_journal);
	if (r->iommufd_decision == KHO_IOMMUFD_REFUSED) {
		if (ignore_refusal(tl, -EPROTONOSUPPORT,
				   "the target lacks " KHO_KJOURNAL_LUO_COMPATIBLE ": the VMM's iommufd is preserved in the session all the same"))
			return refuse_target(tl, r);
		r->iommufd_decision = KHO_IOMMUFD_PRESERVE;
	}
	kho_handoff_init(&empty);
	empty.iommufd.present = r->iommufd_decision == KHO_IOMMUFD_PRESERVE;
	r->nr_abi = kho_capture_abi_needs(&empty, r->abi, KHO_CAPTURE_MAX_ABI);
	err = kho_kimage_check_abi(&r->img, r->abi, r->nr_abi, &diag);
	if (ignore_refusal(tl, err, diag.msg))
		return step_end(tl, "preflight-target", err, "%s", diag.msg);
	kho_kimage_series(&r->img, r->series, sizeof(r->series));
	step_end(tl, "preflight-target", 0, "%s %s (%s), carries %s %s %s; series: %s; %s; iommufd: %s",
		 r->img.format, r->img.release[0] ? r->img.release : "(no release)",
		 r->img.codec, r->abi[0], r->abi[1], r->abi[2], r->series,
		 r->target_kjournal ?
		 "carries " KHO_KJOURNAL_LUO_COMPATIBLE :
		 "no " KHO_KJOURNAL_LUO_COMPATIBLE " (its restore-agent uses the userspace record alone)",
		 r->iommufd_decision == KHO_IOMMUFD_PRESERVE ?
		 "preserve (the target's kernel verifies the replay)" :
		 r->iommufd_decision == KHO_IOMMUFD_DEGRADED ?
		 "degraded (--userspace-journal: the replay will not be verified by the kernel)" :
		 r->iommufd_decision == KHO_IOMMUFD_USERSPACE ?
		 "userspace record (the running kernel has no iommufd journal)" :
		 "no VMM");

	/*
	 * 2b. The initrd: used as is when it carries the agent and something
	 * that starts it (kho-tool's initramfs-tools or dracut hook, or the
	 * project's own initramfs); otherwise the agent is appended as one
	 * more cpio segment.  Decided before anything is captured.
	 */
	if (o->initrd) {
		struct kho_initrd_scan *sc = &r->initrd_scan;
		struct kho_diag idiag = { "" };

		step_begin(tl);
		err = kho_initrd_scan(o->initrd, sc, &idiag);
		if (err == -ENOENT || err == -EACCES || err == -EINVAL)
			return step_end(tl, "initrd", err, "%s", idiag.msg);
		if (!err && sc->agent[0] && sc->starter[0]) {
			r->initrd_mode = "as-is";
			step_end(tl, "initrd", 0,
				 "%s (%s, %zu entries) carries %s, started by %s (%s): used as is",
				 o->initrd, sc->segments, sc->entries, sc->agent,
				 sc->starter, sc->starter_path);
		} else {
			const char *why = err ? idiag.msg :
				sc->agent[0] ? "carries the agent but nothing that starts it" :
				"does not carry the restore-agent";

			err = kho_initrd_append_agent(o->initrd, &r->initrd_fd, &diag);
			if (err)
				return step_end(tl, "initrd", err,
						"%s %s, and appending it failed: %s (put it in with update-initramfs or dracut and kho-tool's hook, or initramfs/mkinitramfs.sh --append-to)",
						o->initrd, why, diag.msg);
			snprintf(r->initrd_load, sizeof(r->initrd_load),
				 "/proc/self/fd/%d", r->initrd_fd);
			r->initrd_mode = "appended";
			step_end(tl, "initrd", 0,
				 "%s %s: appended the agent and /etc/kho/init.d/10-restore-agent as a cpio segment (an init that runs /etc/kho/init.d must start it)",
				 o->initrd, why);
		}
	}

	/*
	 * 2c. A QEMU by cpr-transfer: it migrates to us; refused, with the
	 * guest running, unless every descriptor is a memfd.  From here a
	 * failure resumes the guest in the source (kho_upgrade_run()).
	 */
	if (o->nr_qemu) {
		err = qemu_cpr(tl, r);
		if (err)
			return err;
	}

	/* 3. Capture: fetch the VMM's journal, compact, encode. */
	step_begin(tl);
	if (o->pid) {
		err = kho_journal_sock_fetch(o->pid, &r->snap, &diag);
		if (err)
			return step_end(tl, "capture", err, "VMM %d: %s", (int)o->pid,
					diag.msg);
		r->have_snap = true;
		err = kho_capture_check_kjournal(o->pid, &r->snap,
						 r->iommufd_decision == KHO_IOMMUFD_PRESERVE ?
						 &r->iommufd : NULL,
						 o->userspace_journal, &diag);
		if (err)
			return step_end(tl, "capture", err, "VMM %d: %s", (int)o->pid,
					diag.msg);
		if (diag.msg[0])
			print_unverified_warning(o->json ? stderr : stdout,
						 o->command, o->pid, diag.msg);
		journal_source_line(o, &r->snap);
		/* A VMM without an iommufd has nothing to preserve. */
		if (r->iommufd_decision == KHO_IOMMUFD_PRESERVE &&
		    !r->snap.iommufd.present)
			r->iommufd_decision = KHO_IOMMUFD_NO_VMM;
		r->kjournal_length = r->snap.iommufd.journal_length;
		iommufd_line(o, r);
	}
	err = kho_capture_build(r->have_snap ? &r->snap : NULL, &r->cap, &diag);
	if (err)
		return step_end(tl, "capture", err, "%s", diag.msg);
	r->have_cap = true;
	r->captured = true;
	/* The VMM's poisoned guest pages: cut out of the plan, listed. */
	if (o->pid) {
		err = kho_capture_poison(&r->cap, &r->snap, "/proc", &diag);
		if (err)
			return step_end(tl, "capture", err, "%s", diag.msg);
	}
	if (o->nr_qemu) {
		/* The qemu-cpr node: format 3, which older readers refuse. */
		struct kho_handoff *h = &r->cap.handoff;

		h->qemu = r->qemu;
		r->qemu = NULL;
		h->nr_qemu = o->nr_qemu;
		kho_handoff_require(h, KHO_FORMAT_VERSION_QEMU);
		free(r->cap.blob);
		r->cap.blob = NULL;
		err = kho_handoff_encode(h, &r->cap.blob, &r->cap.blob_len);
		if (err)
			return step_end(tl, "capture", err,
					"%u QEMUs: encoding the qemu-cpr node: %s",
					o->nr_qemu, strerror(-err));
	}
	r->journal_length = r->cap.handoff.journal_length;
	r->replay_length = r->cap.handoff.replay.nr;
	r->handoff_bytes = r->cap.blob_len;
	r->replay_ioctls = kho_plan_ioctls(&r->cap.handoff.replay);
	/* The hand-off may depend on more than the base ABIs: check again. */
	r->nr_abi = kho_capture_abi_needs(&r->cap.handoff, r->abi,
					  KHO_CAPTURE_MAX_ABI);
	err = kho_kimage_check_abi(&r->img, r->abi, r->nr_abi, &diag);
	if (ignore_refusal(tl, err, diag.msg))
		return step_end(tl, "capture", err, "%s", diag.msg);
	step_end(tl, "capture", 0,
		 "%s: journal %" PRIu64 " records -> replay %zu (%zu ioctls), %zu IOAS, %zu devices, %zu memfds, %zu poisoned ranges, hand-off %zu bytes",
		 o->pid ? "VMM" : "no VMM", r->cap.handoff.journal_length,
		 r->cap.handoff.replay.nr, r->replay_ioctls,
		 r->cap.handoff.state.nr_ioas,
		 r->cap.handoff.state.nr_dev, r->cap.handoff.state.nr_memfd,
		 r->cap.handoff.nr_poison, r->cap.blob_len);

	/*
	 * 3b. The devices: what becomes of each one's state, said before
	 * anything is preserved or loaded, so --require-device-state can
	 * still refuse with nothing changed.
	 */
	err = check_devices(tl, r);
	if (err)
		return err;

	/*
	 * 3c. Each carried device's state, into a sealed memfd the session
	 * preserves: PRE_COPY with the guest running, then the VMM stopped
	 * and STOP_COPY.  From here a failure, or a dry run, walks them back
	 * to RUNNING and continues the VMM (kho_upgrade_run()).
	 */
	if (o->pid) {
		FILE *f = o->json ? stderr : stdout;

		step_begin(tl);
		r->have_devsave = true;
		err = kho_devsave_run(&r->devsave, &r->cap, o->pid, f,
				      o->command, &diag);
		if (err < 0)
			return step_end(tl, "device-state", err, "%s; every device goes back to RUNNING, the VMM continues",
					diag.msg);
		r->handoff_bytes = r->cap.blob_len;
		step_end(tl, "device-state", 0, "%d of %zu devices saved%s", err,
			 r->cap.handoff.state.nr_dev,
			 err ? ", the VMM stopped until the kexec" : "");
	}

	/* 4. Preserve: the session lives as long as this process holds it. */
	step_begin(tl);
	/*
	 * Preserve punches the poisoned pages out of the guest's memfds, and
	 * a read of a hole gets zeroes where the guest must take SIGBUS: the
	 * VMM waits, stopped, from here to the kexec, or until the pages are
	 * poisoned again (undo_punch()).  Saving device state stopped it
	 * already.
	 */
	if (o->pid && r->cap.handoff.nr_poison && !r->devsave.stopped) {
		FILE *f = o->json ? stderr : stdout;

		err = kho_proc_stop(o->pid);
		if (err)
			return step_end(tl, "preserve", err,
					"VMM %d: stopping it (SIGSTOP) before its poisoned pages are punched out: %s",
					(int)o->pid, strerror(-err));
		r->poison_stopped = true;
		fprintf(f, "%s: poison: VMM %d stopped until the kexec: a punched page would read as zeroes\n",
			o->command, (int)o->pid);
		/* Before a failure of preserve says why on stderr. */
		fflush(f);
	}
	if (o->pid && r->cap.handoff.nr_poison && r->have_snap) {
		err = stop_sharers(tl, r, false, &diag);
		if (err)
			return step_end(tl, "preserve", err, "%s", diag.msg);
	}
	r->cap.given_session = r->given_session;
	r->given_session = -1;		/* the capture owns it now */
	if (test_fail_at("preserve"))
		r->cap.fail_last_memfd = -EIO;
	err = kho_capture_preserve(&r->cap, r->have_snap ? &r->snap : NULL,
				   r->iommufd, &diag);
	if (err)
		return step_end(tl, "preserve", err, "%s", diag.msg);
	r->preserved_fds = r->cap.nr_preserved;
	step_end(tl, "preserve", 0, "session \"%s\": %zu fds (hand-off + %zu guest-RAM memfds%s%s%s)",
		 strcmp(r->luo_path, "systemd") ? KHO_LUO_SESSION : r->session_name,
		 r->cap.nr_preserved,
		 r->cap.nr_preserved - 1 - r->cap.iommufd_preserved -
		 r->cap.nr_extra,
		 r->cap.nr_extra ? " + " : "",
		 r->cap.nr_extra ? (r->cap.nr_extra == 1 ? "1 device state" : "device states") : "",
		 r->cap.iommufd_preserved ?
		 " + the VMM's iommufd, frozen until the kexec" : "");

	/* 5. Load with kexec_file_load: the only loader that carries KHO. */
	step_begin(tl);
	if (test_fail_at("load"))
		err = kho_diag_set(&diag, -EIO, "load: kexec_file_load(%s): %s (injected: KHO_TOOL_TEST_FAIL_AT=load)",
				   o->kernel, strerror(EIO));
	else
		err = kho_kexec_load_image(&r->img, o->kernel,
					   r->initrd_fd >= 0 ? r->initrd_load : o->initrd,
					   r->cmdline, &diag);
	if (err)
		return step_end(tl, "load", err, "%s", diag.msg);
	step_end(tl, "load", 0, "%s%s%s, cmdline \"%s\"", o->kernel,
		 o->initrd ? " + " : " (no initrd: nothing will restore the state)",
		 o->initrd ? o->initrd : "", r->cmdline);
	if (r->initrd_fd >= 0) {
		/* kexec_file_load copied it: the memfd is no longer needed. */
		close(r->initrd_fd);
		r->initrd_fd = -1;
	}
	if (test_run_at("load")) {
		kho_kexec_unload();
		return step_end(tl, "load", -EIO, "the test's KHO_TOOL_TEST_RUN_AT command failed; image unloaded");
	}
	/* The load took seconds: who opened a punched memfd meanwhile? */
	if (o->pid && r->cap.nr_punched && r->have_snap) {
		step_begin(tl);
		err = stop_sharers(tl, r, true, &diag);
		if (err) {
			kho_kexec_unload();
			return step_end(tl, "sharers", err, "%s; image unloaded",
					diag.msg);
		}
		step_end(tl, "sharers", 0, "%zu process(es) besides the VMM hold a punched memfd, all stopped",
			 r->nr_sharers);
	}

	if (o->dry_run) {
		/* Leave the system as it was: no image, no session. */
		step_begin(tl);
		err = kho_kexec_unload();
		if (!err)
			err = kho_kexec_loaded(&loaded);
		if (!err && loaded)
			err = -EBUSY;
		undo_punch(tl, r);
		kho_capture_release(&r->cap);
		r->have_cap = false;
		if (err)
			return step_end(tl, "dry-run-undo", err,
					"unloading the image: %s", strerror(-err));
		/*
		 * Closing the session unpreserved the iommufd: check it.  It
		 * goes back to the state it was preserved in: RECORDING, or
		 * VERIFIED for one a kernel-verified restore rebuilt, which
		 * records the same (patches/0003).
		 */
		if (r->iommufd >= 0) {
			struct kho_kjournal_status st;

			err = kho_kjournal_status(r->iommufd, false, &st);
			if (!err && st.state != KHO_KJOURNAL_RECORDING &&
			    st.state != KHO_KJOURNAL_VERIFIED)
				err = -EBUSY;
			if (err)
				return step_end(tl, "dry-run-undo", err,
						"the VMM's iommufd does not record again after the session was closed: %s",
						strerror(-err));
		}
		return step_end(tl, "dry-run-undo", 0,
				"image unloaded, session released%s: the system is as it was",
				r->iommufd >= 0 ? ", the VMM's iommufd records again" : "");
	}

	/* 6. The jump.  LUO serialises the session inside reboot(). */
	step_begin(tl);
	if (!strcmp(r->luo_path, "systemd")) {
		char why[128] = "";

		err = systemctl_kexec(why, sizeof(why));
		if (err) {
			kho_kexec_unload();
			return step_end(tl, "kexec", err,
					"%s; image unloaded; what was preserved stays in session '%s', which systemd holds (systemctl stop UNIT; systemctl clean --what=fdstore UNIT drops it)",
					why[0] ? why : strerror(-err), r->session_name);
		}
		r->kexec_queued = true;
		r->cap.poison_kept = true;
		step_end(tl, "kexec", 0, "systemctl kexec: kexec.target queued, systemd stops the units and kexecs into %s with session '%s' in its fd store",
			 r->img.release[0] ? r->img.release : o->kernel,
			 r->session_name);
		return 0;
	}
	if (r->luod_fd >= 0)
		return luod_kexec(tl, r);
	step_end(tl, "kexec", 0, "reboot(LINUX_REBOOT_CMD_KEXEC) into %s",
		 r->img.release[0] ? r->img.release : o->kernel);
	if (o->json)
		json_timeline(tl, r, 0);
	announce_kexec(r->img.release);
	err = kho_kexec_reboot();
	tl->nr--;
	/* Still here: undo what would otherwise linger. */
	kho_kexec_unload();
	return step_end(tl, "kexec", err,
			"reboot(LINUX_REBOOT_CMD_KEXEC) failed: %s%s; image unloaded, session released",
			strerror(-err),
			err == -EINVAL ? " (no image loaded)" : " (LUO could not freeze a preserved file? see dmesg)");
}

int kho_upgrade_run(const struct kho_upgrade_opts *o)
{
	struct timeline tl = { .o = o };
	struct run r;
	int err;

	memset(&r, 0, sizeof(r));
	r.iommufd = -1;
	r.initrd_fd = -1;
	r.lock_fd = -1;
	r.run_fd = -1;
	r.given_session = -1;
	r.luod_fd = -1;
	r.luo_path = "direct";
	clock_gettime(CLOCK_MONOTONIC, &tl.start);
	err = do_run(&tl, &r);
	/*
	 * Still here: no kexec (a failure, or a dry run).  The devices whose
	 * state was saved go back to RUNNING, the VMM continues.
	 */
	if (r.have_devsave) {
		if (!r.kexec_queued)
			kho_devsave_undo(&r.devsave, o->json ? stderr : stdout,
					 o->command);
		kho_devsave_free(&r.devsave);
	}
	/*
	 * A QEMU migrated to us and not carried (a failure, or a dry run):
	 * its guest resumes in the source, which kept its RAM.
	 */
	if (r.have_relay) {
		unsigned int i;

		for (i = 0; i < o->nr_qemu; i++) {
			if ((err || o->dry_run) && r.relay[i].source_stopped)
				cpr_relay_resume_source(&r.relay[i]);
			cpr_relay_free(&r.relay[i]);
		}
	}
	free(r.relay);
	if (r.qemu) {
		unsigned int i;

		for (i = 0; i < o->nr_qemu; i++) {
			free(r.qemu[i].cpr_state);
			free(r.qemu[i].fd_tokens);
		}
		free(r.qemu);
	}
	if (o->json)
		json_timeline(&tl, &r, err);
	else if (!err)
		printf("%s: %s in %.1f ms\n", o->command,
		       o->dry_run ? "dry run complete" : "done", ms_since(&tl.start));
	free(r.devs);
	if (r.have_cap && !r.kexec_queued)
		undo_punch(&tl, &r);
	if (r.have_cap)
		kho_capture_release(&r.cap);
	/* After the session: closing our copy never unpreserves it. */
	if (r.iommufd >= 0)
		close(r.iommufd);
	if (r.initrd_fd >= 0)
		close(r.initrd_fd);
	if (r.have_snap)
		kho_journal_snapshot_free(&r.snap);
	kho_kimage_free(&r.img);
	if (r.given_session >= 0)
		close(r.given_session);
	if (r.luod_fd >= 0)
		close(r.luod_fd);
	if (r.run_fd >= 0) {
		kho_rundir_unlock(r.run_fd, KHO_UPGRADE_LOCK, r.lock_fd);
		close(r.run_fd);
	}
	return exit_code(err);
}

int kho_upgrade_parse_opts(int argc, char **argv, struct kho_upgrade_opts *o,
			   int (*usage)(FILE *out, int code))
{
	static const struct option longopts[] = {
		{ "kernel", required_argument, NULL, 'k' },
		{ "initrd", required_argument, NULL, 'i' },
		{ "append", required_argument, NULL, 'a' },
		{ "pid", required_argument, NULL, 'p' },
		{ "qemu-qmp", required_argument, NULL, 'Q' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "userspace-journal", no_argument, NULL, 'U' },
		{ "require-device-state", no_argument, NULL, 'D' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "k:i:a:p:njh", longopts,
				NULL)) != -1) {
		switch (c) {
		case 'k': o->kernel = optarg; break;
		case 'i': o->initrd = optarg; break;
		case 'a': o->append = optarg; break;
		case 'p':
			/* One VMM per hand-off: format v1 carries one state. */
			if (o->pid) {
				fprintf(stderr, "kho-tool %s: --pid given twice: a hand-off (format v1) carries the state of one VMM\n",
					o->command);
				return KHO_EXIT_USAGE;
			}
			if (parse_pid_arg(o->command, optarg, &o->pid))
				return KHO_EXIT_USAGE;
			break;
		case 'Q': {
			unsigned int i;

			/* The socket names the QEMU in the hand-off and to --restore. */
			for (i = 0; i < o->nr_qemu; i++)
				if (!strcmp(o->qemu_qmp[i], optarg)) {
					fprintf(stderr, "kho-tool %s: --qemu-qmp %s given twice: one QEMU, one entry\n",
						o->command, optarg);
					return KHO_EXIT_USAGE;
				}
			if (o->nr_qemu == KHO_UPGRADE_MAX_QEMU) {
				fprintf(stderr, "kho-tool %s: --qemu-qmp %s: more than %d QEMUs in one hand-off\n",
					o->command, optarg, KHO_UPGRADE_MAX_QEMU);
				return KHO_EXIT_USAGE;
			}
			if (strlen(optarg) >= sizeof(((struct kho_handoff_qemu *)0)->name)) {
				fprintf(stderr, "kho-tool %s: --qemu-qmp %s: longer than a hand-off's vmm-name (%zu bytes)\n",
					o->command, optarg,
					sizeof(((struct kho_handoff_qemu *)0)->name) - 1);
				return KHO_EXIT_USAGE;
			}
			o->qemu_qmp[o->nr_qemu++] = optarg;
			break;
		}
		case 'n': o->dry_run = true; break;
		case 'j': o->json = true; break;
		case 'U': o->userspace_journal = true; break;
		case 'D': o->require_device_state = true; break;
		case 'h': return usage(stdout, KHO_EXIT_OK);
		default: return usage(stderr, KHO_EXIT_USAGE);
		}
	}
	if (o->pid && o->nr_qemu) {
		fprintf(stderr, "kho-tool %s: --pid and --qemu-qmp: a hand-off carries one VMM so far\n",
			o->command);
		return KHO_EXIT_USAGE;
	}
	if (optind != argc) {
		fprintf(stderr, "kho-tool %s: unexpected argument '%s'\n",
			o->command, argv[optind]);
		return usage(stderr, KHO_EXIT_USAGE);
	}
	return -1;
}
