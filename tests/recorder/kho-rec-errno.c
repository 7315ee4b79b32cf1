// SPDX-License-Identifier: GPL-2.0
/*
 * kho-rec-errno: checks, under the LD_PRELOAD recorder, that every wrapped
 * libc call leaves errno as the real call left it: a VMM reads errno after
 * a failed call, and after a successful one may still rely on an older
 * value.  Exits 0 if so, 1 naming the first call that disagreed, 2 if the
 * recorder is not loaded.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/iommufd.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define ERRNO_MARK EXDEV	/* a value no call below sets */

static int errno_failed;

static void errno_check(const char *what, int ret_ok, int want)
{
	int got = errno;

	if (ret_ok && got == want)
		return;
	fprintf(stderr, "kho-rec-errno: %s: %s, errno %d (%s), want %d (%s)\n",
		what, ret_ok ? "returned as expected" : "unexpected return",
		got, strerror(got), want, strerror(want));
	errno_failed = 1;
}

/* Whether the ioctl this program calls is libkho-record.so's. */
static int recorder_loaded(void)
{
	Dl_info info;

	return dladdr(dlsym(RTLD_DEFAULT, "ioctl"), &info) && info.dli_fname &&
	       strstr(info.dli_fname, "libkho-record");
}

int main(void)
{
	/*
	 * libc declares the path nonnull, and a VMM may pass NULL anyway:
	 * called through pointers, which carry no such attribute (nor
	 * UBSan's check of it).
	 */
	int (*volatile openat_fn)(int, const char *, int, ...) = openat;
	int (*volatile open_fn)(const char *, int, ...) = open;
	struct iommu_ioas_alloc a = { .size = sizeof(a) };
	struct iommu_ioas_map m = { .size = sizeof(m), .length = 4096 };
	struct iommu_ioas_map_file mf = { .size = sizeof(mf), .length = 4096 };
	struct iommu_ioas_unmap u = { .size = sizeof(u), .length = 4096 };
	int fd, fd2, mfd, got;
	bool closed;
	void *p;

	if (!recorder_loaded()) {
		fprintf(stderr, "kho-rec-errno: the recorder is not preloaded\n");
		return 2;
	}
	/* failures: the real call's errno reaches the caller */
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	errno = ERRNO_MARK;
	errno_check("ioctl(IOMMU_IOAS_ALLOC) on /dev/null",
		    ioctl(fd, IOMMU_IOAS_ALLOC, &a) == -1, ENOTTY);
	/* the hot path issues MAP, MAP_FILE and UNMAP as system calls itself */
	errno = ERRNO_MARK;
	errno_check("ioctl(IOMMU_IOAS_MAP) on /dev/null",
		    ioctl(fd, IOMMU_IOAS_MAP, &m) == -1, ENOTTY);
	errno = ERRNO_MARK;
	errno_check("ioctl(IOMMU_IOAS_MAP_FILE) on /dev/null",
		    ioctl(fd, IOMMU_IOAS_MAP_FILE, &mf) == -1, ENOTTY);
	errno = ERRNO_MARK;
	errno_check("ioctl(IOMMU_IOAS_UNMAP) on fd -1",
		    ioctl(-1, IOMMU_IOAS_UNMAP, &u) == -1, EBADF);
	errno = ERRNO_MARK;
	errno_check("ioctl(FIONREAD) on /dev/null",
		    ioctl(fd, FIONREAD, &fd2) == -1, ENOTTY);
	errno = ERRNO_MARK;
	errno_check("open of a missing file",
		    open("/nonexistent/kho", O_RDONLY) == -1, ENOENT);
	errno = ERRNO_MARK;
	errno_check("close(-1)", close(-1) == -1, EBADF);
	/* the kernel refuses the NULL path; the wrapper must not read it */
	errno = ERRNO_MARK;
	errno_check("openat(AT_FDCWD, NULL)",
		    openat_fn(AT_FDCWD, NULL, O_RDONLY) == -1, EFAULT);
	errno = ERRNO_MARK;
	errno_check("open(NULL)", open_fn(NULL, O_RDONLY) == -1, EFAULT);
	errno = ERRNO_MARK;
	errno_check("close_range(2, 1)", close_range(2, 1, 0) == -1, EINVAL);
	errno = ERRNO_MARK;
	errno_check("dup(-1)", dup(-1) == -1, EBADF);
	errno = ERRNO_MARK;
	errno_check("dup2(-1, 100)", dup2(-1, 100) == -1, EBADF);
	errno = ERRNO_MARK;
	errno_check("mmap of a bad fd", mmap(NULL, 4096, PROT_READ, MAP_SHARED,
					     -1, 0) == MAP_FAILED, EBADF);

	/* successes: errno is left as it was */
	errno = ERRNO_MARK;
	fd2 = open("/dev/null", O_RDONLY | O_CLOEXEC);
	errno_check("open(/dev/null)", fd2 >= 0, ERRNO_MARK);
	errno = ERRNO_MARK;
	errno_check("dup2", dup2(fd, fd2) == fd2, ERRNO_MARK);
	errno = ERRNO_MARK;
	errno_check("fcntl(F_DUPFD_CLOEXEC)",
		    fcntl(fd, F_DUPFD_CLOEXEC, 3) >= 0, ERRNO_MARK);
	errno = ERRNO_MARK;
	mfd = memfd_create("kho-rec-errno", MFD_CLOEXEC);
	errno_check("memfd_create", mfd >= 0, ERRNO_MARK);
	errno = ERRNO_MARK;
	errno_check("ftruncate", ftruncate(mfd, 4096) == 0, ERRNO_MARK);
	errno = ERRNO_MARK;
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	errno_check("mmap", p != MAP_FAILED, ERRNO_MARK);
	errno = ERRNO_MARK;
	errno_check("munmap", munmap(p, 4096) == 0, ERRNO_MARK);
	errno = ERRNO_MARK;
	errno_check("close", close(fd2) == 0, ERRNO_MARK);
	fd2 = dup(fd);
	errno = ERRNO_MARK;
	errno_check("close_range", fd2 >= 0 && close_range(fd2, fd2, 0) == 0,
		    ERRNO_MARK);
	fd2 = dup(fd);
	errno = ERRNO_MARK;
	closefrom(fd2);
	got = errno;
	closed = fcntl(fd2, F_GETFD) == -1;
	errno = got;
	errno_check("closefrom", closed, ERRNO_MARK);
	if (errno_failed)
		return 1;
	printf("kho-rec-errno: ok\n");
	return 0;
}
