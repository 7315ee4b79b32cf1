/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Another process as /proc shows it: the uid it runs as and the files it
 * holds.  Capture asks both of a VMM before it believes what the VMM
 * says about itself (issue #21).  And stopping it, which /proc confirms.
 */
#ifndef KHO_PROC_H
#define KHO_PROC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/**
 * kho_proc_euid() - the effective uid of a process
 * @pid: the process
 * @uid: out: its effective uid, as SO_PEERCRED reports a peer's
 *
 * Read from /proc/PID/status, not from the owner of /proc/PID (root for
 * a process that is not dumpable).
 *
 * Return: 0; -ESRCH (no such process); -EBADMSG (no Uid: line); or the
 * -errno of open(2).
 */
int kho_proc_euid(pid_t pid, uid_t *uid);

/*
 * Called for each descriptor a process holds: @fd its number there,
 * @path "/proc/PID/fd/N", which stat(2) and readlink(2) resolve to the
 * very file.  A non-zero return stops the walk and is returned.
 */
typedef int (*kho_proc_fd_fn)(void *ctx, int fd, const char *path);

/**
 * kho_proc_each_fd() - walk the descriptors a process holds
 * @pid: the process; its main thread's table
 * @fn:  called for each
 * @ctx: passed to @fn
 *
 * Return: 0, @fn's non-zero return, or the -errno of opendir(2) on
 * /proc/PID/fd (-ENOENT: no such process; -EACCES: not ours to read).
 */
int kho_proc_each_fd(pid_t pid, kho_proc_fd_fn fn, void *ctx);

/**
 * kho_proc_stop() - stop a process, and wait until it is stopped
 * @pid: the process (a VMM: every thread of it stops)
 *
 * SIGSTOP is asynchronous: the process is stopped once /proc/PID/stat
 * says so, and only then may what it maps change under it.  Waits up to
 * a second.  SIGCONT undoes it.
 *
 * Return: 0; -ETIMEDOUT; or the -errno of kill(2) (-ESRCH: no such
 * process) or of open(2) on /proc/PID/stat.
 */
int kho_proc_stop(pid_t pid);

/**
 * kho_proc_continue() - undo kho_proc_stop()
 * @pid: the process
 *
 * Return: 0, also for a process gone meanwhile (nothing left to
 * continue); or the -errno of kill(2).
 */
int kho_proc_continue(pid_t pid);

/* One line of /proc/PID/maps: a mapping and the file behind it. */
struct kho_maps_line {
	uint64_t start, end;	/* its VAs, [start, end) */
	char perms[5];		/* "rw-s": the fourth is 's' when shared */
	uint64_t offset;	/* in the file */
	unsigned int major, minor;	/* the file's device; 0:0 anonymous */
	uint64_t ino;		/* the file's inode; 0 anonymous */
	const char *path;	/* into the line: the file's name, or "" */
	size_t path_len;	/* without the newline */
};

/**
 * kho_maps_line_parse() - read one line of /proc/PID/maps
 * @line: the line, as fgets(3) gives it
 * @m:    out: its fields; @m->path points into @line
 *
 * "start-end perms offset major:minor inode [path]".  A deleted file's
 * path keeps its " (deleted)" suffix: what matches a file is the device
 * and the inode, never the name.
 *
 * Return: 0; -EBADMSG (not such a line).
 */
int kho_maps_line_parse(const char *line, struct kho_maps_line *m);

/* A file looked for in other processes: a memfd, by what fstat(2) says. */
struct kho_proc_file {
	dev_t dev;
	ino_t ino;
};

/* A process that maps or holds one of the files looked for. */
struct kho_proc_holder {
	pid_t pid;
	size_t file;		/* index into the files looked for */
	char comm[16];		/* its name, as /proc/PID/comm gives it */
};

/**
 * kho_proc_file_holders() - the processes that map or hold some files
 * @proc:    the proc root, "/proc" (a test's tree of the same shape)
 * @files:   the files
 * @nr:      how many
 * @skip:    processes left out (the VMM, this process)
 * @nr_skip: how many
 * @out:     out: the holders, malloc'd, by pid; NULL when none
 * @nr_out:  out: how many
 *
 * A process is a holder when a line of /proc/PID/maps names the file
 * (device and inode) or a descriptor of /proc/PID/fd resolves to it:
 * either way it can read the file's pages.  A process that is gone, or
 * whose tables this process may not read, is passed over.  The first
 * file found names the process.
 *
 * Return: 0; -ENOMEM; or the -errno of opendir(2) on @proc.
 */
int kho_proc_file_holders(const char *proc, const struct kho_proc_file *files,
			  size_t nr, const pid_t *skip, size_t nr_skip,
			  struct kho_proc_holder **out, size_t *nr_out);

#endif /* KHO_PROC_H */
