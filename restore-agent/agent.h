/* SPDX-License-Identifier: GPL-2.0 */
/* The restore-agent's internal interface: logging, status and timeline. */
#ifndef KHO_AGENT_H
#define KHO_AGENT_H

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "journal_sock.h"
#include "replay.h"
#include "rundir.h"

#define AGENT_MAX_STEPS 32
/* Where a failed agent waits for a retrying one to take the session. */
#define AGENT_HELD_SOCK KHO_RUN_DIR "/agent-held.sock"
/* How often a held or serving agent retries a socket /run refused. */
#define AGENT_LISTEN_RETRY_MS 1000

struct agent_step {
	char name[24];
	char detail[256];
	uint64_t start_ns;	/* since agent_timeline_start() */
	uint64_t ns;
	int err;
};

/*
 * agent_enter_run_dir() - work from KHO_RUN_DIR, so that the agent's files
 * stay reachable after the initrd moves /run onto the real root and
 * switches to it (rundir.c).
 *
 * Return: 0, or the -errno of chdir(2): paths stay absolute then.
 */
int agent_enter_run_dir(void);
/*
 * agent_path() - @path as the agent must use it: relative to its working
 * directory when @path is in KHO_RUN_DIR and the agent works from there;
 * else @path itself.  Messages keep naming @path.
 */
const char *agent_path(const char *path);
/*
 * agent_write_file() - kho_write_file() of @path through agent_path():
 * the messages name @path itself.
 */
int agent_write_file(const char *path, const void *buf, size_t len,
		     mode_t mode, struct kho_diag *diag);
/* agent_listen() - kho_adopt_listen() of @path, the same way. */
int agent_listen(const char *path, struct kho_diag *diag);

uint64_t agent_now_ns(void);
/* A line on stderr and in restore.log; errors (err != 0) also in kmsg. */
void agent_log(int err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/*
 * While @hold, lines go to restore.log only and their stderr copies wait;
 * releasing the hold writes them.  Errors are never held.
 */
void agent_log_hold(int hold);
/*
 * Where the first status past "running" is also written (then closed);
 * -1 closes the one set before.
 */
void agent_notify_fd(int fd);

/* Replaces KHO_RUN_DIR/agent.status, read by the initramfs hook. */
void agent_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

void agent_timeline_start(void);
/* Records step @name begun at @t0 (agent_now_ns()) and logs it. */
void agent_step_done(const char *name, uint64_t t0, int err,
		     const char *detail);
uint64_t agent_timeline_total_ns(void);
void agent_timeline_json(FILE *f, const char *result);
/* Writes KHO_RUN_DIR/timeline.json. */
void agent_timeline_save(const char *result);

/*
 * agent_salvage() - copy every guest-RAM memfd @s records to
 * @dir/ram-<token hex>.raw (complete or absent: written as .part, fsync'ed
 * and renamed) and list them in @dir/manifest; *@bytes: bytes saved.
 *
 * Return: 0; -ENOENT (a memfd was not retrieved); -ENOMEM; the errno of
 * a failed read, write or fsync.  diag names the memfd, the file, the
 * step and the cause.
 */
int agent_salvage(const struct kho_state *s,
		  const struct kho_replay_memfd *memfds, size_t nr_memfds,
		  const char *dir, uint64_t *bytes, struct kho_diag *diag);

/*
 * Termination requests (SIGTERM as systemd's switch-root sends it, SIGHUP,
 * SIGINT) are blocked for the agent's whole life: it holds the only copy
 * of the guest RAM until a VMM adopts it.  agent_note_signals() logs each
 * one pending, once (agent_step_done() calls it).
 */
void agent_block_termination(void);
void agent_note_signals(void);
/* The last step agent_step_done() recorded, seen by the keeper too. */
void agent_share_steps(void);
const char *agent_last_step(void);

/*
 * The keeper (keeper.c).  Called by the keeper when the worker died of a
 * signal: hold the session and memfds (owned by the callee) for a
 * restart, naming @why; it does not return.
 */
/*
 * What the keeper holds of a kernel-verified replay's progress: the
 * restoring iommufd, each bound device (its fd open) and the ID map.
 * The kernel keeps its own progress in the iommufd; these are what a
 * restart needs to resume there (agent_keeper_share_progress()).
 */
struct agent_progress {
	int iommufd;			/* -1: none shared */
	uint64_t token;			/* the iommufd's LUO token */
	struct kho_replay_dev *dev;
	size_t nr_dev;
	struct kho_idmap idmap;
};

typedef void (*agent_orphaned_fn)(int session, int handoff_fd,
				  struct kho_replay_memfd *memfd,
				  size_t nr_memfd, struct agent_progress *p,
				  const char *why);
/*
 * agent_keeper_start() - fork: the parent becomes the keeper and never
 * returns; the child, the worker, goes on.
 * Return: 0 in the worker; -errno when no keeper could be started (the
 * agent then runs alone).
 */
int agent_keeper_start(agent_orphaned_fn orphaned);
/* pid of the keeper, 0 without one. */
pid_t agent_keeper_pid(void);
/*
 * agent_keeper_share() - give the keeper copies of the session, the
 * hand-off memfd and the guest-RAM memfds.
 * Return: 0 (also without a keeper); the errno of sendmsg.
 */
int agent_keeper_share(int session, int handoff_fd,
		       const struct kho_replay_memfd *memfd, size_t nr_memfd,
		       struct kho_diag *diag);
/*
 * agent_keeper_share_progress() - give the keeper copies of what the
 * kernel-verified replay holds now (struct agent_progress), replacing
 * the last copy.  Called after each record that changes them: a worker
 * killed halfway would otherwise take the only fds of the bound devices
 * and the only ID map with it, and the restoring iommufd, whose progress
 * the kernel keeps, could never be resumed.
 * Return: 0 (also without a keeper); -E2BIG above one message; the errno
 * of sendmsg.
 */
int agent_keeper_share_progress(const struct kho_replay *r, uint64_t token);
/* The session is finished or handed on: the keeper lets its copies go. */
void agent_keeper_finished(void);

#endif /* KHO_AGENT_H */
