/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Verify: checks the objects a replay rebuilt against the recorded state
 * before anyone is allowed to use them ("trust but verify").
 */
#ifndef KHO_VERIFY_H
#define KHO_VERIFY_H

#include "devstate.h"
#include "replay.h"

/* How mappings are probed; see kho_verify_run(). */
enum kho_verify_probe {
	/*
	 * Default: by construction, plus a sample.  Each mapping was made by
	 * the replay's own IOMMU_IOAS_MAP_FILE with FIXED_IOVA over exactly
	 * its recorded [iova, iova + length) in an IOAS this process just
	 * allocated, on an iommufd nobody else holds yet, and the plan may
	 * not unmap (replay refuses UNMAP/DESTROY).  The kernel either made
	 * that area or failed the ioctl, so the replay's count of successful
	 * maps per IOAS, compared with the record, proves every mapping
	 * present.  What that cannot see is a kernel or replay bug that
	 * maps into the wrong IOAS or loses an area: probing the first page
	 * of KHO_VERIFY_SAMPLE mappings spread over each IOAS (first and
	 * last included; all of them when there are fewer) catches such a
	 * systematic fault for about 25 us a probe under TCG, where probing
	 * all 4,096 mappings costs 40-200 ms.
	 */
	KHO_VERIFY_PROBE_SAMPLE = 0,
	KHO_VERIFY_PROBE_FIRST = 1,	/* first page of every mapping */
	KHO_VERIFY_PROBE_ENDS = 2,	/* first and last page of every one */
	KHO_VERIFY_PROBE_NONE = 3,	/* construction, ranges, devices only */
};

/* Mappings probed per IOAS by KHO_VERIFY_PROBE_SAMPLE. */
#define KHO_VERIFY_SAMPLE 16

struct kho_verify_report {
	uint32_t ioas;		/* IOASes whose ranges were checked */
	uint32_t maps;		/* recorded mappings found present */
	uint32_t by_construction; /* of those, vouched for by the replay */
	uint32_t probes;	/* MAP_FILE probes issued */
	uint32_t allowed_probes; /* automatic-IOVA probes of allow lists */
	uint32_t holes;		/* poisoned IOVA holes probed empty */
	uint32_t devices;	/* devices whose identity was checked */
	uint32_t attachments;	/* attachments that matched */
	uint64_t ns;
};

/**
 * kho_verify_run() - check a replay's result against @h->state
 * @r:      the replay that rebuilt @h (its iommufd, devices and ID map)
 * @h:      the hand-off
 * @memfds: the retrieved memfds, for the mapping probes
 * @nr_memfds: their number
 * @probe:  enum kho_verify_probe
 * @rep:    out: what was checked (may be NULL)
 * @diag:   out: the object, the check and the cause
 *
 * For every recorded IOAS: the usable ranges IOMMU_IOAS_IOVA_RANGES
 * reports (the space left by reserved regions, not the allow list) must
 * cover every recorded mapping and every recorded allowed range, and,
 * when allowed ranges were recorded, a one-page automatic IOVA map (the
 * only ioctl that consults the allow list) must land on the page
 * kho_verify_auto_iova() computes from the record; it is unmapped again.
 * That probe is left out on an iommufd the kernel journals (patches/),
 * which would record it.  Every recorded mapping must be present at its
 * IOVA: the replay must have mapped as many as were recorded
 * (@r->mapped), and a probe IOMMU_IOAS_MAP_FILE with FIXED_IOVA over the
 * first (and last) page of a sample or of every mapping, per @probe, must
 * fail with EEXIST, which the kernel returns only when an area already
 * covers that IOVA (iopt_check_iova()); a probe that succeeds proves the
 * mapping missing and is unmapped again.  Without the replay's counts (@r->mapped NULL)
 * the sample mode probes every mapping.  Every device must still be the
 * recorded PCI function and driver, bound to this iommufd
 * (IOMMU_GET_HW_INFO), and attached to the HWPT the record says.
 *
 * Return: 0; -ENOENT (a recorded object or mapping is missing);
 * -ERANGE (a mapping outside the kernel's usable IOVA ranges);
 * -EBADMSG (rebuilt state differs from the record: ranges, allow list,
 * attachment);
 * -ENODEV (device identity differs); -ENOMEM; or an ioctl's errno.
 * diag names the object, the check and the cause.
 */
int kho_verify_run(struct kho_replay *r, const struct kho_handoff *h,
		   const struct kho_replay_memfd *memfds, size_t nr_memfds,
		   int probe, struct kho_verify_report *rep,
		   struct kho_diag *diag);

/**
 * kho_verify_allowed() - check a recorded allow list against the kernel's
 * usable IOVA ranges
 * @ioas:      the recorded IOAS
 * @usable:    the ranges IOMMU_IOAS_IOVA_RANGES reported (sorted, as the
 *             kernel returns them)
 * @nr_usable: their number
 * @diag:      out: the range that is not inside one
 *
 * Each allowed range must lie inside one usable range.
 *
 * Return: 0; -EBADMSG (diag names the range).
 */
int kho_verify_allowed(const struct kho_ioas *ioas,
		       const struct kho_iova_range *usable, uint32_t nr_usable,
		       struct kho_diag *diag);

/**
 * kho_verify_auto_iova() - where the 7.2 kernel places an automatic map
 * @ioas:      the IOAS, with its allow list and mappings
 * @usable:    the ranges the reserved regions leave
 * @nr_usable: their number
 * @page:      the size of the map, one page of a file at offset 0
 * @iova:      out: where it lands
 *
 * An automatic map has no FIXED_IOVA: it lands on the lowest
 * @page-aligned free page of the allowed ranges.
 *
 * Return: 0 with *@iova set; -ENOSPC (the kernel must refuse); -ENOMEM.
 */
int kho_verify_auto_iova(const struct kho_ioas *ioas,
			 const struct kho_iova_range *usable, uint32_t nr_usable,
			 uint64_t page, uint64_t *iova);

/**
 * kho_verify_devstate() - a resumed device's final state against the record
 * @h:      the hand-off
 * @dev_id: the device, by its recorded ID
 * @ds:     the device as kho_devstate_load() and kho_devstate_resume()
 *          left it: its fd and ops (a test's fake), the bytes written
 *          (@ds->length) and their crc32 (@ds->crc32)
 * @memfd:  the memfd the state was carried in
 * @diag:   out: "verify: device 3: <check>: <cause>"
 *
 * The device's recorded length is its last DEVICE_MIG_STATE record's
 * (lib/migrec.h), or its device-state node's in a hand-off older than
 * format 7, which has none.  Three checks, in this order:
 * VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE GET reads RUNNING; the bytes
 * written into the device are the recorded length, and their crc32 the
 * hand-off's; the memfd holds that length with the hand-off's crc32.
 *
 * Return: 0; -ENOENT (the hand-off carries no state for @dev_id);
 * -EILSEQ (the device reads another state); -EBADMSG (bytes written or
 * the memfd differ from the record); the -errno of the GET, fstat or
 * pread.
 */
int kho_verify_devstate(const struct kho_handoff *h, uint32_t dev_id,
			struct kho_devstate *ds, int memfd,
			struct kho_diag *diag);

#endif /* KHO_VERIFY_H */
