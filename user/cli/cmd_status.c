// SPDX-License-Identifier: GPL-2.0-only
/* imastore status: what the store holds per chain, and imastored's last word. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <dirent.h>
#include <unistd.h>

#include "chain_replay.h"
#include "cli.h"
#include "commands.h"
#include "json.h"
#include "store.h"

static void status_usage(FILE *f)
{
	fprintf(f,
"Usage: %s status [OPTIONS]\n"
"\n"
"What the store holds, per chain (one chain per TPM reset; kexec boots join\n"
"the chain they continue): records, bytes on disk, first and last record\n"
"index, the last checkpoint, the boots and where each one's list started,\n"
"and the free space of the store's filesystem.\n"
"\n"
"Options:\n"
STORE_OPTS_HELP
"  -j, --json              one JSON object\n"
"  -h, --help              this help\n"
"\n"
"Exit status: 0 success, 2 error.\n", prog);
}

struct chain_info {
	uint64_t records, bytes, checkpoint;
	bool have_checkpoint;
};

static uint64_t dir_bytes(const char *dir, const char *chain)
{
	char path[4096];
	struct dirent *de;
	struct stat st;
	uint64_t sum = 0;
	DIR *d;

	snprintf(path, sizeof(path), "%s/chains/%s", dir, chain);
	d = opendir(path);
	if (!d)
		return 0;
	while ((de = readdir(d)))
		if (!fstatat(dirfd(d), de->d_name, &st, 0) && S_ISREG(st.st_mode))
			sum += (uint64_t)st.st_blocks * 512;
	closedir(d);
	return sum;
}

static void print_chain(const struct chain_meta *m, const struct chain_info *ci,
			bool json, bool first)
{
	if (json) {
		printf("%s{\"chain\":", first ? "" : ",");
		json_cstring(stdout, m->chain);
		printf(",\"bank\":\"%s\",\"records\":%llu,\"bytes\":%llu,",
		       m->bank->name, (unsigned long long)ci->records,
		       (unsigned long long)ci->bytes);
		if (ci->records)
			printf("\"first_index\":0,\"last_index\":%llu,",
			       (unsigned long long)ci->records - 1);
		else
			printf("\"first_index\":null,\"last_index\":null,");
		if (ci->have_checkpoint)
			printf("\"checkpoint\":%llu,", (unsigned long long)ci->checkpoint);
		else
			printf("\"checkpoint\":null,");
		printf("\"created\":%llu,\"boots\":[", (unsigned long long)m->created);
		for (unsigned i = 0; i < m->nboots; i++) {
			printf("%s{\"boot\":", i ? "," : "");
			json_cstring(stdout, m->boots[i].id);
			printf(",\"first_index\":%llu}", (unsigned long long)m->boots[i].first_index);
		}
		printf("]}");
		return;
	}
	printf("chain %s (%s bank)\n", m->chain, m->bank->name);
	if (m->created) {
		char when[96];

		cli_time_text(m->created, when, sizeof(when));
		printf("  created     %s\n", when);
	}
	printf("  records     %llu", (unsigned long long)ci->records);
	if (ci->records)
		printf(" (index 0..%llu)", (unsigned long long)ci->records - 1);
	printf("\n  bytes       %llu\n", (unsigned long long)ci->bytes);
	if (ci->have_checkpoint)
		printf("  checkpoint  at record %llu\n", (unsigned long long)ci->checkpoint);
	else
		printf("  checkpoint  none\n");
	for (unsigned i = 0; i < m->nboots; i++)
		printf("  boot        %s from record %llu\n", m->boots[i].id,
		       (unsigned long long)m->boots[i].first_index);
}

/* imastored's status file: key=value lines, shown as they are. */
static void print_daemon(struct store *s, bool json)
{
	char buf[4096], *save = NULL;
	bool first = true;

	if (store_status_read(s, buf, sizeof(buf))) {
		if (json)
			printf("],\"daemon\":null");
		else
			printf("imastored: no status (it never ran on this store)\n");
		return;
	}
	printf(json ? "],\"daemon\":{" : "imastored (last cycle):\n");
	for (char *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char *eq = strchr(l, '=');

		if (!eq)
			continue;
		*eq = '\0';
		if (json) {
			printf("%s", first ? "" : ",");
			json_cstring(stdout, l);
			putchar(':');
			json_cstring(stdout, eq + 1);
		} else if (!strcmp(l, "time") && eq[1]) {
			char when[96];

			cli_time_text(strtoull(eq + 1, NULL, 10), when, sizeof(when));
			printf("  %-18s %s\n", l, when);
		} else {
			printf("  %-18s %s\n", l, eq + 1);
		}
		first = false;
	}
	if (json)
		putchar('}');
}

int cmd_status(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "store", required_argument, NULL, 's' },
		{ "insecure", no_argument, NULL, 'I' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = NULL;
	char (*ids)[STORE_ID_MAX] = NULL;
	struct errmsg em = { "" };
	struct store *s = NULL;
	struct statvfs vfs;
	unsigned flags = 0;
	bool json = false;
	size_t n = 0;
	int opt, ret = EXIT_ERROR;

	while ((opt = getopt_long(argc, argv, "s:jh", longopts, NULL)) != -1) {
		switch (opt) {
		case 's': dir = optarg; break;
		case 'I': flags |= STORE_INSECURE; break;
		case 'j': json = cli_json = true; break;
		case 'h': status_usage(stdout); return EXIT_MATCH;
		default: return cli_usage_error("status");
		}
	}
	if (optind < argc) {
		cli_err("status takes no arguments ('%s')", argv[optind]);
		return cli_usage_error("status");
	}
	dir = cli_store_dir(dir);
	if (cli_store_open(dir, flags, &s))
		return EXIT_ERROR;
	if (store_chain_list(s, &ids, &n, &em)) {
		cli_err("%s", errmsg_text(&em));
		goto out;
	}
	if (statvfs(dir, &vfs)) {
		cli_err("%s: %s", dir, strerror(errno));
		goto out;
	}
	if (json) {
		printf("{\"version\":1,\"store\":");
		json_cstring(stdout, dir);
		printf(",\"free_bytes\":%llu,\"chains\":[",
		       (unsigned long long)vfs.f_bavail * vfs.f_frsize);
	} else {
		printf("store %s: %llu bytes free, %zu chain%s\n", dir,
		       (unsigned long long)vfs.f_bavail * vfs.f_frsize, n, n == 1 ? "" : "s");
	}
	for (size_t i = 0; i < n; i++) {
		struct chain_info ci = { 0 };
		struct replay_state st;
		struct chain *c;

		if (store_chain_open_name(s, ids[i], &c, &em)) {
			cli_err("%s", errmsg_text(&em));
			goto out;
		}
		ci.records = chain_durable(c);
		ci.bytes = dir_bytes(dir, ids[i]);
		if (!chain_checkpoint_find(c, UINT64_MAX, &st, NULL)) {
			ci.have_checkpoint = true;
			ci.checkpoint = st.next_index;
		}
		print_chain(chain_meta(c), &ci, json, i == 0);
		chain_close(c);
	}
	print_daemon(s, json);
	if (json)
		printf("}\n");
	ret = EXIT_MATCH;
out:
	free(ids);
	store_close(s);
	return ret;
}
