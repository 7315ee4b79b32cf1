// SPDX-License-Identifier: GPL-2.0
/*
 * restore-agent: after kexec, retrieves the kho-tool LUO session, replays
 * and verifies the recorded iommufd/VFIO state and hands it to the VMM.
 *
 * Exit status: 0 adopted (or nothing to restore), 1 failed, 2 usage.  A
 * failure after the session was retrieved does not exit: closing a
 * retrieved session FINISHes it and discards the memfds not yet
 * retrieved, so the agent holds the session and its memfds, answers VMMs
 * with the failure, and hands everything to a `restore-agent --retry`.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "adopt.h"
#include "agent.h"
#include "compact.h"
#include "devstate.h"
#include "migrec.h"
#include "escape.h"
#include "fdpass.h"
#include "file.h"
#include "handoff.h"
#include "journal.h"
#include "kjournal.h"
#include "luo.h"
#include "luod.h"
#include "mdev.h"
#include "pci.h"
#include "state.h"
#include "verify.h"

struct agent {
	/* options */
	uid_t uid;
	unsigned int fail_at;
	/* test hook (--fail-at handoff-copy): the VMM's copy is not made */
	int fail_handoff_copy;
	unsigned int deviate_at;
	unsigned int stop_at;	/* test hook: SIGSTOP before replay step N */
	int order;
	int probe;
	int json;
	int retry;
	int keep_running;	/* stay after adoption (switch_root tests) */
	int no_token;		/* --no-token: adoption by uid alone */
	struct kho_adopt_token token;	/* the one issue_token() wrote */
	int token_ok;		/* token holds one */
	int token_written;	/* and it is in KHO_ADOPT_TOKEN_FILE */
	unsigned int token_tries;	/* failed writes at the start */
	int no_session;		/* this boot carries no kho-tool session */
	/*
	 * kho_luo_listen_session() in main(), before the keeper's fork:
	 * LISTEN_PID names the process systemd started, not the worker.
	 */
	int given;		/* the session fd systemd or luod gave, or -errno */
	char given_name[64];	/* its kernel name */
	const char *given_by;	/* "systemd (LUOSession=kho-tool)", "luod (CLAIM)" */
	int luod_fd;		/* the connection to luod, or -1 */
	const char *socket;
	const char *handoff_file;
	const char *salvage;	/* DIR: save the guest RAM there, keep holding */
	/* state */
	int luo;
	int session;
	int handoff_fd;
	struct kho_replay_memfd *memfd;	/* one per state memfd */
	size_t nr_memfd;
	void *blob;
	size_t blob_len;
	struct kho_handoff h;
	int decoded;
	struct kho_replay r;
	/*
	 * The kernel-verified path (the hand-off carries the VMM's iommufd):
	 * r.iommufd is the restoring iommufd, expected what it preserved.
	 */
	int kernel_path;
	struct kho_journal expected;
	uint32_t resumed_at;	/* records the kernel had matched before */
	int salvaged;		/* every memfd is saved under salvage */
	char failure[700];
};

/* The one agent of this process: the keeper's and the hooks' way in. */
static struct agent *the_agent;

static const char *run_path(const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", KHO_RUN_DIR, name);
	return buf;
}

/*
 * The agent's files in KHO_RUN_DIR: written atomically (temporary file,
 * fsync, rename), and a failure (ENOSPC, EROFS) is logged with its errno:
 * rollback and the recorder read these after the agent is gone.
 */
static int write_file(const char *path, const void *buf, size_t len)
{
	struct kho_diag diag = { "" };
	int err = agent_write_file(path, buf, len, 0600, &diag);

	if (err)
		agent_log(err, "%s (%s)", diag.msg, kho_errno_name(err));
	return err;
}

/*
 * Reads the whole hand-off memfd.  From offset 0: a failed agent that held
 * it may have read it through the same open file.  Empty or above the cap
 * is not a hand-off.
 */
static int read_fd(int fd, void **bufp, size_t *lenp)
{
	int err;

	if (lseek(fd, 0, SEEK_SET) < 0)
		return -errno;
	err = kho_read_fd_max(fd, KHO_HANDOFF_MAX, bufp, lenp);
	if (err == -EFBIG)
		return -EBADMSG;
	if (!err && !*lenp) {
		free(*bufp);
		return -EBADMSG;
	}
	return err;
}

/* Is @token a memfd that carries a device's state (not the VMM's)? */
static bool devstate_memfd(const struct agent *a, uint64_t token)
{
	size_t i;

	for (i = 0; i < a->h.state.nr_dev; i++)
		if (a->h.state.dev[i].saved.present &&
		    a->h.state.dev[i].saved.memfd_token == token)
			return true;
	return false;
}

/* The memfds step's detail: a device's saved state is not guest RAM. */
static void memfds_detail(const struct agent *a, char *detail, size_t size)
{
	size_t i, nr_state = 0;
	int n;

	for (i = 0; i < a->nr_memfd; i++)
		nr_state += devstate_memfd(a, a->memfd[i].token);
	n = snprintf(detail, size, "%zu guest-RAM memfd(s)",
		     a->nr_memfd - nr_state);
	if (nr_state && n > 0 && (size_t)n < size)
		snprintf(detail + n, size - n, " + %zu device state(s)",
			 nr_state);
}

/*
 * Each device whose state the hand-off carries, after the replay bound
 * it and verification checked it and before the VMM adopts it: RESUMING,
 * the saved bytes written, STOP (the driver loads them there), RUNNING
 * (lib/devstate.c), then verified against the hand-off: the state read
 * back RUNNING, the bytes written its DEVICE_MIG_STATE record's, the
 * memfd's crc32 its own (kho_verify_devstate()).  A device the load fails
 * on is reset and the restore fails, naming it: the VMM never gets a
 * device whose state was silently lost.  @detail: empty when no device
 * carries a state.
 */
static int resume_devices(struct agent *a, char *detail, size_t size,
			  struct kho_diag *diag)
{
	char label[KHO_DEVICE_LABEL_LEN], path[160], saved[160];
	struct kho_diag why = { "" };
	struct kho_devstate ds;
	struct kho_replay_dev *dev;
	size_t i, n = 0, nr_recs;
	uint64_t bytes = 0;
	int memfd, err;

	detail[0] = '\0';
	for (i = 0; i < a->h.state.nr_dev; i++) {
		const struct kho_device *d = &a->h.state.dev[i];
		const struct kho_device_state *st = &d->saved;

		if (!st->present)
			continue;
		kho_device_label(&d->pci, &d->mdev, label, sizeof(label));
		dev = kho_replay_find_dev(&a->r, d->id);
		if (!dev || dev->fd < 0)
			return kho_diag_set(diag, -ENODEV,
					    "device %u (%s): the hand-off carries its state, but the replay bound no such device",
					    d->id, label);
		memfd = kho_replay_memfd_find(a->memfd, a->nr_memfd,
					      st->memfd_token);
		if (memfd < 0)
			return kho_diag_set(diag, -ENOENT,
					    "device %u (%s): its state's memfd token 0x%llx was not retrieved",
					    d->id, label,
					    (unsigned long long)st->memfd_token);
		kho_devstate_init(&ds, dev->fd, st->flags, &kho_devstate_sys,
				  NULL);
		err = kho_devstate_load(&ds, memfd, st->length, st->crc32,
					&why);
		if (!err)
			err = kho_devstate_resume(&ds, &why);
		if (!err)
			err = kho_verify_devstate(&a->h, d->id, &ds, memfd, &why);
		kho_devstate_close(&ds);
		if (err)
			return kho_diag_set(diag, err, "device %u (%s): %s",
					    d->id, label, why.msg);
		kho_migrec_find(&a->h.replay, d->id, &nr_recs);
		kho_devstate_path_str(st->path, st->nr_path, saved,
				      sizeof(saved));
		agent_log(0, "device-state: device %u (%s, %s): %s, %llu bytes written (crc32 0x%08x), as %zu DEVICE_MIG_STATE record(s) say; saved %s, resumed %s",
			  d->id, label, dev->cdev,
			  kho_devstate_name(ds.state),
			  (unsigned long long)ds.length, ds.crc32, nr_recs,
			  saved,
			  kho_devstate_path_str(ds.path, ds.path_len, path,
						sizeof(path)));
		bytes += ds.length;
		n++;
	}
	if (n)
		snprintf(detail, size,
			 "%zu device(s) resumed from %llu bytes, each read back RUNNING",
			 n, (unsigned long long)bytes);
	return 0;
}

/*
 * The adoption protocol names a device by its PCI address alone: the
 * devices a failed agent bound are named again from the hand-off, each
 * mdev by its devid, so that verification checks the one bound.
 */
static void held_mdevs(struct agent *a)
{
	const struct kho_device *sdev;
	size_t i;

	for (i = 0; i < a->r.nr_dev; i++) {
		sdev = kho_state_find_dev(&a->h.state, a->r.dev[i].old_id);
		if (sdev && kho_pci_is_none(&a->r.dev[i].pci))
			a->r.dev[i].mdev = sdev->mdev;
	}
}

/* Take the session and its memfds from a failed agent that holds them. */
static int take_held(struct agent *a, struct kho_diag *diag)
{
	struct kho_adopt_set set;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t i;
	int fd, err;

	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return kho_diag_set(diag, -errno, "retry: socket: %s",
				    kho_errno_name(errno));
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", agent_path(AGENT_HELD_SOCK));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = -errno;
		close(fd);
		return kho_diag_set(diag, err,
				    "retry: no failed agent holds a session (%s: %s)",
				    AGENT_HELD_SOCK, kho_errno_name(err));
	}
	/* Root to root: the held agent asks no token of a retrying one. */
	err = kho_adopt_request(fd, NULL, &set, diag);
	if (err) {
		close(fd);
		return err;
	}
	a->session = set.iommufd;
	/*
	 * The kernel path's progress: the restoring iommufd (among the files
	 * by its token), the devices it bound and the ID map so far.
	 */
	if (set.nr_dev) {
		a->r.dev = calloc(set.nr_dev, sizeof(*a->r.dev));
		if (!a->r.dev) {
			kho_adopt_ack(fd, -ENOMEM, "out of memory");
			close(fd);
			kho_adopt_set_free(&set, 1);
			return -ENOMEM;
		}
		for (i = 0; i < set.nr_dev; i++) {
			struct kho_replay_dev *d = &a->r.dev[i];

			d->pci = set.dev[i].pci;
			d->old_id = set.dev[i].old_id;
			d->new_id = set.dev[i].new_id;
			d->old_hwpt = set.dev[i].old_hwpt;
			d->new_hwpt = set.dev[i].new_hwpt;
			d->fd = set.dev[i].fd;
			snprintf(d->cdev, sizeof(d->cdev), "%s", set.dev[i].cdev);
		}
		a->r.nr_dev = set.nr_dev;
		set.nr_dev = 0;
	}
	kho_idmap_free(&a->r.idmap);
	a->r.idmap = set.idmap;
	kho_idmap_init(&set.idmap);
	a->memfd = calloc(set.nr_memfd + 1, sizeof(*a->memfd));
	if (!a->memfd) {
		kho_adopt_ack(fd, -ENOMEM, "out of memory");
		close(fd);
		kho_adopt_set_free(&set, 1);
		return -ENOMEM;
	}
	for (i = 0; i < set.nr_memfd; i++) {
		if (set.memfd[i].token == KHO_LUO_HANDOFF_TOKEN) {
			a->handoff_fd = set.memfd[i].fd;
			continue;
		}
		a->memfd[a->nr_memfd].token = set.memfd[i].token;
		a->memfd[a->nr_memfd++].fd = set.memfd[i].fd;
	}
	/* The fds are ours now; only the tables are freed. */
	set.iommufd = -1;
	set.nr_memfd = 0;
	kho_adopt_set_free(&set, 0);
	err = kho_adopt_ack(fd, 0, "taken over");
	/*
	 * The held agent closes its copies of the fds before it hangs up:
	 * wait for that, so that an unbind replayed here (closing a device
	 * fd) is the last close of that file and happens now.
	 */
	if (!err) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		char c;

		while (poll(&pfd, 1, 5000) > 0 && read(fd, &c, 1) > 0)
			;
	}
	close(fd);
	return err;
}

/* Takes the restoring iommufd a failed agent held out of the file table. */
static int take_held_iommufd(struct agent *a, uint64_t token)
{
	size_t i;
	int fd;

	for (i = 0; i < a->nr_memfd; i++) {
		if (a->memfd[i].token != token)
			continue;
		fd = a->memfd[i].fd;
		memmove(&a->memfd[i], &a->memfd[i + 1],
			(a->nr_memfd - i - 1) * sizeof(a->memfd[i]));
		a->nr_memfd--;
		return fd;
	}
	return -1;
}

static int find_memfd(struct agent *a, uint64_t token)
{
	size_t i;

	for (i = 0; i < a->nr_memfd; i++)
		if (a->memfd[i].token == token)
			return a->memfd[i].fd;
	return -1;
}

/* Retrieve every memfd the hand-off names (a retry already has them). */
static int retrieve_memfds(struct agent *a, struct kho_diag *diag)
{
	const struct kho_state *s = &a->h.state;
	struct kho_replay_memfd *tab;
	struct stat st;
	size_t i;
	int fd;

	tab = realloc(a->memfd, (s->nr_memfd + a->nr_memfd + 1) * sizeof(*tab));
	if (!tab)
		return -ENOMEM;
	a->memfd = tab;
	for (i = 0; i < s->nr_memfd; i++) {
		fd = find_memfd(a, s->memfd[i].token);
		if (fd < 0) {
			fd = kho_luo_retrieve_fd(a->session, s->memfd[i].token);
			if (fd < 0)
				return kho_diag_set(diag, fd,
						    "memfd token %llu ('%s'): retrieve from session '%s': %s",
						    (unsigned long long)s->memfd[i].token,
						    s->memfd[i].name, KHO_LUO_SESSION,
						    kho_errno_name(fd));
			a->memfd[a->nr_memfd].token = s->memfd[i].token;
			a->memfd[a->nr_memfd++].fd = fd;
		}
		if (fstat(fd, &st) < 0)
			return kho_diag_set(diag, -errno, "memfd token %llu: fstat: %s",
					    (unsigned long long)s->memfd[i].token,
					    kho_errno_name(errno));
		if ((uint64_t)st.st_size != s->memfd[i].size)
			return kho_diag_set(diag, -EBADMSG,
					    "memfd token %llu ('%s'): %lld bytes, recorded %llu",
					    (unsigned long long)s->memfd[i].token,
					    s->memfd[i].name, (long long)st.st_size,
					    (unsigned long long)s->memfd[i].size);
	}
	return 0;
}

static void save_metadata(struct agent *a)
{
	char path[256], buf[1024], img[320], rel[sizeof(a->h.kernel_release) * 4];
	int n;

	if (a->blob)
		write_file(run_path("handoff.fdt", path, sizeof(path)), a->blob,
			   a->blob_len);
	if (!a->decoded)
		return;
	n = kho_handoff_summary_json(&a->h, buf, sizeof(buf));
	if (n > 0)
		write_file(run_path("handoff.json", path, sizeof(path)), buf,
			   n);
	if (!a->h.kernel_release[0])
		return;
	/*
	 * Line 1: the release we came from; line 2: its image, if on disk.
	 * rollback kexecs line 2: a release that escaping changes, or one
	 * that names a directory, never makes a path (the decoder refuses
	 * both; this is the second wall).
	 */
	kho_text_escape(rel, sizeof(rel), a->h.kernel_release);
	img[0] = '\0';
	if (!strcmp(rel, a->h.kernel_release) && !strchr(rel, '/') &&
	    strcmp(rel, ".") && strcmp(rel, "..")) {
		snprintf(img, sizeof(img), "/boot/vmlinuz-%s", rel);
		if (access(img, R_OK))
			img[0] = '\0';
	}
	n = snprintf(buf, sizeof(buf), "%s\n%s%s", rel, img, img[0] ? "\n" : "");
	write_file(run_path("previous-kernel", path, sizeof(path)), buf, n);
}

/* The devices the replay bound, as the adoption protocol sends them. */
static void adopt_devs(const struct agent *a, struct kho_adopt_set *set)
{
	size_t i;

	for (i = 0; i < a->r.nr_dev; i++) {
		struct kho_adopt_dev *d = &set->dev[i];

		d->pci = a->r.dev[i].pci;
		d->old_id = a->r.dev[i].old_id;
		d->new_id = a->r.dev[i].new_id;
		d->old_hwpt = a->r.dev[i].old_hwpt;
		d->new_hwpt = a->r.dev[i].new_hwpt;
		d->fd = a->r.dev[i].fd;
		snprintf(d->cdev, sizeof(d->cdev), "%s", a->r.dev[i].cdev);
	}
	set->nr_dev = a->r.nr_dev;
}

static void build_set(struct agent *a, struct kho_adopt_set *set)
{
	size_t i;

	kho_adopt_set_init(set);
	set->iommufd = a->r.iommufd;
	set->idmap = a->r.idmap;	/* borrowed: not freed with the set */
	set->dev = calloc(a->r.nr_dev + 1, sizeof(*set->dev));
	set->memfd = calloc(a->nr_memfd + 1, sizeof(*set->memfd));
	if (!set->dev || !set->memfd)
		return;
	adopt_devs(a, set);
	for (i = 0; i < a->nr_memfd; i++) {
		struct kho_adopt_memfd *m = &set->memfd[set->nr_memfd];
		struct stat st;

		/* a device's state was the agent's to resume, not guest RAM */
		if (devstate_memfd(a, a->memfd[i].token))
			continue;
		m->token = a->memfd[i].token;
		m->fd = a->memfd[i].fd;
		if (!fstat(a->memfd[i].fd, &st))
			m->size = st.st_size;
		set->nr_memfd++;
	}
}

static void free_set(struct kho_adopt_set *set)
{
	kho_idmap_init(&set->idmap);	/* borrowed */
	kho_adopt_set_free(set, 0);
}

/*
 * The VMMs' socket.  A VMM that does not run as root needs to reach it:
 * hand the socket to its uid and let it traverse (not list) the
 * directory.  SO_PEERCRED still refuses every other uid, root included.
 * One place for the first agent, a retry and a held agent alike.
 */
static void give_to_vmm(const struct agent *a)
{
	const char *sock = agent_path(a->socket);
	const char *slash = strrchr(sock, '/');
	char dir[256];
	int dfd, err = 0;

	if (a->uid == 0)
		return;
	snprintf(dir, sizeof(dir), "%.*s",
		 slash ? (int)(slash - sock) : 1, slash ? sock : ".");
	/*
	 * Through the directory's fd, never following a link: what changes
	 * is the socket this agent made and, when it is the run directory,
	 * the directory's mode; nothing a path could be swapped under.
	 */
	dfd = open(dir[0] ? dir : "/", O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		   O_CLOEXEC);
	if (dfd < 0 ||
	    ((sock != a->socket || !strcmp(dir, KHO_RUN_DIR)) &&
	     fchmod(dfd, 0711) < 0) ||
	    fchownat(dfd, slash ? slash + 1 : sock, a->uid, (gid_t)-1,
		     AT_SYMLINK_NOFOLLOW) < 0)
		err = -errno;
	if (dfd >= 0)
		close(dfd);
	if (err)
		agent_log(err, "adopt: give %s to uid %u: %s", a->socket,
			  (unsigned int)a->uid, kho_errno_name(err));
}

/*
 * The adoption token: a fresh secret per served set, in a file only
 * root reads.  The launcher that restarts the VMM (root) reads it and
 * gives it to the VMM it starts; another process of the VMM's uid cannot
 * read it, so it cannot adopt the set.  Issued when the agent starts, so
 * that a /run that fills up (or turns read-only) during the replay does
 * not keep it from the launcher; retried before serving if that failed.
 * Return: 0, or why the file could not be written (said once, by @tries).
 */
static int issue_token(struct agent *a, unsigned int *tries)
{
	char buf[2 * KHO_ADOPT_TOKEN_LEN + 2];
	struct kho_diag diag = { "" };
	int err, n;

	if (!a->token_ok) {
		err = kho_adopt_token_new(&a->token);
		if (err)
			return kho_diag_set(&diag, err, "adopt: token: getrandom: %s",
					    kho_errno_name(err));
		a->token_ok = 1;
	}
	n = kho_adopt_token_format(&a->token, buf, sizeof(buf));
	err = n < 0 ? n : agent_write_file(KHO_ADOPT_TOKEN_FILE, buf, n, 0600,
					    &diag);
	explicit_bzero(buf, sizeof(buf));
	if (err && !(*tries)++)
		agent_log(err, "%s (%s); retrying every %d ms before serving",
			  diag.msg, kho_errno_name(err), AGENT_LISTEN_RETRY_MS);
	else if (!err && *tries)
		agent_log(0, "adopt: %s written after %u failed attempt(s)",
			  KHO_ADOPT_TOKEN_FILE, *tries);
	a->token_written = !err;
	return err;
}

/* Every peer that did not adopt, by name; the set stays served. */
static void log_peer(const struct kho_adopt_peer_result *r, void *ctx)
{
	(void)ctx;
	agent_log(r->err, "%s", r->diag.msg);
}

static int accept_one(int lfd)
{
	int cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

	return cfd < 0 ? -errno : cfd;
}

/*
 * The adoption sockets live in KHO_RUN_DIR, which can be full or
 * read-only for a while (a tmpfs at its size limit, /run remounted by
 * the boot): the session must outlive that, since a VMM waits for the
 * agent anyway.  Tries once; on failure says why, once.  The VMMs'
 * socket (@a->socket) goes to a VMM that does not run as root.
 */
static int listen_once(const struct agent *a, const char *path,
		       unsigned int *tries)
{
	struct kho_diag diag;
	int fd = agent_listen(path, &diag);

	if (fd < 0 && !(*tries)++)
		agent_log(fd, "%s; retrying every %d ms until it can be created",
			  diag.msg, AGENT_LISTEN_RETRY_MS);
	else if (fd >= 0 && *tries)
		agent_log(0, "adopt: %s created after %u failed attempt(s)",
			  path, *tries);
	if (fd >= 0 && !strcmp(path, a->socket))
		give_to_vmm(a);
	return fd;
}

/* listen_once() until it succeeds; @tries counts the failures. */
static int listen_retrying(const struct agent *a, const char *path,
			   unsigned int *tries)
{
	int fd;

	*tries = 0;
	while ((fd = listen_once(a, path, tries)) < 0)
		poll(NULL, 0, AGENT_LISTEN_RETRY_MS);
	return fd;
}

/*
 * Serve VMMs until one adopts.  Refused peers (wrong uid or token,
 * failed CHANGE_PROCESS, silence past their deadline) are logged and the
 * set stays served; they are served side by side, so none stalls
 * another.
 */
static int serve(struct agent *a)
{
	struct kho_adopt_auth auth = {
		.uid = a->uid, .timeout_ms = KHO_ADOPT_PEER_TIMEOUT_MS,
		.ack_timeout_ms = KHO_ADOPT_ACK_TIMEOUT_MS };
	struct kho_adopt_peer_result won;
	struct kho_adopt_set set;
	char detail[96];
	uint64_t t0;
	unsigned int tries;
	int lfd, err;

	lfd = listen_retrying(a, a->socket, &tries);
	/* The copies met the same /run: write them again (rollback needs them). */
	if (tries && a->blob)
		save_metadata(a);
	if (!a->no_token) {
		/* No VMM can adopt without it: wait for a /run that takes it. */
		tries = a->token_tries;
		while (!a->token_written && issue_token(a, &tries))
			poll(NULL, 0, AGENT_LISTEN_RETRY_MS);
		auth.token = &a->token;
	}
	build_set(a, &set);
	if (!set.dev || !set.memfd) {
		free_set(&set);
		close(lfd);
		snprintf(a->failure, sizeof(a->failure),
			 "adopt: the set for %s: ENOMEM", a->socket);
		return -ENOMEM;
	}
	/*
	 * The VMM's recorder journals the adopted state from this copy: a
	 * VMM that is not root cannot read the agent's handoff.fdt.
	 */
	set.handoff_fd = a->fail_handoff_copy ? -EIO :
			 kho_memfd_sealed("kho-tool-handoff", a->blob,
					  a->blob_len);
	if (set.handoff_fd < 0 && a->h.nr_poison) {
		/*
		 * The copy is how the VMM learns which pages to poison again:
		 * without it the guest would read zeroes there.  Refused; the
		 * state stays held for --retry (or salvage).
		 */
		err = set.handoff_fd;
		snprintf(a->failure, sizeof(a->failure),
			 "adopt: hand-off copy for the VMM (sealed memfd kho-tool-handoff, %zu bytes): %s%s: it carries the %zu poisoned range(s) the VMM must poison again, and without it the guest would read zeroes there: no VMM served; the guest RAM stays held for `restore-agent --retry` or `kho-tool salvage`",
			 a->blob_len, kho_errno_name(err),
			 a->fail_handoff_copy ? " (injected: --fail-at handoff-copy)" : "",
			 a->h.nr_poison);
		agent_log(err, "%s", a->failure);
		free_set(&set);
		close(lfd);
		return err;
	}
	if (set.handoff_fd < 0)
		agent_log(set.handoff_fd, "adopt: hand-off copy for the VMM: %s: its recorder cannot journal the adopted state",
			  kho_errno_name(set.handoff_fd));
	if (a->h.nr_poison)
		agent_log(0, "poison: %zu range(s) left unmapped by the replay; the VMM poisons them again in its mapping (UFFDIO_POISON) from the hand-off copy",
			  a->h.nr_poison);
	agent_status("ready %s", a->socket);
	agent_log(0, "serving %s: %zu device(s), %zu memfd(s), %zu IDs for uid %u, %s",
		  a->socket, set.nr_dev, set.nr_memfd, set.idmap.nr,
		  (unsigned int)a->uid,
		  a->no_token ? "by uid alone (--no-token)" :
		  "to the holder of the token in " KHO_ADOPT_TOKEN_FILE);
	t0 = agent_now_ns();
	err = kho_adopt_serve(lfd, &auth, &set, log_peer, NULL, &won);
	if (err) {
		snprintf(a->failure, sizeof(a->failure),
			 "adopt: serving %s: %s", a->socket,
			 kho_errno_name(err));
		agent_log(err, "%s", a->failure);
	} else {
		snprintf(detail, sizeof(detail),
			 "pid %d uid %u ran IOMMU_IOAS_CHANGE_PROCESS",
			 (int)won.pid, (unsigned int)won.uid);
		agent_step_done("adopt", t0, 0, detail);
	}
	if (set.handoff_fd >= 0)
		close(set.handoff_fd);
	free_set(&set);
	close(lfd);
	unlink(agent_path(a->socket));
	/* Spent: the set is adopted, or held for a retry that makes its own. */
	unlink(agent_path(KHO_ADOPT_TOKEN_FILE));
	explicit_bzero(&a->token, sizeof(a->token));
	a->token_ok = a->token_written = 0;
	return err;
}

/*
 * After a failure: keep the session (closing it would FINISH it and
 * discard the memfds), tell every VMM why, and hand everything to a
 * `restore-agent --retry`.
 */
static void hold(struct agent *a)
{
	const struct kho_adopt_auth held_auth = {
		.uid = 0, .timeout_ms = KHO_ADOPT_PEER_TIMEOUT_MS,
		.ack_timeout_ms = KHO_ADOPT_ACK_TIMEOUT_MS };
	struct kho_adopt_set set;
	struct pollfd pfd[2];
	struct kho_diag diag;
	unsigned int vtries = 0, htries = 0;
	int vfd, hfd, cfd, err;
	size_t i;

	/*
	 * Plan path: drop what the replay built, since a device stays bound
	 * to this iommufd while we hold it and a retry must bind it again.
	 * Kernel path: the restoring iommufd was retrieved once and cannot be
	 * again, and its progress is in the kernel: keep it, the devices
	 * bound to it and the ID map, and hand them all to the retry.
	 */
	if (!a->kernel_path || a->r.iommufd < 0)
		kho_replay_release(&a->r);
	kho_adopt_set_init(&set);
	set.iommufd = a->session;
	set.memfd = calloc(a->nr_memfd + 3, sizeof(*set.memfd));
	set.dev = calloc(a->r.nr_dev + 1, sizeof(*set.dev));
	if (set.dev)
		adopt_devs(a, &set);
	set.idmap = a->r.idmap;		/* borrowed */
	if (set.memfd && a->r.iommufd >= 0) {
		set.memfd[set.nr_memfd].token = a->h.iommufd.token;
		set.memfd[set.nr_memfd++].fd = a->r.iommufd;
	}
	if (set.memfd) {
		for (i = 0; i < a->nr_memfd; i++) {
			set.memfd[set.nr_memfd].token = a->memfd[i].token;
			set.memfd[set.nr_memfd++].fd = a->memfd[i].fd;
		}
		if (a->handoff_fd >= 0) {
			set.memfd[set.nr_memfd].token = KHO_LUO_HANDOFF_TOKEN;
			set.memfd[set.nr_memfd++].fd = a->handoff_fd;
		}
	}
	vfd = listen_once(a, a->socket, &vtries);
	hfd = listen_once(a, AGENT_HELD_SOCK, &htries);
	agent_status("held %s", a->failure);
	if (a->r.iommufd >= 0) {
		struct kho_kjournal_status st;
		char of[32] = "";

		/* A keeper never read the journal: it knows no total. */
		if (a->expected.nr)
			snprintf(of, sizeof(of), " of %zu", a->expected.nr);
		if (!kho_kjournal_status(a->r.iommufd, false, &st))
			agent_log(0, "kernel journal: the restoring iommufd stays %s with %u%s records matched; a retry resumes there",
				  st.state == KHO_KJOURNAL_RESTORING ? "RESTORING" :
				  st.state == KHO_KJOURNAL_DIVERGED ? "DIVERGED" : "in state ?",
				  st.matched, of);
	}
	agent_log(0,
		  "holding session '%s', %zu memfd(s)%s unfinished; retry with `restore-agent --retry`",
		  KHO_LUO_SESSION, a->nr_memfd,
		  a->r.iommufd >= 0 ? ", the restoring iommufd and its devices" : "");
	pfd[0] = (struct pollfd){ .fd = vfd, .events = POLLIN };
	pfd[1] = (struct pollfd){ .fd = hfd, .events = POLLIN };
	for (;;) {
		/*
		 * A socket that /run refused is tried again every second (poll
		 * ignores a negative fd): a held session nobody can reach
		 * would be lost.  Once both exist the status is said again,
		 * since its first write may have met the same /run.
		 */
		if (pfd[0].fd < 0 || pfd[1].fd < 0) {
			if (pfd[0].fd < 0)
				pfd[0].fd = vfd = listen_once(a, a->socket, &vtries);
			if (pfd[1].fd < 0)
				pfd[1].fd = hfd = listen_once(a, AGENT_HELD_SOCK,
							      &htries);
			if (vfd >= 0 && hfd >= 0)
				agent_status("held %s", a->failure);
		}
		if (poll(pfd, 2, vfd < 0 || hfd < 0 ?
			 AGENT_LISTEN_RETRY_MS : -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[0].revents & POLLIN) {
			cfd = accept_one(vfd);
			if (cfd >= 0) {
				kho_adopt_refuse(cfd, -EAGAIN, a->failure);
				close(cfd);
				agent_log(0, "adopt: refused a VMM: restore failed");
			}
		}
		if (!(pfd[1].revents & POLLIN) || !set.memfd || !set.dev)
			continue;
		cfd = accept_one(hfd);
		if (cfd < 0)
			continue;
		/* Only a root agent takes over, whoever the VMM is. */
		err = kho_adopt_serve_one(cfd, &held_auth, &set, NULL, NULL,
					  &diag);
		/* Our copies go before the hang-up the retry waits for. */
		if (!err) {
			kho_replay_release(&a->r);
			agent_keeper_finished();
		}
		close(cfd);
		if (!err) {
			agent_log(0, "handed session '%s' to a retrying agent",
				  KHO_LUO_SESSION);
			break;
		}
		agent_log(err, "%s", diag.msg);
	}
	/* The retrying agent has its own copies of every fd now. */
	if (vfd >= 0)
		close(vfd);
	if (hfd >= 0) {
		close(hfd);
		unlink(agent_path(AGENT_HELD_SOCK));
	}
	set.nr_memfd = 0;
	set.iommufd = -1;
	kho_idmap_init(&set.idmap);	/* borrowed */
	kho_adopt_set_free(&set, 0);
}

static int fail_step(struct agent *a, const char *step, uint64_t t0, int err,
		     const char *msg)
{
	size_t n = strlen(step);

	/* Library messages already start with their step ("replay: ..."). */
	if (!strncmp(msg, step, n) && msg[n] == ':')
		snprintf(a->failure, sizeof(a->failure), "%s", msg);
	else
		snprintf(a->failure, sizeof(a->failure), "%s: %s", step, msg);
	agent_step_done(step, t0, err, msg);
	agent_log(err, "%s", a->failure);
	return err;
}


/*
 * Which record the replay came from and which path it took, for the log.
 * Logged after the timed restore: it costs a /dev/iommu open and console
 * lines that are not restore work.
 */
static void log_journal_source(const struct agent *a, int err)
{
	const char *src = a->h.journal_source;

	if (a->h.iommufd.present) {
		agent_log(0, "restore: journal source: kernel (%s); replaying %zu recorded ioctls into the preserved iommufd, each checked by the kernel (plan would be %zu; the kernel folded a journal of %llu records to its live state)",
			  a->h.iommufd.compatible, a->expected.nr,
			  kho_plan_ioctls(&a->h.replay),
			  (unsigned long long)a->h.iommufd.journal_length);
		if (a->resumed_at)
			agent_log(0, "restore: resumed at record %u: the kernel had matched %u records before",
				  a->resumed_at + 1, a->resumed_at);
		if (!err && a->kernel_path)
			agent_log(0, "restore: kernel verified the replay: %zu/%zu records",
				  a->expected.nr, a->expected.nr);
		return;
	}
	if (!strcmp(src, KHO_JOURNAL_SOURCE_KERNEL))
		agent_log(0, "restore: journal source: kernel (" KHO_KJOURNAL_LUO_COMPATIBLE ": the recorder's journal matched the kernel's on %s); the iommufd was not preserved: replaying the plan (%zu ioctls, journal %llu), not verified by the kernel",
			  a->h.kernel_release[0] ? a->h.kernel_release : "?",
			  kho_plan_ioctls(&a->h.replay),
			  (unsigned long long)a->h.journal_length);
	else
		agent_log(0, "restore: journal source: userspace record (%s); replaying the plan (%zu ioctls, journal %llu)",
			  src[0] ? "the capturing kernel had no iommufd journal" :
			  "the hand-off does not say: an older kho-tool",
			  kho_plan_ioctls(&a->h.replay),
			  (unsigned long long)a->h.journal_length);
	agent_log(0, "restore: running kernel %s",
		  kho_kjournal_available() ?
		  "has the iommufd journal (" KHO_KJOURNAL_LUO_COMPATIBLE "): it records this replay" :
		  "has no iommufd journal");
}

/*
 * The --stop-at test hook: stop this process before replay step N, so
 * that a test can kill or signal it halfway through the replay.  The
 * status ends the initramfs hook's wait.
 */
static void stop_hook(struct kho_replay *r)
{
	agent_status("stopped before replay step %u: pid %d (test hook --stop-at)",
		     r->steps, (int)getpid());
	agent_log(0, "test hook: pid %d stops before replay step %u",
		  (int)getpid(), r->steps);
	raise(SIGSTOP);
	agent_log(0, "test hook: pid %d continues with replay step %u",
		  (int)getpid(), r->steps);
}

/* Between records: the keeper's copy of the progress (keeper.c). */
static void keeper_checkpoint(struct kho_replay *r)
{
	int err = agent_keeper_share_progress(r, the_agent->h.iommufd.token);

	if (err)
		agent_log(err, "keeper pid %d: share the replay's progress at record %u: %s: a worker killed from here on leaves no resumable state",
			  (int)agent_keeper_pid(), r->steps + 1,
			  kho_errno_name(err));
}

/*
 * The kernel-verified replay: retrieve the preserved iommufd (or take it
 * from the failed agent), read what it expects, replay every record from
 * where the kernel's progress stands, and require VERIFIED.
 */
static int kernel_replay(struct agent *a)
{
	const struct kho_handoff_iommufd *io = &a->h.iommufd;
	struct kho_kjournal_status st;
	struct kho_diag diag = { "" };
	char detail[256];
	uint64_t t0;
	int err, fd;

	a->kernel_path = 1;
	t0 = agent_now_ns();
	fd = a->r.iommufd >= 0 ? a->r.iommufd : take_held_iommufd(a, io->token);
	if (fd < 0) {
		fd = kho_luo_retrieve_fd(a->session, io->token);
		if (fd < 0) {
			snprintf(detail, sizeof(detail),
				 "the VMM's iommufd (%s, token 0x%llx): retrieve from session '%s': %s: the hand-off needs a kernel that carries %s to verify the replay; the session stays unfinished",
				 io->compatible, (unsigned long long)io->token,
				 KHO_LUO_SESSION, kho_errno_name(fd),
				 io->compatible);
			return fail_step(a, "iommufd", t0, fd, detail);
		}
	}
	a->r.iommufd = fd;
	kho_journal_free(&a->expected);
	err = kho_replay_kjournal_load(fd, &a->h, &a->expected, &a->resumed_at,
				       &diag);
	if (err)
		return fail_step(a, "iommufd", t0, err, diag.msg);
	snprintf(detail, sizeof(detail),
		 "token 0x%llx RESTORING: %zu records expected, %u matched already",
		 (unsigned long long)io->token, a->expected.nr, a->resumed_at);
	agent_step_done("iommufd", t0, 0, detail);

	t0 = agent_now_ns();
	a->r.fail_at = a->fail_at;
	a->r.deviate_at = a->deviate_at;
	a->r.stop_at = a->stop_at;
	a->r.stop = stop_hook;
	a->r.checkpoint = keeper_checkpoint;
	keeper_checkpoint(&a->r);
	err = kho_replay_kjournal(&a->r, &a->h, &a->expected, a->resumed_at,
				  a->memfd, a->nr_memfd, &diag);
	if (!err)
		err = kho_replay_kjournal_verified(fd, a->expected.nr, &diag);
	if (err) {
		size_t n = strlen(diag.msg);

		/* Where the kernel stands is what a retry resumes from. */
		if (!kho_kjournal_status(fd, false, &st))
			snprintf(diag.msg + n, sizeof(diag.msg) - n,
				 "; the kernel matched %u of %zu records (state %s)",
				 st.matched, a->expected.nr,
				 st.state == KHO_KJOURNAL_RESTORING ? "RESTORING" :
				 st.state == KHO_KJOURNAL_DIVERGED ? "DIVERGED" :
				 st.state == KHO_KJOURNAL_VERIFIED ? "VERIFIED" : "?");
		return fail_step(a, "replay", t0, err, diag.msg);
	}
	snprintf(detail, sizeof(detail),
		 "kernel verified the replay: %zu/%zu records (%zu replayed here), %u maps, %zu device(s), open+bind %.3f ms, attach %.3f ms",
		 a->expected.nr, a->expected.nr,
		 a->expected.nr - a->resumed_at,
		 a->r.stat[KHO_OP_IOAS_MAP_FILE].calls, a->r.nr_dev,
		 a->r.stat[KHO_OP_DEVICE_BIND].ns / 1e6,
		 a->r.stat[KHO_OP_DEVICE_ATTACH].ns / 1e6);
	agent_step_done("replay", t0, 0, detail);
	return 0;
}

/*
 * --salvage: instead of a replay, copy the guest RAM to files and go on
 * holding everything (a retry or another salvage can still follow).  The
 * restoring iommufd of the kernel path, if a failed agent had retrieved
 * it, is held as such: it cannot be retrieved twice.
 */
static int salvage(struct agent *a)
{
	struct kho_diag diag = { "" };
	char detail[256];
	uint64_t t0 = agent_now_ns(), bytes;
	int err, fd;

	if (a->h.iommufd.present && a->r.iommufd < 0) {
		fd = take_held_iommufd(a, a->h.iommufd.token);
		if (fd >= 0) {
			a->r.iommufd = fd;
			a->kernel_path = 1;
		}
	}
	err = agent_salvage(&a->h.state, a->memfd, a->nr_memfd, a->salvage,
			    &bytes, &diag);
	if (err)
		return fail_step(a, "salvage", t0, err, diag.msg);
	snprintf(detail, sizeof(detail),
		 "%zu guest-RAM memfd(s), %llu bytes saved to %s (manifest: %s/manifest)",
		 a->h.state.nr_memfd, (unsigned long long)bytes, a->salvage,
		 a->salvage);
	agent_step_done("salvage", t0, 0, detail);
	a->salvaged = 1;
	/* What a VMM that asks now is told, and the held status says. */
	snprintf(a->failure, sizeof(a->failure),
		 "salvage: guest RAM saved to %s; not restored: session '%s' kept unfinished for `restore-agent --retry`",
		 a->salvage, KHO_LUO_SESSION);
	return -ECANCELED;
}

/*
 * Where luod serves, it owns /dev/liveupdate and holds the incoming
 * sessions: CLAIM ours (lib/luod.h says what is assumed of its
 * protocol).  No such session is a boot with nothing to restore; any
 * other failure is the session step's, named, with luod's own words.
 */
static void claim_from_luod(struct agent *a)
{
	struct kho_diag diag = { "" };
	int err, fd = -1;

	if (!kho_luod_present(KHO_LUOD_SOCK))
		return;
	a->given_by = "luod (CLAIM)";
	a->luod_fd = kho_luod_connect(KHO_LUOD_SOCK, &diag);
	err = a->luod_fd;
	if (err >= 0)
		err = kho_luod_call(a->luod_fd, "CLAIM", "session",
				    KHO_LUO_SESSION, &fd, &diag);
	if (err < 0) {
		agent_log(err == -ENOENT ? 0 : err, "%s", diag.msg);
		/* -ENOENT again would mean "not given": say nothing to do. */
		a->given = err == -ENOENT ? -ENODATA : err;
		return;
	}
	snprintf(a->given_name, sizeof(a->given_name), "%s", KHO_LUO_SESSION);
	a->given = fd;
}

/*
 * The session systemd passed (LUOSession=kho-tool on the unit, which is
 * also the unit kho-tool upgrade ran in: systemd restores a session into
 * the fd store of the unit that had it).  A fresh boot passes a new,
 * outgoing session, which refuses RETRIEVE_FD with EINVAL: nothing to
 * restore.  Return: 0 (a->session and the hand-off taken), -ENOENT (no
 * session passed), -EAGAIN (nothing to restore), or a failed step.
 */
static int given_session(struct agent *a)
{
	const char *name = a->given_name;
	char detail[256];
	uint64_t t0 = agent_now_ns();
	int fd = a->given;

	if (fd == -ENOENT)
		return fd;
	if (fd == -ENODATA) {
		a->no_session = 1;
		snprintf(detail, sizeof(detail),
			 "%s: no session '%s': nothing to restore",
			 a->given_by, KHO_LUO_SESSION);
		agent_step_done("session", t0, 0, detail);
		return -EAGAIN;
	}
	if (fd < 0) {
		if (a->luod_fd >= 0 || fd == -EREMOTEIO)
			snprintf(detail, sizeof(detail),
				 "the session '%s' from %s: %s", KHO_LUO_SESSION,
				 a->given_by, kho_errno_name(fd));
		else
			snprintf(detail, sizeof(detail),
				 "the fd systemd passed as '%s' (LISTEN_FDNAMES): %s",
				 KHO_LUO_SESSION, fd == -EMEDIUMTYPE ?
				 "not a LUO session" : kho_errno_name(fd));
		return fail_step(a, "session", t0, fd, detail);
	}
	a->handoff_fd = kho_luo_retrieve_fd(fd, KHO_LUO_HANDOFF_TOKEN);
	if (a->handoff_fd == -EINVAL) {
		a->handoff_fd = -1;
		close(fd);
		a->no_session = 1;
		snprintf(detail, sizeof(detail),
			 "session '%s' from %s is a new, outgoing one: nothing to restore",
			 name, a->given_by);
		agent_step_done("session", t0, 0, detail);
		return -EAGAIN;
	}
	a->session = fd;
	if (a->handoff_fd < 0) {
		int err = a->handoff_fd;

		a->handoff_fd = -1;
		snprintf(detail, sizeof(detail),
			 "session '%s' from %s: hand-off memfd token 0x%llx: retrieve: %s",
			 name, a->given_by, KHO_LUO_HANDOFF_TOKEN,
			 kho_errno_name(err));
		return fail_step(a, "session", t0, err, detail);
	}
	snprintf(detail, sizeof(detail), "%s from %s", name, a->given_by);
	agent_step_done("session", t0, 0, detail);
	return 0;
}

/*
 * After the finish, the session systemd passed is a finished incoming
 * one, and systemd keeps it in the unit's fd store: the next start of
 * the unit (the next upgrade) would be given it and could not preserve
 * into it (EINVAL).  Ask systemd to drop it (sd_notify(3)
 * FDSTOREREMOVE=1, NotifyAccess=all on the unit), so that the next start
 * gets a new session.  Return: 0, or the -errno of the send.
 */
static int drop_given_session(void)
{
	static const char msg[] = "FDSTOREREMOVE=1\nFDNAME=" KHO_LUO_SESSION;
	static const char barrier[] = "BARRIER=1";
	const char *path = getenv("NOTIFY_SOCKET");
	struct pollfd pfd = { .events = POLLHUP };
	struct sockaddr_un sa;
	socklen_t len;
	int fd, p[2], err;

	if (!path || !*path)
		return -ENOTCONN;
	err = kho_unix_addr(path, &sa);
	if (err)
		return err;
	len = offsetof(struct sockaddr_un, sun_path) + strlen(path);
	if (path[0] == '@')
		sa.sun_path[0] = '\0';	/* an abstract socket */
	else
		len++;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, len) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	err = kho_fd_send(fd, msg, sizeof(msg) - 1, NULL, 0);
	/*
	 * systemd attributes a message to a unit by its sender's cgroup, so
	 * one from a process that already exited may be dropped: wait until
	 * it has read ours (sd_notify_barrier(3): it closes the pipe's end
	 * we send once it processed everything before).
	 */
	if (err >= 0 && pipe2(p, O_CLOEXEC) < 0)
		err = -errno;
	if (err >= 0) {
		err = kho_fd_send(fd, barrier, sizeof(barrier) - 1, &p[1], 1);
		close(p[1]);
		pfd.fd = p[0];
		if (err >= 0) {
			err = poll(&pfd, 1, 5000);
			err = err < 0 ? -errno : err == 0 ? -ETIMEDOUT : 0;
		}
		close(p[0]);
	}
	close(fd);
	return err < 0 ? err : 0;
}

static int restore_steps(struct agent *a)
{
	struct kho_verify_report vr;
	struct kho_diag diag = { "" };
	char detail[256];
	uint64_t t0, t1;
	int err;

	if (a->retry) {
		t0 = agent_now_ns();
		err = take_held(a, &diag);
		if (err)
			return fail_step(a, "take-over", t0, err, diag.msg);
		agent_step_done("take-over", t0, 0, "session from a failed agent");
	} else if ((err = given_session(a)) != -ENOENT) {
		/* systemd's LUOSession=kho-tool: its session, not the device. */
		if (err == -EAGAIN)
			return -ENOENT;
		if (err)
			return err;
	} else {
		t0 = agent_now_ns();
		a->luo = kho_luo_open();
		if (a->luo < 0) {
			err = a->luo;
			snprintf(detail, sizeof(detail), "open %s: %s",
				 KHO_LUO_DEV, kho_errno_name(err));
			return fail_step(a, "open", t0, err, detail);
		}
		a->session = kho_luo_retrieve_session(a->luo, KHO_LUO_SESSION);
		if (a->session == -ENOENT) {
			a->no_session = 1;
			agent_step_done("session", t0, 0, "no kho-tool session: nothing to restore");
			return -ENOENT;
		}
		/*
		 * A session is retrieved once: EINVAL with a held agent around
		 * means an earlier run failed and keeps it; take it over.
		 */
		if (a->session == -EINVAL && !access(agent_path(AGENT_HELD_SOCK), F_OK)) {
			close(a->luo);
			a->luo = -1;
			a->session = -1;
			agent_log(0, "session '%s' is held by a failed agent: taking it over",
				  KHO_LUO_SESSION);
			err = take_held(a, &diag);
			if (err)
				return fail_step(a, "take-over", t0, err, diag.msg);
		}
		if (a->session < 0) {
			err = a->session;
			snprintf(detail, sizeof(detail),
				 "retrieve session '%s': %s%s", KHO_LUO_SESSION,
				 kho_errno_name(err), err == -EINVAL ?
				 " (already retrieved by another process)" : "");
			return fail_step(a, "session", t0, err, detail);
		}
		/* Others (kho-tool upgrade, a rollback) need the device. */
		if (a->luo >= 0)
			close(a->luo);
		a->luo = -1;
		agent_step_done("session", t0, 0, KHO_LUO_SESSION);
	}

	/*
	 * The keeper holds the session from here on (keeper.c): a worker
	 * killed before its memfds are out leaves them in the session, for
	 * a restart to retrieve.  Not a step: one sendmsg.
	 */
	err = agent_keeper_share(a->session, a->handoff_fd, a->memfd,
				 a->nr_memfd, &diag);
	if (err)
		agent_log(err, "%s", diag.msg);

	/* Timed apart from the decode: this one is the kernel's LUO work. */
	if (a->handoff_fd < 0) {
		t0 = agent_now_ns();
		a->handoff_fd = kho_luo_retrieve_fd(a->session,
						    KHO_LUO_HANDOFF_TOKEN);
		if (a->handoff_fd < 0) {
			err = a->handoff_fd;
			snprintf(detail, sizeof(detail),
				 "hand-off memfd token 0x%llx: retrieve: %s",
				 KHO_LUO_HANDOFF_TOKEN, kho_errno_name(err));
			return fail_step(a, "hand-off", t0, err, detail);
		}
		agent_step_done("hand-off", t0, 0, "retrieved");
	}
	t0 = agent_now_ns();
	if (a->handoff_file)
		err = kho_read_file(a->handoff_file, &a->blob, &a->blob_len);
	else
		err = read_fd(a->handoff_fd, &a->blob, &a->blob_len);
	if (err) {
		snprintf(detail, sizeof(detail), "read %s: %s",
			 a->handoff_file ? a->handoff_file : "hand-off memfd",
			 kho_errno_name(err));
		return fail_step(a, "hand-off", t0, err, detail);
	}
	t1 = agent_now_ns();
	err = kho_handoff_decode(a->blob, a->blob_len, &a->h, &diag);
	if (err) {
		snprintf(detail, sizeof(detail), "%zu-byte hand-off%s%s refused: %s",
			 a->blob_len, a->handoff_file ? " " : "",
			 a->handoff_file ? a->handoff_file : "", diag.msg);
		return fail_step(a, "decode", t0, err, detail);
	}
	a->decoded = 1;
	held_mdevs(a);
	snprintf(detail, sizeof(detail),
		 "%zu bytes (read %.3f ms, decode %.3f ms), from kernel %s by kho-tool %s, %zu plan records (journal %llu)",
		 a->blob_len, (t1 - t0) / 1e6, (agent_now_ns() - t1) / 1e6,
		 a->h.kernel_release[0] ? a->h.kernel_release : "?",
		 a->h.tool_version, a->h.replay.nr,
		 (unsigned long long)a->h.journal_length);
	agent_step_done("decode", t0, 0, detail);

	t0 = agent_now_ns();
	err = retrieve_memfds(a, &diag);
	if (err)
		return fail_step(a, "memfds", t0, err, diag.msg);
	memfds_detail(a, detail, sizeof(detail));
	agent_step_done("memfds", t0, 0, detail);

	/* From here a worker killed halfway loses nothing: see keeper.c. */
	if (agent_keeper_pid()) {
		t0 = agent_now_ns();
		err = agent_keeper_share(a->session, a->handoff_fd, a->memfd,
					 a->nr_memfd, &diag);
		if (err)
			return fail_step(a, "keeper", t0, err, diag.msg);
		snprintf(detail, sizeof(detail),
			 "session '%s' and %zu memfd(s) also held by keeper pid %d",
			 KHO_LUO_SESSION, a->nr_memfd, (int)agent_keeper_pid());
		agent_step_done("keeper", t0, 0, detail);
	}

	if (a->salvage)
		return salvage(a);


	if (a->h.iommufd.present) {
		err = kernel_replay(a);
		if (err)
			return err;
	} else {
		t0 = agent_now_ns();
		a->r.fail_at = a->fail_at;
		a->r.stop_at = a->stop_at;
		a->r.stop = stop_hook;
		a->r.order = a->order;
		err = kho_replay_run(&a->r, &a->h, a->memfd, a->nr_memfd, &diag);
		if (err)
			return fail_step(a, "replay", t0, err, diag.msg);
		snprintf(detail, sizeof(detail),
			 "%u ioctls, %u maps in %.3f ms, %zu device(s): sysfs identity %.3f ms, open+bind %.3f ms, %u HWPT alloc(s) %.3f ms, attach %.3f ms",
			 a->r.steps, a->r.stat[KHO_OP_IOAS_MAP_FILE].calls,
			 a->r.stat[KHO_OP_IOAS_MAP_FILE].ns / 1e6, a->r.nr_dev,
			 a->r.identity_ns / 1e6,
			 a->r.stat[KHO_OP_DEVICE_BIND].ns / 1e6,
			 a->r.stat[KHO_OP_HWPT_ALLOC].calls,
			 a->r.stat[KHO_OP_HWPT_ALLOC].ns / 1e6,
			 a->r.stat[KHO_OP_DEVICE_ATTACH].ns / 1e6);
		agent_step_done("replay", t0, 0, detail);
	}

	t0 = agent_now_ns();
	err = kho_verify_run(&a->r, &a->h, a->memfd, a->nr_memfd, a->probe,
			     &vr, &diag);
	if (err)
		return fail_step(a, "verify", t0, err, diag.msg);
	snprintf(detail, sizeof(detail),
		 "%u IOAS, %u mappings (%u probes), %u device(s), %u attachment(s); %u mappings proven by the replay's own maps alone; allow lists probed on %u IOAS; %u poison hole(s) probed empty",
		 vr.ioas, vr.maps, vr.probes, vr.devices, vr.attachments,
		 vr.by_construction, vr.allowed_probes, vr.holes);
	agent_step_done("verify", t0, 0, detail);

	t0 = agent_now_ns();
	err = resume_devices(a, detail, sizeof(detail), &diag);
	if (err)
		return fail_step(a, "device-state", t0, err, diag.msg);
	if (detail[0])
		agent_step_done("device-state", t0, 0, detail);
	return 0;
}

/*
 * The restore proper, timed from the session to the end of verify.  The
 * console copy of its log lines is held until it ends: under TCG a line
 * on the serial console costs milliseconds the raw loop does not pay,
 * and restore.log and the timeline have every step as it happens.  The
 * operator's copies of the hand-off are written after it, whatever the
 * result: they are for diagnosis and rollback, not for the VMM.
 */
static int restore(struct agent *a)
{
	uint64_t total, t0;
	int err;

	agent_log_hold(1);
	err = restore_steps(a);
	total = agent_timeline_total_ns();
	if (!err) {
		agent_timeline_save("restored");
		agent_log(0, "restored in %.3f ms", total / 1e6);
	}
	agent_log_hold(0);
	/* A salvage replays nothing: which journal it would have used is noise. */
	if (a->decoded && !a->salvage)
		log_journal_source(a, err);
	if (a->no_session || !a->blob)
		return err;
	t0 = agent_now_ns();
	save_metadata(a);
	if (!err)
		agent_step_done("metadata", t0, 0, "hand-off copies in " KHO_RUN_DIR);
	return err;
}

static void release(struct agent *a)
{
	size_t i;

	kho_replay_release(&a->r);
	kho_journal_free(&a->expected);
	for (i = 0; i < a->nr_memfd; i++)
		close(a->memfd[i].fd);
	free(a->memfd);
	if (a->handoff_fd >= 0)
		close(a->handoff_fd);
	if (a->decoded)
		kho_handoff_free(&a->h);
	free(a->blob);
	if (a->luo >= 0)
		close(a->luo);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: restore-agent [options]\n"
		"  --uid N            uid allowed to adopt (default 0)\n"
		"  --no-token         adoption by uid alone: no token in %s\n"
		"  --socket PATH      adoption socket (default %s)\n"
		"  --retry            take the session from a failed agent and try again\n"
		"  --handoff FILE     use this hand-off blob instead of the preserved one\n"
		"  --salvage DIR      do not restore: save every guest-RAM memfd to DIR\n"
		"                     (from a failed agent's held session, or the session),\n"
		"                     then hold the session for a retry\n"
		"  --order maps-first|attach-first   replay order (default maps-first)\n"
		"  --probe sample|first|ends|none    mapping probes in verify (default sample:\n"
		"                     the replay's own maps, plus %d probed per IOAS; first = all)\n"
		"  --fail-at N        test hook: fail replay step N (also KHO_REPLAY_FAIL_AT);\n"
		"                     with a preserved iommufd: stop before journal record N\n"
		"  --fail-at handoff-copy   test hook: fail the VMM's copy of the hand-off\n"
		"  --stop-at N        test hook: stop (SIGSTOP) before replay step N, so that\n"
		"                     a test can kill or signal the agent halfway\n"
		"  --deviate-at N     test hook, preserved iommufd only: replay journal record N\n"
		"                     (an IOAS_MAP_FILE) one page off, for the kernel to refuse\n"
		"  --notify-fd N      write the first status past \"running\" (ready, none,\n"
		"                     held, failed, finished) to fd N, then close it\n"
		"  --stay             keep running after the adoption\n"
		"  --json             print the timeline as JSON on stdout\n",
		KHO_ADOPT_TOKEN_FILE, KHO_ADOPT_SOCK, KHO_VERIFY_SAMPLE);
}

static int parse(struct agent *a, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "uid", required_argument, NULL, 'u' },
		{ "no-token", no_argument, NULL, 'N' },
		{ "socket", required_argument, NULL, 's' },
		{ "retry", no_argument, NULL, 'r' },
		{ "handoff", required_argument, NULL, 'H' },
		{ "salvage", required_argument, NULL, 'V' },
		{ "order", required_argument, NULL, 'o' },
		{ "probe", required_argument, NULL, 'p' },
		{ "fail-at", required_argument, NULL, 'f' },
		{ "deviate-at", required_argument, NULL, 'd' },
		{ "stop-at", required_argument, NULL, 'T' },
		{ "notify-fd", required_argument, NULL, 'n' },
		{ "stay", no_argument, NULL, 'S' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *env = getenv("KHO_REPLAY_FAIL_AT");
	char *end;
	int c;

	if (env && *env)
		a->fail_at = strtoul(env, NULL, 0);
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'u':
			a->uid = strtoul(optarg, &end, 0);
			if (*end)
				return -EINVAL;
			break;
		case 'N':
			a->no_token = 1;
			break;
		case 's':
			a->socket = optarg;
			break;
		case 'r':
			a->retry = 1;
			break;
		case 'H':
			a->handoff_file = optarg;
			break;
		case 'V':
			a->salvage = optarg;
			break;
		case 'o':
			if (!strcmp(optarg, "maps-first"))
				a->order = KHO_REPLAY_MAPS_FIRST;
			else if (!strcmp(optarg, "attach-first"))
				a->order = KHO_REPLAY_ATTACH_FIRST;
			else
				return -EINVAL;
			break;
		case 'p':
			if (!strcmp(optarg, "ends"))
				a->probe = KHO_VERIFY_PROBE_ENDS;
			else if (!strcmp(optarg, "first") ||
				 !strcmp(optarg, "all"))
				a->probe = KHO_VERIFY_PROBE_FIRST;
			else if (!strcmp(optarg, "sample"))
				a->probe = KHO_VERIFY_PROBE_SAMPLE;
			else if (!strcmp(optarg, "none"))
				a->probe = KHO_VERIFY_PROBE_NONE;
			else
				return -EINVAL;
			break;
		case 'f':
			/*
			 * The last one wins: a rollback's command line keeps
			 * the upgrade's words, and appends its own after them.
			 */
			a->fail_handoff_copy = !strcmp(optarg, "handoff-copy");
			if (a->fail_handoff_copy) {
				a->fail_at = 0;
				break;
			}
			a->fail_at = strtoul(optarg, &end, 0);
			if (*end)
				return -EINVAL;
			break;
		case 'T':
			a->stop_at = strtoul(optarg, &end, 0);
			if (*end)
				return -EINVAL;
			break;
		case 'd':
			a->deviate_at = strtoul(optarg, &end, 0);
			if (*end)
				return -EINVAL;
			break;
		case 'n': {
			long fd = strtol(optarg, &end, 0);

			if (*end || fd < 0 || fcntl(fd, F_GETFD) < 0)
				return -EINVAL;
			agent_notify_fd(fd);
			break;
		}
		case 'S':
			a->keep_running = 1;
			break;
		case 'j':
			a->json = 1;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			return -EINVAL;
		}
	}
	return optind == argc ? 0 : -EINVAL;
}

/*
 * The keeper's way on when the worker died of a signal: hold what it
 * kept exactly as a failed agent holds, for a restart to take over.
 */
static void keeper_orphaned(int session, int handoff_fd,
			    struct kho_replay_memfd *memfd, size_t nr_memfd,
			    struct agent_progress *p, const char *why)
{
	struct agent *a = the_agent;

	a->session = session;
	a->handoff_fd = handoff_fd;
	a->memfd = memfd;
	a->nr_memfd = nr_memfd;
	/* The kernel path's progress: hold() hands it to the restart whole. */
	if (p->iommufd >= 0) {
		a->kernel_path = 1;
		a->h.iommufd.token = p->token;
		a->r.iommufd = p->iommufd;
		a->r.dev = p->dev;
		a->r.nr_dev = p->nr_dev;
		a->r.idmap = p->idmap;
	}
	snprintf(a->failure, sizeof(a->failure),
		 "%s; session '%s' and %zu memfd(s)%s kept: restart `restore-agent` to restore",
		 why, KHO_LUO_SESSION, nr_memfd,
		 p->iommufd >= 0 ? ", the restoring iommufd and its devices" : "");
	hold(a);
	release(a);
	exit(1);
}

/*
 * The kernel's OOM killer never picks a task at -1000.  The agent holds
 * the only copy of the guest RAM until a VMM adopts it: killing it would
 * free nothing worth the loss.  Read back, since a kernel without
 * CAP_SYS_RESOURCE for us quietly keeps the old value.
 */
static void protect_from_oom(void)
{
	static const char path[] = "/proc/self/oom_score_adj";
	char buf[16] = "";
	int fd, err = 0;
	ssize_t n;

	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0 || write(fd, "-1000", 5) != 5)
		err = -errno;
	if (fd >= 0 && !err) {
		n = pread(fd, buf, sizeof(buf) - 1, 0);
		if (n < 0)
			err = -errno;
		else
			buf[n] = '\0';
	}
	if (fd >= 0)
		close(fd);
	buf[strcspn(buf, "\n")] = '\0';
	if (err)
		agent_log(err, "oom: set %s to -1000: %s: the OOM killer may choose this agent and lose the guest RAM",
			  path, kho_errno_name(err));
	else if (strcmp(buf, "-1000"))
		agent_log(-EPERM, "oom: %s reads back '%s', not -1000: the OOM killer may choose this agent and lose the guest RAM",
			  path, buf);
	else
		agent_log(0, "oom: oom_score_adj -1000 (read back): the OOM killer never chooses this agent");
}

/*
 * A relative path of the command line, made absolute while the working
 * directory is still the launcher's: the agent then works from the run
 * directory (agent_enter_run_dir()).  Kept for the process's life.
 */
static int absolute(const char **path)
{
	char cwd[4096], *abs;

	if (!*path || (*path)[0] == '/')
		return 0;
	if (!getcwd(cwd, sizeof(cwd)))
		return -errno;
	if (asprintf(&abs, "%s/%s", cwd, *path) < 0)
		return -ENOMEM;
	*path = abs;
	return 0;
}

static int absolute_paths(struct agent *a)
{
	int err = absolute(&a->socket);

	if (!err)
		err = absolute(&a->handoff_file);
	if (!err)
		err = absolute(&a->salvage);
	return err;
}

int main(int argc, char **argv)
{
	struct agent a = { .luo = -1, .session = -1, .handoff_fd = -1,
			   .luod_fd = -1, .socket = KHO_ADOPT_SOCK };
	const char *result;
	int err, rc;

	/*
	 * systemd spares processes whose argv[0] starts with '@' when it
	 * switches root and kills the initramfs' processes: re-exec under
	 * such a name so that the agent survives until the VMM adopts.
	 */
	if (argv[0][0] != '@') {
		char name[] = "@restore-agent";

		argv[0] = name;
		execv("/proc/self/exe", argv);
		/* No /proc: run on under the old name, but say so. */
		fprintf(stderr, "restore-agent: warning: re-exec as @restore-agent: %s\n",
			strerror(errno));
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	kho_replay_init(&a.r);
	kho_journal_init(&a.expected);
	if (parse(&a, argc, argv)) {
		usage(stderr);
		return 2;
	}
	mkdir(KHO_RUN_DIR, 0700);
	err = absolute_paths(&a);
	if (!err)
		err = agent_enter_run_dir();
	if (err)
		agent_log(err, "%s: %s: its files are reached by path, and lost if the initrd switches root before it is done",
			  KHO_RUN_DIR, kho_errno_name(err));
	if (a.salvage && !access(agent_path(AGENT_HELD_SOCK), F_OK))
		a.retry = 1;
	a.given = kho_luo_listen_session(KHO_LUO_SESSION, a.given_name,
					 sizeof(a.given_name));
	a.given_by = "systemd (LUOSession=" KHO_LUO_SESSION ")";
	if (a.given == -ENOENT && !a.retry)
		claim_from_luod(&a);
	/* Before the fork: the keeper and the worker both inherit them. */
	agent_block_termination();
	protect_from_oom();
	the_agent = &a;
	err = agent_keeper_start(keeper_orphaned);
	if (err)
		agent_log(err, "keeper: fork: %s: running alone, a worker killed halfway loses the session",
			  kho_errno_name(err));
	agent_status("running pid %d", (int)getpid());
	agent_timeline_start();
	if (!a.no_token)
		issue_token(&a, &a.token_tries);

	err = restore(&a);
	/* Nothing to serve (or held for a retry that issues its own): no token. */
	if (a.no_session || err)
		unlink(agent_path(KHO_ADOPT_TOKEN_FILE));
	if (a.no_session) {
		agent_status("none");
		agent_timeline_save("nothing to restore");
		release(&a);
		return 0;
	}
	if (!err) {
		err = serve(&a);
		if (!err) {
			uint64_t t0 = agent_now_ns();

			/* Only now: the VMM owns the state. */
			err = kho_luo_finish(a.session);
			if (err) {
				snprintf(a.failure, sizeof(a.failure),
					 "finish session '%s': %s",
					 KHO_LUO_SESSION, kho_errno_name(err));
				agent_step_done("finish", t0, err, a.failure);
			} else {
				agent_step_done("finish", t0, 0, KHO_LUO_SESSION);
				agent_keeper_finished();
				if (a.given >= 0 && a.luod_fd >= 0) {
					struct kho_diag d = { "" };

					/* luod drops its own copy of the session. */
					err = kho_luod_call(a.luod_fd, "FINISH",
							    "session",
							    KHO_LUO_SESSION,
							    NULL, &d);
					agent_log(err, "session '%s' finished: luod %s%s",
						  KHO_LUO_SESSION, err ? "was not told: " :
						  "told (FINISH)", err ? d.msg : "");
					err = 0;
				} else if (a.given >= 0) {
					err = drop_given_session();
					agent_log(err, "session '%s' finished: %s systemd to drop it from the unit's fd store (FDSTOREREMOVE)%s%s",
						  a.given_name, err ? "could not ask" : "asked",
						  err ? ": " : "", err ? kho_errno_name(err) : "");
					/* The state is the VMM's: not a failure of the restore. */
					err = 0;
				}
			}
		}
	}
	/* A failed agent holds the session: salvage takes it from there. */
	result = a.salvaged ? "salvaged" : err ? "failed" : "adopted";
	agent_timeline_save(result);
	if (a.json)
		agent_timeline_json(stdout, result);
	if (err) {
		if (a.session >= 0)
			hold(&a);
		else
			agent_status("failed %s", a.failure);
		rc = a.salvaged ? 0 : 1;
	} else {
		agent_status("finished");
		agent_log(0, "adopted; session '%s' finished, total %.3f ms",
			  KHO_LUO_SESSION, agent_timeline_total_ns() / 1e6);
		rc = 0;
		if (a.keep_running) {
			/* Adopted: a termination request may end it now. */
			sigset_t set;
			int sig;

			sigemptyset(&set);
			sigaddset(&set, SIGTERM);
			sigaddset(&set, SIGINT);
			sigwait(&set, &sig);
		}
	}
	release(&a);
	if (a.session >= 0 && !err)
		close(a.session);
	return rc;
}
