// SPDX-License-Identifier: GPL-2.0-only
/* imastore verify: a list (or the store) replayed against the TPM's or saved PCRs. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "chain_replay.h"
#include "cli.h"
#include "commands.h"
#include "json.h"
#include "replay.h"
#include "full_list.h"
#include "securityfs.h"
#include "store.h"

#define MAX_PCR_FILES 16

static void verify_usage(FILE *f)
{
	fprintf(f,
"Usage: %s verify [OPTIONS] LIST...\n"
"       %s verify --store [DIR] [--boot ID] [--full] [OPTIONS]\n"
"\n"
"Replay a measurement list into PCR values, for every bank at once, and\n"
"compare them with the TPM's PCRs or with saved values. Each record's\n"
"template digest is also checked against its template data. Several LISTs\n"
"are read as consecutive pieces of one list ('-' reads standard input).\n"
"\n"
"Only the PCRs the list extends are compared. The TPM is read before the\n"
"list, and again if the list turns out to be ahead of it, so a live list\n"
"that grows while it is read still verifies.\n"
"\n"
"Options:\n"
"      --tpm               compare with the TPM's PCRs (the default)\n"
"      --tcti CONF         TPM connection, a tpm2-tss TCTI string such as\n"
"                          device:/dev/tpm0 or swtpm:host=127.0.0.1,port=2321\n"
"                          (default: $TPM2TOOLS_TCTI, $TCTI, $TPM2_TCTI, else\n"
"                          device:/dev/tpmrm0)\n"
"  -p, --pcrs [ALG,]FILE   compare with PCR values from FILE, lines\n"
"                          'PCR-NN: HEX' as for evmctl ima_measurement --pcrs;\n"
"                          ALG defaults to sha1. Repeat for more banks.\n"
"  -s, --store DIR         verify a boot's chain in the store (stored records,\n"
"                          then for the running boot the kernel's list), from\n"
"                          the last checkpoint\n"
"  -B, --boot ID           with --store: boot id, chain id or current (default)\n"
"      --full              with --store: replay from record 0, not a checkpoint\n"
"      --no-kernel         with --store: stored records only\n"
"      --insecure          with --store: accept loose store permissions\n"
"  -j, --json              one JSON object (see imastore(1), JSON OUTPUT)\n"
"  -q, --quiet             print nothing; the exit status says it all\n"
LIST_OPTS_HELP
"  -h, --help              this help\n"
"\n"
"Exit status: 0 every compared PCR matches and every record is consistent;\n"
"1 mismatch (the output names the first record where the replay can no\n"
"longer match, and the expected and replayed values); 2 error (malformed\n"
"list, no TPM, unreadable file, bad usage).\n", prog, prog);
}

struct verify {
	const char *tcti;
	bool use_tpm, json, quiet;
	const char *pcr_files[MAX_PCR_FILES];
	unsigned npcr_files;
	struct pcr_set expected;
	struct replay *rp;
	uint64_t records;
	bool bad_record;
	uint64_t bad_index, bad_offset;
	char bad_reason[sizeof(((struct errmsg *)0)->text)];
	const char *bad_file;
	const struct hash_alg *skipped[PCR_MAX_BANKS];
	unsigned nskipped;
	/* --store */
	const char *store, *boot;
	unsigned store_flags;
	bool full, no_kernel;
	uint64_t from_checkpoint;	/* records covered by the checkpoint used */
};

static int read_expected(struct verify *v)
{
	struct errmsg em = { "" };
	int ret;

	memset(&v->expected, 0, sizeof(v->expected));
	if (v->use_tpm) {
		ret = tpm_read_pcrs(v->tcti, ~0u >> (32 - IMA_PCR_COUNT),
				    &v->expected, &em);
		if (ret)
			cli_err("%s", errmsg_text(&em));
		return ret;
	}
	for (unsigned i = 0; i < v->npcr_files; i++) {
		ret = pcr_file_read(v->pcr_files[i], &v->expected, &em);
		if (ret) {
			cli_err("%s", errmsg_text(&em));
			return ret;
		}
	}
	return 0;
}

/* Every bank of the PCR source that this OpenSSL can hash. */
static int pick_banks(struct verify *v, const struct hash_alg **banks)
{
	unsigned n = 0;

	v->nskipped = 0;
	for (unsigned i = 0; i < v->expected.nbanks; i++) {
		const struct hash_alg *alg = v->expected.bank[i].alg;

		if (hash_alg_available(alg))
			banks[n++] = alg;
		else
			v->skipped[v->nskipped++] = alg;
	}
	if (!n)
		cli_err("no bank to compare: the PCR source has none this OpenSSL can hash");
	return (int)n;
}

static int start_replay(struct verify *v, const struct hash_alg **banks,
			unsigned n)
{
	struct errmsg em = { "" };

	replay_free(v->rp);
	v->rp = NULL;
	v->records = 0;
	v->bad_record = false;
	if (replay_new(&v->rp, banks, n, &em)) {
		cli_err("%s", errmsg_text(&em));
		return -EINVAL;
	}
	replay_watch(v->rp, &v->expected);
	/* banks are independent: the second core hashes half of them */
	replay_set_threads(v->rp, 2);
	return 0;
}

#define BATCH 4096

static int replay_list(struct verify *v, struct list_reader *r,
		       const char *path)
{
	const struct hash_alg *bank = list_reader_bank(r);
	static struct ima_record recs[BATCH];
	struct errmsg em = { "" }, bad = { "" };
	uint64_t bad_index = UINT64_MAX;
	int n, ret;

	while ((n = list_reader_next_batch(r, recs, BATCH, &em)) > 0) {
		ret = replay_extend_batch(v->rp, recs, (unsigned)n, bank,
					  REPLAY_CHECK_DIGEST, &bad_index, &bad, &em);
		if (ret) {
			cli_err("%s: %s", path, errmsg_text(&em));
			return ret;
		}
		if (bad_index != UINT64_MAX && !v->bad_record) {
			v->bad_record = true;
			v->bad_index = bad_index;
			v->bad_offset = recs[bad_index - recs[0].index].offset;
			v->bad_file = path;
			memcpy(v->bad_reason, bad.text, sizeof(v->bad_reason));
		}
		v->records += (uint64_t)n;
	}
	if (n < 0)
		cli_err("%s", errmsg_text(&em));
	return n;
}

static bool bank_pcr_match(struct verify *v, const struct pcr_bank *run,
			   unsigned p)
{
	struct pcr_bank *exp = pcr_set_bank(&v->expected, run->alg);

	return exp && !memcmp(run->value[p], exp->value[p], run->alg->size);
}

static bool all_match(struct verify *v)
{
	const struct replay_state *st = replay_state(v->rp);

	for (unsigned b = 0; b < st->pcrs.nbanks; b++)
		for (unsigned p = 0; p < IMA_PCR_COUNT; p++)
			if ((st->pcr_used & (1u << p)) &&
			    !bank_pcr_match(v, &st->pcrs.bank[b], p))
				return false;
	return true;
}

/* The list was read after the TPM: if it is ahead, the TPM may catch up. */
static int reread_tpm(struct verify *v)
{
	struct pcr_set saved = v->expected;

	for (int i = 0; i < 3 && !all_match(v); i++) {
		if (read_expected(v)) {
			v->expected = saved;
			return -EIO;
		}
	}
	return 0;
}

static void explain(FILE *f, struct verify *v, const struct hash_alg *alg,
		    unsigned p, bool json)
{
	int64_t k = replay_matched_through(v->rp, alg, p);

	if (json) {
		if (k >= 0)
			fprintf(f, ",\"matched_through\":%lld", (long long)k);
		else
			fputs(",\"matched_through\":null", f);
		return;
	}
	if (k >= 0)
		fprintf(f, "        the replay equals the expected value after record %lld: records after it were not extended into this PCR\n",
			(long long)k);
	else
		fprintf(f, "        no prefix of the list gives the expected value: a record is missing or altered, or the PCR was extended outside this list\n");
}

static void print_human(struct verify *v, const struct hash_alg *list_bank,
			bool match)
{
	const struct replay_state *st = replay_state(v->rp);

	if (v->from_checkpoint)
		printf("checkpoint at record %llu, then %llu records, %s bank; compared with %s\n",
		       (unsigned long long)v->from_checkpoint,
		       (unsigned long long)v->records, list_bank->name,
		       v->use_tpm ? "the TPM" : "PCR files");
	else
		printf("list: %llu records, %s bank; compared with %s\n",
		       (unsigned long long)v->records, list_bank->name,
		       v->use_tpm ? "the TPM" : "PCR files");
	for (unsigned b = 0; b < st->pcrs.nbanks; b++) {
		const struct pcr_bank *run = &st->pcrs.bank[b];
		struct pcr_bank *exp = pcr_set_bank(&v->expected, run->alg);

		for (unsigned p = 0; p < IMA_PCR_COUNT; p++) {
			if (!(st->pcr_used & (1u << p)))
				continue;
			if (bank_pcr_match(v, run, p)) {
				printf("%-8s PCR %2u  match%s\n", run->alg->name, p,
				       run->alg->padded_sha1 && run->alg->tpm_id != 4 ?
				       " (padded SHA-1 template digests: the kernel had no such hash at boot)" : "");
				continue;
			}
			printf("%-8s PCR %2u  MISMATCH\n        expected ", run->alg->name, p);
			hex_print(stdout, exp->value[p], run->alg->size);
			printf("\n        replayed ");
			hex_print(stdout, run->value[p], run->alg->size);
			putchar('\n');
			explain(stdout, v, run->alg, p, false);
		}
	}
	for (unsigned i = 0; i < v->nskipped; i++)
		printf("%-8s not compared: this OpenSSL has no %s\n",
		       v->skipped[i]->name, v->skipped[i]->ossl_name);
	if (v->bad_record)
		printf("first bad record: %llu at byte offset %llu of %s: %s\n",
		       (unsigned long long)v->bad_index,
		       (unsigned long long)v->bad_offset, v->bad_file,
		       v->bad_reason);
	printf("result: %s\n", match ? "match" : "MISMATCH");
}

static void print_json(struct verify *v, const struct hash_alg *list_bank,
		       bool match)
{
	const struct replay_state *st = replay_state(v->rp);

	printf("{\"version\":1,\"result\":\"%s\",\"records\":%llu,\"list_bank\":\"%s\",\"source\":\"%s\",\"banks\":[",
	       match ? "match" : "mismatch", (unsigned long long)v->records,
	       list_bank->name, v->use_tpm ? "tpm" : "pcrs");
	for (unsigned b = 0; b < st->pcrs.nbanks; b++) {
		const struct pcr_bank *run = &st->pcrs.bank[b];
		struct pcr_bank *exp = pcr_set_bank(&v->expected, run->alg);
		bool first = true;

		printf("%s{\"bank\":\"%s\",\"padded_sha1\":%s,\"pcrs\":[", b ? "," : "",
		       run->alg->name, run->alg->padded_sha1 ? "true" : "false");
		for (unsigned p = 0; p < IMA_PCR_COUNT; p++) {
			if (!(st->pcr_used & (1u << p)))
				continue;
			printf("%s{\"pcr\":%u,\"match\":%s,\"expected\":", first ? "" : ",",
			       p, bank_pcr_match(v, run, p) ? "true" : "false");
			json_hex(stdout, exp->value[p], run->alg->size);
			fputs(",\"replayed\":", stdout);
			json_hex(stdout, run->value[p], run->alg->size);
			explain(stdout, v, run->alg, p, true);
			putchar('}');
			first = false;
		}
		fputs("]}", stdout);
	}
	fputs("],\"skipped_banks\":[", stdout);
	for (unsigned i = 0; i < v->nskipped; i++)
		printf("%s\"%s\"", i ? "," : "", v->skipped[i]->name);
	fputs("],\"first_bad_record\":", stdout);
	if (v->bad_record) {
		printf("{\"index\":%llu,\"offset\":%llu,\"file\":",
		       (unsigned long long)v->bad_index,
		       (unsigned long long)v->bad_offset);
		json_cstring(stdout, v->bad_file);
		fputs(",\"reason\":", stdout);
		json_cstring(stdout, v->bad_reason);
		putchar('}');
	} else {
		fputs("null", stdout);
	}
	fputs("}\n", stdout);
}

static int parse_args(struct verify *v, struct list_reader_opts *lo,
		      int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "tpm", no_argument, NULL, 't' },
		{ "tcti", required_argument, NULL, 'C' },
		{ "pcrs", required_argument, NULL, 'p' },
		{ "json", no_argument, NULL, 'j' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "store", required_argument, NULL, 's' },
		{ "insecure", no_argument, NULL, 'I' },
		{ "boot", required_argument, NULL, 'B' },
		{ "full", no_argument, NULL, 'L' },
		{ "no-kernel", no_argument, NULL, 'n' },
		LIST_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	int opt, r;

	while ((opt = getopt_long(argc, argv, "p:jqhs:B:b:T:F:E:", longopts, NULL)) != -1) {
		r = cli_list_opt(opt, optarg, lo);
		if (r < 0)
			return -1;
		if (r > 0)
			continue;
		switch (opt) {
		case 't':
			v->use_tpm = true;
			break;
		case 's':
			v->store = optarg;
			break;
		case 'I':
			v->store_flags |= STORE_INSECURE;
			break;
		case 'B':
			v->boot = optarg;
			break;
		case 'L':
			v->full = true;
			break;
		case 'n':
			v->no_kernel = true;
			break;
		case 'C':
			v->tcti = optarg;
			v->use_tpm = true;
			break;
		case 'p':
			if (v->npcr_files == MAX_PCR_FILES) {
				cli_err("at most %d --pcrs files", MAX_PCR_FILES);
				return -1;
			}
			v->pcr_files[v->npcr_files++] = optarg;
			break;
		case 'j':
			v->json = cli_json = true;
			break;
		case 'q':
			v->quiet = true;
			break;
		case 'h':
			verify_usage(stdout);
			return 1;
		default:
			return -1;
		}
	}
	if (v->use_tpm && v->npcr_files) {
		cli_err("--tpm and --pcrs exclude each other");
		return -1;
	}
	if (!v->npcr_files)
		v->use_tpm = true;
	if ((v->boot || v->full || v->no_kernel) && !v->store) {
		cli_err("--boot, --full and --no-kernel go with --store");
		return -1;
	}
	if (v->store && optind < argc) {
		cli_err("verify --store reads the store, not LIST arguments ('%s')", argv[optind]);
		return -1;
	}
	if (!v->store && optind >= argc) {
		cli_err("verify needs a LIST (a measurement list file, or - for standard input), or --store");
		return -1;
	}
	return 0;
}

static int replay_lists(struct verify *v, struct list_reader_opts lo,
			int nlists, char **lists, const struct hash_alg **list_bank)
{
	for (int i = 0; i < nlists; i++) {
		struct list_reader *lr;
		int fd, r;

		if (cli_open_list(lists[i], &lo, &fd, &lr))
			return -EIO;
		*list_bank = list_reader_bank(lr);
		r = replay_list(v, lr, lists[i]);
		lo.first_index = list_reader_index(lr);
		lo.bank = *list_bank;
		cli_close_list(fd, lr);
		if (r < 0)
			return r;
	}
	if (!v->records) {
		cli_err("the list is empty: nothing to verify");
		return -ENODATA;
	}
	return 0;
}


/* The checkpoint can stand for records 0..k-1 if it has every bank we need. */
static bool checkpoint_covers(const struct replay_state *ck,
			      const struct hash_alg **banks, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		bool found = false;

		for (unsigned b = 0; b < ck->pcrs.nbanks; b++)
			found |= ck->pcrs.bank[b].alg->tpm_id == banks[i]->tpm_id &&
				 ck->pcrs.bank[b].alg->padded_sha1 == banks[i]->padded_sha1;
		if (!found)
			return false;
	}
	return true;
}

static int verify_store(struct verify *v, const struct hash_alg **banks,
			unsigned n, const struct hash_alg **list_bank)
{
	struct full_list_opts fo = { 0 };
	struct store *s = NULL;
	struct chain *c = NULL;
	struct full_list *fl = NULL;
	struct replay_state ck;
	struct ima_record rec;
	struct errmsg em = { "" };
	struct progress pg;
	char cur[STORE_ID_MAX], kpath[512], ppath[512];
	const char *boot = v->boot ? v->boot : "current";
	int ret;

	ret = cli_store_open(cli_store_dir(v->store), v->store_flags, &s);
	if (ret)
		return ret;
	ret = store_chain_open(s, boot, &c, &em);
	if (ret)
		goto out;
	*list_bank = chain_meta(c)->bank;
	/* each bank by the chain's mode (padded where the kernel had no hash) */
	for (unsigned i = 0; i < n; i++)
		banks[i] = chain_meta_bank(chain_meta(c), banks[i]);
	if (!v->full && !chain_checkpoint_find(c, chain_durable(c), &ck, NULL) &&
	    checkpoint_covers(&ck, banks, n)) {
		ret = replay_resume(&v->rp, &ck, &em);
		if (!ret)
			replay_watch(v->rp, &v->expected);
		fo.from = ck.next_index;
		v->from_checkpoint = ck.next_index;
	} else {
		ret = start_replay(v, banks, n);
	}
	if (ret)
		goto out;
	if (!v->no_kernel && !store_current_boot(cur, sizeof(cur), NULL) &&
	    (!strcmp(boot, "current") || !strcmp(boot, cur)) &&
	    !ima_kernel_list_path(*list_bank, kpath, sizeof(kpath))) {
		fo.kernel_list = kpath;
		if (!ima_kernel_list_path(chain_meta(c)->bank, ppath, sizeof(ppath)))
			fo.placement_list = ppath;
		fo.boot_id = cur;
	}
	ret = full_list_open(c, &fo, &fl, &em);
	if (ret)
		goto out;
	progress_start(&pg, "verify", chain_durable(c) - fo.from);
	while ((ret = full_list_next(fl, &rec, &em)) > 0) {
		ret = replay_extend(v->rp, &rec, *list_bank, REPLAY_CHECK_DIGEST, &em);
		if (ret == -EBADMSG && !v->bad_record) {
			v->bad_record = true;
			v->bad_index = rec.index;
			v->bad_offset = rec.offset;
			v->bad_file = rec.index < chain_durable(c) ? "the store" : fo.kernel_list;
			memcpy(v->bad_reason, em.text, sizeof(v->bad_reason));
			ret = replay_extend(v->rp, &rec, *list_bank, 0, &em);
		}
		if (ret)
			break;
		progress_update(&pg, ++v->records);
	}
	progress_done(&pg);
out:
	if (ret < 0)
		cli_err("%s", errmsg_text(&em));
	full_list_free(fl);
	chain_close(c);
	store_close(s);
	return ret;
}

/*
 * A bank the kernel had no hash for at boot holds padded SHA-1 template
 * digests, and nothing in the list says so. If some bank does not match,
 * replay again (the inputs are files) with those banks padded.
 */
static int try_padded(struct verify *v, const struct replay *first,
		      struct list_reader_opts lo, int nlists, char **lists,
		      const struct hash_alg **banks, unsigned n)
{
	const struct hash_alg *list_bank = NULL, *alt[PCR_MAX_BANKS];
	const struct replay_state *st = replay_state(first);
	bool any = false;

	for (int i = 0; i < nlists; i++)
		if (!strcmp(lists[i], "-"))
			return 0;
	for (unsigned b = 0; b < n; b++) {
		alt[b] = banks[b];
		for (unsigned p = 0; p < IMA_PCR_COUNT; p++)
			if ((st->pcr_used & (1u << p)) &&
			    !bank_pcr_match(v, &st->pcrs.bank[b], p) &&
			    hash_alg_padded(banks[b]) != banks[b]) {
				alt[b] = hash_alg_padded(banks[b]);
				any = true;
			}
	}
	if (!any || start_replay(v, alt, n) ||
	    replay_lists(v, lo, nlists, lists, &list_bank))
		return -EIO;
	return 0;
}

int cmd_verify(int argc, char **argv)
{
	struct list_reader_opts lo = { 0 };
	struct verify *v;
	const struct hash_alg *list_bank = NULL, *banks[PCR_MAX_BANKS];
	int ret = EXIT_ERROR, r, n;
	bool match;

	v = calloc(1, sizeof(*v));
	if (!v)
		return EXIT_ERROR;
	r = parse_args(v, &lo, argc, argv);
	if (r) {
		free(v);
		return r > 0 ? EXIT_MATCH : cli_usage_error("verify");
	}
	if (read_expected(v))
		goto out;
	n = pick_banks(v, banks);
	if (n <= 0)
		goto out;
	if (v->store) {
		if (verify_store(v, banks, (unsigned)n, &list_bank))
			goto out;
	} else if (start_replay(v, banks, (unsigned)n) ||
		   replay_lists(v, lo, argc - optind, argv + optind, &list_bank)) {
		goto out;
	}
	if (v->use_tpm && reread_tpm(v))
		goto out;
	if (!all_match(v) && !v->bad_record && !v->store) {
		struct replay *first = v->rp;
		uint64_t records = v->records;

		v->rp = NULL;
		if (try_padded(v, first, lo, argc - optind, argv + optind, banks,
			       (unsigned)n) || !v->rp || !all_match(v) ||
		    v->bad_record) {
			replay_free(v->rp);
			v->rp = first;	/* report the plain replay */
			v->records = records;
			v->bad_record = false;
		} else {
			replay_free(first);
		}
	}
	match = all_match(v) && !v->bad_record;
	if (v->json)
		print_json(v, list_bank, match);
	else if (!v->quiet)
		print_human(v, list_bank, match);
	ret = match ? EXIT_MATCH : EXIT_MISMATCH;
out:
	replay_free(v->rp);
	free(v);
	if (fflush(stdout)) {
		cli_err("standard output: %s", strerror(errno));
		ret = EXIT_ERROR;
	}
	return ret;
}
