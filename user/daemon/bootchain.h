/* SPDX-License-Identifier: GPL-2.0-only */
/* The running boot's chain: opened, continued after a kexec, or created (trimming.md §3.3). */
#ifndef IMASTORED_BOOTCHAIN_H
#define IMASTORED_BOOTCHAIN_H

#include "kernel_ops.h"
#include "store.h"

/*
 * The chain of the running boot: opened; or, for a boot without one, the
 * chain it continues (kexec) or a new one with every bank the kernel lists
 * and its mode (hashed or padded, found from the first record of that
 * bank's list), as placement decides (trimming.md §3.3).
 */
struct boot_found {
	bool foreign;		/* records were deleted by someone else before us */
	char why[200];
};

int boot_chain_open(struct store *s, const struct kernel_info *ki,
		    const char *boot_id, struct chain **out, struct boot_found *bf,
		    struct errmsg *em);

/*
 * A new chain for the rest of boot_id after `prev` lost records it cannot
 * place (trimming.md §3.2.4): origin=unlinked, after=PREV@DURABLE; the
 * boot's link points at it.
 */
int boot_chain_unlinked(struct store *s, struct chain *prev, const char *boot_id,
			struct chain **out, struct errmsg *em);

#endif
