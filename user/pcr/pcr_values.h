/* SPDX-License-Identifier: GPL-2.0-only */
/* PCR values of several banks, from a TPM (tpm.c) or from files (pcr_file.c). */
#ifndef IMASTORE_PCR_VALUES_H
#define IMASTORE_PCR_VALUES_H

#include <stdint.h>

#include "errmsg.h"
#include "hash_alg.h"
#include "ima_record.h"

#define PCR_MAX_BANKS 8

/* PCR values of one bank, from a TPM or from a file. */
struct pcr_bank {
	const struct hash_alg *alg;
	uint32_t valid;		/* bit n set: value[n] is known */
	uint8_t value[IMA_PCR_COUNT][IMA_MAX_DIGEST];
};

struct pcr_set {
	unsigned nbanks;
	struct pcr_bank bank[PCR_MAX_BANKS];
};

/* The bank of that algorithm in the set, or NULL. */
struct pcr_bank *pcr_set_bank(struct pcr_set *set, const struct hash_alg *alg);
/* Find or add. NULL if the set is full. */
struct pcr_bank *pcr_set_add_bank(struct pcr_set *set, const struct hash_alg *alg);

/*
 * Read PCR values from a file in the format `evmctl ima_measurement --pcrs`
 * reads: lines "PCR-NN: <hex>" (hex may be split by spaces, as in the TPM
 * 1.2 sysfs "pcrs" file). `spec` is "[ALG,]FILE"; without ALG the bank is
 * sha1, as evmctl assumes. Lines for PCRs >= 24 and other lines are errors
 * (blank lines are skipped). The file's PCRs are merged into the set's bank
 * of that algorithm (added if missing); on error the set is untouched.
 */
int pcr_file_read(const char *spec, struct pcr_set *set, struct errmsg *em);

/* Write one bank in that format (all PCRs whose valid bit is set). */
int pcr_file_write(const struct pcr_bank *bank, int fd, struct errmsg *em);

/*
 * Read the PCRs in `pcr_mask` of every bank the TPM has allocated through
 * tpm2-tss ESAPI. `tcti` is a TCTI config string ("device:/dev/tpmrm0",
 * "swtpm:host=127.0.0.1,port=2321"); NULL: TPM2TOOLS_TCTI / TCTI / TPM2_TCTI
 * from the environment, else /dev/tpmrm0. PCR_Read is batched (8 PCRs a
 * call) and retried when the pcrUpdateCounter changed between calls, so the
 * values are one consistent snapshot. -ENODEV with a clear message when
 * there is no TPM. Banks whose algorithm hash_alg does not know are skipped.
 * On success *out is overwritten with one bank per allocated known bank
 * (valid = the PCRs of pcr_mask the bank has); on error it is untouched.
 */
int tpm_read_pcrs(const char *tcti, uint32_t pcr_mask, struct pcr_set *out,
		  struct errmsg *em);

/*
 * Test seam, not for production callers: the function tpm_read_pcrs() sends
 * TPM2_PCR_Read through. It has Esys_PCR_Read()'s signature with the tss2
 * typedefs spelled out (TSS2_RC, ESYS_TR and UINT32 are uint32_t) so that
 * this header needs no tss2 include. NULL restores Esys_PCR_Read. Results
 * are freed with Esys_Free() (free()).
 */
struct ESYS_CONTEXT;
struct TPML_PCR_SELECTION;
struct TPML_DIGEST;
typedef uint32_t tpm_pcr_read_fn(struct ESYS_CONTEXT *ctx, uint32_t shandle1,
				 uint32_t shandle2, uint32_t shandle3,
				 const struct TPML_PCR_SELECTION *sel_in,
				 uint32_t *update_counter,
				 struct TPML_PCR_SELECTION **sel_out,
				 struct TPML_DIGEST **values);
void tpm_set_pcr_read_hook(tpm_pcr_read_fn *fn);

#endif
