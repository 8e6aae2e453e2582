// SPDX-License-Identifier: GPL-2.0-only
/* imastore tail: print imastored's live stream (docs/tail.md). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "tail_format.h"

static void tail_usage(FILE *f)
{
	fprintf(f,
"Usage: %s tail [OPTIONS]\n"
"\n"
"Print IMA measurement records as the kernel makes them, from the live\n"
"stream of a running imastored: first the newest records it saw, then, with\n"
"--follow, every new record until interrupted. One record a line:\n"
"  TIME SEQ PCR TEMPLATE TEMPLATE-DIGEST FILE-DIGEST PATH [buf:HEX] [truncated]\n"
"TIME is when the kernel measured (UTC); SEQ counts records since imastored\n"
"started (with polling: the record's index in the boot's list). A record\n"
"whose template data is over 1,024 bytes is cut and marked: the store and\n"
"'imastore export' have it whole. Any number of consumers may follow; one\n"
"that reads too slowly is dropped, never imastored slowed.\n"
"\n"
"Options:\n"
"  -f, --follow            keep printing new records\n"
"  -n, --lines N           begin with the N newest records imastored saw,\n"
"                          0 to %d (default 10)\n"
"  -j, --json              JSON lines (see imastore(1), JSON OUTPUT)\n"
"  -S, --socket PATH       imastored's socket (default $IMASTORE_TAIL_SOCKET,\n"
"                          else " TAIL_SOCKET_DEFAULT ")\n"
"  -h, --help              this help\n"
"\n"
"Exit status: 0 success (also when imastored stops), 2 error: no imastored,\n"
"or the stream broke off (this consumer fell too far behind).\n",
		prog, TAIL_BACKLOG);
}

static int tail_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		cli_err("%s: longer than a socket path may be", path);
		return -1;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		cli_err("socket: %s", strerror(errno));
		return -1;
	}
	if (!connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
		return fd;
	if (errno == ENOENT || errno == ECONNREFUSED)
		cli_err("no live stream at %s (%s): is imastored running? (its tail_socket setting names the socket)",
			path, strerror(errno));
	else if (errno == EACCES)
		cli_err("%s: %s (the live stream is root's, like the kernel's lists)", path,
			strerror(errno));
	else
		cli_err("%s: %s", path, strerror(errno));
	close(fd);
	return -1;
}

static int send_request(int fd, bool json, unsigned lines, bool follow)
{
	char req[96];
	int n = snprintf(req, sizeof(req), "format=%s backlog=%u follow=%d\n",
			 json ? "json" : "text", lines, follow);

	if (send(fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
		cli_err("sending the request: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* The lines after "ok": records, and "end: ..." when imastored stops. */
static int copy_stream(FILE *in, bool follow)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int ret = EXIT_MATCH;

	while ((n = getline(&line, &cap, in)) > 0) {
		if (!strncmp(line, "end:", 4)) {
			cli_err("imastored stopped the live stream");
			goto out;
		}
		if (!strncmp(line, "error:", 6)) {
			cli_err("imastored: %.*s", (int)(n - 8), line + 7);
			ret = EXIT_ERROR;
			goto out;
		}
		if (fwrite(line, 1, (size_t)n, stdout) != (size_t)n)
			break;
	}
	if (ferror(in)) {
		cli_err("reading the live stream: %s", strerror(errno));
		ret = EXIT_ERROR;
	} else if (follow) {
		cli_err("the live stream broke off: imastored dropped this consumer (it fell more than 256 KiB behind), stopped while it was still behind, or was killed");
		ret = EXIT_ERROR;
	}
out:
	free(line);
	if (fflush(stdout) || ferror(stdout)) {
		cli_err("standard output: %s", strerror(errno));
		ret = EXIT_ERROR;
	}
	return ret;
}

static int parse_lines(const char *arg, unsigned *lines)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(arg, &end, 10);
	if (errno || end == arg || *end || v > TAIL_BACKLOG || arg[0] == '-') {
		cli_err("--lines: a number from 0 to %d, not '%s'", TAIL_BACKLOG, arg);
		return -1;
	}
	*lines = (unsigned)v;
	return 0;
}

int cmd_tail(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "follow", no_argument, NULL, 'f' },
		{ "lines", required_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "socket", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = getenv("IMASTORE_TAIL_SOCKET");
	bool follow = false, json = false;
	unsigned lines = 10;
	char *hello = NULL;
	size_t cap = 0;
	FILE *in = NULL;
	int opt, fd, ret = EXIT_ERROR;

	while ((opt = getopt_long(argc, argv, "fn:jS:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'f':
			follow = true;
			break;
		case 'n':
			if (parse_lines(optarg, &lines))
				return cli_usage_error("tail");
			break;
		case 'j':
			json = cli_json = true;
			break;
		case 'S':
			path = optarg;
			break;
		case 'h':
			tail_usage(stdout);
			return EXIT_MATCH;
		default:
			return cli_usage_error("tail");
		}
	}
	if (optind < argc) {
		cli_err("tail takes no arguments");
		return cli_usage_error("tail");
	}
	if (!path || !*path)
		path = TAIL_SOCKET_DEFAULT;
	fd = tail_connect(path);
	if (fd < 0)
		return EXIT_ERROR;
	if (send_request(fd, json, lines, follow))
		goto out;
	in = fdopen(fd, "r");
	if (!in) {
		cli_err("fdopen: %s", strerror(errno));
		goto out;
	}
	fd = -1;
	if (getline(&hello, &cap, in) <= 0) {
		cli_err("%s: imastored closed the connection without an answer", path);
		goto out;
	}
	if (strncmp(hello, "ok", 2)) {
		hello[strcspn(hello, "\n")] = '\0';
		cli_err("imastored: %s", !strncmp(hello, "error: ", 7) ? hello + 7 : hello);
		goto out;
	}
	if (follow)
		setvbuf(stdout, NULL, _IOLBF, 0);	/* pipelines see each record */
	ret = copy_stream(in, follow);
out:
	free(hello);
	if (in)
		fclose(in);
	if (fd >= 0)
		close(fd);
	return ret;
}
