/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Verify: checks the objects a replay rebuilt against the recorded state
 * before anyone is allowed to use them ("trust but verify").
 */
#ifndef KHO_VERIFY_H
#define KHO_VERIFY_H

#include "replay.h"

/* How mappings are probed; see kho_verify_run(). */
enum kho_verify_probe {
	/*
	 * First page of every mapping (default).  The replay's own
	 * FIXED_IOVA MAP_FILE of the exact [iova, iova + length) succeeded,
	 * and nothing else holds this iommufd, so an area found at the start
	 * is the whole one; probing the last page too doubles the cost
	 * (12.6 us a probe under TCG) for no extra guarantee.
	 */
	KHO_VERIFY_PROBE_FIRST = 0,
	KHO_VERIFY_PROBE_ENDS = 1,	/* first and last page */
	KHO_VERIFY_PROBE_NONE = 2,	/* ranges, devices, attachments only */
};

struct kho_verify_report {
	uint32_t ioas;		/* IOASes whose ranges were checked */
	uint32_t maps;		/* recorded mappings found present */
	uint32_t probes;	/* MAP_FILE probes issued */
	uint32_t devices;	/* devices whose identity was checked */
	uint32_t attachments;	/* attachments that matched */
	uint64_t ns;
};

/*
 * kho_verify_run() - check a replay's result against @h->state
 * @r:      the replay that rebuilt @h (its iommufd, devices and ID map)
 * @h:      the hand-off
 * @memfds: the retrieved memfds, for the mapping probes
 * @probe:  enum kho_verify_probe
 * @rep:    out: what was checked (may be NULL)
 *
 * For every recorded IOAS: IOMMU_IOAS_IOVA_RANGES must cover every
 * recorded mapping and, when allowed ranges were recorded, lie inside
 * them.  Every recorded mapping must be present at its IOVA: a probe
 * IOMMU_IOAS_MAP_FILE with FIXED_IOVA over its first (and last) page must
 * fail with EEXIST, which the kernel returns only when an area already
 * covers that IOVA (iopt_check_iova()); a probe that succeeds proves the
 * mapping missing and is unmapped again.  Every device must still be the
 * recorded PCI function and driver, bound to this iommufd
 * (IOMMU_GET_HW_INFO), and attached to the HWPT the record says.
 *
 * Return: 0; -ENOENT (a recorded object or mapping is missing);
 * -ERANGE (a mapping outside the kernel's usable IOVA ranges);
 * -EBADMSG (rebuilt state differs from the record: ranges, attachment);
 * -ENODEV (device identity differs); -ENOMEM; or an ioctl's errno.
 * diag names the object, the check and the cause.
 */
int kho_verify_run(struct kho_replay *r, const struct kho_handoff *h,
		   const struct kho_replay_memfd *memfds, size_t nr_memfds,
		   int probe, struct kho_verify_report *rep,
		   struct kho_diag *diag);

#endif /* KHO_VERIFY_H */
