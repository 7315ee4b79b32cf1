/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The state of the VMM's devices that have VFIO migration v2, saved
 * before the kexec (issue #15, docs/device-state.md): each one through
 * the FSM (lib/devstate.c) on a duplicate of the VMM's own device fd,
 * PRE_COPY while the guest runs, then, with the VMM stopped, STOP_COPY;
 * the data in a sealed memfd the capture preserves in the LUO session and
 * names in the device's device-state node.  Any failure before the kexec
 * walks every device back to RUNNING and continues the VMM: nothing lost.
 */
#ifndef KHO_TOOL_DEVSAVE_H
#define KHO_TOOL_DEVSAVE_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>
#include "capture.h"
#include "devstate.h"

struct kho_devsave_dev {
	uint32_t id;			/* in the hand-off */
	char label[128];		/* for messages */
	int fd;				/* the VMM's device fd, duplicated */
	int memfd;			/* the data, until the capture owns it */
	struct kho_devstate ds;
	bool touched;			/* its FSM moved: recover on failure */
};

struct kho_devsave {
	struct kho_devsave_dev *dev;
	size_t nr;
	pid_t pid;			/* the VMM */
	bool stopped;			/* SIGSTOP sent: SIGCONT on failure */
};

/**
 * kho_devsave_carries() - is this device's state carried?
 * @d: a device of the hand-off, probed by capture
 *
 * Return: true if its migration v2 support was probed with STOP_COPY.
 */
bool kho_devsave_carries(const struct kho_device *d);

/**
 * kho_devsave_run() - save every carried device's state into the capture
 * @sv:      out: what was done, for kho_devsave_undo()
 * @cap:     a built capture, not yet preserved
 * @pid:     the VMM, which holds the devices; it is stopped (SIGSTOP)
 *           before the first STOP_COPY and stays stopped for the kexec
 * @out:     where each device's line goes ("COMMAND: device ...: saved")
 * @command: "upgrade" or "rollback"
 * @diag:    out: the device, the step and the cause
 *
 * Return: the number of devices saved; a -errno, after which the caller
 * must call kho_devsave_undo() (so must it after any later failure that
 * keeps the kexec from happening, and after a dry run).
 */
int kho_devsave_run(struct kho_devsave *sv, struct kho_capture *cap,
		    pid_t pid, FILE *out, const char *command,
		    struct kho_diag *diag);

/**
 * kho_devsave_undo() - no kexec after all: every device back to RUNNING
 * @sv:      what kho_devsave_run() did
 * @out:     where each device's line goes
 * @command: "upgrade" or "rollback"
 *
 * Walks each device the save touched back to RUNNING with its state
 * (kho_devstate_recover(); a device it cannot bring back is reset, and
 * the line says its state is lost), then continues the VMM.
 *
 * Return: 0, or the first device's -errno (-ECANCELED: reset).
 */
int kho_devsave_undo(struct kho_devsave *sv, FILE *out, const char *command);

/* Closes the duplicated device fds and any memfd the capture does not own. */
void kho_devsave_free(struct kho_devsave *sv);

#endif /* KHO_TOOL_DEVSAVE_H */
