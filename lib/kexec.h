/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * kexec: loading the target kernel with kexec_file_load(2), which is the
 * only loader that carries KHO state (the kernel adds the KHO FDT and
 * scratch segments itself), unloading it, and rebooting into it.  Also
 * the pre-flight of the running kernel: was it booted with kho=on and
 * liveupdate=on, so that there is a hand-off to make at all.
 */
#ifndef KHO_KEXEC_H
#define KHO_KEXEC_H

#include <stdbool.h>
#include <stddef.h>

#include "kho.h"

#define KHO_KEXEC_LOADED "/sys/kernel/kexec_loaded"

/**
 * kho_kexec_load() - kexec_file_load(2) a kernel
 * @kernel:  the image
 * @initrd:  the initrd, or NULL for none
 * @cmdline: its command line
 * @diag:    out: the file and the likely cause
 *
 * Replaces an image already loaded.
 *
 * Return: 0; or the -errno of open(2) or of the syscall (-ENOMEM usually
 * means a segment does not fit in KHO scratch; -ENOEXEC, -EADDRNOTAVAIL,
 * -EPERM and -EBUSY are explained in @diag).
 */
int kho_kexec_load(const char *kernel, const char *initrd,
		   const char *cmdline, struct kho_diag *diag);

struct kho_kimage;

/**
 * kho_kexec_load_image() - kho_kexec_load() of the file that was checked
 * @img:     the image kho_kimage_open() read; it keeps the file open
 * @kernel:  the path, which only names it in messages
 * @initrd:  the initrd, or NULL for none
 * @cmdline: its command line
 * @diag:    out: the file and the cause
 *
 * The image loaded is the image that was checked, whatever @kernel names
 * now.
 *
 * Return: as kho_kexec_load(); -ESTALE (the file's size or mtime changed
 * since it was read); -EINVAL (@img holds no file); or the -errno of
 * fstat(2).
 */
int kho_kexec_load_image(const struct kho_kimage *img, const char *kernel,
			 const char *initrd, const char *cmdline,
			 struct kho_diag *diag);

/*
 * The kexec_file_load(2) call itself: a test seam, so that a unit test can
 * see which fd is loaded without loading anything.
 */
extern long (*kho_kexec_file_load_fn)(int kfd, int ifd, unsigned long len,
				      const char *cmdline,
				      unsigned long flags);

/**
 * kho_kexec_unload() - unload the loaded kernel
 *
 * Return: 0, or the -errno of kexec_file_load(KEXEC_FILE_UNLOAD).
 */
int kho_kexec_unload(void);

/**
 * kho_kexec_loaded() - whether a kernel is loaded
 * @loaded: out: what /sys/kernel/kexec_loaded says
 *
 * Return: 0, or the -errno of reading it.
 */
int kho_kexec_loaded(bool *loaded);

/**
 * kho_kexec_reboot() - sync and reboot(LINUX_REBOOT_CMD_KEXEC)
 *
 * LUO serialises its sessions inside this call, so the caller must still
 * hold the outgoing session fds.
 *
 * Return: only on failure, the -errno of reboot(2) (e.g. -EINVAL: no
 * image loaded).
 */
int kho_kexec_reboot(void);

/**
 * kho_kexec_cmdline_bool() - a boolean parameter as the kernel reads it
 * @cmdline: the command line
 * @param:   the parameter's name
 *
 * kstrtobool, the last occurrence wins.
 *
 * Return: 1 on, 0 off; -ENOENT (absent); -EINVAL (unparsable).
 */
int kho_kexec_cmdline_bool(const char *cmdline, const char *param);

/**
 * kho_kexec_cmdline_next() - the command line for the next kernel
 * @running: the running kernel's
 * @append:  more words, or NULL
 * @out:     out: the new command line
 * @size:    room in @out
 *
 * The running one without BOOT_IMAGE=, initrd=, kho= and liveupdate= (a
 * bootloader's, and ours to set), then "kho=on liveupdate=on", then
 * @append.
 *
 * Return: 0; -ENAMETOOLONG (does not fit in @size).
 */
int kho_kexec_cmdline_next(const char *running, const char *append,
			   char *out, size_t size);

/**
 * kho_kexec_check_running() - pre-flight of the running kernel
 * @cmdline: the running command line (NULL: read /proc/cmdline)
 * @diag:    out: what is missing
 *
 * Booted with kho=on and liveupdate=on, and /dev/liveupdate present.
 *
 * Return: 0; -EOPNOTSUPP (diag names what is missing); or as
 * kho_read_file() of /proc/cmdline.
 */
int kho_kexec_check_running(const char *cmdline, struct kho_diag *diag);

/* Where the kernel we were kexec'd from says who it was (KHO debugfs). */
#define KHO_KEXEC_METADATA "/sys/kernel/debug/kho/in/sub_fdts/kexec-metadata"

/**
 * kho_kexec_previous_release() - the release of the kernel that kexec'd
 * into this one
 * @release: out: the release string
 * @size:    room in @release
 * @count:   out, may be NULL: kexecs since the last cold boot
 *
 * From KHO's "kexec-metadata" subtree
 * (include/linux/kho/abi/kexec_metadata.h, version 1).
 *
 * Return: 0; -ENOENT (cold boot, or debugfs not mounted); -EBADMSG
 * (unknown version or short blob); -EINVAL (@size too small); or as
 * kho_read_file().
 */
int kho_kexec_previous_release(char *release, size_t size,
			       unsigned int *count);

/**
 * kho_kexec_find_image() - a bzImage whose setup header names a release
 * @dir:     where to look (e.g. /boot); images are read header-only
 * @release: the release
 * @path:    out: the image found
 * @size:    room in @path
 *
 * Return: 0 and @path; -ENOENT (none); -ENAMETOOLONG; or the -errno of
 * scandir(3).
 */
int kho_kexec_find_image(const char *dir, const char *release, char *path,
			 size_t size);

#endif /* KHO_KEXEC_H */
