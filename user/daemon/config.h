/* SPDX-License-Identifier: GPL-2.0-only */
/* imastored's configuration: defaults, the config file, the command line, SIGHUP's reload. */
#ifndef IMASTORED_CONFIG_H
#define IMASTORED_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "errmsg.h"

#define DCONFIG_DEFAULT_PATH "/etc/imastore/imastored.conf"
#define DCONFIG_VIEW_DEFAULT "/run/imastore/ima"	/* docs/view.md */

enum dflavor {
	DFLAVOR_AUTO,		/* trimming.md §2 */
	DFLAVOR_N,		/* delete with "N\n" on the original list */
	DFLAVOR_MIRROR,		/* store everything, delete nothing */
	DFLAVOR_AD,		/* stage with "A", delete with "D" (trimming.md §5) */
};

/*
 * Everything the daemon can be told, from the config file (key = value) and
 * then the command line, which wins. Reloaded as a whole on SIGHUP.
 */
struct dconfig {
	char config_path[PATH_MAX];
	char store[PATH_MAX];
	unsigned interval_ms;	/* a cycle at least this often */
	unsigned latency_ms;	/* runtime_measurements_count polled this often */
	uint64_t trim_records;	/* delete once the kernel holds keep + this many */
	uint64_t trim_bytes;	/* ... or its list is this large (0: off) */
	uint64_t keep;		/* newest records left in the kernel, >= 1 */
	char bank[32];		/* stored bank; "" strongest the kernel lists */
	enum dflavor flavor;
	bool once, foreground, insecure;
	int log_level;
	bool bpf;		/* wake on the BPF ring buffer (docs/bpf.md) */
	uint64_t ringbuf_size;	/* its size in bytes, a power of 2 */
	char dump_records[PATH_MAX];	/* test aid: records as a binary list */
	char tail_socket[108];	/* the live stream (docs/tail.md); "" off */
	char view[PATH_MAX];	/* the view's mount point (docs/view.md); "" off */
};

void dconfig_defaults(struct dconfig *c);
/* One "key = value" setting (keys as in the file, '-' or '_'). */
int dconfig_set(struct dconfig *c, const char *key, const char *val,
		struct errmsg *em);
/* Defaults, then the config file, then the command line. 1: --help shown. */
int dconfig_load(struct dconfig *c, int argc, char **argv, struct errmsg *em);
void dconfig_usage(FILE *f, const char *prog);
const char *dflavor_name(enum dflavor f);

#endif
