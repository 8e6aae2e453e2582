/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef IMASTORE_REPLAY_H
#define IMASTORE_REPLAY_H

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

enum replay_check {
	REPLAY_CHECK_DIGEST = 1,	/* list digest must match template data */
};

/*
 * Extend the record into every bank. `list_bank` is the bank of rec->digest.
 * Returns 0, or -EBADMSG if REPLAY_CHECK_DIGEST is set and the list's
 * template digest does not match the template data (the message names the
 * record and both values).
 */
int replay_extend(struct replay *rp, const struct ima_record *rec,
		  const struct hash_alg *list_bank, unsigned flags,
		  struct errmsg *em);

const struct replay_state *replay_state(const struct replay *rp);

#endif
