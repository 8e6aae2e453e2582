/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Shared by the store crash, power-cut and fault tests (header only: each
 * test is one .c file). Deterministic ima-ng records by index, the replay
 * of their first N, a full check of a store directory against them, and
 * store_io tables (no-sync passthrough). See docs/testing.md.
 *
 * Helpers that may run in a forked child (st_check, st_append_range, ...)
 * never use cmocka's assertions: they return -1 and say why in a buffer.
 */
#ifndef IMASTORE_STORE_TEST_UTIL_H
#define IMASTORE_STORE_TEST_UTIL_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <valgrind/valgrind.h>

#include "test_util.h"

#include "frame.h"
#include "hash_alg.h"
#include "ima_record.h"
#include "replay.h"
#include "chain_replay.h"
#include "store.h"
#include "store_io.h"

#ifndef FRAME_OFF_CRC	/* frame.h names its field offsets (format §3) */
#define FRAME_OFF_CRC 16
#define FRAME_OFF_LEN 4
#endif

#define ST_UNUSED __attribute__((unused))	/* not every test uses every helper */
#define ST_CHAIN "5f0c3a62-8c2e-4b7e-9a51-1d2e3f405162"
#define ST_BOOT2 "0b7d2e4c-1f3a-4c5d-8e6f-708192a3b4c5"
#define ST_REC_MAX (16u << 10)	/* largest record st_rec() makes */

#if defined(__SANITIZE_ADDRESS__)
#define ST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ST_ASAN 1
#endif
#endif
#ifndef ST_ASAN
#define ST_ASAN 0
#endif

/* snprintf that aborts on truncation (and keeps -Wformat-truncation quiet) */
__attribute__((format(printf, 3, 4)))
ST_UNUSED static void st_fmt(char *out, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out, len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= len)
		abort();
}

/* ---- randomness: one seed per process, printed, STORE_TEST_SEED=... ---- */

static uint64_t st_seed, st_rng, st_seed_pid;

ST_UNUSED static uint64_t st_mix(uint64_t x)	/* splitmix64 */
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

ST_UNUSED static uint64_t st_rand(void)
{
	st_rng = st_mix(st_rng);
	return st_rng;
}

/* uniform in [lo, hi] */
ST_UNUSED static uint64_t st_range(uint64_t lo, uint64_t hi)
{
	return lo + st_rand() % (hi - lo + 1);
}

/* roughly log-uniform in [lo, hi] (lo >= 1): a random power of two, then uniform */
ST_UNUSED static uint64_t st_logrange(uint64_t lo, uint64_t hi)
{
	unsigned blo = 63 - (unsigned)__builtin_clzll(lo);
	unsigned bhi = 63 - (unsigned)__builtin_clzll(hi);
	unsigned b = (unsigned)st_range(blo, bhi);
	uint64_t v = st_range(1ull << b, (2ull << b) - 1);

	return v < lo ? lo : v > hi ? hi : v;
}

/*
 * Run-count multiplier: STORE_TEST_SCALE (default 1); valgrind and ASan
 * builds run a fraction of the runs (they are 20-50x slower).
 */
ST_UNUSED static double st_scale(void)
{
	const char *e = getenv("STORE_TEST_SCALE");
	double s = e ? atof(e) : 1.0;

	if (s <= 0)
		s = 1.0;
	if (RUNNING_ON_VALGRIND)
		s /= 25;
	else if (ST_ASAN)
		s /= 8;	/* and a fork of an ASan process costs ~100 ms */
	return s;
}

ST_UNUSED static unsigned st_runs(unsigned n)
{
	double v = n * st_scale();

	return v < 3 ? 3 : (unsigned)v;
}

ST_UNUSED static void st_init(const char *test)
{
	const char *e = getenv("STORE_TEST_SEED");

	st_seed = e ? strtoull(e, NULL, 0) :
		  ((uint64_t)time(NULL) << 20) ^ (uint64_t)getpid();
	st_rng = st_seed;
	fprintf(stderr, "%s: STORE_TEST_SEED=%" PRIu64 " (scale %.2f%s)\n", test,
		st_seed, st_scale(), RUNNING_ON_VALGRIND ? ", valgrind" : "");
}

/* per-test wall time, as cmocka setup/teardown */
static struct timespec st_tstart;

ST_UNUSED static int st_t0(void **state)
{
	(void)state;
	clock_gettime(CLOCK_MONOTONIC, &st_tstart);
	return 0;
}

ST_UNUSED static bool st_use_tmpfs(void);
ST_UNUSED static void st_use_tmp(void);

/* the same, with scratch stores on a private tmpfs */
ST_UNUSED static int st_t0_tmpfs(void **state)
{
	st_use_tmpfs();
	return st_t0(state);
}

ST_UNUSED static int st_t1(void **state)
{
	struct timespec t;

	(void)state;
	st_use_tmp();
	clock_gettime(CLOCK_MONOTONIC, &t);
	fprintf(stderr, "  (%.2f s)\n", (double)(t.tv_sec - st_tstart.tv_sec) +
		(double)(t.tv_nsec - st_tstart.tv_nsec) / 1e9);
	return 0;
}

/*
 * Failure kinds: a message with its numbers and ids blanked. True the
 * first time a kind is seen (print that one, count the rest).
 */
static struct {
	char key[64][120];
	unsigned long count[64];
	unsigned n;
} st_kinds;

ST_UNUSED static bool st_new_failure(const char *why)
{
	char k[120];
	size_t j = 0;

	for (size_t i = 0; why[i] && j < sizeof(k) - 1; i++) {
		if ((why[i] >= '0' && why[i] <= '9') || (why[i] >= 'a' && why[i] <= 'f' &&
		    i && why[i - 1] >= '0' && why[i - 1] <= '9')) {
			if (!j || k[j - 1] != '#')
				k[j++] = '#';
			continue;
		}
		if (why[i] == '[' || why[i] == '(')
			break;
		k[j++] = why[i];
	}
	k[j] = 0;
	for (unsigned i = 0; i < st_kinds.n; i++)
		if (!strcmp(st_kinds.key[i], k)) {
			st_kinds.count[i]++;
			return false;
		}
	if (st_kinds.n < 64) {
		snprintf(st_kinds.key[st_kinds.n], 120, "%s", k);
		st_kinds.count[st_kinds.n++] = 1;
	}
	return true;
}

ST_UNUSED static void st_print_kinds(void)
{
	for (unsigned i = 0; i < st_kinds.n; i++)
		fprintf(stderr, "  %6lu x %s\n", st_kinds.count[i], st_kinds.key[i]);
	memset(&st_kinds, 0, sizeof(st_kinds));
}

/* ---- records ---- */

ST_UNUSED static const struct hash_alg *st_bank(void)
{
	return hash_alg_by_name("sha256");
}

ST_UNUSED static size_t st_put32(uint8_t *p, uint32_t v)
{
	ima_put_u32(p, v, true);
	return 4;
}

/*
 * Record i of every test store: ima-ng (mostly) or ima-buf, sha256 bank,
 * little-endian, its path naming i (so a duplicate or a shifted record can
 * never compare equal). Sizes vary from ~100 bytes to ~12 KiB so records
 * straddle 512-byte sectors in every way; every 97th is a violation.
 */
ST_UNUSED static size_t st_mk_rec(uint64_t i, uint8_t *out)
{
	static struct hash_ctx *h;
	uint64_t r = st_mix(i ^ 0x5354524543ull);
	uint8_t data[ST_REC_MAX - 64], fd[32];
	char path[256];
	size_t dl = 0, pos = 0, buflen = 0, plen;
	const char *name;
	bool violation = i && i % 97 == 0;
	unsigned cls = (unsigned)(r % 100);

	if (!h && hash_ctx_new(st_bank(), &h))
		abort();
	if (i == 0)
		snprintf(path, sizeof(path), "boot_aggregate");
	else
		snprintf(path, sizeof(path), "/usr/lib/store-test/%" PRIu64 "/%0*u",
			 i, (int)(r >> 8) % 120 + 1, 7u);
	if (cls >= 97)
		buflen = 3000 + (size_t)((r >> 20) % 9000);
	else if (cls >= 88)
		buflen = 1 + (size_t)((r >> 20) % 3000);
	name = buflen ? "ima-buf" : "ima-ng";
	memset(fd, violation ? 0 : (int)(r >> 40) | 1, sizeof(fd));
	dl += st_put32(data + dl, 8 + 32);
	memcpy(data + dl, "sha256:", 8);
	memcpy(data + dl + 8, fd, 32);
	dl += 40;
	plen = strlen(path) + 1;
	dl += st_put32(data + dl, (uint32_t)plen);
	memcpy(data + dl, path, plen);
	dl += plen;
	if (buflen) {
		dl += st_put32(data + dl, (uint32_t)buflen);
		for (size_t k = 0; k < buflen; k++)
			data[dl + k] = (uint8_t)(st_mix(i * 131 + k / 8) >> (k % 8 * 8));
		dl += buflen;
	}
	pos += st_put32(out, i % 13 == 5 ? 11 : 10);
	if (violation)
		memset(out + pos, 0, 32);
	else if (hash_ctx_digest(h, data, dl, out + pos))
		abort();
	pos += 32;
	pos += st_put32(out + pos, (uint32_t)strlen(name));
	memcpy(out + pos, name, strlen(name));
	pos += strlen(name);
	pos += st_put32(out + pos, (uint32_t)dl);
	memcpy(out + pos, data, dl);
	return pos + dl;
}

/* Cache of records 0..n-1 (forked children inherit it). */
static struct {
	uint8_t **raw;
	uint32_t *len;
	size_t n, cap;
} st_recs;

ST_UNUSED static void st_rec(uint64_t i, const uint8_t **raw, size_t *len)
{
	static uint8_t buf[ST_REC_MAX];

	while (st_recs.n <= i) {
		size_t l;

		if (st_recs.n == st_recs.cap) {
			st_recs.cap = st_recs.cap ? st_recs.cap * 2 : 4096;
			st_recs.raw = realloc(st_recs.raw, st_recs.cap * sizeof(*st_recs.raw));
			st_recs.len = realloc(st_recs.len, st_recs.cap * sizeof(*st_recs.len));
			if (!st_recs.raw || !st_recs.len)
				abort();
		}
		l = st_mk_rec(st_recs.n, buf);
		st_recs.raw[st_recs.n] = malloc(l);
		if (!st_recs.raw[st_recs.n])
			abort();
		memcpy(st_recs.raw[st_recs.n], buf, l);
		st_recs.len[st_recs.n] = (uint32_t)l;
		st_recs.n++;
	}
	*raw = st_recs.raw[i];
	*len = st_recs.len[i];
}

ST_UNUSED static int st_parse(uint64_t i, struct ima_record *rec, struct errmsg *em)
{
	const uint8_t *raw;
	size_t len;
	long n;

	st_rec(i, &raw, &len);
	n = ima_record_parse(raw, len, 32, LIST_ENDIAN_LITTLE, i, 0, rec, em);
	if (n != (long)len)
		return n < 0 ? (int)n : -EBADMSG;
	return 0;
}

/* ---- expected replay of records 0..n-1 ---- */

static struct {
	struct replay *rp;
	uint8_t (*h)[32];	/* h[n]: state hash after n records */
	size_t n, cap;
} st_exp;

static const struct hash_alg *st_replay_banks[2];

ST_UNUSED static void st_state_hash(const struct replay_state *st, uint8_t *out)
{
	static struct hash_ctx *h;

	if (!h && hash_ctx_new(st_bank(), &h))
		abort();
	hash_ctx_init(h);
	hash_ctx_update(h, &st->pcr_used, sizeof(st->pcr_used));
	for (unsigned b = 0; b < st->pcrs.nbanks; b++)
		hash_ctx_update(h, st->pcrs.bank[b].value, sizeof(st->pcrs.bank[b].value));
	hash_ctx_final(h, out);
}

ST_UNUSED static int st_replay_new(struct replay **rp, struct errmsg *em)
{
	st_replay_banks[0] = st_bank();
	st_replay_banks[1] = hash_alg_by_name("sha1");
	return replay_new(rp, st_replay_banks, 2, em);
}

/* State hash of the replay of records 0..n-1. */
ST_UNUSED static void st_expected_hash(uint64_t n, uint8_t *out)
{
	struct errmsg em = { "" };
	struct ima_record rec;

	if (!st_exp.rp) {
		if (st_replay_new(&st_exp.rp, &em))
			abort();
		st_exp.cap = 4096;
		st_exp.h = malloc(st_exp.cap * 32);
		st_state_hash(replay_state(st_exp.rp), st_exp.h[0]);
		st_exp.n = 1;
	}
	while (st_exp.n <= n) {
		if (st_exp.n == st_exp.cap) {
			st_exp.cap *= 2;
			st_exp.h = realloc(st_exp.h, st_exp.cap * 32);
		}
		if (st_parse(st_exp.n - 1, &rec, &em) ||
		    replay_extend(st_exp.rp, &rec, st_bank(), REPLAY_CHECK_DIGEST, &em)) {
			fprintf(stderr, "expected replay: %s\n", em.text);
			abort();
		}
		st_state_hash(replay_state(st_exp.rp), st_exp.h[st_exp.n]);
		st_exp.n++;
	}
	memcpy(out, st_exp.h[n], 32);
}

/* The replay state after records 0..n-1 (caller's buffer). */
ST_UNUSED static int st_replay_to(uint64_t n, struct replay_state *out, struct errmsg *em)
{
	struct replay *rp;
	struct ima_record rec;
	int err = st_replay_new(&rp, em);

	for (uint64_t i = 0; !err && i < n; i++) {
		err = st_parse(i, &rec, em);
		if (!err)
			err = replay_extend(rp, &rec, st_bank(), REPLAY_CHECK_DIGEST, em);
	}
	if (!err)
		*out = *replay_state(rp);
	if (rp)
		replay_free(rp);
	return err;
}

/* Same next_index, PCRs used and values of every bank of `want`. */
ST_UNUSED static bool st_state_equal(const struct replay_state *want,
			   const struct replay_state *got)
{
	struct pcr_set g = got->pcrs;

	if (want->next_index != got->next_index || want->pcr_used != got->pcr_used)
		return false;
	for (unsigned b = 0; b < want->pcrs.nbanks; b++) {
		const struct pcr_bank *wb = &want->pcrs.bank[b];
		const struct pcr_bank *gb = pcr_set_bank(&g, wb->alg);

		if (!gb)
			return false;
		for (unsigned p = 0; p < IMA_PCR_COUNT; p++)
			if (memcmp(wb->value[p], gb->value[p], wb->alg->size))
				return false;
	}
	return true;
}

/* ---- files ---- */

/* Where st_tmpdir() makes directories: /tmp, or a private tmpfs under it. */
static char st_tmp_base[PATH_MAX] = "";

ST_UNUSED static void st_tmpdir(char *out, size_t len, const char *tag)
{
	const char *base = st_tmp_base[0] ? st_tmp_base :
			   getenv("STORE_TEST_TMP") ? getenv("STORE_TEST_TMP") : "/tmp";

	st_fmt(out, len, "%s/imastore-%s-XXXXXX", base, tag);
	if (!mkdtemp(out))
		abort();
	chmod(out, 0700);
}

static char st_tmpfs_dir[PATH_MAX];

static void st_tmpfs_cleanup(void)
{
	if (st_tmpfs_dir[0] && getpid() == (pid_t)st_seed_pid) {
		umount2(st_tmpfs_dir, MNT_DETACH);
		rmdir(st_tmpfs_dir);
	}
}

/*
 * Scratch stores on a tmpfs mounted under /tmp in a private mount namespace
 * (as root; nobody else sees it, it goes with the process). The tests that
 * build thousands of small stores run 5x faster there than on ext4 (file
 * creation and unlink cost); nothing is fsync'ed in them anyway. Falls back
 * to plain /tmp. Returns whether the tmpfs is in use.
 */
ST_UNUSED static bool st_use_tmpfs(void)
{
	if (getenv("STORE_TEST_TMP"))
		return false;
	if (st_tmpfs_dir[0]) {
		snprintf(st_tmp_base, sizeof(st_tmp_base), "%s", st_tmpfs_dir);
		return true;
	}
	if (unshare(CLONE_NEWNS) || mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL)) {
		fprintf(stderr, "no private tmpfs (%s): scratch stores in /tmp\n", strerror(errno));
		return false;
	}
	snprintf(st_tmpfs_dir, sizeof(st_tmpfs_dir), "/tmp/imastore-tmpfs-XXXXXX");
	if (!mkdtemp(st_tmpfs_dir) ||
	    mount("tmpfs", st_tmpfs_dir, "tmpfs", MS_NOSUID | MS_NODEV, "size=1g,mode=0700")) {
		fprintf(stderr, "no private tmpfs (%s): scratch stores in /tmp\n", strerror(errno));
		if (st_tmpfs_dir[0])
			rmdir(st_tmpfs_dir);
		st_tmpfs_dir[0] = 0;
		return false;
	}
	st_seed_pid = (uint64_t)getpid();
	atexit(st_tmpfs_cleanup);
	snprintf(st_tmp_base, sizeof(st_tmp_base), "%s", st_tmpfs_dir);
	return true;
}

/* Back to /tmp (the file system the store really runs on). */
ST_UNUSED static void st_use_tmp(void)
{
	st_tmp_base[0] = 0;
}

ST_UNUSED static int st_rm_rf_at(int dfd, const char *name)
{
	struct stat sb;

	if (fstatat(dfd, name, &sb, AT_SYMLINK_NOFOLLOW))
		return errno == ENOENT ? 0 : -errno;
	if (S_ISDIR(sb.st_mode)) {
		int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		DIR *d;
		struct dirent *de;

		if (fd < 0)
			return -errno;
		d = fdopendir(fd);
		if (!d) {
			close(fd);
			return -errno;
		}
		while ((de = readdir(d)))
			if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
				st_rm_rf_at(dirfd(d), de->d_name);
		closedir(d);
		return unlinkat(dfd, name, AT_REMOVEDIR) ? -errno : 0;
	}
	return unlinkat(dfd, name, 0) ? -errno : 0;
}

ST_UNUSED static void st_rm_rf(const char *path)
{
	st_rm_rf_at(AT_FDCWD, path);
}

ST_UNUSED static size_t st_read_file(const char *path, uint8_t **out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat sb;
	size_t n = 0;

	*out = NULL;
	if (fd < 0 || fstat(fd, &sb)) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	*out = malloc((size_t)sb.st_size + 1);
	while (n < (size_t)sb.st_size) {
		ssize_t r = pread(fd, *out + n, (size_t)sb.st_size - n, (off_t)n);

		if (r <= 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	return n;
}

/* ---- the store ---- */

ST_UNUSED static void st_meta(struct chain_meta *m)
{
	memset(m, 0, sizeof(*m));
	snprintf(m->chain, sizeof(m->chain), "%s", ST_CHAIN);
	m->bank = st_bank();
	m->little_endian = true;
	m->nbanks = 2;
	m->banks[0] = st_bank();
	m->banks[1] = hash_alg_by_name("sha1");
	m->nboots = 1;
	snprintf(m->boots[0].id, sizeof(m->boots[0].id), "%s", ST_CHAIN);
	m->boots[0].first_index = 0;
	m->created = 1700000000;
}

/* Open `dir` as writer (creating store and chain if create). */
ST_UNUSED static int st_open_writer(const char *dir, uint64_t seg_size, bool create,
			  struct store **s, struct chain **c, struct errmsg *em)
{
	int err;

	*s = NULL;
	*c = NULL;
	err = store_open(s, dir, STORE_WRITE | (create ? STORE_CREATE : 0), em);
	if (err)
		return err;
	if (seg_size)
		store_set_segment_size(*s, seg_size);
	if (create) {
		struct chain_meta m;

		st_meta(&m);
		err = store_chain_create(*s, &m, c, em);
	} else {
		err = store_chain_open(*s, ST_CHAIN, c, em);
	}
	if (err) {
		store_close(*s);
		*s = NULL;
	}
	return err;
}

ST_UNUSED static void st_close(struct store *s, struct chain *c)
{
	if (c)
		chain_close(c);
	if (s)
		store_close(s);
}

/* Append records [from, to) (chain_count() must be `from`). */
ST_UNUSED static int st_append_range(struct chain *c, uint64_t from, uint64_t to,
			   struct errmsg *em)
{
	struct ima_record rec;
	int err;

	if (chain_count(c) != from)
		return errmsg_set(em, -EPROTO, "chain_count %" PRIu64 ", expected %" PRIu64,
				  chain_count(c), from);
	for (uint64_t i = from; i < to; i++) {
		err = st_parse(i, &rec, em);
		if (!err)
			err = chain_append(c, &rec, em);
		if (err)
			return err;
	}
	return 0;
}

__attribute__((format(printf, 3, 4)))
ST_UNUSED static int st_why(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
	return -1;
}

/* Set: st_check_chain() compares bytes only (a replay already checked them). */
static bool st_skip_replay;

/*
 * Read the whole chain of `c` from 0 and check it: records 0..n-1, each
 * byte-identical to st_rec(i), indexes continuous, n == chain_durable(c),
 * min <= n <= max, then the replay of what was read equals the replay of
 * the originals' first n. Also reads from one random index (index look-up).
 */
ST_UNUSED static int st_check_chain(struct chain *c, uint64_t min, uint64_t max,
			  uint64_t *got, char *why, size_t whylen)
{
	struct errmsg em = { "" };
	struct chain_iter *it = NULL;
	struct ima_record rec;
	struct replay *rp = NULL;
	uint64_t n = 0, durable = chain_durable(c);
	uint8_t h1[32], h2[32];
	int r, ret = -1;

	if (chain_count(c) != durable)
		return st_why(why, whylen, "fresh chain: count %" PRIu64 " != durable %" PRIu64,
			      chain_count(c), durable);
	if (st_replay_new(&rp, &em))
		return st_why(why, whylen, "replay_new: %s", em.text);
	r = chain_iter_open(c, 0, &it, &em);
	if (r) {
		st_why(why, whylen, "chain_iter_open(0): %d %s", r, em.text);
		goto out;
	}
	while ((r = chain_iter_next(it, &rec, &em)) == 1) {
		const uint8_t *raw;
		size_t len;

		if (n >= durable) {
			st_why(why, whylen, "reader returned record %" PRIu64
			       " beyond the durable end %" PRIu64, n, durable);
			goto out;
		}
		st_rec(n, &raw, &len);
		if (rec.raw_len != len || memcmp(rec.raw, raw, len)) {
			st_why(why, whylen, "record %" PRIu64 " differs (len %zu, expected %zu)%s",
			       n, rec.raw_len, len,
			       rec.raw_len > 40 && !memcmp(rec.raw, raw, 4) ? "" : " (header)");
			goto out;
		}
		if (rec.index != n) {
			st_why(why, whylen, "record %" PRIu64 " has index %" PRIu64, n, rec.index);
			goto out;
		}
		r = st_skip_replay ? 0 :
		    replay_extend(rp, &rec, st_bank(), REPLAY_CHECK_DIGEST, &em);
		if (r) {
			st_why(why, whylen, "replay of record %" PRIu64 ": %s", n, em.text);
			goto out;
		}
		n++;
	}
	if (r < 0) {
		st_why(why, whylen, "chain_iter_next after %" PRIu64 " records: %d %s", n, r, em.text);
		goto out;
	}
	if (n != durable) {
		st_why(why, whylen, "read %" PRIu64 " records, chain_durable %" PRIu64, n, durable);
		goto out;
	}
	if (n < min || n > max) {
		st_why(why, whylen, "%" PRIu64 " records durable, expected %" PRIu64 "..%" PRIu64
		       " (acknowledged..appended)", n, min, max);
		goto out;
	}
	if (!st_skip_replay)
		st_state_hash(replay_state(rp), h1);
	if (!st_skip_replay)
		st_expected_hash(n, h2);
	if (!st_skip_replay && memcmp(h1, h2, 32)) {
		st_why(why, whylen, "replay of %" PRIu64 " recovered records differs from the originals'", n);
		goto out;
	}
	chain_iter_free(it);
	it = NULL;
	if (n) {
		uint64_t from = st_range(0, n - 1);
		const uint8_t *raw;
		size_t len;

		r = chain_iter_open(c, from, &it, &em);
		if (r) {
			st_why(why, whylen, "chain_iter_open(%" PRIu64 "): %d %s", from, r, em.text);
			goto out;
		}
		r = chain_iter_next(it, &rec, &em);
		st_rec(from, &raw, &len);
		if (r != 1 || rec.index != from || rec.raw_len != len || memcmp(rec.raw, raw, len)) {
			st_why(why, whylen, "reading from %" PRIu64 ": %d index %" PRIu64 " %s", from, r,
			       r == 1 ? rec.index : 0, r < 0 ? em.text : "wrong record");
			goto out;
		}
	}
	*got = n;
	ret = 0;
out:
	chain_iter_free(it);
	replay_free(rp);
	return ret;
}

/* Open `dir` (flags: 0 reader, STORE_WRITE writer) and st_check_chain(). */
ST_UNUSED static int st_check(const char *dir, unsigned flags, uint64_t min, uint64_t max,
		    uint64_t *got, char *why, size_t whylen)
{
	struct errmsg em = { "" };
	struct store *s;
	struct chain *c;
	int r;

	r = store_open(&s, dir, flags, &em);
	if (r)
		return st_why(why, whylen, "store_open(%s): %d %s", flags ? "writer" : "reader",
			      r, em.text);
	r = store_chain_open(s, ST_CHAIN, &c, &em);
	if (r) {
		store_close(s);
		return st_why(why, whylen, "store_chain_open(%s): %d %s",
			      flags ? "writer" : "reader", r, em.text);
	}
	r = st_check_chain(c, min, max, got, why, whylen);
	if (r) {
		size_t l = strlen(why);

		snprintf(why + l, whylen - l, " [%s]", flags ? "writer" : "reader");
	}
	chain_close(c);
	store_close(s);
	return r;
}

static int st_cmp_name(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* Segment files of the chain, sorted (names only). */
ST_UNUSED static int st_segments(const char *dir, char names[][64], int max)
{
	char p[PATH_MAX];
	DIR *d;
	struct dirent *de;
	int n = 0;

	snprintf(p, sizeof(p), "%s/chains/%s", dir, ST_CHAIN);
	d = opendir(p);
	if (!d)
		return 0;
	while ((de = readdir(d)))
		if (!strncmp(de->d_name, "seg-", 4) && strlen(de->d_name) == 24 &&
		    !strcmp(de->d_name + 20, ".log") && n < max)
			snprintf(names[n++], 64, "%s", de->d_name);
	closedir(d);
	qsort(names, (size_t)n, 64, st_cmp_name);
	return n;
}

ST_UNUSED static void st_seg_path(char *out, size_t len, const char *dir, const char *seg)
{
	st_fmt(out, len, "%s/chains/%s/%s", dir, ST_CHAIN, seg);
}

/* A torn tail as a power cut leaves it: half of the next group's frames. */
ST_UNUSED static void st_write_torn_tail(const char *dir)
{
	char names[64][64], p[PATH_MAX];
	int n = st_segments(dir, names, 64), fd;
	struct stat sb;
	uint8_t junk[300];

	if (!n)
		return;
	st_seg_path(p, sizeof(p), dir, names[n - 1]);
	fd = open(p, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &sb))
		abort();
	/* a valid-looking record frame header, cut short */
	memset(junk, 0x5a, sizeof(junk));
	memcpy(junk, "IMAR", 4);
	put_le32(junk + FRAME_OFF_LEN, 1000);
	if (pwrite(fd, junk, sizeof(junk), sb.st_size) != (ssize_t)sizeof(junk))
		abort();
	close(fd);
}

/* ---- an independent reading of a segment file (docs/store-format.md §5) ---- */

struct st_seg {
	uint8_t *buf;
	size_t size;
	bool header_ok;
	uint64_t first;		/* IMAS index */
	size_t hdr_end;		/* end of the IMAS frame */
	size_t ncommits;
	size_t commit_end[4096];	/* ends of the good commits, in order */
	size_t group_start[4096];
	uint64_t commit_next[4096];	/* IMAC index of each */
	size_t good_end;	/* durable end */
	uint64_t next;		/* records up to good_end */
};

ST_UNUSED static void st_seg_free(struct st_seg *sg)
{
	free(sg->buf);
	sg->buf = NULL;
}

ST_UNUSED static int st_seg_parse(const char *path, struct st_seg *sg)
{
	size_t pos, gs;
	uint64_t next;
	uint32_t gcrc = 0;	/* over the CRC fields of the group's IMAR frames */
	struct frame f;
	long n;

	memset(sg, 0, sizeof(*sg));
	sg->size = st_read_file(path, &sg->buf);
	if (!sg->buf)
		return -ENOENT;
	n = frame_check(sg->buf, sg->size, &f);
	if (n <= 0 || f.magic != FRAME_SEGMENT || f.len != SEGMENT_PAYLOAD)
		return 0;
	sg->header_ok = true;
	sg->first = f.index;
	sg->hdr_end = sg->good_end = (size_t)n;
	pos = gs = (size_t)n;
	next = sg->next = f.index;
	while (pos < sg->size && sg->ncommits < 4096) {
		n = frame_check(sg->buf + pos, sg->size - pos, &f);
		if (n <= 0)
			break;
		if (f.magic == FRAME_RECORD) {
			if (f.index != next)
				break;
			next++;
			gcrc = frame_crc(gcrc, sg->buf + pos + FRAME_OFF_CRC, 4);
		} else if (f.magic == FRAME_COMMIT) {
			if (f.len != COMMIT_PAYLOAD || f.index != next ||
			    get_le64(f.payload + 8) != gs || get_le32(f.payload + 16) != gcrc)
				break;
			gcrc = 0;
			sg->group_start[sg->ncommits] = gs;
			sg->commit_end[sg->ncommits] = pos + (size_t)n;
			sg->commit_next[sg->ncommits] = next;
			sg->ncommits++;
			gs = sg->good_end = pos + (size_t)n;
			sg->next = next;
		} else {
			break;
		}
		pos += (size_t)n;
	}
	return 0;
}


/* What a writer was told, at the moment of a crash or power cut. */
struct st_acks {
	uint64_t created;	/* chain_create returned 0 */
	uint64_t pending;	/* records [0, pending) may be on disk */
	uint64_t acked;		/* records [0, acked) acknowledged durable */
	uint64_t ckpt_acked;	/* checkpoint at index ckpt_acked-1 acknowledged */
	uint64_t trim_acked;	/* first_kept * 4 + state of the last acked trim */
	uint64_t boot_acked;	/* chain_add_boot(ST_BOOT2) returned 0 */
};

/* ---- checks after a crash or a power cut ---- */

/*
 * The store in `dir` after the child died: read it (reader, then writer
 * recovery, then reader again), check records, checkpoint, trims, boots,
 * then append and commit more as the next writer would. *n: records.
 */
ST_UNUSED static int st_check_recovered(const char *dir, const struct st_acks *ak,
			      uint64_t prev, uint64_t seg_size, uint64_t *n,
			      bool append_more, char *why, size_t wl)
{
	struct errmsg em = { "" };
	struct store *s;
	struct chain *c;
	uint64_t min = ak->acked > prev ? ak->acked : prev;
	uint64_t max = ak->pending > min ? ak->pending : min;
	uint64_t got = 0, got2;
	int err;

	if (!ak->created) {
		/* killed while creating: absent, or there and usable */
		err = store_open(&s, dir, STORE_WRITE | STORE_CREATE, &em);
		if (err)
			return st_why(why, wl, "store_open after a kill in creation: %d %s",
				      err, em.text);
		err = store_chain_open(s, ST_CHAIN, &c, &em);
		if (err == -ENOENT) {
			struct chain_meta m;

			st_meta(&m);
			err = store_chain_create(s, &m, &c, &em);
			if (err) {
				store_close(s);
				return st_why(why, wl, "chain absent after a kill in creation, "
					      "but creating it again fails: %d %s", err, em.text);
			}
		} else if (err) {
			store_close(s);
			return st_why(why, wl, "chain after a kill in creation: neither absent "
				      "nor usable: %d %s", err, em.text);
		}
		st_close(s, c);
	}
	if (st_check(dir, 0, min, max, &got, why, wl))
		return -1;
	/* the writer's recovery: same records, torn tail cut */
	st_skip_replay = true;
	err = st_check(dir, STORE_WRITE, got, got, &got2, why, wl);
	st_skip_replay = false;
	if (err)
		return -1;
	{
		char names[256][64], p[PATH_MAX];
		int ns = st_segments(dir, names, 256);
		static struct st_seg sg;

		if (ns) {
			st_seg_path(p, sizeof(p), dir, names[ns - 1]);
			st_seg_parse(p, &sg);
			if (!sg.header_ok || sg.size != sg.good_end) {
				st_why(why, wl, "after writer recovery %s is %zu bytes, its durable "
				       "end is %zu (header %s)", names[ns - 1], sg.size, sg.good_end,
				       sg.header_ok ? "ok" : "bad");
				st_seg_free(&sg);
				return -1;
			}
			st_seg_free(&sg);
		}
	}
	st_skip_replay = true;
	err = st_check(dir, 0, got, got, &got2, why, wl);
	st_skip_replay = false;
	if (err)
		return -1;

	err = st_open_writer(dir, seg_size, false, &s, &c, &em);
	if (err)
		return st_why(why, wl, "writer open after recovery: %d %s", err, em.text);
	/* checkpoint: the acknowledged one or a later one, correct either way */
	{
		struct replay_state found, want;

		err = chain_checkpoint_find(c, UINT64_MAX, &found, &em);
		if (err && !(err == -ENOENT && !ak->ckpt_acked)) {
			st_why(why, wl, "checkpoint_find: %d %s (acked at %" PRIu64 ")", err,
			       em.text, ak->ckpt_acked - 1);
			goto fail;
		}
		if (!err) {
			if (found.next_index > got ||
			    (ak->ckpt_acked && found.next_index < ak->ckpt_acked - 1)) {
				st_why(why, wl, "checkpoint at %" PRIu64 ", acked %" PRIu64
				       ", durable %" PRIu64, found.next_index,
				       ak->ckpt_acked - 1, got);
				goto fail;
			}
			if (st_replay_to(found.next_index, &want, &em) ||
			    !st_state_equal(&want, &found)) {
				st_why(why, wl, "checkpoint at %" PRIu64 " does not match the replay",
				       found.next_index);
				goto fail;
			}
		}
	}
	/* trims: the acknowledged entry or a later one */
	{
		uint64_t fk;
		enum trim_state ts;

		err = chain_trim_last(c, ST_CHAIN, &fk, &ts, &em);
		if (err && !(err == -ENOENT && !ak->trim_acked)) {
			st_why(why, wl, "trim_last: %d %s", err, em.text);
			goto fail;
		}
		if (!err && fk * 4 + ts < ak->trim_acked) {
			st_why(why, wl, "trim_last: %" PRIu64 "/%d, acked %" PRIu64 "/%" PRIu64,
			       fk, ts, ak->trim_acked / 4, ak->trim_acked % 4);
			goto fail;
		}
	}
	{
		const struct chain_meta *m = chain_meta(c);
		bool listed = m->nboots == 2 && !strcmp(m->boots[1].id, ST_BOOT2);

		if (ak->boot_acked && !listed) {
			st_why(why, wl, "chain_add_boot acknowledged, meta has %u boots", m->nboots);
			goto fail;
		}
		if (listed) {
			/*
			 * The boot is in meta: after adding it again, as a restarted
			 * daemon would, the boot must lead to this chain (boots/ link).
			 */
			struct chain *c2;

			err = chain_add_boot(c, ST_BOOT2, m->boots[1].first_index, &em);
			if (!err)
				err = store_chain_open(s, ST_BOOT2, &c2, &em);
			if (err) {
				st_why(why, wl, "boot %s is in meta (acknowledged: %s) but opening the "
				       "chain by it fails: %d %s", ST_BOOT2, ak->boot_acked ? "yes" :
				       "no", err, em.text);
				goto fail;
			}
			chain_close(c2);
		}
	}
	if (append_more) {
		err = st_append_range(c, got, got + 25, &em);
		if (!err)
			err = chain_commit(c, &em);
		if (err || chain_durable(c) != got + 25) {
			st_why(why, wl, "appending after recovery: %d %s", err, em.text);
			goto fail;
		}
		got += 25;
	}
	st_close(s, c);
	if (append_more) {
		st_skip_replay = true;
		err = st_check(dir, 0, got, got, &got2, why, wl);
		st_skip_replay = false;
		if (err)
			return -1;
	}
	*n = got;
	return 0;
fail:
	st_close(s, c);
	return -1;
}

/* ---- store_io tables ---- */

ST_UNUSED static int st_nosync(int fd)
{
	(void)fd;
	return 0;
}

/*
 * Passthrough without fsyncs: a SIGKILL cannot lose the page cache, so the
 * kill tests need no real fsync (they cost a millisecond each on ext4).
 */
static struct store_io st_io_nosync_tab;

ST_UNUSED static const struct store_io *st_io_fast(void)
{
	st_io_nosync_tab = store_io_default;
	st_io_nosync_tab.fdatasync = st_nosync;
	st_io_nosync_tab.fsync = st_nosync;
	return &st_io_nosync_tab;
}

#endif
