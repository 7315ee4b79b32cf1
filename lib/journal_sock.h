/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The journal socket: how a recording VMM hands its journal and guest-RAM
 * memfds to `kho-tool capture`.  The recorder (LD_PRELOAD or the linked
 * API in recorder/record.h) serves it; capture fetches from it.
 *
 * Path: KHO_RUN_DIR "/vmm-<pid>.sock", a unix stream socket of mode 0600
 * (the environment variable KHO_RUN_DIR overrides the directory, for tests
 * and unprivileged VMMs; both ends check it like /run/kho-tool, see
 * kho_rundir_open()).  The server answers only peers whose uid is 0 or
 * its own (SO_PEERCRED); the client talks only to a server that is the
 * pid it asked for, running as that pid's uid.
 *
 * Protocol (version 1, host byte order: both ends run on one host): the
 * client sends struct kho_jsock_req; the server answers with one
 * struct kho_jsock_reply carrying the memfds as SCM_RIGHTS, followed by
 * msg_len bytes of message (why it refused, for people) and blob_len bytes
 * of encoded hand-off.  A refusal has status < 0; an unpreservable journal
 * is status -EOPNOTSUPP and still carries the blob (no fds), so a tool can
 * show what was recorded.
 */
#ifndef KHO_JOURNAL_SOCK_H
#define KHO_JOURNAL_SOCK_H

#include <stdint.h>
#include <sys/types.h>
#include "fdpass.h"
#include "kho.h"
#include "rundir.h"

/*
 * What a VMM hands over: its journal as recorded, the memfds it names
 * and the devices it bound.  Not a hand-off: the journal is not yet
 * compacted, and the state holds no IOAS, HWPT or mapping (capture
 * folds the journal into those).  On the socket it travels encoded as a
 * hand-off blob (kho_journal_snapshot_encode()), its journal in the
 * replay node.
 */
struct kho_journal_snapshot {
	/* the memfd table (token, size, name, seals) and the bound devices */
	struct kho_state state;
	/* canonical, as recorded; the pairs elided online are gone */
	struct kho_journal journal;
	/* the calls journaled: journal.nr + 2 x the pairs elided */
	uint64_t journal_length;
	/* set by capture: the record the journal was checked against */
	char journal_source[32];
	/* set by capture: the kernel's journal, when it keeps one */
	struct kho_handoff_iommufd iommufd;
	/* one fd per state.memfd entry, in the same order (SCM_RIGHTS) */
	int *memfd_fds;
	size_t nr_fds;
	/*
	 * The VMM that served it, checked as the socket's peer; 0 for a
	 * snapshot made in this process.  Capture takes no device claim
	 * without a VMM to prove it against (kho_capture_build()).
	 */
	pid_t pid;
};

/**
 * kho_journal_snapshot_init() - an empty snapshot
 * @snap: the snapshot; kho_journal_snapshot_free() frees what it comes to own
 */
void kho_journal_snapshot_init(struct kho_journal_snapshot *snap);

/**
 * kho_journal_snapshot_encode() - a snapshot as the socket carries it
 * @snap: the snapshot; its fds are not part of the blob
 * @blob: a malloc'd hand-off blob, the header stamped now
 *        (kho_handoff_header()), the journal in its replay node
 * @len: the blob's length
 *
 * Return: 0, or kho_handoff_encode()'s error (-EINVAL for a snapshot it
 * cannot write, -ENOMEM).
 */
int kho_journal_snapshot_encode(const struct kho_journal_snapshot *snap,
				void **blob, size_t *len);

/**
 * kho_journal_snapshot_decode() - a snapshot from the socket's blob
 * @blob: the blob
 * @len: its length
 * @snap: initialised by the call, fds none; the header is checked and
 *        dropped
 * @diag: why it did not decode
 *
 * Return: 0, or kho_handoff_decode()'s error (-EBADMSG,
 * -EPROTONOSUPPORT, -ENOMEM).
 */
int kho_journal_snapshot_decode(const void *blob, size_t len,
				struct kho_journal_snapshot *snap,
				struct kho_diag *diag);

#define KHO_JSOCK_VERSION 1
#define KHO_JSOCK_CMD_SNAPSHOT 1
#define KHO_JSOCK_MAX_FDS KHO_FDPASS_MAX
#define KHO_JSOCK_MAX_MSG 4096

struct kho_jsock_req {
	char magic[4];		/* "KHOQ" */
	uint32_t version;
	uint32_t cmd;
	uint32_t reserved;
};

struct kho_jsock_reply {
	char magic[4];		/* "KHOR" */
	uint32_t version;
	int32_t status;		/* 0 or -errno */
	uint32_t nr_fds;
	uint64_t blob_len;
	uint32_t msg_len;
	uint32_t reserved;
};

/*
 * Produces one snapshot for the server: a malloc'd encoded snapshot
 * (kho_journal_snapshot_encode()) and
 * malloc'd fds the server closes after sending.  It runs in the server
 * thread, which has an fd table of its own (kho_journal_sock_serve()):
 * a descriptor of the VMM's is reached with pidfd_getfd(@vmm_pidfd, fd).
 * @vmm_pidfd is -1 when the thread shares the VMM's table (unshare(2)
 * refused), and the VMM's numbers are valid as they are.  Returns 0,
 * -EOPNOTSUPP (unpreservable: blob set, no fds, diag says why) or
 * another -errno (diag says why).
 */
typedef int (*kho_jsock_snapshot_fn)(void *ctx, int vmm_pidfd, void **blob,
				     size_t *len, int **fds, size_t *nr_fds,
				     struct kho_diag *diag);

struct kho_jsock_server;

/**
 * kho_journal_sock_serve() - serve snapshots on this process's socket
 * @fn:   produces one snapshot per request
 * @ctx:  passed to @fn
 * @out:  out: the server, for kho_journal_sock_stop()
 * @diag: out: the path and the step that failed
 *
 * Serves from a new thread.  Opens the run directory with
 * kho_rundir_open() (created 0700 if missing; refused if a symlink, not
 * ours or writable by others), binds a temporary name in it through the
 * directory fd with the socket already fchmod'ed 0600, listens, then
 * renames it into place: no client sees a wider mode, and nothing in the
 * directory is changed by path.  The thread unshares its
 * fd table and keeps only the listening socket in it: while a second
 * thread shares the table, the kernel takes a file reference in every
 * fdget() of the VMM's ioctls, which a single-threaded VMM would not pay.
 *
 * Return: 0; -ENAMETOOLONG (the socket path); -ENOMEM; or the failing
 * call's -errno (the run directory's as kho_rundir_open(), socket(2),
 * fchmod(2), bind(2), listen(2), renameat(2), pthread_create(3)).
 */
int kho_journal_sock_serve(kho_jsock_snapshot_fn fn, void *ctx,
			   struct kho_jsock_server **out,
			   struct kho_diag *diag);

/**
 * kho_journal_sock_stop() - stop serving
 * @srv: the server; its thread is stopped, the socket unlinked (if this
 *       process made it) and @srv freed
 */
void kho_journal_sock_stop(struct kho_jsock_server *srv);

/**
 * kho_journal_sock_fd() - the listening socket's number in the serving
 * process's fd table
 * @srv: the server
 *
 * So that the process's own close(), close_range() or dup2() can be kept
 * off it: kho_journal_sock_stop() wakes the thread through it.
 *
 * Return: the fd.
 */
int kho_journal_sock_fd(const struct kho_jsock_server *srv);

/**
 * kho_journal_sock_abandon() - forget the parent's server in a fork child
 * @srv: the parent's server: its thread is gone in the child; its socket
 *       is left alone
 */
void kho_journal_sock_abandon(struct kho_jsock_server *srv);

/**
 * kho_journal_sock_path() - where the socket of a VMM lives
 * @pid: the VMM
 * @buf: out: the path, in kho_rundir_path()
 * @len: room in @buf
 *
 * Return: 0 or -ENAMETOOLONG.
 */
int kho_journal_sock_path(pid_t pid, char *buf, size_t len);

/**
 * kho_journal_sock_fetch() - fetch the snapshot of a VMM
 * @pid:  the VMM's process
 * @snap: out: the snapshot; always initialised, and
 *        kho_journal_snapshot_free() is safe on it whatever the result
 * @diag: out: the socket and the cause
 *
 * The run directory must pass kho_rundir_open_peer() with @pid's uid as
 * a second owner; the server's SO_PEERCRED must be @pid and its uid.
 *
 * Return: 0; -ENOENT (no recorder socket for @pid, or no process @pid);
 * -ECONNREFUSED; -ELOOP, -EPERM (the run directory, diag says why);
 * -EACCES (the server is not @pid or not its uid, or it refused our
 * credentials); -EBADMSG (malformed reply, or a
 * blob above KHO_HANDOFF_MAX); -EOPNOTSUPP (the journal cannot cross
 * kexec: diag says why, and @snap still holds what was recorded, with no
 * fds); -EPROTONOSUPPORT; -ENAMETOOLONG; -ENOMEM; the recorder's own
 * refusal; or the -errno of socket(2), sendmsg(2) or recvmsg(2).
 */
int kho_journal_sock_fetch(pid_t pid, struct kho_journal_snapshot *snap,
			   struct kho_diag *diag);

/**
 * kho_journal_snapshot_free() - close the fds and free what @snap owns
 * @snap: the snapshot; left empty
 */
void kho_journal_snapshot_free(struct kho_journal_snapshot *snap);

/**
 * kho_journal_snapshot_memfd() - the snapshot's fd of one memfd
 * @snap:  the snapshot
 * @token: the memfd's token in @snap->state
 *
 * Return: the fd (@snap keeps it), or -1 when @snap holds no such memfd.
 */
int kho_journal_snapshot_memfd(const struct kho_journal_snapshot *snap,
			       uint64_t token);

#endif /* KHO_JOURNAL_SOCK_H */
