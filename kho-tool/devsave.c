// SPDX-License-Identifier: GPL-2.0
/* The VMM's devices' state saved before the kexec: see devsave.h. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "compat.h"
#include <linux/vfio.h>

#include "devsave.h"
#include "mdev.h"
#include "proc.h"
#include "state.h"

bool kho_devsave_carries(const struct kho_device *d)
{
	return d->migration_probed &&
	       (d->migration_flags & VFIO_MIGRATION_STOP_COPY);
}

static struct kho_devsave_dev *add_dev(struct kho_devsave *sv,
				       const struct kho_device *d)
{
	struct kho_devsave_dev *tab, *e;

	tab = realloc(sv->dev, (sv->nr + 1) * sizeof(*tab));
	if (!tab)
		return NULL;
	sv->dev = tab;
	e = &sv->dev[sv->nr++];
	memset(e, 0, sizeof(*e));
	e->id = d->id;
	e->fd = -1;
	e->memfd = -1;
	e->ds.datafd = -1;
	kho_device_label(&d->pci, &d->mdev, e->label, sizeof(e->label));
	return e;
}

/* PRE_COPY where offered, with the guest running. */
static int save_begin(struct kho_devsave_dev *e, const struct kho_device *d,
		      pid_t pid, struct kho_diag *diag)
{
	char name[64], sys[KHO_MDEV_UUID_LEN];
	struct kho_diag why = { "" };
	int err;

	e->fd = kho_capture_device_fd(pid, "/sys", d, &why);
	if (e->fd < 0)
		return kho_diag_set(diag, e->fd, "device %s: %s", e->label,
				    why.msg);
	snprintf(name, sizeof(name), "kho-devstate:%s",
		 kho_device_sysname(&d->pci, &d->mdev, sys, sizeof(sys)));
	e->memfd = kho_devstate_memfd(name);
	if (e->memfd < 0)
		return kho_diag_set(diag, e->memfd, "device %s: memfd_create: %s",
				    e->label, strerror(-e->memfd));
	kho_devstate_init(&e->ds, e->fd, d->migration_flags,
			  &kho_devstate_sys, NULL);
	if (!(d->migration_flags & VFIO_MIGRATION_PRE_COPY))
		return 0;
	e->touched = true;
	err = kho_devstate_precopy(&e->ds, e->memfd, &why);
	return err ? kho_diag_set(diag, err, "device %s: %s", e->label,
				  why.msg) : 0;
}

/* STOP_COPY with the VMM stopped, sealed, into the hand-off. */
static int save_end(struct kho_devsave_dev *e, struct kho_capture *cap,
		    FILE *out, const char *command, struct kho_diag *diag)
{
	struct kho_device_state saved = { 0 };
	struct kho_diag why = { "" };
	char path[160];
	int err;

	e->touched = true;
	err = kho_devstate_stop_copy(&e->ds, e->memfd, &why);
	if (!err)
		err = kho_devstate_seal(&e->ds, e->memfd, &why);
	if (err)
		return kho_diag_set(diag, err, "device %s: %s", e->label,
				    why.msg);
	saved.length = e->ds.length;
	saved.flags = e->ds.mig_flags;
	saved.crc32 = e->ds.crc32;
	saved.nr_path = e->ds.path_len;
	memcpy(saved.path, e->ds.path, sizeof(saved.path));
	err = kho_capture_add_devstate(cap, e->id, e->memfd, &saved,
				       e->ds.precopy_length, &why);
	if (err != -ENOENT && err != -ENOMEM && err != -EEXIST)
		e->memfd = -1;		/* the capture's now */
	if (err)
		return kho_diag_set(diag, err, "device %s: %s", e->label,
				    why.msg[0] ? why.msg : strerror(-err));
	fprintf(out, "%s: device %s: state saved, %llu bytes (%llu in PRE_COPY), crc32 0x%08x, %s\n",
		command, e->label, (unsigned long long)e->ds.length,
		(unsigned long long)e->ds.precopy_length, e->ds.crc32,
		kho_devstate_path_str(e->ds.path, e->ds.path_len, path,
				      sizeof(path)));
	return 0;
}

int kho_devsave_run(struct kho_devsave *sv, struct kho_capture *cap,
		    pid_t pid, FILE *out, const char *command,
		    struct kho_diag *diag)
{
	const struct kho_state *s = &cap->handoff.state;
	struct kho_devsave_dev *e;
	size_t i;
	int err;

	memset(sv, 0, sizeof(*sv));
	sv->pid = pid;
	for (i = 0; i < s->nr_dev; i++) {
		if (!kho_devsave_carries(&s->dev[i]))
			continue;
		e = add_dev(sv, &s->dev[i]);
		if (!e)
			return kho_diag_set(diag, -ENOMEM, "%zu devices: %s",
					    s->nr_dev, strerror(ENOMEM));
		err = save_begin(e, &s->dev[i], pid, diag);
		if (err)
			return err;
	}
	if (!sv->nr)
		return 0;
	/* The guest stops here: its devices must not move under the copy. */
	err = kho_proc_stop(pid);
	sv->stopped = err != -ESRCH;
	if (err)
		return kho_diag_set(diag, err, "VMM %d: stopping it (SIGSTOP) before STOP_COPY: %s",
				    (int)pid, strerror(-err));
	for (i = 0; i < sv->nr; i++) {
		/* the table moves as memfds are added: the device by id */
		err = save_end(&sv->dev[i], cap, out, command, diag);
		if (err)
			return err;
	}
	fflush(out);
	return (int)sv->nr;
}

int kho_devsave_undo(struct kho_devsave *sv, FILE *out, const char *command)
{
	struct kho_diag why = { "" };
	size_t i;
	int err, first = 0;

	for (i = 0; i < sv->nr; i++) {
		struct kho_devsave_dev *e = &sv->dev[i];

		if (!e->touched)
			continue;
		err = kho_devstate_recover(&e->ds, &why);
		fprintf(out, "%s: device %s: %s\n", command, e->label,
			why.msg[0] ? why.msg : strerror(-err));
		if (err && !first)
			first = err;
		e->touched = false;
	}
	if (sv->stopped) {
		err = kho_proc_continue(sv->pid);
		if (err)
			fprintf(out, "%s: VMM %d: SIGCONT: %s\n", command,
				(int)sv->pid, strerror(-err));
		else
			fprintf(out, "%s: VMM %d continued\n", command,
				(int)sv->pid);
		sv->stopped = false;
	}
	fflush(out);
	return first;
}

void kho_devsave_free(struct kho_devsave *sv)
{
	size_t i;

	for (i = 0; i < sv->nr; i++) {
		kho_devstate_close(&sv->dev[i].ds);
		if (sv->dev[i].fd >= 0)
			close(sv->dev[i].fd);
		if (sv->dev[i].memfd >= 0)
			close(sv->dev[i].memfd);
	}
	free(sv->dev);
	memset(sv, 0, sizeof(*sv));
}
