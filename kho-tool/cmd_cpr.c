// SPDX-License-Identifier: GPL-2.0
/*
 * kho-tool cpr-relay: stand in for both ends of QEMU's cpr-transfer
 * migration.  It drives a running QEMU over QMP to migrate to kho-tool's
 * own cpr and main channels, keeps the descriptors of the CPR state and
 * stores the main stream, then plays the old QEMU's side to a new QEMU
 * started with -incoming.  On one kernel the descriptors simply stay in
 * this process in between; across a kexec the send half will take them
 * from the restore-agent instead (docs/qemu-cpr.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <linux/iommufd.h>
#include <time.h>
#include <unistd.h>

#include "args.h"
#include "commands.h"
#include "cpr_chan.h"
#include "cpr_state.h"
#include "adopt.h"
#include "cpr_relay.h"
#include "fdpass.h"
#include "file.h"
#include "handoff.h"
#include "luo.h"
#include "poison.h"
#include "rundir.h"
#include "state.h"
#include "escape.h"

/* QEMU_VM_FILE_MAGIC and QEMU_VM_FILE_VERSION (migration/savevm.c). */
#define QEVM_MAGIC 0x5145564du
#define QEVM_VERSION 3u
#define DEFAULT_STREAM_MAX (1ULL << 30)

static double ms_since(const struct timespec *t)
{
	struct timespec n;

	clock_gettime(CLOCK_MONOTONIC, &n);
	return (n.tv_sec - t->tv_sec) * 1e3 + (n.tv_nsec - t->tv_nsec) / 1e6;
}

static void step(struct cpr_relay *r, const char *what)
{
	if (r->quiet)
		return;
	printf("%s: %-9.1f ms  %s\n", r->who, ms_since(&r->t0), what);
	fflush(stdout);
}

static int usage(FILE *out, int code)
{
	fprintf(out,
		"usage: kho-tool cpr-relay --qmp SOCK --dir DIR --to-cpr PATH --to-main PATH\n"
		"                          [--timeout SEC] [--keep-source] [--kexec-safe]\n"
		"       kho-tool cpr-relay --restore [--vmm NAME] --to-cpr PATH --to-main PATH\n"
		"                          [--handoff FILE] [--agent SOCK] [--timeout SEC]\n"
		"  migrate the QEMU whose QMP socket is SOCK in cpr-transfer mode to\n"
		"  kho-tool (it listens on DIR/cpr.sock and DIR/main.sock, keeps the CPR\n"
		"  state's descriptors, stores its bytes in DIR/cpr-state.bin and the main\n"
		"  stream in DIR/stream), then hand both to a new QEMU started with the\n"
		"  old command line plus\n"
		"    -incoming '{\"channel-type\":\"cpr\",\"addr\":{\"transport\":\"socket\",\n"
		"                \"type\":\"unix\",\"path\":\"PATH\"}}' -incoming unix:PATH\n"
		"  whose cpr and main sockets are --to-cpr and --to-main, and quit the old\n"
		"  QEMU; if the new one cannot take the guest, resume it in the old one.\n"
		"  --timeout SEC  for each step (default 60)\n"
		"  --keep-source  leave the old QEMU stopped instead of quitting it\n"
		"  --kexec-safe   refuse, with the guest still running, a QEMU whose RAM\n"
		"                 is not in non-hugetlb memfds, or whose CPR state holds a\n"
		"                 descriptor that cannot cross a kexec (vhost, tap, ...)\n"
		"  --restore      after a kexec (`kho-tool upgrade --qemu-qmp`): take the\n"
		"                 QEMU's memfds from the restore-agent (--agent, default\n"
		"                 " KHO_ADOPT_SOCK "), its CPR state and stream from the\n"
		"                 hand-off (--handoff, default " KHO_RUN_DIR "/handoff.fdt),\n"
		"                 and hand them to the new QEMU; until it has them all the\n"
		"                 agent keeps holding the memfds, so a failed --restore can\n"
		"                 be run again\n"
		"  --vmm NAME     with --restore: which QEMU of the hand-off (its QMP socket\n"
		"                 given to upgrade --qemu-qmp); needed when it carries more\n"
		"                 than one not yet restored.  One --restore per QEMU, one\n"
		"                 at a time; the agent finishes the session after the last\n"
		"  KHO_CPR_FAIL_AT=cpr-state fails the relay after the CPR state arrived;\n"
		"  KHO_CPR_FAIL_AT=restore fails --restore before the new QEMU is reached\n"
		"  (tests: the migration is cancelled and the guest runs on)\n");
	return code;
}

/* Fails the relay with a message naming the step and the cause. */
static int relay_fail(struct cpr_relay *r, const char *stepname, int err)
{
	fprintf(stderr, "%s: %s: %s%s%s (QEMU %s)\n", r->who, stepname,
		strerror(-err), r->err[0] ? ": " : "", r->err,
		r->qmp ? r->qmp : "(none)");
	return KHO_EXIT_FAILED;
}

static int qmp(struct cpr_relay *r, const char *cmd, char *reply, size_t len)
{
	r->err[0] = '\0';
	return kho_qmp_exec(&r->q, cmd, reply, len, r->timeout_ms, r->err,
			    sizeof(r->err));
}

/* Polls query-migrate until @want (or failed); copies the status. */
static int wait_migrate(struct cpr_relay *r, const char *want)
{
	char reply[4096], pat[64];
	int ret, i;

	snprintf(pat, sizeof(pat), "\"status\": \"%s\"", want);
	for (i = 0; i < r->timeout_ms / 20; i++) {
		ret = qmp(r, "{\"execute\":\"query-migrate\"}", reply,
			  sizeof(reply));
		if (ret)
			return ret;
		if (strstr(reply, pat))
			return 0;
		if (strstr(reply, "\"status\": \"failed\"")) {
			snprintf(r->err, sizeof(r->err), "source reports: %.400s",
				 reply);
			return -EIO;
		}
		usleep(20000);
	}
	snprintf(r->err, sizeof(r->err), "source never reached %s", want);
	return -ETIMEDOUT;
}

/* Prints the descriptors; with --kexec-safe, refuses those that cannot cross. */
static int check_fds(struct cpr_relay *r)
{
	unsigned int i, refused = 0;
	char what[256], name[128], ewhat[128];

	for (i = 0; i < r->st.nr_fds; i++) {
		enum kho_cpr_kind k = kho_cpr_fd_kind(r->st.fds[i].fd, what,
						      sizeof(what));
		int ok = r->memfds_only ? k == KHO_CPR_KIND_MEMFD :
					  kho_cpr_kind_crosses_kexec(k);

		kho_text_escape(name, sizeof(name), r->st.fds[i].name);
		kho_text_escape(ewhat, sizeof(ewhat), what);
		if (!r->quiet)
			printf("%s: fd %-3u %-24s id %-3d %-11s %s%s\n", r->who, i, name,
		       r->st.fds[i].id, kho_cpr_kind_name(k), ewhat,
		       ok ? "" : "  (cannot cross a kexec)");
		if (!ok) {
			if (!refused)
				snprintf(r->err, sizeof(r->err),
					 "fd '%s' id %d is %s (%s): kho-tool cannot carry it across a kexec%s",
					 name, r->st.fds[i].id,
					 kho_cpr_kind_name(k), ewhat,
					 r->memfds_only && kho_cpr_kind_crosses_kexec(k) ?
					 " yet (only memfds: rebuilding iommufd, VFIO devices and their eventfds after a kexec is not built; docs/qemu-cpr.md)" : "");
			refused++;
		}
	}
	for (i = 0; i < r->st.nr_vfio; i++) {
		kho_text_escape(name, sizeof(name), r->st.vfio[i].name);
		printf("%s: vfio device %s: devid %d ioas %u hwpt %u\n", r->who, name,
		       r->st.vfio[i].devid, r->st.vfio[i].ioas_id,
		       r->st.vfio[i].hwpt_id);
	}
	if (r->st.tail_len) {
		kho_text_escape(name, sizeof(name), r->st.tail_name);
		printf("%s: subsection '%s', %zu bytes, carried verbatim\n",
		       r->who, name, r->st.tail_len);
	}
	return refused && r->kexec_safe ? -EOPNOTSUPP : 0;
}

/*
 * A VFIO device needs KVM: once the cpr channel closes, QEMU 11.1.3's
 * PRECOPY_SETUP notifier (hw/vfio/cpr.c: vfio_cpr_set_msi_virq) detaches
 * the device's interrupts with KVM_IRQFD on kvm_state, which is NULL under
 * TCG, and the source segfaults (docs/qemu-cpr.md).  Checked while the
 * source still waits for our hang-up, so a refusal leaves the guest running.
 */
static int check_kvm(struct cpr_relay *r)
{
	char reply[512], name[128];
	int ret;

	ret = qmp(r, "{\"execute\":\"query-kvm\"}", reply, sizeof(reply));
	if (ret)
		return ret;
	if (strstr(reply, "\"enabled\": true") || strstr(reply, "\"enabled\":true"))
		return 0;
	kho_text_escape(name, sizeof(name), r->st.vfio[0].name);
	snprintf(r->err, sizeof(r->err),
		 "vfio device '%s' in a QEMU without KVM: QEMU's cpr-transfer would call KVM_IRQFD for its interrupts and crash the source",
		 name);
	return -EOPNOTSUPP;
}

/*
 * Before the guest stops: no page of the guest's RAM may be poisoned.
 * 7.2's memfd preservation does not look at PG_hwpoison, so the broken
 * frame would reach the new QEMU as ordinary memory, and the guest would
 * read whatever it returns where it should take a machine check.  The
 * test VMM's path punches such pages out and poisons them again after
 * the kexec in its own mapping (UFFDIO_POISON, docs/device-state.md);
 * QEMU 11.1 has no interface through which a new QEMU could be told to
 * do that, so the upgrade is refused instead.  The QEMU is the QMP
 * socket's peer: its mappings show the memfds' frames.
 */
static int check_poison(struct cpr_relay *r)
{
	struct kho_diag diag = { "" };
	struct kho_memfd *memfds = NULL;
	struct kho_poison *p = NULL;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	size_t nr = 0, nr_p = 0;
	int *fds = NULL, ret;

	if (getsockopt(r->q.fd, SOL_SOCKET, SO_PEERCRED, &cred, &len)) {
		ret = -errno;
		snprintf(r->err, sizeof(r->err), "QMP socket: SO_PEERCRED: which process is QEMU");
		return ret;
	}
	ret = kho_cpr_state_memfds(&r->st, &memfds, &fds, &nr);
	if (!ret && nr)
		ret = kho_poison_find("/proc", cred.pid, memfds, fds, nr, &p,
				      &nr_p, &diag);
	if (ret)
		snprintf(r->err, sizeof(r->err), "QEMU pid %d: %s", (int)cred.pid,
			 diag.msg[0] ? diag.msg : strerror(-ret));
	else if (nr_p) {
		snprintf(r->err, sizeof(r->err),
			 "fd '%s': %zu poisoned range%s of guest RAM, the first 0x%llx+0x%llx: a new QEMU cannot be told to keep %s poisoned, and the kexec would carry the broken frame%s as ordinary memory",
			 r->st.fds[p[0].memfd_token].name, nr_p, nr_p > 1 ? "s" : "",
			 (unsigned long long)p[0].offset,
			 (unsigned long long)p[0].length,
			 nr_p > 1 ? "them" : "it", nr_p > 1 ? "s" : "");
		ret = -EHWPOISON;
	}
	free(p);
	free(memfds);
	free(fds);
	return ret;
}

/*
 * Before the guest stops: every memory backend must be a non-hugetlb
 * memfd.  QEMU's CPR state carries no descriptor for file-backed RAM (the
 * new QEMU reopens its path), so the state alone cannot show it.
 */
static int precheck(struct cpr_relay *r)
{
	char reply[65536], val[512], cmd[512], name[128], type[128], ename[128];
	const char *p;
	int ret;

	ret = qmp(r, "{\"execute\":\"qom-list\",\"arguments\":{\"path\":\"/objects\"}}",
		  reply, sizeof(reply));
	if (ret)
		return ret;
	for (p = reply; (p = strstr(p, "{\"name\": \"")); p++) {
		if (sscanf(p, "{\"name\": \"%127[^\"]\", \"type\": \"child<%127[^>]>\"",
			   name, type) != 2)
			continue;
		if (strncmp(type, "memory-backend-", 15))
			continue;
		kho_text_escape(ename, sizeof(ename), name);
		if (strcmp(type, "memory-backend-memfd")) {
			snprintf(r->err, sizeof(r->err),
				 "memory backend '%s' is %s: its RAM cannot cross a kexec (use memory-backend-memfd,share=on)",
				 ename, type);
			return -EOPNOTSUPP;
		}
		snprintf(cmd, sizeof(cmd),
			 "{\"execute\":\"qom-get\",\"arguments\":{\"path\":\"/objects/%s\",\"property\":\"hugetlb\"}}",
			 name);
		ret = qmp(r, cmd, val, sizeof(val));
		if (ret)
			return ret;
		if (strstr(val, "true")) {
			snprintf(r->err, sizeof(r->err),
				 "memory backend '%s' is a hugetlb memfd: LUO in Linux 7.2 preserves only non-hugetlb memfds",
				 ename);
			return -EOPNOTSUPP;
		}
	}
	return 0;
}

/* Closes the channels cpr_relay_receive_state() left open. */
static void close_channels(struct cpr_relay *r)
{
	if (r->cpr_sock >= 0)
		close(r->cpr_sock);
	if (r->lcpr >= 0)
		close(r->lcpr);
	if (r->lmain >= 0)
		close(r->lmain);
	r->cpr_sock = r->lcpr = r->lmain = -1;
	if (r->dir) {
		unlink(r->cpr_path);
		unlink(r->main_path);
	}
}

/* The guest still runs: the source waits for our hang-up. */
static void cancel_migration(struct cpr_relay *r)
{
	char why[sizeof(r->err)];

	memcpy(why, r->err, sizeof(why));
	if (qmp(r, "{\"execute\":\"migrate_cancel\"}", NULL, 0) ||
	    wait_migrate(r, "cancelled"))
		fprintf(stderr, "%s: qemu %s: cancelling the migration failed: %s\n",
			r->who, r->qmp, r->err);
	else
		fprintf(stderr, "%s: qemu %s: migration cancelled, the guest keeps running\n",
			r->who, r->qmp);
	memcpy(r->err, why, sizeof(why));
}

void cpr_relay_cancel(struct cpr_relay *r)
{
	if (r->cpr_sock < 0)
		return;
	cancel_migration(r);
	close_channels(r);
}

int cpr_relay_receive_state(struct cpr_relay *r)
{
	const char *inject = getenv("KHO_CPR_FAIL_AT");
	char cmd[9000], reply[4096];
	uint8_t *buf = NULL;
	int *fds = NULL;
	unsigned int nr_fds = 0, i;
	size_t len = 0;
	int out = -1, ret;
	const char *stepname;

	stepname = "qmp";
	ret = kho_qmp_open(&r->q, r->qmp, r->timeout_ms, r->err, sizeof(r->err));
	if (ret)
		goto fail;
	ret = qmp(r, "{\"execute\":\"query-status\"}", reply, sizeof(reply));
	if (ret)
		goto fail;
	if (!strstr(reply, "\"running\"")) {
		snprintf(r->err, sizeof(r->err), "the source is not running: %.300s",
			 reply);
		ret = -EINVAL;
		goto fail;
	}
	if (r->kexec_safe) {
		stepname = "check memory backends";
		ret = precheck(r);
		if (ret)
			goto fail;
		step(r, "memory backends are memfds");
	}
	stepname = "listen";
	r->lcpr = kho_cpr_listen(r->cpr_path);
	r->lmain = r->lcpr < 0 ? r->lcpr : kho_cpr_listen(r->main_path);
	if (r->lcpr < 0 || r->lmain < 0) {
		ret = r->lcpr < 0 ? r->lcpr : r->lmain;
		snprintf(r->err, sizeof(r->err), "%s", r->lcpr < 0 ? r->cpr_path : r->main_path);
		goto fail;
	}
	stepname = "set mode cpr-transfer";
	ret = qmp(r, "{\"execute\":\"migrate-set-parameters\",\"arguments\":{\"mode\":\"cpr-transfer\"}}",
		  NULL, 0);
	if (ret)
		goto fail;
	step(r, "source in mode cpr-transfer");
	stepname = "migrate";
	snprintf(cmd, sizeof(cmd),
		 "{\"execute\":\"migrate\",\"arguments\":{\"channels\":["
		 "{\"channel-type\":\"main\",\"addr\":{\"transport\":\"socket\",\"type\":\"unix\",\"path\":\"%s\"}},"
		 "{\"channel-type\":\"cpr\",\"addr\":{\"transport\":\"socket\",\"type\":\"unix\",\"path\":\"%s\"}}]}}",
		 r->main_path, r->cpr_path);
	ret = qmp(r, cmd, NULL, 0);
	if (ret)
		goto fail;
	stepname = "cpr channel";
	r->cpr_sock = kho_cpr_accept(r->lcpr, r->timeout_ms);
	if (r->cpr_sock < 0) {
		ret = r->cpr_sock;
		goto fail;
	}
	ret = kho_cpr_recv_all(r->cpr_sock, KHO_CPR_STATE_MAX, KHO_CPR_MAX_FDS, &buf,
			       &len, &fds, &nr_fds, r->timeout_ms);
	if (ret)
		goto fail;
	ret = kho_cpr_state_parse(buf, len, fds, nr_fds, &r->st, r->err,
				  sizeof(r->err));
	if (ret) {
		for (i = 0; i < nr_fds; i++)
			close(fds[i]);
		goto fail;
	}
	/* The bytes as QEMU sent them (fds as placeholders), for the record. */
	snprintf(cmd, sizeof(cmd), "%s/cpr-state.bin", r->dir);
	out = open(cmd, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (out < 0 || write(out, buf, len) != (ssize_t)len) {
		ret = out < 0 ? -errno : -EIO;
		snprintf(r->err, sizeof(r->err), "%.900s", cmd);
		stepname = "save the CPR state";
		goto fail;
	}
	close(out);
	out = -1;
	snprintf(cmd, sizeof(cmd), "received the CPR state: %zu bytes, %u fds",
		 len, nr_fds);
	step(r, cmd);
	stepname = "check descriptors";
	ret = check_fds(r);
	if (!ret && r->st.nr_vfio) {
		stepname = "check KVM";
		ret = check_kvm(r);
	}
	if (!ret && r->kexec_safe) {
		stepname = "check poison";
		ret = check_poison(r);
	}
	if (!ret && inject && !strcmp(inject, "cpr-state")) {
		snprintf(r->err, sizeof(r->err), "injected (KHO_CPR_FAIL_AT=cpr-state)");
		ret = -ECANCELED;
	}
	if (ret) {
		cancel_migration(r);
		goto fail;
	}
	r->raw = buf;
	r->raw_len = len;
	free(fds);
	return 0;
fail:
	relay_fail(r, stepname, ret);
	if (out >= 0)
		close(out);
	close_channels(r);
	free(fds);
	free(buf);
	return ret;
}

void cpr_relay_hangup(struct cpr_relay *r)
{
	/* Closing the cpr channel is the source's cue to start the main one. */
	if (r->cpr_sock < 0)
		return;
	r->source_stopped = 1;
	close(r->cpr_sock);
	r->cpr_sock = -1;
}

int cpr_relay_receive_stream(struct cpr_relay *r)
{
	uint64_t total = 0;
	uint8_t head[8];
	char cmd[1024];
	int s = -1, out = -1, ret;
	const char *stepname;

	cpr_relay_hangup(r);
	stepname = "main channel";
	s = kho_cpr_accept(r->lmain, r->timeout_ms);
	if (s < 0) {
		ret = s;
		goto fail;
	}
	out = open(r->stream_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (out < 0) {
		ret = -errno;
		snprintf(r->err, sizeof(r->err), "%s", r->stream_path);
		goto fail;
	}
	ret = kho_cpr_recv_to_fd(s, out, DEFAULT_STREAM_MAX, &total, r->timeout_ms);
	if (ret)
		goto fail;
	close(out);
	out = open(r->stream_path, O_RDONLY | O_CLOEXEC);
	if (out < 0 || read(out, head, 8) != 8 ||
	    ((uint32_t)head[0] << 24 | head[1] << 16 | head[2] << 8 | head[3]) != QEVM_MAGIC ||
	    ((uint32_t)head[4] << 24 | head[5] << 16 | head[6] << 8 | head[7]) != QEVM_VERSION) {
		snprintf(r->err, sizeof(r->err),
			 "%s: %llu bytes, not a QEMU migration stream (magic QEVM, version 3)",
			 r->stream_path, (unsigned long long)total);
		ret = -EBADMSG;
		goto fail;
	}
	snprintf(cmd, sizeof(cmd), "received the main stream: %llu bytes in %s",
		 (unsigned long long)total, r->stream_path);
	step(r, cmd);
	stepname = "source completion";
	ret = wait_migrate(r, "completed");
	if (ret)
		goto fail;
	step(r, "source reports migration completed");
	r->stream_len = total;
	ret = 0;
	goto out;
fail:
	relay_fail(r, stepname, ret);
out:
	if (out >= 0)
		close(out);
	if (s >= 0)
		close(s);
	close_channels(r);
	return ret;
}

int cpr_relay_receive(struct cpr_relay *r)
{
	int ret = cpr_relay_receive_state(r);

	return ret ? ret : cpr_relay_receive_stream(r);
}

/* Ends the source QEMU once the new one has the guest. */
static void qmp_quit(struct cpr_relay *r)
{
	qmp(r, "{\"execute\":\"quit\"}", NULL, 0);
}

/*
 * The hand-off to the new QEMU failed before it had the whole stream, so
 * it cannot run the guest: resume it in the source, which kept its RAM.
 */
void cpr_relay_resume_source(struct cpr_relay *r)
{
	char reply[1024];

	if (qmp(r, "{\"execute\":\"cont\"}", NULL, 0) ||
	    qmp(r, "{\"execute\":\"query-status\"}", reply, sizeof(reply)) ||
	    !strstr(reply, "\"running\"")) {
		fprintf(stderr, "%s: qemu %s: resuming the guest in the source failed: %s\n",
			r->who, r->qmp, r->err);
		return;
	}
	fprintf(stderr, "%s: qemu %s: the guest resumed in the source QEMU\n",
		r->who, r->qmp);
}

int cpr_relay_send(struct cpr_relay *r)
{
	size_t cap = KHO_CPR_STATE_MAX, len, *offs = NULL;
	uint8_t *buf = NULL;
	int *fds = NULL;
	uint64_t total;
	unsigned int i;
	int s = -1, in = -1, ret;
	const char *stepname = "encode";
	char msg[256];

	r->err[0] = '\0';
	buf = malloc(cap);
	offs = calloc(r->st.nr_fds + 1, sizeof(*offs));
	fds = calloc(r->st.nr_fds + 1, sizeof(*fds));
	if (!buf || !offs || !fds) {
		ret = -ENOMEM;
		goto fail;
	}
	ret = kho_cpr_state_encode(&r->st, buf, cap, &len, offs);
	if (ret)
		goto fail;
	for (i = 0; i < r->st.nr_fds; i++)
		fds[i] = r->st.fds[i].fd;
	stepname = "target cpr channel";
	snprintf(r->err, sizeof(r->err), "%s", r->to_cpr);
	s = kho_cpr_connect(r->to_cpr, r->timeout_ms);
	if (s < 0) {
		ret = s;
		goto fail;
	}
	r->err[0] = '\0';
	ret = kho_cpr_send_state(s, buf, len, offs, fds, r->st.nr_fds);
	if (ret)
		goto fail;
	shutdown(s, SHUT_WR);
	snprintf(msg, sizeof(msg), "sent the CPR state: %zu bytes, %u fds", len,
		 r->st.nr_fds);
	step(r, msg);
	/* The target closes its end once it listens on the main channel. */
	stepname = "target cpr channel hang-up";
	ret = kho_cpr_wait_hup(s, r->timeout_ms);
	if (ret)
		goto fail;
	close(s);
	s = -1;
	step(r, "target closed the cpr channel");
	stepname = "target main channel";
	snprintf(r->err, sizeof(r->err), "%s", r->to_main);
	s = kho_cpr_connect(r->to_main, r->timeout_ms);
	if (s < 0) {
		ret = s;
		goto fail;
	}
	if (r->stream_fd >= 0)
		in = fcntl(r->stream_fd, F_DUPFD_CLOEXEC, 0);
	else
		in = open(r->stream_path, O_RDONLY | O_CLOEXEC);
	if (in < 0 || lseek(in, 0, SEEK_SET) < 0) {
		ret = -errno;
		snprintf(r->err, sizeof(r->err), "%s", r->stream_fd >= 0 ?
			 "the stream memfd" : r->stream_path);
		goto fail;
	}
	r->err[0] = '\0';
	ret = kho_cpr_send_from_fd(s, in, &total);
	if (ret)
		goto fail;
	snprintf(msg, sizeof(msg), "sent the main stream: %llu bytes",
		 (unsigned long long)total);
	step(r, msg);
	ret = 0;
	goto out;
fail:
	relay_fail(r, stepname, ret);
out:
	if (in >= 0)
		close(in);
	if (s >= 0)
		close(s);
	free(fds);
	free(offs);
	free(buf);
	return ret;
}


int cpr_relay_init(struct cpr_relay *r, const char *who, const char *dir)
{
	memset(r, 0, sizeof(*r));
	r->who = who;
	r->dir = dir;
	r->timeout_ms = 60000;
	r->q.fd = -1;
	r->stream_fd = -1;
	r->cpr_sock = r->lcpr = r->lmain = -1;
	clock_gettime(CLOCK_MONOTONIC, &r->t0);
	if (!dir)
		return 0;
	if ((size_t)snprintf(r->cpr_path, sizeof(r->cpr_path), "%s/cpr.sock", dir) >= sizeof(r->cpr_path) ||
	    (size_t)snprintf(r->main_path, sizeof(r->main_path), "%s/main.sock", dir) >= sizeof(r->main_path) ||
	    (size_t)snprintf(r->stream_path, sizeof(r->stream_path), "%s/stream", dir) >= sizeof(r->stream_path))
		return -ENAMETOOLONG;
	return 0;
}

void cpr_relay_free(struct cpr_relay *r)
{
	close_channels(r);
	kho_qmp_close(&r->q);
	kho_cpr_state_free(&r->st);
	free(r->raw);
	r->raw = NULL;
	if (r->stream_fd >= 0)
		close(r->stream_fd);
	r->stream_fd = -1;
}

int cpr_relay_snapshot(struct cpr_relay *r, struct kho_journal_snapshot *snap,
		       struct kho_handoff_qemu *q)
{
	unsigned int n = r->st.nr_fds, i;
	struct kho_memfd m;
	char name[128];
	struct stat sb;
	int in = -1, out = -1, fd, seals, ret, *grown;
	uint64_t copied = 0;

	memset(q, 0, sizeof(*q));
	grown = realloc(snap->memfd_fds, (snap->nr_fds + n + 2) * sizeof(int));
	if (!grown)
		goto nomem;
	snap->memfd_fds = grown;
	q->fd_tokens = calloc(n + 1, sizeof(uint64_t));
	q->cpr_state = malloc(r->raw_len);
	if (!q->fd_tokens || !q->cpr_state)
		goto nomem;
	snprintf(q->name, sizeof(q->name), "%s", r->qmp);
	memcpy(q->cpr_state, r->raw, r->raw_len);
	q->cpr_state_len = r->raw_len;
	q->nr_fd_tokens = n;
	for (i = 0; i <= n; i++) {
		memset(&m, 0, sizeof(m));
		m.token = KHO_LUO_CPR_TOKEN_BASE + snap->nr_fds;
		if (i < n) {
			fd = fcntl(r->st.fds[i].fd, F_DUPFD_CLOEXEC, 0);
			kho_text_escape(name, sizeof(name), r->st.fds[i].name);
			snprintf(m.name, sizeof(m.name), "qemu-cpr %.54s", name);
			q->fd_tokens[i] = m.token;
		} else {
			/* The stream, in a memfd: LUO carries nothing else. */
			fd = memfd_create("kho-cpr-stream", MFD_CLOEXEC);
			snprintf(m.name, sizeof(m.name), "qemu-cpr stream");
			q->stream_token = m.token;
			q->stream_length = r->stream_len;
			in = fd < 0 ? -1 : open(r->stream_path, O_RDONLY | O_CLOEXEC);
			if (in >= 0) {
				out = fd;
				ret = kho_cpr_recv_to_fd(in, out, r->stream_len,
							 &copied, r->timeout_ms);
				close(in);
				if (ret || copied != r->stream_len) {
					close(fd);
					snprintf(r->err, sizeof(r->err),
						 "copy %s into a memfd: %llu of %llu bytes",
						 r->stream_path, (unsigned long long)copied,
						 (unsigned long long)r->stream_len);
					return ret ? ret : -EIO;
				}
			} else if (fd >= 0) {
				close(fd);
				fd = -1;
			}
		}
		if (fd < 0) {
			ret = -errno;
			snprintf(r->err, sizeof(r->err), "%s: %s", m.name,
				 i < n ? "dup" : "memfd for the stream");
			return ret;
		}
		snap->memfd_fds[snap->nr_fds++] = fd;
		if (fstat(fd, &sb) < 0)
			return -errno;
		m.size = sb.st_size;
		seals = fcntl(fd, F_GET_SEALS);
		m.seals = seals > 0 ? seals : 0;
		ret = kho_state_add_memfd(&snap->state, &m);
		if (ret) {
			snprintf(r->err, sizeof(r->err), "%s: memfd table", m.name);
			return ret;
		}
	}
	return 0;
nomem:
	snprintf(r->err, sizeof(r->err), "out of memory");
	return -ENOMEM;
}

/* The agent's offer, taken without acknowledging it yet. */
static int agent_offer(struct cpr_relay *r, const char *path,
		       struct kho_adopt_set *set)
{
	struct kho_adopt_token token;
	struct kho_diag diag = { "" };
	int fd, err;

	fd = kho_unix_connect(path, SOCK_SEQPACKET);
	if (fd == -ENAMETOOLONG) {
		snprintf(r->err, sizeof(r->err), "%s: path too long", path);
		return fd;
	}
	if (fd < 0) {
		snprintf(r->err, sizeof(r->err), "%s (is the restore-agent serving?)", path);
		return fd;
	}
	/*
	 * cpr-relay is the QEMU's launcher here (root): it reads the token
	 * the agent issued and presents it.  No token file: an agent run
	 * with --no-token, which then checks the uid alone.
	 */
	err = kho_adopt_token_read(KHO_ADOPT_TOKEN_FILE, &token, &diag);
	if (err && err != -ENOENT) {
		snprintf(r->err, sizeof(r->err), "%s", diag.msg);
		close(fd);
		return err;
	}
	err = kho_adopt_request(fd, err ? NULL : &token, set, &diag);
	if (err) {
		snprintf(r->err, sizeof(r->err), "%s", diag.msg);
		close(fd);
		return err;
	}
	return fd;
}

static int find_token(const struct kho_adopt_set *set, uint64_t token)
{
	size_t i;

	for (i = 0; i < set->nr_memfd; i++)
		if (set->memfd[i].token == token)
			return set->memfd[i].fd;
	return -1;
}

/*
 * The QEMUs of this boot's hand-off already given to a new QEMU, one
 * vmm-name a line after this boot's id: each --restore takes one QEMU, and
 * the agent may finish the session only once every QEMU has been taken;
 * a QEMU restored twice would run one guest in two processes on the same
 * RAM.  Keyed by the boot id, since every kexec brings a new hand-off.
 */
#define RESTORED_FILE KHO_RUN_DIR "/qemu-cpr-restored"
#define BOOT_ID_FILE "/proc/sys/kernel/random/boot_id"

/* The record's names ("" if none this boot), NUL-terminated; free it. */
static char *restored_read(void)
{
	void *raw = NULL, *id = NULL;
	size_t len = 0, idlen = 0;
	char *text;

	if (kho_read_file(RESTORED_FILE, &raw, &len) ||
	    kho_read_file(BOOT_ID_FILE, &id, &idlen) ||
	    len < idlen || memcmp(raw, id, idlen)) {
		free(raw);
		free(id);
		return strdup("");
	}
	text = strndup((char *)raw + idlen, len - idlen);
	free(raw);
	free(id);
	return text;
}

static bool restored_has(const char *names, const char *name)
{
	size_t n = strlen(name);
	const char *p;

	for (p = names; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, name, n) && p[n] == '\n')
			return true;
	return false;
}

/* Appends @name to the record (written whole: a reader never sees half). */
static int restored_add(const char *names, const char *name)
{
	struct kho_diag diag = { "" };
	void *id = NULL;
	size_t idlen = 0, len;
	char *buf;
	int err;

	err = kho_read_file(BOOT_ID_FILE, &id, &idlen);
	if (err)
		return err;
	len = idlen + strlen(names) + strlen(name) + 1;
	buf = malloc(len + 1);
	if (!buf) {
		free(id);
		return -ENOMEM;
	}
	memcpy(buf, id, idlen);
	snprintf(buf + idlen, len + 1 - idlen, "%s%s\n", names, name);
	mkdir(KHO_RUN_DIR, 0700);
	err = kho_write_file(RESTORED_FILE, buf, len, 0600, &diag);
	free(buf);
	free(id);
	return err;
}

/*
 * --restores may run at once, one per QEMU (a host's units start them
 * together, and the guests' blackouts should not queue behind each
 * other).  Two locks keep them apart:
 * - the claim, one lock file per QEMU of the hand-off, held for the whole
 *   restore: a second --restore of the same QEMU is refused while the
 *   first runs, and a killed --restore's claim dies with it;
 * - the record's lock, held only to read the record and choose the QEMU,
 *   and at the end to add the QEMU, decide whether it was the last and
 *   answer the agent.  Without it two finishing at once would each count
 *   the other as pending: neither would end the session, the record
 *   would keep one name, and a later --restore of the other QEMU would
 *   not be refused.
 */
#define RESTORE_LOCK "qemu-cpr-restore.lock"
#define CLAIM_NAME_MAX 40

/* The record's lock fd, waiting up to --timeout; or -errno, r->err why. */
static int record_lock(struct cpr_relay *r, int dirfd)
{
	struct kho_diag diag = { "" };
	bool said = false;
	pid_t holder = 0;
	int fd, ms = 0;
	char msg[160];

	while ((fd = kho_rundir_lock(dirfd, RESTORE_LOCK, &holder, &diag)) == -EBUSY &&
	       ms < r->timeout_ms) {
		if (!said) {
			snprintf(msg, sizeof(msg), "waiting for pid %d, another --restore, to update the record (%s)",
				 (int)holder, RESTORE_LOCK);
			step(r, msg);
			said = true;
		}
		usleep(10000);
		ms += 10;
	}
	if (fd == -EBUSY)
		snprintf(r->err, sizeof(r->err), "pid %d, another --restore, held %s/%s for all of --timeout",
			 (int)holder, KHO_RUN_DIR, RESTORE_LOCK);
	else if (fd < 0)
		snprintf(r->err, sizeof(r->err), "%s", diag.msg);
	return fd;
}

/* The claim's lock file for the @k-th QEMU of the hand-off. */
static void claim_name(char *name, size_t k)
{
	snprintf(name, CLAIM_NAME_MAX, "qemu-cpr-restore-%zu.lock", k);
}

/* The claim's fd; -EBUSY if another --restore holds it (r->err names it). */
static int claim(struct cpr_relay *r, int dirfd, size_t k, const char *qemu)
{
	struct kho_diag diag = { "" };
	char name[CLAIM_NAME_MAX];
	pid_t holder = 0;
	int fd;

	claim_name(name, k);
	fd = kho_rundir_lock(dirfd, name, &holder, &diag);
	if (fd == -EBUSY)
		snprintf(r->err, sizeof(r->err), "pid %d, another --restore, is restoring %s now (%s/%s)",
			 (int)holder, qemu, KHO_RUN_DIR, name);
	else if (fd < 0)
		snprintf(r->err, sizeof(r->err), "%s", diag.msg);
	return fd;
}

/*
 * After the kexec: the memfds from the agent, named by the hand-off's
 * qemu-cpr node, to the new QEMU.  The agent is acknowledged only once
 * the new QEMU has the state and the whole stream; before that a failure
 * answers it with the error, and it keeps holding the session.
 */
static int relay_restore(struct cpr_relay *r, const char *handoff,
			 const char *agent, const char *vmm)
{
	struct iommu_ioas_change_process cp = { .size = sizeof(cp) };
	const char *inject = getenv("KHO_CPR_FAIL_AT");
	struct kho_diag diag = { "" };
	struct kho_adopt_set set;
	struct kho_handoff h;
	const struct kho_handoff_qemu *q = NULL;
	const char *stepname = "hand-off";
	char msg[768], others[512] = "", ack[128];
	char *done = NULL;
	void *blob = NULL;
	size_t len, k, pending = 0;
	int *fds = NULL, afd = -1, ret, run_fd = -1, lock_fd = -1, claim_fd = -1;
	char claimed[CLAIM_NAME_MAX] = "";

	kho_handoff_init(&h);
	kho_adopt_set_init(&set);
	ret = kho_read_file(handoff, &blob, &len);
	if (ret) {
		snprintf(r->err, sizeof(r->err), "%s", handoff);
		goto fail;
	}
	ret = kho_handoff_decode(blob, len, &h, &diag);
	if (ret) {
		snprintf(r->err, sizeof(r->err), "%s: %s", handoff, diag.msg);
		goto fail;
	}
	if (!h.nr_qemu) {
		snprintf(r->err, sizeof(r->err),
			 "%s carries no QEMU (no qemu-cpr node: the upgrade was run without --qemu-qmp)",
			 handoff);
		ret = -ENOENT;
		goto fail;
	}
	stepname = "lock";
	run_fd = kho_rundir_open(KHO_RUN_DIR, &diag);
	if (run_fd < 0) {
		snprintf(r->err, sizeof(r->err), "%s", diag.msg);
		ret = run_fd;
		goto fail;
	}
	lock_fd = record_lock(r, run_fd);
	if (lock_fd < 0) {
		ret = lock_fd;
		goto fail;
	}
	/* Which QEMU: --vmm, or the only one not restored yet this boot. */
	stepname = "choose the QEMU";
	done = restored_read();
	if (!done) {
		ret = -ENOMEM;
		goto fail;
	}
	for (k = 0; k < h.nr_qemu; k++) {
		if (vmm && !strcmp(vmm, h.qemu[k].name))
			q = &h.qemu[k];
		if (restored_has(done, h.qemu[k].name))
			continue;
		pending++;
		if (!vmm)
			q = &h.qemu[k];
	}
	ret = -EINVAL;
	if (vmm && !q) {
		snprintf(r->err, sizeof(r->err), "--vmm %.200s: %s carries no such QEMU (%zu: %.200s%s)",
			 vmm, handoff, h.nr_qemu, h.qemu[0].name,
			 h.nr_qemu > 1 ? ", ..." : "");
		goto fail;
	}
	if (q)
		r->qmp = q->name;
	if (q && restored_has(done, q->name)) {
		snprintf(r->err, sizeof(r->err),
			 "%s was given to a new QEMU already (%s): a second would run the guest twice on the same RAM",
			 q->name, RESTORED_FILE);
		ret = -EALREADY;
		goto fail;
	}
	if (!pending) {
		snprintf(r->err, sizeof(r->err), "every QEMU of %s was restored already (%s)",
			 handoff, RESTORED_FILE);
		ret = -EALREADY;
		goto fail;
	}
	if (!vmm && pending > 1) {
		snprintf(r->err, sizeof(r->err), "%s carries %zu QEMUs not restored yet: name one with --vmm (its QMP socket before the kexec)",
			 handoff, pending);
		goto fail;
	}
	r->qmp = q->name;
	stepname = "claim the QEMU";
	claim_fd = claim(r, run_fd, (size_t)(q - h.qemu), q->name);
	if (claim_fd < 0) {
		ret = claim_fd;
		goto fail;
	}
	claim_name(claimed, (size_t)(q - h.qemu));
	/* Claimed: the other QEMUs' --restores may run beside this one. */
	kho_rundir_unlock(run_fd, RESTORE_LOCK, lock_fd);
	lock_fd = -1;
	snprintf(msg, sizeof(msg), "hand-off: QEMU %s (%zu of %zu), CPR state %zu bytes, %zu fds, stream %llu bytes",
		 q->name, (size_t)(q - h.qemu) + 1, h.nr_qemu, q->cpr_state_len,
		 q->nr_fd_tokens, (unsigned long long)q->stream_length);
	step(r, msg);
	stepname = "restore-agent";
	ret = agent_offer(r, agent, &set);
	if (ret < 0)
		goto fail;
	afd = ret;
	snprintf(msg, sizeof(msg), "restore-agent offered %zu memfds", set.nr_memfd);
	step(r, msg);
	/* The agent's pinned-page accounting (none without an IOAS) is ours. */
	if (set.iommufd >= 0 &&
	    ioctl(set.iommufd, IOMMU_IOAS_CHANGE_PROCESS, &cp) < 0) {
		ret = -errno;
		snprintf(r->err, sizeof(r->err), "IOMMU_IOAS_CHANGE_PROCESS");
		goto fail;
	}
	stepname = "descriptors";
	fds = calloc(q->nr_fd_tokens + 1, sizeof(*fds));
	if (!fds) {
		ret = -ENOMEM;
		goto fail;
	}
	for (k = 0; k < q->nr_fd_tokens; k++)
		fds[k] = -1;
	for (k = 0; k < q->nr_fd_tokens; k++) {
		int fd = find_token(&set, q->fd_tokens[k]);

		if (fd < 0 || (fds[k] = fcntl(fd, F_DUPFD_CLOEXEC, 0)) < 0) {
			ret = fd < 0 ? -ENOENT : -errno;
			snprintf(r->err, sizeof(r->err),
				 "fd %zu: memfd token %llu: %s", k,
				 (unsigned long long)q->fd_tokens[k],
				 fd < 0 ? "the restore-agent does not offer it" : "dup");
			goto fail;
		}
	}
	ret = kho_cpr_state_parse(q->cpr_state, q->cpr_state_len, fds,
				  q->nr_fd_tokens, &r->st, r->err,
				  sizeof(r->err));
	if (ret)
		goto fail;
	/* The state owns them now. */
	for (k = 0; k < q->nr_fd_tokens; k++)
		fds[k] = -1;
	ret = find_token(&set, q->stream_token);
	if (ret < 0 || (r->stream_fd = fcntl(ret, F_DUPFD_CLOEXEC, 0)) < 0) {
		snprintf(r->err, sizeof(r->err), "stream memfd token %llu: %s",
			 (unsigned long long)q->stream_token,
			 ret < 0 ? "the restore-agent does not offer it" : "dup");
		ret = ret < 0 ? -ENOENT : -errno;
		goto fail;
	}
	if (inject && !strcmp(inject, "restore")) {
		snprintf(r->err, sizeof(r->err), "injected (KHO_CPR_FAIL_AT=restore)");
		ret = -ECANCELED;
		goto fail;
	}
	ret = cpr_relay_send(r);
	if (ret) {
		/* cpr_relay_send() said why; the agent keeps the memfds. */
		snprintf(ack, sizeof(ack), "cpr-relay --restore: the new QEMU did not take %.60s", q->name);
		kho_adopt_ack(afd, ret, ack);
		fprintf(stderr, "%s: the restore-agent keeps holding the guest's memfds: start the new QEMU again and rerun --restore --vmm %s\n",
			r->who, q->name);
		goto out;
	}
	/*
	 * The record again, fresh and under its lock: the QEMUs restored
	 * beside this one since it was read are not pending any more.
	 */
	stepname = "record";
	lock_fd = record_lock(r, run_fd);
	free(done);
	done = NULL;
	if (lock_fd >= 0) {
		done = restored_read();
		if (!done)
			snprintf(r->err, sizeof(r->err), "out of memory");
	}
	if (!done) {
		/*
		 * The new QEMU runs the guest already: never "rerun
		 * --restore", and the agent keeps the session.
		 */
		ret = lock_fd < 0 ? lock_fd : -ENOMEM;
		snprintf(ack, sizeof(ack), "cpr-relay --restore: %.60s restored, the record not updated", q->name);
		kho_adopt_ack(afd, -EAGAIN, ack);
		fprintf(stderr, "%s: record: %s: %s runs in its new QEMU, but %s does not say so: do not restore it again\n",
			r->who, r->err, q->name, RESTORED_FILE);
		goto out;
	}
	pending = 0;
	for (k = 0; k < h.nr_qemu; k++)
		if (&h.qemu[k] != q && !restored_has(done, h.qemu[k].name))
			pending++;
	ret = restored_add(done, q->name);
	if (ret)
		fprintf(stderr, "%s: warning: %s: %s: nothing will stop a second --restore of %s\n",
			r->who, RESTORED_FILE, strerror(-ret), q->name);
	stepname = "acknowledge";
	if (pending) {
		/* Not finished: the agent keeps the session for the others. */
		for (k = 0; k < h.nr_qemu; k++)
			if (&h.qemu[k] != q && !restored_has(done, h.qemu[k].name))
				snprintf(others + strlen(others), sizeof(others) - strlen(others),
					 "%s%s", others[0] ? ", " : "", h.qemu[k].name);
		snprintf(ack, sizeof(ack), "cpr-relay --restore: %zu more QEMU%s to restore",
			 pending, pending > 1 ? "s" : "");
		ret = kho_adopt_ack(afd, -EAGAIN, ack);
		snprintf(msg, sizeof(msg), "done: the new QEMU has the descriptors and the stream; the restore-agent keeps the session for %zu more: %s",
			 pending, others);
	} else {
		ret = kho_adopt_ack(afd, 0, "adopted by kho-tool cpr-relay --restore");
		snprintf(msg, sizeof(msg), "done: the new QEMU has the descriptors and the stream; %s",
			 h.nr_qemu > 1 ? "every QEMU of the hand-off is restored, the restore-agent finishes the session" :
			 "the restore-agent finishes the session");
	}
	if (ret) {
		/*
		 * The new QEMU runs the guest and the record says so: the
		 * agent missed only the answer (it stopped waiting, or died).
		 * Never "rerun --restore" here.
		 */
		fprintf(stderr, "%s: acknowledge: answering %s to %s: %s: %s runs in its new QEMU and %s says so, but the restore-agent did not take the answer (past its deadline, or gone) and keeps holding the session: do not restore %s again\n",
			r->who, pending ? "-EAGAIN" : "0", agent,
			strerror(-ret), q->name, RESTORED_FILE, q->name);
		goto out;
	}
	step(r, msg);
	goto out;
fail:
	relay_fail(r, stepname, ret);
	if (afd >= 0) {
		kho_adopt_ack(afd, ret < 0 ? ret : -EIO, r->err);
		fprintf(stderr, "%s: the restore-agent keeps holding the guest's memfds: rerun --restore%s%s\n",
			r->who, q ? " --vmm " : "", q ? q->name : "");
	}
out:
	if (fds)
		for (k = 0; k < q->nr_fd_tokens && h.nr_qemu; k++)
			if (fds[k] >= 0)
				close(fds[k]);
	free(fds);
	if (afd >= 0)
		close(afd);
	kho_adopt_set_free(&set, 1);
	kho_handoff_free(&h);
	free(blob);
	free(done);
	if (run_fd >= 0) {
		if (lock_fd >= 0)
			kho_rundir_unlock(run_fd, RESTORE_LOCK, lock_fd);
		if (claim_fd >= 0)
			kho_rundir_unlock(run_fd, claimed, claim_fd);
		close(run_fd);
	}
	return ret;
}

int cmd_cpr_relay(int argc, char **argv)
{
	const char *timeout = NULL, *qmp = NULL, *dir = NULL, *to_cpr = NULL,
		   *to_main = NULL, *handoff = NULL, *agent = NULL, *vmm = NULL;
	bool keep_source = false, kexec_safe = false, restore = false;
	struct cpr_relay *r;
	char *end;
	long t;
	int ret;

	{
		const struct arg_opt opts[] = {
			{ "qmp", 0, ARG_STRING, &qmp },
			{ "dir", 0, ARG_STRING, &dir },
			{ "to-cpr", 0, ARG_STRING, &to_cpr },
			{ "to-main", 0, ARG_STRING, &to_main },
			{ "timeout", 0, ARG_STRING, &timeout },
			{ "keep-source", 0, ARG_FLAG, &keep_source },
			{ "kexec-safe", 0, ARG_FLAG, &kexec_safe },
			{ "restore", 0, ARG_FLAG, &restore },
			{ "handoff", 0, ARG_STRING, &handoff },
			{ "agent", 0, ARG_STRING, &agent },
			{ "vmm", 0, ARG_STRING, &vmm },
			{ NULL },
		};

		ret = parse_args("cpr-relay", argc, argv, opts, 0, usage);
		if (ret >= 0)
			return ret;
	}
	r = calloc(1, sizeof(*r));
	if (!r)
		return KHO_EXIT_FAILED;
	if (cpr_relay_init(r, "cpr-relay", restore ? NULL : dir)) {
		free(r);
		return usage(stderr, KHO_EXIT_USAGE);
	}
	r->qmp = qmp;
	r->to_cpr = to_cpr;
	r->to_main = to_main;
	r->keep_source = keep_source;
	r->kexec_safe = kexec_safe;
	if (timeout) {
		t = strtol(timeout, &end, 10);
		if (*end || t <= 0 || t > 3600) {
			fprintf(stderr, "kho-tool cpr-relay: --timeout '%s': not 1..3600 seconds\n",
				timeout);
			free(r);
			return usage(stderr, KHO_EXIT_USAGE);
		}
		r->timeout_ms = t * 1000;
	}
	if (restore ? (qmp || dir || keep_source || kexec_safe || !to_cpr || !to_main) :
		      (handoff || agent || vmm || !qmp || !dir || !to_cpr || !to_main)) {
		free(r);
		return usage(stderr, KHO_EXIT_USAGE);
	}
	if (restore) {
		ret = relay_restore(r, handoff ? handoff : KHO_RUN_DIR "/handoff.fdt",
				    agent ? agent : KHO_ADOPT_SOCK, vmm);
		cpr_relay_free(r);
		free(r);
		return ret ? KHO_EXIT_FAILED : KHO_EXIT_OK;
	}
	ret = cpr_relay_receive(r);
	if (ret && r->source_stopped)
		cpr_relay_resume_source(r);
	if (!ret) {
		/* The source stays (stopped, its RAM shared) until the target has it all. */
		ret = cpr_relay_send(r);
		if (ret) {
			cpr_relay_resume_source(r);
		} else if (!r->keep_source) {
			qmp_quit(r);
			step(r, "source quit");
		}
	}
	if (!ret)
		step(r, "done: the new QEMU has the descriptors and the stream");
	cpr_relay_free(r);
	free(r);
	return ret ? KHO_EXIT_FAILED : KHO_EXIT_OK;
}
