// SPDX-License-Identifier: GPL-2.0-only
/* The mirror mode: store every record, delete nothing (lists 0440 before 7.2, or flavor mirror). */
#include <errno.h>
#include <fcntl.h>

#include "clock.h"
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

/*
 * A window on the list opened for reading only. A 0440 list never shrinks:
 * the next window reads on from the last stored record (mirror_check()).
 */
int drain_mirror(struct drain *d, struct drain_stats *st, struct errmsg *em)
{
	struct window w;
	uint64_t t0;
	bool placed;
	int ret;

	window_init(d, &w);
	ret = window_open(d->ki.list, O_RDONLY, &w.list_fd, em);
	if (ret)
		return ret;
	t0 = mono_us();
	ret = read_place_store(d, &w, st, &placed, em);
	if (!ret && placed && d->ki.mode == KMODE_MIRROR && w.kl.n) {
		d->mpos = true;
		d->moff = w.kl.base + (off_t)w.kl.rec[w.kl.n - 1].off;
		d->midx = d->k + w.kl.n - 1;
	}
	window_stats(d, &w, t0, st);
	window_close(&w);
	return ret;
}
