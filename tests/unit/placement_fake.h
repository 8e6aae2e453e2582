/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Placement under test: a FAKE KERNEL with an ORACLE, shared by
 * test_placement_prop.c (random steps from a seed) and
 * test_placement_regress.c (five scripted bugs).
 *
 * The fake kernel keeps the TRUTH: every record each boot appended, per
 * chain (a reboot starts a chain, a kexec continues it), in order, with
 * PCR 10 after each one. It serves a fake securityfs (a directory with
 * binary_runtime_measurements_sha256, runtime_measurements_count and, when
 * the boot has CONFIG_IMA_STAGING, the _staged file) and the kernel_ops
 * seam of user/daemon/kernel.h (N, A/D, PCR read). Its state lives in one
 * MAP_SHARED mapping so that a forked daemon killed at a failpoint leaves
 * what it did visible to the parent, like a real kernel would.
 *
 * The oracle never asks the daemon where a record belongs: it reads the
 * store (read-only, through the library's reader) and compares it with
 * the truth computed here. Contract points are the pf_check_* / oracle_*
 * functions; the status and meta keys they read are the #defines below.
 *
 * Before including this file, include the daemon (its .c files today, its
 * headers once it is a library): drain.h, bootchain.h, kernel.h, log.h.
 */
#ifndef IMASTORE_PLACEMENT_FAKE_H
#define IMASTORE_PLACEMENT_FAKE_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <valgrind/valgrind.h>

#include "test_util.h"

#include "full_list.h"
#include "placement.h"
#include "hash_alg.h"
#include "ima_record.h"
#include "store.h"

/* ---- the contract's names (the lead may rename them: change them here) ---- */

/* status file (store_status_read), one key=value a line */
#define PF_STATUS_FOREIGN_YES "foreign_trimmer=yes"	/* a foreign deletion was seen */
#define PF_STATUS_AMBIGUOUS "placement=ambiguous"	/* prefix: placement could not decide */
#define PF_STATUS_LOST "lost="				/* ranges lost (not checked yet) */
/* chain meta */
#define PF_META_ORIGIN "origin="
#define PF_ORIGIN_FRESH "fresh"
#define PF_ORIGIN_KEXEC "kexec"
#define PF_ORIGIN_UNLINKED "unlinked"	/* not placed in a chain: a run at an unknown offset */
#define PF_ORIGIN_HEADLESS "headless"	/* records before it were lost: unknown offset too */

/* failpoints of docs/trimming.md §7 */
static const char *const pf_failpoints[] = {
	"after-read", "after-append", "commit-after-write", "commit-after-fsync",
	"after-intended", "after-trim-write", "after-done",
};
#define PF_NFAILPOINTS (sizeof(pf_failpoints) / sizeof(pf_failpoints[0]))

#define PF_UNUSED __attribute__((unused))

#if defined(__SANITIZE_ADDRESS__)
#define PF_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PF_ASAN 1
#endif
#endif
#ifndef PF_ASAN
#define PF_ASAN 0
#endif

/* ---- sizes (per epoch: an epoch is one machine, its store and truth) ---- */
#define PF_MAX_RECS (1u << 19)
#define PF_ARENA (96u << 20)
#define PF_MAX_CHAINS 48
#define PF_MAX_BOOTS 240
#define PF_MAX_LIST 16384		/* current list + staged batch */
#define PF_EPOCH_RECS 150000u		/* start a new machine beyond this */
#define PF_CHAIN_RECS 40000u		/* ... or a chain this long */
#define PF_LIST_LONG 5000u		/* ... or a kernel list this long */
#define PF_NVIOL 8
#define PF_MAX_OFFS 32
#define PF_SEGMENT (256u << 10)		/* the daemon's store segments (rolls often) */

#define PF_PCR 10
#define PF_DSZ 32			/* sha256 */

enum pf_kind { PK_BA, PK_FILE, PK_VIOL };
enum pf_ht { HT_ON, HT_FLUSH, HT_OFF };	/* duplicate table: default, ima_flush_htable, disabled */
static const char *const pf_ht_name[] = { "on", "flush", "off" };

struct pf_rec {
	uint64_t off;			/* bytes in the arena */
	uint32_t len;
	uint32_t chain;			/* truth chain */
	uint64_t idx;			/* index in it */
	uint32_t boot;			/* the boot that appended it */
	uint8_t kind;
	uint8_t digest[PF_DSZ];		/* template digest, zeros for a violation */
	uint8_t pcr[PF_DSZ];		/* PCR 10 after it */
};

struct pf_chain {
	char id[STORE_ID_MAX];		/* the boot id of its TPM reset */
	uint32_t first_boot;
	uint32_t g0;			/* its records are rec[g0 .. g0+n) */
	uint64_t n;
	uint32_t ba;			/* its boot_aggregate record */
	bool lost_any;			/* a record was deleted unstored */
	bool foreign_activity;		/* someone else did N, A or D */
};

struct pf_bootcfg {
	bool tpm;
	enum pf_ht ht;
	bool staged_files;		/* CONFIG_IMA_STAGING */
	bool flavor_ad;			/* imastored --flavor AD */
	unsigned lag_pct;		/* PCR read one record behind, percent */
	uint64_t keep, trim_records;	/* the daemon's policy */
};

struct pf_boot {
	char id[STORE_ID_MAX];
	uint32_t chain;
	bool kexec;
	uint64_t first_index;		/* truth index of its list's first record */
	struct pf_bootcfg cfg;
	bool daemon_ran;		/* a daemon placed this boot */
	bool head_changed_early;	/* deleted from before any daemon ran */
};

/* Everything a forked daemon may change, or must report, is in here. */
struct pf_shared {
	uint32_t nrecs, nchains, nboots, cur_boot;
	uint64_t arena_used;
	uint32_t ncur, nstg;
	uint32_t cur[PF_MAX_LIST], stg[PF_MAX_LIST];
	bool suspended;			/* kexec under way */
	bool suspend_after_a;		/* ... from the next A on */
	uint64_t own_deleted;		/* records deleted by imastored */
	uint64_t own_n, own_d;		/* its N and D commands that deleted */
	uint64_t noise;			/* the kernel's randomness (PCR lag) */
	int64_t clock;			/* seconds added to time() */
	int child_ret;
	char child_err[512];
	unsigned nviol;
	char viol_prop[PF_NVIOL][32];
	char viol[PF_NVIOL][1536];
	struct pf_chain chain[PF_MAX_CHAINS];
	struct pf_boot boot[PF_MAX_BOOTS];
	struct pf_rec rec[PF_MAX_RECS];
	uint8_t arena[PF_ARENA];
};

static struct pf_shared *K;

/* The oracle's view of one store chain. */
struct pf_ostate {
	char id[STORE_ID_MAX];
	bool pending;			/* a directory without a readable meta yet */
	bool ok;			/* opened at least once */
	bool bad;			/* already failed: not checked again */
	int tc;				/* truth chain, -1 unknown */
	bool linked;			/* origin is not unlinked/headless */
	char origin[32];
	uint64_t verified, durable;
	unsigned nboots_checked;
	uint64_t offs[PF_MAX_OFFS];	/* unlinked: truth offsets still consistent */
	unsigned noffs;
	bool offs_init, offs_overflow;
};

struct pf_rig {
	bool open;
	struct store *s;
	struct chain *c;
	char boot[STORE_ID_MAX];
	struct drain d;
	struct drain_policy pol;
};

#define PF_LOG 20
#define PF_NPROPS 24

static struct {
	char base[128], sfs[160], listp[256], countp[256], stagedp[300], bootf[200];
	char store[200];
	unsigned epoch;
	uint64_t seed, rng;
	const char *mode;
	uint64_t step, epoch_step, steps;
	char desc[512];			/* the step being run */
	char log[PF_LOG][512];
	uint64_t log_step[PF_LOG];
	unsigned nlog;
	struct hash_ctx *h;
	struct store *ro;		/* read-only view of the store */
	struct timespec chains_mtime;
	struct pf_ostate os[PF_MAX_CHAINS * 2];
	unsigned nos;
	struct pf_rig rig;
	/* the duplicate table (HT_ON) of the running kernel: digest prefixes */
	uint64_t *ht;
	size_t ht_cap, ht_n;
	/* files: versions of the re-measured paths */
	unsigned ver[8], pver[3], uniq, fw;
	/* a foreign deletion the next completed cycle must report */
	bool pending_report;
	bool pending_lost;		/* ... of records not stored */
	char pending_what[256];
	bool allow_invisible;		/* IMASTORE_PROP_INVISIBLE=1 */
	bool keep_going;		/* IMASTORE_PROP_KEEP_GOING=1 */
	char relax[512];		/* IMASTORE_PROP_RELAX=prop,prop */
	/* failures */
	bool step_failed;
	char fails[4][2048];
	char fail_prop[4][32];
	unsigned nfails;
	const char *prop_name[PF_NPROPS];
	uint64_t prop_count[PF_NPROPS];
	uint64_t prop_first_step[PF_NPROPS];
	unsigned nprops;
	uint64_t total_failures, relaxed_failures;
	bool quiet_repeats;		/* keep-going: print each property once */
	/* counters */
	uint64_t cycles, kills, killed, foreign_n, foreign_a, foreign_d, kexecs, reboots,
		 measured, suppressed, invisible_skipped, reports_dropped, epochs,
		 completed_cycles, cycle_errors;
} G;

/* ---- small helpers ---- */

__attribute__((format(printf, 3, 4)))
PF_UNUSED static void pf_fmt(char *out, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out, len, fmt, ap);
	va_end(ap);
}

__attribute__((format(printf, 1, 2)))
PF_UNUSED static void pf_note(const char *fmt, ...)
{
	size_t n = strlen(G.desc);
	va_list ap;

	if (n >= sizeof(G.desc) - 2)
		return;
	va_start(ap, fmt);
	vsnprintf(G.desc + n, sizeof(G.desc) - n, fmt, ap);
	va_end(ap);
}

PF_UNUSED static uint64_t pf_mix(uint64_t x)	/* splitmix64 */
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

PF_UNUSED static uint64_t pf_rand(void)
{
	G.rng = pf_mix(G.rng);
	return G.rng;
}

/* uniform in [0, n) */
PF_UNUSED static uint64_t pf_below(uint64_t n)
{
	return n ? pf_rand() % n : 0;
}

/* roughly log-uniform in [lo, hi]: a random bit width, then uniform below it */
PF_UNUSED static uint64_t pf_logrange(uint64_t lo, uint64_t hi)
{
	uint64_t span, top;
	unsigned bits;

	if (hi <= lo)
		return lo;
	span = hi - lo + 1;
	bits = 64 - (unsigned)__builtin_clzll(span);
	top = 1ull << pf_below(bits + 1);
	return lo + pf_below(top < span ? top : span);
}

PF_UNUSED static bool pf_chance(unsigned pct)
{
	return pf_below(100) < pct;
}

PF_UNUSED static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);	/* host order, like the kernel's list */
}

PF_UNUSED static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

/*
 * time() for the whole test binary (the store's `created`, which orders
 * chains newest first, has a resolution of one second; fake boots come
 * faster than that): the real clock plus K->clock, which every step and
 * every boot advance.
 */
time_t time(time_t *t)
{
	struct timespec ts;
	time_t v;

	clock_gettime(CLOCK_REALTIME, &ts);
	v = ts.tv_sec + (K ? (time_t)K->clock : 0);
	if (t)
		*t = v;
	return v;
}

PF_UNUSED static struct pf_chain *pf_tchain(void)
{
	return &K->chain[K->boot[K->cur_boot].chain];
}

PF_UNUSED static struct pf_boot *pf_tboot(void)
{
	return &K->boot[K->cur_boot];
}

/*
 * The name the store can give truth chain c: the boot id of its TPM reset
 * (store-format.md §2), unless no daemon ran in that boot: then the first
 * boot of the chain whose daemon ran (it cannot know of the earlier ones).
 */
PF_UNUSED static const char *pf_chain_name(uint32_t c)
{
	for (uint32_t b = K->chain[c].first_boot; b < K->nboots; b++)
		if (K->boot[b].chain == c && K->boot[b].daemon_ran)
			return K->boot[b].id;
	return K->chain[c].id;
}

PF_UNUSED static const uint8_t *pf_bytes(uint32_t id)
{
	return K->arena + K->rec[id].off;
}

/* global id of truth chain c's record i */
PF_UNUSED static uint32_t pf_gid(uint32_t c, uint64_t i)
{
	return K->chain[c].g0 + (uint32_t)i;
}

PF_UNUSED static bool pf_same(uint32_t a, uint32_t b)
{
	return K->rec[a].len == K->rec[b].len &&
	       !memcmp(pf_bytes(a), pf_bytes(b), K->rec[a].len);
}

PF_UNUSED static bool pf_same_raw(uint32_t id, const uint8_t *raw, size_t len)
{
	return K->rec[id].len == len && !memcmp(pf_bytes(id), raw, len);
}

/* What a record is, for humans: "VIOLATION /var/log/v1" or "/usr/bin/tool-3 d-ng 1a2b3c4d". */
PF_UNUSED static void pf_desc_raw(const uint8_t *raw, size_t len, char *out, size_t olen)
{
	bool viol = true;
	uint32_t plen;

	if (len < 98) {
		pf_fmt(out, olen, "(%zu bytes?)", len);
		return;
	}
	for (unsigned i = 0; i < PF_DSZ; i++)
		viol &= !raw[4 + i];
	plen = get32(raw + 94);
	if (plen > len - 98)
		plen = (uint32_t)(len - 98);
	pf_fmt(out, olen, "%s%.*s d-ng %02x%02x%02x%02x", viol ? "VIOLATION " : "",
	       (int)(plen ? plen - 1 : 0), (const char *)raw + 98, raw[62], raw[63], raw[64], raw[65]);
}

PF_UNUSED static void pf_desc(uint32_t id, char *out, size_t olen)
{
	pf_desc_raw(pf_bytes(id), K->rec[id].len, out, olen);
}

/* Truth indexes of chain c whose bytes equal raw: "T[5], T[9]" (a few). */
PF_UNUSED static void pf_where_in_truth(uint32_t c, const uint8_t *raw, size_t len, char *out, size_t olen)
{
	size_t pos = 0;
	unsigned found = 0;

	out[0] = '\0';
	for (uint64_t i = 0; i < K->chain[c].n && found < 4; i++)
		if (pf_same_raw(pf_gid(c, i), raw, len)) {
			pos += (size_t)snprintf(out + pos, olen - pos, "%s%" PRIu64, found ? ", " : "", i);
			found++;
			if (pos >= olen)
				break;
		}
	if (!found)
		pf_fmt(out, olen, "nowhere");
}

/* ---- failure reporting ---- */

PF_UNUSED static unsigned pf_prop_slot(const char *prop)
{
	for (unsigned i = 0; i < G.nprops; i++)
		if (!strcmp(G.prop_name[i], prop))
			return i;
	if (G.nprops == PF_NPROPS)
		return PF_NPROPS - 1;
	G.prop_name[G.nprops] = prop;
	G.prop_first_step[G.nprops] = G.step;
	return G.nprops++;
}

PF_UNUSED static bool pf_relaxed(const char *prop)
{
	const char *p = G.relax;
	size_t n = strlen(prop);

	while ((p = strstr(p, prop))) {
		if ((p == G.relax || p[-1] == ',') && (p[n] == ',' || !p[n]))
			return true;
		p += n;
	}
	return false;
}

/* A contract point does not hold (parent only). */
__attribute__((format(printf, 2, 3)))
PF_UNUSED static void pf_fail(const char *prop, const char *fmt, ...)
{
	unsigned slot = pf_prop_slot(prop);
	va_list ap;

	if (!G.prop_count[slot]++)
		G.prop_first_step[slot] = G.step;
	if (pf_relaxed(prop)) {
		G.relaxed_failures++;
		return;
	}
	G.total_failures++;
	G.step_failed = true;
	if (G.nfails == 4)
		return;
	pf_fmt(G.fail_prop[G.nfails], sizeof(G.fail_prop[0]), "%s", prop);
	va_start(ap, fmt);
	vsnprintf(G.fails[G.nfails], sizeof(G.fails[0]), fmt, ap);
	va_end(ap);
	G.nfails++;
}

/* The fake kernel saw a contract point broken (parent or forked daemon). */
__attribute__((format(printf, 2, 3)))
PF_UNUSED static void pf_kviolation(const char *prop, const char *fmt, ...)
{
	va_list ap;

	if (K->nviol == PF_NVIOL)
		return;
	pf_fmt(K->viol_prop[K->nviol], sizeof(K->viol_prop[0]), "%s", prop);
	va_start(ap, fmt);
	vsnprintf(K->viol[K->nviol], sizeof(K->viol[0]), fmt, ap);
	va_end(ap);
	K->nviol++;
}

PF_UNUSED static const char *pf_prop_const(const char *p)
{
	static const char *const known[] = {
		"deletion_durable", "deletion_covered", "store_truth", "chain_identity",
		"boots_index", "durable_grows", "unlinked_run", "unlinked_dup",
		"foreign_reported", "foreign_reported_stored", "no_false_foreign", "ambiguous_idle", "stored_current",
		"stored_staged", "export", "cycle_error", "setup", "store_read",
	};

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (!strcmp(known[i], p))
			return known[i];
	return "fake_kernel";
}

PF_UNUSED static void pf_collect_kviolations(void)
{
	for (unsigned i = 0; i < K->nviol; i++)
		pf_fail(pf_prop_const(K->viol_prop[i]), "fake kernel: %s", K->viol[i]);
	K->nviol = 0;
}

PF_UNUSED static void pf_list_summary(char *out, size_t len)
{
	struct pf_boot *b = pf_tboot();
	char cur[96] = "empty", stg[96] = "none";

	if (K->ncur)
		pf_fmt(cur, sizeof(cur), "%u records T[%" PRIu64 "..%" PRIu64 "]", K->ncur,
		       K->rec[K->cur[0]].idx, K->rec[K->cur[K->ncur - 1]].idx);
	if (K->nstg)
		pf_fmt(stg, sizeof(stg), "%u records T[%" PRIu64 "..%" PRIu64 "]", K->nstg,
		       K->rec[K->stg[0]].idx, K->rec[K->stg[K->nstg - 1]].idx);
	pf_fmt(out, len,
	       "boot %s (%s of chain %s, tpm=%s htable=%s staged_files=%s flavor=%s keep=%" PRIu64
	       " trim_records=%" PRIu64 "); truth chain has %" PRIu64 " records; kernel list: %s; staged: %s",
	       b->id, b->kexec ? "kexec" : "reboot", pf_tchain()->id, b->cfg.tpm ? "yes" : "no",
	       pf_ht_name[b->cfg.ht], b->cfg.staged_files ? "yes" : "no",
	       b->cfg.flavor_ad ? "AD" : "N", b->cfg.keep, b->cfg.trim_records, pf_tchain()->n,
	       cur, stg);
}

PF_UNUSED static void pf_log_step(void)
{
	unsigned at = G.nlog % PF_LOG;

	pf_fmt(G.log[at], sizeof(G.log[0]), "%s", G.desc);
	G.log_step[at] = G.step;
	G.nlog++;
}

PF_UNUSED static void pf_print_failure(void)
{
	char sum[1024];
	unsigned first = G.nlog > PF_LOG ? G.nlog - PF_LOG : 0;
	bool any_new = !G.quiet_repeats;

	for (unsigned i = 0; i < G.nfails; i++)
		if (G.prop_first_step[pf_prop_slot(G.fail_prop[i])] == G.step)
			any_new = true;
	if (!any_new)
		return;
	pf_list_summary(sum, sizeof(sum));
	if (G.steps)
		printf("\n==== placement property FAILED at step %" PRIu64 " (seed %" PRIu64 ", mode %s, epoch %u step %" PRIu64 ")\n",
		       G.step, G.seed, G.mode, G.epoch, G.epoch_step);
	else
		printf("\n==== %s: FAILED at step %" PRIu64 "\n", G.mode, G.step);
	for (unsigned i = 0; i < G.nfails; i++)
		printf("  [%s] %s\n", G.fail_prop[i], G.fails[i]);
	printf("  now: %s\n  last steps:\n", sum);
	for (unsigned i = first; i < G.nlog; i++)
		printf("    #%-7" PRIu64 " %s\n", G.log_step[i % PF_LOG], G.log[i % PF_LOG]);
	if (G.steps)	/* the property test (the regressions are scripts) */
		printf("  replay: IMASTORE_PROP_SEED=%" PRIu64 " IMASTORE_PROP_MODE=%s IMASTORE_PROP_STEPS=%" PRIu64
		       " build/tests/test_placement_prop\n", G.seed, G.mode, G.step + 1);
	fflush(stdout);
}

/* ---- the fake securityfs ---- */

PF_UNUSED static void pf_write_file(const char *path, const void *buf, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

	if (fd < 0 || write(fd, buf, len) != (ssize_t)len) {
		fprintf(stderr, "fake kernel: %s: %s\n", path, strerror(errno));
		abort();
	}
	close(fd);
}

PF_UNUSED static void pf_write_list(const char *path, const uint32_t *ids, uint32_t n)
{
	static uint8_t *buf;
	static size_t cap;
	size_t len = 0;

	for (uint32_t i = 0; i < n; i++)
		len += K->rec[ids[i]].len;
	if (len > cap) {
		cap = len * 2 + 4096;
		buf = realloc(buf, cap);
		if (!buf)
			abort();
	}
	len = 0;
	for (uint32_t i = 0; i < n; i++) {
		memcpy(buf + len, pf_bytes(ids[i]), K->rec[ids[i]].len);
		len += K->rec[ids[i]].len;
	}
	pf_write_file(path, buf, len, 0660);
}

/* The files show the kernel's state (after every change). */
PF_UNUSED static void pf_sync_files(void)
{
	char num[32];

	pf_write_list(G.listp, K->cur, K->ncur);
	pf_fmt(num, sizeof(num), "%u\n", K->ncur);
	pf_write_file(G.countp, num, strlen(num), 0440);
	if (pf_tboot()->cfg.staged_files)
		pf_write_list(G.stagedp, K->stg, K->nstg);
	else
		unlink(G.stagedp);
}

/* ---- records, the duplicate table, PCR 10 ---- */

PF_UNUSED static const struct hash_alg *pf_sha256(void)
{
	return hash_alg_by_name("sha256");
}

PF_UNUSED static void pf_hash(const void *data, size_t len, uint8_t out[PF_DSZ])
{
	if (hash_ctx_digest(G.h, data, len, out))
		abort();
}

/* One ima-ng record: d-ng sha256:<fdig>, n-ng path; a violation has zeros. */
PF_UNUSED static size_t pf_build(uint8_t *out, const char *path, const uint8_t fdig[PF_DSZ], bool viol,
		       uint8_t tdig[PF_DSZ])
{
	uint8_t data[400], *p = data;
	size_t plen = strlen(path) + 1, dlen;

	put32(p, 8 + PF_DSZ);
	memcpy(p + 4, "sha256:\0", 8);
	if (viol)
		memset(p + 12, 0, PF_DSZ);
	else
		memcpy(p + 12, fdig, PF_DSZ);
	p += 4 + 8 + PF_DSZ;
	put32(p, (uint32_t)plen);
	memcpy(p + 4, path, plen);
	p += 4 + plen;
	dlen = (size_t)(p - data);
	if (viol)
		memset(tdig, 0, PF_DSZ);
	else
		pf_hash(data, dlen, tdig);
	put32(out, PF_PCR);
	memcpy(out + 4, tdig, PF_DSZ);
	put32(out + 36, 6);
	memcpy(out + 40, "ima-ng", 6);
	put32(out + 46, (uint32_t)dlen);
	memcpy(out + 50, data, dlen);
	return 50 + dlen;
}

PF_UNUSED static uint64_t pf_key(const uint8_t d[PF_DSZ])
{
	uint64_t k;

	memcpy(&k, d, 8);
	return k | 1;	/* 0 marks an empty slot */
}

PF_UNUSED static void pf_ht_clear(void)
{
	if (!G.ht) {
		G.ht_cap = 1u << 17;
		G.ht = malloc(G.ht_cap * sizeof(*G.ht));
		if (!G.ht)
			abort();
	}
	memset(G.ht, 0, G.ht_cap * sizeof(*G.ht));
	G.ht_n = 0;
}

PF_UNUSED static bool pf_ht_has(uint64_t k)
{
	for (size_t i = k & (G.ht_cap - 1);; i = (i + 1) & (G.ht_cap - 1)) {
		if (!G.ht[i])
			return false;
		if (G.ht[i] == k)
			return true;
	}
}

PF_UNUSED static void pf_ht_add(uint64_t k)
{
	size_t i;

	if (pf_ht_has(k))
		return;
	if (G.ht_n * 2 > G.ht_cap) {
		/* grow */
		uint64_t *old = G.ht;
		size_t ocap = G.ht_cap;

		G.ht_cap *= 2;
		G.ht = calloc(G.ht_cap, sizeof(*G.ht));
		if (!G.ht)
			abort();
		G.ht_n = 0;
		for (size_t j = 0; j < ocap; j++)
			if (old[j])
				pf_ht_add(old[j]);
		free(old);
	}
	for (i = k & (G.ht_cap - 1); G.ht[i]; i = (i + 1) & (G.ht_cap - 1))
		;
	G.ht[i] = k;
	G.ht_n++;
}

/*
 * Would the kernel refuse this record as a duplicate (ima_add_template_entry
 * returns -EEXIST)? Violations are always appended. The default table holds
 * every digest this kernel appended or restored, deleted ones too; with
 * ima_flush_htable only the records still held (list and staged batch);
 * CONFIG_IMA_DISABLE_HTABLE has none.
 */
PF_UNUSED static bool pf_suppressed(const uint8_t tdig[PF_DSZ], bool viol)
{
	enum pf_ht ht = pf_tboot()->cfg.ht;

	if (viol || ht == HT_OFF)
		return false;
	if (ht == HT_ON)
		return pf_ht_has(pf_key(tdig));
	for (uint32_t i = 0; i < K->ncur; i++)
		if (!memcmp(K->rec[K->cur[i]].digest, tdig, PF_DSZ))
			return true;
	for (uint32_t i = 0; i < K->nstg; i++)
		if (!memcmp(K->rec[K->stg[i]].digest, tdig, PF_DSZ))
			return true;
	return false;
}

/* Append a record to the running kernel's list: truth, table, PCR 10. */
PF_UNUSED static uint32_t pf_append(const uint8_t *bytes, size_t len, const uint8_t tdig[PF_DSZ],
			  uint8_t kind)
{
	struct pf_chain *c = pf_tchain();
	uint32_t id = K->nrecs++;
	struct pf_rec *r = &K->rec[id];
	uint8_t ext[2 * PF_DSZ];
	bool viol = kind == PK_VIOL;

	if (id >= PF_MAX_RECS || K->arena_used + len > PF_ARENA || K->ncur >= PF_MAX_LIST - 1) {
		fprintf(stderr, "fake kernel: out of room (raise PF_MAX_RECS/PF_ARENA/PF_MAX_LIST)\n");
		abort();
	}
	r->off = K->arena_used;
	memcpy(K->arena + r->off, bytes, len);
	K->arena_used += len;
	r->len = (uint32_t)len;
	r->chain = K->boot[K->cur_boot].chain;
	r->idx = c->n++;
	r->boot = K->cur_boot;
	r->kind = kind;
	memcpy(r->digest, tdig, PF_DSZ);
	/* the kernel extends PCR 10 with the template digest, 0xFF.. for a violation */
	if (r->idx)
		memcpy(ext, K->rec[id - 1].pcr, PF_DSZ);
	else
		memset(ext, 0, PF_DSZ);
	if (viol)
		memset(ext + PF_DSZ, 0xff, PF_DSZ);
	else
		memcpy(ext + PF_DSZ, tdig, PF_DSZ);
	pf_hash(ext, sizeof(ext), r->pcr);
	K->cur[K->ncur++] = id;
	if (!viol && pf_tboot()->cfg.ht == HT_ON)
		pf_ht_add(pf_key(tdig));
	return id;
}

/* One measurement; false if the duplicate table suppressed it. */
PF_UNUSED static bool pf_measure_path(const char *path, const char *content, bool viol)
{
	uint8_t buf[512], fdig[PF_DSZ], tdig[PF_DSZ];
	size_t len;

	pf_hash(content, strlen(content), fdig);
	len = pf_build(buf, path, fdig, viol, tdig);
	if (pf_suppressed(tdig, viol)) {
		G.suppressed++;
		return false;
	}
	pf_append(buf, len, tdig, viol ? PK_VIOL : PK_FILE);
	G.measured++;
	return true;
}

PF_UNUSED static void pf_append_ba(uint32_t fw_or_copy, bool copy_of_chain_ba)
{
	uint8_t buf[512], fdig[PF_DSZ], tdig[PF_DSZ];
	char content[32];
	size_t len;
	uint32_t id;

	if (copy_of_chain_ba) {
		id = pf_tchain()->ba;
		memcpy(buf, pf_bytes(id), K->rec[id].len);
		pf_append(buf, K->rec[id].len, K->rec[id].digest, PK_BA);
		return;
	}
	pf_fmt(content, sizeof(content), "firmware-%u", fw_or_copy);
	pf_hash(content, strlen(content), fdig);
	len = pf_build(buf, "boot_aggregate", fdig, false, tdig);
	pf_tchain()->ba = pf_append(buf, len, tdig, PK_BA);
}

/* Scripted measurements (regression tests and the generator). */
PF_UNUSED static void pf_measure_unique(unsigned n)
{
	char path[64], content[64];

	for (unsigned i = 0; i < n; i++) {
		pf_fmt(path, sizeof(path), "/tmp/new-%u", G.uniq);
		pf_fmt(content, sizeof(content), "new-%u", G.uniq++);
		pf_measure_path(path, content, false);
	}
}

PF_UNUSED static void pf_measure_violations(unsigned which, unsigned n)
{
	char path[64];

	pf_fmt(path, sizeof(path), "/var/log/v%u", which);
	for (unsigned i = 0; i < n; i++)
		pf_measure_path(path, "", true);
}

/* One random measurement event: violations, re-measured paths, periodic, new files. */
PF_UNUSED static bool pf_measure_random(void)
{
	char path[64], content[64];
	unsigned r = (unsigned)pf_below(100), p;

	if (r < 8) {
		pf_fmt(path, sizeof(path), "/var/log/v%u", (unsigned)pf_below(4));
		return pf_measure_path(path, "", true);
	}
	if (r < 18) {
		p = (unsigned)pf_below(3);
		G.pver[p] = (G.pver[p] + 1) % 3;	/* a file that cycles through 3 contents */
		pf_fmt(path, sizeof(path), "/etc/periodic-%u", p);
		pf_fmt(content, sizeof(content), "periodic-%u-%u", p, G.pver[p]);
		return pf_measure_path(path, content, false);
	}
	if (r < 85) {
		p = (unsigned)pf_below(8);
		if (r < 30)
			G.ver[p]++;	/* changed: a new digest */
		pf_fmt(path, sizeof(path), "/usr/bin/tool-%u", p);
		pf_fmt(content, sizeof(content), "tool-%u-v%u", p, G.ver[p]);
		return pf_measure_path(path, content, false);
	}
	pf_fmt(path, sizeof(path), "/tmp/new-%u", G.uniq);
	pf_fmt(content, sizeof(content), "new-%u", G.uniq++);
	return pf_measure_path(path, content, false);
}

/* ---- the store, read-only: what the oracle and the fake kernel look at ---- */

PF_UNUSED static void pf_read_origin(const char *chain_id, char *out, size_t len)
{
	char path[512], buf[8192], *p;
	ssize_t n;
	int fd;

	out[0] = '\0';
	pf_fmt(path, sizeof(path), "%s/chains/%s/meta", G.store, chain_id);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	for (p = buf; p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (!strncmp(p, PF_META_ORIGIN, strlen(PF_META_ORIGIN))) {
			p += strlen(PF_META_ORIGIN);
			pf_fmt(out, len, "%.*s", (int)strcspn(p, "\n"), p);
			return;
		}
}

PF_UNUSED static bool pf_origin_linked(const char *origin)
{
	return strcmp(origin, PF_ORIGIN_UNLINKED) && strcmp(origin, PF_ORIGIN_HEADLESS);
}

PF_UNUSED static int pf_find_boot(const char *id)
{
	for (uint32_t i = 0; i < K->nboots; i++)
		if (!strcmp(K->boot[i].id, id))
			return (int)i;
	return -1;
}

/* Truth chain of a store chain: of its id (a boot id), else of its first boot. */
PF_UNUSED static int pf_truth_of(const struct chain_meta *m)
{
	int b = pf_find_boot(m->chain);

	if (b < 0 && m->nboots)
		b = pf_find_boot(m->boots[0].id);
	return b < 0 ? -1 : (int)K->boot[b].chain;
}

PF_UNUSED static bool pf_status_has(const char *status, const char *line_prefix)
{
	size_t n = strlen(line_prefix);

	for (const char *p = status; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (!strncmp(p, line_prefix, n))
			return true;
	return false;
}

PF_UNUSED static void pf_status(char *buf, size_t len)
{
	buf[0] = '\0';
	if (!G.ro || store_status_read(G.ro, buf, len))
		buf[0] = '\0';
}

PF_UNUSED static struct pf_ostate *pf_os_find(const char *id)
{
	for (unsigned i = 0; i < G.nos; i++)
		if (!strcmp(G.os[i].id, id))
			return &G.os[i];
	return NULL;
}

PF_UNUSED static struct pf_ostate *pf_os_get(const char *id)
{
	struct pf_ostate *o = pf_os_find(id);

	if (o || G.nos == sizeof(G.os) / sizeof(G.os[0]))
		return o;
	o = &G.os[G.nos++];
	memset(o, 0, sizeof(*o));
	pf_fmt(o->id, sizeof(o->id), "%s", id);
	o->tc = -1;
	o->pending = true;
	return o;
}

/* The store chain that is truth chain c's, linked (its id is c's reset boot). */
PF_UNUSED static struct pf_ostate *pf_os_linked(uint32_t c)
{
	struct pf_ostate *o = pf_os_find(pf_chain_name(c));

	return o && o->ok && o->linked && o->tc == (int)c ? o : NULL;
}

/* Offsets off such that store chain ch's records 0..durable-1 are truth T[off..]. */
PF_UNUSED static unsigned pf_offsets(struct chain *ch, uint32_t tc, uint64_t durable, uint64_t *offs,
			   unsigned max, bool *overflow)
{
	struct chain_iter *it;
	struct ima_record rec;
	struct errmsg em = { "" };
	unsigned n = 0;
	uint64_t j = 0;

	*overflow = false;
	if (!durable || chain_iter_open(ch, 0, &it, &em))
		return 0;
	while (j < durable && chain_iter_next(it, &rec, &em) > 0) {
		if (!j) {
			for (uint64_t i = 0; i < K->chain[tc].n; i++)
				if (pf_same_raw(pf_gid(tc, i), rec.raw, rec.raw_len)) {
					if (n == max) {
						*overflow = true;
						break;
					}
					offs[n++] = i;
				}
		} else {
			unsigned k = 0;

			for (unsigned i = 0; i < n; i++)
				if (offs[i] + j < K->chain[tc].n &&
				    pf_same_raw(pf_gid(tc, offs[i] + j), rec.raw, rec.raw_len))
					offs[k++] = offs[i];
			n = k;
		}
		j++;
	}
	chain_iter_free(it);
	return n;
}

/* ---- the fake kernel's own contract check: every deletion by imastored ---- */

/*
 * imastored deletes ids[0..n) (N on the list or D of the staged batch).
 * Each must be durable in the store at its true index (in the chain of
 * this boot; an unlinked chain: at one consistent offset) and covered by
 * an `intended` entry of this boot in that chain's trims.log, which must
 * not claim more than was deleted. Runs in a forked daemon too.
 */
PF_UNUSED static void pf_check_own_deletion(const uint32_t *ids, uint32_t n, uint64_t next_kept,
				  const char *what)
{
	struct pf_boot *b = pf_tboot();
	const struct chain_meta *m;
	struct chain *ch = NULL;
	struct chain_iter *it = NULL;
	struct ima_record rec;
	struct errmsg em = { "" };
	char origin[32], d1[160];
	uint64_t durable, off = 0, fk, lo, hi;
	enum trim_state ts;
	uint32_t tc = K->rec[ids[0]].chain, k = 0;
	int ret;

	if (!G.ro) {
		pf_kviolation("deletion_durable", "%s of %u records before any store exists", what, n);
		return;
	}
	ret = store_chain_open(G.ro, b->id, &ch, &em);
	if (ret) {
		pf_kviolation("deletion_durable", "%s of %u records T[%" PRIu64 "..] but boot %s has no chain in the store: %s",
			      what, n, K->rec[ids[0]].idx, b->id, em.text);
		return;
	}
	m = chain_meta(ch);
	durable = chain_durable(ch);
	pf_read_origin(m->chain, origin, sizeof(origin));
	lo = K->rec[ids[0]].idx;
	hi = K->rec[ids[n - 1]].idx;
	if (pf_origin_linked(origin)) {
		if (strcmp(m->chain, pf_chain_name(tc))) {
			pf_kviolation("deletion_durable", "%s deletes T[%" PRIu64 "..%" PRIu64 "] of truth chain %s, but boot %s's store chain is %s (origin=%s): they are not stored at their true index",
				      what, lo, hi, K->chain[tc].id, b->id, m->chain, origin[0] ? origin : "(none)");
			goto out;
		}
	} else {
		uint64_t offs[PF_MAX_OFFS];
		bool over;
		unsigned no = pf_offsets(ch, tc, durable, offs, PF_MAX_OFFS, &over);
		bool found = false;

		for (unsigned i = 0; i < no && !found; i++)
			if (offs[i] <= lo && hi - offs[i] < durable) {
				off = offs[i];
				found = true;
			}
		if (!found) {
			pf_kviolation("deletion_durable", "%s deletes T[%" PRIu64 "..%" PRIu64 "]; boot %s's chain %s (origin=%s, %" PRIu64 " durable) does not hold them at one consistent offset",
				      what, lo, hi, b->id, m->chain, origin, durable);
			goto out;
		}
	}
	if (hi - off >= durable) {
		uint64_t first_missing = 0;

		for (uint32_t i = 0; i < n; i++)
			if (K->rec[ids[i]].idx - off >= durable) {
				first_missing = K->rec[ids[i]].idx;
				break;
			}
		pf_desc(pf_gid(tc, first_missing), d1, sizeof(d1));
		pf_kviolation("deletion_durable", "%s deletes T[%" PRIu64 "..%" PRIu64 "] but chain %s holds only %" PRIu64 " durable records: T[%" PRIu64 "] (%s) is not stored",
			      what, lo, hi, m->chain, durable, first_missing, d1);
		goto out;
	}
	ret = chain_iter_open(ch, lo - off, &it, &em);
	for (uint64_t j = lo; !ret && j <= hi && k < n; j++) {
		ret = chain_iter_next(it, &rec, &em);
		if (ret <= 0) {
			pf_kviolation("deletion_durable", "%s: chain %s ends at %" PRIu64 " reading back: %s",
				      what, m->chain, j - off, em.text);
			goto out;
		}
		ret = 0;
		if (K->rec[ids[k]].idx != j)
			continue;
		if (!pf_same_raw(ids[k], rec.raw, rec.raw_len)) {
			char d2[160];

			pf_desc(ids[k], d1, sizeof(d1));
			pf_desc_raw(rec.raw, rec.raw_len, d2, sizeof(d2));
			pf_kviolation("deletion_durable", "%s deletes T[%" PRIu64 "] (%s) but chain %s holds %s at %" PRIu64,
				      what, j, d1, m->chain, d2, j - off);
			goto out;
		}
		k++;
	}
	if (ret) {
		pf_kviolation("deletion_durable", "%s: reading chain %s: %s", what, m->chain, em.text);
		goto out;
	}
	/* written down before it happens (trimming.md §1.3) */
	ret = chain_trim_last(ch, b->id, &fk, &ts, &em);
	if (ret)
		pf_kviolation("deletion_covered", "%s deletes T[%" PRIu64 "..%" PRIu64 "] with no trims.log entry of boot %s in chain %s",
			      what, lo, hi, b->id, m->chain);
	else if (ts != TRIM_INTENDED)
		pf_kviolation("deletion_covered", "%s deletes T[%" PRIu64 "..%" PRIu64 "] but the last trims.log entry of boot %s is done first_kept=%" PRIu64 ", not intended",
			      what, lo, hi, b->id, fk);
	else if (fk < hi - off + 1)
		pf_kviolation("deletion_covered", "%s deletes T[%" PRIu64 "..%" PRIu64 "] but intended first_kept=%" PRIu64 " does not cover it",
			      what, lo, hi, fk);
	else if (fk > next_kept - off)
		pf_kviolation("deletion_covered", "%s deletes T[%" PRIu64 "..%" PRIu64 "] but intended first_kept=%" PRIu64 " claims more: the kernel's next record is T[%" PRIu64 "]",
			      what, lo, hi, fk, next_kept);
out:
	chain_iter_free(it);
	chain_close(ch);
}

/* ---- kernel_ops ---- */

PF_UNUSED static void pf_list_drop(uint32_t *list, uint32_t *n, uint32_t k)
{
	memmove(list, list + k, (*n - k) * sizeof(*list));
	*n -= k;
}

/* kernel-interface.md §3: "N\n" on the original list */
PF_UNUSED static int pf_delete_oldest(int fd, uint64_t n)
{
	uint64_t next;

	(void)fd;
	if (K->suspended)
		return -ESTALE;
	if (pf_tboot()->cfg.ht == HT_FLUSH)
		return -EINVAL;	/* ima_flush_htable: N is refused, always */
	if (!n)
		return -EINVAL;
	if (n > K->ncur)
		return -ENOENT;
	next = n < K->ncur ? K->rec[K->cur[n]].idx : pf_tchain()->n;
	pf_check_own_deletion(K->cur, (uint32_t)n, next, "imastored's N");
	pf_list_drop(K->cur, &K->ncur, (uint32_t)n);
	K->own_deleted += n;
	K->own_n++;
	pf_sync_files();
	return 0;
}

PF_UNUSED static void pf_stage_all(void)
{
	memcpy(K->stg, K->cur, K->ncur * sizeof(*K->cur));
	K->nstg = K->ncur;
	K->ncur = 0;
}

/* "A\n" / "D\n" on the _staged file */
PF_UNUSED static int pf_staged_command(int fd, char cmd)
{
	(void)fd;
	if (cmd == 'A') {
		if (K->suspended)
			return -EACCES;
		if (K->nstg)
			return -EEXIST;
		if (!K->ncur)
			return -ENOENT;
		pf_stage_all();
		if (K->suspend_after_a) {
			/* kexec begins: D is refused, the batch heads the next kernel's list */
			K->suspend_after_a = false;
			K->suspended = true;
		}
		pf_sync_files();
		return 0;
	}
	if (cmd != 'D')
		return -EINVAL;
	if (K->suspended)
		return -ESTALE;
	if (!K->nstg)
		return -ENOENT;
	pf_check_own_deletion(K->stg, K->nstg, K->ncur ? K->rec[K->cur[0]].idx : pf_tchain()->n,
			      "imastored's D");
	K->own_deleted += K->nstg;
	K->own_d++;
	K->nstg = 0;
	pf_sync_files();
	return 0;
}

/*
 * The fake TPM: PCR 10 of the sha256 bank. The kernel appends to the list
 * before it extends the PCR, so a read may lag the list by one record.
 */
PF_UNUSED static int pf_read_pcrs(uint32_t mask, struct pcr_set *out, struct errmsg *em)
{
	struct pf_chain *c = pf_tchain();
	uint64_t n = c->n;

	if (!pf_tboot()->cfg.tpm)
		return errmsg_set(em, -ENODEV, "no TPM (the fake boot has none)");
	K->noise = pf_mix(K->noise);
	if (n && pf_tboot()->cfg.lag_pct && K->noise % 100 < pf_tboot()->cfg.lag_pct)
		n--;
	memset(out, 0, sizeof(*out));
	out->nbanks = 1;
	out->bank[0].alg = pf_sha256();
	if (mask & (1u << PF_PCR)) {
		out->bank[0].valid = 1u << PF_PCR;
		if (n)
			memcpy(out->bank[0].value[PF_PCR], K->rec[c->g0 + n - 1].pcr, PF_DSZ);
	}
	return 0;
}

static const struct kernel_ops pf_ops = {
	.open_list = NULL,	/* set at start: the real open(2) */
	.delete_oldest = pf_delete_oldest,
	.staged_command = pf_staged_command,
	.read_pcrs = pf_read_pcrs,
};
static struct kernel_ops pf_ops_live;

/* ---- the daemon: store_open + boot_chain_open + drain_init, as imastored's setup() ---- */

PF_UNUSED static int pf_rig_open(struct pf_rig *r, struct errmsg *em)
{
	struct pf_bootcfg *cfg = &pf_tboot()->cfg;
	struct boot_found found = { 0 };
	struct kernel_info ki;
	int ret;

	memset(r, 0, sizeof(*r));
	ret = kernel_detect(NULL, &ki, em);
	if (!ret)
		ret = store_open(&r->s, G.store, STORE_WRITE | STORE_CREATE, em);
	if (ret)
		return ret;
	store_set_segment_size(r->s, PF_SEGMENT);
	ret = store_current_boot(r->boot, sizeof(r->boot), em);
	if (!ret)
		ret = boot_chain_open(r->s, &ki, r->boot, &r->c, &found, em);
	if (ret) {
		store_close(r->s);
		r->s = NULL;
		return ret;
	}
	drain_init(&r->d, r->c, r->boot, &ki, chain_list_bank(r->c));
	if (found.foreign)
		drain_note_foreign(&r->d, found.why);
	if (cfg->flavor_ad)
		r->d.use_ad = true;	/* imastored --flavor AD */
	r->pol.keep = cfg->keep;
	r->pol.trim_records = cfg->trim_records;
	r->open = true;
	pf_tboot()->daemon_ran = true;
	return 0;
}

PF_UNUSED static void pf_rig_close(struct pf_rig *r)
{
	if (!r->open)
		return;
	drain_free(&r->d);
	chain_close(r->c);
	store_close(r->s);
	r->open = false;
}

/* ---- the oracle: the store against the truth ---- */

/* Linked chain: its id, its boots and every record at its true index. */
PF_UNUSED static void oracle_linked_chain(struct pf_ostate *o, struct chain *ch)
{
	const struct chain_meta *m = chain_meta(ch);
	struct chain_iter *it;
	struct ima_record rec;
	struct errmsg em = { "" };
	uint32_t tc = (uint32_t)o->tc;
	uint64_t durable = chain_durable(ch), i;
	int ret;

	/* a chain is named by the boot of its TPM reset (store-format.md §2) */
	if (strcmp(m->chain, pf_chain_name(tc))) {
		int b = pf_find_boot(m->chain);

		pf_fail("chain_identity", "store chain %s (origin=%s) is a chain of its own, but boot %s is truly a %s of chain %s at T[%" PRIu64 "]: it must continue that chain or be origin=" PF_ORIGIN_UNLINKED,
			m->chain, o->origin[0] ? o->origin : "(none)", m->chain,
			b >= 0 && K->boot[b].kexec ? "kexec" : "later boot", pf_chain_name(tc),
			b >= 0 ? K->boot[b].first_index : 0);
		o->bad = true;
		return;
	}
	for (unsigned k = o->nboots_checked; k < m->nboots; k++) {
		int b = pf_find_boot(m->boots[k].id);

		if (b < 0) {
			pf_fail("chain_identity", "chain %s lists boot %s, which never ran", m->chain, m->boots[k].id);
			o->bad = true;
			return;
		}
		if (K->boot[b].chain != tc) {
			pf_fail("chain_identity", "chain %s lists boot %s@%" PRIu64 ", but that boot was a %s that started truth chain %s (TPM reset): it is not this chain's",
				m->chain, m->boots[k].id, m->boots[k].first_index,
				K->boot[b].kexec ? "kexec" : "reboot", K->chain[K->boot[b].chain].id);
			o->bad = true;
			return;
		}
		if (m->boots[k].first_index != K->boot[b].first_index &&
		    !(K->boot[b].head_changed_early && m->boots[k].first_index > K->boot[b].first_index)) {
			pf_fail("boots_index", "chain %s: boots= says %s@%" PRIu64 " but that boot's list truly began with T[%" PRIu64 "]",
				m->chain, m->boots[k].id, m->boots[k].first_index, K->boot[b].first_index);
			o->bad = true;
			return;
		}
	}
	o->nboots_checked = m->nboots;
	if (o->verified >= durable)
		return;
	ret = chain_iter_open(ch, o->verified, &it, &em);
	for (i = o->verified; !ret && i < durable; i++) {
		char d1[160], d2[160], where[96];

		ret = chain_iter_next(it, &rec, &em);
		if (ret <= 0) {
			pf_fail("store_read", "chain %s: record %" PRIu64 " of %" PRIu64 " durable unreadable: %s",
				m->chain, i, durable, ret ? em.text : "early end");
			ret = -1;
			break;
		}
		ret = 0;
		if (i >= K->chain[tc].n) {
			pf_desc_raw(rec.raw, rec.raw_len, d1, sizeof(d1));
			pf_where_in_truth(tc, rec.raw, rec.raw_len, where, sizeof(where));
			pf_fail("store_truth", "chain %s holds %" PRIu64 " records but truth chain has only %" PRIu64 ": record %" PRIu64 " (%s, equal to T[%s]) is stored twice or invented",
				m->chain, durable, K->chain[tc].n, i, d1, where);
			ret = -1;
			break;
		}
		if (!pf_same_raw(pf_gid(tc, i), rec.raw, rec.raw_len)) {
			pf_desc_raw(rec.raw, rec.raw_len, d1, sizeof(d1));
			pf_desc(pf_gid(tc, i), d2, sizeof(d2));
			pf_where_in_truth(tc, rec.raw, rec.raw_len, where, sizeof(where));
			pf_fail("store_truth", "chain %s record %" PRIu64 " is %s (truth T[%s]) but T[%" PRIu64 "] is %s: a record not at its true index",
				m->chain, i, d1, where, i, d2);
			ret = -1;
			break;
		}
	}
	chain_iter_free(it);
	if (ret) {
		if (ret != -1)
			pf_fail("store_read", "chain %s: %s", m->chain, em.text);
		o->bad = true;
		return;
	}
	o->verified = durable;
}

/*
 * Unlinked (or headless) chain: a contiguous run of one truth chain's
 * records at a consistent offset, none of them also stored in the linked
 * chain at its true index.
 */
/* The chain starts at its first boot's head, and that head is the truth's record 0. */
PF_UNUSED static bool pf_unlinked_from_head(const struct chain_meta *m)
{
	int b = m->nboots ? pf_find_boot(m->boots[0].id) : -1;

	return b >= 0 && K->boot[b].first_index == 0;
}

PF_UNUSED static void oracle_unlinked_chain(struct pf_ostate *o, struct chain *ch)
{
	const struct chain_meta *m = chain_meta(ch);
	uint64_t durable = chain_durable(ch);
	struct pf_ostate *lk;
	bool over, clean = false;
	unsigned n;

	for (unsigned k = 0; k < m->nboots; k++) {
		int b = pf_find_boot(m->boots[k].id);

		if (b < 0 || K->boot[b].chain != (uint32_t)o->tc) {
			pf_fail("chain_identity", "%s chain %s lists boot %s, which is not of truth chain %s",
				o->origin, m->chain, m->boots[k].id, K->chain[o->tc].id);
			o->bad = true;
			return;
		}
	}
	if (!durable || durable == o->verified)
		return;
	/* recomputed from 0: such chains are rare and short */
	n = pf_offsets(ch, (uint32_t)o->tc, durable, o->offs, PF_MAX_OFFS, &over);
	o->noffs = n;
	o->offs_overflow = over;
	if (!n && !over) {
		pf_fail("unlinked_run", "%s chain %s (%" PRIu64 " records) is not a contiguous run of truth chain %s at any offset",
			o->origin, m->chain, durable, K->chain[o->tc].id);
		o->bad = true;
		return;
	}
	lk = pf_os_linked((uint32_t)o->tc);
	for (unsigned i = 0; i < n && !clean; i++)
		clean = !lk || o->offs[i] >= lk->durable;
	/*
	 * A new boot's list that begins like a chain that never deleted fits a
	 * reboot and the kexec of that kernel alike, with or without a TPM
	 * (PCR 10 replays from zero either way; trimming.md §3.3): the daemon
	 * starts an unlinked chain, which then holds the carried records
	 * again, at their true indexes.
	 */
	for (unsigned i = 0; i < n && !clean; i++)
		clean = o->offs[i] == 0 && pf_unlinked_from_head(m);
	if (n && !clean) {
		pf_fail("unlinked_dup", "%s chain %s holds T[%" PRIu64 "..%" PRIu64 "] (first offset) but the linked chain %s holds T[0..%" PRIu64 "] already: records stored twice",
			o->origin, m->chain, o->offs[0], o->offs[0] + durable - 1, lk->id, lk->durable - 1);
		o->bad = true;
		return;
	}
	o->verified = durable;
}

PF_UNUSED static void oracle_chain(struct pf_ostate *o)
{
	struct chain *ch = NULL;
	struct errmsg em = { "" };
	uint64_t durable;
	int ret;

	if (o->bad)
		return;
	ret = store_chain_open_name(G.ro, o->id, &ch, &em);
	if (ret) {
		if (o->ok) {
			pf_fail("store_read", "chain %s cannot be opened any more: %s", o->id, em.text);
			o->bad = true;
		}
		return;	/* an unfinished create: look again next step */
	}
	if (!o->ok) {
		o->tc = pf_truth_of(chain_meta(ch));
		pf_read_origin(o->id, o->origin, sizeof(o->origin));
		o->linked = pf_origin_linked(o->origin);
		o->ok = true;
		o->pending = false;
		if (o->tc < 0) {
			pf_fail("chain_identity", "store chain %s belongs to no boot that ran", o->id);
			o->bad = true;
			chain_close(ch);
			return;
		}
	}
	durable = chain_durable(ch);
	if (durable < o->durable) {
		pf_fail("durable_grows", "chain %s: %" PRIu64 " durable records, %" PRIu64 " before",
			o->id, durable, o->durable);
		o->bad = true;
	} else if (o->linked) {
		oracle_linked_chain(o, ch);
	} else {
		oracle_unlinked_chain(o, ch);
	}
	o->durable = durable;
	chain_close(ch);
}

/* Chains to look at: new ones, the running boot's, every one when `all`. */
PF_UNUSED static void oracle_store(bool all)
{
	char path[512], link[512];
	struct stat st;
	ssize_t n;

	if (!G.ro)
		return;
	pf_fmt(path, sizeof(path), "%s/chains", G.store);
	if (!stat(path, &st) && (st.st_mtim.tv_sec != G.chains_mtime.tv_sec ||
				 st.st_mtim.tv_nsec != G.chains_mtime.tv_nsec)) {
		DIR *d = opendir(path);
		struct dirent *de;

		G.chains_mtime = st.st_mtim;
		while (d && (de = readdir(d)))
			if (de->d_name[0] != '.' && !pf_os_find(de->d_name))
				pf_os_get(de->d_name);
		if (d)
			closedir(d);
	}
	pf_fmt(path, sizeof(path), "%s/boots/%s", G.store, pf_tboot()->id);
	n = readlink(path, link, sizeof(link) - 1);
	for (unsigned i = 0; i < G.nos; i++) {
		struct pf_ostate *o = &G.os[i];
		bool mine = false;

		if (n > 0) {
			const char *slash;

			link[n] = '\0';
			slash = strrchr(link, '/');
			mine = !strcmp(slash ? slash + 1 : link, o->id);
		}
		if (all || mine || o->pending || !o->ok)
			oracle_chain(o);
	}
}

PF_UNUSED static uint64_t oracle_total_durable(void)
{
	uint64_t t = 0;

	for (unsigned i = 0; i < G.nos; i++)
		t += G.os[i].durable;
	return t;
}

/* Is truth record id durable in the store: linked chain at its index, or an unlinked run? */
PF_UNUSED static bool oracle_stored(uint32_t id)
{
	const struct pf_rec *r = &K->rec[id];
	struct pf_ostate *lk = pf_os_linked(r->chain);

	if (lk && r->idx < lk->durable)
		return true;
	for (unsigned i = 0; i < G.nos; i++) {
		struct pf_ostate *o = &G.os[i];

		if (!o->ok || o->linked || o->tc != (int)r->chain)
			continue;
		for (unsigned k = 0; k < o->noffs; k++)
			if (o->offs[k] <= r->idx && r->idx < o->offs[k] + o->durable)
				return true;
	}
	return false;
}

/*
 * After a completed cycle every record the kernel shows is in the store.
 * A cycle that began with a batch staged (a crash's or another process's)
 * deals with that batch only: its current list waits for the next cycle.
 */
PF_UNUSED static void oracle_everything_visible_stored(bool began_with_batch)
{
	static const char *const what[2] = { "stored_staged", "stored_current" };
	const uint32_t *lists[2] = { K->stg, K->cur };
	uint32_t ns[2] = { K->nstg, began_with_batch ? 0 : K->ncur };

	for (int l = 0; l < 2; l++) {
		uint32_t missing = 0, first = 0;

		for (uint32_t i = 0; i < ns[l]; i++)
			if (!oracle_stored(lists[l][i]) && !missing++)
				first = lists[l][i];
		if (missing) {
			char d[160];

			pf_desc(first, d, sizeof(d));
			pf_fail(what[l], "after a completed cycle %u of the %u records in the kernel's %s are in no chain of the store; the first is T[%" PRIu64 "] (%s)",
				missing, ns[l], l ? "list" : "staged batch", K->rec[first].idx, d);
		}
	}
}

/* Export = the truth: the stored records then the kernel's list (store-format.md §10). */
PF_UNUSED static void oracle_export(void)
{
	struct pf_chain *tc = pf_tchain();
	struct pf_ostate *lk = pf_os_linked(pf_tboot()->chain);
	struct full_list_opts fo = { 0 };
	struct full_list *fl = NULL;
	struct chain *ch = NULL;
	struct ima_record rec;
	struct errmsg em = { "" };
	char status[4096];
	uint64_t i = 0;
	int ret;

	pf_status(status, sizeof(status));
	/* not while a kexec is under way: an ESTALE leaves `intended` unsettled */
	if (!lk || lk->bad || tc->lost_any || K->nstg || !K->ncur || K->suspended ||
	    pf_status_has(status, PF_STATUS_AMBIGUOUS))
		return;
	if (store_chain_open(G.ro, pf_tboot()->id, &ch, &em))
		return;	/* not placed yet */
	if (strcmp(chain_meta(ch)->chain, pf_chain_name(pf_tboot()->chain))) {
		chain_close(ch);
		return;	/* a wrong chain: said elsewhere */
	}
	fo.kernel_list = G.listp;
	fo.boot_id = pf_tboot()->id;
	ret = full_list_open(ch, &fo, &fl, &em);
	while (!ret && (ret = full_list_next(fl, &rec, &em)) > 0) {
		ret = 0;
		if (i >= tc->n) {
			pf_fail("export", "export of chain %s gives more than the truth's %" PRIu64 " records",
				tc->id, tc->n);
			ret = -1;
			break;
		}
		if (!pf_same_raw(pf_gid(pf_tboot()->chain, i), rec.raw, rec.raw_len)) {
			char d1[160], d2[160], where[96];

			pf_desc_raw(rec.raw, rec.raw_len, d1, sizeof(d1));
			pf_desc(pf_gid(pf_tboot()->chain, i), d2, sizeof(d2));
			pf_where_in_truth(pf_tboot()->chain, rec.raw, rec.raw_len, where, sizeof(where));
			pf_fail("export", "export of chain %s: record %" PRIu64 " is %s (T[%s]), truth T[%" PRIu64 "] is %s (%" PRIu64 " stored, %" PRIu64 " from the kernel so far)",
				tc->id, i, d1, where, i, d2, lk->durable, full_list_kernel_records(fl));
			ret = -1;
			break;
		}
		i++;
	}
	if (ret < 0 && ret != -1)
		pf_fail("export", "export of chain %s fails at record %" PRIu64 " of %" PRIu64 ": %s",
			tc->id, i, tc->n, em.text);
	else if (!ret && i != tc->n)
		pf_fail("export", "export of chain %s ends after %" PRIu64 " records, truth has %" PRIu64,
			tc->id, i, tc->n);
	full_list_free(fl);
	chain_close(ch);
}

/*
 * After a completed cycle (trimming.md §6 and the placement contract):
 * a foreign deletion since the last one is reported; "ambiguous" means
 * nothing was stored or deleted; no foreign trimmer is invented; what the
 * kernel shows is stored.
 */
PF_UNUSED static void oracle_after_cycle(int ret, const char *err, uint64_t durable_before,
			       uint64_t deleted_before, bool began_with_batch)
{
	char status[4096];
	bool ambiguous, said_foreign;

	pf_status(status, sizeof(status));
	ambiguous = pf_status_has(status, PF_STATUS_AMBIGUOUS);
	said_foreign = pf_status_has(status, PF_STATUS_FOREIGN_YES);
	if (ret) {
		if (!(K->suspended || ret == -ESTALE || ret == -EACCES || ret == -EBUSY)) {
			G.cycle_errors++;
			pf_fail("cycle_error", "drain_cycle returned %d (%s): %s", ret, strerror(-ret), err);
		}
		return;
	}
	G.completed_cycles++;
	if (ambiguous) {
		if (oracle_total_durable() != durable_before || K->own_deleted != deleted_before)
			pf_fail("ambiguous_idle", "status says %s but the cycle stored %" PRIu64 " and deleted %" PRIu64 " records",
				PF_STATUS_AMBIGUOUS, oracle_total_durable() - durable_before,
				K->own_deleted - deleted_before);
	} else {
		oracle_everything_visible_stored(began_with_batch);
	}
	if (G.pending_report && !said_foreign)
		pf_fail(G.pending_lost ? "foreign_reported" : "foreign_reported_stored",
			"a foreign deletion (%s) is not reported: the status file has no '%s' after the next cycle",
			G.pending_what, PF_STATUS_FOREIGN_YES);
	G.pending_report = false;
	if (said_foreign && !pf_tchain()->foreign_activity)
		pf_fail("no_false_foreign", "status says %s but no other process touched this chain's lists",
			PF_STATUS_FOREIGN_YES);
}

/* ---- what a foreign deletion looks like to imastored ---- */

/* The store's linked count for the running chain (what imastored can compare). */
PF_UNUSED static uint64_t pf_linked_durable(void)
{
	struct pf_ostate *lk = pf_os_linked(pf_tboot()->chain);

	return lk ? lk->durable : 0;
}

/*
 * Could imastored tell that `after` is not `h` (its own idea of the list)?
 * With a TPM, yes unless they are the same records (the PCR pins the
 * replay). Without, only from the bytes of the records it has stored: h's
 * first s stored records must be the list's first s, byte for byte.
 */
PF_UNUSED static bool pf_consistent(const uint32_t *h, uint32_t nh, const uint32_t *after, uint32_t na,
			  bool tpm)
{
	uint64_t s = 0, durable = pf_linked_durable();

	if (tpm) {
		if (nh != na)
			return false;
		for (uint32_t i = 0; i < na; i++)
			if (h[i] != after[i])
				return false;
		return true;
	}
	while (s < nh && K->rec[h[s]].idx < durable)
		s++;
	if (na < s)
		return false;
	for (uint32_t i = 0; i < s; i++)
		if (!pf_same(h[i], after[i]))
			return false;
	return true;
}

/*
 * Is it evident to imastored that the kernel's records (staged ++ list)
 * went from `before` to `after`? Its hypotheses: nothing happened, or its
 * own pending `intended` trim did.
 */
PF_UNUSED static bool pf_deletion_evident(const uint32_t *before, uint32_t nb, const uint32_t *after,
				uint32_t na)
{
	bool tpm = pf_tboot()->cfg.tpm;
	struct chain *ch = NULL;
	struct errmsg em = { "" };
	uint64_t fk;
	enum trim_state ts;
	bool evident = !pf_consistent(before, nb, after, na, tpm);

	if (evident && G.ro && !store_chain_open(G.ro, pf_tboot()->id, &ch, &em)) {
		if (!chain_trim_last(ch, pf_tboot()->id, &fk, &ts, &em) && ts == TRIM_INTENDED &&
		    !strcmp(chain_meta(ch)->chain, pf_chain_name(pf_tboot()->chain))) {
			uint32_t k = 0;

			while (k < nb && K->rec[before[k]].idx < fk)
				k++;
			evident = !pf_consistent(before + k, nb - k, after, na, tpm);
		}
		chain_close(ch);
	}
	return evident;
}

/* A foreign deletion: were records lost (deleted unstored)? */
PF_UNUSED static bool pf_note_lost(const uint32_t *ids, uint32_t n)
{
	bool lost = false;

	for (uint32_t i = 0; i < n && !lost; i++)
		lost = !oracle_stored(ids[i]);
	if (lost)
		pf_tchain()->lost_any = true;
	if (!pf_tboot()->daemon_ran)
		pf_tboot()->head_changed_early = true;
	return lost;
}

static void pf_pending(bool lost, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
PF_UNUSED static void pf_pending(bool lost, const char *fmt, ...)
{
	va_list ap;

	if (!G.pending_report)
		G.pending_lost = false;
	G.pending_report = true;
	G.pending_lost |= lost;
	va_start(ap, fmt);
	vsnprintf(G.pending_what, sizeof(G.pending_what), fmt, ap);
	va_end(ap);
}

/* ---- steps ---- */

PF_UNUSED static uint32_t *pf_concat(uint32_t *n)
{
	static uint32_t buf[2 * PF_MAX_LIST];

	memcpy(buf, K->stg, K->nstg * sizeof(*buf));
	memcpy(buf + K->nstg, K->cur, K->ncur * sizeof(*buf));
	*n = K->nstg + K->ncur;
	return buf;
}

/*
 * Another process writes "m\n" to the list. Returns false (and does
 * nothing) if `only_evident` and imastored could not possibly see it.
 */
PF_UNUSED static bool pf_foreign_n(uint64_t m, bool only_evident)
{
	uint32_t nb, *before;
	bool evident, lost;

	G.foreign_n++;
	if (pf_tboot()->cfg.ht == HT_FLUSH) {
		pf_note("foreign N %" PRIu64 ": EINVAL (flush_htable)", m);
		return true;
	}
	if (!m || m > K->ncur) {
		pf_note("foreign N %" PRIu64 ": ENOENT (list has %u), nothing deleted", m, K->ncur);
		return true;
	}
	before = pf_concat(&nb);
	{
		/* N cuts the current list only: a staged batch stays at the head */
		static uint32_t after[2 * PF_MAX_LIST];
		uint32_t na = nb - (uint32_t)m;

		memcpy(after, K->stg, K->nstg * sizeof(*after));
		memcpy(after + K->nstg, K->cur + m, (K->ncur - m) * sizeof(*after));
		evident = pf_deletion_evident(before, nb, after, na);
	}
	if (!evident && only_evident && !pf_tboot()->cfg.tpm) {
		G.invisible_skipped++;
		return false;
	}
	pf_note("foreign N %" PRIu64 ": deletes T[%" PRIu64 "..%" PRIu64 "]%s", m,
		K->rec[K->cur[0]].idx, K->rec[K->cur[m - 1]].idx,
		evident ? " (evident: must be reported)" : " (not evident to imastored)");
	lost = pf_note_lost(K->cur, (uint32_t)m);
	if (evident)
		pf_pending(lost, "step %" PRIu64 ": foreign N %" PRIu64 " deleted T[%" PRIu64 "..%" PRIu64 "]%s",
			   G.step, m, K->rec[K->cur[0]].idx, K->rec[K->cur[m - 1]].idx,
			   lost ? ", some unstored" : ", all stored");
	pf_tchain()->foreign_activity = true;
	pf_list_drop(K->cur, &K->ncur, (uint32_t)m);
	pf_sync_files();
	return true;
}

PF_UNUSED static void pf_foreign_a(void)
{
	G.foreign_a++;
	if (!pf_tboot()->cfg.staged_files) {
		pf_note("foreign A: no _staged file");
		return;
	}
	if (K->nstg || !K->ncur) {
		pf_note("foreign A: %s", K->nstg ? "EEXIST" : "ENOENT");
		return;
	}
	pf_note("foreign A: stages T[%" PRIu64 "..%" PRIu64 "]", K->rec[K->cur[0]].idx,
		K->rec[K->cur[K->ncur - 1]].idx);
	pf_stage_all();
	pf_tchain()->foreign_activity = true;
	pf_sync_files();
}

PF_UNUSED static bool pf_foreign_d(bool only_evident)
{
	uint32_t nb, *before;
	bool evident, lost;

	G.foreign_d++;
	if (!pf_tboot()->cfg.staged_files || !K->nstg) {
		pf_note("foreign D: %s", K->nstg ? "no _staged file" : "ENOENT");
		return true;
	}
	before = pf_concat(&nb);
	evident = pf_deletion_evident(before, nb, before + K->nstg, nb - K->nstg);
	if (!evident && only_evident && !pf_tboot()->cfg.tpm) {
		G.invisible_skipped++;
		return false;
	}
	pf_note("foreign D: frees T[%" PRIu64 "..%" PRIu64 "]%s", K->rec[K->stg[0]].idx,
		K->rec[K->stg[K->nstg - 1]].idx,
		evident ? " (evident: must be reported)" : " (not evident to imastored)");
	lost = pf_note_lost(K->stg, K->nstg);
	if (evident)
		pf_pending(lost, "step %" PRIu64 ": foreign D freed T[%" PRIu64 "..%" PRIu64 "]%s",
			   G.step, K->rec[K->stg[0]].idx, K->rec[K->stg[K->nstg - 1]].idx,
			   lost ? ", some unstored" : ", all stored");
	pf_tchain()->foreign_activity = true;
	K->nstg = 0;
	pf_sync_files();
	return true;
}

PF_UNUSED static void pf_boot_id(char *out, size_t len)
{
	uint64_t a = pf_rand(), b = pf_rand();

	pf_fmt(out, len, "%08x-%04x-4%03x-a%03x-%012llx", (unsigned)(a >> 32),
	       (unsigned)(a >> 16) & 0xffff, (unsigned)a & 0xfff, (unsigned)(b >> 48) & 0xfff,
	       (unsigned long long)(b & 0xffffffffffffull));
}

PF_UNUSED static void pf_new_boot(const struct pf_bootcfg *cfg, bool kexec)
{
	struct pf_boot *b;
	FILE *f;

	if (K->nboots == PF_MAX_BOOTS) {
		fprintf(stderr, "fake kernel: too many boots\n");
		abort();
	}
	b = &K->boot[K->nboots];
	memset(b, 0, sizeof(*b));
	pf_boot_id(b->id, sizeof(b->id));
	b->cfg = *cfg;
	if (b->cfg.ht == HT_FLUSH)
		b->cfg.staged_files = true;	/* ima_flush_htable needs staging */
	if (!b->cfg.staged_files)
		b->cfg.flavor_ad = false;
	if (!b->cfg.keep)
		b->cfg.keep = 1;
	b->kexec = kexec;
	b->chain = kexec ? K->boot[K->cur_boot].chain : K->nchains;
	K->cur_boot = K->nboots++;
	K->clock += 10;
	f = fopen(G.bootf, "w");
	if (!f)
		abort();
	fprintf(f, "%s\n", b->id);
	fclose(f);
}

/* Reboot: TPM reset, a new chain, the list restarts with boot_aggregate. */
PF_UNUSED static void pf_reboot(const struct pf_bootcfg *cfg, bool new_firmware)
{
	struct pf_chain *c;

	pf_rig_close(&G.rig);
	if (K->nchains == PF_MAX_CHAINS) {
		fprintf(stderr, "fake kernel: too many chains\n");
		abort();
	}
	pf_new_boot(cfg, false);
	c = &K->chain[K->nchains++];
	memset(c, 0, sizeof(*c));
	pf_fmt(c->id, sizeof(c->id), "%s", pf_tboot()->id);
	c->first_boot = K->cur_boot;
	c->g0 = K->nrecs;
	K->ncur = K->nstg = 0;
	K->suspended = K->suspend_after_a = false;
	pf_ht_clear();
	if (new_firmware)
		G.fw++;
	pf_append_ba(G.fw, false);
	pf_tboot()->first_index = 0;
	G.pending_report = false;	/* the old chain's list is gone */
	G.reboots++;
	pf_sync_files();
}

/*
 * Kexec: the PCRs stay; the next kernel's list begins with the old one's
 * staged batch, then its list, then its own boot_aggregate unless the
 * duplicate table (rebuilt from the carried records) suppresses it.
 */
PF_UNUSED static void pf_kexec(const struct pf_bootcfg *cfg)
{
	uint32_t n, *carried = pf_concat(&n);
	uint32_t keep[2 * PF_MAX_LIST];
	uint8_t ba_digest[PF_DSZ];

	pf_rig_close(&G.rig);
	memcpy(keep, carried, n * sizeof(*keep));
	memcpy(ba_digest, K->rec[pf_tchain()->ba].digest, PF_DSZ);
	pf_new_boot(cfg, true);
	memcpy(K->cur, keep, n * sizeof(*keep));
	K->ncur = n;
	K->nstg = 0;
	K->suspended = K->suspend_after_a = false;
	pf_ht_clear();
	if (pf_tboot()->cfg.ht == HT_ON)
		for (uint32_t i = 0; i < n; i++)
			if (K->rec[keep[i]].kind != PK_VIOL)
				pf_ht_add(pf_key(K->rec[keep[i]].digest));
	if (!pf_suppressed(ba_digest, false))
		pf_append_ba(0, true);
	pf_tboot()->first_index = K->ncur ? K->rec[K->cur[0]].idx : pf_tchain()->n;
	G.kexecs++;
	pf_sync_files();
}

/* ---- the daemon's steps ---- */

PF_UNUSED static bool pf_ensure_rig(void)
{
	struct errmsg em = { "" };
	int ret;

	if (G.rig.open)
		return true;
	ret = pf_rig_open(&G.rig, &em);
	if (ret) {
		pf_fail("setup", "the daemon does not start: %s (%d)", em.text, ret);
		return false;
	}
	return true;
}

/* One drain cycle in this process, then the after-cycle contract. */
PF_UNUSED static void pf_cycle(void)
{
	struct drain_stats st;
	struct errmsg em = { "" };
	uint64_t before, del_before = K->own_deleted;
	bool batch;
	int ret;

	G.cycles++;
	if (!pf_ensure_rig())
		return;
	before = oracle_total_durable();
	batch = K->nstg > 0;
	ret = drain_cycle(&G.rig.d, &G.rig.pol, &st, &em);
	pf_note("cycle: ret %d, appended %" PRIu64 ", deleted %" PRIu64 "%s%s", ret, st.appended,
		st.deleted, ret ? ": " : "", ret ? em.text : "");
	pf_collect_kviolations();
	oracle_store(false);
	oracle_after_cycle(ret, em.text, before, del_before, batch);
	/* now and then the whole chain as export shows it (store-format.md §10) */
	if (!ret && !G.step_failed && G.completed_cycles % 32 == 0)
		oracle_export();
}

PF_UNUSED static void pf_restart(void)
{
	pf_rig_close(&G.rig);
	pf_ensure_rig();
}

/*
 * A forked daemon runs a cycle with IMASTORE_FAILPOINT=fp:kill; the
 * parent then restarts the daemon.
 */
PF_UNUSED static void pf_kill_at(const char *fp)
{
	uint64_t before, del_before = K->own_deleted;
	bool batch = K->nstg > 0;
	int status;
	pid_t pid;

	G.kills++;
	pf_rig_close(&G.rig);
	before = oracle_total_durable();
	K->child_ret = 0;
	K->child_err[0] = '\0';
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		abort();
	if (pid == 0) {
		struct drain_stats st;
		struct errmsg em = { "" };
		char env[64];
		int ret;

		pf_fmt(env, sizeof(env), "%s:kill", fp);
		setenv("IMASTORE_FAILPOINT", env, 1);
		ret = pf_rig_open(&G.rig, &em);
		if (!ret)
			ret = drain_cycle(&G.rig.d, &G.rig.pol, &st, &em);
		K->child_ret = ret;
		pf_fmt(K->child_err, sizeof(K->child_err), "%s", em.text);
		_exit(0);
	}
	if (waitpid(pid, &status, 0) != pid)
		abort();
	pf_collect_kviolations();
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) {
		G.killed++;
		pf_note("kill at %s: killed", fp);
		if (G.pending_report && strcmp(fp, "after-read")) {
			/* it may have settled what it saw, then died before saying so */
			G.pending_report = false;
			G.reports_dropped++;
		}
		oracle_store(false);
	} else {
		pf_note("kill at %s: not reached, cycle ret %d%s%s", fp, K->child_ret,
			K->child_ret ? ": " : "", K->child_err);
		oracle_store(false);
		oracle_after_cycle(K->child_ret, K->child_err, before, del_before, batch);
	}
	pf_ensure_rig();
	if (G.rig.open)
		pf_note("; restarted");
}

/* ---- epochs: one machine, its store and its truth ---- */

PF_UNUSED static int pf_rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

PF_UNUSED static void pf_rmtree(const char *path)
{
	nftw(path, pf_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

PF_UNUSED static void pf_epoch(const struct pf_bootcfg *cfg)
{
	struct errmsg em = { "" };

	pf_rig_close(&G.rig);
	if (G.ro)
		store_close(G.ro);
	G.ro = NULL;
	if (G.store[0])
		pf_rmtree(G.store);
	G.epoch++;
	G.epochs++;
	G.epoch_step = 0;
	pf_fmt(G.store, sizeof(G.store), "%s/store-%u", G.base, G.epoch);
	if (mkdir(G.store, 0700))
		abort();
	if (store_open(&G.ro, G.store, 0, &em)) {
		fprintf(stderr, "store_open %s: %s\n", G.store, em.text);
		abort();
	}
	memset(&G.chains_mtime, 0, sizeof(G.chains_mtime));
	G.nos = 0;
	K->nrecs = K->nchains = K->nboots = 0;
	K->arena_used = 0;
	K->ncur = K->nstg = 0;
	K->nviol = 0;
	memset(G.ver, 0, sizeof(G.ver));
	memset(G.pver, 0, sizeof(G.pver));
	G.uniq = 0;
	G.fw = 0;
	G.pending_report = false;
	pf_reboot(cfg, false);
}

/* Once per process: the fake securityfs, the shared state, the seam. */
PF_UNUSED static void pf_init(const char *test)
{
	const char *e;
	struct stat st;

	memset(&G, 0, sizeof(G));
	pf_fmt(G.base, sizeof(G.base), "%s/imastore-%s-%d",
	       !stat("/dev/shm", &st) && S_ISDIR(st.st_mode) ? "/dev/shm" : "/tmp", test, (int)getpid());
	pf_fmt(G.sfs, sizeof(G.sfs), "%s/ima", G.base);
	pf_fmt(G.listp, sizeof(G.listp), "%s/binary_runtime_measurements_sha256", G.sfs);
	pf_fmt(G.countp, sizeof(G.countp), "%s/runtime_measurements_count", G.sfs);
	pf_fmt(G.stagedp, sizeof(G.stagedp), "%s_staged", G.listp);
	pf_fmt(G.bootf, sizeof(G.bootf), "%s/boot_id", G.base);
	if (mkdir(G.base, 0700) || mkdir(G.sfs, 0700)) {
		fprintf(stderr, "%s: %s\n", G.base, strerror(errno));
		abort();
	}
	setenv("IMASTORE_SECURITYFS", G.sfs, 1);
	setenv("IMASTORE_BOOT_ID_FILE", G.bootf, 1);
	unsetenv("IMASTORE_FAILPOINT");
	if (!K) {
		K = mmap(NULL, sizeof(*K), PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (K == MAP_FAILED)
			abort();
	}
	if (hash_ctx_new(pf_sha256(), &G.h))
		abort();
	pf_ops_live = pf_ops;
	pf_ops_live.open_list = kernel_ops_default.open_list;
	kernel_ops = &pf_ops_live;
	e = getenv("IMASTORE_PROP_LOG");	/* the daemon's log level; default: silent */
	dlog_set_level(e ? atoi(e) : LOG_P_ERR - 1);
	e = getenv("IMASTORE_PROP_RELAX");
	pf_fmt(G.relax, sizeof(G.relax), "%s", e ? e : "");
	e = getenv("IMASTORE_PROP_INVISIBLE");
	G.allow_invisible = e && *e == '1';
	e = getenv("IMASTORE_PROP_KEEP_GOING");
	G.keep_going = e && *e == '1';
	G.quiet_repeats = G.keep_going;
}

PF_UNUSED static void pf_fini(void)
{
	pf_rig_close(&G.rig);
	if (G.ro)
		store_close(G.ro);
	G.ro = NULL;
	pf_rmtree(G.base);
	hash_ctx_free(G.h);
	free(G.ht);
	G.ht = NULL;
	kernel_ops = &kernel_ops_default;
}

/* Step bookkeeping shared by both tests. */
PF_UNUSED static void pf_step_begin(void)
{
	G.step++;
	G.epoch_step++;
	G.desc[0] = '\0';
	G.step_failed = false;
	G.nfails = 0;
	K->clock++;
	K->noise = pf_mix(G.seed ^ (G.step * 0x9e3779b97f4a7c15ull));
}

/* The oracle after every step; true if the step broke the contract. */
PF_UNUSED static bool pf_step_end(void)
{
	pf_collect_kviolations();
	oracle_store(G.epoch_step % 512 == 0);
	pf_log_step();
	if (G.step_failed)
		pf_print_failure();
	return G.step_failed;
}

#endif
