// SPDX-License-Identifier: GPL-2.0-only
/*
 * The N flavor cycle (docs/trimming.md §3, §4, §6) and the mirror cycle,
 * which is the same without deletion. The order of the steps is the
 * protocol: nothing is deleted from the kernel unless it is durable in the
 * store, was compared byte for byte in this writer window, and a trims.log
 * `intended` entry covers it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "chain_replay.h"
#include "drain.h"
#include "full_list.h"
#include "log.h"
#include "store_io.h"
#include "template.h"

/* The kernel's list as read in this window: records by offset. */
struct klist {
	uint8_t *buf;
	size_t len;
	off_t base;		/* byte offset of buf[0] in the list */
	size_t n;
	struct { size_t off, len; } *rec;
};

void drain_init(struct drain *d, struct chain *c, const char *boot_id,
		const struct kernel_info *ki, const struct hash_alg *list_bank)
{
	memset(d, 0, sizeof(*d));
	d->c = c;
	d->boot_id = boot_id;
	d->ki = *ki;
	d->list_bank = list_bank;
	d->use_ad = ki->mode == KMODE_AD_ONLY;
}

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000;
}

static enum list_endian chain_endian(const struct drain *d)
{
	return chain_meta(d->c)->little_endian ? LIST_ENDIAN_LITTLE : LIST_ENDIAN_BIG;
}

static int parse_one(const struct drain *d, const struct klist *kl, size_t i,
		     struct ima_record *rec, struct errmsg *em)
{
	long r = ima_record_parse(kl->buf + kl->rec[i].off, kl->len - kl->rec[i].off,
				  d->list_bank->size, chain_endian(d), i,
				  (uint64_t)kl->base + kl->rec[i].off, rec, em);

	return r < 0 ? (int)r : 0;
}

/* Split the buffer into records; a torn last record is an error. */
static int klist_split(const struct drain *d, struct klist *kl, struct errmsg *em)
{
	struct ima_record rec;
	size_t off = 0, cap = 0;
	void *nr;
	long r;

	while (off < kl->len) {
		r = ima_record_parse(kl->buf + off, kl->len - off, d->list_bank->size,
				     chain_endian(d), kl->n, (uint64_t)kl->base + off, &rec, em);
		if (r == -EAGAIN)
			return errmsg_set(em, -EIO, "%s: the list ends inside a record at byte %llu",
					  d->ki.list, (unsigned long long)kl->base + off);
		if (r < 0)
			return (int)r;
		if (kl->n == cap) {
			cap = cap ? cap * 2 : 1024;
			nr = realloc(kl->rec, cap * sizeof(*kl->rec));
			if (!nr)
				return -ENOMEM;
			kl->rec = nr;
		}
		kl->rec[kl->n].off = off;
		kl->rec[kl->n].len = (size_t)r;
		kl->n++;
		off += (size_t)r;
	}
	return 0;
}

static void klist_free(struct klist *kl)
{
	free(kl->buf);
	free(kl->rec);
}

static bool same(const struct klist *kl, size_t i, const struct ima_record *s)
{
	return s->raw_len == kl->rec[i].len &&
	       !memcmp(s->raw, kl->buf + kl->rec[i].off, s->raw_len);
}

/*
 * 1 if the kernel's records, placed at absolute index j, equal the stored
 * ones wherever they overlap (j .. durable end), 0 if not, < 0 error.
 */
static int overlap_ok(struct drain *d, const struct klist *kl, uint64_t j,
		      struct errmsg *em)
{
	uint64_t end = chain_durable(d->c);
	struct chain_iter *it;
	struct ima_record s;
	int ret = 1;

	if (j > end)
		return 0;
	if (j == end || !kl->n)
		return 1;
	ret = chain_iter_open(d->c, j, &it, em);
	if (ret)
		return ret;
	for (size_t i = 0; i < kl->n && j + i < end; i++) {
		ret = chain_iter_next(it, &s, em);
		if (ret <= 0) {
			ret = ret ? ret : errmsg_set(em, -EIO, "chain ended at %llu",
						   (unsigned long long)(j + i));
			break;
		}
		if (!same(kl, i, &s)) {
			ret = 0;
			break;
		}
		ret = 1;
	}
	chain_iter_free(it);
	return ret;
}

/*
 * The kernel's head was not where we expected: look for it among the stored
 * records from `lo` on (a trim that did not happen, or someone else deleted
 * records we had already stored). 1 found (*k), 0 not, < 0 error.
 */
static int search_head(struct drain *d, const struct klist *kl, uint64_t lo,
		       uint64_t *k, struct errmsg *em)
{
	uint64_t end = chain_durable(d->c), j = lo;
	struct chain_iter *it;
	struct ima_record s;
	int ret;

	if (lo >= end)
		return 0;
	ret = chain_iter_open(d->c, lo, &it, em);
	while (!ret && j < end) {
		ret = chain_iter_next(it, &s, em);
		if (ret <= 0)
			break;
		ret = 0;
		if (same(kl, 0, &s)) {
			ret = overlap_ok(d, kl, j, em);
			if (ret > 0)
				*k = j;
			if (ret)
				break;
		}
		j++;
	}
	chain_iter_free(it);
	return ret;
}

/* trimming.md §6: log it, keep storing, never trim again. */
static void foreign(struct drain *d, const struct klist *kl, const char *why)
{
	uint64_t count = 0;

	if (kernel_count(&count))
		count = kl->n;
	dlog(LOG_P_ERR, "foreign trimmer: %s; the kernel holds %llu records, the store is good up to record %llu; records deleted by the other process are lost to the store; no more deletion until restart",
	     why, (unsigned long long)count, (unsigned long long)chain_durable(d->c));
	d->foreign = true;
}

/* Where the kernel's list starts (trimming.md §3). */
static int place(struct drain *d, const struct klist *kl, struct errmsg *em)
{
	uint64_t first = d->k, alt = UINT64_MAX, k = 0;
	int ret;

	if (!d->k_known) {
		ret = kernel_first_index(d->c, d->boot_id, &first, &alt, em);
		if (ret)
			return ret;
	}
	ret = overlap_ok(d, kl, first, em);
	if (ret > 0) {
		k = first;
		goto found;
	}
	if (ret < 0)
		return ret;
	if (alt != UINT64_MAX) {
		ret = overlap_ok(d, kl, alt, em);
		if (ret > 0) {
			k = alt;
			goto found;
		}
		if (ret < 0)
			return ret;
	}
	/*
	 * kernel_first_index() offers the boot's first index as the other
	 * candidate of an unfinished trim, not the previous trim's: search.
	 */
	ret = search_head(d, kl, alt != UINT64_MAX && alt < first ? alt : first, &k, em);
	if (ret < 0)
		return ret;
	if (ret > 0) {
		if (d->k_known && k > first)
			dlog(LOG_P_WARNING, "records %llu..%llu were deleted from the kernel by another process (all were stored)",
			     (unsigned long long)first, (unsigned long long)k - 1);
		goto found;
	}
	foreign(d, kl, "the kernel's first record is no stored record");
	/* what the kernel shows now continues the store, with a gap */
	k = chain_durable(d->c);
found:
	/* an unfinished trim is settled: write down what happened */
	if (alt != UINT64_MAX || k != first) {
		ret = chain_trim_write(d->c, d->boot_id, k, TRIM_DONE, em);
		if (ret)
			return ret;
	}
	d->k = k;
	d->k_known = true;
	return 0;
}

/* Names repeat: only a name unlike the last one is looked up. */
static void note_template(struct drain *d, const struct ima_record *rec, char *last)
{
	struct template_desc desc;

	if (!strcmp(rec->name, last))
		return;
	snprintf(last, IMA_TEMPLATE_NAME_MAX + 1, "%s", rec->name);
	if (template_builtin(rec->name, &desc))
		snprintf(d->custom_name, sizeof(d->custom_name), "%s", rec->name);
}

static int append_new(struct drain *d, const struct klist *kl, uint64_t *added,
		      struct errmsg *em)
{
	uint64_t end = chain_durable(d->c);
	char last[IMA_TEMPLATE_NAME_MAX + 1] = "";
	struct ima_record rec;
	int ret;

	*added = 0;
	/* once: the records already stored may be the only ones that name it */
	for (size_t i = 0; !d->names_seen && i < kl->n && !d->custom_name[0]; i++)
		if (!parse_one(d, kl, i, &rec, NULL))
			note_template(d, &rec, last);
	d->names_seen = true;
	for (size_t i = end > d->k ? end - d->k : 0; i < kl->n; i++) {
		ret = parse_one(d, kl, i, &rec, em);
		if (!ret)
			ret = chain_append(d->c, &rec, em);
		if (ret)
			return ret;
		(*added)++;
		note_template(d, &rec, last);
		if (d->on_append) {
			rec.index = d->k + i;
			d->on_append(d->on_append_ctx, &rec, d->list_bank);
		}
	}
	return 0;
}

static uint64_t to_delete(const struct drain *d, const struct drain_policy *p,
			  const struct klist *kl)
{
	uint64_t stored = chain_durable(d->c) - d->k, n = kl->n, dcount;

	if (p->mirror || d->foreign || d->no_n)
		return 0;
	if (n < p->keep + p->trim_records && (!p->trim_bytes || kl->len < p->trim_bytes))
		return 0;
	dcount = n < stored ? n : stored;
	return dcount > p->keep ? dcount - p->keep : 0;
}

/*
 * Before any deletion (§4.6, §5.4): a checkpoint of the records about to
 * leave the kernel, then the `intended` entry that covers them.
 */
static int before_delete(struct drain *d, uint64_t kept, struct errmsg *em)
{
	struct replay *rp = NULL;
	int ret;

	ret = chain_replay(d->c, kept, false, true, &rp, em);
	replay_free(rp);
	if (!ret)
		ret = chain_trim_write(d->c, d->boot_id, kept, TRIM_INTENDED, em);
	if (!ret)
		io_failpoint("after-intended");
	return ret;
}

/* §4.6-7: checkpoint, intended, "D\n", done. */
static int trim(struct drain *d, int fd, uint64_t dcount, struct errmsg *em)
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
		ret = chain_trim_write(d->c, d->boot_id, kept, TRIM_DONE, em);
		if (ret)
			return ret;
		io_failpoint("after-done");
		d->k = kept;
		return 0;
	case -ENOENT:
		/* fewer records than we saw: someone deleted meanwhile */
		d->k_known = false;
		d->foreign = true;
		dlog(LOG_P_ERR, "foreign trimmer: the kernel has fewer than the %llu records seen in this window; no more deletion until restart",
		     (unsigned long long)dcount);
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
		/* nothing was deleted: say so, so readers need not guess */
		return chain_trim_write(d->c, d->boot_id, d->k, TRIM_DONE, em);
	default:
		d->k_known = false;
		return errmsg_set(em, ret, "%s: deleting %llu records: %s", d->ki.list,
				  (unsigned long long)dcount, strerror(-ret));
	}
}

static int read_list(struct drain *d, int fd, struct klist *kl, struct errmsg *em)
{
	/* mirror: the list never shrinks; start at the last stored record */
	kl->base = d->mpos ? d->moff : 0;
	return kernel_read_list(fd, kl->base, &kl->buf, &kl->len, em);
}

static int compare_and_store(struct drain *d, struct klist *kl, uint64_t *added,
			     struct errmsg *em)
{
	int ret;

	if (d->mpos) {
		d->k = d->midx;
		d->k_known = true;
		ret = kl->n ? overlap_ok(d, kl, d->k, em) : 0;
		if (ret == 0) {
			/* not what we left: place from scratch next time */
			d->mpos = false;
			d->k_known = false;
			return errmsg_set(em, -EAGAIN, "%s: the list changed under a mirror; reading it again",
					  d->ki.list);
		}
		if (ret < 0)
			return ret;
	} else if (kl->n) {
		ret = place(d, kl, em);
		if (ret)
			return ret;
	}
	ret = append_new(d, kl, added, em);
	io_failpoint("after-append");
	if (!ret)
		ret = chain_commit(d->c, em);
	return ret;
}

static int drain_n(struct drain *d, const struct drain_policy *p,
		   struct drain_stats *st, struct errmsg *em);

/* §5.4-5: the staged batch is stored: checkpoint, intended, "D\n", done. */
static int delete_staged(struct drain *d, int fd, uint64_t n, struct errmsg *em)
{
	uint64_t kept = d->k + n;
	int ret;

	ret = before_delete(d, kept, em);
	if (ret)
		return ret;
	ret = kernel_ops->staged_command(fd, 'D');
	io_failpoint("after-trim-write");
	switch (ret) {
	case 0:
		ret = chain_trim_write(d->c, d->boot_id, kept, TRIM_DONE, em);
		if (!ret)
			io_failpoint("after-done");
		d->k = kept;
		return ret;
	case -ESTALE:
		/* the batch heads the next kernel's list after kexec (§5.5) */
		dlog(LOG_P_NOTICE, "kexec under way: D refused (ESTALE); the batch goes to the next kernel");
		d->k_known = false;
		return 0;
	default:
		d->k_known = false;
		return errmsg_set(em, ret, "%s_staged: D: %s", d->ki.list, strerror(-ret));
	}
}

static int read_staged(struct drain *d, int fd, struct klist *kl, struct errmsg *em)
{
	int ret;

	klist_free(kl);
	memset(kl, 0, sizeof(*kl));
	ret = kernel_read_list(fd, 0, &kl->buf, &kl->len, em);
	return ret ? ret : klist_split(d, kl, em);
}

/*
 * The A/D cycle (trimming.md §5): a batch left staged (by a crash) is
 * stored first; otherwise, once the kernel holds enough, "A" stages the
 * whole list. The batch is compared/appended like any list read, then "D".
 */
static int drain_ad(struct drain *d, const struct drain_policy *p,
		    struct drain_stats *st, struct errmsg *em)
{
	char staged[PATH_MAX + 8];
	struct klist kl = { 0 };
	uint64_t count = 0, t0;
	int fd = -1, ret;

	snprintf(staged, sizeof(staged), "%s_staged", d->ki.list);
	ret = kernel_open_list(staged, O_RDWR, 5000, &fd, em);
	if (ret == -EBUSY)
		kernel_log_holders();
	if (ret)
		return ret;
	t0 = now_us();
	ret = read_staged(d, fd, &kl, em);
	if (!ret && !kl.n && !d->foreign && !kernel_count(&count) &&
	    count >= p->keep + p->trim_records) {
		ret = kernel_ops->staged_command(fd, 'A');
		if (ret == -ENOENT)	/* the list is empty */
			ret = 0;
		else if (ret && ret != -EEXIST)
			ret = errmsg_set(em, ret, "%s: A: %s", staged, strerror(-ret));
		if (!ret)
			ret = read_staged(d, fd, &kl, em);
	}
	if (ret || !kl.n)
		goto out;
	io_failpoint("after-read");
	ret = compare_and_store(d, &kl, &st->appended, em);
	if (!ret && !d->foreign && chain_durable(d->c) >= d->k + kl.n) {
		ret = delete_staged(d, fd, kl.n, em);
		if (!ret)
			st->deleted = kl.n;
	}
out:
	close(fd);
	st->window_us = now_us() - t0;
	st->kernel_records = kl.n;
	st->list_bytes = kl.len;
	st->durable = chain_durable(d->c);
	klist_free(&kl);
	if (ret || st->deleted || d->foreign)
		return ret;
	/* nothing staged: store what the current list holds, delete nothing */
	{
		struct drain_policy q = *p;

		q.mirror = true;
		return drain_n(d, &q, st, em);
	}
}

static int drain_once(struct drain *d, const struct drain_policy *p,
		      struct drain_stats *st, struct errmsg *em)
{
	memset(st, 0, sizeof(*st));
	if (d->use_ad && !p->mirror)
		return drain_ad(d, p, st, em);
	return drain_n(d, p, st, em);
}

static int drain_n(struct drain *d, const struct drain_policy *p,
		   struct drain_stats *st, struct errmsg *em)
{
	struct klist kl = { 0 };
	uint64_t t0 = now_us(), dcount = 0;
	int fd = -1, ret;
	bool ro = p->mirror || d->ki.mode == KMODE_MIRROR;

	memset(st, 0, sizeof(*st));
	ret = kernel_open_list(d->ki.list, ro ? O_RDONLY : O_RDWR, 5000, &fd, em);
	if (ret == -EBUSY)
		kernel_log_holders();
	if (ret)
		return ret;
	t0 = now_us();
	ret = read_list(d, fd, &kl, em);
	if (!ret)
		ret = klist_split(d, &kl, em);
	if (ret)
		goto out;
	io_failpoint("after-read");
	ret = compare_and_store(d, &kl, &st->appended, em);
	if (ret)
		goto out;
	dcount = to_delete(d, p, &kl);
	if (dcount)
		ret = trim(d, fd, dcount, em);
	if (!ret && d->ki.mode == KMODE_MIRROR && kl.n) {
		d->mpos = true;
		d->moff = kl.base + (off_t)kl.rec[kl.n - 1].off;
		d->midx = d->k + kl.n - 1;
	}
out:
	close(fd);
	st->window_us = now_us() - t0;
	st->kernel_records = kl.n;
	st->list_bytes = kl.len;
	st->deleted = ret ? 0 : dcount;
	st->durable = chain_durable(d->c);
	klist_free(&kl);
	return ret;
}

/* What `imastore status` shows of the daemon (trimming.md §2, §6). */
static void write_status(struct drain *d, const struct drain_policy *p,
			 const struct drain_stats *st, int ret,
			 const struct errmsg *em)
{
	char text[1024 + sizeof(d->status_extra)];

	d->deleted_total += st->deleted;
	snprintf(text, sizeof(text),
		 "pid=%d\nmode=%s\nbank=%s\nchain=%s\nboot=%s\ntime=%llu\n"
		 "kernel_records=%llu\nkernel_first_index=%llu\nstored=%llu\n"
		 "deleted=%llu\ntrimming=%s\nforeign_trimmer=%s\nlast_error=%s\n",
		 (int)getpid(), kmode_name(d->ki.mode), d->list_bank->name,
		 chain_meta(d->c)->chain, d->boot_id, (unsigned long long)time(NULL),
		 (unsigned long long)st->kernel_records,
		 (unsigned long long)(d->k_known ? d->k : 0),
		 (unsigned long long)chain_durable(d->c),
		 (unsigned long long)d->deleted_total,
		 p->mirror || d->ki.mode == KMODE_MIRROR ? "off (mirror)" :
		 d->foreign ? "off (foreign trimmer)" : d->no_n ? "off (N refused)" : "on",
		 d->foreign ? "yes" : "no", ret ? errmsg_text(em) : "");
	strncat(text, d->status_extra, sizeof(text) - strlen(text) - 1);
	store_status_write(d->c, text, NULL);
}

int drain_cycle(struct drain *d, const struct drain_policy *p,
		struct drain_stats *st, struct errmsg *em)
{
	int ret = drain_once(d, p, st, em);

	write_status(d, p, st, ret, em);
	return ret;
}
