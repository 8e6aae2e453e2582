// SPDX-License-Identifier: GPL-2.0-only
/* The daemon's side of the view (docs/view.md): start, a cycle for readers at the end, stop. */
#include <errno.h>
#include <string.h>

#include "daemon.h"
#include "kernel_ops.h"
#include "log.h"
#include "view_serve.h"

static void view_note(void *arg, int prio, const char *msg)
{
	(void)arg;
	dlog(prio, "%s", msg);
}

/* After the first cycle (the boot's chain exists); runs on without it. */
void daemon_view_start(struct daemon *dm)
{
	struct view_opts vo = {
		.store_dir = dm->cfg.store,
		.store_flags = dm->cfg.insecure ? STORE_INSECURE : 0,
		.boot = dm->boot,
		.mountpoint = dm->cfg.view,
		.create_mountpoint = true,
		.note = view_note,
	};
	struct errmsg em = { "" };
	int ret;

	if (dm->cfg.once || !dm->cfg.view[0])
		return;
	ret = view_server_start(&dm->view, &vo, &em);
	if (ret) {
		dm->view = NULL;
		dlog(ret == -ENODEV ? LOG_P_NOTICE : LOG_P_WARNING, "view off: %s", errmsg_text(&em));
		return;
	}
	dlog(LOG_P_INFO, "view: the complete list of chain %s as files in %s (reads at the end wait for a cycle)",
	     chain_meta(dm->d.c)->chain, dm->cfg.view);
}

/* A cycle; readers of the view that asked before it get its result. */
int daemon_view_cycle(struct daemon *dm, int (*cycle)(struct daemon *dm))
{
	uint64_t t = 0;
	int ret;

	dm->view_wants = false;
	if (dm->view)
		t = view_server_begin(dm->view);
	ret = cycle(dm);
	if (dm->view)
		view_server_end(dm->view, t, ret, chain_meta(dm->d.c)->chain);
	return ret;
}

void daemon_view_stop(struct daemon *dm)
{
	struct view_server_counts vc;

	if (!dm->view)
		return;
	view_server_counts(dm->view, &vc);
	dlog(LOG_P_INFO, "view: %llu opens, %llu reads, %llu bytes, %llu errors; %llu reads at the end waited for %llu cycles; list opens that met EBUSY: %llu",
	     (unsigned long long)vc.fs.opens, (unsigned long long)vc.fs.reads,
	     (unsigned long long)vc.fs.bytes, (unsigned long long)vc.fs.errors,
	     (unsigned long long)vc.asked, (unsigned long long)vc.cycles,
	     (unsigned long long)kernel_busy_opens);
	view_server_stop(dm->view);
	dm->view = NULL;
}
