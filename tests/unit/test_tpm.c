// SPDX-License-Identifier: GPL-2.0-only
/*
 * tpm_read_pcrs() against a real swtpm: the test extends PCRs itself,
 * keeps its own model of every PCR of every bank (computed with OpenSSL),
 * and checks each read against the model. The PCR_Read seam simulates what
 * a quiet TPM never does: counters moving mid-snapshot, short answers,
 * garbage.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/evp.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_tctildr.h>

#include "test_util.h"
#include "swtpm_helper.h"
#include "pcr_values.h"

#define ALL_PCRS ((uint32_t)((1ull << IMA_PCR_COUNT) - 1))

static struct swtpm tpm;
static struct pcr_set model;	/* what every PCR should hold now */

/* The banks swtpm allocates in a fresh state. */
static const char *const swtpm_banks[] = { "sha1", "sha256", "sha384",
					   "sha512" };
#define NBANKS (sizeof(swtpm_banks) / sizeof(swtpm_banks[0]))

static void digest(const struct hash_alg *alg, const void *a, size_t alen,
		   const void *b, size_t blen, uint8_t *out)
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	unsigned n = 0;

	assert_non_null(c);
	assert_true(EVP_DigestInit_ex(c, EVP_get_digestbyname(alg->ossl_name),
				      NULL));
	assert_true(EVP_DigestUpdate(c, a, alen));
	if (blen)
		assert_true(EVP_DigestUpdate(c, b, blen));
	assert_true(EVP_DigestFinal_ex(c, out, &n));
	assert_int_equal(n, alg->size);
	EVP_MD_CTX_free(c);
}

/* PC Client reset values: PCR 17-22 are all-ones, the rest zero. */
static void model_init(void)
{
	memset(&model, 0, sizeof(model));
	for (size_t i = 0; i < NBANKS; i++) {
		struct pcr_bank *b;

		b = pcr_set_add_bank(&model, hash_alg_by_name(swtpm_banks[i]));
		assert_non_null(b);
		b->valid = ALL_PCRS;
		for (unsigned pcr = 17; pcr <= 22; pcr++)
			memset(b->value[pcr], 0xff, b->alg->size);
	}
}

/* Extend `pcr` in every bank with H_bank(label), in the TPM and the model. */
static void extend(ESYS_CONTEXT *esys, unsigned pcr, const char *label)
{
	TPML_DIGEST_VALUES dv = { 0 };
	uint8_t cat[2 * IMA_MAX_DIGEST];

	for (unsigned i = 0; i < model.nbanks; i++) {
		struct pcr_bank *b = &model.bank[i];
		uint16_t n = b->alg->size;

		dv.digests[i].hashAlg = b->alg->tpm_id;
		digest(b->alg, label, strlen(label), NULL, 0,
		       (uint8_t *)&dv.digests[i].digest);
		memcpy(cat, b->value[pcr], n);
		memcpy(cat + n, &dv.digests[i].digest, n);
		digest(b->alg, cat, 2u * n, NULL, 0, b->value[pcr]);
	}
	dv.count = model.nbanks;
	assert_int_equal(Esys_PCR_Extend(esys, ESYS_TR_PCR0 + pcr,
					 ESYS_TR_PASSWORD, ESYS_TR_NONE,
					 ESYS_TR_NONE, &dv), TSS2_RC_SUCCESS);
}

static void extend_new_ctx(unsigned pcr, const char *label)
{
	TSS2_TCTI_CONTEXT *tcti = NULL;
	ESYS_CONTEXT *esys = NULL;

	assert_int_equal(Tss2_TctiLdr_Initialize(tpm.tcti, &tcti), 0);
	assert_int_equal(Esys_Initialize(&esys, tcti, NULL), 0);
	extend(esys, pcr, label);
	Esys_Finalize(&esys);
	Tss2_TctiLdr_Finalize(&tcti);
}

/* `got` holds exactly the model's banks, with `mask` valid and equal. */
static void check_against_model(const struct pcr_set *got, uint32_t mask)
{
	assert_int_equal(got->nbanks, model.nbanks);
	for (unsigned i = 0; i < model.nbanks; i++) {
		const struct pcr_bank *m = &model.bank[i];
		const struct pcr_bank *g;

		g = pcr_set_bank((struct pcr_set *)got, m->alg);
		assert_non_null(g);
		assert_ptr_equal(g->alg, m->alg);
		assert_int_equal(g->valid, mask);
		for (unsigned pcr = 0; pcr < IMA_PCR_COUNT; pcr++) {
			if (!(mask & (1u << pcr)))
				continue;
			if (memcmp(g->value[pcr], m->value[pcr], m->alg->size))
				fail_msg("%s PCR %u differs from the model",
					 m->alg->name, pcr);
		}
	}
}

static void read_ok(const char *tcti, uint32_t mask, struct pcr_set *out)
{
	struct errmsg em = { "" };
	int err;

	err = tpm_read_pcrs(tcti, mask, out, &em);
	if (err)
		fail_msg("tpm_read_pcrs: %d %s", err, errmsg_text(&em));
}

static int group_setup(void **state)
{
	(void)state;
	if (swtpm_start(&tpm))
		return -1;
	model_init();
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	swtpm_stop(&tpm);
	return 0;
}

/* Every test leaves the real PCR_Read in place, even when it fails. */
static int reset_hook(void **state)
{
	(void)state;
	tpm_set_pcr_read_hook(NULL);
	return 0;
}

static void test_fresh_tpm(void **state)
{
	struct pcr_set got;

	(void)state;
	read_ok(tpm.tcti, ALL_PCRS, &got);
	check_against_model(&got, ALL_PCRS);
}

static void test_extend_and_read_all_banks(void **state)
{
	struct pcr_set got;

	(void)state;
	extend_new_ctx(10, "imastore pcr 10, first");
	extend_new_ctx(16, "imastore pcr 16, first");
	extend_new_ctx(16, "imastore pcr 16, second");
	extend_new_ctx(23, "imastore pcr 23");
	read_ok(tpm.tcti, ALL_PCRS, &got);
	check_against_model(&got, ALL_PCRS);
}

static void test_mask_subset(void **state)
{
	const uint32_t mask = 1u << 0 | 1u << 10 | 1u << 16 | 1u << 23;
	struct pcr_set got;

	(void)state;
	read_ok(tpm.tcti, mask, &got);
	check_against_model(&got, mask);
	read_ok(tpm.tcti, 0, &got);
	check_against_model(&got, 0);
}

static void test_bad_mask(void **state)
{
	struct errmsg em = { "" };
	struct pcr_set got;

	(void)state;
	assert_int_equal(tpm_read_pcrs(tpm.tcti, 1u << 24, &got, &em), -EINVAL);
	assert_non_null(strstr(em.text, "PCR mask"));
}

static void clear_tcti_env(void)
{
	unsetenv("TPM2TOOLS_TCTI");
	unsetenv("TCTI");
	unsetenv("TPM2_TCTI");
}

static void expect_enodev(const char *tcti, const char *text)
{
	struct errmsg em = { "" };
	struct pcr_set got, before;

	memset(&got, 0x5a, sizeof(got));
	before = got;
	assert_int_equal(tpm_read_pcrs(tcti, ALL_PCRS, &got, &em), -ENODEV);
	if (!strstr(em.text, text))
		fail_msg("message \"%s\" lacks \"%s\"", em.text, text);
	assert_memory_equal(&got, &before, sizeof(got));
}

static void test_tcti_from_env(void **state)
{
	struct pcr_set got;

	(void)state;
	clear_tcti_env();
	setenv("TPM2_TCTI", tpm.tcti, 1);
	read_ok(NULL, ALL_PCRS, &got);
	check_against_model(&got, ALL_PCRS);
	/* TCTI beats TPM2_TCTI, TPM2TOOLS_TCTI beats both... */
	setenv("TCTI", "device:/nonexistent/tcti", 1);
	expect_enodev(NULL, "/nonexistent/tcti");
	setenv("TPM2TOOLS_TCTI", tpm.tcti, 1);
	read_ok(NULL, ALL_PCRS, &got);
	/* ...an empty one counts as unset, and the argument beats all. */
	setenv("TPM2TOOLS_TCTI", "", 1);
	expect_enodev(NULL, "/nonexistent/tcti");
	setenv("TPM2TOOLS_TCTI", "device:/nonexistent/tools", 1);
	read_ok(tpm.tcti, ALL_PCRS, &got);
	expect_enodev("", "/nonexistent/tools");
	clear_tcti_env();
}

static void test_default_device(void **state)
{
	struct errmsg em = { "" };
	struct pcr_set got;
	struct stat st;
	int err;

	(void)state;
	clear_tcti_env();
	if (stat("/dev/tpmrm0", &st)) {
		expect_enodev(NULL,
			      "no TPM: cannot open /dev/tpmrm0 (No such file or directory); use --tcti or --pcrs");
		return;
	}
	/* This host has a TPM: whatever it says, it must say it clearly. */
	err = tpm_read_pcrs(NULL, ALL_PCRS, &got, &em);
	if (err)
		assert_true(em.text[0]);
	else
		assert_true(got.nbanks > 0);
}

static void test_no_device(void **state)
{
	(void)state;
	expect_enodev("device:/nonexistent",
		      "no TPM: cannot open /nonexistent (No such file or directory); use --tcti or --pcrs");
}

static void test_closed_port(void **state)
{
	char tcti[96];
	int port = swtpm_free_port(0);

	(void)state;
	assert_true(port > 0);
	snprintf(tcti, sizeof(tcti), "swtpm:host=127.0.0.1,port=%d", port);
	expect_enodev(tcti, "no TPM: cannot connect to TCTI \"swtpm:host=127.0.0.1");
	expect_enodev(tcti, "use --tcti or --pcrs");
}

static void test_unknown_tcti(void **state)
{
	(void)state;
	expect_enodev("nosuchtcti:whatever",
		      "no TPM: cannot load TCTI \"nosuchtcti:whatever\"");
}

static struct swtpm tpm2;	/* a second swtpm, sha256 bank only */

static int stop_tpm2(void **state)
{
	(void)state;
	swtpm_stop(&tpm2);
	return 0;
}

/* Implemented but unallocated banks (empty selection) are not read. */
static void test_only_allocated_banks(void **state)
{
	const struct hash_alg *sha256 = hash_alg_by_name("sha256");
	uint8_t ones[IMA_MAX_DIGEST], zeros[IMA_MAX_DIGEST] = { 0 };
	struct pcr_set got;

	(void)state;
	assert_int_equal(swtpm_start_banks(&tpm2, "sha256"), 0);
	read_ok(tpm2.tcti, ALL_PCRS, &got);
	assert_int_equal(got.nbanks, 1);
	assert_ptr_equal(got.bank[0].alg, sha256);
	assert_int_equal(got.bank[0].valid, ALL_PCRS);
	memset(ones, 0xff, sizeof(ones));
	assert_memory_equal(got.bank[0].value[10], zeros, sha256->size);
	assert_memory_equal(got.bank[0].value[17], ones, sha256->size);
}

/* --- The PCR_Read seam --- */

static struct {
	unsigned calls;
	unsigned bump_from;	/* call number from which the counter is +1 */
	unsigned bump_every;	/* add the call number to the counter */
	unsigned extend_after;	/* extend PCR 10 right after this call */
	unsigned max_digests;	/* most digests any call returned */
	unsigned total_digests;
} hk;

static TSS2_RC counting_read(ESYS_CONTEXT *esys, ESYS_TR s1, ESYS_TR s2,
			     ESYS_TR s3, const TPML_PCR_SELECTION *in,
			     UINT32 *counter, TPML_PCR_SELECTION **out,
			     TPML_DIGEST **values)
{
	TSS2_RC rc;

	/* At most 8 PCRs per bank selection, at most one selection a bank. */
	for (UINT32 i = 0; i < in->count; i++) {
		assert_int_equal(in->pcrSelections[i].sizeofSelect, 3);
		assert_true(__builtin_popcount(in->pcrSelections[i].pcrSelect[0] |
					       in->pcrSelections[i].pcrSelect[1] << 8 |
					       in->pcrSelections[i].pcrSelect[2] << 16) <= 8);
		for (UINT32 j = 0; j < i; j++)
			assert_int_not_equal(in->pcrSelections[i].hash,
					     in->pcrSelections[j].hash);
	}
	rc = Esys_PCR_Read(esys, s1, s2, s3, in, counter, out, values);
	hk.calls++;
	if (rc)
		return rc;
	if ((*values)->count > hk.max_digests)
		hk.max_digests = (*values)->count;
	hk.total_digests += (*values)->count;
	if (hk.bump_from && hk.calls >= hk.bump_from)
		*counter += 1;
	if (hk.bump_every)
		*counter += hk.calls;
	if (hk.extend_after == hk.calls)
		extend(esys, 10, "imastore pcr 10, during a snapshot");
	return rc;
}

static void test_batching(void **state)
{
	struct pcr_set got;

	(void)state;
	memset(&hk, 0, sizeof(hk));
	tpm_set_pcr_read_hook(counting_read);
	read_ok(tpm.tcti, ALL_PCRS, &got);
	check_against_model(&got, ALL_PCRS);
	assert_int_equal(hk.total_digests, NBANKS * IMA_PCR_COUNT);
	assert_true(hk.max_digests <= 8);
	/* Tell the report how swtpm splits the snapshot. */
	print_message("swtpm: %u PCR_Read calls for %zu PCRs, at most %u a call\n",
		      hk.calls, NBANKS * IMA_PCR_COUNT, hk.max_digests);
}

static unsigned undisturbed_calls(void)
{
	struct pcr_set got;

	memset(&hk, 0, sizeof(hk));
	tpm_set_pcr_read_hook(counting_read);
	read_ok(tpm.tcti, ALL_PCRS, &got);
	return hk.calls;
}

static void test_counter_moves_once(void **state)
{
	unsigned n = undisturbed_calls();
	struct pcr_set got;

	(void)state;
	assert_true(n >= 2);
	memset(&hk, 0, sizeof(hk));
	hk.bump_from = 2;
	read_ok(tpm.tcti, ALL_PCRS, &got);
	check_against_model(&got, ALL_PCRS);
	/* Attempt 1 stops at call 2; attempt 2 takes the usual n calls. */
	assert_int_equal(hk.calls, 2 + n);
}

static void test_real_extend_mid_snapshot(void **state)
{
	unsigned n = undisturbed_calls();
	struct pcr_set got;

	(void)state;
	memset(&hk, 0, sizeof(hk));
	hk.extend_after = 1;
	read_ok(tpm.tcti, ALL_PCRS, &got);
	/* The model has the extend: the values are from after it, all of them. */
	check_against_model(&got, ALL_PCRS);
	assert_int_equal(hk.calls, 2 + n);
}

static void test_counter_never_settles(void **state)
{
	struct errmsg em = { "" };
	struct pcr_set got, before;

	(void)state;
	memset(&hk, 0, sizeof(hk));
	hk.bump_every = 1;
	tpm_set_pcr_read_hook(counting_read);
	memset(&got, 0x5a, sizeof(got));
	before = got;
	assert_int_equal(tpm_read_pcrs(tpm.tcti, ALL_PCRS, &got, &em), -EAGAIN);
	assert_non_null(strstr(em.text, "kept changing"));
	assert_memory_equal(&got, &before, sizeof(got));
	/* Bounded: every attempt fails at its second call. */
	assert_true(hk.calls >= 4 && hk.calls <= 64);
	assert_int_equal(hk.calls % 2, 0);
}

/* Ask the TPM for one PCR only, as a TPM short of buffer space might. */
static TSS2_RC one_at_a_time(ESYS_CONTEXT *esys, ESYS_TR s1, ESYS_TR s2,
			     ESYS_TR s3, const TPML_PCR_SELECTION *in,
			     UINT32 *counter, TPML_PCR_SELECTION **out,
			     TPML_DIGEST **values)
{
	TPML_PCR_SELECTION one = *in;
	uint32_t m = 0;

	hk.calls++;
	assert_true(in->count >= 1);
	one.count = 1;
	for (unsigned i = 0; i < 3; i++)
		m |= (uint32_t)in->pcrSelections[0].pcrSelect[i] << (8 * i);
	m &= -m;
	for (unsigned i = 0; i < 3; i++)
		one.pcrSelections[0].pcrSelect[i] = (uint8_t)(m >> (8 * i));
	return Esys_PCR_Read(esys, s1, s2, s3, &one, counter, out, values);
}

static void test_short_answers(void **state)
{
	struct pcr_set got;

	(void)state;
	memset(&hk, 0, sizeof(hk));
	tpm_set_pcr_read_hook(one_at_a_time);
	read_ok(tpm.tcti, ALL_PCRS, &got);
	check_against_model(&got, ALL_PCRS);
	assert_int_equal(hk.calls, NBANKS * IMA_PCR_COUNT);
}

static enum {
	BAD_EMPTY, BAD_EXTRA_PCR, BAD_SIZE, BAD_COUNT, BAD_EXTRA_DIGEST, BAD_RC
} bad;

static TSS2_RC bad_read(ESYS_CONTEXT *esys, ESYS_TR s1, ESYS_TR s2,
			ESYS_TR s3, const TPML_PCR_SELECTION *in,
			UINT32 *counter, TPML_PCR_SELECTION **out,
			TPML_DIGEST **values)
{
	TSS2_RC rc;

	hk.calls++;
	if (bad == BAD_RC)
		return TPM2_RC_FAILURE;
	rc = Esys_PCR_Read(esys, s1, s2, s3, in, counter, out, values);
	if (rc)
		return rc;
	switch (bad) {
	case BAD_EMPTY:
		(*out)->count = 0;
		(*values)->count = 0;
		break;
	case BAD_EXTRA_PCR:
		/* Claim a PCR above the ones asked for (request is <= 8). */
		(*out)->pcrSelections[0].pcrSelect[2] |= 0x80;
		break;
	case BAD_SIZE:
		(*values)->digests[0].size--;
		break;
	case BAD_COUNT:
		(*values)->count--;
		break;
	case BAD_EXTRA_DIGEST:
		/* 8 digests, but PCR 7 no longer in the selection. */
		(*out)->pcrSelections[0].pcrSelect[0] &= 0x7f;
		break;
	case BAD_RC:
		break;
	}
	return rc;
}

static void expect_bad(int which, int want_err, const char *text)
{
	struct errmsg em = { "" };
	struct pcr_set got, before;
	int err;

	memset(&hk, 0, sizeof(hk));
	bad = which;
	tpm_set_pcr_read_hook(bad_read);
	memset(&got, 0x5a, sizeof(got));
	before = got;
	err = tpm_read_pcrs(tpm.tcti, ALL_PCRS, &got, &em);
	if (err != want_err || !strstr(em.text, text))
		fail_msg("case %d: got %d \"%s\", want %d \"%s\"", which, err,
			 em.text, want_err, text);
	assert_memory_equal(&got, &before, sizeof(got));
	assert_int_equal(hk.calls, 1);
}

static void test_bad_answers(void **state)
{
	(void)state;
	expect_bad(BAD_EMPTY, -EPROTO, "returned no PCR values");
	expect_bad(BAD_EXTRA_PCR, -EPROTO, "PCRs not asked for");
	expect_bad(BAD_SIZE, -EPROTO, "bad sha1 digest for PCR 0");
	expect_bad(BAD_COUNT, -EPROTO, "bad sha1 digest for PCR 7");
	expect_bad(BAD_EXTRA_DIGEST, -EPROTO, "returned 8 digests for 7 PCRs");
	expect_bad(BAD_RC, -EIO, "TPM2_PCR_Read failed: ");
}

/* Last: after the hook tests the real path must still agree with the model. */
static void test_final_state(void **state)
{
	struct pcr_set got;

	(void)state;
	read_ok(tpm.tcti, ALL_PCRS, &got);
	check_against_model(&got, ALL_PCRS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fresh_tpm),
		cmocka_unit_test(test_extend_and_read_all_banks),
		cmocka_unit_test(test_mask_subset),
		cmocka_unit_test(test_bad_mask),
		cmocka_unit_test(test_tcti_from_env),
		cmocka_unit_test(test_default_device),
		cmocka_unit_test(test_no_device),
		cmocka_unit_test(test_closed_port),
		cmocka_unit_test(test_unknown_tcti),
		cmocka_unit_test_teardown(test_only_allocated_banks, stop_tpm2),
		cmocka_unit_test_teardown(test_batching, reset_hook),
		cmocka_unit_test_teardown(test_counter_moves_once, reset_hook),
		cmocka_unit_test_teardown(test_real_extend_mid_snapshot,
					  reset_hook),
		cmocka_unit_test_teardown(test_counter_never_settles,
					  reset_hook),
		cmocka_unit_test_teardown(test_short_answers, reset_hook),
		cmocka_unit_test_teardown(test_bad_answers, reset_hook),
		cmocka_unit_test(test_final_state),
	};

	/* A hung TPM conversation must fail the run, not stall it. */
	alarm(600);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
