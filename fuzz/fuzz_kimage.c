// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target for the kernel-image inspector: kho_kimage_parse() on an
 * untrusted bzImage or vmlinux (setup header, payload codecs, ELF), the ABI
 * string scans on what it accepts, and kho_kimage_release(), which only
 * takes a path and so reads the input through a memfd.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kimage.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const needed[] = {
	KHO_ABI_KHO, KHO_ABI_LUO, KHO_ABI_MEMFD, KHO_ABI_IOMMUFD_JOURNAL,
};

/* One memfd for the whole run: a new one per input would dominate. */
static int memfd = -1;
static char memfd_path[64];

static void check_errno(const char *step, int ret, const struct kho_diag *d)
{
	if (ret == 0 || ret == -EBADMSG || ret == -EOPNOTSUPP ||
	    ret == -EFBIG || ret == -ENOMEM)
		return;
	fprintf(stderr, "%s: undocumented return %d: %s\n", step, ret,
		d ? d->msg : "");
	abort();
}

static void release_via_path(const uint8_t *data, size_t size)
{
	char release[65];
	int ret;

	if (memfd < 0) {
		memfd = memfd_create("fuzz-kimage", MFD_CLOEXEC);
		if (memfd < 0)
			return;
		snprintf(memfd_path, sizeof(memfd_path), "/proc/self/fd/%d",
			 memfd);
	}
	if (ftruncate(memfd, 0) || pwrite(memfd, data, size, 0) != (ssize_t)size)
		return;
	ret = kho_kimage_release(memfd_path, release, sizeof(release));
	if (ret == 0 && strnlen(release, sizeof(release)) == sizeof(release))
		abort();	/* not NUL-terminated */
	if (ret && ret != -EBADMSG && ret != -EINVAL) {
		fprintf(stderr, "release: undocumented return %d\n", ret);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kho_diag d = { "" };
	struct kho_kimage img;
	bool found;
	size_t i;
	int ret;

	ret = kho_kimage_parse(data, size, &img, &d);
	check_errno("parse", ret, &d);
	if (!ret) {
		if (strnlen(img.release, sizeof(img.release)) == sizeof(img.release))
			abort();
		for (i = 0; i < sizeof(needed) / sizeof(needed[0]); i++)
			if (kho_kimage_has_abi(&img, needed[i], &found))
				abort();
		ret = kho_kimage_check_abi(&img, needed,
					   sizeof(needed) / sizeof(needed[0]),
					   &d);
		if (ret && ret != -EPROTONOSUPPORT)
			abort();
		kho_kimage_free(&img);
	}
	release_via_path(data, size);
	return 0;
}
