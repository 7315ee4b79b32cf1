/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Adoption: the protocol by which a VMM takes the rebuilt iommufd, device
 * and memfd descriptors from the restore-agent after kexec.
 *
 * A unix SOCK_SEQPACKET socket at KHO_ADOPT_SOCK, mode 0600.  On connect
 * the agent checks the peer's uid (SO_PEERCRED), then waits for the
 * VMM's struct kho_adopt_hello carrying the adoption token: the secret
 * the agent wrote to KHO_ADOPT_TOKEN_FILE (root, 0600) for the launcher
 * that restarts the VMM.  A peer of the right uid without that token is
 * refused, and the set stays served for the right one.  The agent then
 * sends one message: struct kho_adopt_hdr, then nr_ids struct
 * kho_idmap_ent, nr_devs struct kho_adopt_dev and nr_memfds struct
 * kho_adopt_memfd, with SCM_RIGHTS carrying [iommufd, device fds...,
 * memfd fds..., hand-off] in that order; the last is a sealed, read-only
 * copy of the hand-off when KHO_ADOPT_HDR_HANDOFF is set (the VMM's
 * recorder journals the adopted state from it: a VMM that is not root
 * cannot read the agent's files).  A refused peer gets the header alone
 * with status < 0 and msg set.  The VMM calls IOMMU_IOAS_CHANGE_PROCESS
 * and answers struct kho_adopt_ack; only an ack of status 0 lets the
 * agent FINISH the LUO session.  Each peer has its own deadline, so one
 * that says nothing stalls no other.
 */
#ifndef KHO_ADOPT_H
#define KHO_ADOPT_H

#include <sys/types.h>
#include "fdpass.h"
#include "replay.h"
#include "rundir.h"

#define KHO_ADOPT_SOCK KHO_RUN_DIR "/agent.sock"
/* The token the agent hands the VMM's launcher: root's, mode 0600. */
#define KHO_ADOPT_TOKEN_FILE KHO_RUN_DIR "/adopt.token"
#define KHO_ADOPT_MAGIC "KHOADOPT"
/* 2: the hello with the token, and the hand-off's copy. */
#define KHO_ADOPT_VERSION 2
#define KHO_ADOPT_TOKEN_LEN 32
/* A peer's time to say hello. */
#define KHO_ADOPT_PEER_TIMEOUT_MS 30000
/*
 * A peer's time to acknowledge the set it was offered.  Its token was
 * checked, and the work is real: `kho-tool cpr-relay --restore` acks only
 * once the new QEMU has loaded the guest, after up to its own --timeout
 * (60 s by default) of waiting for it.  A peer that hangs here delays no
 * other (each peer has its own deadline).
 */
#define KHO_ADOPT_ACK_TIMEOUT_MS 300000
/* SCM_MAX_FD in the kernel: the fds one message can carry. */
#define KHO_ADOPT_MAX_FDS KHO_FDPASS_MAX

/* The secret that binds a served set to the VMM its launcher starts. */
struct kho_adopt_token {
	uint8_t b[KHO_ADOPT_TOKEN_LEN];
};

/* The VMM's first message. */
#define KHO_ADOPT_HELLO_TOKEN	0x1	/* token holds the adoption token */
struct kho_adopt_hello {
	char magic[8];
	uint32_t version;
	uint32_t flags;
	struct kho_adopt_token token;
};

/* The last fd is a read-only copy of the hand-off. */
#define KHO_ADOPT_HDR_HANDOFF	0x1
struct kho_adopt_hdr {
	char magic[8];
	uint32_t version;
	int32_t status;		/* 0, or -errno: why nothing is offered */
	uint32_t nr_ids;
	uint32_t nr_devs;
	uint32_t nr_memfds;
	uint32_t nr_fds;	/* 1 + nr_devs + nr_memfds (+ 1 with the hand-off) */
	uint32_t flags;
	uint32_t reserved;
	char msg[256];
};

struct kho_adopt_dev {
	struct kho_pci_id pci;
	uint32_t old_id;
	uint32_t new_id;
	uint32_t old_hwpt;
	uint32_t new_hwpt;
	int32_t fd;		/* in a message: ignored; received: the fd */
	uint32_t reserved;
	char cdev[64];
};

struct kho_adopt_memfd {
	uint64_t token;
	uint64_t size;
	int32_t fd;		/* in a message: ignored; received: the fd */
	uint32_t reserved;
};

struct kho_adopt_ack {
	char magic[8];
	uint32_t version;
	int32_t status;		/* 0: adopted; -errno: the VMM gave up */
	char msg[128];
};

/* What the agent offers, and what the VMM receives. */
struct kho_adopt_set {
	int iommufd;
	struct kho_idmap idmap;
	struct kho_adopt_dev *dev;
	size_t nr_dev;
	struct kho_adopt_memfd *memfd;
	size_t nr_memfd;
	int handoff_fd;		/* the hand-off's copy, or -1 */
};

/* Who may adopt a set. */
struct kho_adopt_auth {
	uid_t uid;		/* SO_PEERCRED must say this uid */
	/* the token the peer must present; NULL: the uid alone (--no-token) */
	const struct kho_adopt_token *token;
	int timeout_ms;		/* per peer, for its hello */
	int ack_timeout_ms;	/* then for its ack; 0: timeout_ms again */
};

/* How kho_adopt_serve() ended with one peer, for the caller's log. */
struct kho_adopt_peer_result {
	uid_t uid;
	pid_t pid;
	int err;		/* 0: adopted */
	struct kho_diag diag;	/* why not */
};

/**
 * kho_adopt_set_init() - an empty set, its fds -1
 * @s: the set
 */
void kho_adopt_set_init(struct kho_adopt_set *s);

/**
 * kho_adopt_set_free() - free a set's tables
 * @s:         the set
 * @close_fds: also close its fds (the receiver's copies)
 */
void kho_adopt_set_free(struct kho_adopt_set *s, int close_fds);

/**
 * kho_adopt_listen() - bind a KHO_ADOPT_SOCK-style socket, mode 0600
 * @path: where; a stale socket file is replaced, the directory is
 *        created 0700
 * @diag: out: which step failed
 *
 * Return: the listening fd; -ENAMETOOLONG (@path does not fit a
 * sockaddr_un); or the -errno of mkdir(2), socket(2), bind(2), chmod(2)
 * or listen(2).
 */
int kho_adopt_listen(const char *path, struct kho_diag *diag);

/**
 * kho_adopt_listen_as() - kho_adopt_listen() of a path the messages name
 *                         otherwise
 * @path:  where, as the system calls take it (relative to a working
 *         directory, say)
 * @shown: what @diag calls it (restore-agent/rundir.c: the agent binds
 *         relative to its run directory and names the absolute path)
 * @diag:  out: which step failed
 *
 * Return: as kho_adopt_listen().
 */
int kho_adopt_listen_as(const char *path, const char *shown,
			struct kho_diag *diag);

/**
 * kho_adopt_token_new() - a fresh adoption token
 * @t: out: KHO_ADOPT_TOKEN_LEN random bytes (getrandom(2))
 *
 * Return: 0, or the -errno of getrandom(2).
 */
int kho_adopt_token_new(struct kho_adopt_token *t);

/**
 * kho_adopt_token_format() - a token as the token file holds it
 * @t:   the token
 * @buf: out: 2 * KHO_ADOPT_TOKEN_LEN hex digits, a newline and a NUL
 * @len: its room, at least 2 * KHO_ADOPT_TOKEN_LEN + 2
 *
 * Return: the length written (without the NUL), or -ENOSPC.
 */
int kho_adopt_token_format(const struct kho_adopt_token *t, char *buf,
			   size_t len);

/**
 * kho_adopt_token_read() - read a token file
 * @path: the file (KHO_ADOPT_TOKEN_FILE)
 * @t:    out: the token
 * @diag: out: why it could not be read
 *
 * Return: 0; -EBADMSG (not 2 * KHO_ADOPT_TOKEN_LEN hex digits and an
 * optional newline); or the -errno of open(2) or read(2) (-EACCES: this
 * process may not read it, it is the launcher's).
 */
int kho_adopt_token_read(const char *path, struct kho_adopt_token *t,
			 struct kho_diag *diag);

/**
 * kho_adopt_token_read_fd() - kho_adopt_token_read() of an open file
 * @fd:   the token file, opened by the launcher (root) and inherited by
 *        a VMM that may not open it itself; read from offset 0
 * @what: its name, for messages
 * @t:    out: the token
 * @diag: out: why it could not be read
 *
 * Return: as kho_adopt_token_read(), without open(2).
 */
int kho_adopt_token_read_fd(int fd, const char *what,
			    struct kho_adopt_token *t, struct kho_diag *diag);

/**
 * kho_adopt_serve_one() - answer one connected peer, blocking
 * @cfd:      the accepted connection
 * @auth:     who may adopt; @auth->timeout_ms bounds the hello and
 *            @auth->ack_timeout_ms the ack, a signal does not end the wait
 * @set:      what to send; the kernel duplicates the fds, @set keeps its
 *            own
 * @peer_uid: out, or NULL: the peer's uid
 * @peer_pid: out, or NULL: the peer's pid
 * @diag:     out: why the adoption failed
 *
 * Return: 0 when the VMM acknowledged a successful CHANGE_PROCESS;
 * -EACCES (wrong uid or token: refused, nothing sent); -ETIMEDOUT (no
 * hello or no ack within the timeout); -EPROTO (a malformed hello or ack,
 * or a hang-up); -E2BIG (more fds than one message carries); -ENOMEM;
 * the VMM's negative status when it reports failure; or the -errno of
 * getsockopt(2), sendmsg(2), poll(2) or recv(2).
 */
int kho_adopt_serve_one(int cfd, const struct kho_adopt_auth *auth,
			const struct kho_adopt_set *set, uid_t *peer_uid,
			pid_t *peer_pid, struct kho_diag *diag);

/*
 * What kho_adopt_serve() calls for every peer that did not adopt: the
 * set stays served, the caller logs why.
 */
typedef void kho_adopt_peer_fn(const struct kho_adopt_peer_result *r,
			       void *ctx);

/**
 * kho_adopt_serve() - serve a set until one peer adopts it
 * @lfd:    the listening socket (kho_adopt_listen())
 * @auth:   who may adopt, and each peer's deadline
 * @set:    what to send; @set keeps its fds
 * @failed: called for each peer that was refused, failed, hung up or ran
 *          out of time; NULL: no one is told
 * @ctx:    passed to @failed
 * @won:    out: the peer that adopted
 *
 * Every peer is served at once, each against its own deadline: one that
 * never says hello or never acknowledges stalls no other.  A peer that
 * acknowledges failure is never counted adopted; the set stays served
 * for a retry.  Up to KHO_ADOPT_MAX_PEERS peers wait at a time; more are
 * refused with -EBUSY.
 *
 * Return: 0 when a peer adopted (@won); the -errno of accept4(2) or
 * poll(2) other than EINTR; -ENOMEM.
 */
#define KHO_ADOPT_MAX_PEERS 16
int kho_adopt_serve(int lfd, const struct kho_adopt_auth *auth,
		    const struct kho_adopt_set *set, kho_adopt_peer_fn *failed,
		    void *ctx, struct kho_adopt_peer_result *won);

/**
 * kho_adopt_refuse() - tell a peer why nothing can be adopted
 * @cfd:    the accepted connection
 * @status: the reason's errno; a non-negative one is sent as -EIO
 * @msg:    the reason, for people
 *
 * The restore-agent refuses with -EAGAIN while it holds a failed (or
 * salvaged) restore for a retry, and kho_adopt_serve_one() with -EACCES a
 * peer of the wrong uid.
 *
 * Return: 0, or the -errno of send(2).
 */
int kho_adopt_refuse(int cfd, int status, const char *msg);

/**
 * kho_adopt_hello() - VMM side: the first message, with the token
 * @fd:    the connection to the agent
 * @token: the adoption token the launcher gave, or NULL for none
 *
 * Return: 0, or the -errno of send(2).
 */
int kho_adopt_hello(int fd, const struct kho_adopt_token *token);

/**
 * kho_adopt_recv() - VMM side: read the agent's offer
 * @fd:   the connection to the agent
 * @set:  out: the offer; the caller owns its fds
 * @diag: out: what was wrong with the message, or the agent's refusal
 *
 * Return: 0 with @set filled; the agent's negative status when it refused
 * (-EPROTO if it gave none); -EBADMSG (malformed message, fds not as
 * announced); -EPROTONOSUPPORT (protocol version); -ECONNRESET (the agent
 * closed without an answer); -ENOMEM; or the -errno of recvmsg(2).
 */
int kho_adopt_recv(int fd, struct kho_adopt_set *set, struct kho_diag *diag);

/**
 * kho_adopt_request() - VMM side: the hello, then the agent's answer
 * @fd:    the connection to the agent
 * @token: as kho_adopt_hello()
 * @set:   out: as kho_adopt_recv()
 * @diag:  out: as kho_adopt_recv()
 *
 * The answer is read even when the hello could not be sent: an agent
 * that refuses may hang up first.
 *
 * Return: as kho_adopt_recv(); the -errno of send(2) when the agent hung
 * up without an answer.
 */
int kho_adopt_request(int fd, const struct kho_adopt_token *token,
		      struct kho_adopt_set *set, struct kho_diag *diag);

/**
 * kho_adopt_ack() - VMM side: report the adoption's result
 * @fd:     the connection to the agent
 * @status: 0 (adopted) or the -errno the VMM gave up with
 * @msg:    why, for the agent's log, or NULL
 *
 * Return: 0, or the -errno of send(2).
 */
int kho_adopt_ack(int fd, int status, const char *msg);

/**
 * kho_adopt_poison() - the poisoned ranges of an adopted set
 * @set:  an adopted set, with the agent's copy of the hand-off
 * @list: out: the hand-off's poison list, malloc'd; NULL when none
 * @nr:   out: its ranges
 * @diag: out: why it could not be read
 *
 * How the agent hands the VMM the list: the hand-off copy every adopter
 * receives (handoff_fd) carries the poison node (format 6).  The VMM
 * poisons each range of a memfd again in its own mapping of it,
 * kho_poison_apply(), before the guest runs.
 *
 * Return: 0; -ENODATA (the agent sent no copy); the errno of reading or
 * decoding it.
 */
int kho_adopt_poison(const struct kho_adopt_set *set, struct kho_poison **list,
		     size_t *nr, struct kho_diag *diag);

/**
 * kho_adopt_connect() - VMM side, all of it
 * @path:  the agent's socket (KHO_ADOPT_SOCK)
 * @token: the adoption token (kho_adopt_token_read() of the launcher's
 *         copy), or NULL for an agent started with --no-token
 * @set:   out: what was adopted; the caller owns it
 * @diag:  out: the step that failed and why
 *
 * Connects to @path, presents @token, receives the set, calls
 * IOMMU_IOAS_CHANGE_PROCESS on the iommufd and acknowledges.
 *
 * Return: 0 with @set owned by the caller; -ECONNREFUSED or -ENOENT (no
 * agent); -EACCES (the agent refused this peer's uid or token); -EAGAIN (the
 * restore failed: the agent holds the state for `restore-agent --retry`
 * or `--salvage`, and diag carries its failure); -ENAMETOOLONG (@path);
 * CHANGE_PROCESS's -errno (the agent is told and keeps the session); or
 * as kho_adopt_recv().
 */
int kho_adopt_connect(const char *path, const struct kho_adopt_token *token,
		      struct kho_adopt_set *set, struct kho_diag *diag);

/*
 * What kho_adopt_connect() calls after a successful adoption, with the
 * set and the context it was registered with.
 */
typedef void kho_adopt_notify_fn(const struct kho_adopt_set *set, void *ctx);

/**
 * kho_adopt_set_notify() - be told of every adoption in this process
 * @fn: called by kho_adopt_connect() after it adopted, before it returns;
 *      NULL: no one is told
 * @ctx: passed to @fn
 *
 * The recorder registers here, so that an adopted iommufd, which came
 * over SCM_RIGHTS past its wrappers, is journaled; one registration
 * holds at a time.  A recorder in a library of its own (the LD_PRELOAD
 * one) finds the program's copy of this function with dlsym(), so a
 * program that adopts under it exports the symbol (the test VMM links
 * with -Wl,--export-dynamic-symbol=kho_adopt_set_notify).
 *
 * Return: the function registered before, NULL if none.
 */
kho_adopt_notify_fn *kho_adopt_set_notify(kho_adopt_notify_fn *fn, void *ctx);

#endif /* KHO_ADOPT_H */
