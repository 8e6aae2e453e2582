// SPDX-License-Identifier: GPL-2.0-only
/*
 * The store: format test vector, append/commit/read back, index, segment
 * roll, checkpoints, trims, torn tails, corruption, locking, permissions.
 * Crash, power-cut and fault-injection tests are in test_store_*.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "test_util.h"

#include "chain_replay.h"
#include "frame.h"
#include "full_list.h"
#include "store.h"

static char dir[64];

static int setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/imastore-test-store.XXXXXX");
	assert_non_null(mkdtemp(dir));
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

/* An ima-ng record, sha256 bank, little-endian, like the kernel's. */
static size_t mk_rec(uint8_t *out, unsigned k)
{
	uint8_t data[256];
	char path[64];
	size_t dl = 0, pos = 0;
	unsigned int len;

	snprintf(path, sizeof(path), k ? "/usr/bin/prog-%u" : "boot_aggregate", k);
	ima_put_u32(data, 40, true);
	memcpy(data + 4, "sha256:", 8);
	memset(data + 12, (int)k, 32);
	dl = 44;
	ima_put_u32(data + dl, (uint32_t)strlen(path) + 1, true);
	memcpy(data + dl + 4, path, strlen(path) + 1);
	dl += 4 + strlen(path) + 1;
	ima_put_u32(out, 10, true);
	EVP_Digest(data, dl, out + 4, &len, EVP_sha256(), NULL);
	pos = 36;
	ima_put_u32(out + pos, 6, true);
	memcpy(out + pos + 4, "ima-ng", 6);
	pos += 10;
	ima_put_u32(out + pos, (uint32_t)dl, true);
	memcpy(out + pos + 4, data, dl);
	return pos + 4 + dl;
}

static void rec_of(struct ima_record *rec, uint8_t *buf, unsigned k)
{
	size_t n = mk_rec(buf, k);

	assert_int_equal(ima_record_parse(buf, n, 32, LIST_ENDIAN_LITTLE, k, 0, rec, NULL), n);
}

static struct chain_meta meta_for(const char *id)
{
	struct chain_meta m;

	memset(&m, 0, sizeof(m));
	snprintf(m.chain, sizeof(m.chain), "%s", id);
	m.bank = hash_alg_by_name("sha256");
	m.little_endian = true;
	m.nbanks = 2;
	m.banks[0] = hash_alg_by_name("sha1");
	m.banks[1] = hash_alg_by_name("sha256");
	m.nboots = 1;
	snprintf(m.boots[0].id, sizeof(m.boots[0].id), "%s", id);
	m.created = 1700000000;
	return m;
}

static const char *ID = "0b1d2c3e-4f50-6172-8394-a5b6c7d8e9f0";

static struct chain *create(struct store **s, unsigned n)
{
	struct chain_meta m = meta_for(ID);
	struct chain *c;
	struct errmsg em = { "" };
	uint8_t buf[512];

	assert_int_equal(store_open(s, dir, STORE_WRITE | STORE_CREATE, &em), 0);
	assert_int_equal(store_chain_create(*s, &m, &c, &em), 0);
	for (unsigned k = 0; k < n; k++) {
		struct ima_record rec;

		rec_of(&rec, buf, k);
		assert_int_equal(chain_append(c, &rec, &em), 0);
	}
	return c;
}

static void read_back(struct chain *c, uint64_t from, uint64_t n)
{
	struct chain_iter *it;
	struct ima_record rec;
	struct errmsg em = { "" };
	uint8_t buf[512];
	uint64_t k = from;
	int r;

	assert_int_equal(chain_iter_open(c, from, &it, &em), 0);
	while ((r = chain_iter_next(it, &rec, &em)) > 0) {
		size_t len = mk_rec(buf, (unsigned)k);

		assert_int_equal(rec.index, k);
		assert_int_equal(rec.raw_len, len);
		assert_memory_equal(rec.raw, buf, len);
		k++;
	}
	if (r < 0)
		fail_msg("%s", em.text);
	assert_int_equal(k, n);
	chain_iter_free(it);
}

static void read_file(const char *rel, uint8_t **out, size_t *len)
{
	char path[256];
	struct stat st;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	*out = malloc((size_t)st.st_size + 1);
	assert_int_equal(read(fd, *out, (size_t)st.st_size), st.st_size);
	*len = (size_t)st.st_size;
	close(fd);
}

/* CRC-32C bit by bit: an oracle independent of the library's ISA-L call */
static uint32_t crc32c(uint32_t crc, const uint8_t *p, size_t n)
{
	crc = ~crc;
	while (n--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1)));
	}
	return ~crc;
}

static uint32_t crc_hdr(const uint8_t *f, size_t plen)
{
	return crc32c(0, f + 8, 16 + plen);
}

/* The exact bytes of docs/store-format.md §3 and §5. */
static void test_format_vector(void **state)
{
	struct store *s;
	struct chain *c = create(&s, 2);
	struct errmsg em = { "" };
	uint8_t *seg, r0[512], r1[512];
	size_t len, l0 = mk_rec(r0, 0), l1 = mk_rec(r1, 1), pos;
	char rel[128];

	(void)state;
	assert_int_equal(chain_commit(c, &em), 0);
	snprintf(rel, sizeof(rel), "chains/%s/seg-0000000000000000.log", ID);
	read_file(rel, &seg, &len);
	assert_int_equal(len, 56 + 24 + l0 + 24 + l1 + 24 + 24);
	/* IMAS: magic, payload 32, index 0, crc, 0; format 1, sha256, 32, LE */
	assert_memory_equal(seg, "IMAS", 4);
	assert_int_equal(get_le32(seg + 4), crc_hdr(seg, 32));
	assert_int_equal(get_le32(seg + 8), 32);
	assert_int_equal(get_le32(seg + 12), 0);
	assert_int_equal(get_le64(seg + 16), 0);
	assert_int_equal(get_le32(seg + 24), 1);
	assert_int_equal(get_le16(seg + 28), 0x000b);
	assert_int_equal(get_le16(seg + 30), 32);
	assert_int_equal(get_le32(seg + 32), 1);
	assert_int_equal(seg[40], 0x0b);
	assert_int_equal(seg[55], 0xf0);	/* the chain id as a UUID */
	/* IMAR frames hold the kernel's bytes */
	pos = 56;
	assert_memory_equal(seg + pos, "IMAR", 4);
	assert_int_equal(get_le32(seg + pos + 8), l0);
	assert_int_equal(get_le64(seg + pos + 16), 0);
	assert_int_equal(get_le32(seg + pos + 4), crc_hdr(seg + pos, l0));
	assert_memory_equal(seg + pos + 24, r0, l0);
	pos += 24 + l0;
	assert_int_equal(get_le64(seg + pos + 16), 1);
	assert_memory_equal(seg + pos + 24, r1, l1);
	pos += 24 + l1;
	/* IMAC: next index 2, group from 56, crc of the group */
	assert_memory_equal(seg + pos, "IMAC", 4);
	assert_int_equal(get_le32(seg + pos + 8), 24);
	assert_int_equal(get_le64(seg + pos + 16), 2);
	assert_int_equal(get_le64(seg + pos + 32), 56);
	{
		uint8_t crcs[8];

		memcpy(crcs, seg + 56 + 4, 4);
		memcpy(crcs + 4, seg + 56 + 24 + l0 + 4, 4);
		assert_int_equal(get_le32(seg + pos + 40), crc32c(0, crcs, 8));
		assert_int_equal(crc32c(0, (const uint8_t *)"123456789", 9), 0xe3069283);
	}
	assert_int_equal(get_le32(seg + pos + 4), crc_hdr(seg + pos, 24));
	free(seg);
	chain_close(c);
	store_close(s);
}

static void test_append_reopen_read(void **state)
{
	struct store *s, *r;
	struct chain *c, *rc;
	struct errmsg em = { "" };

	(void)state;
	c = create(&s, 3000);
	assert_int_equal(chain_durable(c), 0);
	assert_int_equal(chain_count(c), 3000);
	assert_int_equal(chain_commit(c, &em), 0);
	assert_int_equal(chain_durable(c), 3000);
	/* a reader sees the durable prefix, by boot id or "current"-less id */
	assert_int_equal(store_open(&r, dir, 0, &em), 0);
	assert_int_equal(store_chain_open(r, ID, &rc, &em), 0);
	assert_int_equal(chain_durable(rc), 3000);
	read_back(rc, 0, 3000);
	read_back(rc, 2049, 3000);	/* through the index */
	read_back(rc, 3000, 3000);
	chain_close(rc);
	store_close(r);
	chain_close(c);
	store_close(s);
	/* the writer reopens where it was */
	assert_int_equal(store_open(&s, dir, STORE_WRITE, &em), 0);
	assert_int_equal(store_chain_open(s, ID, &c, &em), 0);
	assert_int_equal(chain_durable(c), 3000);
	chain_close(c);
	store_close(s);
}

static void test_uncommitted_is_invisible(void **state)
{
	struct store *s, *r;
	struct chain *c = create(&s, 10), *rc;
	struct errmsg em = { "" };
	uint8_t buf[512];
	struct ima_record rec;

	(void)state;
	assert_int_equal(chain_commit(c, &em), 0);
	for (unsigned k = 10; k < 20; k++) {
		rec_of(&rec, buf, k);
		assert_int_equal(chain_append(c, &rec, &em), 0);
	}
	assert_int_equal(store_open(&r, dir, 0, &em), 0);
	assert_int_equal(store_chain_open(r, ID, &rc, &em), 0);
	assert_int_equal(chain_durable(rc), 10);
	read_back(rc, 0, 10);
	chain_close(rc);
	store_close(r);
	chain_close(c);
	store_close(s);
}

static void test_segment_roll(void **state)
{
	struct store *s, *r;
	struct chain *c, *rc;
	struct errmsg em = { "" };
	uint8_t buf[512];
	struct ima_record rec;
	struct stat st;
	char path[256];

	(void)state;
	assert_int_equal(store_open(&s, dir, STORE_WRITE | STORE_CREATE, &em), 0);
	store_set_segment_size(s, 4096);
	{
		struct chain_meta m = meta_for(ID);

		assert_int_equal(store_chain_create(s, &m, &c, &em), 0);
	}
	for (unsigned k = 0; k < 500; k++) {
		rec_of(&rec, buf, k);
		assert_int_equal(chain_append(c, &rec, &em), 0);
		if (k % 7 == 6)
			assert_int_equal(chain_commit(c, &em), 0);
	}
	assert_int_equal(chain_commit(c, &em), 0);
	snprintf(path, sizeof(path), "%s/chains/%s/seg-0000000000000000.log", dir, ID);
	assert_int_equal(stat(path, &st), 0);
	assert_true(st.st_size < 4096 + 8 * 200);	/* it rolled */
	assert_int_equal(store_open(&r, dir, 0, &em), 0);
	assert_int_equal(store_chain_open(r, ID, &rc, &em), 0);
	assert_int_equal(chain_durable(rc), 500);
	read_back(rc, 0, 500);
	read_back(rc, 333, 500);
	chain_close(rc);
	store_close(r);
	chain_close(c);
	store_close(s);
}

static void seg_path(char *out, size_t len)
{
	snprintf(out, len, "%s/chains/%s/seg-0000000000000000.log", dir, ID);
}

static void test_torn_tail_is_cut(void **state)
{
	struct store *s;
	struct chain *c = create(&s, 5);
	struct errmsg em = { "" };
	char path[256];
	struct stat st;
	off_t committed;
	int fd;

	(void)state;
	assert_int_equal(chain_commit(c, &em), 0);
	chain_close(c);
	store_close(s);
	seg_path(path, sizeof(path));
	assert_int_equal(stat(path, &st), 0);
	committed = st.st_size;
	/* half a frame after the last commit, as a power cut may leave */
	fd = open(path, O_WRONLY | O_APPEND);
	assert_int_equal(write(fd, "IMAR\x40\x00\x00\x00garbage", 15), 15);
	close(fd);
	assert_int_equal(store_open(&s, dir, STORE_WRITE, &em), 0);
	assert_int_equal(store_chain_open(s, ID, &c, &em), 0);
	assert_int_equal(chain_durable(c), 5);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, committed);
	chain_close(c);
	store_close(s);
}

static void test_corruption_is_reported(void **state)
{
	struct store *s;
	struct chain *c = create(&s, 3);
	struct errmsg em = { "" };
	uint8_t buf[512];
	struct ima_record rec;
	char path[256];
	int fd;

	(void)state;
	assert_int_equal(chain_commit(c, &em), 0);
	rec_of(&rec, buf, 3);
	assert_int_equal(chain_append(c, &rec, &em), 0);
	assert_int_equal(chain_commit(c, &em), 0);
	chain_close(c);
	store_close(s);
	/* flip a byte inside record 1, a group that a later commit follows */
	seg_path(path, sizeof(path));
	fd = open(path, O_RDWR);
	assert_int_equal(pwrite(fd, "X", 1, 56 + 24 + 120 + 24 + 30), 1);
	close(fd);
	assert_int_equal(store_open(&s, dir, STORE_WRITE, &em), 0);
	assert_int_equal(store_chain_open(s, ID, &c, &em), -EBADMSG);
	assert_non_null(strstr(em.text, "corrupt at byte offset"));
	assert_non_null(strstr(em.text, "seg-0000000000000000.log"));
	store_close(s);
}

static void test_checkpoints_and_trims(void **state)
{
	struct store *s;
	struct chain *c = create(&s, 100);
	struct errmsg em = { "" };
	struct replay_state st, got;
	enum trim_state ts;
	uint64_t first;

	(void)state;
	memset(&st, 0, sizeof(st));
	st.next_index = 100;
	st.pcr_used = 1u << 10;
	st.pcrs.nbanks = 1;
	st.pcrs.bank[0].alg = hash_alg_padded(hash_alg_by_name("sha384"));
	st.pcrs.bank[0].valid = 0xffffff;
	memset(st.pcrs.bank[0].value[10], 0x5a, 48);
	/* not durable yet: refused */
	assert_int_equal(chain_checkpoint_write(c, &st, &em), -EINVAL);
	assert_int_equal(chain_commit(c, &em), 0);
	assert_int_equal(chain_checkpoint_write(c, &st, &em), 0);
	st.next_index = 50;
	assert_int_equal(chain_checkpoint_write(c, &st, &em), 0);
	assert_int_equal(chain_checkpoint_find(c, 99, &got, &em), 0);
	assert_int_equal(got.next_index, 50);
	assert_int_equal(chain_checkpoint_find(c, 1000, &got, &em), 0);
	assert_int_equal(got.next_index, 50);	/* the last written <= 1000 */
	assert_true(got.pcrs.bank[0].alg->padded_sha1);
	assert_memory_equal(got.pcrs.bank[0].value[10], st.pcrs.bank[0].value[10], 48);
	assert_int_equal(chain_checkpoint_find(c, 10, &got, &em), -ENOENT);

	assert_int_equal(chain_trim_last(c, ID, &first, &ts, &em), -ENOENT);
	assert_int_equal(chain_trim_write(c, ID, 40, TRIM_INTENDED, &em), 0);
	assert_int_equal(chain_trim_write(c, "other-boot", 7, TRIM_DONE, &em), 0);
	assert_int_equal(chain_trim_last(c, ID, &first, &ts, &em), 0);
	assert_int_equal(first, 40);
	assert_int_equal(ts, TRIM_INTENDED);
	assert_int_equal(chain_trim_write(c, ID, 40, TRIM_DONE, &em), 0);
	assert_int_equal(chain_trim_last(c, ID, &first, &ts, &em), 0);
	assert_int_equal(ts, TRIM_DONE);
	chain_close(c);
	store_close(s);
}

static void test_lock_and_perms(void **state)
{
	struct store *s, *s2;
	struct errmsg em = { "" };
	char path[256];

	(void)state;
	assert_int_equal(store_open(&s, dir, STORE_WRITE | STORE_CREATE, &em), 0);
	assert_int_equal(store_open(&s2, dir, STORE_WRITE, &em), -EBUSY);
	assert_non_null(strstr(em.text, "locked by another writer"));
	/* readers need no lock */
	assert_int_equal(store_open(&s2, dir, 0, &em), 0);
	store_close(s2);
	store_close(s);
	assert_int_equal(chmod(dir, 0755), 0);
	assert_int_equal(store_open(&s, dir, 0, &em), -EPERM);
	assert_non_null(strstr(em.text, "--insecure"));
	assert_int_equal(store_open(&s, dir, STORE_INSECURE, &em), 0);
	store_close(s);
	assert_int_equal(chmod(dir, 0700), 0);
	snprintf(path, sizeof(path), "%s/chains", dir);
	assert_int_equal(chmod(path, 0750), 0);
	assert_int_equal(store_open(&s, dir, STORE_WRITE, &em), -EPERM);
}

static void test_boots(void **state)
{
	struct store *s;
	struct chain *c = create(&s, 4), *c2;
	struct errmsg em = { "" };

	(void)state;
	assert_int_equal(chain_commit(c, &em), 0);
	assert_int_equal(chain_add_boot(c, "kexec-boot-2", 3, &em), 0);
	assert_int_equal(store_chain_open(s, "nope", &c2, &em), -ENOENT);
	chain_close(c);
	store_close(s);
	assert_int_equal(store_open(&s, dir, 0, &em), 0);
	assert_int_equal(store_chain_open(s, "kexec-boot-2", &c2, &em), 0);
	assert_string_equal(chain_meta(c2)->chain, ID);
	assert_int_equal(chain_meta(c2)->nboots, 2);
	assert_int_equal(chain_meta(c2)->boots[1].first_index, 3);
	read_back(c2, 0, 4);
	chain_close(c2);
	store_close(s);
}

/* A fake securityfs holding the kernel's list of records [from, to). */
static void fake_kernel(const char *sfs, unsigned from, unsigned to)
{
	char path[256];
	uint8_t buf[512];
	FILE *f;

	mkdir(sfs, 0700);
	snprintf(path, sizeof(path), "%s/binary_runtime_measurements_sha256", sfs);
	f = fopen(path, "w");
	assert_non_null(f);
	for (unsigned k = from; k < to; k++)
		fwrite(buf, 1, mk_rec(buf, k), f);
	fclose(f);
}

static int export_all(struct chain *c, const char *sfs, uint64_t *n,
		      struct errmsg *em)
{
	struct full_list_opts o = { 0 };
	struct full_list *fl;
	struct ima_record rec;
	uint8_t buf[512];
	char path[256];
	int r;

	snprintf(path, sizeof(path), "%s/binary_runtime_measurements_sha256", sfs);
	o.kernel_list = path;
	o.boot_id = ID;
	r = full_list_open(c, &o, &fl, em);
	if (r)
		return r;
	*n = 0;
	while ((r = full_list_next(fl, &rec, em)) > 0) {
		size_t len = mk_rec(buf, (unsigned)*n);

		if (rec.raw_len != len || memcmp(rec.raw, buf, len))
			fail_msg("record %llu (index %llu) is not the expected one",
				 (unsigned long long)*n, (unsigned long long)rec.index);
		assert_int_equal(rec.index, *n);
		assert_int_equal(rec.raw_len, len);
		assert_memory_equal(rec.raw, buf, len);
		(*n)++;
	}
	full_list_free(fl);
	return r;
}

/* Stored records, then the kernel's, placed by trims.log (§8, §10). */
static void test_full_list_kernel_tail(void **state)
{
	struct store *s;
	struct chain *c = create(&s, 10);
	struct errmsg em = { "" };
	char sfs[128];
	uint64_t n;

	(void)state;
	snprintf(sfs, sizeof(sfs), "%s/sfs", dir);
	assert_int_equal(chain_commit(c, &em), 0);
	/* nothing trimmed: the kernel holds 0..14 */
	fake_kernel(sfs, 0, 15);
	assert_int_equal(export_all(c, sfs, &n, &em), 0);
	assert_int_equal(n, 15);
	/* 4 trimmed: the kernel holds 4..14 */
	fake_kernel(sfs, 4, 15);
	assert_int_equal(chain_trim_write(c, ID, 4, TRIM_INTENDED, &em), 0);
	assert_int_equal(chain_trim_write(c, ID, 4, TRIM_DONE, &em), 0);
	assert_int_equal(export_all(c, sfs, &n, &em), 0);
	assert_int_equal(n, 15);
	/* a crash after "intended 7": the kernel still starts at 4 */
	assert_int_equal(chain_trim_write(c, ID, 7, TRIM_INTENDED, &em), 0);
	assert_int_equal(export_all(c, sfs, &n, &em), 0);
	assert_int_equal(n, 15);
	/* ... or it did delete: starts at 7 */
	fake_kernel(sfs, 7, 15);
	assert_int_equal(export_all(c, sfs, &n, &em), 0);
	assert_int_equal(n, 15);
	/* all stored ones trimmed and more: the kernel starts at 10 */
	assert_int_equal(chain_trim_write(c, ID, 10, TRIM_DONE, &em), 0);
	fake_kernel(sfs, 10, 12);
	assert_int_equal(export_all(c, sfs, &n, &em), 0);
	assert_int_equal(n, 12);
	/*
	 * The kernel starts one past where trims.log says (someone else
	 * deleted stored record 8): placement finds it by the overlap
	 * (trimming.md §3.2.2) and the export is still complete.
	 */
	assert_int_equal(chain_trim_write(c, ID, 8, TRIM_DONE, &em), 0);
	fake_kernel(sfs, 9, 12);
	assert_int_equal(export_all(c, sfs, &n, &em), 0);
	assert_int_equal(n, 12);
	/* trimmed beyond what was stored: records are lost, said so */
	assert_int_equal(chain_trim_write(c, ID, 12, TRIM_DONE, &em), 0);
	assert_int_equal(export_all(c, sfs, &n, &em), -ENODATA);
	assert_non_null(strstr(em.text, "lost"));
	chain_close(c);
	store_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_format_vector, setup, teardown),
		cmocka_unit_test_setup_teardown(test_append_reopen_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_uncommitted_is_invisible, setup, teardown),
		cmocka_unit_test_setup_teardown(test_segment_roll, setup, teardown),
		cmocka_unit_test_setup_teardown(test_torn_tail_is_cut, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corruption_is_reported, setup, teardown),
		cmocka_unit_test_setup_teardown(test_checkpoints_and_trims, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock_and_perms, setup, teardown),
		cmocka_unit_test_setup_teardown(test_boots, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_list_kernel_tail, setup, teardown),
	};

	return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
