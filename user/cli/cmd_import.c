// SPDX-License-Identifier: GPL-2.0-only
/* imastore import: saved binary lists appended to a boot's chain, refused before anything is written. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chain_replay.h"
#include "cli.h"
#include "commands.h"
#include "template.h"

#define OVERLAP_WINDOW 4096	/* how far back a re-sent piece is looked for */

static void import_usage(FILE *f)
{
	fprintf(f,
"Usage: %s import [OPTIONS] LIST...\n"
"\n"
"Append saved binary measurement lists to a boot's chain in the store, in\n"
"the order given: for example the batches another tool staged and saved one\n"
"after the other, or a whole list of an old boot. The chain is created if\n"
"the boot has none. Refused, before anything is written:\n"
"  - a LIST that starts a new boot (boot_aggregate) on a chain with records;\n"
"  - an empty chain fed a LIST that does not start with boot_aggregate (a gap);\n"
"  - a LIST whose first records are already the last stored ones (an overlap;\n"
"    --skip-overlap appends only what is new).\n"
"Records are durable when the command returns 0; checkpoints are updated.\n"
"\n"
"Options:\n"
STORE_OPTS_HELP
"  -B, --boot ID           the boot the lists belong to (default: current)\n"
"      --skip-overlap      drop the already stored head of a LIST\n"
"      --force             append even where a gap is detected\n"
LIST_OPTS_HELP
"  -h, --help              this help\n"
"\n"
"Exit status: 0 success, 2 error (nothing of the failing LIST is kept).\n", prog);
}

struct import {
	const char *store, *boot;
	unsigned flags;
	bool skip_overlap, force;
	const char *checked;	/* the LIST already checked before the store was made */
	struct list_reader_opts lo;
	char boot_id[STORE_ID_MAX];
	struct store *s;
	struct chain *c;
};

static int open_piece(struct import *im, const char *path, int *fd,
		      struct list_reader **r)
{
	if (!strcmp(path, "-")) {
		cli_err("import reads files (it may read a LIST twice), not standard input");
		return -EINVAL;
	}
	return cli_open_list(path, &im->lo, fd, r);
}

/* The first record of a LIST; an empty list or a bad record is an error. */
static int first_record(const char *path, struct list_reader *r,
			struct ima_record *rec)
{
	struct errmsg em = { "" };
	int ret = list_reader_next(r, rec, &em);

	if (ret > 0)
		return 0;
	if (ret < 0)
		cli_err("%s", errmsg_text(&em));
	else
		cli_err("%s: empty list", path);
	return ret < 0 ? ret : -ENODATA;
}

/* A gap (an empty chain, a LIST not from a boot's start) or a new boot. */
static int check_start(const struct import *im, const char *path,
		       const struct ima_record *first, uint64_t stored)
{
	if (im->force)
		return 0;
	if (stored == 0 && !record_is_boot_aggregate(first)) {
		cli_err("%s: the chain of boot %s is empty and this list does not start with boot_aggregate: records before it are missing (--force to import anyway)",
			path, im->boot_id);
		return -EINVAL;
	}
	if (stored > 0 && record_is_boot_aggregate(first)) {
		cli_err("%s: starts with boot_aggregate, a new boot, but the chain of boot %s has %llu records; import it with --boot and that boot's id",
			path, im->boot_id, (unsigned long long)stored);
		return -EINVAL;
	}
	return 0;
}

static int make_chain(struct import *im, const struct ima_record *first,
		      const struct hash_alg *bank)
{
	struct chain_meta m;
	struct errmsg em = { "" };

	memset(&m, 0, sizeof(m));
	snprintf(m.chain, sizeof(m.chain), "%s", im->boot_id);
	m.bank = hash_alg_by_tpm_id(bank->tpm_id);
	m.little_endian = first->little_endian;
	m.nbanks = 1;
	m.banks[0] = bank;
	if (im->lo.template_fmt)
		snprintf(m.template_fmt, sizeof(m.template_fmt), "%s", im->lo.template_fmt);
	m.nboots = 1;
	snprintf(m.boots[0].id, sizeof(m.boots[0].id), "%s", im->boot_id);
	if (store_chain_create(im->s, &m, &im->c, &em)) {
		cli_err("%s", errmsg_text(&em));
		return -EIO;
	}
	return 0;
}

/*
 * How many leading records of the piece are already the chain's last ones:
 * the largest k such that piece[0..k) == chain[count-k..count).
 */
static int overlap_of(struct import *im, const char *path, uint64_t *k)
{
	uint64_t count = chain_durable(im->c);
	uint64_t lo = count > OVERLAP_WINDOW ? count - OVERLAP_WINDOW : 0;

	*k = 0;
	for (uint64_t j = lo; j < count; j++) {
		struct list_reader *r;
		struct chain_iter *it;
		struct ima_record a, b;
		struct errmsg em = { "" };
		uint8_t *copy;
		uint64_t i = j;
		int fd, ra = 1, rb = 1;

		if (open_piece(im, path, &fd, &r))
			return -EIO;
		if (chain_iter_open(im->c, j, &it, &em)) {
			cli_close_list(fd, r);
			cli_err("%s", errmsg_text(&em));
			return -EIO;
		}
		for (; i < count; i++) {
			ra = list_reader_next(r, &a, &em);
			if (ra <= 0)
				break;
			copy = malloc(a.raw_len);
			if (!copy)
				break;
			memcpy(copy, a.raw, a.raw_len);
			rb = chain_iter_next(it, &b, &em);
			ra = rb > 0 && b.raw_len == a.raw_len && !memcmp(b.raw, copy, a.raw_len);
			free(copy);
			if (!ra)
				break;
		}
		chain_iter_free(it);
		cli_close_list(fd, r);
		if (i == count) {
			*k = count - j;
			return 0;
		}
	}
	return 0;
}

static int check_digest(const char *path, const struct ima_record *rec,
			const struct hash_alg *bank, struct hash_ctx **ctx,
			struct errmsg *em)
{
	uint8_t d[IMA_MAX_DIGEST];

	if (ima_record_is_violation(rec))
		return 0;
	if (!*ctx && hash_ctx_new_template(bank, ctx))
		return errmsg_set(em, -EOPNOTSUPP, "bank %s: no hash", bank->name);
	if (ima_record_template_digest(rec, *ctx, d) || memcmp(d, rec->digest, rec->digest_len))
		return errmsg_set(em, -EBADMSG,
				  "%s: record %llu at byte offset %llu: its template data does not hash to its template digest; nothing of this list is kept",
				  path, (unsigned long long)rec->index,
				  (unsigned long long)rec->offset);
	return 0;
}

/* A kernel never writes a record that does not hash to its digest. */
static int validate_piece(struct import *im, const char *path)
{
	struct hash_ctx *ctx = NULL;
	struct list_reader *r;
	struct ima_record rec;
	struct errmsg em = { "" };
	int fd, ret;

	ret = open_piece(im, path, &fd, &r);
	if (ret)
		return ret;
	while ((ret = list_reader_next(r, &rec, &em)) > 0) {
		ret = check_digest(path, &rec, list_reader_bank(r), &ctx, &em);
		if (ret)
			break;
	}
	if (ret)
		cli_err("%s", errmsg_text(&em));
	hash_ctx_free(ctx);
	cli_close_list(fd, r);
	return ret;
}

/*
 * What is checked of a LIST before anything is written: every record's
 * digest (unless it was checked already), that it has a record, and that
 * it starts where the chain is. With `make`, then the chain if there is
 * none: a refused LIST leaves no empty chain.
 */
static int check_head(struct import *im, const char *path, bool make)
{
	struct list_reader *r;
	struct ima_record rec;
	int fd, ret;

	if (path != im->checked) {
		ret = validate_piece(im, path);
		if (ret)
			return ret;
	}
	ret = open_piece(im, path, &fd, &r);
	if (ret)
		return ret;
	ret = first_record(path, r, &rec);
	if (!ret)
		ret = check_start(im, path, &rec, im->c ? chain_durable(im->c) : 0);
	if (!ret && make && !im->c && make_chain(im, &rec, list_reader_bank(r)))
		ret = -EIO;
	cli_close_list(fd, r);
	return ret;
}

static int import_piece(struct import *im, const char *path)
{
	struct list_reader *r;
	struct ima_record rec;
	struct errmsg em = { "" };
	uint64_t skip = 0, n = 0;
	int fd, ret;

	ret = check_head(im, path, true);
	if (ret)
		return ret;
	if (chain_durable(im->c) > 0) {
		ret = overlap_of(im, path, &skip);
		if (ret)
			return ret;
		if (skip && !im->skip_overlap) {
			cli_err("%s: its first %llu records are records %llu..%llu, already stored (--skip-overlap appends the rest)",
				path, (unsigned long long)skip,
				(unsigned long long)(chain_durable(im->c) - skip),
				(unsigned long long)chain_durable(im->c) - 1);
			return -EEXIST;
		}
	}
	ret = open_piece(im, path, &fd, &r);
	if (ret)
		return ret;
	while ((ret = list_reader_next(r, &rec, &em)) > 0) {
		if (n++ < skip)
			continue;
		ret = chain_append(im->c, &rec, &em);
		if (ret)
			break;
	}
	if (!ret)
		ret = chain_commit(im->c, &em);
	if (ret)
		cli_err("%s", errmsg_text(&em));
	cli_close_list(fd, r);
	return ret;
}

static int import_args(struct import *im, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "store", required_argument, NULL, 's' },
		{ "insecure", no_argument, NULL, 'I' },
		{ "boot", required_argument, NULL, 'B' },
		{ "skip-overlap", no_argument, NULL, 'O' },
		{ "force", no_argument, NULL, 'X' },
		{ "help", no_argument, NULL, 'h' },
		LIST_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	int opt, r;

	im->boot = "current";
	while ((opt = getopt_long(argc, argv, "s:B:hb:T:F:E:", longopts, NULL)) != -1) {
		r = cli_list_opt(opt, optarg, &im->lo);
		if (r < 0)
			return -1;
		if (r > 0)
			continue;
		switch (opt) {
		case 's': im->store = optarg; break;
		case 'I': im->flags |= STORE_INSECURE; break;
		case 'B': im->boot = optarg; break;
		case 'O': im->skip_overlap = true; break;
		case 'X': im->force = true; break;
		case 'h': import_usage(stdout); return 1;
		default: return -1;
		}
	}
	if (optind >= argc) {
		cli_err("import needs at least one LIST");
		return -1;
	}
	return 0;
}

int cmd_import(int argc, char **argv)
{
	struct import im = { 0 };
	struct errmsg em = { "" };
	struct replay *rp = NULL;
	int ret = EXIT_ERROR, r;

	r = import_args(&im, argc, argv);
	if (r)
		return r > 0 ? EXIT_MATCH : cli_usage_error("import");
	if (!strcmp(im.boot, "current")) {
		if (store_current_boot(im.boot_id, sizeof(im.boot_id), &em)) {
			cli_err("%s", errmsg_text(&em));
			return EXIT_ERROR;
		}
	} else {
		snprintf(im.boot_id, sizeof(im.boot_id), "%s", im.boot);
	}
	/* a new store is made only for a first LIST that passes every check */
	if (access(cli_store_dir(im.store), F_OK) && errno == ENOENT) {
		if (check_head(&im, argv[optind], false))
			return EXIT_ERROR;
		im.checked = argv[optind];
	}
	if (cli_store_open(cli_store_dir(im.store), im.flags | STORE_WRITE | STORE_CREATE, &im.s))
		return EXIT_ERROR;
	r = store_chain_open(im.s, im.boot_id, &im.c, &em);
	if (r && r != -ENOENT) {
		cli_err("%s", errmsg_text(&em));
		goto out;
	}
	if (!r)
		im.lo.bank = chain_list_bank(im.c);
	for (int i = optind; i < argc; i++) {
		if (import_piece(&im, argv[i]))
			goto out;
		if (!im.lo.bank)
			im.lo.bank = chain_meta(im.c)->banks[0];
	}
	/* checkpoints up to the new end */
	if (chain_replay(im.c, chain_durable(im.c), false, true, &rp, &em)) {
		cli_err("records stored, but the checkpoint failed: %s", errmsg_text(&em));
		goto out;
	}
	ret = EXIT_MATCH;
out:
	replay_free(rp);
	chain_close(im.c);
	store_close(im.s);
	return ret;
}
