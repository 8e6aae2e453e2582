// SPDX-License-Identifier: GPL-2.0-only
/*
 * The drain cycle of imastored against a FAKE securityfs: a temp directory
 * holding a regular file binary_runtime_measurements_sha256 whose "N\n"
 * command is emulated through the kernel_ops seam (the oldest N records are
 * cut from the file; ENOENT if there are fewer). Records are synthetic
 * ima-ng records with correct sha256 template digests. The crash tests fork
 * a child that SIGKILLs itself at each failpoint of trimming.md §7.
 *
 * The daemon's code comes from build/libimastored.a.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_util.h"

#include "chain_replay.h"
#include "bootchain.h"
#include "drain.h"
#include "kernel_ops.h"
#include "log.h"
#include "full_list.h"
#include "placement.h"
#include "store_io.h"

#define NREC 12000

static char tmp[64], sfs[128], listp[256], storedir[128];
static uint8_t *all;			/* every record the fake kernel will make */
static size_t all_off[NREC + 1];
/*
 * The fake kernel's state, in memory shared with forked children, so that a
 * deletion by a child that is killed right after is seen by the parent, as
 * a real kernel's would be: it holds [first, end) and has [s_first, s_end)
 * staged.
 */
static struct fake_kernel {
	uint64_t first, end, s_first, s_end;
} *fk;
#define k_first (fk->first)
#define k_end (fk->end)
#define s_first (fk->s_first)
#define s_end (fk->s_end)
static char stagedp[300];

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);	/* host order, like the kernel's list */
}

/* One ima-ng record: d-ng sha256 of the path, n-ng path. */
static size_t make_record(uint8_t *out, unsigned i)
{
	const struct hash_alg *a = hash_alg_by_name("sha256");
	struct hash_ctx *ctx;
	uint8_t data[512], *p = data;
	char path[64];
	size_t plen;

	if (i == 0)
		snprintf(path, sizeof(path), "boot_aggregate");
	else
		snprintf(path, sizeof(path), "/tmp/m/file-%u", i);
	plen = strlen(path) + 1;
	assert_int_equal(hash_ctx_new(a, &ctx), 0);
	put32(p, 8 + 32);
	memcpy(p + 4, "sha256:\0", 8);
	hash_ctx_digest(ctx, path, plen, p + 12);
	p += 4 + 8 + 32;
	put32(p, (uint32_t)plen);
	memcpy(p + 4, path, plen);
	p += 4 + plen;
	put32(out, 10);
	hash_ctx_digest(ctx, data, (size_t)(p - data), out + 4);
	hash_ctx_free(ctx);
	put32(out + 36, 6);
	memcpy(out + 40, "ima-ng", 6);
	put32(out + 46, (uint32_t)(p - data));
	memcpy(out + 50, data, (size_t)(p - data));
	return 50 + (size_t)(p - data);
}

static void write_staged(void)
{
	int fd = open(stagedp, O_WRONLY | O_CREAT | O_TRUNC, 0660);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, all + all_off[s_first], all_off[s_end] - all_off[s_first]),
			 (ssize_t)(all_off[s_end] - all_off[s_first]));
	close(fd);
}

static void write_kernel(void)
{
	char cpath[PATH_MAX + 32], num[32];
	int fd = open(listp, O_WRONLY | O_CREAT | O_TRUNC, 0660);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, all + all_off[k_first], all_off[k_end] - all_off[k_first]),
			 (ssize_t)(all_off[k_end] - all_off[k_first]));
	close(fd);
	snprintf(cpath, sizeof(cpath), "%s/runtime_measurements_count", sfs);
	fd = open(cpath, O_WRONLY | O_CREAT | O_TRUNC, 0440);
	assert_true(fd >= 0);
	snprintf(num, sizeof(num), "%llu\n", (unsigned long long)(k_end - k_first));
	assert_true(write(fd, num, strlen(num)) > 0);
	close(fd);
}

/* The kernel measures m more files. */
static void measure(uint64_t m)
{
	k_end = k_end + m > NREC ? NREC : k_end + m;
	write_kernel();
}

static int fake_delete(int fd, uint64_t n)
{
	(void)fd;
	if (!n)
		return -EINVAL;
	if (n > k_end - k_first)
		return -ENOENT;
	k_first += n;
	write_kernel();
	return 0;
}

/* A: the whole list to the staging area; D: free it (kernel-interface §3) */
static int fake_staged(int fd, char cmd)
{
	(void)fd;
	if (cmd == 'A') {
		if (s_end > s_first)
			return -EEXIST;
		if (k_end == k_first)
			return -ENOENT;
		s_first = k_first;
		s_end = k_end;
		k_first = k_end;
	} else {
		if (s_end == s_first)
			return -ENOENT;
		s_first = s_end;
	}
	write_staged();
	write_kernel();
	return 0;
}

static const struct kernel_ops fake_ops = {
	.open_list = kernel_real_open_list,
	.delete_oldest = fake_delete,
	.staged_command = fake_staged,
};

static int setup(void **state)
{
	uint8_t *p;

	(void)state;
	snprintf(tmp, sizeof(tmp), "/tmp/imastore-daemon-XXXXXX");
	assert_non_null(mkdtemp(tmp));
	snprintf(sfs, sizeof(sfs), "%s/ima", tmp);
	snprintf(storedir, sizeof(storedir), "%s/store", tmp);
	snprintf(listp, sizeof(listp), "%s/binary_runtime_measurements_sha256", sfs);
	assert_int_equal(mkdir(sfs, 0700), 0);
	setenv("IMASTORE_SECURITYFS", sfs, 1);
	all = malloc((size_t)NREC * 200);
	assert_non_null(all);
	p = all;
	for (unsigned i = 0; i < NREC; i++) {
		all_off[i] = (size_t)(p - all);
		p += make_record(p, i);
	}
	all_off[NREC] = (size_t)(p - all);
	fk = mmap(NULL, sizeof(*fk), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(fk != MAP_FAILED);
	memset(fk, 0, sizeof(*fk));
	kernel_ops = &fake_ops;
	dlog_set_level(LOG_P_WARNING);
	return 0;
}

static int teardown(void **state)
{
	char cmd[PATH_MAX + 16];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	assert_int_equal(system(cmd), 0);
	free(all);
	munmap(fk, sizeof(*fk));
	return 0;
}

struct rig {
	struct store *s;
	struct chain *c;
	char boot[STORE_ID_MAX];
	struct drain d;
	struct drain_policy pol;
};

static void rig_open(struct rig *r)
{
	struct boot_found found;
	struct kernel_info ki;
	struct errmsg em = { "" };

	memset(r, 0, sizeof(*r));
	assert_int_equal(kernel_detect(NULL, &ki, &em), 0);
	assert_true(ki.mode == KMODE_N || ki.mode == KMODE_AD);
	assert_int_equal(store_open(&r->s, storedir, STORE_WRITE | STORE_CREATE, &em), 0);
	assert_int_equal(store_current_boot(r->boot, sizeof(r->boot), &em), 0);
	if (boot_chain_open(r->s, &ki, r->boot, &r->c, &found, &em))
		fail_msg("%s", em.text);
	drain_init(&r->d, r->c, r->boot, &ki, chain_list_bank(r->c));
	if (found.foreign)
		drain_note_foreign(&r->d, found.why);
	r->pol.keep = 10;
	r->pol.trim_records = 100;
}

static void rig_close(struct rig *r)
{
	drain_free(&r->d);
	chain_close(r->c);
	store_close(r->s);
}

static int cycle(struct rig *r, struct drain_stats *st)
{
	struct errmsg em = { "" };
	int ret = drain_cycle(&r->d, &r->pol, st, &em);

	if (ret)
		print_message("cycle: %s\n", em.text);
	return ret;
}

/* The store holds exactly records 0..k_end-1, each once, byte for byte. */
static void check_store(struct rig *r)
{
	struct chain_iter *it;
	struct ima_record rec;
	struct errmsg em = { "" };
	struct replay *rp = NULL;
	uint64_t i = 0, first, alt;

	assert_int_equal(chain_durable(r->c), k_end);
	assert_int_equal(chain_iter_open(r->c, 0, &it, &em), 0);
	while (chain_iter_next(it, &rec, &em) > 0) {
		assert_int_equal(rec.raw_len, all_off[i + 1] - all_off[i]);
		assert_memory_equal(rec.raw, all + all_off[i], rec.raw_len);
		i++;
	}
	chain_iter_free(it);
	assert_int_equal(i, k_end);
	assert_int_equal(chain_replay(r->c, k_end, true, false, &rp, &em), 0);
	replay_free(rp);
	/* readers (export) place the kernel's list where it really starts */
	assert_int_equal(place_candidates(r->c, r->boot, &first, &alt, &em), 0);
	assert_int_equal(first, k_first);
}

static void test_drain_cycles(void **state)
{
	struct drain_stats st;
	struct rig r;

	(void)state;
	measure(50);
	rig_open(&r);
	/* below keep + trim_records: store, do not delete */
	assert_int_equal(cycle(&r, &st), 0);
	assert_int_equal(st.appended, 50);
	assert_int_equal(st.deleted, 0);
	assert_int_equal(k_first, 0);
	measure(100);
	assert_int_equal(cycle(&r, &st), 0);
	assert_int_equal(st.appended, 100);
	assert_int_equal(st.deleted, 140);
	assert_int_equal(k_end - k_first, 10);
	for (int i = 0; i < 10; i++) {
		measure(37 + (uint64_t)i * 13);
		assert_int_equal(cycle(&r, &st), 0);
	}
	/* nothing new: a cycle compares the kept records and does nothing */
	assert_int_equal(cycle(&r, &st), 0);
	assert_int_equal(st.appended, 0);
	{
		char buf[2048], want[64];

		assert_int_equal(store_status_read(r.s, buf, sizeof(buf)), 0);
		snprintf(want, sizeof(want), "stored=%llu\n", (unsigned long long)k_end);
		assert_non_null(strstr(buf, want));
		assert_non_null(strstr(buf, "foreign_trimmer=no\n"));
		assert_non_null(strstr(buf, "trimming=on\n"));
	}
	check_store(&r);
	rig_close(&r);
	/* a restart finds the kernel's head from trims.log */
	measure(200);
	rig_open(&r);
	assert_int_equal(cycle(&r, &st), 0);
	assert_int_equal(st.appended, 200);
	assert_int_equal(k_end - k_first, 10);
	check_store(&r);
	rig_close(&r);
}

static void set_boot(const char *id)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/boot_id", tmp);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "%s\n", id);
	fclose(f);
	setenv("IMASTORE_BOOT_ID_FILE", path, 1);
}

/*
 * kexec: the next kernel's list begins with the records the old one still
 * held, and the chain goes on (store-format.md §9); a reboot starts a new
 * chain.
 */
static void test_kexec_continues_the_chain(void **state)
{
	struct drain_stats st;
	struct rig r;
	uint64_t held;

	(void)state;
	set_boot("11111111-1111-1111-1111-111111111111");
	measure(400);
	rig_open(&r);
	assert_int_equal(cycle(&r, &st), 0);
	assert_true(k_first > 0);
	held = k_first;
	rig_close(&r);
	/* kexec: same kernel list (its head), then more records */
	set_boot("22222222-2222-2222-2222-222222222222");
	measure(300);
	rig_open(&r);
	assert_string_equal(chain_meta(r.c)->chain, "11111111-1111-1111-1111-111111111111");
	assert_int_equal(chain_meta(r.c)->nboots, 2);
	assert_int_equal(chain_meta(r.c)->boots[1].first_index, held);
	assert_int_equal(cycle(&r, &st), 0);
	assert_int_equal(st.appended, 300);	/* nothing stored twice */
	check_store(&r);
	rig_close(&r);
	/* a reboot: the list starts again at boot_aggregate: a new chain */
	set_boot("33333333-3333-3333-3333-333333333333");
	k_first = 0;
	k_end = 0;
	measure(50);
	rig_open(&r);
	assert_string_equal(chain_meta(r.c)->chain, "33333333-3333-3333-3333-333333333333");
	assert_int_equal(cycle(&r, &st), 0);
	check_store(&r);
	rig_close(&r);
	unsetenv("IMASTORE_BOOT_ID_FILE");
}

/* A store on a full disk: nothing new is durable, so nothing is deleted. */
static bool disk_full;
static struct store_io full_io;

static ssize_t full_pwrite(int fd, const void *buf, size_t len, off_t off)
{
	if (disk_full) {
		errno = ENOSPC;
		return -1;
	}
	return store_io_default.pwrite(fd, buf, len, off);
}

static void test_full_disk_stops_trimming(void **state)
{
	struct drain_stats st;
	struct rig r;
	uint64_t first, durable;

	(void)state;
	full_io = store_io_default;
	full_io.pwrite = full_pwrite;
	measure(50);
	rig_open(&r);
	assert_int_equal(cycle(&r, &st), 0);
	store_io = &full_io;
	disk_full = true;
	measure(300);
	first = k_first;
	durable = chain_durable(r.c);
	assert_int_equal(cycle(&r, &st), -ENOSPC);
	assert_int_equal(k_first, first);		/* nothing deleted */
	assert_int_equal(chain_durable(r.c), durable);	/* nothing new durable */
	assert_int_equal(cycle(&r, &st), -ENOSPC);
	assert_int_equal(k_first, first);
	/* space returns: the same records are stored, then trimmed */
	disk_full = false;
	assert_int_equal(cycle(&r, &st), 0);
	assert_int_equal(st.appended, 300);
	assert_true(k_first > first);
	check_store(&r);
	store_io = &store_io_default;
	rig_close(&r);
}

/* The A/D flavor (trimming.md §5), a leftover batch stored exactly once. */
static void test_ad_flavor(void **state)
{
	struct drain_stats st;
	struct rig r;

	(void)state;
	snprintf(stagedp, sizeof(stagedp), "%s_staged", listp);
	s_first = s_end = 0;
	write_staged();
	measure(200);
	rig_open(&r);
	r.d.use_ad = true;
	assert_int_equal(cycle(&r, &st), 0);
	assert_int_equal(st.appended, 200);
	assert_int_equal(st.deleted, 200);
	assert_int_equal(s_end - s_first, 0);	/* D freed the batch */
	assert_int_equal(k_end - k_first, 0);
	check_store(&r);
	/* below the threshold: stored from the current list, nothing staged */
	measure(20);
	assert_int_equal(cycle(&r, &st), 0);
	assert_int_equal(st.appended, 20);
	assert_int_equal(st.deleted, 0);
	assert_int_equal(k_end - k_first, 20);
	check_store(&r);
	rig_close(&r);
	/* a crash left a batch staged: the restart stores it once, then D */
	measure(150);
	assert_int_equal(fake_staged(-1, 'A'), 0);
	rig_open(&r);
	r.d.use_ad = true;
	assert_int_equal(cycle(&r, &st), 0);
	assert_int_equal(st.appended, 150);	/* the 20 were stored already */
	assert_int_equal(s_end - s_first, 0);
	check_store(&r);
	rig_close(&r);
}

static void test_foreign_trimmer(void **state)
{
	struct drain_stats st;
	struct rig r;

	(void)state;
	measure(150);
	rig_open(&r);
	assert_int_equal(cycle(&r, &st), 0);
	assert_int_equal(k_end - k_first, 10);
	/* someone deletes records we have not seen: they are lost */
	measure(50);
	k_first += 30;
	write_kernel();
	assert_int_equal(cycle(&r, &st), 0);
	assert_true(r.d.foreign);
	measure(200);
	assert_int_equal(cycle(&r, &st), 0);
	assert_int_equal(st.deleted, 0);	/* never trims again */
	{
		/* and says so where `imastore status` looks */
		char buf[2048];

		assert_int_equal(store_status_read(r.s, buf, sizeof(buf)), 0);
		assert_non_null(strstr(buf, "mode=N\n"));
		assert_non_null(strstr(buf, "foreign_trimmer=yes\n"));
		assert_non_null(strstr(buf, "trimming=off (foreign trimmer)\n"));
		assert_non_null(strstr(buf, "lost=after record 149 of chain "));
	}
	/*
	 * Nothing is appended with a gap (trimming.md §3.2.4): the linked chain
	 * keeps its 150 records; the kernel's records from 170 on are in a new
	 * chain, not linked, from its index 0.
	 */
	{
		const struct chain_meta *m = chain_meta(r.d.c);
		struct chain_iter *it;
		struct ima_record rec;
		struct errmsg em = { "" };
		uint64_t i = 170;
		char after[STORE_ID_MAX + 8];

		assert_int_equal(chain_durable(r.c), 150);
		assert_ptr_not_equal(r.d.c, r.c);
		assert_string_equal(m->origin, "unlinked");
		snprintf(after, sizeof(after), "%s@150", chain_meta(r.c)->chain);
		assert_string_equal(m->after, after);
		assert_int_equal(chain_durable(r.d.c), k_end - 170);
		assert_int_equal(chain_iter_open(r.d.c, 0, &it, &em), 0);
		while (chain_iter_next(it, &rec, &em) > 0) {
			assert_memory_equal(rec.raw, all + all_off[i], rec.raw_len);
			i++;
		}
		chain_iter_free(it);
		assert_int_equal(i, k_end);
	}
	rig_close(&r);
}

static const char *const failpoints[] = {
	"after-read", "after-append", "commit-after-write", "commit-after-fsync",
	"after-intended", "after-trim-write", "after-done",
};

static void test_crash_points(void **state)
{
	struct drain_stats st;
	struct rig r;

	(void)state;
	for (size_t f = 0; f < sizeof(failpoints) / sizeof(failpoints[0]); f++) {
		int status;
		pid_t pid;

		measure(120 + f);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			char fp[64];

			snprintf(fp, sizeof(fp), "%s:kill", failpoints[f]);
			setenv("IMASTORE_FAILPOINT", fp, 1);
			rig_open(&r);
			cycle(&r, &st);
			_exit(0);
		}
		assert_int_equal(waitpid(pid, &status, 0), pid);
		if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
			fail_msg("failpoint %s: the child was not killed there", failpoints[f]);
		/* the fake kernel's state lives in this process: redo a trim-write */
		if (f == 5 || f == 6) {
			uint64_t first, alt;
			struct errmsg em = { "" };

			rig_open(&r);
			assert_int_equal(place_candidates(r.c, r.boot, &first, &alt, &em), 0);
			if (first > k_first) {
				k_first = first;
				write_kernel();
			}
			rig_close(&r);
		}
		rig_open(&r);
		assert_int_equal(cycle(&r, &st), 0);
		check_store(&r);
		assert_false(r.d.foreign);
		rig_close(&r);
	}
}

/*
 * trimming.md §1 under SIGKILL at random moments: a child runs drain cycles
 * while the kernel measures; it is killed after a random delay; the next
 * imastored finds every record stored exactly once, in order, replayable.
 */
static void test_random_kills(void **state)
{
	struct drain_stats st;
	struct rig r;
	unsigned seed = (unsigned)getpid(), kills = 0;

	(void)state;
	print_message("random kills: seed %u\n", seed);
	srand(seed);
	for (int i = 0; i < 200; i++) {
		int status;
		pid_t pid;

		measure(1 + (uint64_t)(rand() % 40));
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			rig_open(&r);
			for (;;) {
				cycle(&r, &st);
				measure(1);	/* the kernel goes on measuring */
			}
		}
		usleep((useconds_t)(rand() % 4000));
		kill(pid, SIGKILL);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		kills += WIFSIGNALED(status);
		/* the list file is rewritten from the shared state, as it stood */
		write_kernel();
		rig_open(&r);
		assert_int_equal(cycle(&r, &st), 0);
		check_store(&r);
		assert_false(r.d.foreign);
		rig_close(&r);
		if (k_end >= NREC - 200)
			break;
	}
	print_message("random kills: %u kills, %llu records\n", kills,
		      (unsigned long long)k_end);
	assert_true(kills >= 100);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_drain_cycles, setup, teardown),
		cmocka_unit_test_setup_teardown(test_foreign_trimmer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_disk_stops_trimming, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ad_flavor, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kexec_continues_the_chain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_points, setup, teardown),
		cmocka_unit_test_setup_teardown(test_random_kills, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
