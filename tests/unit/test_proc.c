// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of kho_proc_file_holders(): which processes besides the VMM
 * map or hold a guest-RAM memfd, on a fake /proc (issue #15: a process
 * that shares the memfd, a vhost-user backend say, could read the zeroes
 * of a punched poisoned page before the kexec).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "fstree.h"
#include "ktest.h"
#include "proc.h"

struct fake {
	char root[64];
	char proc[128];
	struct kho_proc_file file[2];	/* the two "memfds": plain files */
};

/* A maps line naming @f, as the kernel prints one of a shared mapping. */
static void maps_of(const struct kho_proc_file *f, char *buf, size_t size)
{
	snprintf(buf, size,
		 "7f0000000000-7f0000100000 rw-s 00000000 %02x:%02x %lu                 /memfd:guest-ram (deleted)\n",
		 major(f->dev), minor(f->dev), (unsigned long)f->ino);
}

static void file_at(struct fake *fk, int i, const char *name)
{
	char path[192];
	struct stat st;

	fstree_put(fk->root, name, "guest RAM\n");
	snprintf(path, sizeof(path), "%s/%s", fk->root, name);
	if (stat(path, &st))
		abort();
	fk->file[i].dev = st.st_dev;
	fk->file[i].ino = st.st_ino;
}

static void process(struct fake *fk, int pid, const char *comm,
		    const char *maps)
{
	char rel[64];

	snprintf(rel, sizeof(rel), "proc/%d", pid);
	fstree_mk(fk->root, rel);
	snprintf(rel, sizeof(rel), "proc/%d/fd", pid);
	fstree_mk(fk->root, rel);
	snprintf(rel, sizeof(rel), "proc/%d/comm", pid);
	fstree_put(fk->root, rel, comm);
	snprintf(rel, sizeof(rel), "proc/%d/maps", pid);
	fstree_put(fk->root, rel, maps);
}

static void fd_to(struct fake *fk, int pid, int fd, const char *target)
{
	char link[192], to[192];

	snprintf(link, sizeof(link), "%s/proc/%d/fd/%d", fk->root, pid, fd);
	snprintf(to, sizeof(to), "%s/%s", fk->root, target);
	if (symlink(to, link))
		abort();
}

/*
 * 400 is the VMM (left out); 100 maps memfd 0, 200 holds memfd 1 by a
 * descriptor alone, 300 maps and holds neither; "self" is no process.
 */
static void fake_proc(struct fake *fk)
{
	char maps0[256], maps1[256];

	strcpy(fk->root, "/tmp/kho-proc-XXXXXX");
	if (!mkdtemp(fk->root))
		abort();
	snprintf(fk->proc, sizeof(fk->proc), "%s/proc", fk->root);
	file_at(fk, 0, "ram0");
	file_at(fk, 1, "ram1");
	fstree_put(fk->root, "other", "not guest RAM\n");
	maps_of(&fk->file[0], maps0, sizeof(maps0));
	maps_of(&fk->file[1], maps1, sizeof(maps1));
	fstree_mk(fk->root, "proc");
	process(fk, 400, "test-vmm\n", maps0);
	process(fk, 100, "vhost-user-blk\n", maps0);
	process(fk, 200, "backup\n",
		"00400000-00401000 r-xp 00000000 08:01 12 /usr/bin/backup\n");
	fd_to(fk, 200, 0, "other");
	fd_to(fk, 200, 7, "ram1");
	process(fk, 300, "sshd\n",
		"00400000-00401000 r-xp 00000000 08:01 13 /usr/sbin/sshd\n");
	fd_to(fk, 300, 0, "other");
	fstree_mk(fk->root, "proc/self");
}

KTEST(proc_holders_by_mapping_and_by_descriptor)
{
	const pid_t skip[] = { 400, 1 };
	struct kho_proc_holder *h;
	struct fake fk;
	size_t n;

	fake_proc(&fk);
	ASSERT_EQ(0, kho_proc_file_holders(fk.proc, fk.file, 2, skip, 2, &h,
					   &n));
	ASSERT_EQ(2, n);
	ASSERT_EQ(100, h[0].pid);
	ASSERT_EQ(0, h[0].file);
	ASSERT_STR_CONTAINS(h[0].comm, "vhost-user-blk");
	ASSERT_EQ(200, h[1].pid);
	ASSERT_EQ(1, h[1].file);
	ASSERT_STR_CONTAINS(h[1].comm, "backup");
	ASSERT_TRUE(!strchr(h[1].comm, '\n'));
	free(h);

	/* the VMM itself holds memfd 0 when it is not left out */
	ASSERT_EQ(0, kho_proc_file_holders(fk.proc, fk.file, 1, NULL, 0, &h,
					   &n));
	ASSERT_EQ(2, n);
	ASSERT_EQ(100, h[0].pid);
	ASSERT_EQ(400, h[1].pid);
	free(h);
	fstree_rm(fk.root);
}

KTEST(proc_holders_none_and_errors)
{
	struct kho_proc_holder *h = (void *)1;
	struct fake fk;
	size_t n = 9;

	fake_proc(&fk);
	/* only memfd 1, and its one holder left out */
	ASSERT_EQ(0, kho_proc_file_holders(fk.proc, &fk.file[1], 1,
					   (const pid_t[]){ 200 }, 1, &h, &n));
	ASSERT_EQ(0, n);
	ASSERT_TRUE(h == NULL);
	/* no file looked for: nothing read */
	ASSERT_EQ(0, kho_proc_file_holders("/nonexistent", fk.file, 0, NULL, 0,
					   &h, &n));
	ASSERT_EQ(0, n);
	ASSERT_EQ(-ENOENT, kho_proc_file_holders("/nonexistent", fk.file, 2,
						 NULL, 0, &h, &n));
	fstree_rm(fk.root);
}

/* The three readers of maps lines (holders, poison, the recorder) share it. */
KTEST(proc_maps_line_fields)
{
	struct kho_maps_line m;

	ASSERT_EQ(0, kho_maps_line_parse("7f3a00000000-7f3a40000000 rw-s 00200000 00:01 4242                       /memfd:guest-ram (deleted)\n", &m));
	ASSERT_EQ(0x7f3a00000000ull, m.start);
	ASSERT_EQ(0x7f3a40000000ull, m.end);
	ASSERT_EQ('s', m.perms[3]);
	ASSERT_EQ(0x200000, m.offset);
	ASSERT_EQ(0, m.major);
	ASSERT_EQ(1, m.minor);
	ASSERT_EQ(4242, m.ino);
	ASSERT_EQ(strlen("/memfd:guest-ram (deleted)"), m.path_len);
	ASSERT_TRUE(!strncmp(m.path, "/memfd:guest-ram (deleted)", m.path_len));
	/* anonymous: no path, with or without the newline */
	ASSERT_EQ(0, kho_maps_line_parse("7ffd1000-7ffd2000 rw-p 00000000 00:00 0 \n", &m));
	ASSERT_EQ(0, m.ino);
	ASSERT_EQ(0, m.path_len);
	ASSERT_EQ(0, kho_maps_line_parse("7ffd1000-7ffd2000 r--p 00000000 fd:01 12", &m));
	ASSERT_EQ(0xfd, m.major);
	ASSERT_EQ(12, m.ino);
	ASSERT_EQ(0, m.path_len);
	ASSERT_EQ(-EBADMSG, kho_maps_line_parse("Uid:\t0\t0\t0\t0\n", &m));
	ASSERT_EQ(-EBADMSG, kho_maps_line_parse("", &m));
}
