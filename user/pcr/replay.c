// SPDX-License-Identifier: GPL-2.0-only
/*
 * PCR replay: PCR[i] = H(PCR[i] || template digest), per bank, the way the
 * kernel extends the TPM (ima_pcr_extend() with the digests of every bank).
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "replay.h"

#define NO_MATCH (-1)

/* A share of the banks, and the batch work done on it. */
struct lane {
	struct replay *rp;
	uint32_t banks;			/* bit b: bank b is this lane's */
	bool checks;			/* this lane checks list digests */
	/* the batch being worked on */
	const struct ima_record *recs;
	unsigned n;
	const struct hash_alg *list_bank;
	unsigned flags;
	int ret;
	bool have_bad;
	uint64_t bad_index;
	struct errmsg bad, em;
};

struct replay {
	struct replay_state st;
	struct hash_ctx *ext[PCR_MAX_BANKS];	/* the bank's hash: extends */
	struct hash_ctx *tmpl[PCR_MAX_BANKS];	/* its template digests */
	struct hash_ctx *check;		/* list bank's, if it is not replayed */
	const struct hash_alg *check_alg;
	const struct pcr_set *expected;
	const struct pcr_bank *exp_bank[PCR_MAX_BANKS];	/* per replayed bank */
	int64_t matched[PCR_MAX_BANKS][IMA_PCR_COUNT];
	/* threads: lane 0 is the caller's */
	unsigned nlanes;
	struct lane lanes[2];
	pthread_t worker;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned generation, done;
	bool stop;
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
	rp->nlanes = 1;
	rp->lanes[0].rp = rp;
	rp->lanes[0].banks = ~0u;
	rp->lanes[0].checks = true;
	for (unsigned b = 0; b < PCR_MAX_BANKS; b++)
		for (unsigned p = 0; p < IMA_PCR_COUNT; p++)
			rp->matched[b][p] = NO_MATCH;
	ret = make_ctxs(rp, em);
	if (ret) {
		replay_free(rp);
		return ret;
	}
	*out = rp;
	return 0;
}

static void stop_worker(struct replay *rp)
{
	if (rp->nlanes < 2)
		return;
	pthread_mutex_lock(&rp->lock);
	rp->stop = true;
	pthread_cond_broadcast(&rp->cond);
	pthread_mutex_unlock(&rp->lock);
	pthread_join(rp->worker, NULL);
	pthread_mutex_destroy(&rp->lock);
	pthread_cond_destroy(&rp->cond);
	rp->nlanes = 1;
}

void replay_free(struct replay *rp)
{
	if (!rp)
		return;
	stop_worker(rp);
	for (unsigned i = 0; i < PCR_MAX_BANKS; i++) {
		hash_ctx_free(rp->ext[i]);
		hash_ctx_free(rp->tmpl[i]);
	}
	hash_ctx_free(rp->check);
	free(rp);
}

void replay_watch(struct replay *rp, const struct pcr_set *expected)
{
	rp->expected = expected;
	for (unsigned b = 0; b < rp->st.pcrs.nbanks; b++)
		rp->exp_bank[b] = expected ?
			pcr_set_bank((struct pcr_set *)expected, rp->st.pcrs.bank[b].alg) : NULL;
}

int64_t replay_matched_through(const struct replay *rp,
			       const struct hash_alg *bank, unsigned pcr)
{
	for (unsigned b = 0; b < rp->st.pcrs.nbanks; b++)
		if (rp->st.pcrs.bank[b].alg == bank && pcr < IMA_PCR_COUNT)
			return rp->matched[b][pcr];
	return NO_MATCH;
}

static int bank_index(const struct replay *rp, const struct hash_alg *alg)
{
	for (unsigned i = 0; i < rp->st.pcrs.nbanks; i++)
		if (rp->st.pcrs.bank[i].alg == alg)
			return (int)i;
	return -1;
}

static int check_digest(struct replay *rp, const struct ima_record *rec,
			const struct hash_alg *list_bank, struct errmsg *em)
{
	int b = bank_index(rp, list_bank);
	struct hash_ctx *ctx;
	uint8_t d[IMA_MAX_DIGEST];
	char want[2 * IMA_MAX_DIGEST + 1], got[2 * IMA_MAX_DIGEST + 1];
	int ret;

	if (b >= 0) {
		ctx = rp->tmpl[b];
	} else {
		/* the list's bank is not replayed: checked all the same */
		if (rp->check_alg != list_bank) {
			hash_ctx_free(rp->check);
			rp->check = NULL;
			rp->check_alg = list_bank;
			ret = hash_ctx_new_template(list_bank, &rp->check);
			if (ret)
				return errmsg_set(em, ret, "bank %s: this OpenSSL has no %s",
						  list_bank->name, list_bank->ossl_name);
		}
		ctx = rp->check;
	}
	ret = ima_record_template_digest(rec, ctx, d);
	if (ret)
		return errmsg_set(em, ret, "hash failed");
	if (!memcmp(d, rec->digest, list_bank->size))
		return 0;
	hex(want, rec->digest, list_bank->size);
	hex(got, d, list_bank->size);
	return errmsg_set(em, -EBADMSG,
			  "record %llu at byte offset %llu (template '%s'): the list says template digest %s:%s, its template data hashes to %s",
			  (unsigned long long)rec->index,
			  (unsigned long long)rec->offset, rec->name,
			  list_bank->name, want, got);
}

static int extend_bank(struct replay *rp, unsigned b,
		       const struct ima_record *rec, bool violation,
		       const struct hash_alg *list_bank)
{
	struct pcr_bank *bank = &rp->st.pcrs.bank[b];
	struct hash_ctx *ctx = rp->ext[b];
	uint8_t *pcr = bank->value[rec->pcr];
	uint8_t d[IMA_MAX_DIGEST];
	unsigned size = bank->alg->size;
	int ret;

	if (violation)
		memset(d, 0xff, size);
	else if (bank->alg->tpm_id == list_bank->tpm_id)
		memcpy(d, rec->digest, size);	/* what the kernel extended */
	else if ((ret = ima_record_template_digest(rec, rp->tmpl[b], d)))
		return ret;
	ret = hash_ctx_init(ctx);
	if (!ret)
		ret = hash_ctx_update(ctx, pcr, size);
	if (!ret)
		ret = hash_ctx_update(ctx, d, size);
	if (!ret)
		ret = hash_ctx_final(ctx, pcr);
	if (!ret && rp->exp_bank[b]) {
		const struct pcr_bank *e = rp->exp_bank[b];
		uint64_t x, y;

		/* once per record and bank: the first 8 bytes settle it nearly always */
		memcpy(&x, pcr, 8);
		memcpy(&y, e->value[rec->pcr], 8);
		if (x == y && (e->valid & (1u << rec->pcr)) &&
		    !memcmp(pcr, e->value[rec->pcr], size))
			rp->matched[b][rec->pcr] = (int64_t)rec->index;
	}
	return ret;
}

/* One lane's share of a batch: its banks, and the digest checks if its. */
static void lane_run(struct lane *l)
{
	struct replay *rp = l->rp;

	l->ret = 0;
	l->have_bad = false;
	for (unsigned i = 0; i < l->n && !l->ret; i++) {
		const struct ima_record *rec = &l->recs[i];
		bool violation = ima_record_is_violation(rec);

		if (rec->pcr >= IMA_PCR_COUNT) {
			l->ret = errmsg_set(&l->em, -EBADMSG, "record %llu: PCR %u",
					    (unsigned long long)rec->index, rec->pcr);
			break;
		}
		if (l->checks && (l->flags & REPLAY_CHECK_DIGEST) && !violation &&
		    !l->have_bad) {
			int r = check_digest(rp, rec, l->list_bank, &l->bad);

			if (r == -EBADMSG) {
				l->have_bad = true;
				l->bad_index = rec->index;
			} else if (r) {
				l->ret = r;
				l->em = l->bad;
				break;
			}
		}
		for (unsigned b = 0; b < rp->st.pcrs.nbanks && !l->ret; b++)
			if (l->banks & (1u << b))
				l->ret = extend_bank(rp, b, rec, violation, l->list_bank);
		if (l->ret && !l->em.text[0])
			errmsg_set(&l->em, l->ret, "hash failed");
	}
}

static void *worker_main(void *arg)
{
	struct replay *rp = arg;
	unsigned seen = 0;

	pthread_mutex_lock(&rp->lock);
	for (;;) {
		while (!rp->stop && rp->generation == seen)
			pthread_cond_wait(&rp->cond, &rp->lock);
		if (rp->stop)
			break;
		seen = rp->generation;
		pthread_mutex_unlock(&rp->lock);
		lane_run(&rp->lanes[1]);
		pthread_mutex_lock(&rp->lock);
		rp->done = seen;
		pthread_cond_broadcast(&rp->cond);
	}
	pthread_mutex_unlock(&rp->lock);
	return NULL;
}

int replay_set_threads(struct replay *rp, unsigned nthreads)
{

	if (nthreads < 2 || rp->st.pcrs.nbanks < 2 || rp->nlanes > 1)
		return 0;
	/* alternate banks between the lanes; lane 0 does the checks */
	rp->lanes[0].banks = 0;
	rp->lanes[1].banks = 0;
	for (unsigned b = 0; b < rp->st.pcrs.nbanks; b++)
		rp->lanes[b & 1].banks |= 1u << b;
	rp->lanes[1].rp = rp;
	rp->lanes[1].checks = false;
	if (pthread_mutex_init(&rp->lock, NULL) || pthread_cond_init(&rp->cond, NULL))
		return -ENOMEM;
	if (pthread_create(&rp->worker, NULL, worker_main, rp)) {
		rp->lanes[0].banks = ~0u;
		return -EAGAIN;
	}
	rp->nlanes = 2;
	return 0;
}

int replay_extend_batch(struct replay *rp, const struct ima_record *recs,
			unsigned n, const struct hash_alg *list_bank,
			unsigned flags, uint64_t *bad_index,
			struct errmsg *bad, struct errmsg *em)
{
	int ret;

	if (!n)
		return 0;
	for (unsigned i = 0; i < rp->nlanes; i++) {
		struct lane *l = &rp->lanes[i];

		l->recs = recs;
		l->n = n;
		l->list_bank = list_bank;
		l->flags = flags;
		l->em.text[0] = '\0';
	}
	if (rp->nlanes > 1) {
		pthread_mutex_lock(&rp->lock);
		rp->generation++;
		pthread_cond_broadcast(&rp->cond);
		pthread_mutex_unlock(&rp->lock);
	}
	lane_run(&rp->lanes[0]);
	if (rp->nlanes > 1) {
		pthread_mutex_lock(&rp->lock);
		while (rp->done != rp->generation)
			pthread_cond_wait(&rp->cond, &rp->lock);
		pthread_mutex_unlock(&rp->lock);
	}
	for (unsigned i = 0; i < rp->nlanes; i++) {
		if (rp->lanes[i].ret) {
			ret = rp->lanes[i].ret;
			if (em)
				*em = rp->lanes[i].em;
			return ret;
		}
	}
	if (rp->lanes[0].have_bad) {
		*bad_index = rp->lanes[0].bad_index;
		if (bad)
			*bad = rp->lanes[0].bad;
	}
	for (unsigned i = 0; i < n; i++)
		rp->st.pcr_used |= 1u << recs[i].pcr;
	rp->st.next_index = recs[n - 1].index + 1;
	return 0;
}

int replay_extend(struct replay *rp, const struct ima_record *rec,
		  const struct hash_alg *list_bank, unsigned flags,
		  struct errmsg *em)
{
	uint64_t bad_index = UINT64_MAX;
	struct errmsg bad = { "" };
	int ret;

	if (rec->pcr >= IMA_PCR_COUNT)
		return errmsg_set(em, -EBADMSG, "record %llu: PCR %u",
				  (unsigned long long)rec->index, rec->pcr);
	if ((flags & REPLAY_CHECK_DIGEST) && !ima_record_is_violation(rec)) {
		ret = check_digest(rp, rec, list_bank, &bad);
		if (ret) {
			if (em)
				*em = bad;
			return ret;
		}
	}
	return replay_extend_batch(rp, rec, 1, list_bank, 0, &bad_index, &bad, em);
}

const struct replay_state *replay_state(const struct replay *rp)
{
	return &rp->st;
}
