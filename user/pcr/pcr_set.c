// SPDX-License-Identifier: GPL-2.0-only
/* A set of PCR banks, told apart by TPM id. */
#include <string.h>

#include "pcr_values.h"

/*
 * Banks are told apart by TPM id, not by table entry: the padded-SHA-1 twin
 * of a bank (hash_alg_padded()) replays into the same PCRs.
 */
struct pcr_bank *pcr_set_bank(struct pcr_set *set, const struct hash_alg *alg)
{
	for (unsigned i = 0; i < set->nbanks; i++)
		if (set->bank[i].alg->tpm_id == alg->tpm_id)
			return &set->bank[i];
	return NULL;
}

struct pcr_bank *pcr_set_add_bank(struct pcr_set *set,
				  const struct hash_alg *alg)
{
	struct pcr_bank *bank = pcr_set_bank(set, alg);

	if (bank)
		return bank;
	if (set->nbanks >= PCR_MAX_BANKS)
		return NULL;
	bank = &set->bank[set->nbanks++];
	memset(bank, 0, sizeof(*bank));
	bank->alg = alg;
	return bank;
}
