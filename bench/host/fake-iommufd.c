// SPDX-License-Identifier: GPL-2.0
/*
 * An iommufd that answers without a kernel, for counting the recorder's
 * own instructions on a host without /dev/iommu: preloaded after
 * libkho-record.so, open("/dev/iommu") opens /dev/null (a char device,
 * which the recorder then classifies by the path) and every ioctl of
 * type ';' succeeds, IOAS_ALLOC returning IOAS 1.  bench/recorder-callgrind.sh
 * runs kho-rec-probe over it.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <linux/iommufd.h>
#include <stdarg.h>
#include <string.h>

static int (*fake_real_open)(const char *, int, ...);

int open(const char *path, int flags, ...)
{
	va_list ap;
	int mode;

	va_start(ap, flags);
	mode = va_arg(ap, int);
	va_end(ap);
	if (!fake_real_open)
		fake_real_open = dlsym(RTLD_NEXT, "open");
	if (!strcmp(path, "/dev/iommu"))
		path = "/dev/null";
	return fake_real_open(path, flags, mode);
}

int open64(const char *path, int flags, ...) __attribute__((alias("open")));

int ioctl(int fd, unsigned long cmd, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, cmd);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (cmd == IOMMU_IOAS_ALLOC)
		((struct iommu_ioas_alloc *)arg)->out_ioas_id = 1;
	return 0;
}
