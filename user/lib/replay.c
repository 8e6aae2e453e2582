// SPDX-License-Identifier: GPL-2.0-only
/*
 * PCR replay: PCR[i] = H(PCR[i] || template digest), per bank, the way the
 * kernel extends the TPM (ima_pcr_extend() with the digests of every bank).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "replay.h"

struct replay {
	struct replay_state st;
	struct hash_ctx *ext[PCR_MAX_BANKS];	/* the bank's hash: extends */
	struct hash_ctx *tmpl[PCR_MAX_BANKS];	/* its template digests */
};

static void hex(char *out, const uint8_t *b, size_t n)
{
	static const char d[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[b[i] >> 4];
		out[2 * i + 1] = d[b[i] & 15];
	}
	out[2 * n] = '\0';
}

static int make_ctxs(struct replay *rp, struct errmsg *em)
{
	for (unsigned i = 0; i < rp->st.pcrs.nbanks; i++) {
		const struct hash_alg *alg = rp->st.pcrs.bank[i].alg;

		if (hash_ctx_new(alg, &rp->ext[i]) ||
		    hash_ctx_new_template(alg, &rp->tmpl[i]))
			return errmsg_set(em, -EOPNOTSUPP,
					  "bank %s: this OpenSSL has no %s",
					  alg->name, alg->ossl_name);
	}
	return 0;
}

int replay_new(struct replay **out, const struct hash_alg *const *banks,
	       unsigned nbanks, struct errmsg *em)
{
	struct replay_state st;

	memset(&st, 0, sizeof(st));
	if (nbanks > PCR_MAX_BANKS)
		return errmsg_set(em, -EINVAL, "too many banks");
	for (unsigned i = 0; i < nbanks; i++) {
		if (pcr_set_bank(&st.pcrs, banks[i]))
			return errmsg_set(em, -EINVAL, "bank %s given twice",
					  banks[i]->name);
		st.pcrs.bank[st.pcrs.nbanks].alg = banks[i];
		st.pcrs.bank[st.pcrs.nbanks].valid = ~0u >> (32 - IMA_PCR_COUNT);
		st.pcrs.nbanks++;
	}
	return replay_resume(out, &st, em);
}

int replay_resume(struct replay **out, const struct replay_state *state,
		  struct errmsg *em)
{
	struct replay *rp;
	int ret;

	rp = calloc(1, sizeof(*rp));
	if (!rp)
		return -ENOMEM;
	rp->st = *state;
	ret = make_ctxs(rp, em);
	if (ret) {
		replay_free(rp);
		return ret;
	}
	*out = rp;
	return 0;
}

void replay_free(struct replay *rp)
{
	if (!rp)
		return;
	for (unsigned i = 0; i < PCR_MAX_BANKS; i++) {
		hash_ctx_free(rp->ext[i]);
		hash_ctx_free(rp->tmpl[i]);
	}
	free(rp);
}

static int check_digest(struct replay *rp, const struct ima_record *rec,
			const struct hash_alg *list_bank, struct errmsg *em)
{
	struct hash_ctx *ctx = NULL, *own = NULL;
	uint8_t d[IMA_MAX_DIGEST];
	char want[2 * IMA_MAX_DIGEST + 1], got[2 * IMA_MAX_DIGEST + 1];
	int ret;

	for (unsigned i = 0; i < rp->st.pcrs.nbanks; i++)
		if (rp->st.pcrs.bank[i].alg == list_bank)
			ctx = rp->tmpl[i];
	if (!ctx) {
		/* the list's bank is not replayed: checked all the same */
		ret = hash_ctx_new_template(list_bank, &own);
		if (ret)
			return errmsg_set(em, ret, "bank %s: this OpenSSL has no %s",
					  list_bank->name, list_bank->ossl_name);
		ctx = own;
	}
	ret = ima_record_template_digest(rec, ctx, d);
	if (!ret && memcmp(d, rec->digest, list_bank->size)) {
		hex(want, rec->digest, list_bank->size);
		hex(got, d, list_bank->size);
		ret = errmsg_set(em, -EBADMSG,
				 "record %llu at byte offset %llu (template '%s'): the list says template digest %s:%s, its template data hashes to %s",
				 (unsigned long long)rec->index,
				 (unsigned long long)rec->offset, rec->name,
				 list_bank->name, want, got);
	}
	hash_ctx_free(own);
	return ret;
}

int replay_extend(struct replay *rp, const struct ima_record *rec,
		  const struct hash_alg *list_bank, unsigned flags,
		  struct errmsg *em)
{
	bool violation = ima_record_is_violation(rec);
	uint8_t d[IMA_MAX_DIGEST];
	int ret;

	if (rec->pcr >= IMA_PCR_COUNT)
		return errmsg_set(em, -EBADMSG, "record %llu: PCR %u",
				  (unsigned long long)rec->index, rec->pcr);
	if ((flags & REPLAY_CHECK_DIGEST) && !violation) {
		ret = check_digest(rp, rec, list_bank, em);
		if (ret)
			return ret;
	}
	for (unsigned i = 0; i < rp->st.pcrs.nbanks; i++) {
		struct pcr_bank *b = &rp->st.pcrs.bank[i];
		struct hash_ctx *ctx = rp->ext[i];
		uint8_t *pcr = b->value[rec->pcr];

		if (violation)
			memset(d, 0xff, b->alg->size);
		else if (b->alg == list_bank)
			memcpy(d, rec->digest, b->alg->size);
		else if ((ret = ima_record_template_digest(rec, rp->tmpl[i], d)))
			return errmsg_set(em, ret, "hash failed");
		ret = hash_ctx_init(ctx);
		if (!ret)
			ret = hash_ctx_update(ctx, pcr, b->alg->size);
		if (!ret)
			ret = hash_ctx_update(ctx, d, b->alg->size);
		if (!ret)
			ret = hash_ctx_final(ctx, pcr);
		if (ret)
			return errmsg_set(em, ret, "hash failed");
	}
	rp->st.pcr_used |= 1u << rec->pcr;
	rp->st.next_index = rec->index + 1;
	return 0;
}

const struct replay_state *replay_state(const struct replay *rp)
{
	return &rp->st;
}
