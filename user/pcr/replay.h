/* SPDX-License-Identifier: GPL-2.0-only */
/* Replay of records into PCR values for several banks at once; its state as checkpoint bytes. */
#ifndef IMASTORE_REPLAY_H
#define IMASTORE_REPLAY_H

#include <stddef.h>
#include <stdint.h>

#include "ima_record.h"
#include "pcr_values.h"

/*
 * Replay of measurement records into PCR values, for several banks at once
 * from one list: a record's digest for the list's own bank is taken from
 * the list (after checking it against the template data), the other banks'
 * are recomputed; violations extend all-0xFF of the bank width.
 *
 * The state (`struct replay_state`) is plain data so it can be saved and
 * resumed: a checkpoint is `next_index` + the PCR values.
 */
struct replay_state {
	uint64_t next_index;		/* records replayed so far */
	uint32_t pcr_used;		/* PCRs extended at least once */
	struct pcr_set pcrs;		/* banks being replayed, running values */
};

struct replay;

/* Start from all-zero PCRs for these banks. */
int replay_new(struct replay **out, const struct hash_alg *const *banks,
	       unsigned nbanks, struct errmsg *em);
/* Resume from a saved state (its banks). */
int replay_resume(struct replay **out, const struct replay_state *state,
		  struct errmsg *em);
void replay_free(struct replay *rp);

/*
 * Spread the banks over this many threads (the caller's included) in
 * replay_extend_batch(); hashing is nearly all the work of a replay, and
 * banks are independent. 1 (the default) starts no thread.
 */
int replay_set_threads(struct replay *rp, unsigned nthreads);

/*
 * Remember, per bank and PCR, the last record after which the running value
 * equalled `expected` (where it has that bank and PCR). Tells a list that
 * is ahead of the TPM from one that never matched. The set must outlive
 * the replay or the next call.
 */
void replay_watch(struct replay *rp, const struct pcr_set *expected);
/* -1: never equal (or not watched). */
int64_t replay_matched_through(const struct replay *rp, const struct hash_alg *bank,
			       unsigned pcr);

enum replay_check {
	REPLAY_CHECK_DIGEST = 1,	/* list digest must match template data */
};

/*
 * Extend the record into every bank. `list_bank` is the bank of rec->digest.
 * Returns 0, or -EBADMSG if REPLAY_CHECK_DIGEST is set and the list's
 * template digest does not match the template data (the message names the
 * record and both values); the record is not extended then.
 */
int replay_extend(struct replay *rp, const struct ima_record *rec,
		  const struct hash_alg *list_bank, unsigned flags,
		  struct errmsg *em);

/*
 * Extend `n` records in order. Every record is extended, whatever its
 * digest check says; with REPLAY_CHECK_DIGEST the first record in the batch
 * whose digest does not match its data is reported in *bad_index and `bad`
 * (*bad_index is left alone if there is none). Returns 0 or a negative
 * errno for failures that stop the replay (hash errors).
 */
int replay_extend_batch(struct replay *rp, const struct ima_record *recs,
			unsigned n, const struct hash_alg *list_bank,
			unsigned flags, uint64_t *bad_index,
			struct errmsg *bad, struct errmsg *em);

const struct replay_state *replay_state(const struct replay *rp);

/*
 * A state as bytes, the payload of a store checkpoint (store-format.md §7;
 * next_index is the checkpoint frame's index, not in the bytes): u32
 * pcr_used, u32 banks, per bank u16 TPM id, u8 size, u8 padded, 4 zero
 * bytes, then every bank's 24 PCR values. decode: -EBADMSG if malformed.
 */
size_t replay_state_size(const struct replay_state *st);
void replay_state_encode(const struct replay_state *st, uint8_t *out);
int replay_state_decode(const uint8_t *p, size_t len, uint64_t next_index,
			struct replay_state *st);

#endif
