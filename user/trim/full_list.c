// SPDX-License-Identifier: GPL-2.0-only
/* A chain's complete list: the stored records, then the kernel's tail, in any bank. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "full_list.h"
#include "list_reader.h"
#include "placement.h"
#include "securityfs.h"

struct full_list {
	struct chain *c;
	struct full_list_opts o;
	const struct hash_alg *bank;
	struct chain_iter *it;		/* stored records */
	uint64_t next;			/* index of the next record out */
	uint64_t end;			/* stop before this (from + count) */
	struct hash_ctx *ctx;
	uint8_t *buf;			/* a re-encoded record */
	size_t cap;
	/* the kernel tail */
	int kfd;
	int hold_fd;			/* the stored bank's list, placed and held */
	struct list_reader *kr;
	struct chain_iter *overlap;	/* stored records the kernel still holds */
	uint64_t kindex;		/* chain index of the kernel's next record */
	uint64_t kcount;
};

int record_for_bank(const struct ima_record *rec, const struct chain_meta *m,
		    const struct hash_alg *bank, struct hash_ctx **ctx,
		    uint8_t *out, struct ima_record *res, struct errmsg *em)
{
	const struct hash_alg *alg = chain_meta_bank(m, bank);
	size_t tail = rec->raw_len - 4 - rec->digest_len;
	uint8_t d[IMA_MAX_DIGEST] = { 0 };
	long n;
	int ret;

	if (bank->tpm_id == m->bank->tpm_id) {
		*res = *rec;
		return 0;
	}
	if (!ima_record_is_violation(rec)) {
		if (!*ctx) {
			ret = hash_ctx_new_template(alg, ctx);
			if (ret)
				return errmsg_set(em, ret, "bank %s: no hash", bank->name);
		}
		ret = ima_record_template_digest(rec, *ctx, d);
		if (ret)
			return errmsg_set(em, ret, "hash failed");
	}
	memcpy(out, rec->raw, 4);
	memcpy(out + 4, d, bank->size);
	memcpy(out + 4 + bank->size, rec->raw + 4 + rec->digest_len, tail);
	n = ima_record_parse(out, 4 + bank->size + tail, bank->size,
			     rec->little_endian ? LIST_ENDIAN_LITTLE : LIST_ENDIAN_BIG,
			     rec->index, rec->offset, res, em);
	return n < 0 ? (int)n : 0;
}

/* The daemon holds the list open for writing for short moments. */
static int open_list(const char *path, int *fd, struct errmsg *em)
{
	return ima_open_list(path, O_RDONLY, 2000, NULL, fd, em);
}

/* The output bank's list, read from its head. */
static int open_kernel(struct full_list *fl, struct errmsg *em)
{
	struct list_reader_opts lo = { .bank = fl->bank, .path = fl->o.kernel_list };
	int ret = open_list(fl->o.kernel_list, &fl->kfd, em);

	return ret ? ret : list_reader_open(&fl->kr, fl->kfd, &lo, em);
}

/* A kernel list on a fd as placement's kernel_head (read again by lseek). */
struct fd_head {
	int fd;
	const struct hash_alg *bank;
	const char *path;
	struct list_reader *r;
};

static int fd_rewind(void *arg, struct errmsg *em)
{
	struct fd_head *h = arg;
	struct list_reader_opts lo = { .bank = h->bank, .path = h->path };

	list_reader_free(h->r);
	h->r = NULL;
	if (lseek(h->fd, 0, SEEK_SET) < 0)
		return errmsg_set(em, -errno, "%s: lseek: %s", h->path, strerror(errno));
	return list_reader_open(&h->r, h->fd, &lo, em);
}

static int fd_next(void *arg, struct ima_record *rec, struct errmsg *em)
{
	struct fd_head *h = arg;

	return h->r ? list_reader_next(h->r, rec, em) : 0;
}

/*
 * Place the kernel's list of the stored bank (trimming.md §3, structural
 * evidence): held open for reading, it keeps the daemon from deleting
 * while the chain is brought up to date and the list is placed.
 */
static int place_kernel(struct full_list *fl, struct errmsg *em)
{
	const struct chain_meta *m = chain_meta(fl->c);
	struct fd_head h = { .fd = -1, .bank = m->bank };
	struct kernel_head kh = { fd_rewind, fd_next, &h };
	struct placement pl;
	int ret;

	h.path = fl->o.placement_list ? fl->o.placement_list : fl->o.kernel_list;
	ret = open_list(h.path, &h.fd, em);
	if (!ret)
		ret = chain_refresh(fl->c, em);
	if (!ret)
		ret = place_in_chain(fl->c, fl->o.boot_id, &kh, NULL, NULL, &pl, em);
	list_reader_free(h.r);
	if (ret)
		goto out;
	if (pl.result == PLACE_AMBIGUOUS) {
		ret = errmsg_set(em, -EBADMSG, "cannot place the kernel's list in chain %s: %s",
				 m->chain, pl.why);
		goto out;
	}
	if (pl.result == PLACE_BEYOND) {
		ret = errmsg_set(em, -ENODATA, "%s: records from %llu on are lost to chain %s",
				 pl.why, (unsigned long long)chain_durable(fl->c), m->chain);
		goto out;
	}
	fl->hold_fd = h.fd;
	h.fd = -1;
	fl->kindex = pl.k;
	ret = open_kernel(fl, em);
	if (!ret && pl.k < chain_durable(fl->c))
		ret = chain_iter_open(fl->c, pl.k, &fl->overlap, em);
out:
	if (h.fd >= 0)
		close(h.fd);
	return ret;
}

int full_list_open(struct chain *c, const struct full_list_opts *o,
		   struct full_list **out, struct errmsg *em)
{
	struct full_list *fl;
	int ret;

	/* a list with a hole is no list: refuse rather than stop short */
	ret = chain_check(c, em);
	if (ret)
		return ret;
	fl = calloc(1, sizeof(*fl));
	if (!fl)
		return -ENOMEM;
	fl->c = c;
	fl->o = *o;
	fl->kfd = -1;
	fl->hold_fd = -1;
	fl->bank = o->bank ? o->bank : chain_meta(c)->bank;
	fl->next = o->from;
	fl->end = o->count ? o->from + o->count : UINT64_MAX;
	fl->cap = IMA_RECORD_MAX + 128;
	fl->buf = malloc(fl->cap);
	if (!fl->buf) {
		ret = -ENOMEM;
		goto err;
	}
	ret = chain_iter_open(c, o->from < chain_durable(c) ? o->from : chain_durable(c),
			      &fl->it, em);
	if (!ret && o->kernel_list)
		ret = place_kernel(fl, em);
	if (ret)
		goto err;
	*out = fl;
	return 0;
err:
	full_list_free(fl);
	return ret;
}

static int next_kernel(struct full_list *fl, struct ima_record *rec,
		       struct errmsg *em)
{
	struct ima_record s, sb;
	int ret;

	for (;;) {
		ret = list_reader_next(fl->kr, rec, em);
		if (ret <= 0)
			return ret;
		rec->index = fl->kindex++;
		if (rec->index >= chain_durable(fl->c)) {
			fl->kcount++;
			return 1;
		}
		/* still stored: must be the same record */
		ret = chain_iter_next(fl->overlap, &s, em);
		if (ret <= 0)
			return ret ? ret : errmsg_set(em, -EIO, "store ended early");
		ret = record_for_bank(&s, chain_meta(fl->c), fl->bank, &fl->ctx,
				      fl->buf, &sb, em);
		if (ret)
			return ret;
		if (sb.raw_len != rec->raw_len || memcmp(sb.raw, rec->raw, rec->raw_len))
			return errmsg_set(em, -EBADMSG,
					  "record %llu differs between the store and the kernel's list %s: the kernel's list is not the continuation of this chain",
					  (unsigned long long)rec->index, fl->o.kernel_list);
	}
}

int full_list_next(struct full_list *fl, struct ima_record *rec,
		   struct errmsg *em)
{
	struct ima_record s;
	int ret;

	if (fl->next >= fl->end)
		return 0;
	if (fl->next < chain_durable(fl->c)) {
		bool same = fl->bank->tpm_id == chain_meta(fl->c)->bank->tpm_id;

		/* the stored bank: the stored bytes as they are, no copy */
		ret = chain_iter_next(fl->it, same ? rec : &s, em);
		if (ret <= 0)
			return ret ? ret : errmsg_set(em, -EIO, "store ended early");
		ret = same ? 0 : record_for_bank(&s, chain_meta(fl->c), fl->bank,
						 &fl->ctx, fl->buf, rec, em);
		if (ret)
			return ret;
		fl->next++;
		return 1;
	}
	if (!fl->kr)
		return 0;
	do {
		ret = next_kernel(fl, rec, em);
	} while (ret > 0 && rec->index < fl->next);
	if (ret > 0)
		fl->next = rec->index + 1;
	return ret;
}

uint64_t full_list_kernel_records(const struct full_list *fl)
{
	return fl->kcount;
}

void full_list_free(struct full_list *fl)
{
	if (!fl)
		return;
	chain_iter_free(fl->it);
	chain_iter_free(fl->overlap);
	list_reader_free(fl->kr);
	if (fl->kfd >= 0)
		close(fl->kfd);
	if (fl->hold_fd >= 0)
		close(fl->hold_fd);
	hash_ctx_free(fl->ctx);
	free(fl->buf);
	free(fl);
}
