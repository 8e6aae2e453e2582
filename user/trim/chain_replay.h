/* SPDX-License-Identifier: GPL-2.0-only */
/* A chain's records replayed (from a checkpoint); checkpoints of a replay; fsck with the replay. */
#ifndef IMASTORE_CHAIN_REPLAY_H
#define IMASTORE_CHAIN_REPLAY_H

#include "replay.h"
#include "store.h"

/*
 * Replay a chain's stored records into every bank of its meta (each by its
 * mode) up to record `upto` (exclusive; at most the durable count), starting
 * from the last checkpoint at or before it unless `full`. With `write`, save
 * a checkpoint at every STORE_CHECKPOINT_EVERY boundary passed and at
 * `upto` (writer only). Template digests are checked on the way; the first
 * bad record fails the replay naming it (-EBADMSG).
 */

int chain_replay(struct chain *c, uint64_t upto, bool full, bool write,
		 struct replay **out, struct errmsg *em);

/*
 * The same, continued in the chain's stored bank only (its digests are the
 * records' own: one PCR extend a record, no template hashing): placement's
 * TPM evidence (trimming.md §3.1.3). Read-only, from the last checkpoint.
 */
int chain_replay_stored_bank(struct chain *c, uint64_t upto, struct replay **out,
			     struct errmsg *em);

/* The banks the chain's records are replayed into (meta banks= by mode). */
unsigned chain_banks(const struct chain *c, const struct hash_alg **banks);

/* A checkpoint of a replay (store-format.md §7): only for durable records. */
int chain_checkpoint_write(struct chain *c, const struct replay_state *st,
			   struct errmsg *em);
/*
 * The last checkpoint written with next_index <= `at_most` (and the durable
 * count) that can be read; -ENOENT if none.
 */
int chain_checkpoint_find(struct chain *c, uint64_t at_most,
			  struct replay_state *st, struct errmsg *em);

/*
 * imastore fsck: the store's structure (chain_fsck_structure()), then, if
 * that found no error, a replay of every record that checks every template
 * digest and every checkpoint (every [fsck] rule of docs/store-format.md).
 */
int chain_fsck(struct chain *c, struct fsck_report *rep, fsck_note_fn note,
	       void *arg);

#endif
