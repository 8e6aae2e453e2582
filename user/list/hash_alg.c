// SPDX-License-Identifier: GPL-2.0-only
/* PCR banks as IMA sees them (hashed or padded SHA-1) and their digest contexts. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/*
 * The SHA-1/SHA-2 low-level API is deprecated in OpenSSL 3 but still there,
 * and it is what makes replay fast: EVP_DigestInit_ex2() allocates and
 * cleanses provider state on every call, which cost more than the hashing
 * itself for IMA's ~100-byte inputs (callgrind: malloc/free/cleanse per
 * digest). EVP stays for every other algorithm (SM3, SHA-3).
 */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "hash_alg.h"

/* TPM2_ALG_* ids (TCG Algorithm Registry). */
static const struct hash_alg algs[] = {
	{ "sha1",       "SHA1",    0x0004, 20, 0 },
	{ "sha256",     "SHA256",  0x000b, 32, 0 },
	{ "sha384",     "SHA384",  0x000c, 48, 0 },
	{ "sha512",     "SHA512",  0x000d, 64, 0 },
	{ "sm3",        "SM3",     0x0012, 32, 0 },
	/* Banks the kernel has no tpm2 mapping for: padded SHA-1. */
	{ "tpm_alg_27", "SHA3-256", 0x0027, 32, 1 },
	{ "tpm_alg_28", "SHA3-384", 0x0028, 48, 1 },
	{ "tpm_alg_29", "SHA3-512", 0x0029, 64, 1 },
	/*
	 * Known banks as the kernel fills them when it had no such hash at
	 * boot (e.g. Debian 6.1 has sha384/sha512 as modules, which IMA
	 * cannot load that early): the same bank, padded SHA-1 digests.
	 * Look-ups by name or id find the entries above first.
	 */
	{ "sha256",     "SHA256",  0x000b, 32, 1 },
	{ "sha384",     "SHA384",  0x000c, 48, 1 },
	{ "sha512",     "SHA512",  0x000d, 64, 1 },
	{ "sm3",        "SM3",     0x0012, 32, 1 },
};

enum fast_kind { FAST_NONE, FAST_SHA1, FAST_SHA256, FAST_SHA384, FAST_SHA512 };

struct hash_ctx {
	const struct hash_alg *alg;
	enum fast_kind fast;
	union {
		SHA_CTX sha1;
		SHA256_CTX sha256;
		SHA512_CTX sha512;
	} u;
	EVP_MD *md;
	EVP_MD_CTX *ctx;
};

static enum fast_kind fast_kind_of(const char *md)
{
	if (!strcmp(md, "SHA1"))
		return FAST_SHA1;
	if (!strcmp(md, "SHA256"))
		return FAST_SHA256;
	if (!strcmp(md, "SHA384"))
		return FAST_SHA384;
	if (!strcmp(md, "SHA512"))
		return FAST_SHA512;
	return FAST_NONE;
}

size_t hash_alg_count(void)
{
	return sizeof(algs) / sizeof(algs[0]);
}

const struct hash_alg *hash_alg_all(void)
{
	return algs;
}

const struct hash_alg *hash_alg_by_tpm_id(uint16_t tpm_id)
{
	for (size_t i = 0; i < hash_alg_count(); i++)
		if (algs[i].tpm_id == tpm_id)
			return &algs[i];
	return NULL;
}

const struct hash_alg *hash_alg_padded(const struct hash_alg *alg)
{
	for (size_t i = 0; i < hash_alg_count(); i++)
		if (algs[i].tpm_id == alg->tpm_id && algs[i].padded_sha1)
			return &algs[i];
	return alg;	/* sha1: padding changes nothing */
}

static const struct hash_alg *by_tpm_alg_suffix(const char *hex)
{
	char *end;
	unsigned long id;

	if (!strncasecmp(hex, "0x", 2))
		hex += 2;
	if (!*hex)
		return NULL;
	errno = 0;
	id = strtoul(hex, &end, 16);
	if (errno || *end || id > 0xffff)
		return NULL;
	return hash_alg_by_tpm_id((uint16_t)id);
}

const struct hash_alg *hash_alg_by_name(const char *name)
{
	static const struct {
		const char *alias;
		const char *name;
	} aliases[] = {
		{ "sm3_256", "sm3" }, { "sm3-256", "sm3" },
		{ "sha3_256", "tpm_alg_27" }, { "sha3_384", "tpm_alg_28" },
		{ "sha3_512", "tpm_alg_29" },
	};

	if (!name)
		return NULL;
	if (!strncasecmp(name, "tpm_alg_", 8))
		return by_tpm_alg_suffix(name + 8);
	for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++)
		if (!strcasecmp(name, aliases[i].alias))
			name = aliases[i].name;
	for (size_t i = 0; i < hash_alg_count(); i++)
		if (!strcasecmp(algs[i].name, name))
			return &algs[i];
	return NULL;
}

int hash_alg_available(const struct hash_alg *alg)
{
	EVP_MD *md;

	md = EVP_MD_fetch(NULL, alg->ossl_name, NULL);
	if (!md)
		return 0;
	EVP_MD_free(md);
	return 1;
}

static int ctx_new(const struct hash_alg *alg, const char *md,
		   struct hash_ctx **out)
{
	struct hash_ctx *c;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->alg = alg;
	c->fast = fast_kind_of(md);
	if (c->fast != FAST_NONE) {
		*out = c;
		return 0;
	}
	c->md = EVP_MD_fetch(NULL, md, NULL);
	c->ctx = EVP_MD_CTX_new();
	if (!c->md || !c->ctx) {
		hash_ctx_free(c);
		return -EOPNOTSUPP;
	}
	*out = c;
	return 0;
}

int hash_ctx_new(const struct hash_alg *alg, struct hash_ctx **out)
{
	return ctx_new(alg, alg->ossl_name, out);
}

int hash_ctx_new_template(const struct hash_alg *alg, struct hash_ctx **out)
{
	return ctx_new(alg, alg->padded_sha1 ? "SHA1" : alg->ossl_name, out);
}

void hash_ctx_free(struct hash_ctx *c)
{
	if (!c)
		return;
	EVP_MD_CTX_free(c->ctx);
	EVP_MD_free(c->md);
	free(c);
}

int hash_ctx_init(struct hash_ctx *c)
{
	switch (c->fast) {
	case FAST_SHA1:
		return SHA1_Init(&c->u.sha1) ? 0 : -EIO;
	case FAST_SHA256:
		return SHA256_Init(&c->u.sha256) ? 0 : -EIO;
	case FAST_SHA384:
		return SHA384_Init(&c->u.sha512) ? 0 : -EIO;
	case FAST_SHA512:
		return SHA512_Init(&c->u.sha512) ? 0 : -EIO;
	case FAST_NONE:
		break;
	}
	return EVP_DigestInit_ex2(c->ctx, c->md, NULL) ? 0 : -EIO;
}

int hash_ctx_update(struct hash_ctx *c, const void *data, size_t len)
{
	switch (c->fast) {
	case FAST_SHA1:
		return SHA1_Update(&c->u.sha1, data, len) ? 0 : -EIO;
	case FAST_SHA256:
		return SHA256_Update(&c->u.sha256, data, len) ? 0 : -EIO;
	case FAST_SHA384:
		return SHA384_Update(&c->u.sha512, data, len) ? 0 : -EIO;
	case FAST_SHA512:
		return SHA512_Update(&c->u.sha512, data, len) ? 0 : -EIO;
	case FAST_NONE:
		break;
	}
	return EVP_DigestUpdate(c->ctx, data, len) ? 0 : -EIO;
}

static int fast_final(struct hash_ctx *c, uint8_t *out, unsigned int *n)
{
	int ok = 0;

	switch (c->fast) {
	case FAST_SHA1:
		ok = SHA1_Final(out, &c->u.sha1);
		*n = SHA_DIGEST_LENGTH;
		break;
	case FAST_SHA256:
		ok = SHA256_Final(out, &c->u.sha256);
		*n = SHA256_DIGEST_LENGTH;
		break;
	case FAST_SHA384:
		ok = SHA384_Final(out, &c->u.sha512);
		*n = SHA384_DIGEST_LENGTH;
		break;
	case FAST_SHA512:
		ok = SHA512_Final(out, &c->u.sha512);
		*n = SHA512_DIGEST_LENGTH;
		break;
	case FAST_NONE:
		ok = EVP_DigestFinal_ex(c->ctx, out, n);
		break;
	}
	return ok ? 0 : -EIO;
}

int hash_ctx_final(struct hash_ctx *c, uint8_t *out)
{
	unsigned int n = 0;

	if (fast_final(c, out, &n))
		return -EIO;
	if (n < c->alg->size)
		memset(out + n, 0, c->alg->size - n);
	return 0;
}

int hash_ctx_digest(struct hash_ctx *c, const void *data, size_t len,
		    uint8_t *out)
{
	int ret;

	ret = hash_ctx_init(c);
	if (!ret)
		ret = hash_ctx_update(c, data, len);
	if (!ret)
		ret = hash_ctx_final(c, out);
	return ret;
}
