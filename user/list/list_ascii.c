// SPDX-License-Identifier: GPL-2.0-only
/*
 * The ASCII list, byte for byte as ima_ascii_measurements_show() and the
 * field show functions of ima_template_lib.c print it, and back.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "list_ascii.h"

static const char hexdig[] = "0123456789abcdef";

struct out {
	char *p;
	size_t len, cap;
};

static int put(struct out *o, const void *s, size_t n)
{
	if (o->cap - o->len < n)
		return -ENOSPC;
	memcpy(o->p + o->len, s, n);
	o->len += n;
	return 0;
}

static int put_hex(struct out *o, const uint8_t *b, size_t n)
{
	if (o->cap - o->len < 2 * n)
		return -ENOSPC;
	for (size_t i = 0; i < n; i++) {
		o->p[o->len++] = hexdig[b[i] >> 4];
		o->p[o->len++] = hexdig[b[i] & 15];
	}
	return 0;
}

/* The kernel prints strings with %s: up to the first NUL. */
static int put_cstr(struct out *o, const uint8_t *b, size_t n)
{
	const uint8_t *nul = memchr(b, '\0', n);

	return put(o, b, nul ? (size_t)(nul - b) : n);
}

static int put_uint(struct out *o, const struct field_view *f, bool le)
{
	char tmp[24];
	unsigned long long v = 0;
	int n;

	/* DATA_FMT_UINT: only 1, 2, 4, 8 bytes print anything */
	if (f->len != 1 && f->len != 2 && f->len != 4 && f->len != 8)
		return 0;
	for (uint32_t i = 0; i < f->len; i++) {
		unsigned shift = 8 * (le ? i : f->len - 1 - i);

		v |= (unsigned long long)f->data[i] << shift;
	}
	n = snprintf(tmp, sizeof(tmp), "%llu", v);
	return put(o, tmp, (size_t)n);
}

/*
 * DATA_FMT_DIGEST_WITH_(TYPE_AND_)ALGO: print the string up to its last
 * ':' (unless that ':' is the first byte), skip ':' and NUL, hex the rest.
 */
static int put_digest_with_algo(struct out *o, const struct field_view *f)
{
	const uint8_t *nul = memchr(f->data, '\0', f->len);
	size_t slen, colon = SIZE_MAX, skip;
	int ret;

	if (!nul)
		return -EBADMSG;
	slen = (size_t)(nul - f->data);
	for (size_t i = 0; i < slen; i++)
		if (f->data[i] == ':')
			colon = i;
	if (colon == SIZE_MAX || colon + 2 > f->len)
		return -EBADMSG;
	if (colon != 0) {
		ret = put(o, f->data, slen);
		if (ret)
			return ret;
	}
	skip = colon + 2;
	return put_hex(o, f->data + skip, f->len - skip);
}

static int put_field(struct out *o, enum field_fmt fmt,
		     const struct field_view *f, bool le)
{
	switch (fmt) {
	case FIELD_FMT_DIGEST:
	case FIELD_FMT_HEX:
		return put_hex(o, f->data, f->len);
	case FIELD_FMT_DIGEST_WITH_ALGO:
	case FIELD_FMT_DIGEST_WITH_TYPE_AND_ALGO:
		return put_digest_with_algo(o, f);
	case FIELD_FMT_STRING:
		return put_cstr(o, f->data, f->len);
	case FIELD_FMT_UINT:
		return put_uint(o, f, le);
	case FIELD_FMT_UNKNOWN:
		break;
	}
	return -EOPNOTSUPP;
}

size_t list_ascii_max_line(const struct ima_record *rec)
{
	/* pcr + digest + name + every byte as two hex digits + separators */
	return 16 + 2u * rec->digest_len + rec->name_len + 2u * rec->data_len +
	       4u * TEMPLATE_FIELDS_MAX + 32;
}

long list_ascii_format(const struct ima_record *rec,
		       const struct template_desc *desc, char *buf,
		       size_t buflen, struct errmsg *em)
{
	struct template_desc tmp;
	struct field_view fields[TEMPLATE_FIELDS_MAX];
	struct out o = { buf, 0, buflen };
	char head[16];
	int n, ret;

	ret = template_resolve(rec->name, desc, &tmp, &desc, em);
	if (ret) {
		errmsg_prefix(em, "record %llu", (unsigned long long)rec->index);
		return ret;
	}
	n = template_split(rec, fields, TEMPLATE_FIELDS_MAX, em);
	if (n < 0)
		return n;
	if ((unsigned)n != desc->nfields)
		return errmsg_set(em, -EBADMSG,
				  "record %llu at byte offset %llu: template '%s' has %u fields, the record %d",
				  (unsigned long long)rec->index,
				  (unsigned long long)rec->offset, rec->name,
				  desc->nfields, n);
	snprintf(head, sizeof(head), "%2d ", (int)rec->pcr);
	ret = put(&o, head, strlen(head));
	if (!ret)
		ret = put_hex(&o, rec->digest, rec->digest_len);
	if (!ret)
		ret = put(&o, " ", 1);
	if (!ret)
		ret = put(&o, rec->name, rec->name_len);
	for (int i = 0; !ret && i < n; i++) {
		ret = put(&o, " ", 1);
		if (ret || fields[i].len == 0)
			continue;
		ret = put_field(&o, desc->fields[i].fmt, &fields[i],
				rec->little_endian);
		if (ret == -EBADMSG || ret == -EOPNOTSUPP)
			return errmsg_set(em, ret,
					  "record %llu at byte offset %llu: field %d ('%s') %s",
					  (unsigned long long)rec->index,
					  (unsigned long long)rec->offset, i,
					  desc->fields[i].id,
					  ret == -EBADMSG ? "is malformed" :
					  "has no known ASCII form");
	}
	if (!ret)
		ret = put(&o, "\n", 1);
	if (ret)
		return errmsg_set(em, ret, "record %llu: ASCII line too long",
				  (unsigned long long)rec->index);
	return (long)o.len;
}

/* ---- ASCII back to binary ---- */

struct in {
	const char *p, *end;
};

/* Next space-separated token (may be empty). */
static void next_token(struct in *in, const char **tok, size_t *len)
{
	const char *sp = memchr(in->p, ' ', (size_t)(in->end - in->p));

	*tok = in->p;
	*len = sp ? (size_t)(sp - in->p) : (size_t)(in->end - in->p);
	in->p = sp ? sp + 1 : in->end;
}

static int unhex(const char *s, size_t n, uint8_t *out)
{
	if (n % 2)
		return -EBADMSG;
	for (size_t i = 0; i < n; i += 2) {
		int hi = -1, lo = -1;
		const char *a = strchr(hexdig, s[i] | 0x20);
		const char *b = strchr(hexdig, s[i + 1] | 0x20);

		if (s[i] && a)
			hi = (int)(a - hexdig);
		if (s[i + 1] && b)
			lo = (int)(b - hexdig);
		if (hi < 0 || lo < 0)
			return -EBADMSG;
		out[i / 2] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

static int put_u32(struct out *o, uint32_t v, bool le)
{
	uint8_t b[4];

	ima_put_u32(b, v, le);
	return put(o, b, 4);
}

static int put_unhex(struct out *o, const char *s, size_t n)
{
	if (o->cap - o->len < n / 2)
		return -ENOSPC;
	if (unhex(s, n, (uint8_t *)o->p + o->len))
		return -EBADMSG;
	o->len += n / 2;
	return 0;
}

static uint32_t uint_width(const char *id)
{
	/* ima_eventinodedac_init_common: unsigned int; imode: umode_t */
	return strcmp(id, "imode") ? 4 : 2;
}

/* Field bytes from its ASCII text; the u32 length is patched in after. */
static int field_from_text(struct out *o, const struct template_field *tf,
			   const char *tok, size_t n, bool le)
{
	const char *colon = NULL;
	unsigned long long v = 0;
	uint32_t w;

	switch (tf->fmt) {
	case FIELD_FMT_DIGEST:
	case FIELD_FMT_HEX:
		return put_unhex(o, tok, n);
	case FIELD_FMT_DIGEST_WITH_ALGO:
	case FIELD_FMT_DIGEST_WITH_TYPE_AND_ALGO:
		for (size_t i = 0; i < n; i++)
			if (tok[i] == ':')
				colon = tok + i;
		if (!colon)
			return -EBADMSG;
		if (put(o, tok, (size_t)(colon - tok) + 1) || put(o, "", 1))
			return -ENOSPC;
		return put_unhex(o, colon + 1, n - (size_t)(colon + 1 - tok));
	case FIELD_FMT_STRING:
		if (put(o, tok, n))
			return -ENOSPC;
		return put(o, "", 1);
	case FIELD_FMT_UINT:
		if (n == 0 || n > 20)
			return -EBADMSG;
		for (size_t i = 0; i < n; i++) {
			if (tok[i] < '0' || tok[i] > '9')
				return -EBADMSG;
			v = v * 10 + (unsigned)(tok[i] - '0');
		}
		w = uint_width(tf->id);
		if (w < 8 && v >> (8 * w))
			return -EBADMSG;
		for (uint32_t i = 0; i < w; i++) {
			uint8_t b = (uint8_t)(v >> (8 * (le ? i : w - 1 - i)));

			if (put(o, &b, 1))
				return -ENOSPC;
		}
		return 0;
	case FIELD_FMT_UNKNOWN:
		break;
	}
	return -EOPNOTSUPP;
}

static int legacy_from_text(struct out *o, struct in *in, bool le)
{
	const char *tok;
	size_t n;
	int ret;

	next_token(in, &tok, &n);
	if (n != 2 * IMA_LEGACY_DIGEST_SIZE)
		return -EBADMSG;
	ret = put_unhex(o, tok, n);
	if (ret)
		return ret;
	/* the path is the rest of the line */
	n = (size_t)(in->end - in->p);
	if (n > IMA_LEGACY_PATH_PAD - 1)
		return -EBADMSG;
	ret = put_u32(o, (uint32_t)n, le);
	if (!ret)
		ret = put(o, in->p, n);
	in->p = in->end;
	return ret;
}

static int fields_from_text(struct out *o, struct in *in,
			    const struct template_desc *desc, bool le)
{
	size_t len_at = o->len, start, n;
	const char *tok;
	int ret;

	ret = put_u32(o, 0, le);	/* template data length, patched below */
	start = o->len;
	for (unsigned i = 0; !ret && i < desc->nfields; i++) {
		size_t flen_at = o->len;

		if (in->p >= in->end && in->p[-1] != ' ')
			return -EBADMSG;
		next_token(in, &tok, &n);
		ret = put_u32(o, 0, le);
		/* an empty field printed as nothing, whatever its type */
		if (!ret && n)
			ret = field_from_text(o, &desc->fields[i], tok, n, le);
		if (!ret)
			ima_put_u32((uint8_t *)o->p + flen_at,
				    (uint32_t)(o->len - flen_at - 4), le);
	}
	if (!ret)
		ima_put_u32((uint8_t *)o->p + len_at, (uint32_t)(o->len - start), le);
	return ret;
}

long list_ascii_parse_line(const char *line, size_t len, uint16_t digest_len,
			   const struct template_desc *desc, bool le,
			   uint8_t *buf, size_t buflen, struct errmsg *em)
{
	struct template_desc tmp;
	struct out o = { (char *)buf, 0, buflen };
	struct in in = { line, line + len };
	const char *tok;
	size_t n;
	unsigned pcr = 0;
	char name[IMA_TEMPLATE_NAME_MAX + 1];
	int ret;

	while (in.p < in.end && *in.p == ' ')	/* "%2d " pads with a space */
		in.p++;
	next_token(&in, &tok, &n);
	if (n == 0 || n > 2)
		goto bad;
	for (size_t i = 0; i < n; i++) {
		if (tok[i] < '0' || tok[i] > '9')
			goto bad;
		pcr = pcr * 10 + (unsigned)(tok[i] - '0');
	}
	if (pcr >= IMA_PCR_COUNT)
		goto bad;
	ret = put_u32(&o, pcr, le);
	next_token(&in, &tok, &n);
	if (ret || n != 2u * digest_len)
		goto bad;
	ret = put_unhex(&o, tok, n);
	next_token(&in, &tok, &n);
	if (ret || n > IMA_TEMPLATE_NAME_MAX)
		goto bad;
	memcpy(name, tok, n);
	name[n] = '\0';
	ret = put_u32(&o, (uint32_t)n, le);
	if (!ret)
		ret = put(&o, tok, n);
	if (ret)
		goto bad;
	if (!strcmp(name, IMA_LEGACY_NAME)) {
		ret = legacy_from_text(&o, &in, le);
	} else {
		ret = template_resolve(name, desc, &tmp, &desc, em);
		if (ret)
			return ret;
		ret = fields_from_text(&o, &in, desc, le);
	}
	if (ret == -ENOSPC)
		return errmsg_set(em, ret, "record too large");
	if (ret || in.p != in.end)
		goto bad;
	return (long)o.len;
bad:
	return errmsg_set(em, -EBADMSG, "malformed ASCII record");
}
