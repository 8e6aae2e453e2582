// SPDX-License-Identifier: GPL-2.0-only
/*
 * storebench: append a binary list to a fresh store with group commits of
 * G records (what imastored does per drain cycle), for `make bench`.
 * Prints the seconds spent in appends and commits.
 *
 * Usage: storebench LIST STOREDIR [G]
 */
#include <endian.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "list_reader.h"
#include "store.h"

int main(int argc, char **argv)
{
	struct list_reader_opts lo = { 0 };
	struct list_reader *r;
	struct store *s;
	struct chain *c;
	struct chain_meta m;
	struct ima_record rec;
	struct errmsg em = { "" };
	struct timespec a, b;
	unsigned long group = argc > 3 ? strtoul(argv[3], NULL, 10) : 4096, n = 0;

	if (!group)	/* 0: commit when 4 MiB wait (chain_append does) */
		group = ~0ul;
	int fd, ret;

	if (argc < 3) {
		fprintf(stderr, "usage: storebench LIST STOREDIR [GROUP]\n");
		return 2;
	}
	fd = open(argv[1], O_RDONLY);
	lo.path = argv[1];
	if (fd < 0 || list_reader_open(&r, fd, &lo, &em) ||
	    store_open(&s, argv[2], STORE_WRITE | STORE_CREATE, &em))
		goto fail;
	memset(&m, 0, sizeof(m));
	strcpy(m.chain, "bench");
	m.bank = hash_alg_by_tpm_id(list_reader_bank(r)->tpm_id);
	m.little_endian = htole32(1) == 1;
	m.nbanks = 1;
	m.banks[0] = m.bank;
	m.nboots = 1;
	strcpy(m.boots[0].id, "bench");
	if (store_chain_create(s, &m, &c, &em))
		goto fail;
	clock_gettime(CLOCK_MONOTONIC, &a);
	while ((ret = list_reader_next(r, &rec, &em)) > 0) {
		if (chain_append(c, &rec, &em))
			goto fail;
		if (++n % group == 0 && chain_commit(c, &em))
			goto fail;
	}
	if (ret < 0 || chain_commit(c, &em))
		goto fail;
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("%.3f\n", (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9);
	chain_close(c);
	store_close(s);
	list_reader_free(r);
	return 0;
fail:
	fprintf(stderr, "storebench: %s\n", em.text);
	return 1;
}
