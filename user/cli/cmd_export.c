// SPDX-License-Identifier: GPL-2.0-only
/* imastore export: a boot's complete list from the store (and the kernel's tail). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "full_list.h"
#include "securityfs.h"
#include "list_ascii.h"

static void export_usage(FILE *f)
{
	fprintf(f,
"Usage: %s export [OPTIONS]\n"
"\n"
"Write a boot's complete measurement list as the kernel would show it had\n"
"nothing been deleted: the stored records, then, for the running boot, the\n"
"records still in the kernel's list (which must continue the store byte for\n"
"byte). Any bank: digests of other banks than the stored one are recomputed\n"
"by the kernel's rules. Streams in constant memory.\n"
"\n"
"Options:\n"
STORE_OPTS_HELP
"  -B, --boot ID           boot id, chain id or 'current' (default current)\n"
"  -b, --bank ALG          bank of the output list (default the stored bank)\n"
"  -f, --format FMT        binary (default) or ascii\n"
"      --from K            start at record K (default 0)\n"
"      --count M           at most M records\n"
"      --no-kernel         stored records only, not the kernel's tail\n"
"  -o, --output FILE       write to FILE instead of standard output\n"
"  -h, --help              this help\n"
"\n"
"Exit status: 0 success, 2 error (no such boot, corrupt store, the kernel's\n"
"list does not continue the store).\n", prog);
}

struct export_opts {
	const char *store, *boot, *output;
	const struct hash_alg *bank;
	bool ascii, no_kernel;
	unsigned flags;
	uint64_t from, count;
};

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;

	errno = 0;
	*out = strtoull(s, &end, 10);
	return errno || *end || !*s || *s == '-' ? -1 : 0;
}

static int export_args(struct export_opts *o, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "store", required_argument, NULL, 's' },
		{ "insecure", no_argument, NULL, 'I' },
		{ "boot", required_argument, NULL, 'B' },
		{ "bank", required_argument, NULL, 'b' },
		{ "format", required_argument, NULL, 'f' },
		{ "from", required_argument, NULL, 'k' },
		{ "count", required_argument, NULL, 'm' },
		{ "no-kernel", no_argument, NULL, 'n' },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	o->boot = "current";
	while ((opt = getopt_long(argc, argv, "s:B:b:f:o:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 's': o->store = optarg; break;
		case 'I': o->flags |= STORE_INSECURE; break;
		case 'B': o->boot = optarg; break;
		case 'b':
			o->bank = hash_alg_by_name(optarg);
			if (!o->bank) {
				cli_err("unknown bank '%s'", optarg);
				return -1;
			}
			break;
		case 'f':
			if (strcmp(optarg, "ascii") && strcmp(optarg, "binary")) {
				cli_err("unknown format '%s' (binary, ascii)", optarg);
				return -1;
			}
			o->ascii = !strcmp(optarg, "ascii");
			break;
		case 'k':
			if (parse_u64(optarg, &o->from)) {
				cli_err("--from: not a record index: '%s'", optarg);
				return -1;
			}
			break;
		case 'm':
			if (parse_u64(optarg, &o->count) || !o->count) {
				cli_err("--count: not a positive number: '%s'", optarg);
				return -1;
			}
			break;
		case 'n': o->no_kernel = true; break;
		case 'o': o->output = optarg; break;
		case 'h': export_usage(stdout); return 1;
		default: return -1;
		}
	}
	if (optind < argc) {
		cli_err("export takes no arguments ('%s')", argv[optind]);
		return -1;
	}
	return 0;
}

/* The kernel's tail belongs in the output only for the running boot. */
static bool is_running_boot(const struct chain_meta *m, const char *boot,
			    char *cur, size_t len)
{
	if (store_current_boot(cur, len, NULL))
		return false;
	if (!strcmp(boot, "current") || !strcmp(boot, cur))
		return true;
	/* a chain id: the running boot may be one of its boots */
	for (unsigned i = 0; i < m->nboots; i++)
		if (!strcmp(m->boots[i].id, cur) && !strcmp(boot, m->chain))
			return true;
	return false;
}

static int write_record(FILE *out, const struct ima_record *rec, bool ascii,
			const struct template_desc *custom, char **line,
			size_t *cap, struct errmsg *em)
{
	long n;

	if (!ascii)
		return fwrite_unlocked(rec->raw, 1, rec->raw_len, out) == rec->raw_len ? 0 : -EIO;
	if (list_ascii_max_line(rec) > *cap) {
		char *nl = realloc(*line, list_ascii_max_line(rec));

		if (!nl)
			return -ENOMEM;
		*line = nl;
		*cap = list_ascii_max_line(rec);
	}
	n = list_ascii_format(rec, custom, *line, *cap, em);
	if (n < 0)
		return (int)n;
	return fwrite_unlocked(*line, 1, (size_t)n, out) == (size_t)n ? 0 : -EIO;
}

int cmd_export(int argc, char **argv)
{
	struct export_opts o = { 0 };
	struct full_list_opts fo = { 0 };
	struct template_desc custom, *cp = NULL;
	struct store *s = NULL;
	struct chain *c = NULL;
	struct full_list *fl = NULL;
	struct ima_record rec;
	struct errmsg em = { "" };
	struct progress pg;
	char cur[STORE_ID_MAX], kpath[512], ppath[512];
	char *line = NULL;
	size_t cap = 0;
	uint64_t n = 0;
	FILE *out = stdout;
	int ret = EXIT_ERROR, r;

	r = export_args(&o, argc, argv);
	if (r)
		return r > 0 ? EXIT_MATCH : cli_usage_error("export");
	if (cli_store_open(cli_store_dir(o.store), o.flags, &s))
		goto out;
	if (store_chain_open(s, o.boot, &c, &em)) {
		cli_err("%s", errmsg_text(&em));
		goto out;
	}
	if (chain_meta(c)->template_fmt[0] &&
	    !template_from_fmt("", chain_meta(c)->template_fmt, &custom, NULL))
		cp = &custom;
	fo.bank = o.bank;
	fo.from = o.from;
	fo.count = o.count;
	if (!o.no_kernel && is_running_boot(chain_meta(c), o.boot, cur, sizeof(cur)) &&
	    !ima_kernel_list_path(o.bank ? o.bank : chain_meta(c)->bank, kpath, sizeof(kpath))) {
		fo.kernel_list = kpath;
		if (!ima_kernel_list_path(chain_meta(c)->bank, ppath, sizeof(ppath)))
			fo.placement_list = ppath;
		fo.boot_id = cur;
	}
	if (full_list_open(c, &fo, &fl, &em)) {
		cli_err("%s", errmsg_text(&em));
		goto out;
	}
	if (o.output) {
		int fd = open(o.output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

		out = fd < 0 ? NULL : fdopen(fd, "w");
		if (!out) {
			cli_err("%s: %s", o.output, strerror(errno));
			goto out;
		}
	}
	setvbuf(out, NULL, _IOFBF, 1 << 20);
	progress_start(&pg, "export", chain_durable(c) > o.from ? chain_durable(c) - o.from : 0);
	while ((r = full_list_next(fl, &rec, &em)) > 0) {
		r = write_record(out, &rec, o.ascii, cp, &line, &cap, &em);
		if (r)
			break;
		progress_update(&pg, ++n);
	}
	progress_done(&pg);
	if (r < 0) {
		cli_err("%s", r == -EIO ? strerror(errno) : errmsg_text(&em));
		goto out;
	}
	if (fflush(out) || ferror(out)) {
		cli_err("%s: %s", o.output ? o.output : "standard output", strerror(errno));
		goto out;
	}
	ret = EXIT_MATCH;
out:
	if (out && out != stdout)
		fclose(out);
	free(line);
	full_list_free(fl);
	chain_close(c);
	store_close(s);
	return ret;
}
