// SPDX-License-Identifier: GPL-2.0-only
/*
 * Crash tests of the store (docs/store-format.md §5): a forked child appends
 * and commits while it is SIGKILLed — at random moments, at every I/O call
 * the store makes, and at every named failpoint — and the parent checks the
 * reopened store after each kill: every record acknowledged durable is
 * there exactly once, byte-identical, nothing beyond what was appended, no
 * half record, the replay continuous; the writer recovers and appends on.
 *
 * The child reports through a shared page (written before/after each call,
 * so a kill can never lose a report that matters): `pending` (records that
 * may be on disk) before it appends, `acked` after chain_commit returned 0.
 * A SIGKILL cannot lose the page cache, so the kill runs use a store_io
 * table without fsyncs (test_store_powercut.c is about fsyncs).
 */
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "store_test_util.h"

#define SEG_SMALL (8u << 10)

struct shared {
	struct st_acks a;	/* what the child was told is durable */
	uint64_t started;	/* writer open returned 0 */
	uint64_t kill_me;	/* valgrind: the child asks to be killed */
	uint64_t done;
	uint64_t err;		/* child failed on its own: see msg */
	char msg[600];
};

static struct shared *sh;

#define SET(f, v) __atomic_store_n(&sh->f, (v), __ATOMIC_SEQ_CST)
#define SETA(f, v) __atomic_store_n(&sh->a.f, (v), __ATOMIC_SEQ_CST)


static void child_fail(const char *what, int err, const struct errmsg *em)
{
	snprintf(sh->msg, sizeof(sh->msg), "%s: %d %s", what, err, errmsg_text(em));
	SET(err, 1);
}

/* ---- I/O tables: count calls, kill at the N-th or at a failpoint hit ---- */

static struct {
	unsigned long calls;	/* store_io calls so far */
	unsigned long kill_at;	/* 0: never */
	bool kill_after;	/* let the call happen first */
	const char *fp_name;	/* kill at this failpoint ... */
	unsigned fp_nth;	/* ... its n-th hit */
	unsigned fp_hits;
	/* discovery: failpoint names and hit counts */
	char names[32][48];
	unsigned hits[32];
	unsigned nnames;
} kio;

static void die_now(void)
{
	/*
	 * Under valgrind a SIGKILL sent to itself still runs its leak check
	 * (and reports what the process had not freed yet): the parent sends it.
	 */
	if (RUNNING_ON_VALGRIND)
		__atomic_store_n(&sh->kill_me, 1, __ATOMIC_SEQ_CST);
	else
		kill(getpid(), SIGKILL);
	for (;;)
		pause();
}

static bool trace;	/* STORE_TEST_TRACE=1: print every store_io call */

static void before_(const char *op, int fd, const char *path)
{
	kio.calls++;
	if (trace) {
		char p[PATH_MAX] = "", l[64];
		ssize_t n;

		snprintf(l, sizeof(l), "/proc/self/fd/%d", fd);
		if (fd >= 0 && (n = readlink(l, p, sizeof(p) - 1)) > 0)
			p[n] = 0;
		fprintf(stderr, "  io %lu: %s %s%s%s\n", kio.calls, op, p,
			path ? " " : "", path ? path : "");
	}
	if (kio.kill_at == kio.calls && !kio.kill_after)
		die_now();
}

static void after(void)
{
	if (kio.kill_at == kio.calls && kio.kill_after)
		die_now();
}

static int k_openat(int d, const char *p, int fl, mode_t m)
{
	int r;

	before_("openat", d, p);
	r = openat(d, p, fl, m);
	after();
	return r;
}

static ssize_t k_pwrite(int fd, const void *b, size_t l, off_t o)
{
	ssize_t r;

	before_("pwrite", fd, NULL);
	r = pwrite(fd, b, l, o);
	after();
	return r;
}

static int k_sync(int fd)
{
	before_("sync", fd, NULL);
	after();
	return 0;
}

static int k_ftruncate(int fd, off_t l)
{
	int r;

	before_("ftruncate", fd, NULL);
	r = ftruncate(fd, l);
	after();
	return r;
}

static int k_renameat(int a, const char *b, int c, const char *d)
{
	int r;

	before_("renameat", a, b);
	r = renameat(a, b, c, d);
	after();
	return r;
}

static int k_mkdirat(int d, const char *p, mode_t m)
{
	int r;

	before_("mkdirat", d, p);
	r = mkdirat(d, p, m);
	after();
	return r;
}

static int k_symlinkat(const char *t, int d, const char *p)
{
	int r;

	before_("symlinkat", d, p);
	r = symlinkat(t, d, p);
	after();
	return r;
}

static int k_unlinkat(int d, const char *p, int f)
{
	int r;

	before_("unlinkat", d, p);
	r = unlinkat(d, p, f);
	after();
	return r;
}

static void k_failpoint(const char *name)
{
	unsigned i;

	for (i = 0; i < kio.nnames; i++)
		if (!strcmp(kio.names[i], name))
			break;
	if (i == kio.nnames && i < 32) {
		snprintf(kio.names[i], sizeof(kio.names[i]), "%s", name);
		kio.nnames++;
	}
	if (i < 32)
		kio.hits[i]++;
	if (kio.fp_name && !strcmp(kio.fp_name, name) && ++kio.fp_hits == kio.fp_nth)
		die_now();
}

static const struct store_io kill_io = {
	.openat = k_openat, .pwrite = k_pwrite, .fdatasync = k_sync,
	.fsync = k_sync, .ftruncate = k_ftruncate, .renameat = k_renameat,
	.mkdirat = k_mkdirat, .symlinkat = k_symlinkat, .unlinkat = k_unlinkat,
	.failpoint = k_failpoint,
};

/* ---- the scripted scenario: same calls every time it runs ---- */

/* Group sizes, fixed: some small, some spanning a segment (8 KiB). */
static const unsigned script_groups[] = { 1, 5, 17, 2, 40, 3, 1, 9, 30, 4, 12, 6 };
#define NGROUPS (sizeof(script_groups) / sizeof(script_groups[0]))

static int commit_ack(struct chain *c, struct errmsg *em)
{
	int err = chain_commit(c, em);

	if (!err)
		SETA(acked, chain_durable(c));
	return err;
}

static int append_group(struct chain *c, unsigned k, struct errmsg *em)
{
	uint64_t n = chain_count(c);
	int err;

	SETA(pending, n + k);
	err = st_append_range(c, n, n + k, em);
	/* an append may commit by itself (STORE_GROUP_MAX) */
	if (!err && chain_durable(c) > sh->a.acked)
		SETA(acked, chain_durable(c));
	return err;
}

static void run_script(const char *dir)
{
	struct errmsg em = { "" };
	struct store *s;
	struct chain *c;
	int err;

	err = st_open_writer(dir, SEG_SMALL, true, &s, &c, &em);
	if (err)
		return child_fail("create", err, &em);
	SETA(created, 1);
	SET(started, 1);
	for (unsigned g = 0; g < NGROUPS; g++) {
		err = append_group(c, script_groups[g], &em);
		if (!err)
			err = commit_ack(c, &em);
		if (err)
			goto fail;
		if (g == 4) {
			struct replay_state st;

			err = st_replay_to(chain_durable(c), &st, &em);
			if (!err)
				err = chain_checkpoint_write(c, &st, &em);
			if (err)
				goto fail;
			SETA(ckpt_acked, st.next_index + 1);
		}
		if (g == 6 || g == 9) {
			uint64_t fk = chain_durable(c) - 3;

			err = chain_trim_write(c, ST_CHAIN, fk, TRIM_INTENDED, &em);
			if (err)
				goto fail;
			SETA(trim_acked, fk * 4 + TRIM_INTENDED);
			err = chain_trim_write(c, ST_CHAIN, fk, TRIM_DONE, &em);
			if (err)
				goto fail;
			SETA(trim_acked, fk * 4 + TRIM_DONE);
		}
		if (g == 8) {
			err = chain_add_boot(c, ST_BOOT2, chain_durable(c), &em);
			if (err)
				goto fail;
			SETA(boot_acked, 1);
		}
	}
	st_close(s, c);
	/* reopen over a torn tail: the writer's recovery runs */
	st_write_torn_tail(dir);
	err = st_open_writer(dir, SEG_SMALL, false, &s, &c, &em);
	if (err)
		return child_fail("reopen", err, &em);
	for (unsigned g = 0; g < 3; g++) {
		err = append_group(c, 7 + g * 11, &em);
		if (!err)
			err = commit_ack(c, &em);
		if (err)
			goto fail;
	}
	st_close(s, c);
	SET(done, 1);
	return;
fail:
	child_fail("script", err, &em);
	st_close(s, c);
}

static void sleep_us(unsigned long us)
{
	struct timespec ts = { (time_t)(us / 1000000), (long)(us % 1000000) * 1000 };

	nanosleep(&ts, NULL);
}

/*
 * Fork, run fn in the child with store_io = io, wait. With delay_us, kill
 * the child that long after the fork, or (after_start) that long after its
 * writer is open. Returns the wait status.
 */
static int run_child_at(void (*fn)(const char *), const char *dir,
			const struct store_io *io, unsigned long delay_us,
			bool after_start)
{
	pid_t pid;
	int status;

	memset(sh, 0, sizeof(*sh));
	pid = fork();
	if (pid < 0)
		abort();
	if (pid == 0) {
		store_io = io;
		fn(dir);
		_exit(sh->err ? 3 : 0);
	}
	if (delay_us) {
		if (after_start)
			while (!__atomic_load_n(&sh->started, __ATOMIC_SEQ_CST) &&
			       waitpid(pid, &status, WNOHANG) == 0)
				sleep_us(20);
		sleep_us(delay_us);
		kill(pid, SIGKILL);
	}
	while (waitpid(pid, &status, RUNNING_ON_VALGRIND ? WNOHANG : 0) != pid) {
		if (__atomic_load_n(&sh->kill_me, __ATOMIC_SEQ_CST))
			kill(pid, SIGKILL);
		sleep_us(100);
	}
	return status;
}

static int run_child(void (*fn)(const char *), const char *dir,
		     const struct store_io *io, unsigned long delay_us)
{
	return run_child_at(fn, dir, io, delay_us, false);
}

static void setup_shared(void)
{
	if (!sh) {
		sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
			  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		assert_true(sh != MAP_FAILED);
	}
}

/* Run the script once in-process to count I/O calls and failpoint hits. */
static unsigned long discover(void)
{
	char dir[PATH_MAX];

	memset(&kio, 0, sizeof(kio));
	memset(sh, 0, sizeof(*sh));
	st_tmpdir(dir, sizeof(dir), "crash");
	store_io = &kill_io;
	run_script(dir);
	store_io = st_io_fast();
	if (sh->err)
		fail_msg("script without kills: %s", sh->msg);
	assert_true(sh->done);
	st_rm_rf(dir);
	return kio.calls;
}

/* Kill before, and after, each store_io call the script makes. */
static void test_kill_at_every_io_call(void **state)
{
	unsigned long total, killed = 0, bad = 0;
	char what[128];

	(void)state;
	setup_shared();
	total = discover();
	fprintf(stderr, "script: %lu store_io calls, %u failpoints\n", total, kio.nnames);
	assert_true(total > 20);
	for (unsigned long k = 1; k <= total; k++) {
		for (int a = 0; a < 2; a++) {
			int st;

			/* under valgrind: a sample of the calls */
			if (st_scale() < 0.5 && st_range(0, 9))
				continue;
			memset(&kio, 0, sizeof(kio));
			kio.kill_at = k;
			kio.kill_after = a;
			snprintf(what, sizeof(what), "kill %s store_io call %lu of %lu",
				 a ? "after" : "before", k, total);
			{
				char dir[PATH_MAX], why[1024] = "";
				uint64_t n;

				st_tmpdir(dir, sizeof(dir), "crash");
				st = run_child(run_script, dir, &kill_io, 0);
				if (WIFEXITED(st) && WEXITSTATUS(st))
					fail_msg("%s: the child failed by itself: %s", what, sh->msg);
				if (!WIFSIGNALED(st))
					fail_msg("%s: not reached (the store's calls are not "
						 "deterministic?)", what);
				killed++;
				if (st_check_recovered(dir, &sh->a, 0, SEG_SMALL, &n, true, why, sizeof(why))) {
					/* go on: one report lists every point that fails */
					if (++bad <= 30)
						print_error("%s (acked %" PRIu64 ", pending %" PRIu64
							    "): %s\n", what, sh->a.acked, sh->a.pending, why);
				}
				st_rm_rf(dir);
			}
		}
	}
	fprintf(stderr, "killed at %lu points\n", killed);
	if (bad)
		fail_msg("%lu of %lu kill points leave a bad store", bad, killed);
}

/* Kill at each hit of each named failpoint (IMASTORE_FAILPOINT for the 1st). */
static void test_kill_at_failpoints(void **state)
{
	char names[32][48], what[160];
	unsigned hits[32], n, runs = 0;

	(void)state;
	setup_shared();
	discover();
	n = kio.nnames;
	memcpy(names, kio.names, sizeof(names));
	memcpy(hits, kio.hits, sizeof(hits));
	for (unsigned i = 0; i < n; i++)
		fprintf(stderr, "failpoint %s: %u hits\n", names[i], hits[i]);
	if (!n)
		fail_msg("the store has no named failpoints (io_failpoint)");
	for (unsigned i = 0; i < n; i++) {
		for (unsigned h = 1; h <= hits[i]; h++) {
			char dir[PATH_MAX], why[1024] = "", env[96];
			struct store_io io = kill_io;
			uint64_t got;
			int st;

			if (h > 3 && h != hits[i] && (st_scale() < 0.5 || h % 4))
				continue;
			memset(&kio, 0, sizeof(kio));
			if (h == 1) {
				/* the documented way: the default failpoint hook */
				snprintf(env, sizeof(env), "%.47s:kill", names[i]);
				setenv("IMASTORE_FAILPOINT", env, 1);
				io.failpoint = store_io_default.failpoint;
			} else {
				kio.fp_name = names[i];
				kio.fp_nth = h;
			}
			snprintf(what, sizeof(what), "failpoint %.47s hit %u/%u%s", names[i], h,
				 hits[i], h == 1 ? " (IMASTORE_FAILPOINT)" : "");
			st_tmpdir(dir, sizeof(dir), "crash");
			st = run_child(run_script, dir, &io, 0);
			unsetenv("IMASTORE_FAILPOINT");
			if (WIFEXITED(st) && WEXITSTATUS(st))
				fail_msg("%s: the child failed by itself: %s", what, sh->msg);
			if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL)
				fail_msg("%s: the child was not killed there", what);
			if (st_check_recovered(dir, &sh->a, 0, SEG_SMALL, &got, true, why, sizeof(why)))
				fail_msg("%s (acked %" PRIu64 ", pending %" PRIu64 "): %s", what,
					 sh->a.acked, sh->a.pending, why);
			st_rm_rf(dir);
			runs++;
		}
	}
	fprintf(stderr, "killed at %u failpoint hits\n", runs);
}

/* ---- random kills of an appending loop ---- */

static uint64_t loop_stop;	/* the child stops appending here */
static bool loop_real_sync;

static void run_loop(const char *dir)
{
	struct errmsg em = { "" };
	struct store *s;
	struct chain *c;
	int err;

	err = st_open_writer(dir, SEG_SMALL * 4, false, &s, &c, &em);
	if (err)
		return child_fail("writer open", err, &em);
	SETA(created, 1);
	SETA(acked, chain_durable(c));
	SETA(pending, chain_durable(c));
	SET(started, 1);
	while (chain_count(c) < loop_stop) {
		err = append_group(c, (unsigned)st_logrange(1, 200), &em);
		if (!err)
			err = commit_ack(c, &em);
		if (err) {
			child_fail("append/commit", err, &em);
			break;
		}
	}
	st_close(s, c);
	SET(done, 1);
}

static void test_random_kills(void **state)
{
	unsigned runs = st_runs(300), fresh = 0, killed_mid = 0, not_started = 0,
		 finished = 0;
	uint64_t have = 0;
	char dir[PATH_MAX] = "", why[1024];
	struct timespec t0, t1;

	(void)state;
	setup_shared();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (unsigned r = 0; r < runs; r++) {
		unsigned long delay;
		uint64_t before_acked;
		bool after_start;
		int st;

		if (!dir[0] || have >= 1500) {
			/* a fresh store every few thousand records keeps runs cheap */
			struct errmsg em = { "" };
			struct store *s;
			struct chain *c;

			if (dir[0])
				st_rm_rf(dir);
			st_tmpdir(dir, sizeof(dir), "crash");
			assert_int_equal(st_open_writer(dir, SEG_SMALL * 4, true, &s, &c, &em), 0);
			st_close(s, c);
			have = 0;
			fresh++;
		}
		loop_stop = have + 2000;
		loop_real_sync = st_range(0, 9) == 0;
		/* most kills while appending, some while opening and recovering */
		after_start = st_range(0, 4) != 0;
		delay = (unsigned long)st_logrange(after_start ? 1 : 20,
						   RUNNING_ON_VALGRIND ? 100000 : 5000);
		st = run_child_at(run_loop, dir,
				  loop_real_sync ? &store_io_default : st_io_fast(),
				  delay, after_start);
		if (WIFEXITED(st) && WEXITSTATUS(st))
			fail_msg("run %u: the child failed by itself: %s", r, sh->msg);
		if (WIFEXITED(st))
			finished++;
		else if (!sh->started)
			not_started++;
		else if (sh->a.pending > sh->a.acked)
			killed_mid++;
		before_acked = sh->a.acked;
		if (st_check_recovered(dir, &sh->a, have, SEG_SMALL * 4, &have, r % 8 == 0, why, sizeof(why)))
			fail_msg("run %u (delay %lu us%s, %s, acked %" PRIu64 ", pending %" PRIu64
				 ", before %" PRIu64 "): %s", r, delay,
				 after_start ? " after open" : "", WIFSIGNALED(st) ? "killed" : "finished", before_acked,
				 sh->a.pending, have, why);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	st_rm_rf(dir);
	fprintf(stderr, "%u runs in %.1f s: %u killed with a group in flight, %u before "
		"the writer was open, %u finished; %u stores\n", runs,
		(double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
		killed_mid, not_started, finished, fresh);
	/* the kills must mostly land while appending, or the test proves little */
	assert_true(killed_mid >= (RUNNING_ON_VALGRIND ? 1 : runs / 4));
}

/* ---- readers while the writer appends ---- */

static void test_reader_during_writer(void **state)
{
	char dir[PATH_MAX], why[1024];
	struct errmsg em = { "" };
	struct store *s;
	struct chain *c;
	unsigned reads = 0, runs = st_runs(60);
	uint64_t maxgot = 0;
	pid_t pid;
	int status;

	(void)state;
	setup_shared();
	st_tmpdir(dir, sizeof(dir), "crash");
	assert_int_equal(st_open_writer(dir, SEG_SMALL * 4, true, &s, &c, &em), 0);
	st_close(s, c);
	memset(sh, 0, sizeof(*sh));
	loop_stop = 6000;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* real fsyncs: the writer stays slow enough to be read often */
		store_io = &store_io_default;
		run_loop(dir);
		_exit(sh->err ? 3 : 0);
	}
	st_skip_replay = true;	/* bytes compared: enough here */
	/* from the first commit on (valgrind takes its time to start) */
	for (int i = 0; i < 300000 && !__atomic_load_n(&sh->a.acked, __ATOMIC_SEQ_CST) &&
	     waitpid(pid, &status, WNOHANG) == 0; i++)
		sleep_us(100);
	while (reads < runs) {
		uint64_t acked = __atomic_load_n(&sh->a.acked, __ATOMIC_SEQ_CST), got;
		uint64_t pending;

		if (st_check(dir, 0, acked, UINT64_MAX, &got, why, sizeof(why)))
			fail_msg("reader %u while the writer appends (acked %" PRIu64 "): %s",
				 reads, acked, why);
		pending = __atomic_load_n(&sh->a.pending, __ATOMIC_SEQ_CST);
		if (got > pending)
			fail_msg("reader saw %" PRIu64 " records, only %" PRIu64 " appended",
				 got, pending);
		reads++;
		if (__atomic_load_n(&sh->done, __ATOMIC_SEQ_CST))
			break;
		if (got > maxgot)
			maxgot = got;
		sleep_us(st_range(100, 3000));
	}
	st_skip_replay = false;
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFEXITED(status) && WEXITSTATUS(status))
		fail_msg("writer: %s", sh->msg);
	fprintf(stderr, "%u consistent reads while appending, up to %" PRIu64 " records\n",
		reads, maxgot);
	assert_true(maxgot > 0);
	st_rm_rf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_kill_at_every_io_call, st_t0_tmpfs, st_t1),
		cmocka_unit_test_setup_teardown(test_kill_at_failpoints, st_t0_tmpfs, st_t1),
		cmocka_unit_test_setup_teardown(test_random_kills, st_t0, st_t1),
		cmocka_unit_test_setup_teardown(test_reader_during_writer, st_t0, st_t1),
	};

	st_init("test_store_crash");
	trace = getenv("STORE_TEST_TRACE") != NULL;
	/* the checks in this process need no real fsync: nothing crashes the machine */
	store_io = st_io_fast();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
