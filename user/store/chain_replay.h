/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef IMASTORE_CHAIN_REPLAY_H
#define IMASTORE_CHAIN_REPLAY_H

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

/* The banks the chain's records are replayed into (meta banks= by mode). */
unsigned chain_banks(const struct chain *c, const struct hash_alg **banks);

#endif
