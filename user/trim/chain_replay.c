// SPDX-License-Identifier: GPL-2.0-only
/* A chain's records replayed (from a checkpoint); checkpoints of a replay. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "chain_replay.h"

unsigned chain_banks(const struct chain *c, const struct hash_alg **banks)
{
	const struct chain_meta *m = chain_meta(c);
	unsigned n = 0;
	bool have_stored = false;

	for (unsigned i = 0; i < m->nbanks; i++) {
		if (!hash_alg_available(m->banks[i]))
			continue;
		banks[n++] = m->banks[i];
		have_stored |= m->banks[i]->tpm_id == m->bank->tpm_id;
	}
	if (!have_stored && n < PCR_MAX_BANKS)
		banks[n++] = m->bank;
	return n;
}

int chain_checkpoint_write(struct chain *c, const struct replay_state *st,
			   struct errmsg *em)
{
	size_t len = replay_state_size(st);
	uint8_t *p = malloc(len);
	int ret;

	if (!p)
		return -ENOMEM;
	replay_state_encode(st, p);
	ret = chain_checkpoint_append(c, st->next_index, p, len, em);
	free(p);
	return ret;
}

struct ck_find {
	uint64_t at_most;
	struct replay_state *st;
	bool found;
};

static int ck_find_cb(void *arg, uint64_t index, const uint8_t *payload, size_t len)
{
	struct ck_find *cf = arg;
	struct replay_state tmp;

	if (index > cf->at_most)
		return 0;
	if (replay_state_decode(payload, len, index, &tmp))
		return 0;	/* derived data: a bad one is skipped (fsck reports) */
	*cf->st = tmp;
	cf->found = true;
	return 1;	/* the newest usable one */
}

int chain_checkpoint_find(struct chain *c, uint64_t at_most,
			  struct replay_state *st, struct errmsg *em)
{
	uint64_t durable = chain_durable(c);
	struct ck_find cf = { at_most < durable ? at_most : durable, st, false };
	int ret = chain_checkpoint_scan_back(c, cf.at_most, ck_find_cb, &cf, em);

	if (ret)
		return ret;
	return cf.found ? 0 : -ENOENT;
}

/* A checkpoint is usable if it has exactly the banks we replay. */
static bool same_banks(const struct replay_state *st, const struct hash_alg **banks,
		       unsigned n)
{
	if (st->pcrs.nbanks != n)
		return false;
	for (unsigned i = 0; i < n; i++)
		if (st->pcrs.bank[i].alg->tpm_id != banks[i]->tpm_id ||
		    st->pcrs.bank[i].alg->padded_sha1 != banks[i]->padded_sha1)
			return false;
	return true;
}

int chain_replay(struct chain *c, uint64_t upto, bool full, bool write,
		 struct replay **out, struct errmsg *em)
{
	const struct hash_alg *banks[PCR_MAX_BANKS];
	const struct chain_meta *m = chain_meta(c);
	struct replay_state ck;
	struct replay *rp = NULL;
	struct chain_iter *it = NULL;
	struct ima_record rec;
	unsigned n = chain_banks(c, banks);
	uint64_t from = 0;
	int ret;

	if (upto > chain_durable(c))
		upto = chain_durable(c);
	if (!full && !chain_checkpoint_find(c, upto, &ck, NULL) &&
	    same_banks(&ck, banks, n)) {
		ret = replay_resume(&rp, &ck, em);
		from = ck.next_index;
	} else {
		ret = replay_new(&rp, banks, n, em);
	}
	if (ret)
		return ret;
	ret = chain_iter_open(c, from, &it, em);
	while (!ret && from < upto) {
		ret = chain_iter_next(it, &rec, em);
		if (ret == 0)
			ret = errmsg_set(em, -EIO, "chain %s ended at %llu", m->chain,
					 (unsigned long long)from);
		if (ret < 0)
			break;
		ret = replay_extend(rp, &rec, m->bank, REPLAY_CHECK_DIGEST, em);
		if (ret)
			break;
		from++;
		if (write && from % STORE_CHECKPOINT_EVERY == 0)
			ret = chain_checkpoint_write(c, replay_state(rp), em);
	}
	if (!ret && write && from % STORE_CHECKPOINT_EVERY)
		ret = chain_checkpoint_write(c, replay_state(rp), em);
	chain_iter_free(it);
	if (ret) {
		replay_free(rp);
		return ret;
	}
	*out = rp;
	return 0;
}

int chain_replay_stored_bank(struct chain *c, uint64_t upto, struct replay **out,
			     struct errmsg *em)
{
	const struct hash_alg *bank = chain_list_bank(c);
	struct replay *all = NULL;
	struct replay_state *one;
	struct pcr_bank *b;
	int ret = chain_replay(c, upto, false, false, &all, em);

	if (ret)
		return ret;
	one = malloc(sizeof(*one));
	if (!one) {
		replay_free(all);
		return -ENOMEM;
	}
	*one = *replay_state(all);
	replay_free(all);
	b = pcr_set_bank(&one->pcrs, bank);
	if (!b) {
		free(one);
		return errmsg_set(em, -ENOENT, "chain %s: its stored bank %s is not replayed",
				  chain_meta(c)->chain, bank->name);
	}
	one->pcrs.bank[0] = *b;
	one->pcrs.nbanks = 1;
	ret = replay_resume(out, one, em);
	free(one);
	return ret;
}
