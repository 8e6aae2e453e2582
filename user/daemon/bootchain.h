/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef IMASTORED_BOOTCHAIN_H
#define IMASTORED_BOOTCHAIN_H

#include "kernel.h"
#include "store.h"

/*
 * The chain of the running boot: opened, or created for a new boot (TPM
 * reset) with every bank the kernel lists and its mode (hashed or padded,
 * found from the first record of that bank's list). Kexec continuation of
 * an older chain (store-format.md §9) is not handled yet.
 */
int boot_chain_open(struct store *s, const struct kernel_info *ki,
		    const char *boot_id, struct chain **out, struct errmsg *em);

/* The chain's entry for its stored bank (padded twin if so). */
const struct hash_alg *boot_chain_list_bank(const struct chain *c);

#endif
