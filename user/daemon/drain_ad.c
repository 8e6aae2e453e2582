// SPDX-License-Identifier: GPL-2.0-only
/* The A/D mode (trimming.md §5): "A" stages the list, the batch is stored, "D" frees it. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "drain_int.h"
#include "log.h"
#include "securityfs.h"

static int write_d(int fd, uint64_t n)
{
	(void)n;	/* D frees the whole batch */
	return kernel_ops->staged_command(fd, 'D');
}

/* §5.4-5: the staged batch is stored: checkpoint, intended, "D\n", done. */
static int delete_staged(struct drain *d, const char *staged, int fd, uint64_t n,
			 uint64_t *out, struct errmsg *em)
{
	int refused, ret = drain_delete(d, write_d, fd, n, out, &refused, em);

	if (ret || !refused)
		return ret;
	switch (refused) {
	case -ESTALE:
		/* the batch heads the next kernel's list after kexec (§5.5) */
		dlog(LOG_P_NOTICE, "kexec under way: D refused (ESTALE); the batch goes to the next kernel");
		d->k_known = false;
		return 0;
	default:
		d->k_known = false;
		return errmsg_set(em, refused, "%s: D: %s", staged, strerror(-refused));
	}
}

/*
 * The A/D cycle (trimming.md §5): one window holds the staged file and the
 * list. A batch left staged (by a crash, or by someone else) is stored
 * first; otherwise, once the kernel holds enough, "A" stages the whole
 * list. The batch and the current list after it are placed and stored as
 * one list; then "D" frees the batch. The records of the current list stay
 * in the kernel, stored: the anchor of the next window (§6).
 */
int drain_ad(struct drain *d, const struct drain_policy *p,
	     struct drain_stats *st, struct errmsg *em)
{
	char staged[PATH_MAX + 8];
	struct window w;
	uint64_t count = 0, t0;
	bool placed;
	int ret;

	window_init(d, &w);
	ima_staged_path(d->ki.list, staged, sizeof(staged));
	ret = window_open(staged, O_RDWR, &w.staged_fd, em);
	if (!ret)	/* the same thread may open more writer fds (kernel-interface §4) */
		ret = window_open(d->ki.list, O_RDWR, &w.list_fd, em);
	if (ret)
		goto out_close;
	t0 = mono_us();
	ret = window_read(d, &w, 0, em);
	if (!ret && !w.nb && !d->foreign && !kernel_count(&count) &&
	    count >= drain_threshold(p)) {
		ret = kernel_ops->staged_command(w.staged_fd, 'A');
		if (ret == -ENOENT)	/* the list is empty */
			ret = 0;
		else if (ret && ret != -EEXIST)
			ret = errmsg_set(em, ret, "%s: A: %s", staged, strerror(-ret));
	}
	if (!ret)
		ret = read_place_store(d, &w, st, &placed, em);
	if (!ret && placed && w.nb && !p->mirror && may_delete(d) &&
	    chain_durable(d->c) >= d->k + w.nb)
		ret = delete_staged(d, staged, w.staged_fd, w.nb, &st->deleted, em);
	window_stats(d, &w, t0, st);
out_close:
	window_close(&w);
	return ret;
}
