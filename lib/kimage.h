/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Kernel-image inspection: what a target kernel (a bzImage or a plain
 * vmlinux ELF) tells about itself before it is loaded, so that an upgrade
 * or a rollback never kexecs into a kernel that cannot restore the state.
 *
 * A kernel declares each hand-off format it reads by a versioned
 * compatible string defined once in include/linux/kho/abi/ (KHO "kho-v4",
 * LUO "luo-v5", memfd "memfd-v2" in 7.2) and compares it with strcmp()
 * when the previous kernel's data arrives.  Those strings are literals in
 * the vmlinux image, so finding them is a faithful check of what the
 * target can read.
 */
#ifndef KHO_KIMAGE_H
#define KHO_KIMAGE_H

#include <stdbool.h>
#include <stddef.h>

#include <stdbool.h>
#include <sys/stat.h>

#include "kho.h"

/* The hand-off ABIs every kho-tool hand-off depends on (Linux 7.2). */
#define KHO_ABI_KHO	"kho-v4"	/* include/linux/kho/abi/kexec_handover.h */
#define KHO_ABI_LUO	"luo-v5"	/* include/linux/kho/abi/luo.h */
#define KHO_ABI_MEMFD	"memfd-v2"	/* include/linux/kho/abi/memfd.h */
/*
 * The iommufd journal's LUO file handler, defined by the kernel patches in
 * patches/: a hand-off made from the kernel's own journal needs it, one
 * made from the userspace record does not.
 */
#define KHO_ABI_IOMMUFD_JOURNAL "iommufd-journal-v2"

/* A decompressed image bigger than this is refused (decompression bomb). */
#define KHO_KIMAGE_MAX_ELF (1024UL << 20)

struct kho_kimage_sec {
	size_t off;
	size_t len;
};

/**
 * struct kho_kimage - an inspected kernel image
 * @release:  the kernel release ("7.2.13-kho-a"), "" if the image names none
 * @format:   "bzImage" or "vmlinux"
 * @codec:    compression of the payload: "xz", "gzip", "zstd" or "none"
 * @elf:      the vmlinux ELF (owned)
 * @elf_len:  its length
 * @secs:     the ELF's allocated, non-executable data sections, where
 *            string literals and compatible arrays live
 * @nr_secs:  their number
 * @own_fd:   kho_kimage_open() only: @fd is the file that was read, kept
 *            open so that the image loaded is the image checked
 *            (kho_kexec_load_image())
 * @fd:       that file
 * @st:       @fd's identity when it was read
 */
struct kho_kimage {
	char release[65];
	const char *format;
	const char *codec;
	unsigned char *elf;
	size_t elf_len;
	struct kho_kimage_sec *secs;
	size_t nr_secs;
	bool own_fd;
	int fd;
	struct stat st;
};

/**
 * kho_kimage_parse() - inspect an image held in memory
 * @buf:  a bzImage or a vmlinux ELF (untrusted)
 * @len:  its length
 * @img:  out: the inspected image; free with kho_kimage_free()
 * @diag: out: the field and the cause of a refusal
 *
 * Return: 0; -EBADMSG (truncated or corrupt image, payload or ELF);
 * -EOPNOTSUPP (a payload codec this build cannot read: diag names it);
 * -EFBIG (payload decompresses beyond KHO_KIMAGE_MAX_ELF); -ENOMEM.
 */
int kho_kimage_parse(const void *buf, size_t len, struct kho_kimage *img,
		     struct kho_diag *diag);

/**
 * kho_kimage_open() - read and inspect an image file, and keep it open
 * @path: a regular file
 * @img:  out: the inspected image, the file open in @img->fd;
 *        kho_kimage_free() closes it
 * @diag: out: the file and the cause of a refusal
 *
 * kho_kexec_load_image() loads that file, not whatever @path names by
 * then.
 *
 * Return: as kho_kimage_parse(); -EINVAL (not a regular file); -EFBIG
 * (larger than KHO_KIMAGE_MAX_ELF); or the -errno of open(2), fstat(2) or
 * read(2).
 */
int kho_kimage_open(const char *path, struct kho_kimage *img,
		    struct kho_diag *diag);

/**
 * kho_kimage_free() - free an inspected image and close its file
 * @img: the image
 */
void kho_kimage_free(struct kho_kimage *img);

/**
 * kho_kimage_release() - the release a bzImage names in its setup header
 * @path:    the image
 * @release: out: the release string
 * @size:    room in @release
 *
 * Without decompressing it: cheap enough to scan /boot.
 *
 * Return: 0; -EBADMSG (not a bzImage, or no kernel_version string);
 * -EINVAL (@size too small); or the -errno of open(2) or read(2).
 */
int kho_kimage_release(const char *path, char *release, size_t size);

/**
 * kho_kimage_has_abi() - does the image carry a compatible string
 * @img:        the image
 * @compatible: the string, matched exactly (as a whole string, not as
 *              part of a longer one)
 * @found:      out: whether it does
 *
 * Return: 0 and *@found; -EINVAL (empty @compatible).
 */
int kho_kimage_has_abi(const struct kho_kimage *img, const char *compatible,
		       bool *found);

/**
 * kho_kimage_check_abi() - refuse a target lacking a needed ABI
 * @img:    the target
 * @needed: the compatible strings the hand-off depends on
 * @nr:     their number
 * @diag:   out: the missing string and what the target carries instead
 *
 * On a refusal diag names the missing string and what the target carries
 * of the same family instead ("luo-v9"), e.g. "target 7.2.13-kho-c: needs
 * LUO ABI luo-v5, the image carries luo-v9".
 *
 * Return: 0 when all are present; -EPROTONOSUPPORT for the first missing;
 * -EINVAL (an empty string in @needed).
 */
int kho_kimage_check_abi(const struct kho_kimage *img,
			 const char *const *needed, size_t nr,
			 struct kho_diag *diag);

/**
 * kho_kimage_series() - which of the project's kernel series a target carries
 * @img:  the target
 * @buf:  out: a sentence for the pre-flight, e.g. "patches/7.3/series
 *        (iommufd-journal-v2, 7.3.4-kho-b)", "none: vanilla 7.2.6-kho-a (no
 *        iommufd-journal-v2)", or "iommufd-journal-v2 on 7.4.1, a kernel no
 *        series of this project is for"
 * @size: room in @buf
 *
 * The series is known by the iommufd journal's compatible string, which
 * every series declares, and the kernel's major.minor, which picks the
 * series file (patches/series for 7.2, patches/7.3/series for 7.3).
 *
 * Return: true when the target carries a series (@buf names it).
 */
bool kho_kimage_series(const struct kho_kimage *img, char *buf, size_t size);

#endif /* KHO_KIMAGE_H */
