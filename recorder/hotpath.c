// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The ioctl path: the wrapper's one call into the record, and the fast
 * path that journals a VMM's MAP, MAP_FILE and UNMAP churn in place
 * (docs/recorder.md, "The hot path").  Everything else goes to note.c.
 */
#include <errno.h>
#include <linux/futex.h>
#include <linux/iommufd.h>
#include "compat.h"
#include <linux/vfio.h>
#include <stddef.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "canon.h"
#include "internal.h"

static inline __attribute__((always_inline)) void
kho_record_prepare_inline(unsigned long cmd, const void *arg,
			  struct kho_record_call *call)
{
	uint32_t size;

	call->cmd = cmd;
	call->in_len = 0;
	if (!arg)
		return;
	/* never read past what the caller said it passed */
	memcpy(&size, arg, sizeof(size));
	/*
	 * The usual case, a caller passing exactly the struct it knows:
	 * fixed-size copies the compiler inlines.
	 */
	if (cmd == IOMMU_IOAS_UNMAP && size == sizeof(struct iommu_ioas_unmap)) {
		_Static_assert(sizeof(struct iommu_ioas_unmap) <= sizeof(call->in),
			       "call->in holds an UNMAP argument");
		memcpy(call->in, arg, sizeof(struct iommu_ioas_unmap));
		memset(call->in + sizeof(struct iommu_ioas_unmap), 0,
		       sizeof(call->in) - sizeof(struct iommu_ioas_unmap));
		call->in_len = sizeof(struct iommu_ioas_unmap);
		return;
	}
	if (cmd != IOMMU_IOAS_UNMAP && cmd != VFIO_DEVICE_ATTACH_IOMMUFD_PT)
		return;
	if (size > sizeof(call->in))
		size = sizeof(call->in);
	memset(call->in, 0, sizeof(call->in));
	call->in_len = size;
	memcpy(call->in, arg, size);
}

void kho_record_prepare(unsigned long cmd, const void *arg,
			struct kho_record_call *call)
{
	kho_record_prepare_inline(cmd, arg, call);
}

/*
 * The fast path's records, written field by field with the padding
 * zeroed, every byte as kho_canon_ioctl_inout() leaves it (the capture
 * compares records whole with the kernel's journal).  memset() plus the
 * fields compiled to a rep stos, one instruction per word under TCG.
 * The asserts pin the layout the stores cover.
 */
_Static_assert(offsetof(struct kho_rec, map.flags) == 8 &&
	       offsetof(struct kho_rec, map.iova) == 40 &&
	       offsetof(struct kho_rec, unmap.ioas_id) == 8 &&
	       offsetof(struct kho_rec, unmap.iova) == 16 &&
	       offsetof(struct kho_rec, unmap.out_length) == 32 &&
	       sizeof(struct kho_rec) == 48,
	       "the fast path writes every byte of a MAP or UNMAP record");

/*
 * The hot path: MAP_FILE, MAP by VA and UNMAP on the fd the full path
 * last journaled on (rec->hot_fd, an fd of the journal's own iommufd),
 * with an argument of exactly the struct's size, a memfd (or VA range)
 * already resolved, nothing refused and room in the journal.  A
 * VMM's DMA map/unmap churn is all of this kind.  It writes the record
 * kho_canon_ioctl_inout() would have written straight into the journal:
 * no size table, no resolver calls, no copy of a temporary.  Anything
 * else takes the full path.  @unmap_len: UNMAP's length as passed in (the
 * kernel overwrote it with the bytes unmapped), NULL if not known.
 * Return: 0 journaled, 1 not handled.
 */
static inline __attribute__((always_inline)) int
kho_record_note_fast(struct kho_record *rec, int fd, unsigned long cmd,
		     const void *arg, const uint64_t *unmap_len)
{
	struct kho_journal *j = &rec->journal;
	struct kho_rec *r;

	if (fd != rec->hot_fd || j->nr == j->cap)
		return 1;
	r = &j->recs[j->nr];
	switch (cmd) {
	case IOMMU_IOAS_MAP_FILE: {
		const struct iommu_ioas_map_file *a = arg;
		uint64_t token;

		if (a->size != sizeof(*a) || a->fd < 0 ||
		    (size_t)a->fd >= rec->nr_fds)
			return 1;
		token = rec->fds[a->fd].memfd_token;
		if (!token)
			return 1;
		kho_canon_put_map(r, &a->flags, token, a->start, a->length,
				   a->iova);
		break;
	}
	case IOMMU_IOAS_MAP: {
		const struct iommu_ioas_map *a = arg;
		const struct kho_record_va_hit *hit = &rec->va_hit;

		if (a->size != sizeof(*a) || !a->length ||
		    __atomic_load_n(&rec->maps_stale, __ATOMIC_RELAXED) ||
		    a->user_va < hit->start || a->user_va >= hit->end ||
		    a->length > hit->end - a->user_va)
			return 1;
		kho_canon_put_map(r, &a->flags, hit->token,
				   hit->off + (a->user_va - hit->start),
				   a->length, a->iova);
		break;
	}
	case IOMMU_IOAS_UNMAP: {
		const struct iommu_ioas_unmap *a = arg;

		/* a refused area may be what this UNMAP removes */
		if (a->size != sizeof(*a) || rec->nr_refused || !unmap_len)
			return 1;
		/* a VMM's churn: the pair leaves nothing to journal */
		if (kho_journal_cancels_tail(j, a->ioas_id, a->iova,
					     *unmap_len, a->length)) {
			j->nr--;
			rec->nr_elided++;
			return 0;
		}
		kho_canon_put_unmap(r, a->ioas_id, a->iova, *unmap_len,
				     a->length);
		break;
	}
	default:
		return 1;
	}
	j->nr++;
	return 0;
}

/* UNMAP's length as passed in, if @call saved it. */
static inline const uint64_t *
kho_record_call_unmap_len(unsigned long cmd, const struct kho_record_call *call)
{
	if (cmd != IOMMU_IOAS_UNMAP || !call || call->cmd != cmd ||
	    call->in_len != sizeof(struct iommu_ioas_unmap))
		return NULL;
	return (const uint64_t *)(call->in +
				  offsetof(struct iommu_ioas_unmap, length));
}

int kho_record_note(struct kho_record *rec, int fd, unsigned long cmd,
		    const void *arg, const struct kho_record_call *call)
{
	int ret;

	kho_record_lock(rec);
	ret = !arg || kho_record_note_fast(rec, fd, cmd, arg,
					   kho_record_call_unmap_len(cmd, call));
	if (ret)
		ret = kho_record_note_locked(rec, fd, cmd, arg, call);
	kho_record_unlock(rec);
	return ret;
}

/*
 * A hot ioctl the fast path could not journal (the first MAP of a range,
 * a journal that must grow, ...): the full path, with the call that
 * kho_record_prepare() would have saved rebuilt from @unmap_len (the
 * kernel changes no other field of UNMAP's argument), and errno kept,
 * since the full path makes system calls.  Out of line, so that the hit
 * path keeps few registers.
 */
static __attribute__((noinline)) void
kho_record_note_hot_miss(struct kho_record *rec, int fd, unsigned long cmd,
			 const void *arg, uint64_t unmap_len)
{
	struct kho_record_call call;
	int err = errno;

	memset(&call, 0, sizeof(call));
	call.cmd = cmd;
	if (cmd == IOMMU_IOAS_UNMAP) {
		struct iommu_ioas_unmap in;

		memcpy(&in, arg, sizeof(in));
		in.length = unmap_len;
		memcpy(call.in, &in, sizeof(in));
		call.in_len = sizeof(in);
	}
	kho_record_note_locked(rec, fd, cmd, arg, &call);
	errno = err;
}

/*
 * The ioctl system call itself, for a caller whose next ioctl is libc's
 * (kho_record_ioctl_via() with @real NULL): on x86-64 and arm64 libc's
 * ioctl is a bare system call stub, so issuing the call here changes
 * nothing but its cost.  A system call clobbers only the registers named
 * below, so the hot path keeps rec, fd and arg where they arrived across
 * it: no stack frame, no callee-saved register saved and restored.
 * Return: the kernel's result or -errno.
 */
#if defined(__x86_64__)
#define KHO_RECORD_SYS_IOCTL 1
static inline long kho_record_sys_ioctl(int fd, unsigned long cmd, void *arg)
{
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "0"((long)SYS_ioctl), "D"((long)fd), "S"(cmd),
			   "d"(arg)
			 : "rcx", "r11", "memory");
	return ret;
}
#elif defined(__aarch64__)
#define KHO_RECORD_SYS_IOCTL 1
static inline long kho_record_sys_ioctl(int fd, unsigned long cmd, void *arg)
{
	register long x8 __asm__("x8") = SYS_ioctl;
	register long x0 __asm__("x0") = fd;
	register unsigned long x1 __asm__("x1") = cmd;
	register void *x2 __asm__("x2") = arg;

	__asm__ volatile("svc 0"
			 : "+r"(x0)
			 : "r"(x8), "r"(x1), "r"(x2)
			 : "memory");
	return x0;
}
#endif

bool kho_record_can_syscall(void)
{
#ifdef KHO_RECORD_SYS_IOCTL
	return true;
#else
	return false;
#endif
}

/* A failed system call, as libc reports it. */
static __attribute__((noinline, cold)) int kho_record_sys_failed(long ret)
{
	errno = (int)-ret;
	return -1;
}

/* @real(fd, cmd, arg), or the system call itself when @real is NULL. */
static inline __attribute__((always_inline)) int
kho_record_real_ioctl(int (*real)(int, unsigned long, ...), int fd,
		      unsigned long cmd, void *arg)
{
#ifdef KHO_RECORD_SYS_IOCTL
	if (!real) {
		long ret = kho_record_sys_ioctl(fd, cmd, arg);

		return ret < 0 ? kho_record_sys_failed(ret) : (int)ret;
	}
#endif
	return real(fd, cmd, arg);
}

/*
 * The hot path's slow ends, each a tail call, so that the path itself
 * makes no call and keeps no register across one: the lock contended,
 * the call not journaled fast, a waiter to wake.  Those that do more
 * than the fast path block signals first (kho_record_enter()), as
 * kho_record_lock() does: what follows may allocate, read /proc and
 * call the wrappers for the recorder's own files.
 */
static __attribute__((noinline, cold)) int
kho_record_hot_contended(struct kho_record *rec, int fd, unsigned long cmd,
			 void *arg, uint64_t unmap_len, int ret)
{
	kho_record_enter();
	kho_record_lock_wait(rec, 1);
	if (kho_record_note_fast(rec, fd, cmd, arg, &unmap_len))
		kho_record_note_hot_miss(rec, fd, cmd, arg, unmap_len);
	kho_record_unlock(rec);
	kho_record_depth -= KHO_RECORD_INFLIGHT;
	return ret;
}

static __attribute__((noinline)) int
kho_record_hot_missed(struct kho_record *rec, int fd, unsigned long cmd,
		      void *arg, uint64_t unmap_len, int ret)
{
	kho_record_enter();
	kho_record_note_hot_miss(rec, fd, cmd, arg, unmap_len);
	kho_record_unlock(rec);
	kho_record_depth -= KHO_RECORD_INFLIGHT;
	return ret;
}

static __attribute__((noinline, cold)) int
kho_record_hot_unmap_failed(struct kho_record *rec, int fd, const void *arg,
			    uint64_t unmap_len, int ret)
{
	struct iommu_ioas_unmap in;

	memcpy(&in, arg, sizeof(in));	/* a failed call writes nothing back */
	in.length = unmap_len;
	kho_record_unmap_failed(rec, fd, &in, errno);
	kho_record_depth -= KHO_RECORD_INFLIGHT;
	return ret;
}

static __attribute__((noinline, cold)) int
kho_record_hot_wake(struct kho_record *rec, int ret)
{
	kho_record_futex(&rec->lock, FUTEX_WAKE, 1);
	kho_record_depth -= KHO_RECORD_INFLIGHT;
	return ret;
}

/*
 * MAP, MAP_FILE and UNMAP, the calls a VMM repeats: nothing is copied
 * before the call but UNMAP's length, and on the fast path nothing
 * touches errno, so it needs no saving.  One out-of-line copy per
 * command and way of calling (below), each with @cmd a constant: no
 * dispatch after the call, and, with the system call issued here, no
 * stack frame at all.  The lock is kho_record_lock()/_unlock() spelt
 * out, so that their slow ends are tail calls too, and taken with
 * signals open (blocking them is two system calls): from before the
 * call until the record is written, KHO_RECORD_INFLIGHT tells a handler
 * that runs in between that it interrupted this (kho_record_reentered()).
 */
static inline __attribute__((always_inline)) int
kho_record_ioctl_hot(struct kho_record *rec,
		     int (*real)(int, unsigned long, ...), int fd,
		     unsigned long cmd, void *arg)
{
	uint64_t unmap_len = 0;
	int c = 0, ret;

	if (cmd == IOMMU_IOAS_UNMAP)
		unmap_len = ((const struct iommu_ioas_unmap *)arg)->length;
	kho_record_depth += KHO_RECORD_INFLIGHT;
	ret = kho_record_real_ioctl(real, fd, cmd, arg);
	if (ret < 0) {
		if (cmd == IOMMU_IOAS_UNMAP)
			return kho_record_hot_unmap_failed(rec, fd, arg,
							   unmap_len, ret);
		kho_record_depth -= KHO_RECORD_INFLIGHT;
		return ret;
	}
	if (!__atomic_compare_exchange_n(&rec->lock, &c, 1, false,
					 __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
		return kho_record_hot_contended(rec, fd, cmd, arg, unmap_len,
						ret);
	if (kho_record_note_fast(rec, fd, cmd, arg, &unmap_len))
		return kho_record_hot_missed(rec, fd, cmd, arg, unmap_len, ret);
	if (__atomic_exchange_n(&rec->lock, 0, __ATOMIC_RELEASE) == 2)
		return kho_record_hot_wake(rec, ret);
	kho_record_depth -= KHO_RECORD_INFLIGHT;
	return ret;
}

/* @call: real, the ioctl the caller passed; NULL, the system call itself */
#define KHO_RECORD_IOCTL_HOT(name, cmd, call)				\
static __attribute__((noinline)) int					\
name(struct kho_record *rec, int (*real)(int, unsigned long, ...),	\
     int fd, void *arg)							\
{									\
	return kho_record_ioctl_hot(rec, call, fd, cmd, arg);		\
}
KHO_RECORD_IOCTL_HOT(kho_record_ioctl_map, IOMMU_IOAS_MAP, real)
KHO_RECORD_IOCTL_HOT(kho_record_ioctl_map_file, IOMMU_IOAS_MAP_FILE, real)
KHO_RECORD_IOCTL_HOT(kho_record_ioctl_unmap, IOMMU_IOAS_UNMAP, real)
#ifdef KHO_RECORD_SYS_IOCTL
KHO_RECORD_IOCTL_HOT(kho_record_sys_map, IOMMU_IOAS_MAP, NULL)
KHO_RECORD_IOCTL_HOT(kho_record_sys_map_file, IOMMU_IOAS_MAP_FILE, NULL)
KHO_RECORD_IOCTL_HOT(kho_record_sys_unmap, IOMMU_IOAS_UNMAP, NULL)
#else
#define kho_record_sys_map kho_record_ioctl_map
#define kho_record_sys_map_file kho_record_ioctl_map_file
#define kho_record_sys_unmap kho_record_ioctl_unmap
#endif

static int kho_record_ioctl_full(struct kho_record *rec,
				 int (*real)(int, unsigned long, ...), int fd,
				 unsigned long cmd, void *arg);

/*
 * An ioctl from a signal handler that interrupted a recorded ioctl on
 * this thread: the lock may be this thread's, so the call cannot be
 * journaled; and since the kernel ran it after (or before) the one
 * interrupted, which is not journaled yet, it cannot be journaled later
 * in its place either.  If it changed what the journal describes, the
 * journal says so by name.
 */
static __attribute__((noinline, cold)) int
kho_record_ioctl_reentered(struct kho_record *rec,
			   int (*real)(int, unsigned long, ...), int fd,
			   unsigned long cmd, void *arg)
{
	int ret = kho_record_real_ioctl(real, fd, cmd, arg);
	int err = errno;

	/* a failed UNMAP may have removed some of its range */
	if (kho_record_cmd_known(cmd) &&
	    (ret >= 0 || (cmd == IOMMU_IOAS_UNMAP &&
			  (err == ENOENT || err == EBUSY))))
		kho_record_note_reentry(rec, KHO_RECORD_REENTRY_IOCTL, cmd, fd);
	errno = err;
	return ret;
}

int kho_record_ioctl_via(struct kho_record *rec,
			 int (*real)(int, unsigned long, ...), int fd,
			 unsigned long cmd, void *arg)
{
	if (kho_record_depth) {
		if (kho_record_depth & KHO_RECORD_OWN)
			return kho_record_real_ioctl(real, fd, cmd, arg);
		return kho_record_ioctl_reentered(rec, real, fd, cmd, arg);
	}
	/*
	 * Every iommufd argument starts with its u32 size; UNMAP's length is
	 * read only when the caller's struct has one.
	 */
	if (arg) {
		switch (cmd) {
		case IOMMU_IOAS_MAP:
			if (!real)
				return kho_record_sys_map(rec, real, fd, arg);
			return kho_record_ioctl_map(rec, real, fd, arg);
		case IOMMU_IOAS_MAP_FILE:
			if (!real)
				return kho_record_sys_map_file(rec, real, fd, arg);
			return kho_record_ioctl_map_file(rec, real, fd, arg);
		case IOMMU_IOAS_UNMAP:
			if (*(const uint32_t *)arg !=
			    sizeof(struct iommu_ioas_unmap))
				break;
			if (!real)
				return kho_record_sys_unmap(rec, real, fd, arg);
			return kho_record_ioctl_unmap(rec, real, fd, arg);
		}
	}
	return kho_record_ioctl_full(rec, real, fd, cmd, arg);
}

/*
 * Any other ioctl: the argument saved before the call, the full path
 * after it, errno kept.  Out of line, like kho_record_ioctl_hot(): each
 * saves only the registers it needs.
 */
static __attribute__((noinline)) int
kho_record_ioctl_full(struct kho_record *rec,
		      int (*real)(int, unsigned long, ...), int fd,
		      unsigned long cmd, void *arg)
{
	struct kho_record_call call;
	int ret, err;

	kho_record_prepare_inline(cmd, arg, &call);
	kho_record_depth += KHO_RECORD_INFLIGHT;
	ret = kho_record_real_ioctl(real, fd, cmd, arg);
	if (ret < 0) {
		kho_record_note_failed(rec, fd, cmd, &call, errno);
		kho_record_depth -= KHO_RECORD_INFLIGHT;
		return ret;
	}
	err = errno;
	kho_record_lock(rec);
	kho_record_note_locked(rec, fd, cmd, arg, &call);
	kho_record_unlock(rec);
	kho_record_depth -= KHO_RECORD_INFLIGHT;
	errno = err;
	return ret;
}

int kho_record_ioctl(struct kho_record *rec, int fd, unsigned long cmd,
		     void *arg)
{
	struct kho_record_call call;

	kho_record_prepare(cmd, arg, &call);
	if (ioctl(fd, cmd, arg) < 0) {
		int err = errno;

		kho_record_note_failed(rec, fd, cmd, &call, err);
		return -err;
	}
	kho_record_note(rec, fd, cmd, arg, &call);
	return 0;
}
