/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The target's initrd: does it carry the restore-agent and something that
 * starts it (the distro's own initrd after `update-initramfs` or `dracut`
 * with kho-tool's hook, or the project's initramfs)?  If not, the upgrade
 * appends the agent as one more cpio segment, as initramfs/mkinitramfs.sh
 * --append-to does.
 */
#ifndef KHO_TOOL_INITRD_H
#define KHO_TOOL_INITRD_H

#include <stdbool.h>
#include <stddef.h>

struct kho_diag;

struct kho_initrd_scan {
	char agent[128];	/* the agent's path inside, "" if none */
	char starter[64];	/* "initramfs-tools", "dracut", "kho-init.d", "" */
	char starter_path[128];
	char segments[96];	/* e.g. "cpio+zstd": what was read */
	size_t entries;		/* cpio entries seen */
};

/*
 * kho_initrd_scan() - list @path's cpio segments (uncompressed, gzip, xz,
 * zstd; concatenated as the kernel reads them) for the agent and a starter.
 * Return: 0 (see @s), or -errno with @diag set.
 */
int kho_initrd_scan(const char *path, struct kho_initrd_scan *s,
		    struct kho_diag *diag);

/*
 * kho_initrd_append_agent() - a memfd holding @path, then a newc segment
 * with the restore-agent at /usr/lib/kho-tool/restore-agent and its start
 * script at /etc/kho/init.d/10-restore-agent, both taken from this host
 * (/usr/lib/kho-tool, or next to the kho-tool binary).  *@fd gets the memfd.
 * Return: 0, or -errno with @diag set.
 */
int kho_initrd_append_agent(const char *path, int *fd, struct kho_diag *diag);

#endif /* KHO_TOOL_INITRD_H */
