// SPDX-License-Identifier: GPL-2.0
/*
 * Salvage: copies every guest-RAM memfd of a held session to files, the
 * way out when the restore failed (verify, replay, a device gone) and
 * the guest's memory must not be lost with the session.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "file.h"

#define SALVAGE_BUF (1 << 20)

/*
 * One memfd into DIR/ram-<token>.raw: written as .part, fsync'ed, then
 * renamed, so that a file under the final name is always complete.
 */
static int salvage_one(int memfd, const struct kho_memfd *m, const char *dir,
		       char *buf, struct kho_diag *diag)
{
	char final[512], part[sizeof(final) + 8];
	uint64_t off = 0;
	int fd, err = 0;

	snprintf(final, sizeof(final), "%s/ram-%llx.raw", dir,
		 (unsigned long long)m->token);
	snprintf(part, sizeof(part), "%s.part", final);
	fd = open(part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return kho_diag_set(diag, -errno,
				    "salvage: memfd token %llu ('%s'): create %s: %s",
				    (unsigned long long)m->token, m->name, part,
				    kho_errno_name(errno));
	while (!err && off < m->size) {
		size_t want = m->size - off < SALVAGE_BUF ? m->size - off :
							     SALVAGE_BUF;
		ssize_t n = pread(memfd, buf, want, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = n < 0 ? -errno : -EIO;
			kho_diag_set(diag, err,
				     "salvage: memfd token %llu ('%s'): read at offset 0x%llx of %llu bytes: %s",
				     (unsigned long long)m->token, m->name,
				     (unsigned long long)off,
				     (unsigned long long)m->size,
				     n < 0 ? kho_errno_name(err) :
					     "end of file (the memfd is shorter than recorded)");
			break;
		}
		err = kho_write_all(fd, buf, n);
		if (err)
			kho_diag_set(diag, err,
				     "salvage: memfd token %llu ('%s'): write %s: %s",
				     (unsigned long long)m->token, m->name,
				     part, kho_errno_name(err));
		off += n;
	}
	if (!err && fsync(fd) < 0) {
		err = -errno;
		kho_diag_set(diag, err, "salvage: fsync %s: %s", part,
			     kho_errno_name(err));
	}
	close(fd);
	if (!err && rename(part, final) < 0) {
		err = -errno;
		kho_diag_set(diag, err, "salvage: rename %s to %s: %s", part,
			     final, kho_errno_name(err));
	}
	if (err)
		unlink(part);
	return err;
}

int agent_salvage(const struct kho_state *s,
		  const struct kho_replay_memfd *memfds, size_t nr_memfds,
		  const char *dir, uint64_t *bytes, struct kho_diag *diag)
{
	char path[512], *buf;
	FILE *man;
	size_t i;
	int fd, err = 0;

	*bytes = 0;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return kho_diag_set(diag, -errno, "salvage: create %s: %s", dir,
				    kho_errno_name(errno));
	buf = malloc(SALVAGE_BUF);
	if (!buf)
		return kho_diag_set(diag, -ENOMEM, "salvage: %s",
				    kho_errno_name(-ENOMEM));
	for (i = 0; !err && i < s->nr_memfd; i++) {
		fd = kho_replay_memfd_find(memfds, nr_memfds,
					   s->memfd[i].token);
		if (fd < 0) {
			err = kho_diag_set(diag, -ENOENT,
					   "salvage: memfd token %llu ('%s'): not retrieved from the session",
					   (unsigned long long)s->memfd[i].token,
					   s->memfd[i].name);
			break;
		}
		err = salvage_one(fd, &s->memfd[i], dir, buf, diag);
		if (!err)
			*bytes += s->memfd[i].size;
	}
	free(buf);
	if (err)
		return err;
	/* What each file is: the VMM's own name for the memory, its size. */
	snprintf(path, sizeof(path), "%s/manifest", dir);
	man = fopen(path, "w");
	if (!man)
		return kho_diag_set(diag, -errno, "salvage: create %s: %s",
				    path, kho_errno_name(errno));
	fprintf(man, "# token size name file (restore-agent --salvage)\n");
	for (i = 0; i < s->nr_memfd; i++)
		fprintf(man, "0x%llx %llu %s ram-%llx.raw\n",
			(unsigned long long)s->memfd[i].token,
			(unsigned long long)s->memfd[i].size,
			s->memfd[i].name[0] ? s->memfd[i].name : "-",
			(unsigned long long)s->memfd[i].token);
	if (fflush(man) || fsync(fileno(man)) < 0) {
		err = -errno;
		fclose(man);
		return kho_diag_set(diag, err, "salvage: write %s: %s", path,
				    kho_errno_name(err));
	}
	if (fclose(man))
		return kho_diag_set(diag, -EIO, "salvage: close %s: EIO", path);
	return 0;
}
