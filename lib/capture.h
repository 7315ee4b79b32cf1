/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Capture: turns a VMM's journal snapshot into the final hand-off and
 * preserves it through LUO.  The hand-off FDT goes into a sealed memfd
 * sized exactly to the blob (a preserved memfd cannot grow), preserved
 * under KHO_LUO_HANDOFF_TOKEN next to every guest-RAM memfd under its own
 * token, in one outgoing session KHO_LUO_SESSION.
 *
 * The session lives as long as its fd: whoever kexecs must keep the
 * capture alive until reboot(); kho_capture_release() unpreserves all.
 */
#ifndef KHO_CAPTURE_H
#define KHO_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "journal_sock.h"
#include "kho.h"

/* The most ABI strings a hand-off can depend on. */
#define KHO_CAPTURE_MAX_ABI 8

struct kho_capture {
	struct kho_handoff handoff;	/* state, compacted plan, metadata */
	void *blob;			/* the encoded FDT */
	size_t blob_len;
	int handoff_fd;			/* sealed memfd holding blob, or -1 */
	int luo_fd;			/* /dev/liveupdate, or -1 */
	int session_fd;			/* the outgoing session, or -1 */
	/*
	 * Set before kho_capture_preserve(): a session the service manager
	 * made and holds (kho_luo_listen_session()), preserved into instead
	 * of creating one; -1: open /dev/liveupdate and create it.
	 */
	int given_session;
	/*
	 * Memfds of the hand-off's table that are not the VMM's (a device's
	 * saved state, kho_capture_add_devstate()): after the snapshot's,
	 * in table order.  Owned.
	 */
	int *extra_fds;
	size_t nr_extra;
	size_t nr_preserved;		/* fds preserved in the session */
	/*
	 * Which poison ranges (handoff.poison, same index) preserve punched
	 * out of their memfds, and how many; kho_capture_unpunch() poisons
	 * them again unless poison_kept says a kexec takes them.
	 */
	bool *punched;
	size_t nr_punched;
	bool poison_kept;
	bool session_given;		/* preserved into given_session */
	bool iommufd_preserved;		/* the VMM's iommufd is one of them */
	/*
	 * Tests only: the last memfd's PRESERVE_FD fails with this -errno
	 * instead of reaching LUO (after its punch), 0: never.  kho-tool
	 * upgrade sets it from KHO_TOOL_TEST_FAIL_AT=preserve, so a VM test
	 * can prove the punched pages are poisoned again on that failure.
	 */
	int fail_last_memfd;
};

/**
 * kho_capture_build() - compact and encode a snapshot
 * @snap: what the VMM's recorder handed over, or NULL for a hand-off with
 *        no VMM state (an upgrade of a host without guests)
 * @cap:  out: the hand-off and its blob; release with kho_capture_release()
 * @diag: out: why it failed
 *
 * Checks every guest-RAM memfd can cross the kexec (a memfd on shmem, not
 * hugetlb, with seals LUO accepts) before anything is preserved, and each
 * recorded device with kho_capture_check_devices() against snap->pid.
 * Return: 0; -EOPNOTSUPP (a mapping LUO cannot carry: diag names the memfd
 * and why); -ENODEV (a recorded device is gone or changed); -EPERM (a
 * device the VMM does not hold); the errno of kho_compact() or
 * kho_handoff_encode(); -ENOMEM.
 */
int kho_capture_build(const struct kho_journal_snapshot *snap,
		      struct kho_capture *cap, struct kho_diag *diag);

/**
 * kho_capture_check_devices() - believe a VMM's device claims only if true
 * @s:     the compacted state; each device's driver is filled in
 * @pid:   the VMM that claims them (the journal socket's checked peer)
 * @sysfs: the sysfs mount, "/sys" but in tests
 * @diag:  out: the device, the VMM and the cause
 *
 * Each device must still be the PCI function the journal names, bound
 * to a driver, and @pid must hold an open fd of its VFIO cdev (a file in
 * /proc/PID/fd whose device number is vfio-dev/vfioN/dev's).  On a
 * kernel without the iommufd journal the claim is the VMM's word alone,
 * and after the kexec the root agent opens the device for the VMM's
 * uid.  A device held only through its legacy VFIO group is refused
 * (the journal binds through the cdev), by that name.  Devices with no
 * VMM (@pid 0) are refused.
 *
 * For each device it believes, it also asks the device, through a
 * duplicate of the VMM's cdev fd, for its VFIO migration v2 support
 * (kho_vfio_migration_query()) and records it in the device
 * (migration_probed, migration_flags; migration_err when the probe
 * failed, which does not fail the check).
 *
 * Return: 0; -ENODEV (gone, changed, no driver); -EPERM (not held, or
 * held only through the group); -ENOMEM; or the -errno of reading
 * /proc/PID/fd (-ESRCH: the VMM exited during the check).
 */
int kho_capture_check_devices(struct kho_state *s, pid_t pid,
			      const char *sysfs, struct kho_diag *diag);

/**
 * kho_capture_check_kjournal() - check the recorder against the kernel
 * @pid:  the recording VMM
 * @snap: its snapshot; sets snap->journal_source, which
 *        kho_capture_build() carries into the hand-off
 * @iommufd: NULL, or where to return the VMM's iommufd for preservation:
 *        on the kernel source, *@iommufd is the duplicate (the caller
 *        closes it) and snap->iommufd describes it (token
 *        KHO_LUO_IOMMUFD_TOKEN, the kernel journal's length, the inode ->
 *        memfd token of every file it names); otherwise -1 and no node
 * @userspace_journal: see below
 * @diag: out: why it failed, or the difference a degrade let through
 *
 * On a kernel with the iommufd journal (patches/, "iommufd-journal-v2")
 * reads the journal of the VMM's iommufd (pidfd_getfd(2)) and requires
 * the recorder's raw journal to be the same records: the kernel's is the
 * one the target verifies the replay against, and a VMM cannot bypass it.
 * The source is then KHO_JOURNAL_SOURCE_KERNEL.  On a vanilla kernel
 * (IOMMU_JOURNAL_READ fails with ENOTTY) the source is
 * KHO_JOURNAL_SOURCE_USER and nothing is checked.
 *
 * @userspace_journal (--userspace-journal): the operator chose the
 * recorder's record, unverified.  Then a kernel journal that differs or
 * that the kernel flagged does not stop the capture: the source is
 * KHO_JOURNAL_SOURCE_USER, 0 is returned and diag holds the difference,
 * which the caller prints as a warning.  Otherwise diag is left empty on
 * success.
 *
 * Return: 0 (either source); -EILSEQ (the journals differ: diag names the
 * first differing record); -EOPNOTSUPP (the kernel flagged its journal
 * not carried or incomplete); -ENOTUNIQ (the VMM holds several iommufds);
 * the -errno of pidfd_getfd(2) or IOMMU_JOURNAL_READ.
 */
int kho_capture_check_kjournal(pid_t pid, struct kho_journal_snapshot *snap,
			       int *iommufd, bool userspace_journal,
			       struct kho_diag *diag);

/**
 * kho_capture_write() - write the blob to a file
 * @cap:  the capture
 * @path: where, replaced atomically (kho_write_file())
 * @diag: out: the step that failed
 *
 * For inspection: without a kexec the session dies with the process.
 *
 * Return: 0, or as kho_write_file().
 */
int kho_capture_write(const struct kho_capture *cap, const char *path,
		      struct kho_diag *diag);

/**
 * kho_capture_preserve() - preserve the hand-off and the guest RAM
 * @cap:  the built capture; holds the session from here on
 * @snap: the snapshot it was built from, whose memfds are preserved
 * @iommufd: the VMM's iommufd (kho_capture_check_kjournal()) when the
 *        hand-off carries its node, else -1.  It is preserved last, under
 *        the node's token: from then on the kernel refuses the VMM's
 *        state-changing ioctls with EBUSY until the session is closed
 *        (kho_capture_release(), a failure here) or the kexec.  Its
 *        journal must still be the one the hand-off describes (same
 *        length, state PRESERVED), else the VMM changed it meanwhile.
 * @diag: out: the step and the file that failed
 *
 * Puts the blob into a sealed memfd and preserves it and the snapshot's
 * memfds in a new LUO session KHO_LUO_SESSION, or in @cap->given_session
 * when set.  A given session is also held by the service manager, so
 * closing it unpreserves nothing: on a failure there, what was already
 * preserved stays in it until its owner drops it (diag says so).
 *
 * Return: 0; -EBUSY (/dev/liveupdate held by another process); -EEXIST
 * (a session of that name exists); -ESTALE (the VMM's iommufd changed
 * after the capture); the -errno of memfd or LUO calls (diag names the
 * step and the file).  On failure nothing stays preserved, and the VMM's
 * iommufd records again.
 */
int kho_capture_preserve(struct kho_capture *cap,
			 const struct kho_journal_snapshot *snap, int iommufd,
			 struct kho_diag *diag);

/**
 * kho_capture_abi_needs() - the kernel hand-off ABIs a target must read
 * @h:   the hand-off to restore
 * @out: out: the compatible strings
 * @max: room in @out
 *
 * KHO, LUO and memfd always (the hand-off itself is a memfd), and
 * "iommufd-journal-v2" when @h carries the preserved iommufd.
 *
 * Return: the number of strings written to @out (at most @max).
 */
size_t kho_capture_abi_needs(const struct kho_handoff *h, const char **out,
			     size_t max);

/**
 * kho_capture_release() - close the session and free the capture
 * @cap: the capture; closing its session unpreserves everything in it
 */
void kho_capture_release(struct kho_capture *cap);

/*
 * What happens to the VMM's iommufd at a capture; see
 * kho_iommufd_policy().  A library decision: `kho-tool capture` and
 * `kho-tool upgrade` must make the same one.
 */
enum kho_iommufd_decision {
	KHO_IOMMUFD_NO_VMM,	/* nothing to decide: no --pid */
	KHO_IOMMUFD_USERSPACE,	/* running kernel has no iommufd journal */
	KHO_IOMMUFD_PRESERVE,	/* into the session: the kernel verifies */
	KHO_IOMMUFD_DEGRADED,	/* left out on request: unverified replay */
	KHO_IOMMUFD_REFUSED,	/* target lacks the handler, no degrade flag */
};

/**
 * kho_iommufd_policy() - whether the VMM's iommufd goes into the session
 * @have_vmm:          a VMM is captured (--pid)
 * @running_kjournal:  the running kernel journals iommufds
 * @target_kjournal:   the target image carries "iommufd-journal-v2", or
 *                     true when there is no target (`kho-tool capture`)
 * @userspace_journal: the operator asked to leave it out
 *
 * Return: the decision; it cannot fail.
 */
enum kho_iommufd_decision kho_iommufd_policy(bool have_vmm,
					     bool running_kjournal,
					     bool target_kjournal,
					     bool userspace_journal);

/**
 * kho_iommufd_decision_name() - the decision as --json prints it
 * @d: the decision
 *
 * Return: "no-vmm", "userspace", "preserve", "degraded", "refused", or
 * "?" for a value outside the enum.
 */
const char *kho_iommufd_decision_name(enum kho_iommufd_decision d);

/**
 * kho_capture_device_fd() - the VMM's own fd of a device, duplicated
 * @pid:   the VMM
 * @sysfs: the sysfs mount, "/sys" but in tests
 * @d:     a device kho_capture_check_devices() believed
 * @diag:  out: why not
 *
 * The fd the VMM bound to its iommufd (pidfd_getfd(2)): VFIO answers the
 * migration FSM only on a bound fd, and the state is the VMM's device's.
 *
 * Return: the fd (close-on-exec); -ENODEV; -EPERM (the VMM no longer
 * holds it); the -errno of pidfd_open or pidfd_getfd.
 */
int kho_capture_device_fd(pid_t pid, const char *sysfs,
			  const struct kho_device *d, struct kho_diag *diag);

/**
 * kho_capture_add_devstate() - carry a device's saved state in the hand-off
 * @cap:   a built capture, not yet preserved
 * @devid: the device's id in the hand-off
 * @fd:    the sealed memfd of the data; once in the table (any return
 *         but -ENOENT, -ENOMEM and the table's -EEXIST) the capture owns
 *         it and kho_capture_release() closes it
 * @saved: what the save recorded (length, flags, crc32, path); its
 *         memfd_token is set here
 * @precopy_length: of @saved->length, the bytes read in PRE_COPY
 * @diag:  out: why not
 *
 * Adds the memfd to the table under a token of its own
 * (KHO_DEVSTATE_TOKEN_BASE + devid), sets the device's device-state,
 * appends the save's arcs to the plan as DEVICE_MIG_STATE records
 * (lib/migrec.h), raises the hand-off to format 7 (5 is below it: an
 * mdev's needs are met) and encodes it again.
 *
 * Return: 0; -ENOENT (no such device); -EEXIST (the token is taken);
 * -EINVAL (@saved's path is shorter than one arc, or @precopy_length
 * above its length); the errno of kho_handoff_encode(); -ENOMEM.
 */
int kho_capture_add_devstate(struct kho_capture *cap, uint32_t devid, int fd,
			     struct kho_device_state *saved,
			     uint64_t precopy_length, struct kho_diag *diag);

/**
 * kho_capture_poison() - carry the VMM's poisoned guest pages
 * @cap:  a built capture, not yet preserved
 * @snap: the snapshot it was built from (its memfds, journal and VMM)
 * @proc: the procfs mount, "/proc" but in tests
 * @diag: out: the memfd or mapping, the step and the cause
 *
 * Finds the hardware-poisoned pages of every guest-RAM memfd
 * (kho_poison_find(), through the VMM's mappings; CAP_SYS_ADMIN).  None:
 * the hand-off is left as it was, in its older format.  Otherwise each
 * IOAS mapping that covers a poisoned page is cut around it: the journal
 * gets the IOAS_UNMAP of the whole area (iommufd unmaps only whole
 * areas) and an IOAS_MAP_FILE at the same IOVA of each piece around the
 * poison, and is compacted again, so the replay leaves the poisoned IOVA
 * unmapped and verification checks the state with the hole.  The list
 * goes into the poison node (format 6) and the blob is encoded again.
 * kho_capture_preserve() then punches each range out of its memfd
 * before preserving it.
 *
 * Return: 0; -EOPNOTSUPP (a mapping must be cut, but the hand-off carries
 * the VMM's iommufd, whose kernel journal the target verifies the replay
 * against: the journal still maps the page); kho_poison_find()'s errno;
 * the errno of kho_compact() or kho_handoff_encode(); -ENOMEM.
 */
int kho_capture_poison(struct kho_capture *cap,
		       const struct kho_journal_snapshot *snap,
		       const char *proc, struct kho_diag *diag);

/**
 * kho_capture_unpunch() - poison again what preserve punched
 * @cap:  the capture, its session released or failed
 * @snap: the snapshot whose memfds were punched
 * @diag: out: the first range that failed
 *
 * For a dry run or a failure after kho_capture_preserve(): the session
 * is closed first if still open (LUO unpins the folios), then every
 * punched range is poisoned again (kho_poison_inject()), so the VMM's
 * guest sees the memory failure it had.  Nothing to do once
 * cap->poison_kept is set (a kexec is queued with them).
 *
 * Return: 0; -EBUSY (the session is the service manager's: its memfds
 * stay preserved, punched, until it drops them); or the first range's
 * error (all are tried).
 */
int kho_capture_unpunch(struct kho_capture *cap,
			const struct kho_journal_snapshot *snap,
			struct kho_diag *diag);

/* "kho-ds" and the device's id: never a recorder's memfd token. */
#define KHO_DEVSTATE_TOKEN_BASE 0x6b686f2d64730000ull

#endif /* KHO_CAPTURE_H */
