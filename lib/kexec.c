// SPDX-License-Identifier: LGPL-2.1-or-later
/* kexec: kexec_file_load(2), unload, reboot, and the running kernel's state. */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/kexec.h>
#include <linux/reboot.h>

#include "file.h"
#include "handoff.h"
#include "kexec.h"
#include "kimage.h"
#include "kmsg.h"
#include "luo.h"

static const char *load_hint(int err)
{
	switch (err) {
	case -ENOMEM:
	case -EADDRNOTAVAIL:
		return " (with KHO every segment must fit in the scratch area: boot with a larger kho_scratch=)";
	case -ENOEXEC:
		return " (not a bootable image for this architecture, or its signature was refused)";
	case -EPERM:
		return " (kexec disabled: kernel.kexec_load_disabled, lockdown, or not root)";
	case -EBUSY:
		return " (another kexec load is in progress)";
	default:
		return "";
	}
}

static int kexec_load_fd(int kfd, const char *kernel, const char *initrd,
			 const char *cmdline, struct kho_diag *diag);

static long kexec_file_load_syscall(int kfd, int ifd, unsigned long len,
				   const char *cmdline, unsigned long flags)
{
	return syscall(SYS_kexec_file_load, kfd, ifd, len, cmdline, flags);
}

long (*kho_kexec_file_load_fn)(int kfd, int ifd, unsigned long len,
			       const char *cmdline, unsigned long flags) =
	kexec_file_load_syscall;

int kho_kexec_load(const char *kernel, const char *initrd,
		   const char *cmdline, struct kho_diag *diag)
{
	int kfd, err;

	kfd = open(kernel, O_RDONLY | O_CLOEXEC);
	if (kfd < 0)
		return kho_diag_set(diag, -errno, "load: kernel %s: %s", kernel,
				    strerror(errno));
	err = kexec_load_fd(kfd, kernel, initrd, cmdline, diag);
	close(kfd);
	return err;
}

/* Same contents as when read?  Not ctime: unlinking the path (a new
 * image renamed over it) changes the link count, not the contents. */
static bool same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino &&
	       a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	       a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

int kho_kexec_load_image(const struct kho_kimage *img, const char *kernel,
			 const char *initrd, const char *cmdline,
			 struct kho_diag *diag)
{
	struct stat st;

	if (!img->own_fd)
		return kho_diag_set(diag, -EINVAL,
				    "load: kernel %s: not opened by kho_kimage_open()",
				    kernel);
	/*
	 * The fd pins the inode the checks read, whatever the path names
	 * now; a write into that inode since is caught here (size, mtime),
	 * and the load is refused rather than trusted.
	 */
	if (fstat(img->fd, &st))
		return kho_diag_set(diag, -errno, "load: kernel %s: fstat: %s",
				    kernel, strerror(errno));
	if (!same_file(&st, &img->st))
		return kho_diag_set(diag, -ESTALE,
				    "load: kernel %s: the image changed after it was checked (size or mtime): refusing to load it",
				    kernel);
	return kexec_load_fd(img->fd, kernel, initrd, cmdline, diag);
}

static int kexec_load_fd(int kfd, const char *kernel, const char *initrd,
			 const char *cmdline, struct kho_diag *diag)
{
	unsigned long flags = 0;
	int ifd = -1, err = 0;

	if (initrd) {
		ifd = open(initrd, O_RDONLY | O_CLOEXEC);
		if (ifd < 0) {
			err = kho_diag_set(diag, -errno, "load: initrd %s: %s",
					   initrd, strerror(errno));
			goto out;
		}
	} else {
		flags |= KEXEC_FILE_NO_INITRAMFS;
	}
	/* The length counts the NUL: the kernel checks it is there. */
	if (kho_kexec_file_load_fn(kfd, ifd, strlen(cmdline) + 1, cmdline,
				   flags)) {
		err = -errno;
		kho_diag_set(diag, err, "load: kexec_file_load(%s%s%s): %s%s",
			     kernel, initrd ? ", " : "", initrd ? initrd : "",
			     strerror(-err), load_hint(err));
	}
out:
	if (ifd >= 0)
		close(ifd);
	return err;
}

int kho_kexec_unload(void)
{
	if (syscall(SYS_kexec_file_load, -1, -1, 0UL, NULL,
		    (unsigned long)KEXEC_FILE_UNLOAD))
		return -errno;
	return 0;
}

int kho_kexec_loaded(bool *loaded)
{
	char buf[8] = "";
	int fd = open(KHO_KEXEC_LOADED, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return -errno;
	*loaded = buf[0] == '1';
	return 0;
}

int kho_kexec_reboot(void)
{
	sync();
	reboot(LINUX_REBOOT_CMD_KEXEC);
	return -errno;
}

/* kstrtobool() of lib/kstrtox.c: 1 true, 0 false, -EINVAL. */
static int kstrtobool(const char *s, size_t n)
{
	if (n == 0)
		return -EINVAL;
	switch (s[0]) {
	case 'y': case 'Y': case '1':
		return 1;
	case 'n': case 'N': case '0':
		return 0;
	case 'o': case 'O':
		if (n > 1 && (s[1] == 'n' || s[1] == 'N'))
			return 1;
		if (n > 1 && (s[1] == 'f' || s[1] == 'F'))
			return 0;
		break;
	}
	return -EINVAL;
}

/* The next whitespace-separated word, or NULL; quoted spaces stay inside. */
static const char *next_word(const char *p, size_t *n)
{
	bool quoted = false;
	size_t i = 0;

	while (*p == ' ' || *p == '\t' || *p == '\n')
		p++;
	while (p[i] && (quoted || (p[i] != ' ' && p[i] != '\t' && p[i] != '\n'))) {
		if (p[i] == '"')
			quoted = !quoted;
		i++;
	}
	*n = i;
	return i ? p : NULL;
}

static bool word_is_param(const char *w, size_t n, const char *param)
{
	size_t plen = strlen(param);

	return n >= plen && !memcmp(w, param, plen) &&
	       (n == plen || w[plen] == '=');
}

int kho_kexec_cmdline_bool(const char *cmdline, const char *param)
{
	const char *w = cmdline;
	size_t n, plen = strlen(param);
	int val = -ENOENT;

	while ((w = next_word(w, &n))) {
		if (word_is_param(w, n, param))
			/* A bare "param" is true, as early_param sees NULL. */
			val = n == plen ? 1 : kstrtobool(w + plen + 1, n - plen - 1);
		w += n;
	}
	return val;
}

int kho_kexec_cmdline_next(const char *running, const char *append,
			   char *out, size_t size)
{
	static const char *const drop[] = {
		"BOOT_IMAGE", "initrd", "kho", "liveupdate",
	};
	const char *w = running;
	size_t used = 0, n, i;
	int len;

	if (size == 0)
		return -ENAMETOOLONG;
	out[0] = '\0';
	while ((w = next_word(w, &n))) {
		for (i = 0; i < sizeof(drop) / sizeof(drop[0]); i++)
			if (word_is_param(w, n, drop[i]))
				break;
		if (i == sizeof(drop) / sizeof(drop[0])) {
			len = snprintf(out + used, size - used, "%.*s ", (int)n, w);
			if (len < 0 || (size_t)len >= size - used)
				return -ENAMETOOLONG;
			used += len;
		}
		w += n;
	}
	len = snprintf(out + used, size - used, "kho=on liveupdate=on%s%s",
		       append && *append ? " " : "", append ? append : "");
	if (len < 0 || (size_t)len >= size - used)
		return -ENAMETOOLONG;
	return 0;
}

/*
 * /dev/liveupdate is missing on a kernel booted with liveupdate=on: KHO or
 * LUO gave up at boot, and said why only in the kernel log.  Quote it.  KHO
 * disables itself when it finds no contiguous room for its scratch areas
 * (by default 200% of what the kernel reserved at boot, lowmem, global and
 * per node), which a small host with a large initrd and KASLR can hit on
 * some boots and not on others.
 */
static int luo_missing(struct kho_diag *diag)
{
	static const char *const subsystems[] = { "KHO: ", "luo: ", NULL };
	char said[512];
	int n;

	n = kho_kmsg_warnings(NULL, subsystems, said, sizeof(said));
	if (n <= 0)
		return kho_diag_set(diag, -EOPNOTSUPP,
				    "running kernel: %s missing although liveupdate=on (CONFIG_LIVEUPDATE off, or LUO failed to start%s)",
				    KHO_LUO_DEV,
				    n < 0 ? ": the kernel log is not readable here, see dmesg" :
					    ": the kernel log has no KHO or LUO warning");
	return kho_diag_set(diag, -EOPNOTSUPP,
			    "running kernel: %s missing although liveupdate=on: the kernel said %s%s",
			    KHO_LUO_DEV, said,
			    strstr(said, "scratch") ?
			    " (KHO found no room for its scratch areas at boot: reboot with an explicit kho_scratch=LOWMEM,GLOBAL,PERNODE that fits, docs/operations.md)" :
			    "");
}

int kho_kexec_check_running(const char *cmdline, struct kho_diag *diag)
{
	char *buf = NULL;
	size_t len;
	int err = 0;

	if (!cmdline) {
		err = kho_read_file("/proc/cmdline", (void **)&buf, &len);
		if (err)
			return kho_diag_set(diag, err,
					    "running kernel: cannot read /proc/cmdline: %s",
					    strerror(-err));
		cmdline = buf;
	}
	if (kho_kexec_cmdline_bool(cmdline, "kho") != 1) {
		err = kho_diag_set(diag, -EOPNOTSUPP,
				   "running kernel: not booted with kho=on: KHO is off, nothing can be handed over (add kho=on liveupdate=on to its command line and reboot)");
		goto out;
	}
	if (kho_kexec_cmdline_bool(cmdline, "liveupdate") != 1) {
		err = kho_diag_set(diag, -EOPNOTSUPP,
				   "running kernel: not booted with liveupdate=on: LUO is off, no session can be preserved (add liveupdate=on and reboot)");
		goto out;
	}
	if (access(KHO_LUO_DEV, F_OK))
		err = luo_missing(diag);
out:
	free(buf);
	return err;
}

/* struct kho_kexec_metadata, __packed: u32 version; char[65]; u32 count. */
#define KEXEC_METADATA_V1_SIZE (4 + 65 + 4)

int kho_kexec_previous_release(char *release, size_t size,
			       unsigned int *count)
{
	unsigned char *buf;
	uint32_t version, n;
	size_t len, rlen;
	int err;

	err = kho_read_file(KHO_KEXEC_METADATA, (void **)&buf, &len);
	if (err)
		return err;
	if (len < 4) {
		err = -EBADMSG;
		goto out;
	}
	memcpy(&version, buf, 4);
	if (version != 1 || len < KEXEC_METADATA_V1_SIZE) {
		err = -EBADMSG;
		goto out;
	}
	rlen = strnlen((char *)buf + 4, 65);
	if (rlen == 0 || rlen == 65) {
		err = -EBADMSG;
		goto out;
	}
	if (rlen >= size) {
		err = -EINVAL;
		goto out;
	}
	memcpy(release, buf + 4, rlen + 1);
	memcpy(&n, buf + 4 + 65, 4);
	if (count)
		*count = n;
out:
	free(buf);
	return err;
}

int kho_kexec_find_image(const char *dir, const char *release, char *path,
			 size_t size)
{
	struct dirent **names;
	int i, nr, err = -ENOENT;

	/* Sorted, so that the same /boot always gives the same answer. */
	nr = scandir(dir, &names, NULL, alphasort);
	if (nr < 0)
		return -errno;
	for (i = 0; i < nr; i++) {
		char candidate[4096], rel[65];
		int len;

		if (err == -ENOENT && names[i]->d_name[0] != '.') {
			len = snprintf(candidate, sizeof(candidate), "%s/%s", dir,
				       names[i]->d_name);
			if (len > 0 && (size_t)len < sizeof(candidate) &&
			    !kho_kimage_release(candidate, rel, sizeof(rel)) &&
			    !strcmp(rel, release)) {
				err = (size_t)len >= size ? -ENAMETOOLONG : 0;
				if (!err)
					memcpy(path, candidate, len + 1);
			}
		}
		free(names[i]);
	}
	free(names);
	return err;
}
