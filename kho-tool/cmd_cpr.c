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
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "args.h"
#include "commands.h"
#include "cpr_chan.h"
#include "cpr_state.h"
#include "escape.h"

/* QEMU_VM_FILE_MAGIC and QEMU_VM_FILE_VERSION (migration/savevm.c). */
#define QEVM_MAGIC 0x5145564du
#define QEVM_VERSION 3u
#define DEFAULT_STREAM_MAX (1ULL << 30)

struct relay {
	const char *qmp, *dir, *to_cpr, *to_main;
	int timeout_ms;
	int keep_source;
	int kexec_safe;
	struct kho_qmp q;
	struct kho_cpr_state st;
	char cpr_path[256], main_path[256], stream_path[256];
	char err[1024];
	struct timespec t0;
};

static double ms_since(const struct timespec *t)
{
	struct timespec n;

	clock_gettime(CLOCK_MONOTONIC, &n);
	return (n.tv_sec - t->tv_sec) * 1e3 + (n.tv_nsec - t->tv_nsec) / 1e6;
}

static void step(struct relay *r, const char *what)
{
	printf("cpr-relay: %-9.1f ms  %s\n", ms_since(&r->t0), what);
	fflush(stdout);
}

static int usage(FILE *out, int code)
{
	fprintf(out,
		"usage: kho-tool cpr-relay --qmp SOCK --dir DIR --to-cpr PATH --to-main PATH\n"
		"                          [--timeout SEC] [--keep-source] [--kexec-safe]\n"
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
		"  KHO_CPR_FAIL_AT=cpr-state fails the relay after the CPR state arrived\n"
		"  (tests: the migration is cancelled and the guest runs on)\n");
	return code;
}

/* Fails the relay with a message naming the step and the cause. */
static int relay_fail(struct relay *r, const char *stepname, int err)
{
	fprintf(stderr, "cpr-relay: %s: %s%s%s\n", stepname, strerror(-err),
		r->err[0] ? ": " : "", r->err);
	return KHO_EXIT_FAILED;
}

static int qmp(struct relay *r, const char *cmd, char *reply, size_t len)
{
	r->err[0] = '\0';
	return kho_qmp_exec(&r->q, cmd, reply, len, r->timeout_ms, r->err,
			    sizeof(r->err));
}

/* Polls query-migrate until @want (or failed); copies the status. */
static int wait_migrate(struct relay *r, const char *want)
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
static int check_fds(struct relay *r)
{
	unsigned int i, refused = 0;
	char what[256], name[128], ewhat[128];

	for (i = 0; i < r->st.nr_fds; i++) {
		enum kho_cpr_kind k = kho_cpr_fd_kind(r->st.fds[i].fd, what,
						      sizeof(what));
		int ok = kho_cpr_kind_crosses_kexec(k);

		kho_text_escape(name, sizeof(name), r->st.fds[i].name);
		kho_text_escape(ewhat, sizeof(ewhat), what);
		printf("cpr-relay: fd %-3u %-24s id %-3d %-11s %s%s\n", i, name,
		       r->st.fds[i].id, kho_cpr_kind_name(k), ewhat,
		       ok ? "" : "  (cannot cross a kexec)");
		if (!ok) {
			if (!refused)
				snprintf(r->err, sizeof(r->err),
					 "fd '%s' id %d is %s (%s): kho-tool cannot carry it across a kexec",
					 name, r->st.fds[i].id,
					 kho_cpr_kind_name(k), ewhat);
			refused++;
		}
	}
	for (i = 0; i < r->st.nr_vfio; i++) {
		kho_text_escape(name, sizeof(name), r->st.vfio[i].name);
		printf("cpr-relay: vfio device %s: devid %d ioas %u hwpt %u\n", name,
		       r->st.vfio[i].devid, r->st.vfio[i].ioas_id,
		       r->st.vfio[i].hwpt_id);
	}
	if (r->st.tail_len) {
		kho_text_escape(name, sizeof(name), r->st.tail_name);
		printf("cpr-relay: subsection '%s', %zu bytes, carried verbatim\n",
		       name, r->st.tail_len);
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
static int check_kvm(struct relay *r)
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
 * Before the guest stops: every memory backend must be a non-hugetlb
 * memfd.  QEMU's CPR state carries no descriptor for file-backed RAM (the
 * new QEMU reopens its path), so the state alone cannot show it.
 */
static int precheck(struct relay *r)
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

static int receive(struct relay *r)
{
	const char *inject = getenv("KHO_CPR_FAIL_AT");
	char cmd[9000], reply[4096];
	uint8_t *buf = NULL;
	int *fds = NULL;
	unsigned int nr_fds = 0, i;
	size_t len = 0;
	uint64_t total = 0;
	uint8_t head[8];
	int lcpr = -1, lmain = -1, s = -1, out = -1, ret;
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
	lcpr = kho_cpr_listen(r->cpr_path);
	lmain = lcpr < 0 ? lcpr : kho_cpr_listen(r->main_path);
	if (lcpr < 0 || lmain < 0) {
		ret = lcpr < 0 ? lcpr : lmain;
		snprintf(r->err, sizeof(r->err), "%s", lcpr < 0 ? r->cpr_path : r->main_path);
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
	s = kho_cpr_accept(lcpr, r->timeout_ms);
	if (s < 0) {
		ret = s;
		goto fail;
	}
	ret = kho_cpr_recv_all(s, KHO_CPR_STATE_MAX, KHO_CPR_MAX_FDS, &buf,
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
	if (!ret && inject && !strcmp(inject, "cpr-state")) {
		snprintf(r->err, sizeof(r->err), "injected (KHO_CPR_FAIL_AT=cpr-state)");
		ret = -ECANCELED;
	}
	if (ret) {
		char why[sizeof(r->err)];

		/* The guest still runs: the source waits for our HUP. */
		memcpy(why, r->err, sizeof(why));
		if (qmp(r, "{\"execute\":\"migrate_cancel\"}", NULL, 0) ||
		    wait_migrate(r, "cancelled"))
			fprintf(stderr, "cpr-relay: cancelling the migration failed: %s\n",
				r->err);
		else
			fprintf(stderr, "cpr-relay: migration cancelled, the guest keeps running\n");
		memcpy(r->err, why, sizeof(why));
		goto fail;
	}
	/* Closing the cpr channel is the source's cue to start the main one. */
	close(s);
	s = -1;
	stepname = "main channel";
	s = kho_cpr_accept(lmain, r->timeout_ms);
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
	ret = 0;
	goto out;
fail:
	relay_fail(r, stepname, ret);
	kho_qmp_close(&r->q);
out:
	if (out >= 0)
		close(out);
	if (s >= 0)
		close(s);
	if (lcpr >= 0)
		close(lcpr);
	if (lmain >= 0)
		close(lmain);
	unlink(r->cpr_path);
	unlink(r->main_path);
	free(fds);
	free(buf);
	return ret;
}

/*
 * The hand-off to the new QEMU failed before it had the whole stream, so
 * it cannot run the guest: resume it in the source, which kept its RAM.
 */
static void resume_source(struct relay *r)
{
	char reply[1024];

	if (qmp(r, "{\"execute\":\"cont\"}", NULL, 0) ||
	    qmp(r, "{\"execute\":\"query-status\"}", reply, sizeof(reply)) ||
	    !strstr(reply, "\"running\"")) {
		fprintf(stderr, "cpr-relay: resuming the guest in the source failed: %s\n",
			r->err);
		return;
	}
	fprintf(stderr, "cpr-relay: the guest resumed in the source QEMU\n");
}

static int send_target(struct relay *r)
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
	in = open(r->stream_path, O_RDONLY | O_CLOEXEC);
	if (in < 0) {
		ret = -errno;
		snprintf(r->err, sizeof(r->err), "%s", r->stream_path);
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

int cmd_cpr_relay(int argc, char **argv)
{
	const char *timeout = NULL;
	bool keep_source = false, kexec_safe = false;
	struct relay *r;
	char *end;
	long t;
	int ret;

	r = calloc(1, sizeof(*r));
	if (!r)
		return KHO_EXIT_FAILED;
	{
		const struct arg_opt opts[] = {
			{ "qmp", 0, ARG_STRING, &r->qmp },
			{ "dir", 0, ARG_STRING, &r->dir },
			{ "to-cpr", 0, ARG_STRING, &r->to_cpr },
			{ "to-main", 0, ARG_STRING, &r->to_main },
			{ "timeout", 0, ARG_STRING, &timeout },
			{ "keep-source", 0, ARG_FLAG, &keep_source },
			{ "kexec-safe", 0, ARG_FLAG, &kexec_safe },
			{ NULL },
		};

		ret = parse_args("cpr-relay", argc, argv, opts, 0, usage);
		if (ret >= 0) {
			free(r);
			return ret;
		}
	}
	r->keep_source = keep_source;
	r->kexec_safe = kexec_safe;
	r->timeout_ms = 60000;
	r->q.fd = -1;
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
	if (!r->qmp || !r->dir || !r->to_cpr || !r->to_main) {
		free(r);
		return usage(stderr, KHO_EXIT_USAGE);
	}
	if ((size_t)snprintf(r->cpr_path, sizeof(r->cpr_path), "%s/cpr.sock", r->dir) >= sizeof(r->cpr_path) ||
	    (size_t)snprintf(r->main_path, sizeof(r->main_path), "%s/main.sock", r->dir) >= sizeof(r->main_path) ||
	    (size_t)snprintf(r->stream_path, sizeof(r->stream_path), "%s/stream", r->dir) >= sizeof(r->stream_path)) {
		free(r);
		return usage(stderr, KHO_EXIT_USAGE);
	}
	clock_gettime(CLOCK_MONOTONIC, &r->t0);
	ret = receive(r);
	if (!ret) {
		/* The source stays (stopped, its RAM shared) until the target has it all. */
		ret = send_target(r);
		if (ret) {
			resume_source(r);
		} else if (!r->keep_source) {
			qmp(r, "{\"execute\":\"quit\"}", NULL, 0);
			step(r, "source quit");
		}
	}
	if (!ret)
		step(r, "done: the new QEMU has the descriptors and the stream");
	kho_qmp_close(&r->q);
	kho_cpr_state_free(&r->st);
	free(r);
	return ret ? KHO_EXIT_FAILED : KHO_EXIT_OK;
}
