// SPDX-License-Identifier: GPL-2.0-only
/* imastore fsck, the replay's half: every record's digest, every checkpoint. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "chain_replay.h"

struct fsck {
	struct chain *c;
	struct fsck_report *rep;
	fsck_note_fn note;
	void *arg;
	struct replay_state *cks;
	size_t ncks;
};

#define say(f, error, ...) fsck_say((f)->rep, (f)->note, (f)->arg, error, __VA_ARGS__)

static int collect_ck(void *arg, uint64_t index, const uint8_t *payload, size_t len)
{
	struct fsck *f = arg;
	struct replay_state *n;

	(void)payload;
	(void)len;
	n = realloc(f->cks, (f->ncks + 1) * sizeof(*f->cks));
	if (!n)
		return -ENOMEM;
	f->cks = n;
	/* decoded by chain_checkpoint_find's rules: re-read through the API */
	memset(&f->cks[f->ncks], 0, sizeof(*f->cks));
	f->cks[f->ncks].next_index = index;
	f->ncks++;
	return 0;
}

static bool states_equal(const struct replay_state *a, const struct replay_state *b)
{
	if (a->pcrs.nbanks != b->pcrs.nbanks || a->pcr_used != b->pcr_used)
		return false;
	for (unsigned i = 0; i < a->pcrs.nbanks; i++) {
		const struct pcr_bank *x = &a->pcrs.bank[i], *y = &b->pcrs.bank[i];

		if (x->alg->tpm_id != y->alg->tpm_id ||
		    x->alg->padded_sha1 != y->alg->padded_sha1 ||
		    memcmp(x->value, y->value, sizeof(x->value)))
			return false;
	}
	return true;
}

/* Replay everything; every record's digest and every checkpoint is checked. */
static void check_replay(struct fsck *f)
{
	struct chain *c = f->c;
	struct replay *rp = NULL;
	struct chain_iter *it = NULL;
	struct ima_record rec;
	struct errmsg em = { "" };
	size_t ck = 0;
	int r;

	/* checkpoints in the order of their index */
	for (size_t i = 0; i < f->ncks; i++) {
		struct replay_state st;

		if (chain_checkpoint_find(c, f->cks[i].next_index, &st, NULL) ||
		    st.next_index != f->cks[i].next_index)
			say(f, true, "checkpoint at record %llu cannot be read",
			    (unsigned long long)f->cks[i].next_index);
		else
			f->cks[i] = st;
	}
	if (chain_replay(c, 0, true, false, &rp, &em) ||
	    chain_iter_open(c, 0, &it, &em)) {
		say(f, true, "replay: %s", errmsg_text(&em));
		goto out;
	}
	for (;;) {
		while (ck < f->ncks && f->cks[ck].next_index == replay_state(rp)->next_index) {
			if (f->cks[ck].pcrs.nbanks && !states_equal(&f->cks[ck], replay_state(rp)))
				say(f, true, "checkpoint at record %llu does not match the replay of records 0..%llu",
				    (unsigned long long)f->cks[ck].next_index,
				    (unsigned long long)f->cks[ck].next_index - 1);
			ck++;
		}
		r = chain_iter_next(it, &rec, &em);
		if (r <= 0)
			break;
		r = replay_extend(rp, &rec, chain_meta(c)->bank, REPLAY_CHECK_DIGEST, &em);
		if (r == -EBADMSG) {
			say(f, true, "%s", errmsg_text(&em));
			r = replay_extend(rp, &rec, chain_meta(c)->bank, 0, &em);
		}
		if (r)
			break;
	}
	if (r < 0)
		say(f, true, "%s", errmsg_text(&em));
	for (; ck < f->ncks; ck++)
		if (f->cks[ck].next_index > replay_state(rp)->next_index)
			say(f, true, "checkpoint at record %llu is beyond the %llu stored records",
			    (unsigned long long)f->cks[ck].next_index,
			    (unsigned long long)replay_state(rp)->next_index);
out:
	chain_iter_free(it);
	replay_free(rp);
}

int chain_fsck(struct chain *c, struct fsck_report *rep, fsck_note_fn note,
	       void *arg)
{
	struct fsck f = { c, rep, note, arg, NULL, 0 };
	struct errmsg em = { "" };
	int ret;

	ret = chain_fsck_structure(c, rep, note, arg);
	if (!ret && !rep->errors) {
		if (chain_checkpoint_scan(c, collect_ck, &f, &em))
			say(&f, true, "checkpoints.log: %s", errmsg_text(&em));
		else
			check_replay(&f);
	}
	free(f.cks);
	return ret;
}
