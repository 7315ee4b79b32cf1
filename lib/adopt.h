/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Adoption: the protocol by which a VMM takes the rebuilt iommufd, device
 * and memfd descriptors from the restore-agent after kexec.
 *
 * A unix SOCK_SEQPACKET socket at KHO_ADOPT_SOCK, mode 0600.  On connect
 * the agent checks the peer's uid (SO_PEERCRED) and sends one message:
 * struct kho_adopt_hdr, then nr_ids struct kho_idmap_ent, nr_devs struct
 * kho_adopt_dev and nr_memfds struct kho_adopt_memfd, with SCM_RIGHTS
 * carrying [iommufd, device fds..., memfd fds...] in that order.  A
 * refused peer gets the header alone with status < 0 and msg set.  The
 * VMM calls IOMMU_IOAS_CHANGE_PROCESS and answers struct kho_adopt_ack;
 * only an ack of status 0 lets the agent FINISH the LUO session.
 */
#ifndef KHO_ADOPT_H
#define KHO_ADOPT_H

#include <sys/types.h>
#include "fdpass.h"
#include "replay.h"
#include "rundir.h"

#define KHO_ADOPT_SOCK KHO_RUN_DIR "/agent.sock"
#define KHO_ADOPT_MAGIC "KHOADOPT"
#define KHO_ADOPT_VERSION 1
/* SCM_MAX_FD in the kernel: the fds one message can carry. */
#define KHO_ADOPT_MAX_FDS KHO_FDPASS_MAX

struct kho_adopt_hdr {
	char magic[8];
	uint32_t version;
	int32_t status;		/* 0, or -errno: why nothing is offered */
	uint32_t nr_ids;
	uint32_t nr_devs;
	uint32_t nr_memfds;
	uint32_t nr_fds;	/* 1 + nr_devs + nr_memfds when status == 0 */
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
 * kho_adopt_serve_one() - answer one connected peer
 * @cfd:      the accepted connection
 * @uid:      the only uid allowed to adopt
 * @set:      what to send; the kernel duplicates the fds, @set keeps its
 *            own
 * @peer_uid: out, or NULL: the peer's uid
 * @peer_pid: out, or NULL: the peer's pid
 * @diag:     out: why the adoption failed
 *
 * Return: 0 when the VMM acknowledged a successful CHANGE_PROCESS;
 * -EACCES (wrong uid: refused, nothing sent); -EPROTO (a bad ack, or none
 * within the timeout); -E2BIG (more fds than one message carries);
 * -ENOMEM; the VMM's negative status when it reports failure; or the
 * -errno of getsockopt(2), sendmsg(2) or recv(2).
 */
int kho_adopt_serve_one(int cfd, uid_t uid, const struct kho_adopt_set *set,
			uid_t *peer_uid, pid_t *peer_pid,
			struct kho_diag *diag);

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
 * kho_adopt_ack() - VMM side: report the adoption's result
 * @fd:     the connection to the agent
 * @status: 0 (adopted) or the -errno the VMM gave up with
 * @msg:    why, for the agent's log, or NULL
 *
 * Return: 0, or the -errno of send(2).
 */
int kho_adopt_ack(int fd, int status, const char *msg);

/**
 * kho_adopt_connect() - VMM side, all of it
 * @path: the agent's socket (KHO_ADOPT_SOCK)
 * @set:  out: what was adopted; the caller owns it
 * @diag: out: the step that failed and why
 *
 * Connects to @path, receives the set, calls IOMMU_IOAS_CHANGE_PROCESS on
 * the iommufd and acknowledges.
 *
 * Return: 0 with @set owned by the caller; -ECONNREFUSED or -ENOENT (no
 * agent); -EACCES (the agent refused this peer's uid); -EAGAIN (the
 * restore failed: the agent holds the state for `restore-agent --retry`
 * or `--salvage`, and diag carries its failure); -ENAMETOOLONG (@path);
 * CHANGE_PROCESS's -errno (the agent is told and keeps the session); or
 * as kho_adopt_recv().
 */
int kho_adopt_connect(const char *path, struct kho_adopt_set *set,
		      struct kho_diag *diag);

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
