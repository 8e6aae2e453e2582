// SPDX-License-Identifier: GPL-2.0-only
/* The mirror mode: store every record, delete nothing (lists 0440 before 7.2, or flavor mirror). */
#include <errno.h>
#include <fcntl.h>

#include "drain_int.h"

/*
 * Mirror: the list never shrinks (0440), so a window reads on from the last
 * stored record, which must still be the one there.
 */
int mirror_check(struct drain *d, struct window *w, struct errmsg *em)
{
	struct chain_iter *it;
	struct ima_record s;
	int ret;

	d->k = d->midx;
	if (!w->kl.n)
		return 1;
	ret = chain_iter_open(d->c, d->midx, &it, em);
	if (ret)
		return ret;
	ret = chain_iter_next(it, &s, em);
	chain_iter_free(it);
	if (ret < 0)
		return ret;
	if (ret && same(&w->kl, 0, &s))
		return 1;
	/* not what we left: place from the list's head next time */
	d->mpos = false;
	d->k_known = false;
	return errmsg_set(em, -EAGAIN, "%s: the list changed under a mirror; reading it again",
			  d->ki.list);
}

/* A 0440 list never shrinks: the next window reads on from its last record. */
static int note_position(struct drain *d, const struct drain_policy *p,
			 struct window *w, struct drain_stats *st, struct errmsg *em)
{
	(void)p;
	(void)st;
	(void)em;
	if (d->ki.mode == KMODE_MIRROR && w->kl.n) {
		d->mpos = true;
		d->moff = w->kl.base + (off_t)w->kl.rec[w->kl.n - 1].off;
		d->midx = d->k + w->kl.n - 1;
	}
	return 0;
}

/* A window on the list opened for reading only: store, never delete. */
int drain_mirror(struct drain *d, const struct drain_policy *p,
		 struct drain_stats *st, struct errmsg *em)
{
	return list_window(d, p, O_RDONLY, st, NULL, note_position, em);
}
