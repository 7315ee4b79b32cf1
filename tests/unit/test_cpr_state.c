// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of QEMU's CPR state parser and encoder (lib/cpr_state.c):
 * the bytes an unmodified QEMU 11.1.3 sent for a q35 guest with
 * memory-backend-memfd RAM (captured by tests/cpr/roundtrip.sh, also in
 * tests/data/cpr/) parse and re-encode byte for byte; every truncation,
 * a bad magic or version, out-of-bounds lengths and counts, and fds that
 * do not match their placeholders fail with a message naming the field.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ktest.h"
#include "cpr_state.h"

static const uint8_t qemu_state[] = {
	0x51, 0x43, 0x50, 0x52, 0x00, 0x00, 0x00, 0x01, 0x01, 0x00, 0x00, 0x00,
	0x13, 0x2f, 0x72, 0x6f, 0x6d, 0x40, 0x65, 0x74, 0x63, 0x2f, 0x61, 0x63,
	0x70, 0x69, 0x2f, 0x72, 0x73, 0x64, 0x70, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x20, 0x01, 0x00, 0x00, 0x00, 0x15, 0x2f, 0x72, 0x6f, 0x6d, 0x40, 0x65,
	0x74, 0x63, 0x2f, 0x61, 0x63, 0x70, 0x69, 0x2f, 0x74, 0x61, 0x62, 0x6c,
	0x65, 0x73, 0x00, 0x00, 0x00, 0x00, 0x00, 0x20, 0x01, 0x00, 0x00, 0x00,
	0x08, 0x70, 0x63, 0x2e, 0x62, 0x69, 0x6f, 0x73, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x20, 0x01, 0x00, 0x00, 0x00, 0x16, 0x2f, 0x72, 0x6f, 0x6d, 0x40,
	0x65, 0x74, 0x63, 0x2f, 0x74, 0x61, 0x62, 0x6c, 0x65, 0x2d, 0x6c, 0x6f,
	0x61, 0x64, 0x65, 0x72, 0x00, 0x00, 0x00, 0x00, 0x00, 0x20, 0x01, 0x00,
	0x00, 0x00, 0x07, 0x70, 0x63, 0x2e, 0x72, 0x6f, 0x6d, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x20, 0x01, 0x00, 0x00, 0x00, 0x05, 0x72, 0x61, 0x6d, 0x30,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x20, 0x00, 0x05, 0x15, 0x43, 0x70, 0x72,
	0x53, 0x74, 0x61, 0x74, 0x65, 0x2f, 0x76, 0x66, 0x69, 0x6f, 0x20, 0x64,
	0x65, 0x76, 0x69, 0x63, 0x65, 0x73, 0x00, 0x00, 0x00, 0x01, 0x00
};
/*
 * QEMU 11.1.3's CPR state with L1's edu passed through to a q35 guest
 * (-object iommufd,id=iommufd0 -device vfio-pci,host=0000:00:03.0,
 * iommufd=iommufd0,id=edu0), captured in the L1 host guest by
 * tests/vm/110-host-image.bats (also in tests/data/cpr/).
 */
static const uint8_t qemu_vfio_state[] = {
	0x51, 0x43, 0x50, 0x52, 0x00, 0x00, 0x00, 0x01, 0x01, 0x00, 0x00, 0x00,
	0x16, 0x2f, 0x72, 0x6f, 0x6d, 0x40, 0x65, 0x74, 0x63, 0x2f, 0x74, 0x61,
	0x62, 0x6c, 0x65, 0x2d, 0x6c, 0x6f, 0x61, 0x64, 0x65, 0x72, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x20, 0x01, 0x00, 0x00, 0x00, 0x07, 0x70, 0x63, 0x2e,
	0x72, 0x6f, 0x6d, 0x00, 0x00, 0x00, 0x00, 0x00, 0x20, 0x01, 0x00, 0x00,
	0x00, 0x15, 0x2f, 0x72, 0x6f, 0x6d, 0x40, 0x65, 0x74, 0x63, 0x2f, 0x61,
	0x63, 0x70, 0x69, 0x2f, 0x74, 0x61, 0x62, 0x6c, 0x65, 0x73, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x20, 0x01, 0x00, 0x00, 0x00, 0x05, 0x72, 0x61, 0x6d,
	0x30, 0x00, 0x00, 0x00, 0x00, 0x00, 0x20, 0x01, 0x00, 0x00, 0x00, 0x1c,
	0x30, 0x30, 0x30, 0x30, 0x3a, 0x30, 0x30, 0x3a, 0x30, 0x33, 0x2e, 0x30,
	0x5f, 0x69, 0x6e, 0x74, 0x78, 0x2d, 0x69, 0x6e, 0x74, 0x65, 0x72, 0x72,
	0x75, 0x70, 0x74, 0x00, 0x00, 0x00, 0x00, 0x00, 0x20, 0x01, 0x00, 0x00,
	0x00, 0x0d, 0x30, 0x30, 0x30, 0x30, 0x3a, 0x30, 0x30, 0x3a, 0x30, 0x33,
	0x2e, 0x30, 0x00, 0x00, 0x00, 0x00, 0x00, 0x20, 0x01, 0x00, 0x00, 0x00,
	0x09, 0x69, 0x6f, 0x6d, 0x6d, 0x75, 0x66, 0x64, 0x30, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x20, 0x01, 0x00, 0x00, 0x00, 0x08, 0x70, 0x63, 0x2e, 0x62,
	0x69, 0x6f, 0x73, 0x00, 0x00, 0x00, 0x00, 0x00, 0x20, 0x01, 0x00, 0x00,
	0x00, 0x13, 0x2f, 0x72, 0x6f, 0x6d, 0x40, 0x65, 0x74, 0x63, 0x2f, 0x61,
	0x63, 0x70, 0x69, 0x2f, 0x72, 0x73, 0x64, 0x70, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x20, 0x01, 0x00, 0x00, 0x00, 0x1a, 0x30, 0x30, 0x30, 0x30, 0x3a,
	0x30, 0x30, 0x3a, 0x30, 0x33, 0x2e, 0x30, 0x5f, 0x72, 0x65, 0x71, 0x5f,
	0x6e, 0x6f, 0x74, 0x69, 0x66, 0x69, 0x65, 0x72, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x20, 0x00, 0x05, 0x15, 0x43, 0x70, 0x72, 0x53, 0x74, 0x61, 0x74,
	0x65, 0x2f, 0x76, 0x66, 0x69, 0x6f, 0x20, 0x64, 0x65, 0x76, 0x69, 0x63,
	0x65, 0x73, 0x00, 0x00, 0x00, 0x01, 0x01, 0x00, 0x00, 0x00, 0x0d, 0x30,
	0x30, 0x30, 0x30, 0x3a, 0x30, 0x30, 0x3a, 0x30, 0x33, 0x2e, 0x30, 0x00,
	0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x03,
	0x00
};
#define VFIO_NR 10

/* Where the fd list ends and the "CprState/vfio devices" subsection starts. */
#define LIST_END 151
#define NR 6

static void open_fds(int *fds, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

static void close_fds(int *fds, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		close(fds[i]);
}

/* Parses @buf with @n fresh fds, expecting @want; the message in @err. */
static int parse(const uint8_t *buf, size_t len, unsigned int n, char *err,
		 size_t errlen)
{
	struct kho_cpr_state st;
	int fds[KHO_CPR_MAX_FDS + 2];
	int ret;

	open_fds(fds, n);
	err[0] = '\0';
	ret = kho_cpr_state_parse(buf, len, fds, n, &st, err, errlen);
	if (ret)
		close_fds(fds, n);
	else
		kho_cpr_state_free(&st);
	return ret;
}

KTEST(cpr_qemu_11_1_state_parses)
{
	static const char *const names[NR] = {
		"/rom@etc/acpi/rsdp", "/rom@etc/acpi/tables", "pc.bios",
		"/rom@etc/table-loader", "pc.rom", "ram0",
	};
	struct kho_cpr_state st;
	char err[256] = "";
	int fds[NR];
	unsigned int i;

	open_fds(fds, NR);
	ASSERT_EQ(0, kho_cpr_state_parse(qemu_state, sizeof(qemu_state), fds,
					 NR, &st, err, sizeof(err)));
	ASSERT_EQ(NR, st.nr_fds);
	for (i = 0; i < NR; i++) {
		ASSERT_EQ(0, strcmp(names[i], st.fds[i].name));
		ASSERT_EQ(0, st.fds[i].id);
		ASSERT_EQ(fds[i], st.fds[i].fd);
	}
	/* QEMU 11.1 sends the VFIO device list even when it is empty. */
	ASSERT_EQ(1, st.has_vfio);
	ASSERT_EQ(0, st.nr_vfio);
	ASSERT_EQ(0, st.tail_len);
	ASSERT_EQ(KHO_CPR_KIND_OTHER, kho_cpr_fd_kind(st.fds[0].fd, err, sizeof(err)));
	kho_cpr_state_free(&st);
}

KTEST(cpr_round_trip_is_byte_exact)
{
	struct kho_cpr_state st;
	uint8_t out[512];
	size_t len = 0, offs[NR];
	char err[256];
	int fds[NR];
	unsigned int i;

	open_fds(fds, NR);
	ASSERT_EQ(0, kho_cpr_state_parse(qemu_state, sizeof(qemu_state), fds,
					 NR, &st, err, sizeof(err)));
	ASSERT_EQ(0, kho_cpr_state_encode(&st, out, sizeof(out), &len, offs));
	ASSERT_EQ(sizeof(qemu_state), len);
	ASSERT_EQ(0, memcmp(qemu_state, out, len));
	for (i = 0; i < NR; i++) {
		ASSERT_EQ(' ', out[offs[i]]);
		ASSERT_TRUE(i == 0 || offs[i] > offs[i - 1]);
	}
	/* One byte short of room: nothing half-written is reported done. */
	ASSERT_EQ(-ENOSPC, kho_cpr_state_encode(&st, out, len - 1, &len, offs));
	kho_cpr_state_free(&st);
}

KTEST(cpr_every_truncation_fails)
{
	char err[256];
	size_t len;
	int ret;

	for (len = 0; len < sizeof(qemu_state); len++) {
		ret = parse(qemu_state, len, NR, err, sizeof(err));
		/* Ending right after the fd list is a state without subsections. */
		if (len == LIST_END) {
			ASSERT_EQ(0, ret);
			continue;
		}
		if (ret != -EBADMSG)
			printf("#   length %zu: %d (%s)\n", len, ret, err);
		ASSERT_EQ(-EBADMSG, ret);
		ASSERT_STR_CONTAINS(err, "cpr state: offset ");
	}
	ASSERT_EQ(-EBADMSG, parse(qemu_state, 10, NR, err, sizeof(err)));
	ASSERT_STR_CONTAINS(err, "fd 0: namelen: truncated");
	ASSERT_EQ(-EBADMSG, parse(qemu_state, 20, NR, err, sizeof(err)));
	ASSERT_STR_CONTAINS(err, "fd 0: name: truncated");
	ASSERT_EQ(-EBADMSG, parse(qemu_state, 33, NR, err, sizeof(err)));
	ASSERT_STR_CONTAINS(err, "fd 0 (/rom@etc/acpi/rsdp): id: truncated");
	ASSERT_EQ(-EBADMSG, parse(qemu_state, sizeof(qemu_state) - 1, NR, err,
				  sizeof(err)));
	ASSERT_STR_CONTAINS(err, "vfio devices: list marker: truncated");
}

/* The fd list of qemu_state, then @body as the vfio devices subsection. */
static size_t with_vfio(uint8_t *b, const uint8_t *body, size_t blen)
{
	memcpy(b, qemu_state, sizeof(qemu_state) - 1);
	memcpy(b + sizeof(qemu_state) - 1, body, blen);
	return sizeof(qemu_state) - 1 + blen;
}

/* Two devices as hw/vfio/cpr-iommufd.c writes them, then the list end. */
static const uint8_t two_devs[] = {
	1, 0, 0, 0, 5, 'e', 'd', 'u', '0', 0,	/* namelen, name */
	0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 3,	/* devid, ioas_id, hwpt_id */
	1, 0, 0, 0, 5, 'n', 'v', 'm', 'e', 0,
	0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0, 5,
	0,
};

KTEST(cpr_vfio_devices_parse_and_ids_rewrite)
{
	uint8_t b[512], out[512];
	size_t len = with_vfio(b, two_devs, sizeof(two_devs)), olen, offs[NR];
	struct kho_cpr_state st;
	char err[256];
	int fds[NR];

	open_fds(fds, NR);
	ASSERT_EQ(0, kho_cpr_state_parse(b, len, fds, NR, &st, err, sizeof(err)));
	ASSERT_EQ(2, st.nr_vfio);
	ASSERT_EQ(0, strcmp("edu0", st.vfio[0].name));
	ASSERT_EQ(2, st.vfio[0].devid);
	ASSERT_EQ(1, st.vfio[0].ioas_id);
	ASSERT_EQ(3, st.vfio[0].hwpt_id);
	ASSERT_EQ(0, strcmp("nvme", st.vfio[1].name));
	ASSERT_EQ(5, st.vfio[1].hwpt_id);
	ASSERT_EQ(0, kho_cpr_state_encode(&st, out, sizeof(out), &olen, offs));
	ASSERT_EQ(len, olen);
	ASSERT_EQ(0, memcmp(b, out, len));
	/* After a replay the objects have new IDs: the new QEMU gets those. */
	st.vfio[0].devid = 7;
	st.vfio[0].ioas_id = 6;
	st.vfio[0].hwpt_id = 8;
	ASSERT_EQ(0, kho_cpr_state_encode(&st, out, sizeof(out), &olen, offs));
	kho_cpr_state_free(&st);
	open_fds(fds, NR);
	ASSERT_EQ(0, kho_cpr_state_parse(out, olen, fds, NR, &st, err, sizeof(err)));
	ASSERT_EQ(7, st.vfio[0].devid);
	ASSERT_EQ(6, st.vfio[0].ioas_id);
	ASSERT_EQ(8, st.vfio[0].hwpt_id);
	ASSERT_EQ(4, st.vfio[1].devid);
	kho_cpr_state_free(&st);
}

KTEST(cpr_vfio_devices_malformed)
{
	uint8_t b[512], body[sizeof(two_devs)];
	size_t len, cut;
	char err[256];

	for (cut = 0; cut < sizeof(two_devs); cut++) {
		len = with_vfio(b, two_devs, cut);
		ASSERT_EQ(-EBADMSG, parse(b, len, NR, err, sizeof(err)));
		ASSERT_STR_CONTAINS(err, "vfio device");
	}
	memcpy(body, two_devs, sizeof(body));
	body[1] = 1;	/* namelen 0x01000005 */
	ASSERT_EQ(-EBADMSG, parse(b, with_vfio(b, body, sizeof(body)), NR, err,
				  sizeof(err)));
	ASSERT_STR_CONTAINS(err, "vfio device 0: namelen 16777221 outside 1..256");
	memcpy(body, two_devs, sizeof(body));
	body[22] = 9;
	ASSERT_EQ(-EBADMSG, parse(b, with_vfio(b, body, sizeof(body)), NR, err,
				  sizeof(err)));
	ASSERT_STR_CONTAINS(err, "vfio devices: list marker 9 after 1 devices");
	memcpy(body, two_devs, sizeof(body));
	body[9] = 'x';
	ASSERT_EQ(-EBADMSG, parse(b, with_vfio(b, body, sizeof(body)), NR, err,
				  sizeof(err)));
	ASSERT_STR_CONTAINS(err, "vfio device 0: name: not one NUL-terminated");
}

KTEST(cpr_vfio_devices_bounded)
{
	static const uint8_t dev[] = { 1, 0, 0, 0, 2, 'd', 0, 0, 0, 0, 1,
				       0, 0, 0, 1, 0, 0, 0, 2 };
	size_t n = sizeof(qemu_state) - 1 + (KHO_CPR_MAX_VFIO + 1) * sizeof(dev) + 1;
	uint8_t *b = malloc(n);
	size_t off = sizeof(qemu_state) - 1;
	char err[256];
	unsigned int i;
	int ret;

	ASSERT_TRUE(b != NULL);
	memcpy(b, qemu_state, off);
	for (i = 0; i <= KHO_CPR_MAX_VFIO; i++, off += sizeof(dev))
		memcpy(b + off, dev, sizeof(dev));
	b[off] = 0;
	ret = parse(b, n, NR, err, sizeof(err));
	free(b);
	ASSERT_EQ(-E2BIG, ret);
	ASSERT_STR_CONTAINS(err, "vfio devices: more than 256");
}

KTEST(cpr_later_subsections_stay_verbatim)
{
	static const uint8_t later[] = { 0, 0x05, 4, 'n', 'e', 'x', 't',
					 0, 0, 0, 1, 0xab, 0xcd };
	uint8_t b[512], out[512];
	size_t len = with_vfio(b, later, sizeof(later)), olen, offs[NR];
	struct kho_cpr_state st;
	char err[256];
	int fds[NR];

	open_fds(fds, NR);
	ASSERT_EQ(0, kho_cpr_state_parse(b, len, fds, NR, &st, err, sizeof(err)));
	ASSERT_EQ(0, strcmp("next", st.tail_name));
	ASSERT_EQ(sizeof(later) - 1, st.tail_len);
	ASSERT_EQ(0, kho_cpr_state_encode(&st, out, sizeof(out), &olen, offs));
	ASSERT_EQ(len, olen);
	ASSERT_EQ(0, memcmp(b, out, len));
	kho_cpr_state_free(&st);
}

KTEST(cpr_bad_magic_and_version)
{
	uint8_t b[sizeof(qemu_state)];
	char err[256];

	memcpy(b, qemu_state, sizeof(b));
	b[0] = 'Q' + 1;
	ASSERT_EQ(-EPROTONOSUPPORT, parse(b, sizeof(b), NR, err, sizeof(err)));
	ASSERT_STR_CONTAINS(err, "magic: 0x52435052");
	memcpy(b, qemu_state, sizeof(b));
	b[7] = 2;
	ASSERT_EQ(-EPROTONOSUPPORT, parse(b, sizeof(b), NR, err, sizeof(err)));
	ASSERT_STR_CONTAINS(err, "version: 2");
}

KTEST(cpr_lengths_and_markers_are_checked)
{
	uint8_t b[sizeof(qemu_state)];
	char err[256];

	/* namelen 0, then one far past the buffer and the bound. */
	memcpy(b, qemu_state, sizeof(b));
	b[12] = 0;
	ASSERT_EQ(-EBADMSG, parse(b, sizeof(b), NR, err, sizeof(err)));
	ASSERT_STR_CONTAINS(err, "fd 0: namelen 0 outside 1..256");
	memcpy(b, qemu_state, sizeof(b));
	b[9] = 0x7f;
	ASSERT_EQ(-EBADMSG, parse(b, sizeof(b), NR, err, sizeof(err)));
	ASSERT_STR_CONTAINS(err, "fd 0: namelen 2130706451 outside");
	/* A name whose last byte is not its only NUL. */
	memcpy(b, qemu_state, sizeof(b));
	b[31] = 'x';
	ASSERT_EQ(-EBADMSG, parse(b, sizeof(b), NR, err, sizeof(err)));
	ASSERT_STR_CONTAINS(err, "not one NUL-terminated string");
	memcpy(b, qemu_state, sizeof(b));
	b[14] = 0;
	ASSERT_EQ(-EBADMSG, parse(b, sizeof(b), NR, err, sizeof(err)));
	ASSERT_STR_CONTAINS(err, "not one NUL-terminated string");
	/* The fd placeholder, the list marker, the byte after the list. */
	memcpy(b, qemu_state, sizeof(b));
	b[36] = 'x';
	ASSERT_EQ(-EBADMSG, parse(b, sizeof(b), NR, err, sizeof(err)));
	ASSERT_STR_CONTAINS(err, "fd 0 (/rom@etc/acpi/rsdp): fd placeholder is 0x78");
	memcpy(b, qemu_state, sizeof(b));
	b[37] = 2;
	ASSERT_EQ(-EBADMSG, parse(b, sizeof(b), NR, err, sizeof(err)));
	ASSERT_STR_CONTAINS(err, "list marker 2 after 1 fds");
	memcpy(b, qemu_state, sizeof(b));
	b[LIST_END] = 0x04;
	ASSERT_EQ(-EBADMSG, parse(b, sizeof(b), NR, err, sizeof(err)));
	ASSERT_STR_CONTAINS(err, "not a subsection");
}

KTEST(cpr_fds_must_match_placeholders)
{
	char err[256];

	ASSERT_EQ(-EBADMSG, parse(qemu_state, sizeof(qemu_state), NR - 1, err,
				  sizeof(err)));
	ASSERT_STR_CONTAINS(err, "6 named in the state, 5 received");
	ASSERT_EQ(-EBADMSG, parse(qemu_state, sizeof(qemu_state), NR + 1, err,
				  sizeof(err)));
	ASSERT_STR_CONTAINS(err, "6 named in the state, 7 received");
}

KTEST(cpr_too_many_fds)
{
	static const uint8_t elem[] = { 1, 0, 0, 0, 2, 'x', 0, 0, 0, 0, 7, ' ' };
	size_t n = 8 + (KHO_CPR_MAX_FDS + 1) * sizeof(elem) + 1, off = 8;
	struct kho_cpr_state st = { 0 };
	uint8_t *b = calloc(1, n);
	size_t len, offs[1];
	char err[256];
	unsigned int i;
	int ret;

	ASSERT_TRUE(b != NULL);
	memcpy(b, qemu_state, 8);
	for (i = 0; i <= KHO_CPR_MAX_FDS; i++, off += sizeof(elem))
		memcpy(b + off, elem, sizeof(elem));
	b[off] = 0;
	ret = kho_cpr_state_parse(b, n, NULL, 0, &st, err, sizeof(err));
	free(b);
	ASSERT_EQ(-E2BIG, ret);
	ASSERT_STR_CONTAINS(err, "fds: more than 1024");
	/* Nor does the encoder write one. */
	st.nr_fds = KHO_CPR_MAX_FDS + 1;
	ASSERT_EQ(-EINVAL, kho_cpr_state_encode(&st, (uint8_t *)err, sizeof(err),
						&len, offs));
}

KTEST(cpr_kinds)
{
	char what[256];
	int fd = memfd_create("guest-ram", MFD_CLOEXEC);

	ASSERT_TRUE(fd >= 0);
	ASSERT_EQ(KHO_CPR_KIND_MEMFD, kho_cpr_fd_kind(fd, what, sizeof(what)));
	ASSERT_STR_CONTAINS(what, "/memfd:guest-ram");
	close(fd);
	fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	ASSERT_EQ(KHO_CPR_KIND_FILE, kho_cpr_fd_kind(fd, what, sizeof(what)));
	close(fd);
	ASSERT_TRUE(kho_cpr_kind_crosses_kexec(KHO_CPR_KIND_MEMFD));
	ASSERT_TRUE(kho_cpr_kind_crosses_kexec(KHO_CPR_KIND_IOMMUFD));
	ASSERT_TRUE(!kho_cpr_kind_crosses_kexec(KHO_CPR_KIND_VHOST));
	ASSERT_TRUE(!kho_cpr_kind_crosses_kexec(KHO_CPR_KIND_FILE));
	ASSERT_EQ(0, strcmp("vfio-device", kho_cpr_kind_name(KHO_CPR_KIND_VFIO_DEVICE)));
}

KTEST(cpr_qemu_11_1_vfio_state_parses_and_round_trips)
{
	static const char *const names[VFIO_NR] = {
		"/rom@etc/table-loader", "pc.rom", "/rom@etc/acpi/tables",
		"ram0", "0000:00:03.0_intx-interrupt", "0000:00:03.0",
		"iommufd0", "pc.bios", "/rom@etc/acpi/rsdp",
		"0000:00:03.0_req_notifier",
	};
	struct kho_cpr_state st;
	uint8_t out[512];
	size_t len = 0, offs[VFIO_NR];
	char err[256] = "";
	int fds[VFIO_NR];
	unsigned int i;

	open_fds(fds, VFIO_NR);
	ASSERT_EQ(0, kho_cpr_state_parse(qemu_vfio_state, sizeof(qemu_vfio_state),
					 fds, VFIO_NR, &st, err, sizeof(err)));
	ASSERT_EQ(VFIO_NR, st.nr_fds);
	for (i = 0; i < VFIO_NR; i++) {
		ASSERT_EQ(0, strcmp(names[i], st.fds[i].name));
		ASSERT_EQ(0, st.fds[i].id);
	}
	/* The device goes by its host address, not by its id (edu0). */
	ASSERT_EQ(1, st.has_vfio);
	ASSERT_EQ(1, st.nr_vfio);
	ASSERT_EQ(0, strcmp("0000:00:03.0", st.vfio[0].name));
	ASSERT_EQ(1, st.vfio[0].devid);
	ASSERT_EQ(2, st.vfio[0].ioas_id);
	ASSERT_EQ(3, st.vfio[0].hwpt_id);
	ASSERT_EQ(0, kho_cpr_state_encode(&st, out, sizeof(out), &len, offs));
	ASSERT_EQ(sizeof(qemu_vfio_state), len);
	ASSERT_EQ(0, memcmp(qemu_vfio_state, out, len));
	kho_cpr_state_free(&st);
}
