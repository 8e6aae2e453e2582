/* SPDX-License-Identifier: GPL-2.0-only */
/* PCR banks as IMA sees them (hashed or padded SHA-1) and their digest contexts. */
#ifndef IMASTORE_HASH_ALG_H
#define IMASTORE_HASH_ALG_H

#include <stddef.h>
#include <stdint.h>

#define IMA_MAX_DIGEST 64	/* sha512: the widest bank the kernel lists */
#define SHA1_DIGEST_SIZE 20

/*
 * A PCR bank as IMA sees it. Banks the kernel has a hash for (sha1, sha256,
 * sha384, sha512, sm3) get template digests computed with that hash; any
 * other TPM bank ("tpm_alg_<hex>") gets the SHA-1 digest zero-padded to the
 * bank width (kernel-interface.md §6.5), which is what `padded_sha1` says.
 */
struct hash_alg {
	const char *name;	/* kernel/list-file name: "sha256", "tpm_alg_27" */
	const char *ossl_name;	/* OpenSSL name of the bank's (extend) hash */
	uint16_t tpm_id;	/* TPM2_ALG_* */
	uint16_t size;		/* digest (and PCR) width in bytes */
	int padded_sha1;
};

/* Number of entries returned by hash_alg_all(). */
size_t hash_alg_count(void);
const struct hash_alg *hash_alg_all(void);

/*
 * Look-ups accept the kernel's names ("sha1", "sm3", "tpm_alg_27",
 * "tpm_alg_0x27") and the TPM's ("sm3_256", "sha3_256"). NULL if unknown.
 */
const struct hash_alg *hash_alg_by_name(const char *name);
const struct hash_alg *hash_alg_by_tpm_id(uint16_t tpm_id);

/*
 * The same bank with padded SHA-1 template digests: what the kernel writes
 * for a bank whose hash it did not have at boot. `alg` itself for sha1.
 */
const struct hash_alg *hash_alg_padded(const struct hash_alg *alg);

/* Whether OpenSSL on this machine has this bank's hash. */
int hash_alg_available(const struct hash_alg *alg);

/*
 * A reusable digest context: one per bank per replay, so the hot loop does
 * no allocation and no algorithm fetch.
 */
struct hash_ctx;

/* The bank's own hash: PCR extends. */
int hash_ctx_new(const struct hash_alg *alg, struct hash_ctx **out);
/* The hash of the bank's template digests (SHA-1 padded where padded_sha1). */
int hash_ctx_new_template(const struct hash_alg *alg, struct hash_ctx **out);
void hash_ctx_free(struct hash_ctx *ctx);
int hash_ctx_init(struct hash_ctx *ctx);
int hash_ctx_update(struct hash_ctx *ctx, const void *data, size_t len);
/* Writes alg->size bytes (zero-padding a shorter digest). */
int hash_ctx_final(struct hash_ctx *ctx, uint8_t *out);
/* init + update + final */
int hash_ctx_digest(struct hash_ctx *ctx, const void *data, size_t len,
		    uint8_t *out);

#endif
