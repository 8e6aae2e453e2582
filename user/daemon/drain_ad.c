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

/* A/D: once the kernel holds enough and nothing is staged, "A". */
static int stage(struct drain *d, const struct drain_policy *p, struct window *w,
		 struct drain_stats *st, struct errmsg *em)
{
	uint64_t count = 0;
	int ret;

	(void)st;
	ret = window_read(d, w, 0, em);
	if (ret || w->nb || d->foreign || kernel_count(&count) || count < drain_threshold(p))
		return ret;
	ret = kernel_ops->staged_command(w->staged_fd, 'A');
	if (ret == -ENOENT || ret == -EEXIST)	/* empty list; staged meanwhile */
		return 0;
	return ret ? errmsg_set(em, ret, "%s_staged: A: %s", d->ki.list, strerror(-ret)) : 0;
}

int drain_free_batch(struct drain *d, struct window *w, struct drain_stats *st,
		     struct errmsg *em)
{
	char staged[PATH_MAX + 8];

	if (!may_delete(d) || chain_durable(d->c) < d->k + w->nb)
		return 0;
	ima_staged_path(d->ki.list, staged, sizeof(staged));
	return delete_staged(d, staged, w->staged_fd, w->nb, &st->deleted, em);
}

/*
 * The A/D mode (trimming.md §5): "A" stages the whole list when it is due,
 * and the window stores the batch and the current list after it as one
 * list, then frees the batch with "D". The records of the current list
 * stay in the kernel, stored: the anchor of the next window (§6).
 */
int drain_ad(struct drain *d, const struct drain_policy *p,
	     struct drain_stats *st, struct errmsg *em)
{
	return list_window(d, p, O_RDWR, st, stage, NULL, em);
}
