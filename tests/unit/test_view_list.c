// SPDX-License-Identifier: GPL-2.0-only
/*
 * The view's list files (user/view/view_list.c) on a store of 20,000
 * records over many small segments: every byte at every offset is right
 * (whole file in odd chunk sizes, random offsets, by several cursors at
 * once), the (offset, index) cache stays small while its stride grows, a
 * read at the end after the writer appended costs only the new records
 * (no scan from 0), and damage gives -EBADMSG for its range only.
 */
#include "test_util.h"
#include "store_test_util.h"

#include "full_list.h"
#include "list_ascii.h"
#include "view_list.h"

#define N 20000u
#define MORE 100u

static char dir[PATH_MAX];

/* The expected bytes of a file: records [0, n) as the view must show them. */
static uint8_t *expect(const struct chain_meta *m, const struct hash_alg *bank,
		       bool ascii, uint64_t n, size_t *len)
{
	size_t cap = 1 << 20, used = 0;
	uint8_t *out = malloc(cap), rb[ST_REC_MAX + 64];
	char line[4 * ST_REC_MAX];
	struct hash_ctx *ctx = NULL;
	struct ima_record rec, res;
	struct errmsg em = { "" };

	assert_non_null(out);
	for (uint64_t i = 0; i < n; i++) {
		const void *p;
		size_t l;

		assert_int_equal(st_parse(i, &rec, &em), 0);
		assert_int_equal(record_for_bank(&rec, m, bank, &ctx, rb, &res, &em), 0);
		if (ascii) {
			long k = list_ascii_format(&res, NULL, line, sizeof(line), &em);

			assert_true(k > 0);
			p = line;
			l = (size_t)k;
		} else {
			p = res.raw;
			l = res.raw_len;
		}
		if (used + l > cap) {
			cap = (used + l) * 2;
			out = realloc(out, cap);
			assert_non_null(out);
		}
		memcpy(out + used, p, l);
		used += l;
	}
	hash_ctx_free(ctx);
	*len = used;
	return out;
}

static void make_store(uint64_t to)
{
	struct store *s;
	struct chain *c;
	struct errmsg em = { "" };
	uint64_t from = 0;

	if (!dir[0])
		st_tmpdir(dir, sizeof(dir), "viewlist");
	else
		from = to - MORE;
	assert_int_equal(st_open_writer(dir, 256 << 10, !from, &s, &c, &em), 0);
	for (uint64_t i = from; i < to; i += 500) {
		assert_int_equal(st_append_range(c, i, i + 500 < to ? i + 500 : to, &em), 0);
		assert_int_equal(chain_commit(c, &em), 0);
	}
	st_close(s, c);
}

static struct vlist *open_view(struct store **s)
{
	struct chain *c;
	struct vlist *v;
	struct errmsg em = { "" };

	assert_int_equal(store_open(s, dir, 0, &em), 0);
	assert_int_equal(store_chain_open(*s, ST_CHAIN, &c, &em), 0);
	assert_int_equal(vlist_open(&v, c, NULL, &em), 0);
	return v;
}

static unsigned bank_index(struct vlist *v, const char *name)
{
	for (unsigned i = 0; i < vlist_nbanks(v); i++)
		if (!strcmp(vlist_bank(v, i)->name, name))
			return i;
	fail_msg("no bank %s", name);
	return 0;
}

/* Read the whole file through cur in chunks of `chunk`, compare. */
static void read_all(struct vl_cursor *cur, const uint8_t *want, size_t len, size_t chunk)
{
	uint8_t *buf = malloc(chunk);
	struct errmsg em = { "" };
	size_t off = 0;
	ssize_t n;

	assert_non_null(buf);
	while ((n = vl_read(cur, (char *)buf, chunk, off, &em)) > 0) {
		assert_true(off + (size_t)n <= len);
		assert_memory_equal(buf, want + off, (size_t)n);
		off += (size_t)n;
	}
	assert_int_equal(n, 0);
	assert_int_equal(off, len);
	free(buf);
}

static void test_every_offset(void **state)
{
	static const struct { const char *bank; bool ascii; } files[] = {
		{ "sha256", false }, { "sha1", false }, { "sha256", true }, { "sha1", true },
	};
	struct store *s;
	struct vlist *v;

	(void)state;
	make_store(N);
	v = open_view(&s);
	assert_int_equal(vlist_nbanks(v), 2);
	for (size_t k = 0; k < sizeof(files) / sizeof(files[0]); k++) {
		struct vl_file *f = vlist_file(v, bank_index(v, files[k].bank), files[k].ascii);
		struct vl_cursor *a, *b;
		struct vl_stats st;
		struct errmsg em = { "" };
		size_t len;
		uint8_t *want = expect(vlist_meta(v), hash_alg_by_name(files[k].bank),
				       files[k].ascii, N, &len);
		char buf[70000];

		assert_int_equal(vl_cursor_new(f, &a), 0);
		assert_int_equal(vl_cursor_new(f, &b), 0);
		read_all(a, want, len, 131072);
		read_all(b, want, len, 4093);
		vl_file_stats(f, &st);
		assert_true(st.cache_entries <= 256);
		assert_true(st.cache_stride > 64);	/* it grew, memory did not */
		/* random offsets and sizes, two cursors interleaved */
		for (int i = 0; i < 300; i++) {
			struct vl_cursor *c = i % 2 ? a : b;
			size_t off = (size_t)(st_mix((uint64_t)i * 7919 + k) % (len + 100));
			size_t l = 1 + (size_t)(st_mix((uint64_t)i * 104729 + k) % sizeof(buf));
			ssize_t n = vl_read(c, buf, l, off, &em);
			size_t exp = off >= len ? 0 : len - off < l ? len - off : l;

			assert_int_equal(n, (ssize_t)exp);
			if (exp)
				assert_memory_equal(buf, want + off, exp);
		}
		vl_cursor_free(a);
		vl_cursor_free(b);
		free(want);
	}
	assert_int_equal(vlist_count(v), N);
	vlist_free(v);
	store_close(s);
}

/* A read at the end after the writer appended: the new records only. */
static void test_end_read(void **state)
{
	struct store *s;
	struct vlist *v;
	struct vl_cursor *cur, *fresh;
	struct vl_stats st0, st1;
	struct errmsg em = { "" };
	struct vl_file *f;
	size_t len, len2;
	uint8_t *want, *want2;
	char buf[131072];
	ssize_t n;
	uint64_t viol;

	(void)state;
	v = open_view(&s);
	f = vlist_file(v, bank_index(v, "sha256"), true);
	want = expect(vlist_meta(v), hash_alg_by_name("sha256"), true, N, &len);
	assert_int_equal(vl_cursor_new(f, &cur), 0);
	read_all(cur, want, len, sizeof(buf));
	assert_int_equal(vlist_violations(v, &viol, &em), 0);
	assert_int_equal(viol, (N - 1) / 97);
	make_store(N + MORE);
	want2 = expect(vlist_meta(v), hash_alg_by_name("sha256"), true, N + MORE, &len2);
	vl_file_stats(f, &st0);
	n = vl_read(cur, buf, sizeof(buf), len, &em);
	vl_file_stats(f, &st1);
	assert_int_equal(n, (ssize_t)(len2 - len));
	assert_memory_equal(buf, want2 + len, (size_t)n);
	assert_int_equal(st1.records_skipped, st0.records_skipped);	/* no scan */
	assert_int_equal(vlist_count(v), N + MORE);
	/* a new reader where the file ended before (Keylime's next read) */
	assert_int_equal(vl_cursor_new(f, &fresh), 0);
	vl_file_stats(f, &st0);
	n = vl_read(fresh, buf, sizeof(buf), len, &em);
	vl_file_stats(f, &st1);
	assert_int_equal(n, (ssize_t)(len2 - len));
	assert_memory_equal(buf, want2 + len, (size_t)n);
	assert_int_equal(st1.records_skipped, st0.records_skipped);
	/* ... anywhere else: from a cached pair, at most a stride before it */
	n = vl_read(fresh, buf, sizeof(buf), len2 - 50, &em);
	vl_file_stats(f, &st0);
	assert_int_equal(n, 50);
	assert_memory_equal(buf, want2 + len2 - 50, 50);
	assert_true(st0.records_skipped - st1.records_skipped < st0.cache_stride);
	assert_int_equal(vlist_violations(v, &viol, &em), 0);
	assert_int_equal(viol, (N + MORE - 1) / 97);
	vl_cursor_free(fresh);
	vl_cursor_free(cur);
	free(want);
	free(want2);
	vlist_free(v);
	store_close(s);
}

/* Damage in a sealed segment: -EBADMSG from there, the bytes before served. */
static void test_damage(void **state)
{
	char seg[PATH_MAX + 200];
	struct store *s;
	struct vlist *v;
	struct vl_cursor *cur;
	struct errmsg em = { "" };
	struct vl_file *f;
	size_t len, good = 0;
	uint8_t *want, *buf = malloc(1 << 20);
	ssize_t n;
	int fd;

	(void)state;
	assert_non_null(buf);
	snprintf(seg, sizeof(seg), "%s/chains/%s/seg-0000000000000000.log", dir, ST_CHAIN);
	fd = open(seg, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "X", 1, 100000), 1);
	close(fd);
	v = open_view(&s);
	f = vlist_file(v, bank_index(v, "sha256"), false);
	want = expect(vlist_meta(v), hash_alg_by_name("sha256"), false, N + MORE, &len);
	assert_int_equal(vl_cursor_new(f, &cur), 0);
	while ((n = vl_read(cur, (char *)buf, 4096, good, &em)) > 0) {
		assert_memory_equal(buf, want + good, (size_t)n);
		good += (size_t)n;
	}
	assert_int_equal(n, -EBADMSG);
	assert_non_null(strstr(em.text, "seg-0000000000000000.log is corrupt at byte offset"));
	assert_true(good > 50000 && good < 100000);
	n = vl_read(cur, (char *)buf, 1000, 10, &em);
	assert_int_equal(n, 1000);
	assert_memory_equal(buf, want + 10, 1000);
	vl_cursor_free(cur);
	free(want);
	free(buf);
	vlist_free(v);
	store_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_offset),
		cmocka_unit_test(test_end_read),
		cmocka_unit_test(test_damage),
	};
	int ret = cmocka_run_group_tests(tests, NULL, NULL);

	if (dir[0]) {
		char cmd[PATH_MAX + 16];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd))
			ret = 1;
	}
	return ret;
}
