// SPDX-License-Identifier: GPL-2.0-only
/* imastore convert: a list between binary and ASCII, each rebuilt record checked. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "list_ascii.h"

static void convert_usage(FILE *f)
{
	fprintf(f,
"Usage: %s convert --to ascii|binary [OPTIONS] [LIST...]\n"
"\n"
"Convert a measurement list. Binary to ASCII gives exactly the bytes of the\n"
"kernel's ascii_runtime_measurements file of the same bank. ASCII to binary\n"
"rebuilds each record and checks it against its template digest; a path\n"
"containing a newline cannot be carried by ASCII, so binary is the format to\n"
"keep. Several LISTs are read as consecutive pieces of one list; '-' or no\n"
"LIST reads standard input.\n"
"\n"
"Options:\n"
"  -t, --to FORMAT         ascii or binary (required)\n"
"  -o, --output FILE       write to FILE instead of standard output\n"
LIST_OPTS_HELP
"                          (for ASCII input: the byte order of the output)\n"
"  -h, --help              this help\n"
"\n"
"Exit status: 0 success, 2 error (the message names the record).\n", prog);
}

/* A record rebuilt from ASCII must hash to the digest the line shows. */
static int check_rebuilt(const struct ima_record *rec,
			 const struct hash_alg *bank, struct hash_ctx **ctx,
			 struct errmsg *em)
{
	uint8_t d[IMA_MAX_DIGEST];
	int ret;

	if (ima_record_is_violation(rec))
		return 0;
	if (!*ctx && (ret = hash_ctx_new_template(bank, ctx)))
		return errmsg_set(em, ret, "bank %s: no hash", bank->name);
	ret = ima_record_template_digest(rec, *ctx, d);
	if (!ret && memcmp(d, rec->digest, rec->digest_len))
		ret = errmsg_set(em, -EBADMSG,
				 "record %llu at byte offset %llu: the binary record rebuilt from this ASCII line does not hash to its template digest (the ASCII list cannot carry it exactly; use the binary list)",
				 (unsigned long long)rec->index,
				 (unsigned long long)rec->offset);
	return ret;
}

static int convert_one(struct list_reader *r, bool to_ascii,
		       const struct template_desc *custom, FILE *out,
		       struct errmsg *em)
{
	struct hash_ctx *ctx = NULL;
	struct ima_record rec;
	char *line = NULL;
	size_t cap = 0;
	long n;
	int ret;

	while ((ret = list_reader_next(r, &rec, em)) > 0) {
		if (!to_ascii) {
			if (list_reader_format(r) == LIST_FORMAT_ASCII &&
			    (ret = check_rebuilt(&rec, list_reader_bank(r), &ctx, em)))
				break;
			fwrite(rec.raw, 1, rec.raw_len, out);
			continue;
		}
		if (list_ascii_max_line(&rec) > cap) {
			char *nl;

			cap = list_ascii_max_line(&rec);
			nl = realloc(line, cap);
			if (!nl) {
				ret = -ENOMEM;
				break;
			}
			line = nl;
		}
		n = list_ascii_format(&rec, custom, line, cap, em);
		if (n < 0) {
			ret = (int)n;
			break;
		}
		fwrite(line, 1, (size_t)n, out);
	}
	free(line);
	hash_ctx_free(ctx);
	return ret;
}

int cmd_convert(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "to", required_argument, NULL, 't' },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		LIST_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	static char *stdin_only[] = { "-" };
	struct list_reader_opts lo = { 0 };
	struct template_desc custom;
	const char *to = NULL, *output = NULL;
	char **lists;
	int nlists, opt, ret = EXIT_MATCH;
	FILE *out = stdout;

	while ((opt = getopt_long(argc, argv, "t:o:hb:T:F:E:", longopts, NULL)) != -1) {
		int r = cli_list_opt(opt, optarg, &lo);

		if (r < 0)
			return cli_usage_error("convert");
		if (r > 0)
			continue;
		switch (opt) {
		case 't':
			to = optarg;
			break;
		case 'o':
			output = optarg;
			break;
		case 'h':
			convert_usage(stdout);
			return EXIT_MATCH;
		default:
			return cli_usage_error("convert");
		}
	}
	if (!to) {
		cli_err("convert needs --to ascii or --to binary");
		return cli_usage_error("convert");
	}
	if (strcmp(to, "ascii") && strcmp(to, "binary")) {
		cli_err("unknown output format '%s' (--to ascii or --to binary)", to);
		return cli_usage_error("convert");
	}
	if (lo.template_fmt) {
		struct errmsg em = { "" };

		if (template_from_fmt("", lo.template_fmt, &custom, &em)) {
			cli_err("--template-fmt: %s", errmsg_text(&em));
			return EXIT_ERROR;
		}
	}
	if (output) {
		int ofd = open(output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

		out = ofd < 0 ? NULL : fdopen(ofd, "w");
		if (!out) {
			cli_err("%s: %s", output, strerror(errno));
			return EXIT_ERROR;
		}
	}
	setvbuf(out, NULL, _IOFBF, 1 << 20);
	lists = optind < argc ? argv + optind : stdin_only;
	nlists = optind < argc ? argc - optind : 1;
	for (int i = 0; i < nlists && ret == EXIT_MATCH; i++) {
		struct list_reader *r;
		struct errmsg em = { "" };
		int fd;

		if (cli_open_list(lists[i], &lo, &fd, &r)) {
			ret = EXIT_ERROR;
			break;
		}
		if (convert_one(r, !strcmp(to, "ascii"),
				lo.template_fmt ? &custom : NULL, out, &em) < 0) {
			cli_err("%s", errmsg_text(&em));
			ret = EXIT_ERROR;
		}
		lo.first_index = list_reader_index(r);
		lo.bank = list_reader_bank(r);
		cli_close_list(fd, r);
	}
	if (fflush(out) || ferror(out) || (out != stdout && fclose(out))) {
		cli_err("%s: %s", output ? output : "standard output", strerror(errno));
		ret = EXIT_ERROR;
	}
	return ret;
}
