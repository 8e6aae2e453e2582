// SPDX-License-Identifier: GPL-2.0-only
/* imastore: inspect, convert and verify IMA measurement lists. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"

#ifndef IMASTORE_VERSION
#define IMASTORE_VERSION "0.1"
#endif

struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
};

static const struct cmd cmds[] = {
	{ "show",    cmd_show,    "print a measurement list, one record a line" },
	{ "verify",  cmd_verify,  "replay a list against the TPM's or saved PCRs" },
	{ "convert", cmd_convert, "convert a list between binary and ASCII" },
	{ "export",  cmd_export,  "write a boot's complete list from the store" },
	{ "import",  cmd_import,  "append saved list files to the store" },
	{ "status",  cmd_status,  "what the store holds, per boot" },
	{ "fsck",    cmd_fsck,    "check the store's structure and replay" },
	{ "tail",    cmd_tail,    "follow records live, as imastored sees them" },
	{ "mount",   cmd_mount,   "serve a stored boot's list as files (FUSE)" },
};

static void usage(FILE *f)
{
	fprintf(f,
"Usage: %s COMMAND [OPTIONS] [ARGS]\n"
"\n"
"imastore keeps and checks Linux IMA measurement lists.\n"
"\n"
"Commands:\n", prog);
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %-9s %s\n", cmds[i].name, cmds[i].summary);
	fprintf(f,
"\n"
"Run '%s COMMAND --help' for a command's options; see imastore(1).\n"
"\n"
"Exit status: 0 success (verify: match), 1 verify: mismatch, 2 error.\n",
		prog);
}

int main(int argc, char **argv)
{
	/* tpm2-tss logs every failed TCTI probe; our messages say what matters */
	setenv("TSS2_LOG", "all+NONE", 0);
	if (argc < 2) {
		usage(stderr);
		return EXIT_ERROR;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
	    !strcmp(argv[1], "help")) {
		usage(stdout);
		return EXIT_MATCH;
	}
	if (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version") ||
	    !strcmp(argv[1], "version")) {
		printf("imastore %s\n", IMASTORE_VERSION);
		return EXIT_MATCH;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		char name[64];

		if (strcmp(argv[1], cmds[i].name))
			continue;
		/* getopt names argv[0] in its messages: "imastore tail: ..." */
		snprintf(name, sizeof(name), "%s %s", prog, cmds[i].name);
		argv[1] = name;
		return cmds[i].fn(argc - 1, argv + 1);
	}
	cli_err("unknown command '%s'", argv[1]);
	usage(stderr);
	return EXIT_ERROR;
}
