/* SPDX-License-Identifier: GPL-2.0 */
/* Unit-test helper: a throwaway tree of files, for fake sysfs and /dev. */
#ifndef KTEST_FSTREE_H
#define KTEST_FSTREE_H

#include <stddef.h>
#include <stdint.h>

/* @root/@rel, a directory of mode 0755; an existing one is left alone. */
void fstree_mk(const char *root, const char *rel);

/* @root/@rel, a file holding @content. */
void fstree_put(const char *root, const char *rel, const char *content);

/*
 * A fake /proc in a new directory (its path into @root, of @size) for VMM
 * 4242: a maps line for memfd @fd at @va (memfd offset @off, @pages
 * pages of 4 KiB, at most 64), a pagemap with frame @pfn at page @page of
 * that window and every other page unmapped, a kpageflags in which
 * frame 3 alone is hwpoisoned, and sys/vm/memory_failure_early_kill (a
 * kernel with CONFIG_MEMORY_FAILURE).
 */
void fstree_vmm_proc(char *root, size_t size, int fd, uint64_t va,
		     uint64_t off, unsigned int pages, unsigned int page,
		     uint64_t pfn);

/* Removes the tree @root. */
void fstree_rm(const char *root);

#endif /* KTEST_FSTREE_H */
