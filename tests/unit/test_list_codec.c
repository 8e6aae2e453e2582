// SPDX-License-Identifier: GPL-2.0-only
/*
 * List codec: parsing, streaming across read() boundaries, malformed input,
 * ASCII both ways, template digests and replay. Expected digests are
 * computed here with OpenSSL's one-shot EVP_Digest, independently of the
 * library's hash contexts.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "test_util.h"

#include "list_ascii.h"
#include "list_reader.h"
#include "replay.h"

static void md(const char *alg, const void *d, size_t n, uint8_t *out)
{
	unsigned int len;

	assert_true(EVP_Digest(d, n, out, &len, EVP_get_digestbyname(alg), NULL));
}

static size_t put32(uint8_t *p, uint32_t v, bool le)
{
	ima_put_u32(p, v, le);
	return 4;
}

/* An ima-ng (or ima-buf if buf) record as the kernel writes it. */
static size_t mk_ng(uint8_t *out, unsigned pcr, const char *bank_md,
		    unsigned dlen, const char *path, const uint8_t *buf,
		    size_t buflen, bool violation, bool le)
{
	uint8_t data[1024], fd[32];
	size_t dl = 0, pos = 0;
	const char *name = buf ? "ima-buf" : "ima-ng";

	memset(fd, violation ? 0 : 0xab, sizeof(fd));
	dl += put32(data + dl, 8 + 32, le);
	memcpy(data + dl, "sha256:", 8);
	memcpy(data + dl + 8, fd, 32);
	dl += 40;
	dl += put32(data + dl, (uint32_t)strlen(path) + 1, le);
	memcpy(data + dl, path, strlen(path) + 1);
	dl += strlen(path) + 1;
	if (buf) {
		dl += put32(data + dl, (uint32_t)buflen, le);
		memcpy(data + dl, buf, buflen);
		dl += buflen;
	}
	pos += put32(out, pcr, le);
	if (violation)
		memset(out + pos, 0, dlen);
	else
		md(bank_md, data, dl, out + pos);
	pos += dlen;
	pos += put32(out + pos, (uint32_t)strlen(name), le);
	memcpy(out + pos, name, strlen(name));
	pos += strlen(name);
	pos += put32(out + pos, (uint32_t)dl, le);
	memcpy(out + pos, data, dl);
	return pos + dl;
}

static void test_parse_ng(void **state)
{
	uint8_t b[512];
	size_t n = mk_ng(b, 10, "SHA256", 32, "/bin/sh", NULL, 0, false, true);
	struct ima_record rec;
	struct errmsg em = { "" };

	(void)state;
	assert_int_equal(ima_record_parse(b, n, 32, LIST_ENDIAN_LITTLE, 7, 99, &rec, &em), n);
	assert_int_equal(rec.pcr, 10);
	assert_string_equal(rec.name, "ima-ng");
	assert_false(rec.legacy);
	assert_int_equal(rec.index, 7);
	assert_int_equal(rec.offset, 99);
	assert_ptr_equal(rec.raw, b);
	assert_int_equal(rec.raw_len, n);
	/* every strict prefix asks for more, never errs or reads beyond */
	for (size_t i = 0; i < n; i++) {
		uint8_t *copy = malloc(i ? i : 1);

		memcpy(copy, b, i);
		assert_int_equal(ima_record_parse(copy, i, 32, LIST_ENDIAN_LITTLE,
						  0, 0, &rec, &em), -EAGAIN);
		free(copy);
	}
}

static void test_malformed(void **state)
{
	uint8_t b[512];
	size_t n = mk_ng(b, 10, "SHA1", 20, "/etc/passwd", NULL, 0, false, true);
	struct ima_record rec;
	struct errmsg em = { "" };
	uint8_t bad[512];

	(void)state;
	/* absurd template name length */
	memcpy(bad, b, n);
	ima_put_u32(bad + 24, 0x7fffffff, true);
	assert_int_equal(ima_record_parse(bad, n, 20, LIST_ENDIAN_LITTLE, 3, 1234, &rec, &em), -EBADMSG);
	assert_non_null(strstr(em.text, "record 3"));
	assert_non_null(strstr(em.text, "offset 1234"));
	assert_non_null(strstr(em.text, "template name length"));
	/* template data length beyond the record maximum */
	memcpy(bad, b, n);
	ima_put_u32(bad + 34, 0xfffffff0, true);
	assert_int_equal(ima_record_parse(bad, n, 20, LIST_ENDIAN_LITTLE, 0, 0, &rec, &em), -EBADMSG);
	assert_non_null(strstr(em.text, "template data length"));
	/* a field length larger than what remains of the template data */
	memcpy(bad, b, n);
	ima_put_u32(bad + 38, 1000, true);
	assert_int_equal(ima_record_parse(bad, n, 20, LIST_ENDIAN_LITTLE, 0, 0, &rec, &em), -EBADMSG);
	assert_non_null(strstr(em.text, "field 0 length 1000"));
	/* PCR out of range */
	memcpy(bad, b, n);
	ima_put_u32(bad, 99, true);
	assert_int_equal(ima_record_parse(bad, n, 20, LIST_ENDIAN_LITTLE, 0, 0, &rec, &em), -EBADMSG);
	assert_non_null(strstr(em.text, "PCR"));
}

static void test_endian(void **state)
{
	uint8_t le[512], be[512];
	size_t n1 = mk_ng(le, 11, "SHA1", 20, "/x", NULL, 0, false, true);
	size_t n2 = mk_ng(be, 11, "SHA1", 20, "/x", NULL, 0, false, false);
	struct ima_record r1, r2;

	(void)state;
	assert_int_equal(ima_record_parse(le, n1, 20, LIST_ENDIAN_AUTO, 0, 0, &r1, NULL), n1);
	assert_int_equal(ima_record_parse(be, n2, 20, LIST_ENDIAN_AUTO, 0, 0, &r2, NULL), n2);
	assert_true(r1.little_endian);
	assert_false(r2.little_endian);
	assert_int_equal(r1.pcr, 11);
	assert_int_equal(r2.pcr, 11);
	assert_int_equal(r1.data_len, r2.data_len);
}

/* Feed `len` bytes to a pipe in chunks of 1..13 bytes from a child. */
static int slow_pipe(const uint8_t *b, size_t len)
{
	int p[2];
	pid_t pid;

	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		for (size_t i = 0, k = 1; i < len; i += k, k = k % 13 + 1) {
			if (k > len - i)
				k = len - i;
			if (write(p[1], b + i, k) != (ssize_t)k)
				_exit(1);
		}
		_exit(0);
	}
	close(p[1]);
	return p[0];
}

static void test_reader_split_reads(void **state)
{
	static uint8_t list[200 * 256];
	size_t len = 0, offs[200];
	struct list_reader *r;
	struct list_reader_opts o = { .path = "binary_runtime_measurements_sha256" };
	struct ima_record rec;
	struct errmsg em = { "" };
	int fd, n, i = 0, st;

	(void)state;
	for (int k = 0; k < 200; k++) {
		char path[64];

		snprintf(path, sizeof(path), "/usr/bin/tool-%d", k);
		offs[k] = len;
		len += mk_ng(list + len, 10, "SHA256", 32, path, NULL, 0, k == 50, true);
	}
	fd = slow_pipe(list, len);
	assert_int_equal(list_reader_open(&r, fd, &o, &em), 0);
	assert_string_equal(list_reader_bank(r)->name, "sha256");
	while ((n = list_reader_next(r, &rec, &em)) > 0) {
		assert_int_equal(rec.index, i);
		assert_int_equal(rec.offset, offs[i]);
		assert_memory_equal(rec.raw, list + offs[i], rec.raw_len);
		assert_int_equal(ima_record_is_violation(&rec), i == 50);
		i++;
	}
	assert_int_equal(n, 0);
	assert_int_equal(i, 200);
	list_reader_free(r);
	close(fd);
	wait(&st);
}

static void test_reader_truncated(void **state)
{
	uint8_t list[1024];
	size_t len = 0, first;
	struct list_reader *r;
	struct list_reader_opts o = { .bank = hash_alg_by_name("sha1") };
	struct ima_record rec;
	struct errmsg em = { "" };
	int p[2];

	(void)state;
	first = mk_ng(list, 10, "SHA1", 20, "/a", NULL, 0, false, true);
	len = first + mk_ng(list + first, 10, "SHA1", 20, "/bb", NULL, 0, false, true);
	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], list, len - 3), (ssize_t)(len - 3));
	close(p[1]);
	assert_int_equal(list_reader_open(&r, p[0], &o, &em), 0);
	assert_int_equal(list_reader_next(r, &rec, &em), 1);
	assert_int_equal(list_reader_next(r, &rec, &em), -EBADMSG);
	assert_non_null(strstr(em.text, "record 1"));
	assert_non_null(strstr(em.text, "truncated"));
	list_reader_free(r);
	close(p[0]);
}

static void test_bank_probe(void **state)
{
	static const struct { const char *md; unsigned len; const char *name; } c[] = {
		{ "SHA1", 20, "sha1" }, { "SHA256", 32, "sha256" },
		{ "SHA384", 48, "sha384" }, { "SHA512", 64, "sha512" },
	};

	(void)state;
	for (size_t i = 0; i < 4; i++) {
		uint8_t list[1024];
		size_t len = mk_ng(list, 10, c[i].md, c[i].len, "boot_aggregate", NULL, 0, false, true);
		struct list_reader_opts o = { 0 };
		struct list_reader *r;
		int p[2];

		len += mk_ng(list + len, 10, c[i].md, c[i].len, "/bin/true", NULL, 0, false, true);
		assert_int_equal(pipe(p), 0);
		assert_int_equal(write(p[1], list, len), (ssize_t)len);
		close(p[1]);
		assert_int_equal(list_reader_open(&r, p[0], &o, NULL), 0);
		assert_string_equal(list_reader_bank(r)->name, c[i].name);
		list_reader_free(r);
		close(p[0]);
	}
	assert_string_equal(list_bank_from_path("/sys/kernel/security/ima/binary_runtime_measurements")->name, "sha1");
	assert_string_equal(list_bank_from_path("ascii_runtime_measurements_sha384")->name, "sha384");
	assert_string_equal(list_bank_from_path("binary_runtime_measurements_sha512_staged")->name, "sha512");
	assert_int_equal(list_bank_from_path("binary_runtime_measurements_tpm_alg_27")->tpm_id, 0x27);
	assert_null(list_bank_from_path("random.bin"));
}

static void test_ascii_format_and_back(void **state)
{
	uint8_t b[512], back[1024];
	const uint8_t key[] = { 0x30, 0x82, 0x01, 0x0a };
	size_t n = mk_ng(b, 10, "SHA256", 32, ".ima", key, sizeof(key), false, true);
	struct ima_record rec;
	char line[2048], want[2048];
	long len;

	(void)state;
	assert_int_equal(ima_record_parse(b, n, 32, LIST_ENDIAN_LITTLE, 0, 0, &rec, NULL), n);
	len = list_ascii_format(&rec, NULL, line, sizeof(line), NULL);
	assert_true(len > 0);
	/* "%2d " pcr, template digest, name, d-ng as alg:hex, n-ng, buf hex */
	snprintf(want, sizeof(want), "10 ");
	for (int i = 0; i < 32; i++)
		snprintf(want + strlen(want), 3, "%02x", rec.digest[i]);
	strcat(want, " ima-buf sha256:");
	for (int i = 0; i < 32; i++)
		strcat(want, "ab");
	strcat(want, " .ima 3082010a\n");
	assert_int_equal(len, strlen(want));
	assert_memory_equal(line, want, (size_t)len);
	/* and back: the same bytes */
	assert_int_equal(list_ascii_parse_line(line, (size_t)len - 1, 32, NULL, true,
					       back, sizeof(back), NULL), n);
	assert_memory_equal(back, b, n);
	/* too small an output buffer is an error, not an overflow */
	assert_int_equal(list_ascii_format(&rec, NULL, line, 20, NULL), -ENOSPC);
}

static void test_ascii_pcr_padding_and_custom(void **state)
{
	uint8_t b[512], back[1024];
	size_t n;
	struct ima_record rec;
	struct template_desc custom;
	char line[2048];
	long len;
	uint8_t data[128];
	size_t dl = 0;

	(void)state;
	/* custom template d-ng|n-ng|iuid|imode, empty name, PCR 9 */
	dl += put32(data, 8 + 32, true);
	memcpy(data + dl, "sha256:", 8);
	memset(data + dl + 8, 0x11, 32);
	dl += 40;
	dl += put32(data + dl, 3, true);
	memcpy(data + dl, "/f", 3);
	dl += 3;
	dl += put32(data + dl, 4, true);
	ima_put_u32(data + dl, 1000, true);
	dl += 4;
	dl += put32(data + dl, 2, true);
	data[dl] = 0xa4; data[dl + 1] = 0x81;	/* 0100644 */
	dl += 2;
	n = put32(b, 9, true);
	md("SHA1", data, dl, b + n);
	n += 20;
	n += put32(b + n, 0, true);
	n += put32(b + n, (uint32_t)dl, true);
	memcpy(b + n, data, dl);
	n += dl;
	assert_int_equal(ima_record_parse(b, n, 20, LIST_ENDIAN_LITTLE, 0, 0, &rec, NULL), n);
	assert_int_equal(list_ascii_format(&rec, NULL, line, sizeof(line), NULL), -EOPNOTSUPP);
	assert_int_equal(template_from_fmt("", "d-ng|n-ng|iuid|imode", &custom, NULL), 0);
	len = list_ascii_format(&rec, &custom, line, sizeof(line), NULL);
	assert_true(len > 0);
	line[len] = '\0';
	assert_true(!strncmp(line, " 9 ", 3));
	assert_non_null(strstr(line, "  sha256:1111"));	/* empty name: two spaces */
	assert_non_null(strstr(line, " /f 1000 33188\n"));
	assert_int_equal(list_ascii_parse_line(line, (size_t)len - 1, 20, &custom, true,
					       back, sizeof(back), NULL), n);
	assert_memory_equal(back, b, n);
}

static void test_legacy_ima(void **state)
{
	uint8_t b[512], want[20], hbuf[20 + 256] = { 0 }, fd[20];
	const char *path = "/sbin/init";
	size_t n = 0;
	struct ima_record rec;
	struct hash_ctx *ctx;
	uint8_t got[64];
	char line[1024];
	long len;

	(void)state;
	memset(fd, 0x5a, sizeof(fd));
	memcpy(hbuf, fd, 20);
	memcpy(hbuf + 20, path, strlen(path));
	md("SHA1", hbuf, sizeof(hbuf), want);
	n += put32(b, 10, true);
	memcpy(b + n, want, 20);
	n += 20;
	n += put32(b + n, 3, true);
	memcpy(b + n, "ima", 3);
	n += 3;
	memcpy(b + n, fd, 20);
	n += 20;
	n += put32(b + n, (uint32_t)strlen(path), true);
	memcpy(b + n, path, strlen(path));
	n += strlen(path);
	assert_int_equal(ima_record_parse(b, n, 20, LIST_ENDIAN_LITTLE, 0, 0, &rec, NULL), n);
	assert_true(rec.legacy);
	assert_int_equal(hash_ctx_new_template(hash_alg_by_name("sha1"), &ctx), 0);
	assert_int_equal(ima_record_template_digest(&rec, ctx, got), 0);
	assert_memory_equal(got, want, 20);
	hash_ctx_free(ctx);
	len = list_ascii_format(&rec, NULL, line, sizeof(line), NULL);
	assert_true(len > 0);
	line[len] = '\0';
	assert_non_null(strstr(line, " ima 5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a /sbin/init\n"));
}

/* PCR = H(PCR || d), with d recomputed per bank and 0xFF for violations. */
static void test_replay(void **state)
{
	const struct hash_alg *banks[2] = { hash_alg_by_name("sha1"),
					    hash_alg_by_name("sha256") };
	uint8_t recs[3][512];
	size_t lens[3];
	uint8_t p1[20] = { 0 }, p256[32] = { 0 }, buf[96], d[32];
	struct replay *rp;
	struct errmsg em = { "" };

	(void)state;
	lens[0] = mk_ng(recs[0], 10, "SHA1", 20, "boot_aggregate", NULL, 0, false, true);
	lens[1] = mk_ng(recs[1], 10, "SHA1", 20, "/a", NULL, 0, true, true);
	lens[2] = mk_ng(recs[2], 10, "SHA1", 20, "/b", NULL, 0, false, true);
	assert_int_equal(replay_new(&rp, banks, 2, &em), 0);
	for (int i = 0; i < 3; i++) {
		struct ima_record rec;

		assert_int_equal(ima_record_parse(recs[i], lens[i], 20, LIST_ENDIAN_LITTLE,
						  (uint64_t)i, 0, &rec, NULL), lens[i]);
		assert_int_equal(replay_extend(rp, &rec, banks[0], REPLAY_CHECK_DIGEST, &em), 0);
		/* independent model */
		memcpy(buf, p1, 20);
		if (i == 1)
			memset(buf + 20, 0xff, 20);
		else
			memcpy(buf + 20, rec.digest, 20);
		md("SHA1", buf, 40, p1);
		memcpy(buf, p256, 32);
		if (i == 1)
			memset(d, 0xff, 32);
		else
			md("SHA256", rec.data, rec.data_len, d);
		memcpy(buf + 32, d, 32);
		md("SHA256", buf, 64, p256);
	}
	assert_memory_equal(replay_state(rp)->pcrs.bank[0].value[10], p1, 20);
	assert_memory_equal(replay_state(rp)->pcrs.bank[1].value[10], p256, 32);
	assert_int_equal(replay_state(rp)->next_index, 3);
	assert_int_equal(replay_state(rp)->pcr_used, 1u << 10);

	/* resume from the saved state gives the same as going on */
	{
		struct replay_state saved = *replay_state(rp);
		struct replay *r2;
		struct ima_record rec;

		assert_int_equal(replay_resume(&r2, &saved, &em), 0);
		assert_int_equal(ima_record_parse(recs[2], lens[2], 20, LIST_ENDIAN_LITTLE, 3, 0, &rec, NULL), lens[2]);
		assert_int_equal(replay_extend(rp, &rec, banks[0], 0, &em), 0);
		assert_int_equal(replay_extend(r2, &rec, banks[0], 0, &em), 0);
		assert_memory_equal(replay_state(rp), replay_state(r2), sizeof(saved));
		replay_free(r2);
	}
	/* a template digest that does not match its data is named */
	{
		struct ima_record rec;

		recs[2][lens[2] - 2] ^= 1;
		assert_int_equal(ima_record_parse(recs[2], lens[2], 20, LIST_ENDIAN_LITTLE, 4, 321, &rec, NULL), lens[2]);
		assert_int_equal(replay_extend(rp, &rec, banks[0], REPLAY_CHECK_DIGEST, &em), -EBADMSG);
		assert_non_null(strstr(em.text, "record 4"));
		assert_non_null(strstr(em.text, "offset 321"));
	}
	replay_free(rp);
}

/* A bank the kernel had no hash for: SHA-1 zero-padded (§6.5). */
static void test_padded_bank(void **state)
{
	const struct hash_alg *sha384 = hash_alg_by_name("sha384");
	const struct hash_alg *pad = hash_alg_padded(sha384);
	uint8_t b[512], want[48] = { 0 }, got[48];
	size_t n = mk_ng(b, 10, "SHA1", 20, "/x", NULL, 0, false, true);
	struct ima_record rec;
	struct hash_ctx *ctx;

	(void)state;
	assert_ptr_not_equal(pad, sha384);
	assert_true(pad->padded_sha1);
	assert_int_equal(pad->tpm_id, sha384->tpm_id);
	assert_ptr_equal(hash_alg_padded(hash_alg_by_name("sha1")), hash_alg_by_name("sha1"));
	assert_ptr_equal(hash_alg_by_name("sha384"), sha384);	/* names find the real one */
	assert_int_equal(ima_record_parse(b, n, 20, LIST_ENDIAN_LITTLE, 0, 0, &rec, NULL), n);
	md("SHA1", rec.data, rec.data_len, want);
	assert_int_equal(hash_ctx_new_template(pad, &ctx), 0);
	assert_int_equal(ima_record_template_digest(&rec, ctx, got), 0);
	assert_memory_equal(got, want, 48);
	hash_ctx_free(ctx);
	/* the extend of that bank is still SHA-384 */
	assert_int_equal(hash_ctx_new(pad, &ctx), 0);
	assert_int_equal(hash_ctx_digest(ctx, "", 0, got), 0);
	md("SHA384", "", 0, want);
	assert_memory_equal(got, want, 48);
	hash_ctx_free(ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_ng),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_endian),
		cmocka_unit_test(test_reader_split_reads),
		cmocka_unit_test(test_reader_truncated),
		cmocka_unit_test(test_bank_probe),
		cmocka_unit_test(test_ascii_format_and_back),
		cmocka_unit_test(test_ascii_pcr_padding_and_custom),
		cmocka_unit_test(test_legacy_ima),
		cmocka_unit_test(test_replay),
		cmocka_unit_test(test_padded_bank),
	};

	return cmocka_run_group_tests_name("list_codec", tests, NULL, NULL);
}
