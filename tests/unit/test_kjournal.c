// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of the host-testable side of the kernel journal: converting a
 * kernel record (inode -> memfd token), comparing the kernel's journal with
 * the recorder's (the first differing record is named), and the hand-off's
 * optional journal-source property (written only when set, read back, and
 * absent from older blobs without harm).
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <libfdt.h>

#include "ktest.h"
#include "../../include/kho-patched/linux/iommufd_journal.h"
#include "handoff.h"
#include "handoff_format.h"
#include "journal.h"
#include "kjournal.h"
#include "pci.h"

static int ino_to_token(void *ctx, uint64_t ino, uint64_t *token)
{
	if (ino != 4242)
		return -ENOENT;
	*token = 7;
	return 0;
}

static struct iommu_journal_map_file kmap(uint64_t iova)
{
	return (struct iommu_journal_map_file){
		.hdr = { .op = IOMMU_JOURNAL_OP_IOAS_MAP_FILE,
			 .len = sizeof(struct iommu_journal_map_file) },
		.flags = 1, .ioas_id = 1, .file_ino = 4242,
		.file_size = 1 << 20, .start = 0x2000, .length = 0x1000,
		.iova = iova,
	};
}

/* What the recorder writes for the same map: by token, same fields. */
static struct kho_rec umap(uint64_t iova)
{
	struct kho_rec r = { .op = KHO_OP_IOAS_MAP_FILE };

	r.map.flags = 1;
	r.map.ioas_id = 1;
	r.map.memfd_token = 7;
	r.map.offset = 0x2000;
	r.map.length = 0x1000;
	r.map.iova = iova;
	return r;
}

static int append_kernel(struct kho_journal *j,
			 const struct iommu_journal_map_file *k)
{
	struct kho_diag diag;
	struct kho_rec rec;
	size_t used;
	int err;

	err = kho_kjournal_rec_to_kho(k, sizeof(*k), ino_to_token, NULL, &rec,
				      &used, &diag);
	if (err)
		return err;
	err = kho_journal_append(j, &rec);
	kho_rec_release(&rec);
	return err;
}

KTEST(kjournal_rec_to_kho_resolves_inode)
{
	struct iommu_journal_map_file k = kmap(0x100000);
	struct kho_diag diag = { "" };
	struct kho_rec rec;
	size_t used = 0;

	ASSERT_EQ(0, kho_kjournal_rec_to_kho(&k, sizeof(k), ino_to_token, NULL,
					     &rec, &used, &diag));
	ASSERT_EQ(sizeof(k), used);
	ASSERT_EQ(KHO_OP_IOAS_MAP_FILE, rec.op);
	ASSERT_EQ(7, rec.map.memfd_token);
	ASSERT_EQ(0x100000, rec.map.iova);

	k.file_ino = 99;
	ASSERT_EQ(-ENOENT, kho_kjournal_rec_to_kho(&k, sizeof(k), ino_to_token,
						   NULL, &rec, &used, &diag));
	ASSERT_STR_CONTAINS(diag.msg, "no preserved memfd for inode 99");

	k = kmap(0x100000);
	k.hdr.flags = IOMMU_JOURNAL_REC_NOT_CARRIED;
	ASSERT_EQ(-EOPNOTSUPP, kho_kjournal_rec_to_kho(&k, sizeof(k), NULL, NULL,
						       &rec, &used, &diag));
	k = kmap(0x100000);
	ASSERT_EQ(-EBADMSG, kho_kjournal_rec_to_kho(&k, sizeof(k) - 8, NULL,
						    NULL, &rec, &used, &diag));
}

KTEST(kjournal_compare_equal_and_first_difference)
{
	struct iommu_journal_map_file k0 = kmap(0x100000), k1 = kmap(0x200000);
	struct kho_journal kj, uj;
	struct kho_diag diag = { "" };
	struct kho_rec u0 = umap(0x100000), u1 = umap(0x200000);
	struct kho_rec bad = umap(0x300000);

	kho_journal_init(&kj);
	kho_journal_init(&uj);
	ASSERT_EQ(0, kho_kjournal_compare(&kj, &uj, &diag));
	ASSERT_EQ(0, append_kernel(&kj, &k0));
	ASSERT_EQ(0, append_kernel(&kj, &k1));
	ASSERT_EQ(0, kho_journal_append(&uj, &u0));

	/* The recorder missed the kernel's record 1. */
	ASSERT_EQ(-EILSEQ, kho_kjournal_compare(&kj, &uj, &diag));
	ASSERT_STR_CONTAINS(diag.msg, "record 1 differs");
	ASSERT_STR_CONTAINS(diag.msg, "the recorder stops at 1 records");

	ASSERT_EQ(0, kho_journal_append(&uj, &u1));
	ASSERT_EQ(0, kho_kjournal_compare(&kj, &uj, &diag));

	/* A record the kernel never ran. */
	ASSERT_EQ(0, kho_journal_append(&uj, &bad));
	ASSERT_EQ(-EILSEQ, kho_kjournal_compare(&kj, &uj, &diag));
	ASSERT_STR_CONTAINS(diag.msg, "record 2 differs: the kernel stops at 2 records");

	/* Same length, another IOVA: named, with both sides. */
	kho_journal_free(&uj);
	kho_journal_init(&uj);
	ASSERT_EQ(0, kho_journal_append(&uj, &u0));
	ASSERT_EQ(0, kho_journal_append(&uj, &bad));
	ASSERT_EQ(-EILSEQ, kho_kjournal_compare(&kj, &uj, &diag));
	ASSERT_STR_CONTAINS(diag.msg, "record 1 differs: kernel has \"");
	ASSERT_STR_CONTAINS(diag.msg, "--userspace-journal");
	kho_journal_free(&kj);
	kho_journal_free(&uj);

	/*
	 * A kernel's record of a bind that names no device (zero PCI
	 * identity, no UUID) is not the recorder's mdev: nothing papers over
	 * a record the kernel could not make.
	 */
	{
		struct kho_rec kb = { .op = KHO_OP_DEVICE_BIND };
		struct kho_rec ub;

		kb.bind.out_devid = 2;
		ub = kb;
		memset(ub.bind.mdev_uuid, 0x5a, sizeof(ub.bind.mdev_uuid));
		kho_journal_init(&kj);
		kho_journal_init(&uj);
		ASSERT_EQ(0, kho_journal_append(&kj, &kb));
		ASSERT_EQ(0, kho_journal_append(&uj, &ub));
		ASSERT_EQ(-EILSEQ, kho_kjournal_compare(&kj, &uj, &diag));
		ASSERT_STR_CONTAINS(diag.msg, "mdev 5a5a5a5a-5a5a-5a5a-5a5a-5a5a5a5a5a5a -> device 2");
		kho_journal_free(&kj);
		kho_journal_free(&uj);
	}
}

/*
 * patches/0006: the kernel journals an emulated device (an mdev, bound
 * through an iommufd access) by its UUID.  Its bind converts to the
 * recorder's record of the same mdev and compares equal; another UUID
 * differs.  A bind of the v1 layout (no UUID field) is refused by name.
 */
KTEST(kjournal_emulated_bind_names_the_mdev)
{
	struct iommu_journal_bind k = {
		.hdr = { .op = IOMMU_JOURNAL_OP_DEVICE_BIND,
			 .flags = IOMMU_JOURNAL_REC_EMULATED,
			 .len = sizeof(k) },
		.out_dev_id = 2,
	};
	struct kho_journal kj, uj;
	struct kho_diag diag;
	struct kho_rec kr, ur = { .op = KHO_OP_DEVICE_BIND };
	size_t used;

	memset(k.uuid, 0x5a, sizeof(k.uuid));
	ASSERT_EQ(0, kho_kjournal_rec_to_kho(&k, sizeof(k), NULL, NULL, &kr,
					     &used, &diag));
	ASSERT_EQ(sizeof(k), used);
	ASSERT_EQ(0, memcmp(kr.bind.mdev_uuid, k.uuid, sizeof(k.uuid)));
	ASSERT_TRUE(kho_pci_is_none(&kr.bind.pci));

	ur.bind.out_devid = 2;
	memset(ur.bind.mdev_uuid, 0x5a, sizeof(ur.bind.mdev_uuid));
	kho_journal_init(&kj);
	kho_journal_init(&uj);
	ASSERT_EQ(0, kho_journal_append(&kj, &kr));
	ASSERT_EQ(0, kho_journal_append(&uj, &ur));
	ASSERT_EQ(0, kho_kjournal_compare(&kj, &uj, &diag));
	uj.recs[0].bind.mdev_uuid[15] = 0x5b;
	ASSERT_EQ(-EILSEQ, kho_kjournal_compare(&kj, &uj, &diag));
	ASSERT_STR_CONTAINS(diag.msg, "kernel has \"DEVICE_BIND_IOMMUFD mdev 5a5a5a5a-5a5a-5a5a-5a5a-5a5a5a5a5a5a -> device 2\"");
	kho_journal_free(&kj);
	kho_journal_free(&uj);

	k.hdr.len = offsetof(struct iommu_journal_bind, uuid);
	ASSERT_EQ(-EPROTONOSUPPORT,
		  kho_kjournal_rec_to_kho(&k, sizeof(k), NULL, NULL, &kr,
					  &used, &diag));
	ASSERT_STR_CONTAINS(diag.msg, "iommufd-journal-v1");
	ASSERT_STR_CONTAINS(diag.msg, "--userspace-journal");
}

/*
 * The kernel journals every call; the recorder drops a MAP with the UNMAP
 * that cancels it at its tail.  Capture elides the kernel's records by the
 * same rule before it compares: then they match, and a pair the recorder
 * did not see cancel is still a difference.
 */
KTEST(kjournal_compare_after_eliding_the_kernels_pairs)
{
	struct iommu_journal_map_file k0 = kmap(0x100000), k1 = kmap(0x200000);
	struct iommu_journal_unmap ku = {
		.hdr = { .op = IOMMU_JOURNAL_OP_IOAS_UNMAP,
			 .len = sizeof(struct iommu_journal_unmap) },
		.ioas_id = 1, .iova = 0x200000, .length = 0x1000,
		.out_length = 0x1000,
	};
	struct kho_rec u0 = umap(0x100000), rec;
	struct kho_diag diag = { "" };
	struct kho_journal kj, uj;
	uint64_t pairs = 0;
	size_t used, i;

	kho_journal_init(&kj);
	kho_journal_init(&uj);
	ASSERT_EQ(0, append_kernel(&kj, &k0));
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, append_kernel(&kj, &k1));
		ASSERT_EQ(0, kho_kjournal_rec_to_kho(&ku, sizeof(ku), ino_to_token,
						     NULL, &rec, &used, &diag));
		ASSERT_EQ(0, kho_journal_append(&kj, &rec));
	}
	ASSERT_EQ(0, kho_journal_append(&uj, &u0));
	ASSERT_EQ(-EILSEQ, kho_kjournal_compare(&kj, &uj, &diag));
	kho_journal_elide(&kj, &pairs);
	ASSERT_EQ(3, pairs);
	ASSERT_EQ(1, kj.nr);
	ASSERT_EQ(0, kho_kjournal_compare(&kj, &uj, &diag));

	/* the UNMAP of the first map: not the tail, kept on both sides */
	ku.iova = 0x100000;
	ASSERT_EQ(0, append_kernel(&kj, &k1));
	ASSERT_EQ(0, kho_kjournal_rec_to_kho(&ku, sizeof(ku), ino_to_token,
					     NULL, &rec, &used, &diag));
	ASSERT_EQ(0, kho_journal_append(&kj, &rec));
	kho_journal_elide(&kj, &pairs);
	ASSERT_EQ(3, kj.nr);
	ASSERT_EQ(-EILSEQ, kho_kjournal_compare(&kj, &uj, &diag));
	ASSERT_STR_CONTAINS(diag.msg, "record 1 differs");
	kho_journal_free(&kj);
	kho_journal_free(&uj);
}

KTEST(handoff_journal_source_optional)
{
	struct kho_handoff h, back;
	struct kho_diag diag = { "" };
	void *blob;
	size_t len;
	int plen;

	kho_handoff_init(&h);
	h.format_version = h.min_reader_version = KHO_FORMAT_VERSION;
	snprintf(h.tool_version, sizeof(h.tool_version), "test");

	/* Unset: no property, so the blob is what older writers produced. */
	ASSERT_EQ(0, kho_handoff_encode(&h, &blob, &len));
	ASSERT_TRUE(!fdt_getprop(blob, 0, KHO_P_JOURNAL_SOURCE, &plen));
	ASSERT_EQ(0, kho_handoff_decode(blob, len, &back, &diag));
	ASSERT_EQ(0, back.journal_source[0]);
	kho_handoff_free(&back);
	free(blob);

	snprintf(h.journal_source, sizeof(h.journal_source), "%s",
		 KHO_JOURNAL_SOURCE_KERNEL);
	ASSERT_EQ(0, kho_handoff_encode(&h, &blob, &len));
	ASSERT_TRUE(fdt_getprop(blob, 0, KHO_P_JOURNAL_SOURCE, &plen));
	ASSERT_EQ(0, kho_handoff_decode(blob, len, &back, &diag));
	ASSERT_TRUE(!strcmp(back.journal_source, KHO_JOURNAL_SOURCE_KERNEL));
	kho_handoff_free(&back);
	free(blob);

	/* Not NUL-terminated within the field: a caller bug, refused. */
	memset(h.journal_source, 'k', sizeof(h.journal_source));
	ASSERT_EQ(-EINVAL, kho_handoff_encode(&h, &blob, &len));
	kho_handoff_free(&h);
}
