/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The run directory (KHO_RUN_DIR, /run/kho-tool): opened only if it is
 * what kho-tool made it, and the lock that lets one upgrade run at a time.
 */
#ifndef KHO_RUNDIR_H
#define KHO_RUNDIR_H

#include <sys/types.h>

#include "kho.h"

/*
 * Where kho-tool, the agent and the recorder meet: the journal sockets,
 * the agent's socket, logs and status, the upgrade lock.
 */
#define KHO_RUN_DIR "/run/kho-tool"

#define KHO_UPGRADE_LOCK "upgrade.lock"

/**
 * kho_rundir_path() - the run directory the journal sockets live in
 *
 * $KHO_RUN_DIR when set and not empty (tests and unprivileged VMMs: the
 * recorder and `kho-tool capture` must agree on it), else KHO_RUN_DIR.
 * Only the journal socket honours the variable; the agent's paths and
 * the upgrade lock are fixed.  Whoever uses it opens it with
 * kho_rundir_open() or kho_rundir_open_peer(): the variable is checked
 * like the default.
 *
 * Return: the path; never NULL.
 */
const char *kho_rundir_path(void);

/**
 * kho_rundir_open() - open the run directory, checked before any use
 * @dir:  the directory (KHO_RUN_DIR), created mode 0700 if missing
 * @diag: out: what is wrong with it
 *
 * Not a symlink (O_NOFOLLOW on the last component; its parents are the
 * system's), a directory owned by the effective uid, writable by no one
 * else.  Nothing is changed by path.
 *
 * Return: a directory fd (O_CLOEXEC); -ELOOP (a symlink); -ENOTDIR;
 * -EPERM (owner or mode, diag names both); or the -errno of mkdir(2) or
 * open(2).
 */
int kho_rundir_open(const char *dir, struct kho_diag *diag);

/**
 * kho_rundir_open_peer() - open a run directory a peer may own
 * @dir:  the directory; never created (a client finds, not makes, it)
 * @peer: a uid that may own it besides the effective uid: the VMM's,
 *        whose recorder made it (an unprivileged VMM's $KHO_RUN_DIR)
 * @diag: out: what is wrong with it
 *
 * The checks of kho_rundir_open(), with @peer as a second owner.  The
 * caller reaches names in it through the fd, so that the directory it
 * checked is the one it uses.
 *
 * Return: as kho_rundir_open(); -ENOENT if it does not exist.
 */
int kho_rundir_open_peer(const char *dir, uid_t peer, struct kho_diag *diag);

/**
 * kho_rundir_lock() - take the upgrade lock
 * @dirfd:  the run directory (kho_rundir_open())
 * @name:   the lock file's name in it (KHO_UPGRADE_LOCK)
 * @holder: out: on -EBUSY, the holder's pid, or 0 if unknown
 * @diag:   out: who holds it, or what is wrong with the file
 *
 * flock(LOCK_EX | LOCK_NB) on @name, a regular file created 0600 and
 * checked like the directory (no symlink, one link, owner, mode).  The
 * holder's pid is written into it, so that a second caller is refused by
 * name.  The lock lasts as long as the returned fd is open.  Without
 * flock (a kernel without CONFIG_FILE_LOCKING), @name.owner is created
 * O_EXCL with the pid instead; a dead owner's is replaced.
 *
 * Return: the lock fd; -EBUSY (held: diag names the pid and its command);
 * -ELOOP, -EPERM as kho_rundir_open(); or the -errno of openat(2) or
 * flock(2).
 */
int kho_rundir_lock(int dirfd, const char *name, pid_t *holder,
		    struct kho_diag *diag);

/**
 * kho_rundir_unlock() - release a lock kho_rundir_lock() returned
 * @dirfd:  the run directory
 * @name:   the lock file's name
 * @lockfd: the lock fd, or -1 for none
 *
 * Removes @name.owner if this process owns it and closes @lockfd.
 *
 * Return: 0.
 */
int kho_rundir_unlock(int dirfd, const char *name, int lockfd);

#endif /* KHO_RUNDIR_H */
