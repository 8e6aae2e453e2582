/* SPDX-License-Identifier: GPL-2.0-only */
/* What every imastore command shares: exit codes, errors, list and store options, progress. */
#ifndef IMASTORE_CLI_H
#define IMASTORE_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "list_reader.h"

/* Exit codes, the same for every subcommand (imastore(1), EXIT STATUS). */
enum {
	EXIT_MATCH = 0,		/* success; for verify: the list matches */
	EXIT_MISMATCH = 1,	/* verify: mismatch, named in the output */
	EXIT_ERROR = 2,		/* bad usage, unreadable input, no TPM, ... */
};

extern const char *prog;
/* --json: errors go to stderr as one JSON object a line, {"error":"..."} */
extern bool cli_json;

__attribute__((format(printf, 1, 2)))
void cli_err(const char *fmt, ...);

/* Options every command that reads a list takes (see LIST_OPTS_HELP). */
#define LIST_LONGOPTS \
	{ "bank", required_argument, NULL, 'b' }, \
	{ "template-fmt", required_argument, NULL, 'T' }, \
	{ "format", required_argument, NULL, 'F' }, \
	{ "endian", required_argument, NULL, 'E' }
#define LIST_OPTS_HELP \
"  -b, --bank ALG          bank of the list: sha1, sha256, sha384, sha512, sm3,\n" \
"                          tpm_alg_<hex> (default: from the file name, else from\n" \
"                          the first record)\n" \
"  -T, --template-fmt FMT  fields of a template that is neither built in nor\n" \
"                          named by its format (the kernel names an\n" \
"                          ima_template_fmt= template 'd-ng|n-ng|...' itself)\n" \
"  -F, --format FMT        input format: binary, ascii or auto (default auto)\n" \
"  -E, --endian ORDER      u32 byte order of a binary list: host, little (the\n" \
"                          kernel's ima_canonical_fmt), big or auto (default)\n"

/* 1 if opt was a list option (parsed into o), 0 if not, -1 on a bad value. */
int cli_list_opt(int opt, const char *arg, struct list_reader_opts *o);

/* Open a list file ("-" = standard input). */
int cli_open_list(const char *path, const struct list_reader_opts *base,
		  int *fd, struct list_reader **r);
void cli_close_list(int fd, struct list_reader *r);

/* Store options shared by export, import, status, fsck, verify --store. */
#define STORE_OPTS_HELP \
"  -s, --store DIR         the store (default $IMASTORE_STORE, else\n" \
"                          /var/lib/imastore)\n" \
"      --insecure          open a store with looser ownership/permissions\n"
const char *cli_store_dir(const char *opt);

struct store;
int cli_store_open(const char *dir, unsigned flags, struct store **s);

/*
 * Progress of a long operation on standard error, only when that is a
 * terminal, at most a few times a second.
 */
struct progress {
	bool on;
	const char *what;
	uint64_t total;		/* 0: unknown */
	uint64_t last_ns;
};
void progress_start(struct progress *p, const char *what, uint64_t total);
void progress_update(struct progress *p, uint64_t done);
void progress_done(struct progress *p);

/* "s" unless n is 1: "%llu record%s", n, PLURAL(n) */
#define PLURAL(n) ((n) == 1 ? "" : "s")

/*
 * A Unix time for a human: "2026-11-29T17:26:27Z (3 min ago)" (UTC, then
 * the age against now; "in the future" if it is ahead).
 */
void cli_time_text(uint64_t t, char *out, size_t len);

/* "-h" / unknown option handling shared by the commands. */
int cli_usage_error(const char *cmd);

#endif
