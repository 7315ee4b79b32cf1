// SPDX-License-Identifier: GPL-2.0
/*
 * The agent's files follow the root switch.  A distro initrd starts the
 * agent before the real root is mounted, then moves /run onto the new
 * root and switches to it (dracut's switch_root, initramfs-tools'
 * run-init).  The agent stays behind in the old root, where /run is now
 * an empty directory: by path, every file it writes after the switch
 * (agent.status "finished", timeline.json, restore.log) and every socket
 * it unlinks or makes again would be lost in a tree no one sees.
 *
 * Its working directory is the run directory's inode, which moves with
 * the mount.  So the agent works from it and reaches its files by names
 * relative to it: the same files before and after the switch.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "adopt.h"
#include "agent.h"
#include "file.h"

static int in_run_dir;

int agent_enter_run_dir(void)
{
	if (chdir(KHO_RUN_DIR))
		return -errno;
	in_run_dir = 1;
	return 0;
}

const char *agent_path(const char *path)
{
	size_t n = strlen(KHO_RUN_DIR);

	if (in_run_dir && !strncmp(path, KHO_RUN_DIR, n) && path[n] == '/')
		return path + n + 1;
	return path;
}

int agent_write_file(const char *path, const void *buf, size_t len,
		     mode_t mode, struct kho_diag *diag)
{
	return kho_write_file_as(agent_path(path), path, buf, len, mode, diag);
}

int agent_listen(const char *path, struct kho_diag *diag)
{
	return kho_adopt_listen_as(agent_path(path), path, diag);
}
