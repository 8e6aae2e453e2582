// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "full_list.h"
#include "list_reader.h"

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
	struct list_reader *kr;
	struct chain_iter *overlap;	/* stored records the kernel still holds */
	uint64_t kindex;		/* chain index of the kernel's next record */
	uint64_t kcount;
};

static const struct hash_alg *mode_of(const struct chain_meta *m,
				      const struct hash_alg *bank)
{
	for (unsigned i = 0; i < m->nbanks; i++)
		if (m->banks[i]->tpm_id == bank->tpm_id)
			return m->banks[i];
	return bank;
}

int record_for_bank(const struct ima_record *rec, const struct chain_meta *m,
		    const struct hash_alg *bank, struct hash_ctx **ctx,
		    uint8_t *out, struct ima_record *res, struct errmsg *em)
{
	const struct hash_alg *alg = mode_of(m, bank);
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

int kernel_first_index(struct chain *c, const char *boot_id, uint64_t *first,
		       uint64_t *alt, struct errmsg *em)
{
	const struct chain_meta *m = chain_meta(c);
	enum trim_state st;
	uint64_t k;
	int ret;

	*first = *alt = UINT64_MAX;
	for (unsigned i = 0; i < m->nboots; i++)
		if (!strcmp(m->boots[i].id, boot_id))
			*first = m->boots[i].first_index;
	ret = chain_trim_last(c, boot_id, &k, &st, em);
	if (ret == -ENOENT)
		return *first == UINT64_MAX ?
		       errmsg_set(em, -ENOENT, "boot %s is not in chain %s",
				  boot_id, m->chain) : 0;
	if (ret)
		return ret;
	if (st == TRIM_DONE) {
		*first = k;
	} else {
		/* a trim was under way: it did or did not happen */
		uint64_t done;

		ret = chain_trim_last_done(c, boot_id, &done, em);
		if (ret && ret != -ENOENT)
			return ret;
		*alt = ret ? *first : done;
		*first = k;
	}
	return 0;
}

static int open_kernel(struct full_list *fl, struct errmsg *em)
{
	struct list_reader_opts lo = { .bank = fl->bank, .path = fl->o.kernel_list };
	struct timespec ts = { 0, 20 * 1000 * 1000 };

	/* the daemon holds the list open for writing for short moments */
	for (int i = 0; i < 100; i++) {
		fl->kfd = open(fl->o.kernel_list, O_RDONLY | O_CLOEXEC);
		if (fl->kfd >= 0 || errno != EBUSY)
			break;
		nanosleep(&ts, NULL);
	}
	if (fl->kfd < 0)
		return errmsg_set(em, -errno, "%s: %s", fl->o.kernel_list, strerror(errno));
	return list_reader_open(&fl->kr, fl->kfd, &lo, em);
}

/* The kernel's head must be the stored records it overlaps, byte for byte. */
static int place_kernel(struct full_list *fl, struct errmsg *em)
{
	uint64_t first, alt;
	int ret;

	ret = kernel_first_index(fl->c, fl->o.boot_id, &first, &alt, em);
	if (ret)
		return ret;
	if (alt != UINT64_MAX) {
		/* pick the candidate whose stored record equals the kernel's head */
		struct ima_record k, s;
		struct chain_iter *it;
		uint64_t pick = first;

		ret = list_reader_next(fl->kr, &k, em);
		if (ret < 0)
			return ret;
		if (ret > 0 && first < chain_durable(fl->c) &&
		    !chain_iter_open(fl->c, first, &it, NULL)) {
			uint8_t *copy = malloc(k.raw_len);

			if (!copy) {
				chain_iter_free(it);
				return -ENOMEM;
			}
			memcpy(copy, k.raw, k.raw_len);
			if (chain_iter_next(it, &s, NULL) <= 0 || s.raw_len != k.raw_len ||
			    memcmp(s.raw, copy, k.raw_len))
				pick = alt;
			free(copy);
			chain_iter_free(it);
		}
		/* reopen: the first record was consumed */
		list_reader_free(fl->kr);
		close(fl->kfd);
		fl->kr = NULL;
		ret = open_kernel(fl, em);
		if (ret)
			return ret;
		first = pick;
	}
	if (first > chain_durable(fl->c))
		return errmsg_set(em, -ENODATA,
				  "the kernel's list starts at record %llu but the store has only %llu: records %llu..%llu are lost",
				  (unsigned long long)first,
				  (unsigned long long)chain_durable(fl->c),
				  (unsigned long long)chain_durable(fl->c),
				  (unsigned long long)first - 1);
	fl->kindex = first;
	if (first < chain_durable(fl->c))
		return chain_iter_open(fl->c, first, &fl->overlap, em);
	return 0;
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
	if (!ret && o->kernel_list) {
		ret = open_kernel(fl, em);
		if (!ret)
			ret = place_kernel(fl, em);
	}
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
	hash_ctx_free(fl->ctx);
	free(fl->buf);
	free(fl);
}
