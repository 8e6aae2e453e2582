// SPDX-License-Identifier: GPL-2.0-only
/* imastore mount: serve a stored boot's complete list as files (docs/view.md). */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "store.h"
#include "view.h"

static void mount_usage(FILE *f)
{
	fprintf(f,
"Usage: %s mount [OPTIONS] MOUNTPOINT\n"
"\n"
"Serve a stored boot's complete measurement list read-only at MOUNTPOINT,\n"
"with the files of securityfs's IMA directory: binary_ and\n"
"ascii_runtime_measurements_<alg> for every bank, the legacy names (links\n"
"to the sha1 files), runtime_measurements_count and violations. The files\n"
"follow the chain while imastored appends to it. Unmount with\n"
"'umount MOUNTPOINT' or SIGTERM. imastored serves the running boot itself,\n"
"with the kernel's newest records (the 'view' setting, /run/imastore/ima).\n"
"\n"
"Options:\n"
STORE_OPTS_HELP
"  -B, --boot ID           boot id, chain id or 'current' (default current)\n"
"  -f, --foreground        stay in the foreground (default: detach once mounted)\n"
"  -h, --help              this help\n"
"\n"
"Exit status: 0 unmounted cleanly, 2 error (no /dev/fuse, no such boot, the\n"
"mount point missing or busy).\n", prog);
}

struct mount_opts {
	const char *store, *boot, *mountpoint;
	unsigned flags;
	bool foreground;
};

static int mount_args(struct mount_opts *o, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "store", required_argument, NULL, 's' },
		{ "insecure", no_argument, NULL, 'I' },
		{ "boot", required_argument, NULL, 'B' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	o->boot = "current";
	while ((opt = getopt_long(argc, argv, "s:B:fh", longopts, NULL)) != -1) {
		switch (opt) {
		case 's': o->store = optarg; break;
		case 'I': o->flags |= STORE_INSECURE; break;
		case 'B': o->boot = optarg; break;
		case 'f': o->foreground = true; break;
		case 'h': mount_usage(stdout); return 1;
		default: return -1;
		}
	}
	if (optind + 1 != argc) {
		cli_err(optind < argc ? "mount takes one mount point ('%s' too many)" :
			"mount: no mount point given%s", optind < argc ? argv[optind + 1] : "");
		return -1;
	}
	o->mountpoint = argv[optind];
	return 0;
}

static struct view *the_view;

static void on_signal(int sig)
{
	(void)sig;
	if (the_view)
		view_stop(the_view);
}

static void note_stderr(void *arg, int prio, const char *msg)
{
	(void)arg;
	(void)prio;
	cli_err("%s", msg);
}

static void catch_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

int cmd_mount(int argc, char **argv)
{
	struct mount_opts o = { 0 };
	struct view_opts vo = { 0 };
	struct errmsg em = { "" };
	int r;

	r = mount_args(&o, argc, argv);
	if (r)
		return r > 0 ? EXIT_MATCH : cli_usage_error("mount");
	vo.store_dir = cli_store_dir(o.store);
	vo.store_flags = o.flags;
	vo.boot = o.boot;
	vo.mountpoint = o.mountpoint;
	vo.note = note_stderr;
	if (view_open(&the_view, &vo, &em)) {
		cli_err("%s", errmsg_text(&em));
		return EXIT_ERROR;
	}
	catch_signals();
	if (!o.foreground && daemon(0, 0)) {
		cli_err("daemon: %s", strerror(errno));
		view_close(the_view);
		return EXIT_ERROR;
	}
	r = view_run(the_view);
	if (r)
		cli_err("%s: %s", o.mountpoint, strerror(-r));
	view_close(the_view);
	the_view = NULL;
	return r ? EXIT_ERROR : EXIT_MATCH;
}
