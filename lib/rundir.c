// SPDX-License-Identifier: LGPL-2.1-or-later
/* The run directory, checked before use, and the one-upgrade-at-a-time lock. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rundir.h"

const char *kho_rundir_path(void)
{
	const char *dir = getenv("KHO_RUN_DIR");

	return dir && *dir ? dir : KHO_RUN_DIR;
}

/*
 * Owned by us (or by @peer) and writable by no one else: what a shared
 * /run allows.  A name in a directory someone else may write can be
 * replaced under us.
 */
static int check_owner_mode(const struct stat *st, uid_t peer,
			    const char *what, const char *name,
			    struct kho_diag *diag)
{
	char also[32] = "";

	if ((st->st_uid == geteuid() || st->st_uid == peer) &&
	    !(st->st_mode & 022))
		return 0;
	if (peer != geteuid())
		snprintf(also, sizeof(also), " or %u", (unsigned int)peer);
	return kho_diag_set(diag, -EPERM,
			    "%s %s: owner uid %u, mode %04o: must be uid %u%s and writable by no one else",
			    what, name, (unsigned int)st->st_uid,
			    (unsigned int)(st->st_mode & 07777),
			    (unsigned int)geteuid(), also);
}

/* The directory as it is, or -errno with diag set; never changed by path. */
static int rundir_open(const char *dir, uid_t peer, struct kho_diag *diag)
{
	struct stat st;
	int fd, err;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		/* O_NOFOLLOW|O_DIRECTORY on a symlink: ELOOP or ENOTDIR. */
		if (!lstat(dir, &st) && S_ISLNK(st.st_mode))
			err = -ELOOP;
		return kho_diag_set(diag, err, "run directory %s: %s", dir,
				    err == -ELOOP ? "is a symlink: refusing it" :
						    strerror(-err));
	}
	if (fstat(fd, &st)) {
		err = -errno;
		close(fd);
		return kho_diag_set(diag, err, "run directory %s: fstat: %s",
				    dir, strerror(-err));
	}
	err = check_owner_mode(&st, peer, "run directory", dir, diag);
	if (err) {
		close(fd);
		return err;
	}
	return fd;
}

int kho_rundir_open(const char *dir, struct kho_diag *diag)
{
	if (mkdir(dir, 0700) && errno != EEXIST)
		return kho_diag_set(diag, -errno, "run directory %s: mkdir: %s",
				    dir, strerror(errno));
	return rundir_open(dir, geteuid(), diag);
}

int kho_rundir_open_peer(const char *dir, uid_t peer, struct kho_diag *diag)
{
	return rundir_open(dir, peer, diag);
}

/* The pid a holder wrote, 0 if none yet. */
static pid_t read_holder(int fd)
{
	char buf[32];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return (pid_t)strtol(buf, NULL, 10);
}

/* "pid N (comm)" of a live holder into @who. */
static void describe(pid_t pid, char *who, size_t size)
{
	char comm[64] = "?", path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	f = pid > 0 ? fopen(path, "re") : NULL;
	if (f) {
		if (fgets(comm, sizeof(comm), f))
			comm[strcspn(comm, "\n")] = '\0';
		fclose(f);
	}
	snprintf(who, size, "pid %d (%s)", (int)pid, comm);
}

/*
 * Kernels without CONFIG_FILE_LOCKING (the test guests') have no flock:
 * the lock is then NAME.owner, created O_EXCL and holding the owner's
 * pid; one whose pid is gone is stale and replaced.  Released by
 * kho_rundir_unlock().
 */
static int owner_lock(int dirfd, const char *name, pid_t *holder,
		      struct kho_diag *diag)
{
	char owner[128], line[32], who[96];
	int fd, n, tries;

	snprintf(owner, sizeof(owner), "%s.owner", name);
	for (tries = 0; tries < 2; tries++) {
		fd = openat(dirfd, owner, O_RDWR | O_CREAT | O_EXCL |
			    O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd >= 0) {
			n = snprintf(line, sizeof(line), "%d\n", (int)getpid());
			if (pwrite(fd, line, n, 0) != n) {
				n = -errno;
				close(fd);
				unlinkat(dirfd, owner, 0);
				return kho_diag_set(diag, n, "lock %s: write pid: %s",
						    owner, strerror(-n));
			}
			return fd;
		}
		if (errno != EEXIST)
			return kho_diag_set(diag, -errno, "lock %s: %s", owner,
					    strerror(errno));
		fd = openat(dirfd, owner, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		*holder = fd < 0 ? 0 : read_holder(fd);
		if (fd >= 0)
			close(fd);
		if (*holder > 0 && kill(*holder, 0) && errno == ESRCH) {
			/* Its owner died without releasing it. */
			unlinkat(dirfd, owner, 0);
			continue;
		}
		break;
	}
	describe(*holder, who, sizeof(who));
	return kho_diag_set(diag, -EBUSY,
			    "another upgrade or rollback holds %s: %s; wait for it to finish",
			    owner, who);
}

int kho_rundir_unlock(int dirfd, const char *name, int lockfd)
{
	char owner[128];
	int fd;

	if (lockfd < 0)
		return 0;
	snprintf(owner, sizeof(owner), "%s.owner", name);
	fd = openat(dirfd, owner, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0) {
		if (read_holder(fd) == getpid())
			unlinkat(dirfd, owner, 0);
		close(fd);
	}
	close(lockfd);
	return 0;
}

int kho_rundir_lock(int dirfd, const char *name, pid_t *holder,
		    struct kho_diag *diag)
{
	char who[96], line[32];
	struct stat st;
	int fd, err, n;

	*holder = 0;
	fd = openat(dirfd, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
		    0600);
	if (fd < 0)
		return kho_diag_set(diag, -errno, "lock %s: %s%s", name,
				    strerror(errno),
				    errno == ELOOP ? " (a symlink: refusing it)" : "");
	if (fstat(fd, &st)) {
		err = kho_diag_set(diag, -errno, "lock %s: fstat: %s", name,
				   strerror(errno));
		goto out_close;
	}
	if (!S_ISREG(st.st_mode) || st.st_nlink != 1) {
		err = kho_diag_set(diag, -EPERM,
				   "lock %s: not a regular file of one link: refusing it",
				   name);
		goto out_close;
	}
	err = check_owner_mode(&st, geteuid(), "lock", name, diag);
	if (err)
		goto out_close;
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		err = -errno;
		if (err == -ENOSYS) {
			close(fd);
			return owner_lock(dirfd, name, holder, diag);
		}
		if (err != -EWOULDBLOCK) {
			kho_diag_set(diag, err, "lock %s: flock: %s", name,
				     strerror(-err));
			goto out_close;
		}
		*holder = read_holder(fd);
		describe(*holder, who, sizeof(who));
		err = kho_diag_set(diag, -EBUSY,
				   "another upgrade or rollback holds %s: %s; wait for it to finish",
				   name, who);
		goto out_close;
	}
	/* Ours: say who holds it, for the one that will be refused. */
	n = snprintf(line, sizeof(line), "%d\n", (int)getpid());
	if (ftruncate(fd, 0) || pwrite(fd, line, n, 0) != n) {
		err = kho_diag_set(diag, -errno, "lock %s: write pid: %s", name,
				   strerror(errno));
		goto out_close;
	}
	return fd;

out_close:
	close(fd);
	return err;
}
