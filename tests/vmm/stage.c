// SPDX-License-Identifier: GPL-2.0
/*
 * test-vmm stage: the "before kexec" side of the restore tests without
 * the recorder or kho-tool: builds real state (guest RAM memfd, IOAS with
 * MAP_FILE maps, the edu device bound and attached), proves it with a DMA
 * check, writes the matching hand-off and preserves it with the RAM memfd
 * in the kho-tool LUO session, then holds the session until kexec.
 * --hwpt stages a VMM that allocates its HWPT explicitly (IOMMU_HWPT_ALLOC
 * on the filled IOAS, then ATTACH to that HWPT), as QEMU's iommufd
 * backend does: the plan then holds the HWPT_ALLOC a recorder would have
 * journaled.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include <linux/iommufd.h>

#include "handoff.h"
#include "journal.h"
#include "luo.h"
#include "state.h"
#include "vmm.h"

#define STAGE_RAM_TOKEN	0x72616d30ULL	/* "ram0" */
#define STAGE_CHECK_LEN	4000
/*
 * Staged mappings may run past the edu device's 28-bit DMA mask
 * (VMM_IOVA_LIMIT): only the DMA check, at VMM_IOVA_BASE, needs the device
 * to reach them.  They must stay below the x86 MSI window (0xfee00000),
 * which VT-d reserves in every IOAS with a device: 65,536 mappings of
 * 16 KiB and a guest-RAM memfd of a few GiB fit (bench/replay-vm.sh).
 */
#define STAGE_IOVA_LIMIT	0xf0000000ULL

struct stage_opts {
	unsigned int maps;
	uint64_t chunk;
	int corrupt;
	const char *save_good;
	const char *fake_bdf;
	int unknown_pt;		/* the plan's ATTACH names an unknown pt */
	const char *driver;
	int hold;
	int raw;
	int allowed;
	int fill_head;
	int explicit_hwpt;
};

/*
 * --allowed: allow lists with a hole on three IOASes.  IOAS 0 is the
 * device's: its first range holds exactly the guest-RAM maps, so the
 * next automatic IOVA lies past the hole, in its second range.  IOAS 1
 * has no device: its first range is full, its second starts with one
 * map.  IOAS 2 has no device and no map.  Without the allow lists the
 * kernel would hand out PAGE_SIZE in every one of them.
 */
#define STAGE_NR_IOAS	3

struct stage_ioas {
	uint32_t id;
	uint32_t nr_allowed;
	struct kho_iova_range allowed[2];
	uint32_t nr_maps;
	struct kho_mapping maps[2];
};

static void stage_layout(const struct stage_opts *o, struct stage_ioas *x)
{
	uint64_t end = VMM_IOVA_BASE + o->maps * o->chunk;
	const uint32_t rw = IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE;

	x[0].nr_allowed = 2;
	x[0].allowed[0] = (struct kho_iova_range){ VMM_IOVA_BASE, end - 1 };
	x[0].allowed[1] = (struct kho_iova_range){ end + 0x100000,
						   end + 0x1fffff };
	x[1].nr_allowed = 2;
	x[1].allowed[0] = (struct kho_iova_range){ 0x10000, 0x1ffff };
	x[1].allowed[1] = (struct kho_iova_range){ 0x40000, 0x7ffff };
	x[1].nr_maps = 2;
	x[1].maps[0] = (struct kho_mapping){ 0x10000, 0x10000, 0,
					     STAGE_RAM_TOKEN, rw };
	x[1].maps[1] = (struct kho_mapping){ 0x40000, 0x4000, 0x10000,
					     STAGE_RAM_TOKEN, rw };
	x[2].nr_allowed = 2;
	x[2].allowed[0] = (struct kho_iova_range){ 0x200000, 0x2fffff };
	x[2].allowed[1] = (struct kho_iova_range){ 0x400000, 0x4fffff };
}

static int stage_allow(int iommufd, uint32_t ioas_id,
		       const struct stage_ioas *x)
{
	struct iommu_ioas_allow_iovas arg = {
		.size = sizeof(arg),
		.ioas_id = ioas_id,
		.num_iovas = x->nr_allowed,
		.allowed_iovas = (uintptr_t)x->allowed,
	};

	return ioctl(iommufd, IOMMU_IOAS_ALLOW_IOVAS, &arg) < 0 ? -errno : 0;
}

/* Allow lists on the device's IOAS, then two more IOASes (--allowed). */
static int stage_allowed(const struct stage_opts *o, int iommufd,
			 uint32_t ioas_id, int memfd, struct stage_ioas *x)
{
	uint32_t i, j;
	int ret;

	stage_layout(o, x);
	x[0].id = ioas_id;
	ret = stage_allow(iommufd, ioas_id, &x[0]);
	for (i = 1; !ret && i < STAGE_NR_IOAS; i++) {
		ret = vmm_ioas_alloc(iommufd, &x[i].id);
		if (!ret)
			ret = stage_allow(iommufd, x[i].id, &x[i]);
		for (j = 0; !ret && j < x[i].nr_maps; j++)
			ret = vmm_ioas_map_file(iommufd, x[i].id, memfd,
						x[i].maps[j].offset,
						x[i].maps[j].length,
						x[i].maps[j].iova);
	}
	return ret;
}

static int stage_fail(const char *step, int err)
{
	fprintf(stderr, "test-vmm: stage: %s: %s\n", step, strerror(-err));
	return 1;
}

/* The PCI identity behind /dev/vfio/devices/vfioN, from sysfs. */
static int stage_pci_of(const char *cdev, struct kho_pci_id *pci)
{
	const char *name = strrchr(cdev, '/') + 1;
	unsigned int seg, bus, dev, fn;
	char path[128], link[256], *base;
	ssize_t n;

	snprintf(path, sizeof(path), "/sys/class/vfio-dev/%s/device", name);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return -errno;
	link[n] = '\0';
	base = strrchr(link, '/') ? strrchr(link, '/') + 1 : link;
	if (sscanf(base, "%x:%x:%x.%x", &seg, &bus, &dev, &fn) != 4)
		return -EINVAL;
	pci->segment = seg;
	pci->bus = bus;
	pci->devfn = dev << 3 | fn;
	pci->vendor = VMM_EDU_VENDOR;
	pci->device = VMM_EDU_DEVICE;
	return 0;
}

static int stage_parse(int argc, char **argv, struct stage_opts *o)
{
	static const struct option opts[] = {
		{ "maps", required_argument, NULL, 'm' },
		{ "chunk", required_argument, NULL, 'c' },
		{ "corrupt", no_argument, NULL, 'x' },
		{ "save-good", required_argument, NULL, 'g' },
		{ "fake-bdf", required_argument, NULL, 'b' },
		{ "unknown-pt", no_argument, NULL, 'U' },
		{ "driver", required_argument, NULL, 'd' },
		{ "no-hold", no_argument, NULL, 'n' },
		{ "raw", no_argument, NULL, 'r' },
		{ "allowed", no_argument, NULL, 'a' },
		{ "allowed-differs", no_argument, NULL, 'A' },
		{ "fill-head", no_argument, NULL, 'F' },
		{ "hwpt", no_argument, NULL, 'H' },
		{ 0 }
	};
	int c;

	o->maps = 8;
	o->chunk = VMM_CHUNK;
	o->hold = 1;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'm':
			o->maps = strtoul(optarg, NULL, 0);
			break;
		case 'c':
			o->chunk = strtoull(optarg, NULL, 0);
			break;
		case 'x':
			o->corrupt = 1;
			break;
		case 'g':
			o->save_good = optarg;
			break;
		case 'U':
			o->unknown_pt = 1;
			break;
		case 'b':
			o->fake_bdf = optarg;
			break;
		case 'd':
			o->driver = optarg;
			break;
		case 'n':
			o->hold = 0;
			break;
		case 'r':
			o->raw = 1;
			break;
		case 'a':
			o->allowed = 1;
			break;
		case 'A':
			o->allowed = 2;
			break;
		case 'F':
			o->fill_head = 1;
			break;
		case 'H':
			o->explicit_hwpt = 1;
			break;
		default:
			return -EINVAL;
		}
	}
	if (optind != argc || !o->maps || o->chunk < 4096 ||
	    o->chunk % 4096 || o->maps * o->chunk < 3 * 4096 ||
	    VMM_IOVA_BASE + o->maps * o->chunk > STAGE_IOVA_LIMIT)
		return -EINVAL;
	return 0;
}

/* @x's allow list into the state of @a and the plan (--allowed). */
static int stage_handoff_allowed(struct kho_handoff *h, struct kho_ioas *a,
				 const struct stage_ioas *x, int differs)
{
	struct kho_rec rec = { .op = KHO_OP_IOAS_ALLOW_IOVAS };

	if (!x)
		return 0;
	a->allowed = calloc(x->nr_allowed, sizeof(*a->allowed));
	if (!a->allowed)
		return -ENOMEM;
	memcpy(a->allowed, x->allowed, x->nr_allowed * sizeof(*a->allowed));
	a->nr_allowed = x->nr_allowed;
	rec.allow_iovas.ioas_id = a->id;
	/*
	 * --allowed-differs: the plan replays the first range only, the
	 * state records both, as a replay that lost one would leave it:
	 * verify must see it.
	 */
	rec.allow_iovas.num_iovas = differs ? 1 : x->nr_allowed;
	rec.allow_iovas.iovas = (struct kho_iova_range *)x->allowed;
	h->journal_length++;
	return kho_journal_append(&h->replay, &rec);
}

/* The state and plan a recorder + compaction would have produced. */
static int stage_handoff(struct kho_handoff *h, const struct stage_opts *o,
			 uint32_t ioas_id, uint32_t devid, uint32_t hwpt_id,
			 const struct kho_pci_id *pci, uint64_t ram_size,
			 const struct stage_ioas *x)
{
	struct kho_state *s = &h->state;
	struct kho_rec rec;
	struct utsname u;
	unsigned int i;
	int err;

	kho_handoff_init(h);
	h->format_version = KHO_FORMAT_VERSION;
	h->min_reader_version = 1;
	snprintf(h->tool_version, sizeof(h->tool_version), "%s", KHO_TOOL_VERSION);
	if (!uname(&u))
		snprintf(h->kernel_release, sizeof(h->kernel_release), "%s",
			 u.release);
	h->created = time(NULL);

	s->ioas = calloc(STAGE_NR_IOAS, sizeof(*s->ioas));
	s->hwpt = calloc(1, sizeof(*s->hwpt));
	s->dev = calloc(1, sizeof(*s->dev));
	s->memfd = calloc(1, sizeof(*s->memfd));
	if (!s->ioas || !s->hwpt || !s->dev || !s->memfd)
		return -ENOMEM;
	s->nr_ioas = s->nr_hwpt = s->nr_dev = s->nr_memfd = 1;
	s->ioas[0].id = ioas_id;
	s->ioas[0].huge_pages = -1;
	s->ioas[0].maps = calloc(o->maps, sizeof(struct kho_mapping));
	if (!s->ioas[0].maps)
		return -ENOMEM;
	s->ioas[0].nr_maps = s->ioas[0].cap_maps = o->maps;
	for (i = 0; i < o->maps; i++)
		s->ioas[0].maps[i] = (struct kho_mapping){
			.iova = VMM_IOVA_BASE + i * o->chunk,
			.length = o->chunk,
			.offset = i * o->chunk,
			.memfd_token = STAGE_RAM_TOKEN,
			.flags = IOMMU_IOAS_MAP_READABLE |
				 IOMMU_IOAS_MAP_WRITEABLE,
		};
	s->hwpt[0] = (struct kho_hwpt){ .id = hwpt_id, .pt_id = ioas_id,
					.auto_domain = !o->explicit_hwpt };
	if (o->explicit_hwpt)
		s->hwpt[0].dev_id = devid;
	s->dev[0] = (struct kho_device){ .id = devid, .pci = *pci,
					 .attached_pt = hwpt_id };
	snprintf(s->dev[0].driver, sizeof(s->dev[0].driver), "%s",
		 o->driver ? o->driver : "vfio-pci");
	s->memfd[0] = (struct kho_memfd){ .token = STAGE_RAM_TOKEN,
					  .size = ram_size };
	snprintf(s->memfd[0].name, sizeof(s->memfd[0].name), "test-vmm-ram");

	memset(&rec, 0, sizeof(rec));
	rec.op = KHO_OP_IOAS_ALLOC;
	rec.ioas_alloc.out_ioas_id = ioas_id;
	err = kho_journal_append(&h->replay, &rec);
	err = err ? err : stage_handoff_allowed(h, &s->ioas[0], &x[0], 0);
	rec = (struct kho_rec){ .op = KHO_OP_REPLAY_MAPPINGS };
	rec.replay_maps.ioas_id = ioas_id;
	rec.replay_maps.count = o->maps;
	err = err ? err : kho_journal_append(&h->replay, &rec);
	rec = (struct kho_rec){ .op = KHO_OP_DEVICE_BIND };
	rec.bind.pci = *pci;
	rec.bind.out_devid = devid;
	err = err ? err : kho_journal_append(&h->replay, &rec);
	if (o->explicit_hwpt) {
		rec = (struct kho_rec){ .op = KHO_OP_HWPT_ALLOC };
		rec.hwpt_alloc.dev_id = devid;
		rec.hwpt_alloc.pt_id = ioas_id;
		rec.hwpt_alloc.out_hwpt_id = hwpt_id;
		rec.hwpt_alloc.data_type = IOMMU_HWPT_DATA_NONE;
		err = err ? err : kho_journal_append(&h->replay, &rec);
		h->journal_length++;
	}
	rec = (struct kho_rec){ .op = KHO_OP_DEVICE_ATTACH };
	rec.attach.dev_id = devid;
	rec.attach.pt_id = o->explicit_hwpt ? hwpt_id : ioas_id;
	rec.attach.out_hwpt_id = hwpt_id;
	err = err ? err : kho_journal_append(&h->replay, &rec);
	h->journal_length += 3 + o->maps;
	for (i = 1; x && !err && i < STAGE_NR_IOAS; i++) {
		struct kho_ioas *a = &s->ioas[s->nr_ioas++];

		*a = (struct kho_ioas){ .id = x[i].id, .huge_pages = -1 };
		rec = (struct kho_rec){ .op = KHO_OP_IOAS_ALLOC };
		rec.ioas_alloc.out_ioas_id = x[i].id;
		err = kho_journal_append(&h->replay, &rec);
		err = err ? err : stage_handoff_allowed(h, a, &x[i],
						       i == 1 && o->allowed > 1);
		if (err || !x[i].nr_maps)
			continue;
		a->maps = calloc(x[i].nr_maps, sizeof(*a->maps));
		if (!a->maps)
			return -ENOMEM;
		memcpy(a->maps, x[i].maps, x[i].nr_maps * sizeof(*a->maps));
		a->nr_maps = a->cap_maps = x[i].nr_maps;
		rec = (struct kho_rec){ .op = KHO_OP_REPLAY_MAPPINGS };
		rec.replay_maps.ioas_id = x[i].id;
		rec.replay_maps.count = x[i].nr_maps;
		err = kho_journal_append(&h->replay, &rec);
		h->journal_length += 1 + x[i].nr_maps;
	}
	return err;
}

static double stage_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Where the raw loop's time goes, to set beside the agent's replay steps. */
struct stage_raw_ms {
	double total, maps, bind, attach;
};

/*
 * The floor a restore is measured against: the same ioctls the agent
 * issues (open, IOAS_ALLOC, MAP_FILE per mapping, open cdev, BIND,
 * ATTACH), bare, in the order given.  Everything is closed afterwards.
 */
static int stage_raw_maps(const struct stage_opts *o, int iommufd,
			  uint32_t ioas_id, int memfd, struct stage_raw_ms *ms)
{
	double t = stage_ms();
	unsigned int i;
	int ret = 0;

	for (i = 0; !ret && i < o->maps; i++)
		ret = vmm_ioas_map_file(iommufd, ioas_id, memfd, i * o->chunk,
					o->chunk, VMM_IOVA_BASE + i * o->chunk);
	ms->maps = stage_ms() - t;
	return ret;
}

/* The agent times the cdev's open with the bind: so does this. */
static int stage_raw_device(const char *cdev, int iommufd, uint32_t ioas_id,
			    int *devfd, struct stage_raw_ms *ms)
{
	uint32_t devid, hwpt_id;
	double t = stage_ms();
	int ret;

	*devfd = open(cdev, O_RDWR | O_CLOEXEC);
	ret = *devfd < 0 ? -errno : vmm_vfio_bind(*devfd, iommufd, &devid);
	ms->bind = stage_ms() - t;
	if (ret)
		return ret;
	t = stage_ms();
	ret = vmm_vfio_attach(*devfd, ioas_id, &hwpt_id);
	ms->attach = stage_ms() - t;
	return ret;
}

static int stage_raw(const struct stage_opts *o, int memfd, bool attach_first,
		     struct stage_raw_ms *ms)
{
	int iommufd, devfd = -1, ret;
	uint32_t ioas_id;
	char cdev[64];
	double t0;

	ret = vmm_vfio_find(VMM_EDU_VENDOR, VMM_EDU_DEVICE, cdev, sizeof(cdev));
	if (ret)
		return ret;
	memset(ms, 0, sizeof(*ms));
	t0 = stage_ms();
	iommufd = vmm_iommufd_open();
	if (iommufd < 0)
		return iommufd;
	ret = vmm_ioas_alloc(iommufd, &ioas_id);
	if (!ret && attach_first) {
		ret = stage_raw_device(cdev, iommufd, ioas_id, &devfd, ms);
		if (!ret)
			ret = stage_raw_maps(o, iommufd, ioas_id, memfd, ms);
	} else if (!ret) {
		ret = stage_raw_maps(o, iommufd, ioas_id, memfd, ms);
		if (!ret)
			ret = stage_raw_device(cdev, iommufd, ioas_id, &devfd,
					       ms);
	}
	ms->total = stage_ms() - t0;
	if (devfd >= 0)
		close(devfd);
	close(iommufd);
	return ret;
}

int vmm_cmd_stage(int argc, char **argv)
{
	struct stage_opts o = { 0 };
	struct stage_ioas xs[STAGE_NR_IOAS] = { 0 }, *x = NULL;
	struct kho_pci_id pci = { 0 };
	struct kho_handoff h;
	struct kho_diag diag = { "" };
	struct vmm_edu edu;
	char cdev[64];
	uint32_t ioas_id, devid, hwpt_id;
	int memfd, iommufd, devfd, hfd, luo, session, ret, sig;
	unsigned int i;
	uint8_t *ram;
	size_t size, blob_len;
	void *blob;
	sigset_t set;
	long bad = -1;

	if (stage_parse(argc, argv, &o)) {
		fprintf(stderr, "test-vmm: stage: usage: [--maps N] [--chunk BYTES] [--corrupt] [--save-good FILE] [--fake-bdf ssss:bb:dd.f] [--unknown-pt] [--driver NAME] [--no-hold] [--raw] [--allowed] [--allowed-differs] [--fill-head] [--hwpt]\n");
		return 2;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);

	size = o.maps * o.chunk;
	memfd = vmm_ram_create("test-vmm-ram", size);
	if (memfd < 0)
		return stage_fail("guest RAM: memfd_create", memfd);
	ram = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	if (ram == MAP_FAILED)
		return stage_fail("guest RAM: mmap", -errno);
	/*
	 * --fill-head (benches of GiBs under TCG, where the byte pattern costs
	 * minutes): the kernel allocates and zeroes all of it, the pattern
	 * covers the first MiB only, which holds the DMA check; a restart's
	 * check of every byte would then fail past it.
	 */
	if (o.fill_head && fallocate(memfd, 0, 0, size))
		return stage_fail("guest RAM: fallocate", -errno);
	vmm_pattern_fill(ram, o.fill_head && size > (1 << 20) ? (1 << 20) : size,
			 VMM_SEED, 0);

	if (o.raw) {
		struct stage_raw_ms mf, af;

		ret = stage_raw(&o, memfd, false, &mf);
		if (!ret)
			ret = stage_raw(&o, memfd, true, &af);
		if (ret)
			return stage_fail("raw ioctl loop", ret);
		printf("test-vmm: raw: %u maps: maps-first %.3f ms (maps %.3f, open+bind %.3f, attach %.3f), attach-first %.3f ms\n",
		       o.maps, mf.total, mf.maps, mf.bind, mf.attach, af.total);
		return 0;
	}
	iommufd = vmm_iommufd_open();
	if (iommufd < 0)
		return stage_fail("open /dev/iommu", iommufd);
	ret = vmm_ioas_alloc(iommufd, &ioas_id);
	if (ret)
		return stage_fail("IOAS alloc", ret);
	for (i = 0; i < o.maps; i++) {
		ret = vmm_ioas_map_file(iommufd, ioas_id, memfd, i * o.chunk,
					o.chunk, VMM_IOVA_BASE + i * o.chunk);
		if (ret)
			return stage_fail("IOAS map file", ret);
	}
	ret = vmm_vfio_find(VMM_EDU_VENDOR, VMM_EDU_DEVICE, cdev, sizeof(cdev));
	if (ret)
		return stage_fail("find the edu VFIO cdev", ret);
	devfd = open(cdev, O_RDWR | O_CLOEXEC);
	if (devfd < 0)
		return stage_fail(cdev, -errno);
	ret = vmm_vfio_bind(devfd, iommufd, &devid);
	hwpt_id = ioas_id;
	if (!ret && o.explicit_hwpt)
		ret = vmm_hwpt_alloc(iommufd, devid, ioas_id, &hwpt_id);
	if (!ret)
		ret = vmm_vfio_attach(devfd, hwpt_id, &hwpt_id);
	if (ret)
		return stage_fail("bind/attach edu", ret);
	ret = vmm_edu_init(&edu, devfd);
	if (!ret)
		ret = vmm_edu_dma_check(&edu, VMM_IOVA_BASE, VMM_IOVA_BASE + 0x2000,
					ram + 0x2000, ram, STAGE_CHECK_LEN, &bad);
	if (ret)
		return stage_fail("edu DMA check before kexec", ret);
	/* Put back the pattern the DMA overwrote: restart checks all of it. */
	vmm_pattern_fill(ram + 0x2000, STAGE_CHECK_LEN, VMM_SEED, 0x2000);

	if (o.allowed) {
		x = xs;
		ret = stage_allowed(&o, iommufd, ioas_id, memfd, x);
		if (ret)
			return stage_fail("--allowed: allow lists and IOASes", ret);
	}
	ret = stage_pci_of(cdev, &pci);
	if (ret)
		return stage_fail("PCI identity of the edu cdev", ret);
	ret = stage_handoff(&h, &o, ioas_id, devid, hwpt_id, &pci, size, x);
	if (!ret)
		ret = kho_handoff_encode(&h, &blob, &blob_len);
	kho_handoff_free(&h);
	if (ret)
		return stage_fail("encode the hand-off", ret);
	ret = kho_handoff_decode(blob, blob_len, &h, &diag);
	if (ret)
		return stage_fail(diag.msg, ret);
	kho_handoff_free(&h);
	/* The good copy is always the true one: a retry restores from it. */
	if (o.save_good) {
		FILE *f = fopen(o.save_good, "w");

		if (!f || fwrite(blob, 1, blob_len, f) != blob_len || fclose(f))
			return stage_fail(o.save_good, -EIO);
	}
	if (o.fake_bdf) {
		unsigned int seg, bus, dev, fn;

		if (sscanf(o.fake_bdf, "%x:%x:%x.%x", &seg, &bus, &dev, &fn) != 4)
			return stage_fail("--fake-bdf", -EINVAL);
		pci.segment = seg;
		pci.bus = bus;
		pci.devfn = dev << 3 | fn;
		free(blob);
		ret = stage_handoff(&h, &o, ioas_id, devid, hwpt_id, &pci, size, x);
		if (!ret)
			ret = kho_handoff_encode(&h, &blob, &blob_len);
		kho_handoff_free(&h);
		if (ret)
			return stage_fail("encode the fake-device hand-off", ret);
	}
	/*
	 * --unknown-pt: a well-formed hand-off whose plan cannot be replayed,
	 * the ATTACH naming a pt no record makes.  The decoder accepts it;
	 * `kho-tool validate` and the agent must refuse it before any bind.
	 */
	if (o.unknown_pt) {
		size_t r;

		free(blob);
		ret = stage_handoff(&h, &o, ioas_id, devid, hwpt_id, &pci, size, x);
		for (r = 0; !ret && r < h.replay.nr; r++)
			if (h.replay.recs[r].op == KHO_OP_DEVICE_ATTACH)
				h.replay.recs[r].attach.pt_id = 99;
		if (!ret)
			ret = kho_handoff_encode(&h, &blob, &blob_len);
		kho_handoff_free(&h);
		if (ret)
			return stage_fail("encode the unknown-pt hand-off", ret);
	}
	/* A flipped byte inside the structure block, past the header. */
	if (o.corrupt)
		((uint8_t *)blob)[blob_len / 2] ^= 0x5a;

	hfd = vmm_ram_create("kho-handoff", blob_len);
	if (hfd < 0 || pwrite(hfd, blob, blob_len, 0) != (ssize_t)blob_len)
		return stage_fail("hand-off memfd", hfd < 0 ? hfd : -EIO);
	luo = kho_luo_open();
	if (luo < 0)
		return stage_fail("open " KHO_LUO_DEV, luo);
	session = kho_luo_create_session(luo, KHO_LUO_SESSION);
	if (session < 0)
		return stage_fail("create session " KHO_LUO_SESSION, session);
	ret = kho_luo_preserve_fd(session, hfd, KHO_LUO_HANDOFF_TOKEN);
	if (!ret)
		ret = kho_luo_preserve_fd(session, memfd, STAGE_RAM_TOKEN);
	if (ret)
		return stage_fail("preserve the hand-off and RAM memfds", ret);
	printf("test-vmm: staged ioas=%u devid=%u hwpt=%u maps=%u chunk=%llu ram=%zu handoff=%zu%s%s%s\n",
	       ioas_id, devid, hwpt_id, o.maps, (unsigned long long)o.chunk,
	       size, blob_len, o.corrupt ? " (corrupted)" : "",
	       o.fake_bdf ? " (fake device)" : "",
	       o.explicit_hwpt ? " (explicit HWPT)" : "");
	free(blob);
	if (!o.hold)
		return 0;
	printf("test-vmm: ready pid=%d\n", getpid());
	sigwait(&set, &sig);
	printf("test-vmm: stage: %s before kexec, session unpreserved\n",
	       strsignal(sig));
	return 0;
}
