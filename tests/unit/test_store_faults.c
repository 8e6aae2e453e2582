// SPDX-License-Identifier: GPL-2.0-only
/*
 * I/O errors in the store (docs/store-format.md §5 rule 4).
 *
 * Fault simulation through the store_io seam, SQLite's do_faultsim loop:
 * for each kind of call (openat, pwrite, fdatasync, fsync, ftruncate,
 * renameat, mkdirat, symlinkat, unlinkat) and each way to fail (one EIO,
 * ENOSPC from then on, a short write then ENOSPC, EROFS from then on), fail
 * the N-th such call for N = 1, 2, ... until a run has no N-th call. After
 * each run: every failed commit said so clearly and left chain_durable()
 * alone, what was durable is intact and readable, and once the fault is
 * gone the same records are appended again and committed; then the store
 * is reopened and checked record by record.
 *
 * Then the real thing, in a private mount namespace: ENOSPC on a small
 * tmpfs, a tmpfs remounted read-only, and an ext4 image (loop device) that
 * turns itself read-only on an error (errors=remount-ro) under an open
 * writer. These need root (CI runs as root); where they cannot set up they
 * fail, unless IMASTORE_ALLOW_SKIP=1 lets them skip (docs/testing.md).
 */
#include <linux/magic.h>
#include <sys/statvfs.h>
#include <sys/vfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>

#include "store_test_util.h"

#define SEG (4u << 10)

enum kind { K_OPENAT, K_PWRITE, K_FDATASYNC, K_FSYNC, K_FTRUNCATE, K_RENAMEAT,
	    K_MKDIRAT, K_SYMLINKAT, K_UNLINKAT, K_N };
static const char *kind_name[K_N] = { "openat", "pwrite", "fdatasync", "fsync",
	"ftruncate", "renameat", "mkdirat", "symlinkat", "unlinkat" };

enum mode { M_EIO_ONCE, M_ENOSPC_ON, M_SHORT_ENOSPC, M_EROFS_ON, M_N };
static const char *mode_name[M_N] = { "EIO once", "ENOSPC from then on",
	"short write, then ENOSPC", "EROFS from then on" };

static struct {
	enum kind kind;
	enum mode mode;
	unsigned long n;	/* fail the n-th call of `kind` */
	unsigned long calls[K_N];
	bool fired, on;		/* on: a persistent fault is active */
	int err;
} F;

/* Whether this call fails; sets errno. */
static bool fault(enum kind k)
{
	F.calls[k]++;
	if (F.on && F.mode != M_EIO_ONCE) {
		/* a full disk still frees space: cutting back and unlinking work */
		if (F.err == ENOSPC && (k == K_FTRUNCATE || k == K_UNLINKAT))
			return false;
		errno = F.err;
		return true;
	}
	if (k != F.kind || F.calls[k] != F.n || !F.n)
		return false;
	F.fired = true;
	F.err = F.mode == M_EIO_ONCE ? EIO : F.mode == M_EROFS_ON ? EROFS : ENOSPC;
	if (F.mode != M_EIO_ONCE)
		F.on = true;
	errno = F.err;
	return true;
}

static void fault_clear(void)
{
	F.on = false;
	F.n = 0;
}

static int f_openat(int d, const char *p, int fl, mode_t m)
{
	/* only opens that can change the disk */
	if ((fl & (O_CREAT | O_TRUNC | O_WRONLY | O_RDWR)) && fault(K_OPENAT))
		return -1;
	return openat(d, p, fl, m);
}

static ssize_t f_pwrite(int fd, const void *b, size_t l, off_t o)
{
	if (F.kind == K_PWRITE && F.mode == M_SHORT_ENOSPC && !F.on &&
	    F.calls[K_PWRITE] + 1 == F.n && l > 1) {
		/* half of it lands; the retry of the rest finds the disk full */
		F.calls[K_PWRITE]++;
		F.fired = true;
		F.on = true;
		F.err = ENOSPC;
		return pwrite(fd, b, l / 2, o);
	}
	if (fault(K_PWRITE))
		return -1;
	return pwrite(fd, b, l, o);
}

static int f_fdatasync(int fd)
{
	(void)fd;
	return fault(K_FDATASYNC) ? -1 : 0;
}

static int f_fsync(int fd)
{
	(void)fd;
	return fault(K_FSYNC) ? -1 : 0;
}

static int f_ftruncate(int fd, off_t l)
{
	return fault(K_FTRUNCATE) ? -1 : ftruncate(fd, l);
}

static int f_renameat(int a, const char *b, int c, const char *d)
{
	return fault(K_RENAMEAT) ? -1 : renameat(a, b, c, d);
}

static int f_mkdirat(int d, const char *p, mode_t m)
{
	return fault(K_MKDIRAT) ? -1 : mkdirat(d, p, m);
}

static int f_symlinkat(const char *t, int d, const char *p)
{
	return fault(K_SYMLINKAT) ? -1 : symlinkat(t, d, p);
}

static int f_unlinkat(int d, const char *p, int f)
{
	return fault(K_UNLINKAT) ? -1 : unlinkat(d, p, f);
}

static const struct store_io fault_io = {
	.openat = f_openat, .pwrite = f_pwrite, .fdatasync = f_fdatasync,
	.fsync = f_fsync, .ftruncate = f_ftruncate, .renameat = f_renameat,
	.mkdirat = f_mkdirat, .symlinkat = f_symlinkat, .unlinkat = f_unlinkat,
	.failpoint = NULL,
};

/* A failure must be an error code and a message saying what failed. */
static int clear_error(int err, const struct errmsg *em, const char *what, char *why,
		       size_t wl)
{
	if (err >= 0)
		return st_why(why, wl, "%s: returned %d on an injected fault", what, err);
	if (!em->text[0])
		return st_why(why, wl, "%s: %d without a message", what, err);
	if (err != -F.err && !strstr(em->text, strerror(F.err)))
		return st_why(why, wl, "%s: %d \"%s\": neither -%d nor \"%s\"", what, err,
			      em->text, F.err, strerror(F.err));
	return 0;
}

/* Records a reader sees right now: exactly [0, want). */
static int reader_sees(const char *dir, uint64_t min, uint64_t max, char *why, size_t wl)
{
	uint64_t got;
	int r;

	st_skip_replay = true;
	r = st_check(dir, 0, min, max, &got, why, wl);
	st_skip_replay = false;
	return r;
}

/*
 * One faultsim run: create, append and commit groups (retrying each failed
 * one once the fault is gone), a checkpoint, a trim, a boot; close, check.
 * Returns 0, or -1 with why.
 */
static int faultsim_run(const char *dir, struct st_acks *ak, char *why, size_t wl)
{
	static const unsigned groups[] = { 3, 1, 20, 7, 2, 30, 5, 1, 12, 4 };
	struct errmsg em = { "" };
	struct store *s = NULL;
	struct chain *c = NULL;
	uint64_t n = 0;
	int err;

	err = st_open_writer(dir, SEG, true, &s, &c, &em);
	if (err) {
		if (clear_error(err, &em, "create", why, wl))
			return -1;
		fault_clear();
		/* the store and chain must be creatable or usable afterwards */
		err = store_open(&s, dir, STORE_WRITE | STORE_CREATE, &em);
		if (err)
			return st_why(why, wl, "store_open after a failed create: %d %s", err, em.text);
		store_set_segment_size(s, SEG);
		err = store_chain_open(s, ST_CHAIN, &c, &em);
		if (err == -ENOENT) {
			struct chain_meta m;

			st_meta(&m);
			err = store_chain_create(s, &m, &c, &em);
		}
		if (err) {
			store_close(s);
			return st_why(why, wl, "after a failed create the chain is neither absent "
				      "nor usable: %d %s", err, em.text);
		}
	}
	ak->created = 1;
	for (unsigned g = 0; g < sizeof(groups) / sizeof(groups[0]); g++) {
		uint64_t durable = chain_durable(c);
		bool retried = false;

again:
		ak->pending = n + groups[g] > ak->pending ? n + groups[g] : ak->pending;
		err = st_append_range(c, n, n + groups[g], &em);
		if (!err) {
			unsigned long syncs = F.calls[K_FDATASYNC];
			bool fired = F.fired;

			err = chain_commit(c, &em);
			/* a commit's fdatasync failed: that commit must not succeed */
			if (!err && !fired && F.fired && F.kind == K_FDATASYNC &&
			    F.calls[K_FDATASYNC] > syncs)
				return st_why(why, wl, "chain_commit returned 0 though its "
					      "fdatasync failed");
		}
		if (!err) {
			n += groups[g];
			ak->acked = chain_durable(c);
			if (ak->acked != n)
				return st_why(why, wl, "commit returned 0, durable %" PRIu64
					      ", appended %" PRIu64, ak->acked, n);
		} else {
			if (clear_error(err, &em, "commit", why, wl))
				return -1;
			if (chain_durable(c) != durable)
				return st_why(why, wl, "a failed commit moved chain_durable %" PRIu64
					      " -> %" PRIu64, durable, chain_durable(c));
			if (retried)
				return st_why(why, wl, "commit failed again with the fault gone: %d %s",
					      err, em.text);
			/*
			 * What was durable stays readable. Nothing else shows,
			 * unless the cut back failed too (then the group may
			 * still be in the file, unacknowledged).
			 */
			if (reader_sees(dir, durable, F.calls[K_FTRUNCATE] &&
					(F.mode == M_EROFS_ON || F.kind == K_FTRUNCATE) ?
					ak->pending : durable, why, wl))
				return -1;
			fault_clear();
			retried = true;
			if (chain_count(c) != durable) {
				return st_why(why, wl, "after a failed commit chain_count %" PRIu64
					      ", durable %" PRIu64 " (waiting records not dropped)",
					      chain_count(c), durable);
			}
			/* a store that could not cut back refuses until reopened */
			err = st_append_range(c, n, n + groups[g], &em);
			if (!err)
				err = chain_commit(c, &em);
			if (!err) {
				n += groups[g];
				ak->acked = chain_durable(c);
				continue;
			}
			st_close(s, c);
			s = NULL;
			c = NULL;
			err = st_open_writer(dir, SEG, false, &s, &c, &em);
			if (err)
				return st_why(why, wl, "reopen after a failed commit: %d %s", err,
					      em.text);
			n = chain_durable(c);
			if (n < ak->acked || n > ak->pending) {
				st_close(s, c);
				return st_why(why, wl, "reopened with %" PRIu64 " records, acked %"
					      PRIu64, n, ak->acked);
			}
			ak->acked = n;
			goto again;
		}
		if (g == 3 || g == 6) {
			struct replay_state st;
			bool retry = true;

			err = st_replay_to(n, &st, &em);
			while (!err) {
				err = chain_checkpoint_write(c, &st, &em);
				if (!err) {
					ak->ckpt_acked = n + 1;
					break;
				}
				if (clear_error(err, &em, "checkpoint", why, wl))
					goto fail;
				fault_clear();
				if (!retry)
					break;
				retry = false;
				err = 0;
			}
			if (err)
				goto fail_em;
		}
		if (g == 5) {
			for (int ts = TRIM_INTENDED; ts <= TRIM_DONE; ts++) {
				err = chain_trim_write(c, ST_CHAIN, n, ts, &em);
				if (err) {
					if (clear_error(err, &em, "trim", why, wl))
						goto fail;
					fault_clear();
					err = chain_trim_write(c, ST_CHAIN, n, ts, &em);
					if (err)
						goto fail_em;
				}
				ak->trim_acked = n * 4 + (uint64_t)ts;
			}
		}
		if (g == 7) {
			err = chain_add_boot(c, ST_BOOT2, n, &em);
			if (err) {
				if (clear_error(err, &em, "add_boot", why, wl))
					goto fail;
				fault_clear();
				err = chain_add_boot(c, ST_BOOT2, n, &em);
				if (err)
					goto fail_em;
			}
			ak->boot_acked = 1;
		}
	}
	st_close(s, c);
	s = NULL;
	c = NULL;
	/* the writer's recovery of a torn tail, faults still armed */
	st_write_torn_tail(dir);
	err = st_open_writer(dir, SEG, false, &s, &c, &em);
	if (err) {
		if (clear_error(err, &em, "reopen over a torn tail", why, wl))
			return -1;
		fault_clear();
		err = st_open_writer(dir, SEG, false, &s, &c, &em);
		if (err)
			goto fail_em;
	}
	if (chain_durable(c) != n)
		return st_why(why, wl, "reopened over a torn tail: %" PRIu64 " records, not %"
			      PRIu64, chain_durable(c), n);
	ak->pending = n + 9;
	err = st_append_range(c, n, n + 9, &em);
	if (!err)
		err = chain_commit(c, &em);
	if (!err)
		ak->acked = n + 9;
	else if (clear_error(err, &em, "commit after recovery", why, wl))
		goto fail;
	st_close(s, c);
	return 0;
fail_em:
	st_why(why, wl, "with the fault gone: %d %s", err, em.text);
fail:
	st_close(s, c);
	return -1;
}

static void test_faultsim(void **state)
{
	unsigned long runs = 0, fired = 0, bad = 0;

	(void)state;
	for (int k = 0; k < K_N; k++) {
		for (int m = 0; m < M_N; m++) {
			if (m == M_SHORT_ENOSPC && k != K_PWRITE)
				continue;
			/* valgrind: every way to fail for writes and syncs, one for the rest */
			if (RUNNING_ON_VALGRIND && m != M_EIO_ONCE && k != K_PWRITE &&
			    k != K_FDATASYNC)
				continue;
			for (unsigned long n = 1;; n++) {
				char dir[PATH_MAX], why[1024] = "";
				struct st_acks ak = { 0 };
				uint64_t got;
				int r;

				st_tmpdir(dir, sizeof(dir), "fault");
				memset(&F, 0, sizeof(F));
				F.kind = (enum kind)k;
				F.mode = (enum mode)m;
				F.n = n;
				store_io = &fault_io;
				r = faultsim_run(dir, &ak, why, sizeof(why));
				store_io = st_io_fast();
				runs++;
				if (!r)
					r = st_check_recovered(dir, &ak, 0, SEG, &got, true, why,
							       sizeof(why));
				if (r && ++bad && st_new_failure(why))
					print_error("%s, %s at call %lu: %s\n", kind_name[k],
						    mode_name[m], n, why);
				st_rm_rf(dir);
				if (!F.fired)
					break;
				fired++;
				/* under valgrind and ASan: a sample of the later calls */
				if (st_scale() < 0.5 && n > 3)
					n += st_range(0, (uint64_t)(3 / st_scale()));
			}
		}
	}
	fprintf(stderr, "%lu fault runs, %lu with a fault\n", runs, fired);
	if (bad) {
		st_print_kinds();
		fail_msg("%lu of %lu fault runs leave a wrong store or a wrong answer", bad, runs);
	}
}

/* STORE_GROUP_MAX waiting: chain_append commits by itself. */
static void test_group_max_commits(void **state)
{
	char dir[PATH_MAX], why[1024];
	struct errmsg em = { "" };
	struct store *s;
	struct chain *c;
	uint64_t n = 0, bytes = 0, got;

	(void)state;
	st_tmpdir(dir, sizeof(dir), "fault");
	assert_int_equal(st_open_writer(dir, 0, true, &s, &c, &em), 0);
	while (chain_durable(c) == 0 && bytes < 2 * STORE_GROUP_MAX) {
		const uint8_t *raw;
		size_t len;

		st_rec(n, &raw, &len);
		if (st_append_range(c, n, n + 1, &em))
			fail_msg("append %" PRIu64 ": %s", n, em.text);
		bytes += len + FRAME_HDR;
		n++;
	}
	assert_true(chain_durable(c) > 0);
	assert_true(bytes >= STORE_GROUP_MAX - ST_REC_MAX);
	assert_true(bytes <= STORE_GROUP_MAX + ST_REC_MAX + FRAME_HDR);
	assert_int_equal(chain_commit(c, &em), 0);
	assert_int_equal(chain_durable(c), n);
	st_close(s, c);
	st_skip_replay = RUNNING_ON_VALGRIND;
	if (st_check(dir, 0, n, n, &got, why, sizeof(why)))
		fail_msg("%s", why);
	st_skip_replay = false;
	st_rm_rf(dir);
}

/* ---- real file systems, in a private mount namespace ---- */

/* What a failed test leaves mounted or on disk, cleaned by the teardown. */
static char left_mnt[PATH_MAX], left_img[PATH_MAX];

static int cleanup(void **state)
{
	if (left_mnt[0]) {
		umount2(left_mnt, MNT_DETACH);
		rmdir(left_mnt);
	}
	if (left_img[0])
		unlink(left_img);
	left_mnt[0] = left_img[0] = 0;
	return st_t1(state);
}

/*
 * A test that cannot set up here fails, unless IMASTORE_ALLOW_SKIP=1 (a
 * local run as another user) makes it a skip, which tests/run.sh counts.
 */
static void cannot_run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void cannot_run(const char *fmt, ...)
{
	const char *allow = getenv("IMASTORE_ALLOW_SKIP");
	char why[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (allow && !strcmp(allow, "1")) {
		fprintf(stderr, "  %s: skipped (IMASTORE_ALLOW_SKIP=1)\n", why);
		skip();
	}
	fail_msg("cannot run: %s (needs root, mount namespaces and loop devices; "
		 "IMASTORE_ALLOW_SKIP=1 skips instead)", why);
}

/* A private mount namespace, made once; else cannot_run(). */
static void private_mounts(void)
{
	static int err = 1;

	if (err == 1)
		err = unshare(CLONE_NEWNS) || mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL)
			      ? -errno : 0;
	if (err)
		cannot_run("no private mount namespace: %s", strerror(-err));
}

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/*
 * Fill `dir`'s file system with a file, leaving about `leave` bytes free
 * (2 MiB more on XFS, which holds back blocks for delayed allocation when
 * nearly full: with less, creating the store's first files fails already).
 */
static void fill(const char *path, uint64_t leave)
{
	struct statvfs sv;
	struct statfs sf;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	static uint8_t buf[64 << 10];
	uint64_t freeb;

	assert_true(fd >= 0);
	assert_int_equal(fstatvfs(fd, &sv), 0);
	assert_int_equal(fstatfs(fd, &sf), 0);
	if (sf.f_type == XFS_SUPER_MAGIC)
		leave += 2 << 20;
	freeb = (uint64_t)sv.f_bavail * sv.f_frsize;
	memset(buf, 0x33, sizeof(buf));
	while (freeb > leave) {
		size_t n = freeb - leave > sizeof(buf) ? sizeof(buf) : (size_t)(freeb - leave);
		ssize_t w = write(fd, buf, n);

		if (w <= 0)
			break;
		freeb -= (uint64_t)w;
	}
	fsync(fd);
	close(fd);
}

/*
 * Append and commit until the file system is full: the failing commit says
 * ENOSPC, durable stays, readers see exactly the durable records; retries
 * keep failing cleanly; then space returns (filler removed) and the same
 * records go in. Returns the records in the store.
 */
static uint64_t enospc_cycle(const char *dir, const char *filler, uint64_t seg,
			     uint64_t start)
{
	struct errmsg em = { "" };
	struct store *s;
	struct chain *c;
	uint64_t n, durable, got;
	char why[1024];
	int err = 0, fails = 0;

	assert_int_equal(st_open_writer(dir, seg, start == 0, &s, &c, &em), 0);
	n = chain_durable(c);
	assert_int_equal(n, start);
	for (;;) {
		uint64_t k = st_range(1, 40);

		durable = chain_durable(c);
		err = st_append_range(c, n, n + k, &em);
		if (!err)
			err = chain_commit(c, &em);
		if (err)
			break;
		n += k;
		assert_true(n < 1000000);
	}
	fprintf(stderr, "  full after %" PRIu64 " records: %d %s\n", durable, err, em.text);
	if (err != -ENOSPC)
		fail_msg("a full disk: commit returned %d (%s), want -ENOSPC", err, em.text);
	assert_true(em.text[0]);
	assert_int_equal(chain_durable(c), durable);
	assert_int_equal(chain_count(c), durable);
	n = durable;
	if (st_check(dir, 0, durable, durable, &got, why, sizeof(why)))
		fail_msg("reader on a full disk: %s", why);
	/* still full: fails the same way, durable stays */
	for (int i = 0; i < 3; i++) {
		err = st_append_range(c, n, n + 5, &em);
		if (!err)
			err = chain_commit(c, &em);
		if (err) {
			fails++;
			assert_int_equal(chain_durable(c), durable);
			if (chain_count(c) != durable)
				fail_msg("failed commit left count %" PRIu64 " durable %" PRIu64,
					 chain_count(c), durable);
		} else {
			n += 5;
			durable = n;
		}
	}
	/* a checkpoint and a trim on a full disk fail cleanly or succeed */
	{
		struct replay_state st;

		assert_int_equal(st_replay_to(durable, &st, &em), 0);
		err = chain_checkpoint_write(c, &st, &em);
		if (err && err != -ENOSPC)
			fail_msg("checkpoint on a full disk: %d %s", err, em.text);
		err = chain_trim_write(c, ST_CHAIN, durable, TRIM_INTENDED, &em);
		if (err && err != -ENOSPC)
			fail_msg("trim on a full disk: %d %s", err, em.text);
	}
	if (st_check(dir, 0, durable, durable, &got, why, sizeof(why)))
		fail_msg("reader on a full disk after retries: %s", why);
	/* space returns: the same records again */
	assert_int_equal(unlink(filler), 0);
	err = st_append_range(c, n, n + 50, &em);
	if (!err)
		err = chain_commit(c, &em);
	if (err) {
		/* a store that could not cut back may ask to be reopened */
		st_close(s, c);
		err = st_open_writer(dir, seg, false, &s, &c, &em);
		if (err)
			fail_msg("reopen after space returned: %d %s", err, em.text);
		n = chain_durable(c);
		assert_int_equal(n, durable);
		err = st_append_range(c, n, n + 50, &em);
		if (!err)
			err = chain_commit(c, &em);
	}
	if (err)
		fail_msg("commit after space returned: %d %s", err, em.text);
	n += 50;
	assert_int_equal(chain_durable(c), n);
	st_close(s, c);
	if (st_check(dir, 0, n, n, &got, why, sizeof(why)))
		fail_msg("after space returned: %s", why);
	if (st_check(dir, STORE_WRITE, n, n, &got, why, sizeof(why)))
		fail_msg("after space returned: %s", why);
	fprintf(stderr, "  %d retries failed while full; %" PRIu64 " records after space "
		"returned\n", fails, n);
	return n;
}

/*
 * On a 1 MiB tmpfs of its own, or in STORE_TEST_SMALLFS (a directory on a
 * small file system the caller mounted: tests/store/test-realfs.sh).
 */
static void test_enospc(void **state)
{
	char mnt[PATH_MAX], dir[PATH_MAX], filler[PATH_MAX];
	const char *given = getenv("STORE_TEST_SMALLFS");
	uint64_t n;

	(void)state;
	if (given) {
		st_fmt(mnt, sizeof(mnt), "%s", given);
		st_rm_rf(given);
		assert_int_equal(mkdir(given, 0700), 0);
	} else {
		private_mounts();
		st_tmpdir(mnt, sizeof(mnt), "enospc");
		snprintf(left_mnt, sizeof(left_mnt), "%s", mnt);
		assert_int_equal(mount("tmpfs", mnt, "tmpfs", 0, "size=1m,mode=0700"), 0);
	}
	fprintf(stderr, "  on %s\n", mnt);
	st_fmt(dir, sizeof(dir), "%s/store", mnt);
	st_fmt(filler, sizeof(filler), "%s/filler", mnt);
	/* big segments: the records fill the disk */
	fill(filler, 200 << 10);
	n = enospc_cycle(dir, filler, 0, 0);
	/* small segments: a new segment meets the full disk too */
	fill(filler, 24 << 10);
	n = enospc_cycle(dir, filler, 8 << 10, n);
	fill(filler, 3 << 10);
	enospc_cycle(dir, filler, 2 << 10, n);
	if (given) {
		st_rm_rf(given);
		return;
	}
	umount2(mnt, MNT_DETACH);
	rmdir(mnt);
}

/* A read-only file system: readers read, the writer fails clearly. */
static void test_readonly_tmpfs(void **state)
{
	char mnt[PATH_MAX], dir[PATH_MAX], why[1024];
	struct errmsg em = { "" };
	struct store *s;
	struct chain *c;
	uint64_t got;
	int err;

	(void)state;
	private_mounts();
	st_tmpdir(mnt, sizeof(mnt), "rofs");
	snprintf(left_mnt, sizeof(left_mnt), "%s", mnt);
	assert_int_equal(mount("tmpfs", mnt, "tmpfs", 0, "size=8m,mode=0700"), 0);
	st_fmt(dir, sizeof(dir), "%s/store", mnt);
	assert_int_equal(st_open_writer(dir, SEG, true, &s, &c, &em), 0);
	assert_int_equal(st_append_range(c, 0, 100, &em), 0);
	assert_int_equal(chain_commit(c, &em), 0);
	st_close(s, c);
	assert_int_equal(mount("none", mnt, "none", MS_REMOUNT | MS_RDONLY, NULL), 0);

	if (st_check(dir, 0, 100, 100, &got, why, sizeof(why)))
		fail_msg("reader on a read-only file system: %s", why);
	err = st_open_writer(dir, SEG, false, &s, &c, &em);
	if (!err) {
		err = st_append_range(c, 100, 110, &em);
		if (!err)
			err = chain_commit(c, &em);
		if (!err)
			fail_msg("committed on a read-only file system");
		assert_int_equal(chain_durable(c), 100);
		st_close(s, c);
	}
	fprintf(stderr, "  writer on a read-only fs: %d %s\n", err, em.text);
	if (err != -EROFS && !strstr(em.text, strerror(EROFS)))
		fail_msg("writer on a read-only file system: %d %s (want EROFS)", err, em.text);
	if (st_check(dir, 0, 100, 100, &got, why, sizeof(why)))
		fail_msg("reader after the writer failed: %s", why);
	/* writable again: append on */
	assert_int_equal(mount("none", mnt, "none", MS_REMOUNT, NULL), 0);
	assert_int_equal(st_open_writer(dir, SEG, false, &s, &c, &em), 0);
	assert_int_equal(st_append_range(c, 100, 150, &em), 0);
	assert_int_equal(chain_commit(c, &em), 0);
	st_close(s, c);
	if (st_check(dir, 0, 150, 150, &got, why, sizeof(why)))
		fail_msg("after remounting read-write: %s", why);
	umount2(mnt, MNT_DETACH);
	rmdir(mnt);
}

/*
 * ext4 with errors=remount-ro turns read-only under the open writer (an
 * error triggered through sysfs, as a failing disk would): the next commit
 * fails clearly, durable stays, readers see it all; after fsck and a
 * read-write mount the same records go in.
 */
static void test_ext4_goes_readonly(void **state)
{
	char img[PATH_MAX], mnt[PATH_MAX], dir[PATH_MAX], why[1024], sysfs[PATH_MAX];
	struct errmsg em = { "" };
	struct store *s;
	struct chain *c;
	struct stat sb;
	uint64_t n = 0, got;
	int err, fd;

	(void)state;
	private_mounts();
	if (sh("command -v mkfs.ext4 e2fsck >/dev/null 2>&1"))
		cannot_run("no mkfs.ext4 or e2fsck (e2fsprogs)");
	if (access("/dev/loop-control", F_OK))
		cannot_run("/dev/loop-control: %s", strerror(errno));
	st_tmpdir(mnt, sizeof(mnt), "ext4");
	st_fmt(img, sizeof(img), "%s.img", mnt);
	snprintf(left_mnt, sizeof(left_mnt), "%s", mnt);
	snprintf(left_img, sizeof(left_img), "%s", img);
	if (sh("truncate -s 32M %s && mkfs.ext4 -q -F %s >/dev/null 2>&1", img, img) ||
	    sh("mount -o loop,errors=remount-ro %s %s", img, mnt))
		cannot_run("cannot make or mount an ext4 image %s on %s", img, mnt);
	assert_int_equal(stat(mnt, &sb), 0);
	st_fmt(sysfs, sizeof(sysfs), "/sys/dev/block/%u:%u", major(sb.st_dev), minor(sb.st_dev));
	{
		char link[PATH_MAX];
		ssize_t l = readlink(sysfs, link, sizeof(link) - 1);

		assert_true(l > 0);
		link[l] = 0;
		st_fmt(sysfs, sizeof(sysfs), "/sys/fs/ext4/%s/trigger_fs_error", strrchr(link, '/') + 1);
	}
	st_fmt(dir, sizeof(dir), "%s/store", mnt);
	store_io = &store_io_default;	/* real fsyncs on a real disk */
	assert_int_equal(st_open_writer(dir, SEG, true, &s, &c, &em), 0);
	for (int g = 0; g < 10; g++) {
		assert_int_equal(st_append_range(c, n, n + 17, &em), 0);
		assert_int_equal(chain_commit(c, &em), 0);
		n += 17;
	}
	fd = open(sysfs, O_WRONLY);
	if (fd < 0 || write(fd, "1", 1) != 1) {
		int e = errno;

		if (fd >= 0)
			close(fd);
		st_close(s, c);
		store_io = st_io_fast();
		cannot_run("%s: %s", sysfs, strerror(e));
	}
	close(fd);
	err = st_append_range(c, n, n + 17, &em);
	if (!err)
		err = chain_commit(c, &em);
	fprintf(stderr, "  commit on ext4 turned read-only: %d %s\n", err, em.text);
	if (!err)
		fail_msg("commit succeeded on a file system that went read-only");
	if (err != -EROFS && err != -EIO)
		fail_msg("commit on a read-only ext4: %d %s (want EROFS or EIO)", err, em.text);
	assert_int_equal(chain_durable(c), n);
	if (st_check(dir, 0, n, n, &got, why, sizeof(why)))
		fail_msg("reader after ext4 went read-only: %s", why);
	/* a second try fails the same way */
	err = st_append_range(c, chain_count(c), n + 17, &em);
	if (!err)
		err = chain_commit(c, &em);
	assert_true(err < 0);
	assert_int_equal(chain_durable(c), n);
	st_close(s, c);
	store_io = st_io_fast();
	assert_int_equal(sh("umount %s", mnt), 0);
	assert_true(sh("e2fsck -fy %s >/dev/null 2>&1", img) <= 1);
	assert_int_equal(sh("mount -o loop %s %s", img, mnt), 0);
	if (st_check(dir, 0, n, n, &got, why, sizeof(why)))
		fail_msg("after fsck and remount: %s", why);
	assert_int_equal(st_open_writer(dir, SEG, false, &s, &c, &em), 0);
	assert_int_equal(chain_durable(c), n);
	assert_int_equal(st_append_range(c, n, n + 17, &em), 0);
	assert_int_equal(chain_commit(c, &em), 0);
	n += 17;
	st_close(s, c);
	if (st_check(dir, STORE_WRITE, n, n, &got, why, sizeof(why)))
		fail_msg("after appending again: %s", why);
	sh("umount %s", mnt);
	unlink(img);
	rmdir(mnt);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_faultsim, st_t0_tmpfs, st_t1),
		cmocka_unit_test_setup_teardown(test_group_max_commits, st_t0_tmpfs, st_t1),
		cmocka_unit_test_setup_teardown(test_enospc, st_t0, cleanup),
		cmocka_unit_test_setup_teardown(test_readonly_tmpfs, st_t0, cleanup),
		cmocka_unit_test_setup_teardown(test_ext4_goes_readonly, st_t0, cleanup),
	};

	st_init("test_store_faults");
	store_io = st_io_fast();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
