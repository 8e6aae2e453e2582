// SPDX-License-Identifier: GPL-2.0-only
/* What every imastore command shares: errors (text or JSON), list and store options, progress, times. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "clock.h"
#include "json.h"
#include "store.h"

const char *prog = "imastore";
bool cli_json;

void cli_err(const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!cli_json) {
		fprintf(stderr, "%s: %s\n", prog, msg);
		return;
	}
	fputs("{\"error\":", stderr);
	json_cstring(stderr, msg);
	fputs("}\n", stderr);
}

int cli_usage_error(const char *cmd)
{
	/* a JSON reader has the error object; the hint is for a human */
	if (!cli_json)
		fprintf(stderr, "Try '%s %s --help'.\n", prog, cmd);
	return EXIT_ERROR;
}

int cli_list_opt(int opt, const char *arg, struct list_reader_opts *o)
{
	switch (opt) {
	case 'b':
		o->bank = hash_alg_by_name(arg);
		if (!o->bank) {
			cli_err("unknown bank '%s' (sha1, sha256, sha384, sha512, sm3, tpm_alg_<hex>)",
				arg);
			return -1;
		}
		return 1;
	case 'T':
		o->template_fmt = arg;
		return 1;
	case 'F':
		if (!strcmp(arg, "binary"))
			o->format = LIST_FORMAT_BINARY;
		else if (!strcmp(arg, "ascii"))
			o->format = LIST_FORMAT_ASCII;
		else if (!strcmp(arg, "auto"))
			o->format = LIST_FORMAT_AUTO;
		else {
			cli_err("unknown format '%s' (binary, ascii, auto)", arg);
			return -1;
		}
		return 1;
	case 'E':
		if (!strcmp(arg, "host"))
			o->endian = LIST_ENDIAN_HOST;
		else if (!strcmp(arg, "little"))
			o->endian = LIST_ENDIAN_LITTLE;
		else if (!strcmp(arg, "big"))
			o->endian = LIST_ENDIAN_BIG;
		else if (!strcmp(arg, "auto"))
			o->endian = LIST_ENDIAN_AUTO;
		else {
			cli_err("unknown byte order '%s' (host, little, big, auto)", arg);
			return -1;
		}
		return 1;
	}
	return 0;
}

int cli_open_list(const char *path, const struct list_reader_opts *base,
		  int *fd, struct list_reader **r)
{
	struct list_reader_opts o = *base;
	struct errmsg em = { "" };
	int ret;

	if (!strcmp(path, "-")) {
		*fd = STDIN_FILENO;
		o.path = "(standard input)";
	} else {
		*fd = open(path, O_RDONLY | O_CLOEXEC);
		if (*fd < 0) {
			ret = -errno;
			cli_err("%s: %s", path, strerror(errno));
			return ret;
		}
		o.path = path;
	}
	ret = list_reader_open(r, *fd, &o, &em);
	if (ret) {
		cli_err("%s", errmsg_text(&em));
		if (*fd != STDIN_FILENO)
			close(*fd);
		*fd = -1;
	}
	return ret;
}

void cli_close_list(int fd, struct list_reader *r)
{
	list_reader_free(r);
	if (fd > STDIN_FILENO)
		close(fd);
}

const char *cli_store_dir(const char *opt)
{
	const char *env = getenv("IMASTORE_STORE");

	if (opt)
		return opt;
	return env && *env ? env : STORE_DEFAULT_DIR;
}

int cli_store_open(const char *dir, unsigned flags, struct store **s)
{
	struct errmsg em = { "" };
	int ret = store_open(s, dir, flags, &em);

	if (ret)
		cli_err("%s", errmsg_text(&em));
	return ret;
}

void progress_start(struct progress *p, const char *what, uint64_t total)
{
	p->on = isatty(STDERR_FILENO);
	p->what = what;
	p->total = total;
	p->last_ns = mono_ns();
}

void progress_update(struct progress *p, uint64_t done)
{
	uint64_t t;

	if (!p->on || (done & 1023))
		return;
	t = mono_ns();
	if (t - p->last_ns < 250000000u)
		return;
	p->last_ns = t;
	if (p->total)
		fprintf(stderr, "\r%s: %llu of %llu records (%u%%)", p->what,
			(unsigned long long)done, (unsigned long long)p->total,
			(unsigned)(100 * done / p->total));
	else
		fprintf(stderr, "\r%s: %llu records", p->what, (unsigned long long)done);
}

void progress_done(struct progress *p)
{
	if (p->on)
		fprintf(stderr, "\r\033[K");
}

void cli_time_text(uint64_t t, char *out, size_t len)
{
	static const struct { uint64_t secs; const char *unit; } units[] = {
		{ 86400, "day" }, { 3600, "h" }, { 60, "min" }, { 1, "s" },
	};
	time_t sec = (time_t)t, now = time(NULL);
	uint64_t age;
	struct tm tm;
	size_t n;

	if (!gmtime_r(&sec, &tm)) {
		snprintf(out, len, "%llu", (unsigned long long)t);
		return;
	}
	n = strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (sec > now) {
		snprintf(out + n, len - n, " (in the future)");
		return;
	}
	age = (uint64_t)(now - sec);
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		uint64_t k = age / units[i].secs;

		if (k || units[i].secs == 1) {
			snprintf(out + n, len - n, " (%llu %s%s ago)", (unsigned long long)k,
				 units[i].unit, units[i].secs == 86400 ? PLURAL(k) : "");
			return;
		}
	}
}
