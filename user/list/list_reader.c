// SPDX-License-Identifier: GPL-2.0-only
/*
 * Streaming reader of a measurement list from a file descriptor. The buffer
 * only ever holds the unread part of the input plus one record, so memory
 * stays flat however long the list is.
 */
#include <ctype.h>
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "list_ascii.h"
#include "list_reader.h"
#include "securityfs.h"

#define READ_CHUNK (256u << 10)
#define BUF_MAX (2u * IMA_RECORD_MAX + 4096u)	/* an ASCII line doubles */

struct list_reader {
	int fd;
	enum list_format format;
	const struct hash_alg *bank;
	enum list_endian endian;
	const char *path;
	bool have_custom;
	struct template_desc custom;
	uint8_t *buf;
	size_t cap, start, end;
	bool eof;
	uint64_t offset;	/* stream offset of buf[start] */
	uint64_t index;		/* index of the next record */
	uint8_t *bin;		/* ASCII input: the record rebuilt in binary */
	size_t bin_cap;
};

const struct hash_alg *list_bank_from_path(const char *path)
{
	static const char *const stems[] = {
		"binary_runtime_measurements", "ascii_runtime_measurements",
	};
	const char *base, *rest;
	char alg[32];
	size_t n;

	if (!path)
		return NULL;
	base = strrchr(path, '/');
	base = base ? base + 1 : path;
	for (size_t i = 0; i < 2; i++) {
		n = strlen(stems[i]);
		if (strncmp(base, stems[i], n))
			continue;
		rest = base + n;
		/* legacy names are the sha1 list */
		if (!*rest || !strcmp(rest, IMA_STAGED_SUFFIX))
			return hash_alg_by_name("sha1");
		if (*rest != '_')
			return NULL;
		rest++;
		n = strlen(rest);
		if (n > strlen(IMA_STAGED_SUFFIX) &&
		    !strcmp(rest + n - strlen(IMA_STAGED_SUFFIX), IMA_STAGED_SUFFIX))
			n -= strlen(IMA_STAGED_SUFFIX);
		if (n >= sizeof(alg))
			return NULL;
		memcpy(alg, rest, n);
		alg[n] = '\0';
		return hash_alg_by_name(alg);
	}
	return NULL;
}

static int fill(struct list_reader *r, struct errmsg *em)
{
	ssize_t n;
	size_t want;

	if (r->eof)
		return 0;
	if (r->start > 0 && (r->start == r->end || r->cap - r->end < READ_CHUNK)) {
		memmove(r->buf, r->buf + r->start, r->end - r->start);
		r->end -= r->start;
		r->start = 0;
	}
	if (r->cap - r->end < READ_CHUNK / 4) {
		size_t ncap = r->cap * 2;
		uint8_t *nb;

		if (r->cap >= BUF_MAX)
			return errmsg_set(em, -EFBIG,
					  "%s: record %llu at byte offset %llu is larger than %u bytes",
					  r->path, (unsigned long long)r->index,
					  (unsigned long long)r->offset, BUF_MAX);
		nb = realloc(r->buf, ncap);
		if (!nb)
			return -ENOMEM;
		r->buf = nb;
		r->cap = ncap;
	}
	want = r->cap - r->end;
	do {
		n = read(r->fd, r->buf + r->end, want);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return errmsg_set(em, -errno, "%s: read at byte offset %llu: %s",
				  r->path,
				  (unsigned long long)(r->offset + r->end - r->start),
				  strerror(errno));
	if (n == 0)
		r->eof = true;
	r->end += (size_t)n;
	return 0;
}

/* Fill until `want` bytes are buffered or the input ends. */
static int fill_to(struct list_reader *r, size_t want, struct errmsg *em)
{
	int ret = 0;

	while (!ret && !r->eof && r->end - r->start < want)
		ret = fill(r, em);
	return ret;
}

static bool name_plausible(const struct ima_record *rec)
{
	for (uint32_t i = 0; i < rec->name_len; i++)
		if (!isgraph((unsigned char)rec->name[i]))
			return false;
	return true;
}

/* Among banks of one width, the one whose hash gives the record's digest. */
static const struct hash_alg *bank_by_digest(const struct ima_record *rec)
{
	const struct hash_alg *all = hash_alg_all(), *first = NULL;
	uint8_t d[IMA_MAX_DIGEST];

	for (size_t i = 0; i < hash_alg_count(); i++) {
		struct hash_ctx *ctx;
		int ok;

		if (all[i].size != rec->digest_len)
			continue;
		if (!first)
			first = &all[i];
		if (ima_record_is_violation(rec) ||
		    hash_ctx_new_template(&all[i], &ctx))
			continue;
		ok = !ima_record_template_digest(rec, ctx, d) &&
		     !memcmp(d, rec->digest, rec->digest_len);
		hash_ctx_free(ctx);
		if (ok)
			return &all[i];
	}
	return first;
}

/*
 * A bank named by the caller or the file name may still be one the kernel
 * had no hash for (padded SHA-1 digests): the first record tells.
 */
static void confirm_bank(struct list_reader *r)
{
	const struct hash_alg *twin = hash_alg_padded(r->bank);
	struct ima_record rec;
	struct hash_ctx *ctx = NULL;
	uint8_t d[IMA_MAX_DIGEST];
	bool real_ok, twin_ok;

	if (twin == r->bank || r->format != LIST_FORMAT_BINARY ||
	    ima_record_parse(r->buf + r->start, r->end - r->start, r->bank->size,
			     r->endian, 0, 0, &rec, NULL) <= 0 ||
	    ima_record_is_violation(&rec))
		return;
	real_ok = !hash_ctx_new_template(r->bank, &ctx) &&
		  !ima_record_template_digest(&rec, ctx, d) &&
		  !memcmp(d, rec.digest, rec.digest_len);
	hash_ctx_free(ctx);
	ctx = NULL;
	twin_ok = !hash_ctx_new_template(twin, &ctx) &&
		  !ima_record_template_digest(&rec, ctx, d) &&
		  !memcmp(d, rec.digest, rec.digest_len);
	hash_ctx_free(ctx);
	if (!real_ok && twin_ok)
		r->bank = twin;
}

/* The bank an ASCII list's first line has the width of ("PCR DIGEST ..."), or NULL. */
static const struct hash_alg *ascii_width_bank(const char *p, const char *end)
{
	const char *d, *sp;

	while (p < end && *p == ' ')
		p++;
	d = memchr(p, ' ', (size_t)(end - p));
	sp = d ? memchr(d + 1, ' ', (size_t)(end - d - 1)) : NULL;
	if (!sp)
		return NULL;
	for (const struct hash_alg *a = hash_alg_all();
	     a < hash_alg_all() + hash_alg_count(); a++)
		if ((size_t)(sp - d - 1) == 2u * a->size)
			return a;	/* width is what matters to parsing */
	return NULL;
}

/* Lines of text (no NUL, no control byte but tabs and line ends): no binary list. */
static bool looks_like_text(const uint8_t *p, size_t len)
{
	bool nl = false;

	for (size_t i = 0; i < len && i < 4096; i++) {
		if (p[i] == '\n')
			nl = true;
		else if (p[i] < 0x20 && p[i] != '\t' && p[i] != '\r')
			return false;
	}
	return nl;
}

/* What to say of a binary list whose bank cannot be told. */
static int binary_unknown(struct list_reader *r, struct errmsg *em)
{
	const uint8_t *p = r->buf + r->start;
	size_t len = r->end - r->start;

	if (looks_like_text(p, len) && ascii_width_bank((const char *)p, (const char *)p + len))
		return errmsg_set(em, -EBADMSG,
				  "%s: this looks like an ASCII measurement list, not a binary one: read it with --format ascii (or --format auto)",
				  r->path);
	if (looks_like_text(p, len))
		return errmsg_set(em, -EBADMSG,
				  "%s: this is a text file, not a binary measurement list (an ASCII list, as in ascii_runtime_measurements, is read with --format ascii)",
				  r->path);
	return errmsg_set(em, -EBADMSG,
			  "%s: cannot tell the bank of this list from its first record; give it with --bank",
			  r->path);
}

static int probe_binary_bank(struct list_reader *r, struct errmsg *em)
{
	static const uint16_t widths[] = { 20, 32, 48, 64 };
	const uint8_t *p = r->buf + r->start;
	size_t len = r->end - r->start;
	struct ima_record rec, next;

	for (size_t i = 0; i < sizeof(widths) / sizeof(widths[0]); i++) {
		long n = ima_record_parse(p, len, widths[i], r->endian, 0, 0,
					  &rec, NULL);

		if (n <= 0 || !name_plausible(&rec))
			continue;
		/* a second record, if buffered, must parse with the same width */
		if ((size_t)n < len) {
			long m = ima_record_parse(p + n, len - (size_t)n,
						  widths[i], r->endian, 1,
						  (uint64_t)n, &next, NULL);
			if (m == -EBADMSG || (m > 0 && !name_plausible(&next)))
				continue;
		}
		r->bank = bank_by_digest(&rec);
		return 0;
	}
	return binary_unknown(r, em);
}

static int probe_ascii_bank(struct list_reader *r, struct errmsg *em)
{
	r->bank = ascii_width_bank((const char *)r->buf + r->start,
				   (const char *)r->buf + r->end);
	if (r->bank)
		return 0;
	return errmsg_set(em, -EBADMSG,
			  "%s: cannot tell the bank of this ASCII list from its first line; give it with --bank",
			  r->path);
}

static int probe(struct list_reader *r, struct errmsg *em)
{
	size_t avail;
	int ret;

	ret = fill_to(r, 64u << 10, em);
	if (ret)
		return ret;
	avail = r->end - r->start;
	if (r->format == LIST_FORMAT_AUTO) {
		/* an ASCII list starts "%2d ": a digit or a space; binary a PCR u32 */
		uint8_t c = avail ? r->buf[r->start] : 0;

		r->format = (c == ' ' || isdigit(c)) ? LIST_FORMAT_ASCII :
						       LIST_FORMAT_BINARY;
	}
	if (r->format == LIST_FORMAT_BINARY && r->endian == LIST_ENDIAN_AUTO)
		r->endian = ima_endian_guess(r->buf + r->start, avail);
	if (r->format == LIST_FORMAT_ASCII && r->endian == LIST_ENDIAN_AUTO)
		r->endian = LIST_ENDIAN_HOST;
	if (r->bank || avail == 0) {
		if (!r->bank)
			r->bank = hash_alg_by_name("sha1");
		confirm_bank(r);
		return 0;
	}
	if (r->format == LIST_FORMAT_ASCII)
		return probe_ascii_bank(r, em);
	return probe_binary_bank(r, em);
}

int list_reader_open(struct list_reader **out, int fd,
		     const struct list_reader_opts *opts, struct errmsg *em)
{
	struct list_reader *r;
	int ret;

	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->fd = fd;
	r->path = opts->path ? opts->path : "(input)";
	r->format = opts->format;
	r->index = opts->first_index;
	r->endian = opts->endian;
	r->bank = opts->bank ? opts->bank : list_bank_from_path(opts->path);
	if (opts->template_fmt) {
		ret = template_from_fmt("", opts->template_fmt, &r->custom, em);
		if (ret)
			goto err;
		r->have_custom = true;
	}
	r->cap = READ_CHUNK;
	r->buf = malloc(r->cap);
	if (!r->buf) {
		ret = -ENOMEM;
		goto err;
	}
	ret = probe(r, em);
	if (ret)
		goto err;
	*out = r;
	return 0;
err:
	list_reader_free(r);
	return ret;
}

void list_reader_free(struct list_reader *r)
{
	if (!r)
		return;
	free(r->buf);
	free(r->bin);
	free(r);
}

static int truncated(struct list_reader *r, struct errmsg *em)
{
	return errmsg_set(em, -EBADMSG,
			  "%s: record %llu at byte offset %llu is truncated: the list ends after %zu of its bytes",
			  r->path, (unsigned long long)r->index,
			  (unsigned long long)r->offset, r->end - r->start);
}

static int next_binary(struct list_reader *r, struct ima_record *rec,
		       struct errmsg *em)
{
	long n;
	int ret;

	for (;;) {
		n = ima_record_parse(r->buf + r->start, r->end - r->start,
				     r->bank->size, r->endian, r->index,
				     r->offset, rec, em);
		if (n > 0)
			break;
		if (n != -EAGAIN) {
			errmsg_prefix(em, "%s", r->path);
			return (int)n;
		}
		if (r->eof)
			return r->end == r->start ? 0 : truncated(r, em);
		ret = fill(r, em);
		if (ret)
			return ret;
	}
	r->start += (size_t)n;
	r->offset += (uint64_t)n;
	r->index++;
	return 1;
}

static int next_ascii(struct list_reader *r, struct ima_record *rec,
		      struct errmsg *em)
{
	const char *line;
	uint8_t *nl;
	size_t len, need;
	long n;
	int ret;

	for (;;) {
		nl = memchr(r->buf + r->start, '\n', r->end - r->start);
		if (nl)
			break;
		if (r->eof)
			return r->end == r->start ? 0 : truncated(r, em);
		ret = fill(r, em);
		if (ret)
			return ret;
	}
	line = (const char *)r->buf + r->start;
	len = (size_t)(nl - (r->buf + r->start));
	need = len / 2 + 64 + 4 * TEMPLATE_FIELDS_MAX;
	if (need > r->bin_cap) {
		uint8_t *nb = realloc(r->bin, need);

		if (!nb)
			return -ENOMEM;
		r->bin = nb;
		r->bin_cap = need;
	}
	n = list_ascii_parse_line(line, len, r->bank->size,
				  r->have_custom ? &r->custom : NULL,
				  r->endian == LIST_ENDIAN_LITTLE ||
				  (r->endian == LIST_ENDIAN_HOST &&
				   htole32(1) == 1),
				  r->bin, r->bin_cap, em);
	if (n > 0)
		n = ima_record_parse(r->bin, (size_t)n, r->bank->size,
				     r->endian, r->index, r->offset, rec, em);
	if (n < 0) {
		errmsg_prefix(em, "%s: line %llu at byte offset %llu",
			      r->path, (unsigned long long)r->index + 1,
			      (unsigned long long)r->offset);
		return n == -EAGAIN ? -EBADMSG : (int)n;
	}
	r->start += len + 1;
	r->offset += len + 1;
	r->index++;
	return 1;
}

int list_reader_next(struct list_reader *r, struct ima_record *rec,
		     struct errmsg *em)
{
	if (r->format == LIST_FORMAT_ASCII)
		return next_ascii(r, rec, em);
	return next_binary(r, rec, em);
}

int list_reader_next_batch(struct list_reader *r, struct ima_record *recs,
			   unsigned max, struct errmsg *em)
{
	unsigned n;
	long len;
	int ret;

	if (!max)
		return 0;
	ret = list_reader_next(r, &recs[0], em);
	if (ret <= 0 || r->format == LIST_FORMAT_ASCII)
		return ret;
	/* more records already buffered: no read, so no pointer moves */
	for (n = 1; n < max; n++) {
		len = ima_record_parse(r->buf + r->start, r->end - r->start,
				       r->bank->size, r->endian, r->index,
				       r->offset, &recs[n], NULL);
		if (len <= 0)
			break;	/* incomplete or bad: the next call tells */
		r->start += (size_t)len;
		r->offset += (uint64_t)len;
		r->index++;
	}
	return (int)n;
}

const struct hash_alg *list_reader_bank(const struct list_reader *r)
{
	return r->bank;
}

enum list_format list_reader_format(const struct list_reader *r)
{
	return r->format;
}

uint64_t list_reader_offset(const struct list_reader *r)
{
	return r->offset;
}

uint64_t list_reader_index(const struct list_reader *r)
{
	return r->index;
}
