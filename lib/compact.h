/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Compaction: folds a journal into its live state and emits the shortest
 * ordered replay plan that rebuilds exactly that state.  Replay cost is
 * O(live state), never O(history).
 */
#ifndef KHO_COMPACT_H
#define KHO_COMPACT_H

#include "kho.h"

struct kho_idmap;

/* Most mappings one REPLAY_MAPPINGS step carries: bounds a step's time so
 * the agent can report progress on a large IOAS. */
#define KHO_COMPACT_SLICE 16384

/**
 * kho_compact() - fold @in into @state and emit @plan
 * @in:    the canonical journal, in the order the kernel ran it
 * @state: in/out: initialised by the caller and holding only the memfd
 *         table (kho_state_add_memfd()); the call adds the objects the
 *         journal leaves live
 * @plan:  out: the replay plan (initialised by the call); mappings are
 *         emitted as KHO_OP_REPLAY_MAPPINGS slices of @state's tables, all
 *         maps of an IOAS before any attach to it (filling a domain in one
 *         pass costs a fraction of per-map IOTLB flushes: RIG.md)
 * @diag:  out: names the record that failed
 *
 * Applies the journal with kho_state_batch_apply(): O(log n) per record.
 *
 * Return: 0, -ENOMEM, -EINVAL (@state holds objects already), or the errno
 * of the first record the kernel would have refused (diag names it).
 */
int kho_compact(const struct kho_journal *in, struct kho_state *state,
		struct kho_journal *plan, struct kho_diag *diag);

/**
 * kho_plan_ioctls() - how many ioctls replaying a plan issues
 * @plan: the plan
 *
 * A KHO_OP_REPLAY_MAPPINGS record stands for one IOAS_MAP_FILE per
 * mapping it covers, a KHO_OP_DEVICE_MIG_STATE record for none (the
 * replay issues none: lib/op.h), every other record for one.
 *
 * Return: the count; it cannot fail.
 */
size_t kho_plan_ioctls(const struct kho_journal *plan);

/**
 * kho_plan_expand() - turn a plan into plain records
 * @plan:  the plan
 * @state: the state whose mapping tables its slices name
 * @out:   out: the records (initialised by the call); every
 *         KHO_OP_REPLAY_MAPPINGS becomes one KHO_OP_IOAS_MAP_FILE per
 *         mapping; KHO_OP_DEVICE_MIG_STATE records, which stand for no
 *         iommufd ioctl (a VMM's journal never holds them), are left out
 * @diag:  out: names the slice that failed
 *
 * Return: 0; -ENOMEM; -ENOENT (a slice names an unknown IOAS or range).
 */
int kho_plan_expand(const struct kho_journal *plan,
		    const struct kho_state *state, struct kho_journal *out,
		    struct kho_diag *diag);

/**
 * kho_compact_handoff() - re-derive a hand-off's plan and check it
 * @h:           a decoded hand-off (kho_handoff_decode())
 * @folded:      out: the state the plan rebuilds (initialised by the call)
 * @plan:        out: the plan compacted again from @h's plan alone
 * @nr_expanded: out: how many records @h's plan expands to
 * @diag:        on failure, names the step and the cause
 *
 * A hand-off carries a plan that is already compacted.  Expanding it
 * against the recorded state and folding it again from the memfds alone
 * proves that the plan rebuilds exactly the recorded state, which is what
 * `kho-tool journal --compact` reports.  A carried device's
 * DEVICE_MIG_STATE records are no state to fold: they end @plan as @h
 * has them.
 *
 * Return: 0; -ENOMEM; -ENOENT (a slice names an unknown IOAS or range);
 * the errno of the first plan record the kernel would refuse; -EBADMSG
 * (the plan rebuilds a state other than the recorded one).  On failure
 * @folded and @plan hold nothing.
 */
int kho_compact_handoff(const struct kho_handoff *h, struct kho_state *folded,
			struct kho_journal *plan, size_t *nr_expanded,
			struct kho_diag *diag);

/**
 * kho_plan_check() - every object @h's plan names exists when used
 * @h:     a decoded hand-off
 * @known: objects alive before the plan runs (the replay's ID map), or NULL
 * @diag: on failure, names the record, the object and the cause
 *
 * Walks the plan in order with the kernel's one ID namespace: each ID a
 * record uses must have been made by an earlier record (IOAS_ALLOC, BIND,
 * HWPT_ALLOC, an ATTACH's automatic HWPT), not destroyed since, and of
 * the kind the op needs; an ID is made once.  A use before the record
 * that makes it (a forward reference, or a cycle such as a HWPT whose
 * parent is itself) is named as such.  O(records x objects), no
 * allocation per mapping: the replay runs it before its first ioctl.
 * kho_compact_handoff() finds the same plans, by folding them whole.
 *
 * Return: 0; -ENOMEM; -ENOENT (an object not alive at its use); -EINVAL
 * (an object of the wrong kind); -EBADMSG (ID 0, or an ID made twice).
 */
int kho_plan_check(const struct kho_handoff *h, const struct kho_idmap *known,
		   struct kho_diag *diag);

#endif /* KHO_COMPACT_H */
