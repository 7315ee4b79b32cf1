// SPDX-License-Identifier: GPL-2.0
/* The agent's log and timeline: console, kmsg, restore.log and JSON. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "escape.h"
#include "file.h"
#include "handoff.h"
#include "luo.h"

static struct agent_step steps[AGENT_MAX_STEPS];
static unsigned int nr_steps;
static uint64_t t_start;
/* stderr copies of the lines logged while held; see agent_log_hold(). */
static char held[8192];
static size_t held_len;
static int holding;
/* The last step done, in memory the keeper shares (agent_share_steps()). */
static char last_step_local[24] = "start";
static char *last_step = last_step_local;

uint64_t agent_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void append_file(const char *path, const char *line)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);

	if (fd < 0)
		return;
	if (write(fd, line, strlen(line)) < 0) {
		/* The console copy is the one that counts; nothing to add. */
	}
	close(fd);
}

void agent_log(int err, const char *fmt, ...)
{
	char msg[768], line[840];
	va_list ap;
	int fd;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(line, sizeof(line), "restore-agent: %s%s\n",
		 err ? "error: " : "", msg);
	if (holding && !err && held_len + strlen(line) < sizeof(held)) {
		memcpy(held + held_len, line, strlen(line));
		held_len += strlen(line);
	} else {
		agent_log_hold(holding);
		fputs(line, stderr);
	}
	append_file(agent_path(KHO_RUN_DIR "/restore.log"), line);
	/* Errors also go to the kernel log: it survives a dead console. */
	if (err) {
		fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);
		if (fd >= 0) {
			snprintf(line, sizeof(line), "<3>restore-agent: %s\n",
				 msg);
			if (write(fd, line, strlen(line)) < 0) {
				/* Already on stderr and in restore.log. */
			}
			close(fd);
		}
	}
}

void agent_log_hold(int hold)
{
	/* Flushed first, so that the console keeps the lines in order. */
	if (held_len)
		fwrite(held, 1, held_len, stderr);
	held_len = 0;
	holding = hold;
}

static int notify_fd = -1;

void agent_notify_fd(int fd)
{
	if (notify_fd >= 0 && notify_fd != fd)
		close(notify_fd);
	notify_fd = fd;
}

void agent_status(const char *fmt, ...)
{
	struct kho_diag diag = { "" };
	char buf[640];
	va_list ap;
	int err;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	strcat(buf, "\n");
	/* Written whole and renamed: the hook never reads half a status. */
	err = agent_write_file(KHO_RUN_DIR "/agent.status", buf, strlen(buf),
			       0644, &diag);
	if (err)
		agent_log(err, "status \"%.*s\": %s (%s)",
			  (int)strcspn(buf, "\n"), buf, diag.msg,
			  kho_errno_name(err));
	/*
	 * The first status past "running" ends the hook's wait: written once
	 * and closed, as s6's notification-fd, so the hook blocks on it
	 * instead of polling (each poll was up to 100 ms of blackout).
	 * SIGPIPE is ignored: a hook that gave up only costs EPIPE.
	 */
	if (notify_fd >= 0 && strncmp(buf, "running", 7)) {
		if (write(notify_fd, buf, strlen(buf)) < 0) {
			/* the hook stopped waiting: the status file has it */
		}
		close(notify_fd);
		notify_fd = -1;
	}
}

void agent_timeline_start(void)
{
	t_start = agent_now_ns();
	nr_steps = 0;
}

void agent_step_done(const char *name, uint64_t t0, int err,
		     const char *detail)
{
	struct agent_step *s;

	if (nr_steps == AGENT_MAX_STEPS)
		return;
	s = &steps[nr_steps++];
	snprintf(s->name, sizeof(s->name), "%s", name);
	snprintf(last_step, sizeof(last_step_local), "%s", name);
	agent_note_signals();
	snprintf(s->detail, sizeof(s->detail), "%s", detail ? detail : "");
	s->start_ns = t0 - t_start;
	s->ns = agent_now_ns() - t0;
	s->err = err;
	agent_log(0, "step %-10s %9.3f ms  %s%s%s", name, s->ns / 1e6,
		  err ? kho_errno_name(err) : "ok", s->detail[0] ? ": " : "",
		  s->detail);
}

void agent_share_steps(void)
{
	char *p = mmap(NULL, sizeof(last_step_local), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return;
	memcpy(p, last_step, sizeof(last_step_local));
	last_step = p;
}

const char *agent_last_step(void)
{
	return last_step;
}

void agent_block_termination(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
}

void agent_note_signals(void)
{
	static const int sigs[] = { SIGTERM, SIGHUP, SIGINT };
	static const char *const names[] = { "SIGTERM", "SIGHUP", "SIGINT" };
	static int noted;
	sigset_t pending;
	unsigned int i;

	if (sigpending(&pending))
		return;
	for (i = 0; i < 3; i++) {
		if (!sigismember(&pending, sigs[i]) || (noted & (1 << i)))
			continue;
		noted |= 1 << i;
		agent_log(0, "%s received by pid %d: deferred: the agent holds session '%s' until a VMM adopts it, and ending now would finish the session and lose the guest RAM; it exits once the session is finished or handed on",
			  names[i], (int)getpid(), KHO_LUO_SESSION);
	}
}

uint64_t agent_timeline_total_ns(void)
{
	uint64_t end = 0;
	unsigned int i;

	for (i = 0; i < nr_steps; i++)
		if (steps[i].start_ns + steps[i].ns > end)
			end = steps[i].start_ns + steps[i].ns;
	return end;
}

void agent_timeline_json(FILE *f, const char *result)
{
	unsigned int i;

	fprintf(f, "{\"result\":");
	kho_json_str(f, result);
	fprintf(f, ",\"total_ms\":%.3f,\"steps\":[",
		agent_timeline_total_ns() / 1e6);
	for (i = 0; i < nr_steps; i++) {
		fprintf(f, "%s{\"step\":", i ? "," : "");
		kho_json_str(f, steps[i].name);
		fprintf(f, ",\"start_ms\":%.3f,\"ms\":%.3f,\"errno\":",
			steps[i].start_ns / 1e6, steps[i].ns / 1e6);
		kho_json_str(f, steps[i].err ? kho_errno_name(steps[i].err) : "");
		fprintf(f, ",\"detail\":");
		kho_json_str(f, steps[i].detail);
		fputc('}', f);
	}
	fprintf(f, "]}\n");
}

void agent_timeline_save(const char *result)
{
	struct kho_diag diag = { "" };
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int err;

	if (!f) {
		agent_log(-errno, "timeline.json: %s", kho_errno_name(-errno));
		return;
	}
	agent_timeline_json(f, result);
	if (fclose(f)) {
		agent_log(-ENOMEM, "timeline.json: out of memory");
		free(buf);
		return;
	}
	err = agent_write_file(KHO_RUN_DIR "/timeline.json", buf, len, 0600,
			       &diag);
	if (err)
		agent_log(err, "%s (%s)", diag.msg, kho_errno_name(err));
	free(buf);
}
