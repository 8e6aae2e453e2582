/* SPDX-License-Identifier: GPL-2.0-only */
/* A chain's complete list: the stored records, then the kernel's tail, in any bank. */
#ifndef IMASTORE_FULL_LIST_H
#define IMASTORE_FULL_LIST_H

#include "store.h"

/*
 * The complete list of a chain, as the kernel would show it had nothing been
 * deleted: the stored records, then (for the running boot) the records still
 * in the kernel's list, in any bank (docs/store-format.md §1, §10).
 */
struct full_list_opts {
	const struct hash_alg *bank;	/* output bank; NULL: the stored bank */
	uint64_t from;			/* first record index */
	uint64_t count;			/* at most this many; 0: all */
	const char *kernel_list;	/* kernel's binary list of `bank`; NULL: none */
	/* the kernel's list of the stored bank, where placement reads; NULL:
	 * kernel_list (the output bank is the stored one) */
	const char *placement_list;
	const char *boot_id;		/* the boot that kernel list belongs to */
};

struct full_list;

int full_list_open(struct chain *c, const struct full_list_opts *o,
		   struct full_list **out, struct errmsg *em);
/* 1 a record (valid until the next call), 0 end, < 0 error. */
int full_list_next(struct full_list *fl, struct ima_record *rec,
		   struct errmsg *em);
void full_list_free(struct full_list *fl);
/* Records that came from the kernel so far. */
uint64_t full_list_kernel_records(const struct full_list *fl);

/*
 * Re-encode a stored record for another bank: the digest recomputed by the
 * bank's mode, zeros for a violation. out must hold rec->raw_len + 64.
 */
int record_for_bank(const struct ima_record *rec, const struct chain_meta *m,
		    const struct hash_alg *bank, struct hash_ctx **ctx,
		    uint8_t *out, struct ima_record *res, struct errmsg *em);


#endif
