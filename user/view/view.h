/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef IMASTORE_VIEW_H
#define IMASTORE_VIEW_H

#include <stdbool.h>
#include <stdint.h>

#include "errmsg.h"

/*
 * The view (docs/view.md): a read-only FUSE file system (libfuse3) that
 * shows one stored boot's complete measurement list the way securityfs on
 * 7.2 shows the kernel's: binary_runtime_measurements_<alg>,
 * ascii_runtime_measurements_<alg> for every bank, the legacy names as
 * symlinks to the sha1 files, runtime_measurements_count and violations.
 * Files are 0440 root:root, direct_io (st_size 0, like securityfs), mounted
 * with allow_other and default_permissions.
 *
 * Library code: it never logs. What a caller may want to log (a stale mount
 * cleaned, store damage met by a read) goes to opts.note.
 */
#define VIEW_DEFAULT_PATH "/run/imastore/ima"

struct view;

struct view_opts {
	const char *store_dir;
	unsigned store_flags;		/* STORE_INSECURE */
	const char *boot;		/* boot id, chain id or "current" */
	const char *mountpoint;
	bool create_mountpoint;		/* mkdir -p it (imastored's /run/imastore/ima) */
	/* see vlist_opts.fresh: imastored's drain, waited for */
	int (*fresh)(void *arg, struct errmsg *em);
	void *fresh_arg;
	/* one line for the caller's log; prio as syslog (3 err ... 7 debug) */
	void (*note)(void *arg, int prio, const char *msg);
	void *note_arg;
};

/*
 * Check /dev/fuse ($IMASTORE_DEV_FUSE in tests), open the store and the
 * boot's chain, prepare the mount point (a stale FUSE mount left by a dead
 * server is detached; a live mount there is -EBUSY) and mount. -ENODEV:
 * no /dev/fuse.
 */
int view_open(struct view **out, const struct view_opts *o, struct errmsg *em);

/*
 * Serve requests until view_stop() or the file system is unmounted; one
 * thread. Returns 0, or a negative errno if the FUSE device failed.
 */
int view_run(struct view *v);

/* Make view_run() return (any thread; async-signal-safe). */
void view_stop(struct view *v);

/* Unmount (lazily: open files then fail with ENOTCONN) and free. */
void view_close(struct view *v);

/* The chain served (for messages). */
const char *view_chain(const struct view *v);

struct view_counts {
	uint64_t opens, reads, bytes, errors, updates;
};
void view_counts(const struct view *v, struct view_counts *c);

/* The FUSE device to use ($IMASTORE_DEV_FUSE overrides /dev/fuse). */
const char *view_dev_fuse(void);

#endif
