/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * kho-tool as a client of luod (github.com/soleen/luo-agent), the LUO
 * agent that owns /dev/liveupdate on a host that runs it.
 *
 * luod is a skeleton upstream: it listens on LUOD_SOCK and parses JSON,
 * and dispatches nothing yet.  What this client assumes of its protocol
 * (docs/operations.md, "luod"), from the commands the project names:
 * - a SOCK_STREAM unix socket; one request a line, one reply a line, both
 *   JSON objects; a reply that carries a descriptor carries it in
 *   SCM_RIGHTS with the reply's first byte;
 * - replies are {"status":"ok", ...} or {"status":"error","error":TEXT},
 *   with "errno":"ENOENT" when the session named does not exist (a CLAIM
 *   in a boot that did not come through a live update);
 * - before the kexec: SUBSCRIBE {name} registers the client;
 *   START_PRESERVATION {session} answers with a new outgoing session
 *   that luod created on its /dev/liveupdate; the client preserves into
 *   it; READY {session} says it is done, and luod kexecs into the image
 *   loaded when every subscriber is ready (this client loads it first);
 * - after the kexec: CLAIM {session} answers with the retrieved session;
 *   FINISH {session} after the client finished it, so luod drops its own
 *   copy.
 */
#ifndef KHO_LUOD_H
#define KHO_LUOD_H

#include "kho.h"

#define KHO_LUOD_SOCK "/run/luod/liveupdate.sock"
/* How long a client that said READY waits for luod's kexec. */
#define KHO_LUOD_KEXEC_WAIT_SEC 30

/**
 * kho_luod_present() - does a luod serve here
 * @path: its socket (KHO_LUOD_SOCK)
 *
 * Return: true when @path is a unix socket.
 */
bool kho_luod_present(const char *path);

/**
 * kho_luod_connect() - connect to luod
 * @path: its socket
 * @diag: out: why not
 *
 * Return: the connection (replies time out after KHO_LUOD_TIMEOUT_SEC);
 * -EPERM (the socket's server is not root: SO_PEERCRED); or the -errno
 * of socket(2)/connect(2).
 */
int kho_luod_connect(const char *path, struct kho_diag *diag);

/**
 * kho_luod_call() - one request, one reply
 * @fd:      the connection
 * @cmd:     the command (SUBSCRIBE, START_PRESERVATION, READY, CLAIM,
 *           FINISH)
 * @key:     the request's one argument's name ("name" or "session")
 * @value:   its value (escaped as JSON)
 * @out_fd:  out: the descriptor the reply carried, or -1; NULL: none
 *           expected (one that comes is closed)
 * @diag:    out: luod's error text, or what was wrong with its reply
 *
 * Return: 0; -ENOENT (luod answered "error" with errno ENOENT: no such
 * session); -EREMOTEIO (luod answered "error": @diag has its text);
 * -EBADMSG (a reply that is not one JSON line with a status, or without
 * the descriptor @out_fd asks for); -ETIMEDOUT; -ECONNRESET (luod closed);
 * or the -errno of send/recvmsg.
 */
int kho_luod_call(int fd, const char *cmd, const char *key, const char *value,
		  int *out_fd, struct kho_diag *diag);

#endif /* KHO_LUOD_H */
