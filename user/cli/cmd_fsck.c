// SPDX-License-Identifier: GPL-2.0-only
/* imastore fsck: the store's structure and replay, chain by chain. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "chain_replay.h"
#include "cli.h"
#include "commands.h"
#include "store.h"

static void fsck_usage(FILE *f)
{
	fprintf(f,
"Usage: %s fsck [OPTIONS]\n"
"\n"
"Check the store: every frame's checksum, every commit group, that record\n"
"indexes follow each other across segments, the sparse indexes, the\n"
"checkpoint and trim logs; then replay every chain from its first record,\n"
"checking each record's template digest against its data and each\n"
"checkpoint against the replay. Reads only; a torn tail after the last\n"
"commit is a warning (the next writer cuts it).\n"
"\n"
"Options:\n"
STORE_OPTS_HELP
"  -B, --boot ID           check that boot's chain only (default: all)\n"
"  -q, --quiet             print only problems\n"
"  -h, --help              this help\n"
"\n"
"Exit status: 0 no error (warnings possible), 1 errors found (each named,\n"
"with file and offset or record), 2 the check could not run.\n", prog);
}

static void note(void *arg, bool error, const char *msg)
{
	const char *chain = arg;

	printf("%s: %s: %s\n", chain, error ? "ERROR" : "warning", msg);
}

/* by_name: `id` is a chain's own id (from store_chain_list), not a boot's */
static int fsck_chain(struct store *s, const char *id, bool by_name, bool quiet,
		      unsigned *errors)
{
	struct fsck_report rep;
	struct chain *c;
	struct errmsg em = { "" };
	struct progress pg;
	char name[STORE_ID_MAX];

	if ((by_name ? store_chain_open_name : store_chain_open)(s, id, &c, &em)) {
		cli_err("%s", errmsg_text(&em));
		return -EIO;
	}
	snprintf(name, sizeof(name), "%s", chain_meta(c)->chain);
	progress_start(&pg, name, 0);
	if (chain_fsck(c, &rep, note, name)) {
		chain_close(c);
		cli_err("%s: the check failed", name);
		return -EIO;
	}
	progress_done(&pg);
	if (!quiet || rep.errors)
		printf("%s: %llu record%s in %llu segment%s, %llu checkpoint%s: %u error%s, %u warning%s\n",
		       name, (unsigned long long)rep.records, PLURAL(rep.records),
		       (unsigned long long)rep.segments, PLURAL(rep.segments),
		       (unsigned long long)rep.checkpoints, PLURAL(rep.checkpoints),
		       rep.errors, PLURAL(rep.errors), rep.warnings, PLURAL(rep.warnings));
	*errors += rep.errors;
	chain_close(c);
	return 0;
}

int cmd_fsck(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "store", required_argument, NULL, 's' },
		{ "insecure", no_argument, NULL, 'I' },
		{ "boot", required_argument, NULL, 'B' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = NULL, *boot = NULL;
	char (*ids)[STORE_ID_MAX] = NULL;
	struct errmsg em = { "" };
	struct store *s = NULL;
	unsigned flags = 0, errors = 0;
	bool quiet = false;
	size_t n = 0;
	int opt, ret = EXIT_ERROR;

	while ((opt = getopt_long(argc, argv, "s:B:qh", longopts, NULL)) != -1) {
		switch (opt) {
		case 's': dir = optarg; break;
		case 'I': flags |= STORE_INSECURE; break;
		case 'B': boot = optarg; break;
		case 'q': quiet = true; break;
		case 'h': fsck_usage(stdout); return EXIT_MATCH;
		default: return cli_usage_error("fsck");
		}
	}
	if (optind < argc) {
		cli_err("fsck takes no arguments ('%s')", argv[optind]);
		return cli_usage_error("fsck");
	}
	if (cli_store_open(cli_store_dir(dir), flags, &s))
		return EXIT_ERROR;
	if (boot) {
		if (fsck_chain(s, boot, false, quiet, &errors))
			goto out;
	} else {
		if (store_chain_list(s, &ids, &n, &em)) {
			cli_err("%s", errmsg_text(&em));
			goto out;
		}
		for (size_t i = 0; i < n; i++)
			if (fsck_chain(s, ids[i], true, quiet, &errors))
				goto out;
		if (!n && !quiet)
			printf("%s: no chains\n", store_dir(s));
	}
	ret = errors ? EXIT_MISMATCH : EXIT_MATCH;
out:
	free(ids);
	store_close(s);
	return ret;
}
