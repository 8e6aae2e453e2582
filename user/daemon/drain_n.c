// SPDX-License-Identifier: GPL-2.0-only
/* The N mode (trimming.md §4): store, then delete the oldest records with one "N\n" write. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "clock.h"
#include "drain_int.h"
#include "log.h"
#include "store_io.h"

static int rec_at(void *arg, uint64_t i, struct ima_record *rec)
{
	const struct klist *kl = arg;

	return i < kl->n ? klist_parse(kl, (size_t)i, rec, NULL) : -ENOENT;
}

static uint64_t to_delete(const struct drain *d, const struct drain_policy *p,
			  const struct klist *kl)
{
	uint64_t stored = chain_durable(d->c) - d->k, n = kl->n, dcount;

	if (p->mirror || !may_delete(d))
		return 0;
	if (n < drain_threshold(p) && (!p->trim_bytes || kl->len < p->trim_bytes))
		return 0;
	dcount = n < stored ? n : stored;
	dcount = dcount > p->keep ? dcount - p->keep : 0;
	return place_safe_cut(dcount, rec_at, (void *)kl);
}

/* §4.6-7: checkpoint, intended, "D\n", done. */
static int trim(struct drain *d, int fd, uint64_t dcount, uint64_t *out,
		struct errmsg *em)
{
	uint64_t kept = d->k + dcount;
	int ret;

	ret = before_delete(d, kept, em);
	if (ret)
		return ret;
	ret = kernel_ops->delete_oldest(fd, dcount);
	io_failpoint("after-trim-write");
	switch (ret) {
	case 0:
		ret = deleted(d, kept, dcount, out, em);
		if (!ret)
			io_failpoint("after-done");
		return ret;
	case -ENOENT:
		/* fewer records than this window saw: impossible while we hold the writer */
		d->k_known = false;
		foreign(d, "the kernel has fewer records than this writer window saw");
		return 0;
	case -ESTALE:
		/* kexec under way: the next kernel's head tells what happened */
		dlog(LOG_P_NOTICE, "kexec under way: deletion refused (ESTALE)");
		d->k_known = false;
		return 0;
	case -EINVAL:
		d->no_n = true;
		d->use_ad = d->ki.mode == KMODE_AD || d->ki.mode == KMODE_AD_ONLY;
		dlog(LOG_P_WARNING, "the kernel refuses N (ima_flush_htable?): %s",
		     d->use_ad ? "deleting with A/D from now on" : "storing only from now on");
		if (d->use_ad)
			d->no_n = false;
		/* nothing was deleted: say so, so readers need not guess */
		return chain_trim_write(d->c, d->boot_id, d->k, TRIM_DONE, em);
	default:
		d->k_known = false;
		return errmsg_set(em, ret, "%s: deleting %llu records: %s", d->ki.list,
				  (unsigned long long)dcount, strerror(-ret));
	}
}

/* One window on the list opened for writing: store, then delete with "N\n". */
int drain_n(struct drain *d, const struct drain_policy *p,
	    struct drain_stats *st, struct errmsg *em)
{
	struct window w;
	uint64_t t0, dcount = 0;
	bool placed;
	int ret;

	window_init(d, &w);
	ret = window_open(d->ki.list, O_RDWR, &w.list_fd, em);
	if (ret)
		return ret;
	t0 = mono_us();
	ret = read_place_store(d, &w, st, &placed, em);
	if (!ret && placed)
		dcount = to_delete(d, p, &w.kl);
	if (dcount)
		ret = trim(d, w.list_fd, dcount, &st->deleted, em);
	window_stats(d, &w, t0, st);
	window_close(&w);
	return ret;
}
