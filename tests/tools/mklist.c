// SPDX-License-Identifier: GPL-2.0-only
/*
 * mklist: write a synthetic ima-ng binary measurement list (boot_aggregate
 * first, then N-1 file records, every 1000th a violation) and, with -p,
 * the PCR values it replays to, as evmctl-style files <prefix>-<alg>.txt.
 * For benchmarks and tests that need big lists; real fixtures come from
 * real kernels (tests/guest/capture-fixtures.sh).
 *
 * Usage: mklist -n RECORDS -b BANK [-p PREFIX] [-s SEED] > LIST
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hash_alg.h"
#include "ima_record.h"
#include "pcr_values.h"
#include "replay.h"

static size_t build(uint8_t *out, const struct hash_alg *bank,
		    struct hash_ctx *tctx, struct hash_ctx *fctx,
		    unsigned long i, unsigned seed, int violation)
{
	char path[128];
	uint8_t fdig[32];
	uint8_t data[512];
	size_t dl = 0, pos = 0;
	uint32_t plen, dlen;

	if (i == 0)
		snprintf(path, sizeof(path), "boot_aggregate");
	else
		snprintf(path, sizeof(path), "/usr/lib/x86_64-linux-gnu/lib%u-%lu.so.%lu",
			 seed, i, i % 7);
	hash_ctx_digest(fctx, path, strlen(path), fdig);
	if (violation)
		memset(fdig, 0, sizeof(fdig));
	/* d-ng: "sha256:" NUL digest */
	dlen = 8 + 32;
	ima_put_u32(data + dl, dlen, 1);
	memcpy(data + dl + 4, "sha256:", 8);
	memcpy(data + dl + 12, fdig, 32);
	dl += 4 + dlen;
	plen = (uint32_t)strlen(path) + 1;
	ima_put_u32(data + dl, plen, 1);
	memcpy(data + dl + 4, path, plen);
	dl += 4 + plen;

	ima_put_u32(out, 10, 1);
	pos = 4;
	if (violation)
		memset(out + pos, 0, bank->size);
	else
		hash_ctx_digest(tctx, data, dl, out + pos);
	pos += bank->size;
	ima_put_u32(out + pos, 6, 1);
	memcpy(out + pos + 4, "ima-ng", 6);
	pos += 10;
	ima_put_u32(out + pos, (uint32_t)dl, 1);
	memcpy(out + pos + 4, data, dl);
	return pos + 4 + dl;
}

static int write_pcrs(const char *prefix, const struct replay_state *st)
{
	char name[4096];
	struct errmsg em = { "" };

	for (unsigned b = 0; b < st->pcrs.nbanks; b++) {
		struct pcr_bank bk = st->pcrs.bank[b];
		int fd;

		snprintf(name, sizeof(name), "%s-%s.txt", prefix, bk.alg->name);
		fd = open(name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0 || pcr_file_write(&bk, fd, &em)) {
			fprintf(stderr, "mklist: %s: %s\n", name, em.text);
			return 1;
		}
		close(fd);
	}
	return 0;
}

int main(int argc, char **argv)
{
	const struct hash_alg *bank = hash_alg_by_name("sha256");
	const struct hash_alg *banks[2] = { hash_alg_by_name("sha1"),
					    hash_alg_by_name("sha256") };
	const char *prefix = NULL;
	unsigned long n = 1000;
	unsigned seed = 1;
	struct hash_ctx *tctx, *fctx;
	struct replay *rp = NULL;
	struct errmsg em = { "" };
	static uint8_t rec[1024];
	FILE *out = stdout;
	int opt;

	while ((opt = getopt(argc, argv, "n:b:p:s:")) != -1) {
		switch (opt) {
		case 'n': n = strtoul(optarg, NULL, 10); break;
		case 'b': bank = hash_alg_by_name(optarg); break;
		case 'p': prefix = optarg; break;
		case 's': seed = (unsigned)strtoul(optarg, NULL, 10); break;
		default:
			fprintf(stderr, "usage: mklist -n N -b BANK [-p PREFIX] [-s SEED]\n");
			return 2;
		}
	}
	if (!bank || hash_ctx_new_template(bank, &tctx) ||
	    hash_ctx_new(hash_alg_by_name("sha256"), &fctx))
		return 2;
	if (prefix && replay_new(&rp, banks, 2, &em)) {
		fprintf(stderr, "mklist: %s\n", em.text);
		return 2;
	}
	setvbuf(out, NULL, _IOFBF, 1 << 20);
	for (unsigned long i = 0; i < n; i++) {
		size_t len = build(rec, bank, tctx, fctx, i, seed,
				   i > 0 && i % 1000 == 999);
		struct ima_record r;

		fwrite(rec, 1, len, out);
		if (rp) {
			if (ima_record_parse(rec, len, bank->size, LIST_ENDIAN_LITTLE,
					     i, 0, &r, &em) < 0 ||
			    replay_extend(rp, &r, bank, 0, &em)) {
				fprintf(stderr, "mklist: %s\n", em.text);
				return 2;
			}
		}
	}
	if (fflush(out))
		return 2;
	if (rp && write_pcrs(prefix, replay_state(rp)))
		return 2;
	replay_free(rp);
	hash_ctx_free(tctx);
	hash_ctx_free(fctx);
	return 0;
}
