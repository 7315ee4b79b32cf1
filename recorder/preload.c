// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The LD_PRELOAD recorder: interposes the libc calls through which an
 * unmodified VMM builds and tears down iommufd/VFIO state, and feeds them
 * to the record (recorder/record.h).
 *
 * Every wrapper calls the real function first and preserves its errno; the
 * recorder only watches.  Calls the recorder itself makes (its memfd
 * references, /proc reads, the server thread) pass straight through
 * (kho_record_busy()).  A call from a signal handler that interrupted a
 * recorded ioctl on the same thread (kho_record_reentered()) takes no
 * lock and allocates nothing: it is made, and if the record cannot
 * follow it the journal is marked unpreservable, naming it.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#if __has_include(<gnu/lib-names.h>)
#include <gnu/lib-names.h>	/* LIBC_SO */
#endif
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "adopt.h"
#include "record.h"

/* ioctl type shared by iommufd (IOMMUFD_TYPE) and VFIO (VFIO_TYPE) */
#define KHO_PRELOAD_IOCTL_TYPE ';'

static struct kho_record *kho_preload_rec;

static int (*real_ioctl)(int, unsigned long, ...);
static int (*real_open)(const char *, int, ...);
static int (*real_openat)(int, const char *, int, ...);
static int (*real_close)(int);
static int (*real_close_range)(unsigned int, unsigned int, int);
static void (*real_closefrom)(int);
static int (*real_dup)(int);
static int (*real_dup2)(int, int);
static int (*real_dup3)(int, int, int);
static int (*real_fcntl)(int, int, ...);
static int (*real_memfd_create)(const char *, unsigned int);
static void *(*real_mmap)(void *, size_t, int, int, int, off_t);
static int (*real_munmap)(void *, size_t);
static void *(*real_mremap)(void *, size_t, size_t, int, ...);
/*
 * What the recorded ioctls call: NULL (the system call itself) when the
 * next ioctl in the chain is libc's, a bare system call stub; real_ioctl
 * when another interposer follows this library, so that it still runs.
 */
static int (*hot_ioctl)(int, unsigned long, ...);

#define KHO_PRELOAD_RESOLVE(name)					\
	do {								\
		if (!real_##name)					\
			real_##name = dlsym(RTLD_NEXT, #name);		\
	} while (0)

/*
 * Whether @next, the ioctl after this library's, is libc's own.  Asked of
 * dladdr(), which only reads the link map: dlopen() here, from a
 * constructor, deadlocks a sanitizer's runtime that intercepts it.
 */
static bool kho_preload_is_libc_ioctl(void *next)
{
	bool libc = false;
#ifdef LIBC_SO
	const char *base;
	Dl_info info;

	if (next && dladdr(next, &info) && info.dli_fname && info.dli_sname &&
	    !strcmp(info.dli_sname, "ioctl")) {
		base = strrchr(info.dli_fname, '/');
		libc = !strcmp(base ? base + 1 : info.dli_fname, LIBC_SO);
	}
#endif
	return libc && kho_record_can_syscall();
}

static void kho_preload_resolve(void)
{
	if (!real_ioctl) {
		void *next = dlsym(RTLD_NEXT, "ioctl");

		hot_ioctl = kho_preload_is_libc_ioctl(next) ? NULL : next;
		/* the wrapper reads hot_ioctl once it sees real_ioctl */
		__atomic_store_n(&real_ioctl, next, __ATOMIC_RELEASE);
	}
	KHO_PRELOAD_RESOLVE(open);
	KHO_PRELOAD_RESOLVE(openat);
	KHO_PRELOAD_RESOLVE(close);
	KHO_PRELOAD_RESOLVE(close_range);
	KHO_PRELOAD_RESOLVE(closefrom);
	KHO_PRELOAD_RESOLVE(dup);
	KHO_PRELOAD_RESOLVE(dup2);
	KHO_PRELOAD_RESOLVE(dup3);
	KHO_PRELOAD_RESOLVE(fcntl);
	KHO_PRELOAD_RESOLVE(memfd_create);
	KHO_PRELOAD_RESOLVE(mmap);
	KHO_PRELOAD_RESOLVE(munmap);
	KHO_PRELOAD_RESOLVE(mremap);
}

static void kho_preload_prepare(void)
{
	if (kho_preload_rec)
		kho_record_atfork_prepare(kho_preload_rec);
}

static void kho_preload_parent(void)
{
	if (kho_preload_rec)
		kho_record_atfork_parent(kho_preload_rec);
}

static void kho_preload_child(void)
{
	if (kho_preload_rec)
		kho_record_atfork_child(kho_preload_rec);
}

/*
 * Asks the program to tell the record of its adoptions: a VMM's
 * kho_adopt_connect() takes descriptors over SCM_RIGHTS, past every
 * wrapper, and without this the journal would be empty and a rollback
 * would capture nothing.  This library carries its own copy of lib/, so
 * the registration goes to the program's copy, which the program exports
 * (tests/vmm links with -Wl,--export-dynamic-symbol=kho_adopt_set_notify);
 * a program that adopts nothing has none, and is not asked.
 */
static void kho_preload_watch_adoption(struct kho_record *rec)
{
	kho_adopt_notify_fn *(*set_notify)(kho_adopt_notify_fn *, void *);

	set_notify = (kho_adopt_notify_fn *(*)(kho_adopt_notify_fn *, void *))
		dlsym(RTLD_DEFAULT, "kho_adopt_set_notify");
	if (set_notify)
		set_notify(kho_record_adopted, rec);
}

__attribute__((constructor)) static void kho_preload_init(void)
{
	struct kho_record *rec;

	kho_preload_resolve();
	if (kho_record_new(&rec)) {
		fprintf(stderr, "kho-record: pid %d: out of memory: not recording\n",
			getpid());
		return;
	}
	/* a process that never opens an iommufd never gets a socket */
	kho_record_serve_lazily(rec);
	pthread_atfork(kho_preload_prepare, kho_preload_parent,
		       kho_preload_child);
	kho_preload_rec = rec;
	kho_preload_watch_adoption(rec);
}

__attribute__((destructor)) static void kho_preload_fini(void)
{
	/*
	 * Removes the socket; the record itself stays, since another thread
	 * may still be in an ioctl while the process exits.
	 */
	if (kho_preload_rec)
		kho_record_serve_stop(kho_preload_rec);
}

/* The record, unless this call comes from inside the recorder. */
static struct kho_record *kho_preload_active(void)
{
	kho_preload_resolve();
	if (!kho_preload_rec || kho_record_busy())
		return NULL;
	return kho_preload_rec;
}

/*
 * An ioctl before the constructor ran (another library's constructor):
 * resolves, then takes the wrapper again.  Out of line, so that the
 * wrapper itself needs no stack frame.
 */
static __attribute__((noinline, cold)) int
kho_preload_ioctl_first(int fd, unsigned long cmd, void *arg)
{
	kho_preload_resolve();
	return ioctl(fd, cmd, arg);
}

/*
 * ioctl() is variadic in <sys/ioctl.h>, but its one optional argument
 * travels where a named third argument would, in the third integer
 * register, on x86-64 and arm64 (both pass variadic arguments as named
 * ones; glibc's own ioctl is a bare system call stub).  Defined with a
 * named argument under the same symbol, the wrapper builds no va_list:
 * ten instructions less on each of the VMM's ioctls.  Elsewhere it stays
 * variadic.
 */
#if defined(__x86_64__) || defined(__aarch64__)
int kho_preload_ioctl(int fd, unsigned long cmd, void *arg) __asm__("ioctl");

int kho_preload_ioctl(int fd, unsigned long cmd, void *arg)
{
	struct kho_record *rec;
#else
int ioctl(int fd, unsigned long cmd, ...)
{
	struct kho_record *rec;
	va_list ap;
	void *arg;

	va_start(ap, cmd);
	arg = va_arg(ap, void *);
	va_end(ap);
#endif
	/* the hot path: only what this wrapper needs, not every symbol */
	if (!real_ioctl)
		return kho_preload_ioctl_first(fd, cmd, arg);
	rec = kho_preload_rec;
	if (_IOC_TYPE(cmd) != KHO_PRELOAD_IOCTL_TYPE || !rec)
		return real_ioctl(fd, cmd, arg);
	/* prepare, call, note, errno kept: one call into the record */
	return kho_record_ioctl_via(rec, hot_ioctl, fd, cmd, arg);
}

/*
 * From a handler that interrupted a recorded ioctl the new fd is left
 * alone: it is classified on first use, like one received over
 * SCM_RIGHTS, and its number held no file the table still tracks (the
 * close that freed it was seen, or the journal names it).
 */
static void kho_preload_opened(int fd, const char *path)
{
	struct kho_record *rec = kho_preload_active();
	int err = errno;

	if (fd >= 0 && rec && !kho_record_reentered()) {
		kho_record_fd_opened(rec, fd, path);
		errno = err;
	}
}

static mode_t kho_preload_mode(int flags, va_list ap)
{
	if ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE)
		return va_arg(ap, mode_t);
	return 0;
}

int open(const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;
	int fd;

	va_start(ap, flags);
	mode = kho_preload_mode(flags, ap);
	va_end(ap);
	kho_preload_resolve();
	fd = real_open(path, flags, mode);
	kho_preload_opened(fd, path);
	return fd;
}

int open64(const char *path, int flags, ...)
	__attribute__((alias("open")));

int openat(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;
	int fd;

	va_start(ap, flags);
	mode = kho_preload_mode(flags, ap);
	va_end(ap);
	kho_preload_resolve();
	fd = real_openat(dirfd, path, flags, mode);
	/*
	 * Device paths are absolute; a relative one is classified lazily.
	 * A NULL path failed (EFAULT) and is not read.
	 */
	kho_preload_opened(fd, fd >= 0 && path[0] == '/' ? path : NULL);
	return fd;
}

int openat64(int dirfd, const char *path, int flags, ...)
	__attribute__((alias("openat")));

/* _FORTIFY_SOURCE routes open() with non-constant flags here */
int __open_2(const char *path, int flags);
int __open_2(const char *path, int flags)
{
	return open(path, flags);
}

int __open64_2(const char *path, int flags)
	__attribute__((alias("__open_2")));

int memfd_create(const char *name, unsigned int flags)
{
	int fd;

	kho_preload_resolve();
	fd = real_memfd_create(name, flags);
	kho_preload_opened(fd, NULL);
	return fd;
}

/*
 * Whether the file behind @fd, about to be closed or duplicated by a
 * signal handler, is nothing to the record: not open, a pipe or a
 * socket (neither a device nor a memfd).  fstat() is async-signal-safe.
 */
static bool kho_preload_untracked(int fd)
{
	struct stat st;

	return fstat(fd, &st) < 0 || S_ISFIFO(st.st_mode) ||
	       S_ISSOCK(st.st_mode);
}

/* close() from a handler that interrupted a recorded ioctl */
static __attribute__((noinline, cold)) int
kho_preload_close_reentered(struct kho_record *rec, int fd)
{
	bool untracked = kho_preload_untracked(fd);
	int ret = real_close(fd), err = errno;

	if ((ret == 0 || err != EBADF) && !untracked)
		kho_record_note_reentry(rec, KHO_RECORD_REENTRY_CLOSE, 0, fd);
	errno = err;
	return ret;
}

/* A dup of @oldfd onto @newfd (-1: any) from such a handler. */
static void kho_preload_dup_reentered(struct kho_record *rec, int oldfd,
				      int newfd, bool untracked)
{
	int err = errno;

	if (newfd >= 0 && !untracked)
		kho_record_note_reentry(rec, KHO_RECORD_REENTRY_DUP, 0, oldfd);
	errno = err;
}

int close(int fd)
{
	struct kho_record *rec = kho_preload_active();
	int ret, err;

	if (!rec)
		return real_close(fd);
	if (kho_record_reentered())
		return kho_preload_close_reentered(rec, fd);
	/*
	 * The recorder's memfd references are invisible to the VMM: a close
	 * of one (a close-every-fd loop) gets what a free number gives.
	 */
	if (kho_record_fd_internal(rec, fd)) {
		errno = EBADF;
		return -1;
	}
	ret = real_close(fd);
	err = errno;
	/* EINTR/EIO still release the fd on Linux */
	if (ret == 0 || err != EBADF)
		kho_record_fd_closed(rec, fd);
	errno = err;
	return ret;
}

int dup(int oldfd)
{
	struct kho_record *rec = kho_preload_active();
	int fd, err;

	if (rec && kho_record_reentered()) {
		bool untracked = kho_preload_untracked(oldfd);

		fd = real_dup(oldfd);
		kho_preload_dup_reentered(rec, oldfd, fd, untracked);
		return fd;
	}
	fd = real_dup(oldfd);
	err = errno;
	if (fd >= 0 && rec) {
		kho_record_fd_dup(rec, oldfd, fd);
		errno = err;
	}
	return fd;
}

static int kho_preload_dup_to(int oldfd, int newfd, int flags, bool three)
{
	struct kho_record *rec = kho_preload_active();
	int fd, err;

	if (rec && kho_record_reentered()) {
		/* what @newfd was is closed by the call */
		bool untracked = kho_preload_untracked(oldfd) &&
				 kho_preload_untracked(newfd);

		fd = three ? real_dup3(oldfd, newfd, flags) :
			     real_dup2(oldfd, newfd);
		if (newfd != oldfd)
			kho_preload_dup_reentered(rec, oldfd, fd, untracked);
		return fd;
	}
	/* replacing a recorder reference would drop a memfd capture needs */
	if (rec && newfd != oldfd && kho_record_fd_internal(rec, newfd)) {
		errno = EBUSY;
		return -1;
	}
	fd = three ? real_dup3(oldfd, newfd, flags) : real_dup2(oldfd, newfd);
	err = errno;
	if (fd >= 0 && rec) {
		kho_record_fd_dup(rec, oldfd, fd);
		errno = err;
	}
	return fd;
}

int dup2(int oldfd, int newfd)
{
	return kho_preload_dup_to(oldfd, newfd, 0, false);
}

int dup3(int oldfd, int newfd, int flags)
{
	return kho_preload_dup_to(oldfd, newfd, flags, true);
}

int fcntl(int fd, int cmd, ...)
{
	struct kho_record *rec;
	unsigned long arg;
	va_list ap;
	bool dupfd = cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC;
	int ret, err;

	va_start(ap, cmd);
	arg = va_arg(ap, unsigned long);
	va_end(ap);
	kho_preload_resolve();
	if (dupfd && kho_preload_rec && kho_record_reentered()) {
		bool untracked = kho_preload_untracked(fd);

		ret = real_fcntl(fd, cmd, arg);
		kho_preload_dup_reentered(kho_preload_rec, fd, ret, untracked);
		return ret;
	}
	ret = real_fcntl(fd, cmd, arg);
	if (ret >= 0 && dupfd && (rec = kho_preload_active())) {
		err = errno;
		kho_record_fd_dup(rec, fd, ret);
		errno = err;
	}
	return ret;
}

int fcntl64(int fd, int cmd, ...) __attribute__((alias("fcntl")));

/*
 * A VMM closing "every fd from 3" before it execs a helper, or from a
 * child: the fds leave the table like close()'s, and the recorder's own
 * references stay open (kho_record_close_range()).
 */
int close_range(unsigned int first, unsigned int last, int flags)
{
	struct kho_record *rec = kho_preload_active();
	int ret, err;

	if (!rec)
		return real_close_range(first, last, flags);
	if (kho_record_reentered()) {
		ret = real_close_range(first, last, flags);
		err = errno;
		if (!ret && !(flags & CLOSE_RANGE_CLOEXEC))
			kho_record_note_reentry(rec,
						KHO_RECORD_REENTRY_CLOSE_RANGE,
						0, (int)first);
		errno = err;
		return ret;
	}
	return kho_record_close_range(rec, first, last, flags,
				      real_close_range);
}

/*
 * closefrom(3) is close_range(lowfd, ~0U, 0) where the kernel has it
 * (5.9 and later); libc's own call to it bypasses the wrapper above, so
 * it is wrapped too.  Where close_range fails, libc's fallback runs.
 */
void closefrom(int lowfd)
{
	int err = errno;

	kho_preload_resolve();
	if (lowfd < 0)
		lowfd = 0;
	if (close_range((unsigned int)lowfd, ~0U, 0) < 0)
		real_closefrom(lowfd);
	errno = err;
}

static void kho_preload_maps_changed(void)
{
	struct kho_record *rec = kho_preload_active();
	int err = errno;

	if (rec) {
		kho_record_maps_changed(rec);
		errno = err;
	}
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	void *p;

	kho_preload_resolve();
	p = real_mmap(addr, len, prot, flags, fd, off);
	if (p != MAP_FAILED)
		kho_preload_maps_changed();
	return p;
}

void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
	__attribute__((alias("mmap")));

int munmap(void *addr, size_t len)
{
	int ret;

	kho_preload_resolve();
	ret = real_munmap(addr, len);
	if (!ret)
		kho_preload_maps_changed();
	return ret;
}

void *mremap(void *old, size_t old_len, size_t new_len, int flags, ...)
{
	void *new_addr = NULL, *p;
	va_list ap;

	va_start(ap, flags);
	if (flags & MREMAP_FIXED)
		new_addr = va_arg(ap, void *);
	va_end(ap);
	kho_preload_resolve();
	p = real_mremap(old, old_len, new_len, flags, new_addr);
	if (p != MAP_FAILED)
		kho_preload_maps_changed();
	return p;
}
