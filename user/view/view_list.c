// SPDX-License-Identifier: GPL-2.0-only
/*
 * The bytes of the view's list files (view_list.h, docs/view.md): records
 * from the store, re-encoded per bank (record_for_bank, as export does) and
 * formatted as the kernel's binary or ASCII list.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "full_list.h"
#include "list_ascii.h"
#include "template.h"
#include "view_list.h"

#define VL_CACHE_MAX 256	/* (offset, index) pairs per file */
#define VL_STRIDE0 64		/* records between pairs, doubled when full */
#define VL_ENDS 16		/* the last ends of file seen */

struct vl_pos {
	uint64_t off, idx;	/* record idx starts at byte off */
};

struct vl_file {
	struct vlist *v;
	const struct hash_alg *bank;
	bool ascii, same;	/* same: the stored bank, bytes as stored */
	struct vl_pos cache[VL_CACHE_MAX];
	unsigned n;
	uint64_t stride;
	struct vl_pos far;	/* the furthest boundary seen */
	/* where the file ended when readers reached its end (agents come back there) */
	struct vl_pos ends[VL_ENDS];
	unsigned nends;
	struct hash_ctx *ctx;
	struct vl_stats st;
};

struct vlist {
	struct chain *c;
	struct vlist_opts o;
	uint64_t gen;		/* bumped when the chain grew: iterators reopen */
	unsigned nbanks;
	const struct hash_alg *banks[PCR_MAX_BANKS + 1];
	struct vl_file *files;	/* 2 per bank: binary, ascii */
	struct template_desc custom;
	bool has_custom;
	/* violations counted so far, records 0 .. vidx-1 */
	struct chain_iter *vit;
	uint64_t vgen, vidx, nviol;
};

struct vl_cursor {
	struct vl_file *f;
	struct chain_iter *it;	/* NULL: reopen before use */
	uint64_t gen;
	uint64_t idx, off;	/* the iterator's next record and its offset */
	/* the last record produced, bytes [poff, poff + plen) of the file */
	const uint8_t *pend;
	size_t plen;
	uint64_t poff;
	bool pvalid, pend_in_iter;
	uint8_t *buf, *rbuf;	/* own bytes; a re-encoded record */
	size_t cap, rcap;
};

static bool bank_listed(const struct vlist *v, const struct hash_alg *b)
{
	for (unsigned i = 0; i < v->nbanks; i++)
		if (v->banks[i]->tpm_id == b->tpm_id)
			return true;
	return false;
}

/* The chain's banks; sha1 always (the kernel always lists it). */
static void pick_banks(struct vlist *v)
{
	const struct chain_meta *m = chain_meta(v->c);

	for (unsigned i = 0; i < m->nbanks && v->nbanks < PCR_MAX_BANKS; i++)
		if (!bank_listed(v, m->banks[i]))
			v->banks[v->nbanks++] = m->banks[i];
	if (!bank_listed(v, m->bank))
		v->banks[v->nbanks++] = m->bank;
	if (!bank_listed(v, hash_alg_by_name("sha1")))
		v->banks[v->nbanks++] = hash_alg_by_name("sha1");
}

int vlist_open(struct vlist **out, struct chain *c, const struct vlist_opts *o,
	       struct errmsg *em)
{
	const struct chain_meta *m = chain_meta(c);
	struct vlist *v = calloc(1, sizeof(*v));

	if (!v)
		return -ENOMEM;
	v->c = c;
	if (o)
		v->o = *o;
	v->gen = 1;
	pick_banks(v);
	if (m->template_fmt[0] && !template_from_fmt("", m->template_fmt, &v->custom, em))
		v->has_custom = true;
	v->files = calloc(2 * v->nbanks, sizeof(*v->files));
	if (!v->files) {
		free(v);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < 2 * v->nbanks; i++) {
		struct vl_file *f = &v->files[i];

		f->v = v;
		f->bank = v->banks[i / 2];
		f->ascii = i % 2;
		f->same = f->bank->tpm_id == m->bank->tpm_id;
		f->stride = VL_STRIDE0;
		f->n = 1;	/* cache[0] = {0, 0} */
	}
	*out = v;
	return 0;
}

void vlist_free(struct vlist *v)
{
	if (!v)
		return;
	for (unsigned i = 0; i < 2 * v->nbanks; i++)
		hash_ctx_free(v->files[i].ctx);
	chain_iter_free(v->vit);
	free(v->files);
	chain_close(v->c);
	free(v);
}

const struct chain_meta *vlist_meta(const struct vlist *v)
{
	return chain_meta(v->c);
}

unsigned vlist_nbanks(const struct vlist *v)
{
	return v->nbanks;
}

const struct hash_alg *vlist_bank(const struct vlist *v, unsigned i)
{
	return i < v->nbanks ? v->banks[i] : NULL;
}

struct vl_file *vlist_file(struct vlist *v, unsigned bank, bool ascii)
{
	return bank < v->nbanks ? &v->files[2 * bank + (ascii ? 1 : 0)] : NULL;
}

int vlist_update(struct vlist *v, struct errmsg *em)
{
	bool changed = false;
	int ret;

	if (v->o.fresh) {
		ret = v->o.fresh(v->o.fresh_arg, em);
		if (ret)
			return ret;
	}
	ret = vchain_catch_up(v->c, &changed, em);
	if (ret)
		return ret;
	if (changed)
		v->gen++;
	for (unsigned i = 0; i < 2 * v->nbanks; i++)
		v->files[i].st.updates++;
	return 0;
}

uint64_t vlist_count(const struct vlist *v)
{
	return chain_durable(v->c);
}

int vlist_violations(struct vlist *v, uint64_t *out, struct errmsg *em)
{
	struct ima_record rec;
	int ret;

	if (v->vgen != v->gen) {
		chain_iter_free(v->vit);
		v->vit = NULL;
		ret = chain_iter_open(v->c, v->vidx, &v->vit, em);
		if (ret)
			return ret;
		v->vgen = v->gen;
	}
	while ((ret = chain_iter_next(v->vit, &rec, em)) > 0) {
		v->vidx++;
		if (ima_record_is_violation(&rec))
			v->nviol++;
	}
	if (ret < 0) {
		v->vgen = 0;	/* reopen at vidx next time */
		return ret;
	}
	*out = v->nviol;
	return 0;
}

/* ---- the (offset, index) cache of a file ---- */

/* Keep every other pair: the stride doubles, memory stays the same. */
static void cache_thin(struct vl_file *f)
{
	unsigned n = 0;

	f->stride *= 2;
	for (unsigned i = 0; i < f->n; i++)
		if (f->cache[i].idx % f->stride == 0)
			f->cache[n++] = f->cache[i];
	f->n = n;
}

static void cache_note(struct vl_file *f, uint64_t idx, uint64_t off)
{
	if (idx > f->far.idx)
		f->far = (struct vl_pos){ off, idx };
	if (idx % f->stride || f->cache[f->n - 1].idx >= idx)
		return;
	if (f->n == VL_CACHE_MAX) {
		cache_thin(f);
		if (idx % f->stride)
			return;
	}
	f->cache[f->n++] = (struct vl_pos){ off, idx };
}

static void end_note(struct vl_file *f, uint64_t idx, uint64_t off)
{
	if (f->nends && f->ends[(f->nends - 1) % VL_ENDS].idx == idx)
		return;
	f->ends[f->nends++ % VL_ENDS] = (struct vl_pos){ off, idx };
}

/* The known boundary nearest at or below `off`. */
static struct vl_pos cache_find(const struct vl_file *f, uint64_t off)
{
	unsigned lo = 0, hi = f->n;
	struct vl_pos best;

	if (f->far.off <= off)
		return f->far;
	while (hi - lo > 1) {
		unsigned mid = (lo + hi) / 2;

		if (f->cache[mid].off <= off)
			lo = mid;
		else
			hi = mid;
	}
	best = f->cache[lo];
	for (unsigned i = 0; i < VL_ENDS && i < f->nends; i++)
		if (f->ends[i].off <= off && f->ends[i].off > best.off)
			best = f->ends[i];
	return best;
}

void vl_file_stats(const struct vl_file *f, struct vl_stats *st)
{
	*st = f->st;
	st->cache_entries = f->n;
	st->cache_stride = f->stride;
}

/* ---- cursors ---- */

int vl_cursor_new(struct vl_file *f, struct vl_cursor **out)
{
	struct vl_cursor *cur = calloc(1, sizeof(*cur));

	if (!cur)
		return -ENOMEM;
	cur->f = f;
	*out = cur;
	return 0;
}

void vl_cursor_free(struct vl_cursor *cur)
{
	if (!cur)
		return;
	chain_iter_free(cur->it);
	free(cur->buf);
	free(cur->rbuf);
	free(cur);
}

static int grow(uint8_t **buf, size_t *cap, size_t need)
{
	uint8_t *nb;

	if (*cap >= need)
		return 0;
	nb = realloc(*buf, need);
	if (!nb)
		return -ENOMEM;
	*buf = nb;
	*cap = need;
	return 0;
}

/* The last record's bytes survive the iterator they point into. */
static int pend_own(struct vl_cursor *cur)
{
	int ret;

	if (!cur->pvalid || !cur->pend_in_iter)
		return 0;
	ret = grow(&cur->buf, &cur->cap, cur->plen);
	if (ret) {
		cur->pvalid = false;
		return ret;
	}
	memcpy(cur->buf, cur->pend, cur->plen);
	cur->pend = cur->buf;
	cur->pend_in_iter = false;
	return 0;
}

static int cursor_open(struct vl_cursor *cur, struct vl_pos p, struct errmsg *em)
{
	struct vlist *v = cur->f->v;
	int ret;

	pend_own(cur);
	chain_iter_free(cur->it);
	cur->it = NULL;
	ret = chain_iter_open(v->c, p.idx, &cur->it, em);
	if (ret)
		return ret;
	cur->idx = p.idx;
	cur->off = p.off;
	cur->gen = v->gen;
	cur->f->st.iter_opens++;
	return 0;
}

/* An iterator at a record boundary at or below pos, as near as known. */
static int cursor_seek(struct vl_cursor *cur, uint64_t pos, struct errmsg *em)
{
	struct vl_pos p = cache_find(cur->f, pos);
	bool live = cur->it && cur->gen == cur->f->v->gen;

	if (live && cur->off <= pos && cur->off >= p.off)
		return 0;
	if (cur->it || cur->off)
		cur->f->st.seeks++;
	/* the chain grew (or a record failed): reopen where the cursor is */
	if (cur->off <= pos && cur->off > p.off)
		p = (struct vl_pos){ cur->off, cur->idx };
	return cursor_open(cur, p, em);
}

static int encode(struct vl_cursor *cur, const struct ima_record *rec,
		  struct errmsg *em)
{
	struct vl_file *f = cur->f;
	struct ima_record res;
	long n;
	int ret;

	if (f->same) {
		res = *rec;
	} else {
		ret = grow(&cur->rbuf, &cur->rcap, rec->raw_len + 64);
		if (!ret)
			ret = record_for_bank(rec, chain_meta(f->v->c), f->bank, &f->ctx,
					      cur->rbuf, &res, em);
		if (ret)
			return ret;
	}
	if (!f->ascii) {
		cur->pend = res.raw;
		cur->plen = res.raw_len;
		cur->pend_in_iter = f->same;
		return 0;
	}
	ret = grow(&cur->buf, &cur->cap, list_ascii_max_line(&res));
	if (ret)
		return ret;
	n = list_ascii_format(&res, f->v->has_custom ? &f->v->custom : NULL,
			      (char *)cur->buf, cur->cap, em);
	if (n < 0)
		return (int)n;
	cur->pend = cur->buf;
	cur->plen = (size_t)n;
	cur->pend_in_iter = false;
	return 0;
}

/* The record at the cursor becomes the pending one: 1, 0 at the end, < 0. */
static int cursor_next(struct vl_cursor *cur, struct errmsg *em)
{
	struct ima_record rec;
	int ret;

	cur->pvalid = false;
	ret = chain_iter_next(cur->it, &rec, em);
	if (ret > 0)
		ret = encode(cur, &rec, em);
	else if (!ret)
		return 0;
	if (ret < 0) {
		/* the iterator is past a record we could not serve: reopen */
		chain_iter_free(cur->it);
		cur->it = NULL;
		return ret;
	}
	cur->poff = cur->off;
	cur->pvalid = true;
	cur->idx++;
	cur->off += cur->plen;
	cache_note(cur->f, cur->idx, cur->off);
	return 1;
}

ssize_t vl_read(struct vl_cursor *cur, char *buf, size_t len, uint64_t off,
		struct errmsg *em)
{
	size_t out = 0;
	uint64_t pos = off;
	bool updated = false;
	int ret = 0;

	cur->f->st.reads++;
	while (out < len) {
		if (cur->pvalid && cur->poff <= pos && pos < cur->poff + cur->plen) {
			size_t k = (size_t)(cur->poff + cur->plen - pos);

			if (k > len - out)
				k = len - out;
			memcpy(buf + out, cur->pend + (pos - cur->poff), k);
			out += k;
			pos += k;
			continue;
		}
		/* sequential: the iterator is where the read goes on */
		ret = 0;
		if (!cur->it || cur->gen != cur->f->v->gen || cur->off != pos)
			ret = cursor_seek(cur, pos, em);
		if (!ret)
			ret = cursor_next(cur, em);
		if (ret < 0)
			break;
		if (ret > 0) {
			if (cur->poff + cur->plen <= pos)
				cur->f->st.records_skipped++;
			continue;
		}
		/* the end of what is stored: once, bring the store up to date */
		end_note(cur->f, cur->idx, cur->off);
		if (updated)
			break;
		updated = true;
		ret = vlist_update(cur->f->v, em);
		if (ret < 0)
			break;
	}
	if (ret < 0 && !out)
		return ret;
	return (ssize_t)out;
}
