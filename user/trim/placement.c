// SPDX-License-Identifier: GPL-2.0-only
/*
 * Placement (docs/trimming.md §3): where the kernel's list sits in a chain,
 * decided on positive evidence only. The daemon, export and status all ask
 * here; nothing else decides it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chain_replay.h"
#include "placement.h"
#include "template.h"

#define IMA_PCR 10	/* the PCR the TPM evidence is read from */

const char *boot_origin_name(enum boot_origin o)
{
	static const char *const names[] = { "kexec", "fresh", "headless", "unlinked" };

	return names[o];
}

void place_evidence_text(unsigned ev, char *buf, size_t len)
{
	static const char *const words[] = { "trims", "overlap", "anchored", "tpm" };
	size_t pos = 0;

	buf[0] = '\0';
	for (unsigned i = 0; i < 4; i++)
		if (ev & (1u << i) && pos < len)
			pos += (size_t)snprintf(buf + pos, len - pos, "%s%s", pos ? "," : "",
						words[i]);
	if (!pos)
		snprintf(buf, len, "none");
}

int place_candidates(struct chain *c, const char *boot_id, uint64_t *expected,
		     uint64_t *alt, struct errmsg *em)
{
	const struct chain_meta *m = chain_meta(c);
	enum trim_state st;
	uint64_t k, done;
	int ret;

	*expected = *alt = UINT64_MAX;
	for (unsigned i = 0; i < m->nboots; i++)
		if (!strcmp(m->boots[i].id, boot_id))
			*expected = m->boots[i].first_index;
	ret = chain_trim_last(c, boot_id, &k, &st, em);
	if (ret == -ENOENT)
		return *expected == UINT64_MAX ?
		       errmsg_set(em, -ENOENT, "boot %s is not in chain %s", boot_id, m->chain) : 0;
	if (ret)
		return ret;
	if (st == TRIM_DONE) {
		*expected = k;
		return 0;
	}
	/* a trim was under way: it did or did not happen */
	ret = chain_trim_last_done(c, boot_id, &done, em);
	if (ret && ret != -ENOENT)
		return ret;
	if (!ret)
		*expected = done;
	if (*expected != k)
		*alt = k;
	return 0;
}

/* The result of comparing the kernel's list placed at j with the chain. */
struct align {
	bool aligned;
	bool anchored;
	uint64_t overlap;	/* records compared: S - j */
};

/* §3.1.2: L[0 .. S-j) == C[j .. S), and the list is that long. */
static int aligned_at(struct chain *c, const struct kernel_head *kh, uint64_t j,
		      struct align *a, struct errmsg *em)
{
	uint64_t end = chain_durable(c);
	struct chain_iter *it = NULL;
	struct ima_record k, s;
	int ret;

	memset(a, 0, sizeof(*a));
	if (j > end)
		return 0;
	ret = kh->rewind(kh->arg, em);
	if (!ret && j < end)
		ret = chain_iter_open(c, j, &it, em);
	a->aligned = true;
	for (uint64_t i = j; !ret && i < end; i++) {
		ret = kh->next(kh->arg, &k, em);
		if (ret <= 0) {
			a->aligned = false;	/* the list ends before the store */
			break;
		}
		ret = chain_iter_next(it, &s, em);
		if (ret <= 0) {
			ret = ret ? ret : errmsg_set(em, -EIO, "chain %s ended at %llu",
						   chain_meta(c)->chain, (unsigned long long)i);
			break;
		}
		ret = 0;
		if (k.raw_len != s.raw_len || memcmp(k.raw, s.raw, k.raw_len)) {
			a->aligned = false;
			break;
		}
		a->overlap++;
		a->anchored |= !ima_record_is_violation(&k);
	}
	chain_iter_free(it);
	if (ret < 0)
		return ret;
	if (!a->aligned)
		a->anchored = false;
	return 0;
}

/* PCR 10 of every bank the replay and the TPM share is equal (and >= 1). */
static bool pcrs_equal(const struct replay_state *st, const struct pcr_set *tpm)
{
	unsigned common = 0;

	for (unsigned b = 0; b < st->pcrs.nbanks; b++) {
		const struct pcr_bank *rb = &st->pcrs.bank[b];
		struct pcr_bank *tb = pcr_set_bank((struct pcr_set *)tpm, rb->alg);

		if (!tb || !(tb->valid & (1u << IMA_PCR)))
			continue;
		if (memcmp(rb->value[IMA_PCR], tb->value[IMA_PCR], rb->alg->size))
			return false;
		common++;
	}
	return common > 0;
}

/* Records in the kernel's list as read (n') */
static int count_list(const struct kernel_head *kh, uint64_t *n, struct errmsg *em)
{
	struct ima_record r;
	int ret = kh->rewind(kh->arg, em);

	*n = 0;
	while (!ret && (ret = kh->next(kh->arg, &r, em)) > 0) {
		(*n)++;
		ret = 0;
	}
	return ret < 0 ? ret : 0;
}

/*
 * §3.1.3: from `start` (the replay of records 0..from-1, NULL: zero PCRs of
 * `bank`), extend the list's records from `skip` on as records from..; is
 * PCR 10 equal to the TPM's after T records, j + n - 1 <= T <= j + n'?
 */
static int tpm_confirms(const struct kernel_head *kh, const struct place_tpm *tpm,
			const struct replay_state *start, const struct hash_alg *bank,
			uint64_t j, uint64_t from, uint64_t skip, const struct hash_alg *list_bank,
			bool *yes, struct errmsg *em)
{
	struct replay *rp = NULL;
	struct ima_record r;
	uint64_t n_all, n_first, t = from, lo;
	int ret;

	*yes = false;
	ret = count_list(kh, &n_all, em);
	if (ret)
		return ret;
	n_first = n_all > tpm->more ? n_all - tpm->more : 0;
	lo = j + n_first > 0 ? j + n_first - 1 : 0;
	ret = start ? replay_resume(&rp, start, em) : replay_new(&rp, &bank, 1, em);
	if (ret)
		return ret;
	if (t >= lo && pcrs_equal(replay_state(rp), tpm->pcrs))
		*yes = true;
	ret = kh->rewind(kh->arg, em);
	for (uint64_t i = 0; !ret && !*yes && t < j + n_all; i++) {
		ret = kh->next(kh->arg, &r, em);
		if (ret <= 0)
			break;
		ret = 0;
		if (i < skip)
			continue;
		r.index = t++;
		ret = replay_extend(rp, &r, list_bank, 0, em);
		if (!ret && t >= lo && pcrs_equal(replay_state(rp), tpm->pcrs))
			*yes = true;
	}
	replay_free(rp);
	return ret < 0 ? ret : 0;
}

/* `L at j` is confirmed by the TPM (§3.1.3); j <= S. */
static int confirm_at(struct chain *c, const struct kernel_head *kh,
		      const struct place_tpm *tpm, const struct replay_state *stored,
		      uint64_t j, bool *yes, struct errmsg *em)
{
	uint64_t end = chain_durable(c);

	return tpm_confirms(kh, tpm, stored, NULL, j, end, end - j, chain_list_bank(c), yes, em);
}

static void found(struct placement *out, uint64_t k, unsigned ev, const struct align *a)
{
	out->result = PLACE_FOUND;
	out->k = k;
	out->evidence = ev | (a->overlap ? PLACE_EV_OVERLAP : 0) |
			(a->anchored ? PLACE_EV_ANCHORED : 0);
	out->foreign = k != out->expected;
}

/*
 * The aligned placements above `lo` (exclusive) below the durable end, by
 * one pass over the chain for records equal to the list's first. With a
 * TPM the first confirmed one is taken; without, the anchored ones are
 * counted (*count) and the first kept.
 */
static int search(struct chain *c, const struct kernel_head *kh, uint64_t lo,
		  const struct place_tpm *tpm, const struct replay_state *stored,
		  uint64_t *k, struct align *ka, unsigned *count, unsigned *loose,
		  struct errmsg *em)
{
	uint64_t end = chain_durable(c);
	struct chain_iter *it = NULL;
	struct ima_record head, s;
	uint8_t *first = NULL;
	size_t first_len = 0;
	int ret;

	*count = *loose = 0;
	if (lo + 1 >= end)
		return 0;
	ret = kh->rewind(kh->arg, em);
	if (!ret && (ret = kh->next(kh->arg, &head, em)) <= 0)
		return ret;
	first = malloc(head.raw_len);
	if (!first)
		return -ENOMEM;
	memcpy(first, head.raw, head.raw_len);
	first_len = head.raw_len;
	ret = chain_iter_open(c, lo + 1, &it, em);
	for (uint64_t j = lo + 1; !ret && j < end; j++) {
		struct align a;
		bool yes = false;

		ret = chain_iter_next(it, &s, em);
		if (ret <= 0) {
			ret = ret ? ret : errmsg_set(em, -EIO, "chain ended at %llu",
						   (unsigned long long)j);
			break;
		}
		ret = 0;
		if (s.raw_len != first_len || memcmp(s.raw, first, first_len))
			continue;
		ret = aligned_at(c, kh, j, &a, em);
		if (ret || !a.aligned)
			continue;
		if (tpm) {
			ret = confirm_at(c, kh, tpm, stored, j, &yes, em);
			if (!ret && yes) {
				*k = j;
				*ka = a;
				*count = 1;
				break;
			}
			continue;
		}
		if (!a.anchored) {
			(*loose)++;
			continue;
		}
		if (!(*count)++) {
			*k = j;
			*ka = a;
		}
	}
	chain_iter_free(it);
	free(first);
	return ret;
}

static int place_with_tpm(struct chain *c, const struct kernel_head *kh,
			  const struct place_tpm *tpm, const struct replay_state *stored,
			  const uint64_t *cand, const struct align *ca, struct placement *out,
			  struct errmsg *em)
{
	uint64_t end = chain_durable(c), lo = UINT64_MAX, k = 0;
	unsigned count = 0, loose;
	struct align a;
	bool yes;
	int ret;

	for (int i = 0; i < 2; i++) {
		if (cand[i] == UINT64_MAX)
			continue;
		lo = cand[i] < lo ? cand[i] : lo;
		if (!ca[i].aligned)
			continue;
		ret = confirm_at(c, kh, tpm, stored, cand[i], &yes, em);
		if (ret)
			return ret;
		if (yes) {
			found(out, cand[i], PLACE_EV_TRIMS | PLACE_EV_TPM, &ca[i]);
			return 0;
		}
	}
	ret = search(c, kh, lo, tpm, stored, &k, &a, &count, &loose, em);
	if (ret)
		return ret;
	if (count) {
		found(out, k, PLACE_EV_TPM, &a);
		return 0;
	}
	/* everything stored was deleted, the list starts right after it */
	if (lo < end && cand[0] != end && cand[1] != end) {
		ret = confirm_at(c, kh, tpm, stored, end, &yes, em);
		if (ret)
			return ret;
		if (yes) {
			memset(&a, 0, sizeof(a));
			found(out, end, PLACE_EV_TPM, &a);
			return 0;
		}
	}
	/* the TPM disagrees with every placement: an anchored overlap still stands */
	for (int i = 0; i < 2; i++) {
		if (cand[i] == UINT64_MAX || !ca[i].anchored)
			continue;
		found(out, cand[i], PLACE_EV_TRIMS, &ca[i]);
		out->tpm_disagrees = true;
		snprintf(out->why, sizeof(out->why),
			 "the TPM's PCR %d confirms no placement; the list continues the store at record %llu byte for byte",
			 IMA_PCR, (unsigned long long)cand[i]);
		return 0;
	}
	out->result = PLACE_BEYOND;
	snprintf(out->why, sizeof(out->why),
		 "no placement at or below record %llu is confirmed by the TPM's PCR %d",
		 (unsigned long long)end, IMA_PCR);
	return 0;
}

static int place_structural(struct chain *c, const struct kernel_head *kh,
			    const uint64_t *cand, const struct align *ca,
			    struct placement *out, struct errmsg *em)
{
	uint64_t end = chain_durable(c), k = 0, lo;
	unsigned count, loose;
	struct align a;
	int ret, pick = -1;

	if (ca[0].aligned && ca[1].aligned) {
		out->result = PLACE_AMBIGUOUS;
		snprintf(out->why, sizeof(out->why),
			 "the list fits both at record %llu and at %llu (identical records, no TPM)",
			 (unsigned long long)cand[0], (unsigned long long)cand[1]);
		return 0;
	}
	pick = ca[0].aligned ? 0 : ca[1].aligned ? 1 : -1;
	if (pick >= 0 && (!ca[pick].overlap || ca[pick].anchored)) {
		found(out, cand[pick], PLACE_EV_TRIMS, &ca[pick]);
		return 0;
	}
	/* not aligned where expected, or aligned on violations only */
	lo = cand[1] < cand[0] ? cand[1] : cand[0];
	ret = search(c, kh, lo, NULL, NULL, &k, &a, &count, &loose, em);
	if (ret)
		return ret;
	if (pick >= 0 && !count && !loose) {
		found(out, cand[pick], PLACE_EV_TRIMS, &ca[pick]);
		return 0;
	}
	if (count == 1 && !loose && pick < 0) {
		found(out, k, 0, &a);
		return 0;
	}
	if (count || loose || pick >= 0) {
		out->result = PLACE_AMBIGUOUS;
		/* the head is not where our deletions left it: someone deleted */
		out->foreign = pick < 0;
		snprintf(out->why, sizeof(out->why),
			 "the list fits at %u places between records %llu and %llu (identical records, no TPM)",
			 count + loose + (pick >= 0), (unsigned long long)lo,
			 (unsigned long long)end);
		return 0;
	}
	out->result = PLACE_BEYOND;
	snprintf(out->why, sizeof(out->why),
		 "the kernel's first record is none of the stored records %llu..%llu",
		 (unsigned long long)lo, (unsigned long long)end - 1);
	return 0;
}

int place_in_chain(struct chain *c, const char *boot_id, const struct kernel_head *kh,
		   const struct place_tpm *tpm, const struct replay_state *stored,
		   struct placement *out, struct errmsg *em)
{
	uint64_t cand[2];
	struct align ca[2] = { { 0 }, { 0 } };
	int ret;

	memset(out, 0, sizeof(*out));
	if (tpm && !stored)
		return errmsg_set(em, -EINVAL, "placement: TPM evidence without the stored replay");
	ret = place_candidates(c, boot_id, &cand[0], &cand[1], em);
	if (ret)
		return ret;
	out->expected = cand[0];
	for (int i = 0; i < 2 && !ret; i++)
		if (cand[i] != UINT64_MAX)
			ret = aligned_at(c, kh, cand[i], &ca[i], em);
	if (ret)
		return ret;
	if (cand[1] != UINT64_MAX && ca[1].aligned && !ca[0].aligned)
		out->expected = cand[1];	/* the unfinished trim happened */
	ret = tpm ? place_with_tpm(c, kh, tpm, stored, cand, ca, out, em) :
		    place_structural(c, kh, cand, ca, out, em);
	if (!ret && out->result == PLACE_FOUND && out->foreign)
		snprintf(out->why, sizeof(out->why),
			 "the kernel's list starts at record %llu, not at %llu where imastored's deletions left it: records %llu..%llu were deleted by another process (all of them stored)",
			 (unsigned long long)out->k, (unsigned long long)out->expected,
			 (unsigned long long)out->expected, (unsigned long long)out->k - 1);
	return ret;
}

/* The first record of the list: a boot_aggregate? (*empty: no record) */
static int head_is_ba(const struct kernel_head *kh, bool *ba, bool *empty,
		      struct errmsg *em)
{
	struct ima_record r;
	int ret = kh->rewind(kh->arg, em);

	*ba = false;
	*empty = true;
	if (!ret && (ret = kh->next(kh->arg, &r, em)) > 0) {
		*empty = false;
		*ba = record_is_boot_aggregate(&r);
		ret = 0;
	}
	return ret;
}

/*
 * One chain as the continuation of the list (§3.3), placed as a running
 * boot's list is (§3.2) against the chain's last boot: *yes with out's
 * chain, first, evidence and foreign; *maybe: it would fit, but nothing
 * proves it (no TPM, a boot_aggregate at the head, or ambiguous).
 */
static int try_chain(struct chain *c, const struct kernel_head *kh,
		     const struct place_tpm *tpm, bool head_ba, bool *yes, bool *maybe,
		     struct boot_placement *out, struct errmsg *em)
{
	const struct chain_meta *m = chain_meta(c);
	const char *last = m->boots[m->nboots - 1].id;
	struct replay *rp = NULL;
	struct placement pl;
	int ret;

	*yes = *maybe = false;
	ret = place_in_chain(c, last, kh, NULL, NULL, &pl, em);
	if (ret)
		return ret == -ENOENT ? 0 : ret;
	if (pl.result == PLACE_AMBIGUOUS ||
	    (pl.result == PLACE_FOUND && pl.evidence & PLACE_EV_OVERLAP))
		*maybe = true;
	if (tpm && (*maybe || pl.expected == chain_durable(c))) {
		ret = chain_replay_stored_bank(c, chain_durable(c), &rp, em);
		if (!ret)
			ret = place_in_chain(c, last, kh, tpm, replay_state(rp), &pl, em);
		replay_free(rp);
		if (ret)
			return ret;
		*yes = pl.result == PLACE_FOUND && !pl.tpm_disagrees;
	} else if (!tpm) {
		*yes = pl.result == PLACE_FOUND && !head_ba &&
		       pl.evidence & PLACE_EV_ANCHORED;
	}
	if (*yes) {
		snprintf(out->chain, sizeof(out->chain), "%s", m->chain);
		out->first = pl.k;
		out->evidence = pl.evidence;
		out->foreign = pl.foreign;
		if (pl.foreign)
			snprintf(out->why, sizeof(out->why), "%s", pl.why);
	}
	return 0;
}

/*
 * PCR 10 replays from zero: a fresh boot, unless a chain that never
 * deleted begins exactly like the list (a kexec of it replays from zero
 * too): then the new chain is not linked to either (§3.3.1).
 */
static int fresh_or_twin(struct store *s, const struct hash_alg *bank,
			 const struct kernel_head *kh, struct boot_placement *out,
			 struct errmsg *em)
{
	char (*ids)[STORE_ID_MAX] = NULL;
	bool twin = false;
	size_t n = 0;
	int ret = store_chain_list(s, &ids, &n, em);

	for (size_t i = 0; !ret && i < n && !twin; i++) {
		struct chain *c = NULL;
		struct align a;

		if (store_chain_open_name(s, ids[i], &c, NULL))
			continue;
		if (chain_meta(c)->bank->tpm_id == bank->tpm_id && chain_durable(c)) {
			ret = aligned_at(c, kh, 0, &a, em);
			twin = !ret && a.aligned;
		}
		chain_close(c);
	}
	free(ids);
	if (ret)
		return ret;
	out->origin = twin ? BOOT_UNLINKED : BOOT_FRESH;
	out->evidence = PLACE_EV_TPM;
	snprintf(out->why, sizeof(out->why), "%s",
		 twin ? "PCR 10 replays from zero, and the list begins like a chain that never deleted: a reboot or its kexec" :
			"PCR 10 replays from zero");
	return 0;
}

int place_new_boot(struct store *s, const struct hash_alg *bank,
		   const struct kernel_head *kh, const struct place_tpm *tpm,
		   struct boot_placement *out, struct errmsg *em)
{
	char (*ids)[STORE_ID_MAX] = NULL;
	unsigned matches = 0, maybes = 0;
	bool ba, empty, yes = false, maybe = false;
	size_t n = 0;
	int ret;

	memset(out, 0, sizeof(*out));
	ret = head_is_ba(kh, &ba, &empty, em);
	if (ret)
		return ret;
	/* a fresh boot's list begins with its boot_aggregate, nothing deleted */
	if (tpm && ba && !empty) {
		ret = tpm_confirms(kh, tpm, NULL, bank, 0, 0, 0, bank, &yes, em);
		if (ret)
			return ret;
		if (yes)
			return fresh_or_twin(s, bank, kh, out, em);
	}
	ret = empty ? 0 : store_chain_list(s, &ids, &n, em);
	for (size_t i = 0; !ret && i < n; i++) {
		struct boot_placement cand = { .origin = BOOT_CONTINUES };
		struct chain *c = NULL;

		if (store_chain_open_name(s, ids[i], &c, NULL))
			continue;	/* a damaged old chain cannot be continued */
		if (chain_meta(c)->bank->tpm_id == bank->tpm_id)
			ret = try_chain(c, kh, tpm, ba, &yes, &maybe, &cand, em);
		chain_close(c);
		if (ret)
			break;
		maybes += maybe && !yes;
		if (yes && !matches++)
			*out = cand;
		if (tpm && matches)
			break;
	}
	free(ids);
	if (ret)
		return ret;
	if (matches == 1) {
		if (!out->why[0])
			snprintf(out->why, sizeof(out->why), "the list continues chain %s at record %llu",
				 out->chain, (unsigned long long)out->first);
		return 0;
	}
	memset(out, 0, sizeof(*out));
	if (!ba || empty) {
		/* records were deleted before imastored ran: someone else did */
		out->origin = BOOT_HEADLESS;
		out->foreign = true;
		snprintf(out->why, sizeof(out->why), "the list %s and continues no chain: records were deleted before imastored ran",
			 empty ? "is empty" : "does not start with boot_aggregate");
	} else if (matches || maybes || tpm) {
		out->origin = BOOT_UNLINKED;
		snprintf(out->why, sizeof(out->why), "%s",
			 matches ? "the list continues more than one chain: not linked to any" :
			 maybes ? "no TPM: a boot_aggregate at the head fits a reboot and the kexec of a chain that never deleted" :
			 "PCR 10 does not replay from zero and no chain explains it");
	} else {
		out->origin = BOOT_FRESH;
		snprintf(out->why, sizeof(out->why), "no TPM: a list starting with boot_aggregate that continues no chain");
	}
	return 0;
}

uint64_t place_safe_cut(uint64_t want,
			int (*rec_at)(void *arg, uint64_t i, struct ima_record *rec),
			void *arg)
{
	struct ima_record h, r;

	if (!want || rec_at(arg, 0, &h))
		return 0;
	for (uint64_t d = want; d > 0; d--)
		if (!rec_at(arg, d, &r) && !ima_record_is_violation(&r) &&
		    (r.raw_len != h.raw_len || memcmp(r.raw, h.raw, h.raw_len)))
			return d;
	return 0;
}
