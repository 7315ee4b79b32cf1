/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * QEMU's CPR state (cpr-transfer mode): the small stream QEMU sends on its
 * "cpr" migration channel before the main one, holding the descriptors a
 * new QEMU adopts instead of opening its own (guest-RAM memfds, iommufd,
 * VFIO device cdevs, interrupt eventfds).  docs/qemu-cpr.md has the wire
 * format as QEMU 11.1 writes it (migration/cpr.c, vmstate "CprState"):
 *
 *   be32 QEMU_CPR_FILE_MAGIC ("QCPR")    be32 QEMU_CPR_FILE_VERSION (1)
 *   per descriptor: u8 1, be32 namelen, namelen bytes name (with its NUL),
 *                   be32 id, u8 ' ' carrying the fd in SCM_RIGHTS
 *   u8 0
 *   optional subsections: u8 0x05, u8 len, name, be32 version, fields...
 *
 * This file only parses and encodes bytes; the descriptors travel beside
 * them (lib/cpr_chan.c), in the order their placeholder bytes appear.
 */
#ifndef KHO_CPR_STATE_H
#define KHO_CPR_STATE_H

#include <stddef.h>
#include <stdint.h>

#define KHO_CPR_MAGIC 0x51435052u	/* "QCPR", QEMU_CPR_FILE_MAGIC */
#define KHO_CPR_VERSION 1u		/* QEMU_CPR_FILE_VERSION */
/* Bounds on what a peer may send: far above what a VM needs. */
#define KHO_CPR_MAX_FDS 1024
#define KHO_CPR_NAME_MAX 256		/* namelen, with the NUL */
#define KHO_CPR_TAIL_MAX 65536		/* subsection bytes kept opaque */
#define KHO_CPR_STATE_MAX (1u << 20)	/* a whole CPR state */
#define KHO_CPR_MAX_VFIO 256		/* entries of "CprState/vfio devices" */
/* The subsection hw/vfio/cpr-iommufd.c adds, and its version. */
#define KHO_CPR_VFIO_SUBSECTION "CprState/vfio devices"
#define KHO_CPR_VFIO_VERSION 1u

/* What a descriptor is, for deciding whether it can cross a kexec. */
enum kho_cpr_kind {
	KHO_CPR_KIND_UNKNOWN = 0,
	KHO_CPR_KIND_MEMFD,		/* carried by LUO */
	KHO_CPR_KIND_IOMMUFD,		/* rebuilt by replay */
	KHO_CPR_KIND_VFIO_DEVICE,	/* rebuilt by replay */
	KHO_CPR_KIND_EVENTFD,		/* recreated */
	KHO_CPR_KIND_VHOST,		/* refused */
	KHO_CPR_KIND_TAP,		/* refused */
	KHO_CPR_KIND_FILE,		/* refused: file-backed RAM, a disk */
	KHO_CPR_KIND_OTHER,		/* refused */
};

struct kho_cpr_fd {
	char name[KHO_CPR_NAME_MAX];
	int32_t id;
	int fd;			/* the descriptor, or -1 */
};

/*
 * One "cpr vfio device": the iommufd objects a new QEMU adopts for the
 * VFIO device whose fd is saved under the same name, instead of binding
 * and attaching it again.  After a replay these IDs are the new ones.
 */
struct kho_cpr_vfio_dev {
	char name[KHO_CPR_NAME_MAX];
	int32_t devid;
	uint32_t ioas_id;
	uint32_t hwpt_id;
};

struct kho_cpr_state {
	uint32_t version;
	unsigned int nr_fds;
	struct kho_cpr_fd *fds;		/* nr_fds, in stream order */
	/*
	 * has_vfio: the stream had the "CprState/vfio devices" subsection
	 * (QEMU 11.1 always sends it, empty without VFIO devices); it is
	 * re-encoded from vfio[], so its IDs can be rewritten.
	 */
	int has_vfio;
	unsigned int nr_vfio;
	struct kho_cpr_vfio_dev *vfio;
	/* Any other subsections after the fd list, verbatim. */
	char tail_name[KHO_CPR_NAME_MAX];
	uint8_t *tail;
	size_t tail_len;
};

/**
 * kho_cpr_state_parse() - parse a CPR state received from QEMU
 * @buf: the bytes of the cpr channel up to its end
 * @len: their number
 * @fds: the descriptors that arrived with them, in order; the state takes
 *	ownership of those it names (the caller closes the rest)
 * @nr_fds: their number
 * @st: filled on success; free with kho_cpr_state_free()
 * @err: on failure, a message naming the field and offset
 * @errlen: room in @err
 *
 * Every length and count is bounded before use (KHO_CPR_*_MAX).
 *
 * Return: 0; -EBADMSG corrupt or truncated input, or fds that do not
 * match their placeholders; -EPROTONOSUPPORT bad magic or version;
 * -E2BIG more than KHO_CPR_MAX_FDS descriptors or a tail over
 * KHO_CPR_TAIL_MAX; -ENOMEM.
 */
int kho_cpr_state_parse(const uint8_t *buf, size_t len, const int *fds,
			unsigned int nr_fds, struct kho_cpr_state *st,
			char *err, size_t errlen);

/**
 * kho_cpr_state_encode() - encode a CPR state as QEMU reads it
 * @st: the state (its fds are not touched)
 * @buf: output buffer
 * @cap: its room
 * @len: bytes written
 * @fd_offsets: st->nr_fds entries; each the offset of the placeholder byte
 *	that must carry st->fds[i].fd in SCM_RIGHTS
 *
 * Return: 0; -ENOSPC @cap too small; -EINVAL a name that is empty, too
 * long, or more fds than KHO_CPR_MAX_FDS.
 */
int kho_cpr_state_encode(const struct kho_cpr_state *st, uint8_t *buf,
			 size_t cap, size_t *len, size_t *fd_offsets);

/**
 * kho_cpr_state_free() - close the descriptors a state owns and free it
 * @st: the state; left empty
 */
void kho_cpr_state_free(struct kho_cpr_state *st);

/**
 * kho_cpr_fd_kind() - what a descriptor is
 * @fd: the descriptor
 * @what: out: its /proc/self/fd link, for messages
 * @whatlen: room in @what
 *
 * Return: its kind, from /proc/self/fd and fstat(2);
 * KHO_CPR_KIND_UNKNOWN when the link cannot be read, KHO_CPR_KIND_OTHER
 * when it names nothing known.
 */
enum kho_cpr_kind kho_cpr_fd_kind(int fd, char *what, size_t whatlen);

struct kho_memfd;

/**
 * kho_cpr_state_memfds() - a CPR state's memfds, as a memfd table
 * @st:     the state
 * @memfds: out: malloc'd, one entry per memfd descriptor of @st: its
 *          token the descriptor's index in @st->fds, its name QEMU's
 * @fds:    out: malloc'd, those descriptors (@st still owns them)
 * @nr:     out: entries; 0 (and NULL tables) when there is none
 *
 * What kho_poison_find() takes, to look for a QEMU's poisoned guest RAM.
 *
 * Return: 0, or -ENOMEM.
 */
int kho_cpr_state_memfds(const struct kho_cpr_state *st,
			 struct kho_memfd **memfds, int **fds, size_t *nr);

/**
 * kho_cpr_kind_name() - a kind's name, for messages and JSON
 * @kind: the kind
 *
 * Return: a static string.
 */
const char *kho_cpr_kind_name(enum kho_cpr_kind kind);

/**
 * kho_cpr_kind_crosses_kexec() - whether a kind can cross a kexec
 * @kind: the kind
 *
 * Return: 1 if a descriptor of @kind is carried (memfds, through LUO) or
 * rebuilt (iommufd, VFIO devices, by replay) across a kexec, else 0.
 */
int kho_cpr_kind_crosses_kexec(enum kho_cpr_kind kind);

#endif /* KHO_CPR_STATE_H */
