// SPDX-License-Identifier: GPL-2.0-only
/* imastored's configuration: defaults, the config file, the command line. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "imacapture.h"
#include "hash_alg.h"
#include "log.h"
#include "store.h"
#include "tail_format.h"

void dconfig_defaults(struct dconfig *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->config_path, sizeof(c->config_path), "%s", DCONFIG_DEFAULT_PATH);
	snprintf(c->store, sizeof(c->store), "%s", STORE_DEFAULT_DIR);
	c->interval_ms = 10000;
	c->latency_ms = 1000;
	c->trim_records = 1000;
	c->trim_bytes = 0;
	c->keep = 16;
	c->flavor = DFLAVOR_AUTO;
	c->log_level = LOG_P_INFO;
	c->bpf = true;
	c->ringbuf_size = IMACAPTURE_RINGBUF_DEFAULT;
	snprintf(c->tail_socket, sizeof(c->tail_socket), "%s", TAIL_SOCKET_DEFAULT);
	snprintf(c->view, sizeof(c->view), "%s", DCONFIG_VIEW_DEFAULT);
}

/* The view's mount point (docs/view.md), or "none": no view. */
static int set_view(struct dconfig *c, const char *val)
{
	if (!strcmp(val, "none")) {
		c->view[0] = '\0';
		return 0;
	}
	if (val[0] != '/' || strlen(val) >= sizeof(c->view))
		return -EINVAL;
	snprintf(c->view, sizeof(c->view), "%s", val);
	return 0;
}

/* A socket path, or "none": no live stream. */
static int set_tail_socket(struct dconfig *c, const char *val)
{
	if (!strcmp(val, "none")) {
		c->tail_socket[0] = '\0';
		return 0;
	}
	if (val[0] != '/' || strlen(val) >= sizeof(c->tail_socket))
		return -EINVAL;
	snprintf(c->tail_socket, sizeof(c->tail_socket), "%s", val);
	return 0;
}

const char *dflavor_name(enum dflavor f)
{
	switch (f) {
	case DFLAVOR_N: return "N";
	case DFLAVOR_MIRROR: return "mirror";
	case DFLAVOR_AD: return "AD";
	default: return "auto";
	}
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;

	errno = 0;
	*out = strtoull(s, &end, 10);
	return errno || end == s || *end || *s == '-' ? -EINVAL : 0;
}

static int parse_ms(const char *s, unsigned *out)
{
	uint64_t v;

	if (parse_u64(s, &v) || v == 0 || v > 24u * 3600 * 1000)
		return -EINVAL;
	*out = (unsigned)v;
	return 0;
}

static int set_flavor(struct dconfig *c, const char *val)
{
	if (!strcmp(val, "auto"))
		c->flavor = DFLAVOR_AUTO;
	else if (!strcmp(val, "N") || !strcmp(val, "n"))
		c->flavor = DFLAVOR_N;
	else if (!strcmp(val, "mirror"))
		c->flavor = DFLAVOR_MIRROR;
	else if (!strcmp(val, "AD") || !strcmp(val, "ad") || !strcmp(val, "A/D"))
		c->flavor = DFLAVOR_AD;
	else
		return -EINVAL;
	return 0;
}

static int set_bank(struct dconfig *c, const char *val)
{
	if (*val && strcmp(val, "auto") && !hash_alg_by_name(val))
		return -EINVAL;
	snprintf(c->bank, sizeof(c->bank), "%s", strcmp(val, "auto") ? val : "");
	return 0;
}

static int set_bool(bool *b, const char *val)
{
	if (!strcmp(val, "yes") || !strcmp(val, "true") || !strcmp(val, "1"))
		*b = true;
	else if (!strcmp(val, "no") || !strcmp(val, "false") || !strcmp(val, "0"))
		*b = false;
	else
		return -EINVAL;
	return 0;
}

/* The kernel wants a power of 2 and at least a page. */
static int set_ringbuf_size(struct dconfig *c, const char *val)
{
	uint64_t v;

	if (parse_u64(val, &v) || v < 4096 || v > (1ull << 30) || (v & (v - 1)))
		return -EINVAL;
	c->ringbuf_size = v;
	return 0;
}

static int set_level(struct dconfig *c, const char *val)
{
	static const char *const names[] = { "err", "warning", "notice", "info", "debug" };

	for (int i = 0; i < 5; i++)
		if (!strcmp(val, names[i])) {
			c->log_level = LOG_P_ERR + i;
			return 0;
		}
	return -EINVAL;
}

/* Keys as in the file; the command line uses the same with '-'. */
static int apply(struct dconfig *c, const char *key, const char *val)
{
	if (!strcmp(key, "store")) {
		if (!*val)
			return -EINVAL;
		snprintf(c->store, sizeof(c->store), "%s", val);
		return 0;
	}
	if (!strcmp(key, "interval"))
		return parse_ms(val, &c->interval_ms);
	if (!strcmp(key, "latency"))
		return parse_ms(val, &c->latency_ms);
	if (!strcmp(key, "trim_records"))
		return parse_u64(val, &c->trim_records) || !c->trim_records ? -EINVAL : 0;
	if (!strcmp(key, "trim_bytes"))
		return parse_u64(val, &c->trim_bytes);
	if (!strcmp(key, "keep"))
		/* the kept records anchor the kernel's list to the store (§3) */
		return parse_u64(val, &c->keep) || !c->keep ? -EINVAL : 0;
	if (!strcmp(key, "bank"))
		return set_bank(c, val);
	if (!strcmp(key, "flavor"))
		return set_flavor(c, val);
	if (!strcmp(key, "insecure"))
		return set_bool(&c->insecure, val);
	if (!strcmp(key, "log_level"))
		return set_level(c, val);
	if (!strcmp(key, "bpf"))
		return set_bool(&c->bpf, val);
	if (!strcmp(key, "ringbuf_size"))
		return set_ringbuf_size(c, val);
	if (!strcmp(key, "tail_socket"))
		return set_tail_socket(c, val);
	if (!strcmp(key, "view"))
		return set_view(c, val);
	if (!strcmp(key, "dump_records")) {
		snprintf(c->dump_records, sizeof(c->dump_records), "%s", val);
		return 0;
	}
	return -ENOENT;
}

int dconfig_set(struct dconfig *c, const char *key, const char *val,
		struct errmsg *em)
{
	char k[64];
	size_t i;
	int ret;

	for (i = 0; key[i] && i < sizeof(k) - 1; i++)
		k[i] = key[i] == '-' ? '_' : key[i];
	k[i] = '\0';
	ret = apply(c, k, val);
	if (ret == -ENOENT)
		return errmsg_set(em, -EINVAL, "unknown setting '%s'", key);
	if (ret)
		return errmsg_set(em, -EINVAL, "bad value '%s' for %s", val, key);
	return 0;
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* "key = value" lines; '#' starts a comment; blank lines are fine. */
static int load_file(struct dconfig *c, const char *path, bool must_exist,
		     struct errmsg *em)
{
	char line[512], *p, *eq;
	unsigned lineno = 0;
	FILE *f;
	int ret = 0;

	f = fopen(path, "re");
	if (!f) {
		if (errno == ENOENT && !must_exist)
			return 0;
		return errmsg_set(em, -errno, "%s: %s", path, strerror(errno));
	}
	while (!ret && fgets(line, sizeof(line), f)) {
		lineno++;
		p = strchr(line, '#');
		if (p)
			*p = '\0';
		p = trim(line);
		if (!*p)
			continue;
		eq = strchr(p, '=');
		if (!eq) {
			ret = errmsg_set(em, -EINVAL, "%s:%u: expected key = value", path, lineno);
			break;
		}
		*eq = '\0';
		ret = dconfig_set(c, trim(p), trim(eq + 1), em);
		if (ret)
			errmsg_prefix(em, "%s:%u", path, lineno);
	}
	fclose(f);
	return ret;
}

void dconfig_usage(FILE *f, const char *prog)
{
	fprintf(f,
"Usage: %s [OPTIONS]\n"
"\n"
"Move IMA measurement records from the kernel's list into the store, then\n"
"delete them from the kernel (imastored(8), docs/trimming.md).\n"
"\n"
"  -c, --config FILE       config file (default " DCONFIG_DEFAULT_PATH ")\n"
"  -s, --store DIR         the store (default " STORE_DEFAULT_DIR ")\n"
"      --interval MS       a cycle at least every MS ms (default 10000)\n"
"      --latency MS        poll runtime_measurements_count every MS ms (1000;\n"
"                          without BPF only, see --no-bpf)\n"
"      --trim-records T    delete once the kernel holds keep + T records (1000)\n"
"      --trim-bytes B      ... or its list is B bytes or more (default off)\n"
"      --keep K            newest records left in the kernel, >= 1 (16)\n"
"      --bank ALG          bank to store (default the strongest listed)\n"
"      --flavor F          auto (default: N, or AD with ima_flush_htable), N,\n"
"                          AD (stage with A, delete with D) or mirror (never\n"
"                          delete)\n"
"      --once              one cycle, then exit\n"
"      --foreground        do not detach (systemd runs it so)\n"
"      --insecure          accept loose store permissions\n"
"      --log-level L       err, warning, notice, info (default), debug\n"
"      --no-bpf            poll runtime_measurements_count, no BPF wake-up\n"
"      --ringbuf-size B    BPF ring buffer bytes, a power of 2 (1048576)\n"
"      --tail-socket PATH  serve the live stream (imastore tail) there, or\n"
"                          'none' (default " TAIL_SOCKET_DEFAULT ")\n"
"      --view DIR          serve the complete list as files there (FUSE,\n"
"                          docs/view.md), or 'none' (default " DCONFIG_VIEW_DEFAULT ")\n"
"      --dump-records FILE write the BPF records to FILE as a binary list\n"
"                          (a test aid; the store never depends on them)\n"
"  -h, --help              this help\n"
"\n"
"SIGTERM finishes the cycle under way and exits 0; SIGHUP reloads the\n"
"configuration. Command-line options override the file.\n"
"\n"
"Exit status: 0 stopped by SIGTERM (or --once done), 1 a fatal error (no IMA,\n"
"the store locked by another imastored or unusable), 2 bad usage.\n", prog);
}

static const struct option longopts[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "store", required_argument, NULL, 's' },
	{ "interval", required_argument, NULL, 1 },
	{ "latency", required_argument, NULL, 1 },
	{ "trim-records", required_argument, NULL, 1 },
	{ "trim-bytes", required_argument, NULL, 1 },
	{ "keep", required_argument, NULL, 1 },
	{ "bank", required_argument, NULL, 1 },
	{ "flavor", required_argument, NULL, 1 },
	{ "log-level", required_argument, NULL, 1 },
	{ "ringbuf-size", required_argument, NULL, 1 },
	{ "dump-records", required_argument, NULL, 1 },
	{ "tail-socket", required_argument, NULL, 1 },
	{ "view", required_argument, NULL, 1 },
	{ "no-bpf", no_argument, NULL, 'B' },
	{ "once", no_argument, NULL, 'o' },
	{ "foreground", no_argument, NULL, 'f' },
	{ "insecure", no_argument, NULL, 'I' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* Pass 1: only --config; pass 2: everything else, over the file's values. */
static int parse_args(struct dconfig *c, int argc, char **argv, bool pass2,
		      struct errmsg *em)
{
	int opt, idx, ret;

	optind = 0;	/* GNU: full re-initialisation, argv is parsed again */
	opterr = pass2;
	while ((opt = getopt_long(argc, argv, "c:s:h", longopts, &idx)) != -1) {
		ret = 0;
		if (opt == 'c' && !pass2) {
			snprintf(c->config_path, sizeof(c->config_path), "%s", optarg);
			continue;
		}
		if (!pass2)
			continue;
		switch (opt) {
		case 'c': break;
		case 's': ret = dconfig_set(c, "store", optarg, em); break;
		case 1: ret = dconfig_set(c, longopts[idx].name, optarg, em); break;
		case 'o': c->once = true; break;
		case 'f': c->foreground = true; break;
		case 'I': c->insecure = true; break;
		case 'B': c->bpf = false; break;
		case 'h': dconfig_usage(stdout, argv[0]); return 1;
		default: return errmsg_set(em, -EINVAL, "bad usage (see --help)");
		}
		if (ret)
			return ret;
	}
	if (pass2 && optind < argc)
		return errmsg_set(em, -EINVAL, "unexpected argument '%s'", argv[optind]);
	return 0;
}

int dconfig_load(struct dconfig *c, int argc, char **argv, struct errmsg *em)
{
	int ret;

	dconfig_defaults(c);
	ret = parse_args(c, argc, argv, false, em);
	if (!ret)
		ret = load_file(c, c->config_path,
				strcmp(c->config_path, DCONFIG_DEFAULT_PATH) != 0, em);
	if (!ret)
		ret = parse_args(c, argc, argv, true, em);
	return ret;
}
