// SPDX-License-Identifier: GPL-2.0
/*
 * Hand-offs whose plan cannot be replayed (issue 21, "Faults"): a record
 * naming an unknown object, a destroyed one, or one made later (a cycle).
 * The decoder accepts each of them, since every node is well formed;
 * kho_plan_check() (run by the replay before its first ioctl) and the
 * fold of `kho-tool journal --compact` (run by `kho-tool validate`) must
 * refuse each, naming the record and the object, and the replay must
 * refuse before /dev/iommu is opened or any device bound.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "blob.h"
#include "ktest.h"
#include "compact.h"
#include "handoff.h"
#include "journal.h"
#include "replay.h"
#include "state.h"

/* edu-vm.dtb's plan: 0 IOAS_ALLOC -> 1, 1 ALLOW_IOVAS 1, 2 MAPPINGS 1,
 * 3 BIND -> device 2, 4 ATTACH device 2 to 1 -> HWPT 3. */
static int load_edu(struct kho_handoff *h)
{
	return ktest_load_blob("edu-vm.dtb", h);
}

/* Replaces plan record @i with @rec, shifting the rest up by one. */
static void insert_rec(struct kho_handoff *h, size_t i,
		       const struct kho_rec *rec)
{
	struct kho_rec last = h->replay.recs[h->replay.nr - 1];
	size_t j;

	if (kho_journal_append(&h->replay, &last))
		abort();
	for (j = h->replay.nr - 2; j > i; j--)
		h->replay.recs[j] = h->replay.recs[j - 1];
	h->replay.recs[i] = *rec;
}

/*
 * What each of the three sees: the decoder (through a real blob), the
 * plan check and the fold.  Returns the plan check's errno; its message
 * is in @diag.
 */
static int judge(const struct kho_handoff *h, int *decode, int *fold,
		 struct kho_diag *diag)
{
	struct kho_diag d = { "" };
	struct kho_handoff back;
	struct kho_state folded;
	struct kho_journal plan;
	size_t len, nr;
	void *blob;

	*decode = kho_handoff_encode(h, &blob, &len);
	if (!*decode) {
		*decode = kho_handoff_decode(blob, len, &back, &d);
		free(blob);
		if (!*decode)
			kho_handoff_free(&back);
	}
	*fold = kho_compact_handoff(h, &folded, &plan, &nr, &d);
	if (!*fold) {
		kho_journal_free(&plan);
		kho_state_free(&folded);
	}
	return kho_plan_check(h, NULL, diag);
}

#define ASSERT_REFUSED(h, errno_, fold_errno, want)			\
	do {								\
		struct kho_diag diag_ = { "" };				\
		int dec_, fold_;					\
									\
		ASSERT_EQ(errno_, judge(h, &dec_, &fold_, &diag_));	\
		ASSERT_EQ(0, dec_);					\
		ASSERT_EQ(fold_errno, fold_);				\
		ASSERT_STR_CONTAINS(diag_.msg, want);			\
	} while (0)

KTEST(plan_check_accepts_the_recorded_plan)
{
	struct kho_diag diag = { "" };
	struct kho_handoff h;
	int dec, fold;

	ASSERT_EQ(0, load_edu(&h));
	ASSERT_EQ(0, judge(&h, &dec, &fold, &diag));
	ASSERT_EQ(0, dec);
	ASSERT_EQ(0, fold);
	kho_handoff_free(&h);
}

KTEST(plan_check_names_unknown_objects)
{
	struct kho_handoff h;

	ASSERT_EQ(0, load_edu(&h));
	h.replay.recs[4].attach.pt_id = 9;
	ASSERT_REFUSED(&h, -ENOENT, -ENOENT,
		       "plan record 4 (DEVICE_ATTACH_IOMMUFD_PT): pt 9: ENOENT (no record of the plan makes it)");
	h.replay.recs[4].attach.pt_id = 1;
	h.replay.recs[4].attach.dev_id = 7;
	ASSERT_REFUSED(&h, -ENOENT, -ENOENT,
		       "plan record 4 (DEVICE_ATTACH_IOMMUFD_PT): device 7: ENOENT");
	h.replay.recs[4].attach.dev_id = 2;
	h.replay.recs[1].allow_iovas.ioas_id = 5;
	ASSERT_REFUSED(&h, -ENOENT, -ENOENT,
		       "plan record 1 (IOAS_ALLOW_IOVAS): IOAS 5: ENOENT (no record of the plan makes it)");
	h.replay.recs[1].allow_iovas.ioas_id = 1;
	kho_handoff_free(&h);
}

KTEST(plan_check_names_destroy_then_use)
{
	struct kho_rec destroy = { .op = KHO_OP_DESTROY };
	struct kho_handoff h;

	ASSERT_EQ(0, load_edu(&h));
	destroy.destroy.id = 1;
	insert_rec(&h, 4, &destroy);	/* the IOAS goes before its attach */
	ASSERT_REFUSED(&h, -ENOENT, -ENOENT,
		       "plan record 5 (DEVICE_ATTACH_IOMMUFD_PT): pt 1: ENOENT (destroyed by record 4 before this use)");
	kho_handoff_free(&h);
}

KTEST(plan_check_names_cycles)
{
	struct kho_rec hwpt = { .op = KHO_OP_HWPT_ALLOC };
	struct kho_handoff h;

	/* A HWPT whose parent is itself. */
	ASSERT_EQ(0, load_edu(&h));
	hwpt.hwpt_alloc.dev_id = 2;
	hwpt.hwpt_alloc.pt_id = 5;
	hwpt.hwpt_alloc.out_hwpt_id = 5;
	insert_rec(&h, 4, &hwpt);
	h.replay.recs[5].attach.pt_id = 5;
	ASSERT_REFUSED(&h, -ENOENT, -EINVAL,
		       "plan record 4 (HWPT_ALLOC): pt 5: ENOENT (made only by record 4, this one (it names itself): the plan uses it before it exists)");
	/* Two HWPTs, each the other's parent. */
	h.replay.recs[4].hwpt_alloc.pt_id = 6;
	hwpt.hwpt_alloc.pt_id = 5;
	hwpt.hwpt_alloc.out_hwpt_id = 6;
	insert_rec(&h, 5, &hwpt);
	ASSERT_REFUSED(&h, -ENOENT, -EINVAL,
		       "plan record 4 (HWPT_ALLOC): pt 6: ENOENT (made only by record 5: the plan uses it before it exists)");
	kho_handoff_free(&h);
}

KTEST(plan_check_names_wrong_kinds_and_ids_made_twice)
{
	struct kho_rec alloc = { .op = KHO_OP_IOAS_ALLOC };
	struct kho_handoff h;

	ASSERT_EQ(0, load_edu(&h));
	h.replay.recs[4].attach.pt_id = 2;	/* the device, not a pt */
	ASSERT_REFUSED(&h, -EINVAL, -EINVAL,
		       "plan record 4 (DEVICE_ATTACH_IOMMUFD_PT): pt 2: EINVAL (the device made by record 3, where an IOAS or HWPT is needed)");
	h.replay.recs[4].attach.pt_id = 1;
	alloc.ioas_alloc.out_ioas_id = 1;
	insert_rec(&h, 1, &alloc);
	ASSERT_EQ(-EBADMSG, kho_plan_check(&h, NULL, &(struct kho_diag){ "" }));
	kho_handoff_free(&h);
}

/*
 * The agent's side: the replay refuses such a plan before its first
 * ioctl, so /dev/iommu is never opened and no device bound.
 */
KTEST(replay_refuses_an_unknown_object_before_binding)
{
	struct kho_replay_memfd memfd = { .fd = -1 };
	struct kho_diag diag = { "" };
	struct kho_handoff h;
	struct kho_replay r;

	ASSERT_EQ(0, load_edu(&h));
	memfd.token = h.state.memfd[0].token;
	h.replay.recs[4].attach.pt_id = 9;
	kho_replay_init(&r);
	r.sysfs = "/nonexistent/sys";
	ASSERT_EQ(-ENOENT, kho_replay_run(&r, &h, &memfd, 1, &diag));
	ASSERT_STR_CONTAINS(diag.msg,
			    "replay: plan record 4 (DEVICE_ATTACH_IOMMUFD_PT): pt 9: ENOENT (no record of the plan makes it); refused before the first ioctl, no device bound");
	ASSERT_EQ(0, r.steps);
	ASSERT_EQ(-1, r.iommufd);
	ASSERT_EQ(0, r.nr_dev);
	kho_replay_release(&r);
	kho_handoff_free(&h);
}
