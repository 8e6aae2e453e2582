// SPDX-License-Identifier: GPL-2.0-only
/* imastore show: a list, one record a line (text or JSON). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "record_print.h"

static void show_usage(FILE *f)
{
	fprintf(f,
"Usage: %s show [OPTIONS] [LIST...]\n"
"\n"
"Print the records of a measurement list (binary or ASCII), one a line:\n"
"  INDEX PCR TEMPLATE TEMPLATE-DIGEST FILE-DIGEST PATH [buf:HEX]\n"
"TEMPLATE-DIGEST is 'violation' for a violation record; bytes of a path that\n"
"are not printable ASCII show as \\xNN. Several LISTs are read as consecutive\n"
"pieces of one list; '-' or no LIST reads standard input.\n"
"\n"
"Options:\n"
"  -j, --json              JSON lines instead (see imastore(1), JSON OUTPUT)\n"
LIST_OPTS_HELP
"  -h, --help              this help\n"
"\n"
"Exit status: 0 success, 2 error (e.g. a malformed list: the message names\n"
"the byte offset and record index).\n", prog);
}

int cmd_show(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		LIST_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	struct list_reader_opts lo = { 0 };
	struct template_desc custom;
	static char *stdin_only[] = { "-" };
	char **lists;
	int nlists, opt, ret = EXIT_MATCH;
	bool json = false;

	while ((opt = getopt_long(argc, argv, "jhb:T:F:E:", longopts, NULL)) != -1) {
		int r = cli_list_opt(opt, optarg, &lo);

		if (r < 0)
			return cli_usage_error("show");
		if (r > 0)
			continue;
		switch (opt) {
		case 'j':
			json = cli_json = true;
			break;
		case 'h':
			show_usage(stdout);
			return EXIT_MATCH;
		default:
			return cli_usage_error("show");
		}
	}
	if (lo.template_fmt) {
		struct errmsg em = { "" };

		if (template_from_fmt("", lo.template_fmt, &custom, &em)) {
			cli_err("--template-fmt: %s", errmsg_text(&em));
			return EXIT_ERROR;
		}
	}
	lists = optind < argc ? argv + optind : stdin_only;
	nlists = optind < argc ? argc - optind : 1;
	for (int i = 0; i < nlists && ret == EXIT_MATCH; i++) {
		struct list_reader *r;
		struct ima_record rec;
		struct errmsg em = { "" };
		int fd, n;

		if (cli_open_list(lists[i], &lo, &fd, &r))
			return EXIT_ERROR;
		while ((n = list_reader_next(r, &rec, &em)) > 0) {
			if (json)
				n = record_print_json(stdout, &rec,
						      list_reader_bank(r),
						      lo.template_fmt ? &custom : NULL,
						      &em);
			else
				n = record_print_text(stdout, &rec,
						      lo.template_fmt ? &custom : NULL,
						      &em);
			if (n < 0)
				break;
		}
		lo.first_index = list_reader_index(r);
		lo.bank = list_reader_bank(r);
		if (n < 0) {
			fflush(stdout);
			cli_err("%s", errmsg_text(&em));
			ret = EXIT_ERROR;
		}
		cli_close_list(fd, r);
	}
	if (fflush(stdout) || ferror(stdout)) {
		cli_err("standard output: %s", strerror(errno));
		ret = EXIT_ERROR;
	}
	return ret;
}
