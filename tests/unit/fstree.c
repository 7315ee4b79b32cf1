// SPDX-License-Identifier: GPL-2.0
/* Unit-test helper: a throwaway tree of files, for fake sysfs and /dev. */
#include <stdio.h>
#include <sys/stat.h>

#include "fstree.h"

void fstree_mk(const char *root, const char *rel)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	mkdir(path, 0755);
}

void fstree_put(const char *root, const char *rel, const char *content)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	f = fopen(path, "w");
	if (f) {
		fputs(content, f);
		fclose(f);
	}
}
