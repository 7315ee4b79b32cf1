/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The two halves of kho-tool as QEMU's cpr-transfer peer
 * (docs/qemu-cpr.md), shared by `kho-tool cpr-relay` (both halves on one
 * kernel, or --restore after a kexec) and `kho-tool upgrade --qemu-qmp`
 * (the receiving half before the kexec).
 */
#ifndef KHO_TOOL_CPR_RELAY_H
#define KHO_TOOL_CPR_RELAY_H

#include <time.h>

#include "cpr_chan.h"
#include "cpr_state.h"
#include "journal_sock.h"
#include "kho.h"

struct cpr_relay {
	const char *qmp, *dir, *to_cpr, *to_main;
	const char *who;	/* prefix of its lines: "cpr-relay", "upgrade" */
	int timeout_ms;
	int keep_source;
	int kexec_safe;
	/* only memfds: what a kexec carries in this slice (upgrade) */
	int memfds_only;
	int quiet;		/* no per-step lines (upgrade --json) */
	struct kho_qmp q;
	struct kho_cpr_state st;
	uint8_t *raw;		/* the CPR state's bytes as QEMU sent them */
	size_t raw_len;
	uint64_t stream_len;
	int stream_fd;		/* the stored stream, for send_target */
	int source_stopped;	/* the source may have stopped the guest */
	/* between receive_state and receive_stream: the source waits on these */
	int cpr_sock, lcpr, lmain;
	char cpr_path[256], main_path[256], stream_path[256];
	char err[1024];
	struct timespec t0;
};

/*
 * cpr_relay_init() - defaults (timeout 60 s, fds -1) and the socket and
 * stream paths under @dir.  Return: 0, or -ENAMETOOLONG.
 */
int cpr_relay_init(struct cpr_relay *r, const char *who, const char *dir);

/*
 * cpr_relay_receive() - migrate the source QEMU at r->qmp to kho-tool in
 * cpr-transfer mode: the CPR state's fds in r->st, its bytes in r->raw,
 * the main stream in r->stream_path.  Refuses (r->kexec_safe) with the
 * guest still running, the migration cancelled.  Return: 0 with the
 * source stopped in postmigrate and its QMP connection open; or -errno,
 * the message printed, naming the step.
 */
int cpr_relay_receive(struct cpr_relay *r);

/*
 * The two halves of cpr_relay_receive(), so that `upgrade` checks every
 * QEMU's descriptors before any guest stops.
 *
 * cpr_relay_receive_state() - up to the CPR state, read and checked: the
 * guest still runs, the source waits for the cpr channel's hang-up.
 * Return: 0, or -errno (the migration cancelled, the message printed).
 *
 * cpr_relay_hangup() - hang up the cpr channel: the source migrates on
 * its main channel and stops the guest when done.  Once per relay; several
 * QEMUs hung up together stop their guests together.
 *
 * cpr_relay_receive_stream() - hang up (if not yet) and store the main
 * stream.  Return: 0, or -errno.
 *
 * cpr_relay_cancel() - after receive_state only: cancel the migration,
 * the guest never stopped.
 */
int cpr_relay_receive_state(struct cpr_relay *r);
void cpr_relay_hangup(struct cpr_relay *r);
int cpr_relay_receive_stream(struct cpr_relay *r);
void cpr_relay_cancel(struct cpr_relay *r);

/* cpr_relay_send() - the CPR state and the stream to the new QEMU. */
int cpr_relay_send(struct cpr_relay *r);

/* cpr_relay_resume_source() - `cont` the stopped source QEMU. */
void cpr_relay_resume_source(struct cpr_relay *r);

/*
 * cpr_relay_snapshot() - what cpr_relay_receive() got, as capture takes
 * it: every CPR fd, and the stream copied into one more memfd, appended
 * to @snap's memfd table (initialised by the caller) under
 * KHO_LUO_CPR_TOKEN_BASE + its index there, so that several QEMUs share
 * one table; and @q, the hand-off's qemu-cpr entry naming them (free
 * with the hand-off).
 * Return: 0, or -errno with r->err set.
 */
int cpr_relay_snapshot(struct cpr_relay *r, struct kho_journal_snapshot *snap,
		       struct kho_handoff_qemu *q);

/* cpr_relay_free() - close what the relay holds; the fds of r->st too. */
void cpr_relay_free(struct cpr_relay *r);

#endif /* KHO_TOOL_CPR_RELAY_H */
