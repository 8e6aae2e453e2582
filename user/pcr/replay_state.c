// SPDX-License-Identifier: GPL-2.0-only
/* A replay_state as bytes: the payload of a store checkpoint (store-format.md §7). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "byteorder.h"
#include "replay.h"

size_t replay_state_size(const struct replay_state *st)
{
	size_t len = 8;

	for (unsigned b = 0; b < st->pcrs.nbanks; b++)
		len += 8 + IMA_PCR_COUNT * st->pcrs.bank[b].alg->size;
	return len;
}

void replay_state_encode(const struct replay_state *st, uint8_t *p)
{
	size_t pos = 8;

	memset(p, 0, replay_state_size(st));
	put_le32(p, st->pcr_used);
	put_le32(p + 4, st->pcrs.nbanks);
	for (unsigned b = 0; b < st->pcrs.nbanks; b++) {
		const struct hash_alg *a = st->pcrs.bank[b].alg;

		put_le16(p + pos, a->tpm_id);
		p[pos + 2] = (uint8_t)a->size;
		p[pos + 3] = a->padded_sha1 ? 1 : 0;
		pos += 8;
	}
	for (unsigned b = 0; b < st->pcrs.nbanks; b++)
		for (unsigned i = 0; i < IMA_PCR_COUNT; i++) {
			unsigned size = st->pcrs.bank[b].alg->size;

			memcpy(p + pos, st->pcrs.bank[b].value[i], size);
			pos += size;
		}
}

static const struct hash_alg *alg_of(uint16_t id, uint8_t size, uint8_t mode)
{
	const struct hash_alg *a = hash_alg_by_tpm_id(id);

	if (!a || a->size != size)
		return NULL;
	return mode ? hash_alg_padded(a) : a;
}

int replay_state_decode(const uint8_t *p, size_t len, uint64_t next_index,
			struct replay_state *st)
{
	size_t pos = 8, need;
	uint32_t nb;

	if (len < 8)
		return -EBADMSG;
	memset(st, 0, sizeof(*st));
	nb = get_le32(p + 4);
	if (nb > PCR_MAX_BANKS || len < 8 + 8 * (size_t)nb)
		return -EBADMSG;
	st->next_index = next_index;
	st->pcr_used = get_le32(p);
	need = 8 + 8 * (size_t)nb;
	for (uint32_t b = 0; b < nb; b++, pos += 8) {
		const struct hash_alg *a = alg_of(get_le16(p + pos), p[pos + 2], p[pos + 3]);

		if (!a)
			return -EBADMSG;
		st->pcrs.bank[b].alg = a;
		st->pcrs.bank[b].valid = ~0u >> (32 - IMA_PCR_COUNT);
		need += IMA_PCR_COUNT * (size_t)a->size;
	}
	st->pcrs.nbanks = nb;
	if (len != need)
		return -EBADMSG;
	for (uint32_t b = 0; b < nb; b++)
		for (unsigned i = 0; i < IMA_PCR_COUNT; i++) {
			unsigned size = st->pcrs.bank[b].alg->size;

			memcpy(st->pcrs.bank[b].value[i], p + pos, size);
			pos += size;
		}
	return 0;
}
