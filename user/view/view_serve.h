/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef IMASTORE_VIEW_SERVE_H
#define IMASTORE_VIEW_SERVE_H

#include <stdbool.h>
#include <stdint.h>

#include "view.h"

/*
 * imastored's view (docs/view.md §fresh): the FUSE file system served from
 * a thread of its own, whose reads at the end of a list ask the daemon's
 * loop for a drain cycle and wait for it. The loop stays the only one that
 * touches the kernel's lists:
 *
 *	poll(..., view_server_fd(vs), ...)
 *	if (view_server_take(vs)) {		// a reader waits
 *		uint64_t t = view_server_begin(vs);
 *		ret = drain_cycle(...);
 *		view_server_end(vs, t, ret, chain_id);
 *	}
 */
struct view_server;

/* view_open() (o->fresh is set here) and the serving thread. */
int view_server_start(struct view_server **out, const struct view_opts *o,
		      struct errmsg *em);
/* Readable when a reader waits for a drain cycle. */
int view_server_fd(const struct view_server *vs);
/* Clears the fd; true while a reader waits for a cycle not yet begun. */
bool view_server_take(struct view_server *vs);
/* Right before a drain cycle: the requests it will answer. */
uint64_t view_server_begin(struct view_server *vs);
/*
 * After the cycle: its result for the readers that asked before it began.
 * `chain` is the chain the daemon now stores the boot in: if the boot moved
 * to another chain (records were lost, trimming.md §3.2.4), the view's files
 * cannot continue and its readers get EIO.
 */
void view_server_end(struct view_server *vs, uint64_t token, int ret,
		     const char *chain);
/* Answer waiting readers with an error, unmount, join the thread, free. */
void view_server_stop(struct view_server *vs);

const char *view_server_mountpoint(const struct view_server *vs);
struct view_server_counts {
	uint64_t asked, cycles;		/* reads that waited; cycles they got */
	struct view_counts fs;
};
void view_server_counts(const struct view_server *vs, struct view_server_counts *c);

#endif
