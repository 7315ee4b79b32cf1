/* SPDX-License-Identifier: GPL-2.0 */
/* Unit-test helper: a throwaway tree of files, for fake sysfs and /dev. */
#ifndef KTEST_FSTREE_H
#define KTEST_FSTREE_H

/* @root/@rel, a directory of mode 0755; an existing one is left alone. */
void fstree_mk(const char *root, const char *rel);

/* @root/@rel, a file holding @content. */
void fstree_put(const char *root, const char *rel, const char *content);

#endif /* KTEST_FSTREE_H */
