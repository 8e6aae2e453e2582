// SPDX-License-Identifier: GPL-2.0-only
/*
 * One consistent snapshot of the TPM's PCRs through tpm2-tss ESAPI.
 *
 * TPM2_PCR_Read returns at most 8 digests a call (TPML_DIGEST), and the TPM
 * may return fewer than asked, so a snapshot takes several calls. Each
 * response carries pcrUpdateCounter; if it moved between two calls of a
 * snapshot, something was extended in between and the snapshot starts over.
 * (Extends of the PCRs in TPM_PT_PCR_NO_INCREMENT are not counted: PCR 16
 * and 23 on PC Client TPMs and swtpm. IMA extends PCR 10 unless told
 * otherwise; a policy that measures into 16 or 23 gets no such guarantee.)
 *
 * TPM2_Startup is never sent: the kernel (or swtpm --flags startup-clear)
 * did it, and a second one would fail anyway.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <tss2/tss2_esys.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

#include "pcr_values.h"

#define TPM_DEFAULT_TCTI "device:/dev/tpmrm0"
#define TPM_SNAPSHOT_TRIES 8
#define TPM_PCRS_PER_SELECT 8	/* TPML_DIGEST holds 8 */
#define TPM_SELECT_BYTES 3	/* PCR 0-23; also PCR_SELECT_MIN */
#define PCR_ALL_MASK ((uint32_t)((1ull << IMA_PCR_COUNT) - 1))

static tpm_pcr_read_fn *pcr_read = Esys_PCR_Read;

void tpm_set_pcr_read_hook(tpm_pcr_read_fn *fn)
{
	pcr_read = fn ? fn : Esys_PCR_Read;
}

/* What is left to read of a snapshot; want[i]/done[i] go with set->bank[i]. */
struct snapshot {
	struct pcr_set set;
	uint32_t want[PCR_MAX_BANKS];
	uint32_t done[PCR_MAX_BANKS];
	uint32_t counter;
	int have_counter;
};

static const char *tcti_conf(const char *tcti)
{
	static const char *const vars[] = { "TPM2TOOLS_TCTI", "TCTI",
					    "TPM2_TCTI" };
	const char *v;

	if (tcti && *tcti)
		return tcti;
	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		v = getenv(vars[i]);
		if (v && *v)
			return v;
	}
	return TPM_DEFAULT_TCTI;
}

/* The device path of a "device:PATH" TCTI, or NULL. */
static const char *tcti_device(const char *conf)
{
	if (strncmp(conf, "device:", 7) || !conf[7])
		return NULL;
	return conf + 7;
}

static int no_device(const char *path, int err, struct errmsg *em)
{
	return errmsg_set(em, -ENODEV,
			  "no TPM: cannot open %s (%s); use --tcti or --pcrs",
			  path, strerror(err));
}

static int open_tcti(const char *conf, TSS2_TCTI_CONTEXT **tcti,
		     struct errmsg *em)
{
	const char *dev = tcti_device(conf);
	struct stat st;
	TSS2_RC rc;
	int fd;

	/* Checked first so the common "no TPM here" case logs nothing. */
	if (dev && stat(dev, &st))
		return no_device(dev, errno, em);
	rc = Tss2_TctiLdr_Initialize(conf, tcti);
	if (rc == TSS2_RC_SUCCESS)
		return 0;
	*tcti = NULL;
	if (dev) {
		/* tss2 does not say why; ask the kernel (EACCES, EBUSY). */
		fd = open(dev, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			return no_device(dev, errno, em);
		close(fd);
	}
	return errmsg_set(em, -ENODEV,
			  "no TPM: cannot %s TCTI \"%s\" (%s); use --tcti or --pcrs",
			  rc == TSS2_TCTI_RC_NOT_SUPPORTED ? "load" : "connect to",
			  conf, Tss2_RC_Decode(rc));
}

static int tss_err(const char *what, TSS2_RC rc, struct errmsg *em)
{
	return errmsg_set(em, -EIO, "TPM2_%s failed: %s", what,
			  Tss2_RC_Decode(rc));
}

static uint32_t select_mask(const TPMS_PCR_SELECTION *sel)
{
	uint32_t m = 0;

	for (unsigned i = 0; i < sel->sizeofSelect && i < 4; i++)
		m |= (uint32_t)sel->pcrSelect[i] << (8 * i);
	return m;
}

static void set_select(TPMS_PCR_SELECTION *sel, TPMI_ALG_HASH alg, uint32_t m)
{
	memset(sel, 0, sizeof(*sel));
	sel->hash = alg;
	sel->sizeofSelect = TPM_SELECT_BYTES;
	for (unsigned i = 0; i < TPM_SELECT_BYTES; i++)
		sel->pcrSelect[i] = (uint8_t)(m >> (8 * i));
}

/* The allocated banks we know, each with the PCRs of `mask` it has. */
static int get_banks(ESYS_CONTEXT *esys, uint32_t mask, struct snapshot *s,
		     struct errmsg *em)
{
	TPMS_CAPABILITY_DATA *cap = NULL;
	const TPML_PCR_SELECTION *pcrs;
	const struct hash_alg *alg;
	struct pcr_bank *bank;
	TPMI_YES_NO more;
	uint32_t have;
	TSS2_RC rc;
	int err = 0;

	rc = Esys_GetCapability(esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
				TPM2_CAP_PCRS, 0, 1, &more, &cap);
	if (rc)
		return tss_err("GetCapability(PCRS)", rc, em);
	pcrs = &cap->data.assignedPCR;
	for (UINT32 i = 0; i < pcrs->count && i < TPM2_NUM_PCR_BANKS; i++) {
		alg = hash_alg_by_tpm_id(pcrs->pcrSelections[i].hash);
		have = select_mask(&pcrs->pcrSelections[i]) & PCR_ALL_MASK;
		/* A bank with no PCR selected is implemented, not allocated. */
		if (!alg || !have)
			continue;
		bank = pcr_set_add_bank(&s->set, alg);
		if (!bank) {
			err = errmsg_set(em, -ENOSPC,
					 "TPM has more than %d PCR banks",
					 PCR_MAX_BANKS);
			goto out;
		}
		s->want[bank - s->set.bank] = mask & have;
	}
	if (!s->set.nbanks)
		err = errmsg_set(em, -EOPNOTSUPP,
				 "TPM has no allocated PCR bank with a hash imastore knows");
out:
	Esys_Free(cap);
	return err;
}

/* Up to 8 of each bank's unread PCRs, lowest first. */
static void build_request(const struct snapshot *s, TPML_PCR_SELECTION *req)
{
	uint32_t todo, m;
	unsigned n;

	memset(req, 0, sizeof(*req));
	for (unsigned b = 0; b < s->set.nbanks; b++) {
		todo = s->want[b] & ~s->done[b];
		if (!todo)
			continue;
		for (m = 0, n = 0; todo && n < TPM_PCRS_PER_SELECT; n++) {
			m |= todo & -todo;
			todo &= todo - 1;
		}
		set_select(&req->pcrSelections[req->count++],
			   s->set.bank[b].alg->tpm_id, m);
	}
}

static int find_bank(const struct snapshot *s, TPMI_ALG_HASH id)
{
	for (unsigned b = 0; b < s->set.nbanks; b++)
		if (s->set.bank[b].alg->tpm_id == id)
			return (int)b;
	return -1;
}

static uint32_t requested(const TPML_PCR_SELECTION *req, TPMI_ALG_HASH id)
{
	for (UINT32 i = 0; i < req->count; i++)
		if (req->pcrSelections[i].hash == id)
			return select_mask(&req->pcrSelections[i]);
	return 0;
}

/*
 * Take the digests the TPM returned: in the order of its pcrSelectionOut,
 * each selection's PCRs lowest first (TPM 2.0 Part 3, PCR_Read).
 */
static int take_values(struct snapshot *s, const TPML_PCR_SELECTION *req,
		       const TPML_PCR_SELECTION *got, const TPML_DIGEST *vals,
		       struct errmsg *em)
{
	const TPMS_PCR_SELECTION *sel;
	struct pcr_bank *bank;
	UINT32 k = 0;
	uint32_t m;
	int b;

	for (UINT32 i = 0; i < got->count && i < TPM2_NUM_PCR_BANKS; i++) {
		sel = &got->pcrSelections[i];
		m = select_mask(sel);
		if (!m)
			continue;
		b = find_bank(s, sel->hash);
		if (b < 0 || (m & ~requested(req, sel->hash)))
			return errmsg_set(em, -EPROTO,
					  "TPM2_PCR_Read returned PCRs not asked for (bank 0x%04x)",
					  sel->hash);
		bank = &s->set.bank[b];
		for (unsigned pcr = 0; pcr < IMA_PCR_COUNT; pcr++) {
			if (!(m & (1u << pcr)))
				continue;
			if (k >= vals->count || k >= 8 ||
			    vals->digests[k].size != bank->alg->size)
				return errmsg_set(em, -EPROTO,
						  "TPM2_PCR_Read returned a bad %s digest for PCR %u",
						  bank->alg->name, pcr);
			memcpy(bank->value[pcr], vals->digests[k++].buffer,
			       bank->alg->size);
			bank->valid |= 1u << pcr;
			s->done[b] |= 1u << pcr;
		}
	}
	if (k != vals->count)
		return errmsg_set(em, -EPROTO,
				  "TPM2_PCR_Read returned %u digests for %u PCRs",
				  (unsigned)vals->count, (unsigned)k);
	/* Without progress the caller would loop forever. */
	if (!k)
		return errmsg_set(em, -EPROTO,
				  "TPM2_PCR_Read returned no PCR values");
	return 0;
}

/* One PCR_Read call. -EAGAIN: the counter moved, start the snapshot over. */
static int read_batch(ESYS_CONTEXT *esys, struct snapshot *s,
		      struct errmsg *em)
{
	TPML_PCR_SELECTION req, *got = NULL;
	TPML_DIGEST *vals = NULL;
	UINT32 counter = 0;
	TSS2_RC rc;
	int err;

	build_request(s, &req);
	rc = pcr_read(esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &req,
		      &counter, &got, &vals);
	if (rc) {
		err = tss_err("PCR_Read", rc, em);
		goto out;
	}
	if (!got || !vals) {
		err = errmsg_set(em, -EPROTO, "TPM2_PCR_Read returned nothing");
		goto out;
	}
	if (s->have_counter && counter != s->counter) {
		err = -EAGAIN;
		goto out;
	}
	s->counter = counter;
	s->have_counter = 1;
	err = take_values(s, &req, got, vals, em);
out:
	Esys_Free(got);
	Esys_Free(vals);
	return err;
}

static int pending(const struct snapshot *s)
{
	for (unsigned b = 0; b < s->set.nbanks; b++)
		if (s->want[b] & ~s->done[b])
			return 1;
	return 0;
}

static void restart(struct snapshot *s)
{
	for (unsigned b = 0; b < s->set.nbanks; b++) {
		s->set.bank[b].valid = 0;
		s->done[b] = 0;
	}
	s->have_counter = 0;
}

static int read_snapshot(ESYS_CONTEXT *esys, struct snapshot *s,
			 struct errmsg *em)
{
	int err;

	for (int tries = 1; ; tries++) {
		restart(s);
		err = 0;
		while (!err && pending(s))
			err = read_batch(esys, s, em);
		if (err != -EAGAIN)
			return err;
		if (tries == TPM_SNAPSHOT_TRIES)
			break;
	}
	return errmsg_set(em, -EAGAIN,
			  "PCRs kept changing while being read (pcrUpdateCounter moved in %d attempts); try again",
			  TPM_SNAPSHOT_TRIES);
}

int tpm_read_pcrs(const char *tcti, uint32_t pcr_mask, struct pcr_set *out,
		  struct errmsg *em)
{
	const char *conf = tcti_conf(tcti);
	TSS2_TCTI_CONTEXT *tctx = NULL;
	ESYS_CONTEXT *esys = NULL;
	struct snapshot *s = NULL;
	TSS2_RC rc;
	int err;

	if (pcr_mask & ~PCR_ALL_MASK)
		return errmsg_set(em, -EINVAL, "PCR mask 0x%x has PCRs > %d",
				  pcr_mask, IMA_PCR_COUNT - 1);
	s = calloc(1, sizeof(*s));
	if (!s)
		return errmsg_set(em, -ENOMEM, "out of memory");
	err = open_tcti(conf, &tctx, em);
	if (err)
		goto out;
	rc = Esys_Initialize(&esys, tctx, NULL);
	if (rc) {
		err = errmsg_set(em, -EIO, "cannot start ESAPI on TCTI \"%s\": %s",
				 conf, Tss2_RC_Decode(rc));
		goto out;
	}
	err = get_banks(esys, pcr_mask, s, em);
	if (!err)
		err = read_snapshot(esys, s, em);
	if (!err)
		*out = s->set;
out:
	/* Both warn on stderr when given NULL. */
	if (esys)
		Esys_Finalize(&esys);
	if (tctx)
		Tss2_TctiLdr_Finalize(&tctx);
	free(s);
	return err;
}
