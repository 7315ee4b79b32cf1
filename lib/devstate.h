/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A passed-through device's state, carried across the kexec through the
 * VFIO migration v2 FSM (issue #15, docs/device-state.md): saved out of
 * the device into a memfd before, written back into it after.
 *
 * The driver steps the FSM one arc at a time, choosing each next state
 * as the kernel's vfio_mig_get_next_state() does for a combination
 * transition, so that every SET is one arc the driver implements, the
 * arcs taken are recorded (the hand-off's fsm-path), and a failure names
 * the arc that failed.  Everything the kernel is asked goes through
 * struct kho_devstate_ops, so that the unit tests drive it against a
 * fake device that checks the arcs the way the kernel does.
 */
#ifndef KHO_DEVSTATE_H
#define KHO_DEVSTATE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "kho.h"

/* A device that streams more than this is refused (-EFBIG). */
#define KHO_DEVSTATE_MAX	(1ull << 30)
/* PRE_COPY rounds before STOP_COPY is taken regardless. */
#define KHO_DEVSTATE_PRECOPY_ROUNDS	8

/*
 * The kernel, for one device.  Each returns 0 (read/write: the count)
 * or a negative errno, like the syscall it stands for.
 */
struct kho_devstate_ops {
	int (*ioctl)(void *ctx, int fd, unsigned long req, void *arg);
	ssize_t (*read)(void *ctx, int fd, void *buf, size_t len);
	ssize_t (*write)(void *ctx, int fd, const void *buf, size_t len);
};

/* The real syscalls. */
extern const struct kho_devstate_ops kho_devstate_sys;

struct kho_devstate {
	int devfd;			/* a bound VFIO device fd */
	const struct kho_devstate_ops *ops;
	void *ctx;
	uint32_t mig_flags;		/* VFIO_MIGRATION_*, as probed */
	uint32_t state;			/* as last set or read */
	int datafd;			/* the open data session, or -1 */
	uint32_t path[KHO_DEVSTATE_PATH_MAX];	/* states, first = start */
	unsigned int path_len;
	uint64_t length;		/* bytes through the data fd */
	uint64_t precopy_length;	/* of which read in PRE_COPY */
	uint64_t stop_copy_estimate;	/* MIG_DATA_SIZE before STOP_COPY */
	uint32_t crc32;			/* zlib crc32 of those bytes */
};

/**
 * kho_devstate_init() - a device about to be saved or loaded
 * @ds:        out
 * @devfd:     the device's bound VFIO fd (not owned: never closed here)
 * @mig_flags: its VFIO_MIGRATION_* flags (kho_vfio_migration_query())
 * @ops:       the kernel: &kho_devstate_sys, or a test's fake
 * @ctx:       passed to @ops
 */
void kho_devstate_init(struct kho_devstate *ds, int devfd, uint32_t mig_flags,
		       const struct kho_devstate_ops *ops, void *ctx);

/**
 * kho_devstate_close() - end any data session; the device stays as it is
 * @ds: the device
 */
void kho_devstate_close(struct kho_devstate *ds);

/**
 * kho_devstate_next() - the next arc toward a state, as the kernel picks it
 * @mig_flags: the device's VFIO_MIGRATION_* flags
 * @cur:       its state
 * @target:    the state wanted
 * @next:      out: the state one arc away from @cur on the way to @target
 *             (@cur itself when @cur == @target)
 *
 * Linux's vfio_mig_get_next_state() (drivers/vfio/vfio_main.c): the
 * shortest path, no saving-group state in its interior, states the
 * device does not support skipped.
 *
 * Return: 0; -EINVAL (a state out of range or not supported by the
 * device, or the transition is blocked: STOP_COPY -> PRE_COPY, anything
 * from or to ERROR).
 */
int kho_devstate_next(uint32_t mig_flags, uint32_t cur, uint32_t target,
		      uint32_t *next);

/**
 * kho_devstate_path_check() - is a recorded FSM path one a save takes?
 * @mig_flags: the device's VFIO_MIGRATION_* flags
 * @path:      the states, start first
 * @n:         how many
 * @bad:       out: on -EINVAL, the index of the first state that is wrong
 *             (0 for the start, @n for a path too short or too long)
 *
 * A save's path starts RUNNING, ends STOP_COPY, and each step is the arc
 * kho_devstate_next() takes toward STOP_COPY, PRE_COPY (a save that
 * pre-copies) or STOP_COPY again.
 *
 * Return: 0; -EINVAL.
 */
int kho_devstate_path_check(uint32_t mig_flags, const uint32_t *path,
			    size_t n, size_t *bad);

/**
 * kho_devstate_name() - a state's name, as the uapi spells it
 * @state: enum vfio_device_mig_state
 *
 * Return: "RUNNING", "PRE_COPY", ...; "?" for a value out of range.
 */
const char *kho_devstate_name(uint32_t state);

/**
 * kho_devstate_get() - read the device's state
 * @ds:    the device; @ds->state is updated
 * @state: out, may be NULL
 *
 * Return: 0; the -errno of VFIO_DEVICE_FEATURE (-ENOTTY: no migration).
 */
int kho_devstate_get(struct kho_devstate *ds, uint32_t *state);

/**
 * kho_devstate_walk() - take the device to a state, one arc per SET
 * @ds:     the device, in @ds->state
 * @target: the state wanted
 * @diag:   why it failed, or NULL
 *
 * Each arc that opens a data session (into PRE_COPY, PRE_COPY_P2P from
 * RUNNING(_P2P), STOP_COPY from STOP, RESUMING) must return a data fd,
 * which @ds keeps; an arc leaving the saving group or RESUMING closes it.
 * Each state entered is appended to @ds->path.  On failure @ds->state is
 * read back from the device (a failed SET may have moved it, even into
 * ERROR).
 *
 * Return: 0; -EINVAL (@target unreachable, see kho_devstate_next());
 * -EPROTO (the kernel broke the uapi: no data fd where an arc opens a
 * session, or a second one inside it); -E2BIG (@ds->path is full); the
 * -errno of the failed SET.
 */
int kho_devstate_walk(struct kho_devstate *ds, uint32_t target,
		      struct kho_diag *diag);

/**
 * kho_devstate_precopy() - RUNNING to PRE_COPY, and read what is ready
 * @ds:    the device, RUNNING, offering VFIO_MIGRATION_PRE_COPY
 * @out:   the memfd the data is appended to
 * @diag:  why it failed, or NULL
 *
 * Reads the data fd to its temporary end (read() 0 or ENOMSG) in rounds,
 * asking VFIO_MIG_GET_PRECOPY_INFO before each, until initial_bytes is 0
 * and dirty_bytes no longer shrinks, or KHO_DEVSTATE_PRECOPY_ROUNDS.  The
 * guest keeps running: this is the part of the data that moves before it
 * stops.  Leaves the device in PRE_COPY, the session open.
 *
 * Return: 0; -EOPNOTSUPP (the device does not offer PRE_COPY); -EINVAL
 * (not RUNNING); -EFBIG (above KHO_DEVSTATE_MAX); the errors of
 * kho_devstate_walk(); the -errno of the ioctl, read or write.
 */
int kho_devstate_precopy(struct kho_devstate *ds, int out,
			 struct kho_diag *diag);

/**
 * kho_devstate_stop_copy() - to STOP_COPY, and read the rest to its end
 * @ds:   the device, RUNNING or PRE_COPY (after kho_devstate_precopy());
 *        the VMM must be stopped: the device stops on the way
 * @out:  the memfd the data is appended to
 * @diag: why it failed, or NULL
 *
 * Asks VFIO_DEVICE_FEATURE_MIG_DATA_SIZE first (the estimate is kept in
 * @ds and reported), then walks to STOP_COPY and reads until read()
 * returns 0.  The device stays in STOP_COPY: the kexec follows, or
 * kho_devstate_recover() on any failure.
 *
 * Return: 0; -EPROTO (ENOMSG in STOP_COPY, which the uapi forbids);
 * -EFBIG; the errors of kho_devstate_walk(); the -errno of the ioctl,
 * read or write.
 */
int kho_devstate_stop_copy(struct kho_devstate *ds, int out,
			   struct kho_diag *diag);

/**
 * kho_devstate_memfd() - the memfd a device's data is saved into
 * @name: its memfd name ("kho-devstate:0000:00:03.0")
 *
 * Return: the fd (sealable, close-on-exec); the -errno of memfd_create.
 */
int kho_devstate_memfd(const char *name);

/**
 * kho_devstate_seal() - freeze the saved data before LUO preserves it
 * @ds:   the device the data came from (@ds->length is the size)
 * @fd:   the memfd of kho_devstate_memfd()
 * @diag: why it failed, or NULL
 *
 * Sets the size to exactly @ds->length and seals it (SHRINK, GROW, WRITE,
 * SEAL: LUO's memfd handler accepts them).
 *
 * Return: 0; -EIO (the memfd's size is not what was written); the -errno
 * of ftruncate or fcntl.
 */
int kho_devstate_seal(struct kho_devstate *ds, int fd, struct kho_diag *diag);

/**
 * kho_devstate_recover() - a failed save: back to RUNNING
 * @ds:   the device, in whatever state the failure left it
 * @diag: what was done, or why it failed; NULL allowed
 *
 * Closes the data session, reads the state back and walks to RUNNING
 * (STOP_COPY -> STOP -> ... -> RUNNING).  A device in ERROR, or one the
 * walk cannot bring back, is reset (VFIO_DEVICE_RESET), which the uapi
 * makes the way out of ERROR; the message then says the device was
 * reset.  The guest never notices the first case.
 *
 * Return: 0 (RUNNING, state kept); -ECANCELED (RUNNING after a reset:
 * the device's state is lost); the -errno of the reset or of the final
 * GET if even that failed.
 */
int kho_devstate_recover(struct kho_devstate *ds, struct kho_diag *diag);

/**
 * kho_devstate_load() - write saved data back into the device
 * @ds:     the device after the kexec: bound, RUNNING (as opened) or STOP
 * @in:     the memfd the data was saved into
 * @length: the hand-off's byte count
 * @crc32:  the hand-off's crc32 of the data
 * @diag:   why it failed, or NULL
 *
 * Checks the memfd against @length and @crc32 before the device is
 * touched.  Then walks to RESUMING, writes the bytes to the data fd,
 * and walks to STOP, the arc on which the driver loads the state and
 * refuses a bad one.  On failure after the device was touched, the
 * device is recovered to RUNNING (reset if needed) without the state.
 *
 * Return: 0 (the device in STOP, loaded); -EBADMSG (memfd shorter or
 * longer than @length, or its crc32 differs); -EFBIG; the errors of
 * kho_devstate_walk(); the -errno of pread or write.
 */
int kho_devstate_load(struct kho_devstate *ds, int in, uint64_t length,
		      uint32_t crc32, struct kho_diag *diag);

/**
 * kho_devstate_memfd_check() - a state's memfd against the hand-off
 * @in:     the memfd
 * @length: the hand-off's byte count
 * @crc32:  the hand-off's crc32 of the data
 * @diag:   why not, or NULL
 *
 * kho_devstate_load() asks before it touches the device, verification
 * again after the resume (lib/verify.h).
 *
 * Return: 0; -EBADMSG (the memfd's size or crc32 differs); the -errno of
 * fstat or pread (-EIO: the memfd ended early).
 */
int kho_devstate_memfd_check(int in, uint64_t length, uint32_t crc32,
			     struct kho_diag *diag);

/**
 * kho_devstate_resume() - a loaded device to RUNNING, and check it
 * @ds:   the device after kho_devstate_load()
 * @diag: why it failed, or NULL
 *
 * Walks to RUNNING, then reads the state back: verification wants it
 * RUNNING before the VMM adopts the device.
 *
 * Return: 0; -EILSEQ (the device reads back in another state); the
 * errors of kho_devstate_walk() and kho_devstate_get().
 */
int kho_devstate_resume(struct kho_devstate *ds, struct kho_diag *diag);

/**
 * kho_devstate_path_str() - FSM states for people: "RUNNING -> PRE_COPY"
 * @path: the states (@ds->path, or a hand-off's fsm-path)
 * @n:    how many
 * @buf:  out
 * @size: room in @buf; 160 bytes hold KHO_DEVSTATE_PATH_MAX states
 *
 * Return: @buf.
 */
const char *kho_devstate_path_str(const uint32_t *path, size_t n, char *buf,
				  size_t size);

#endif /* KHO_DEVSTATE_H */
