/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A device's DEVICE_MIG_STATE records: the arcs of the VFIO migration v2
 * FSM its state was saved along, written into the hand-off's plan after
 * the device's bind and attach (format 7, docs/device-state.md), so that
 * `kho-tool journal` shows the save and the resume after the kexec is
 * checked against it.  The device-state node carries the data; these
 * records say how it was taken, and must agree with the node.
 */
#ifndef KHO_MIGREC_H
#define KHO_MIGREC_H

#include <stddef.h>
#include <stdint.h>

#include "kho.h"

/**
 * kho_migrec_append() - a save's arcs, as records at the end of a plan
 * @plan:           the hand-off's plan
 * @dev_id:         the device (its recorded ID)
 * @saved:          its device-state node, filled in (path, length,
 *                  memfd token, crc32)
 * @precopy_length: bytes of the data read in PRE_COPY (0 without it)
 *
 * One record per arc of @saved->path.  A record's length is the bytes
 * the data session had moved once the device did its I/O in the arc's
 * target state: @precopy_length until STOP_COPY, the whole data from it.
 *
 * Return: 0; -EINVAL (a path of fewer than two states, @precopy_length
 * above the length); -ENOMEM (the records appended so far stay).
 */
int kho_migrec_append(struct kho_journal *plan, uint32_t dev_id,
		      const struct kho_device_state *saved,
		      uint64_t precopy_length);

/**
 * kho_migrec_find() - a device's records in a plan
 * @plan:   the plan
 * @dev_id: the device
 * @nr:     out: how many it has (may be NULL)
 *
 * Return: its last record (the one whose length is the whole data), or
 * NULL when it has none.
 */
const struct kho_rec *kho_migrec_find(const struct kho_journal *plan,
				      uint32_t dev_id, size_t *nr);

/**
 * kho_migrec_check() - whether a hand-off's records agree with its nodes
 * @h:    the hand-off, its devices' device-state nodes filled in
 * @diag: out: the record and the cause, or NULL
 *
 * Each record needs min-reader-version KHO_FORMAT_VERSION_MIG_OP, names a
 * device with a device-state node, and carries that node's memfd token
 * and crc32.  A device's records, in plan order, are exactly the arcs of
 * its fsm-path, their lengths never shrink and the last is the node's
 * length.  A device with a node and no record is allowed (a writer of
 * format 4 to 6).  The writer and the reader hold a plan to these rules.
 * O(records + devices log devices); nothing allocated without a record.
 *
 * Return: 0; -EBADMSG (diag names the record); -ENOMEM.
 */
int kho_migrec_check(const struct kho_handoff *h, struct kho_diag *diag);

#endif /* KHO_MIGREC_H */
