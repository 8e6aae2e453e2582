// SPDX-License-Identifier: GPL-2.0-only
/* The N mode (trimming.md §4): store, then delete the oldest records with one "N\n" write. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "drain_int.h"
#include "log.h"

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

static int write_n(int fd, uint64_t n)
{
	return kernel_ops->delete_oldest(fd, n);
}

/* §4.6-7: checkpoint, intended, "N\n", done; what a refusal means. */
static int trim(struct drain *d, int fd, uint64_t dcount, uint64_t *out,
		struct errmsg *em)
{
	int refused, ret = drain_delete(d, write_n, fd, dcount, out, &refused, em);

	if (ret || !refused)
		return ret;
	switch (refused) {
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
		return errmsg_set(em, refused, "%s: deleting %llu records: %s", d->ki.list,
				  (unsigned long long)dcount, strerror(-refused));
	}
}

static int delete_some(struct drain *d, const struct drain_policy *p,
		       struct window *w, struct drain_stats *st, struct errmsg *em)
{
	uint64_t dcount = to_delete(d, p, &w->kl);

	return dcount ? trim(d, w->list_fd, dcount, &st->deleted, em) : 0;
}

/* One window on the list opened for writing: store, then delete with "N\n". */
int drain_n(struct drain *d, const struct drain_policy *p,
	    struct drain_stats *st, struct errmsg *em)
{
	return list_window(d, p, O_RDWR, st, NULL, delete_some, em);
}
