// SPDX-License-Identifier: GPL-2.0-only
/*
 * imastored's main(): moves IMA measurement records from the kernel's list
 * into the store and deletes them from the kernel (docs/trimming.md,
 * docs/imastored.8.scd). The rest is libimastored.a (daemon.h).
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"
#include "notify.h"

int main(int argc, char **argv)
{
	static struct daemon dm;	/* large (config paths, chain state) */
	struct errmsg em = { "" };
	int ret;

	dm.argc = argc;
	dm.argv = argv;
	dm.sigfd = -1;
	dm.tail.lfd = -1;
	ret = dconfig_load(&dm.cfg, argc, argv, &em);
	if (ret) {
		if (ret < 0)
			dlog(LOG_P_ERR, "%s", errmsg_text(&em));
		return ret < 0 ? 2 : 0;
	}
	dlog_set_level(dm.cfg.log_level);
	sigemptyset(&dm.sigs);
	sigaddset(&dm.sigs, SIGTERM);
	sigaddset(&dm.sigs, SIGINT);
	sigaddset(&dm.sigs, SIGHUP);
	sigprocmask(SIG_BLOCK, &dm.sigs, NULL);
	ret = daemon_setup(&dm);
	if (!ret && !dm.cfg.foreground && !dm.cfg.once) {
		if (daemon(0, 1)) {
			dlog(LOG_P_ERR, "daemon: %s", strerror(errno));
			ret = -errno;
		} else {
			store_lock_note_pid(dm.s);	/* the lock names the daemon, not its parent */
		}
	}
	if (!ret)
		ret = daemon_loop(&dm);
	notify("STOPPING=1");
	daemon_free(&dm);
	return ret ? 1 : 0;
}
