// SPDX-License-Identifier: GPL-2.0-only
/* Lines of the live stream: see tail_format.h and docs/tail.md. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "record_print.h"
#include "tail_format.h"
#include "template.h"

static const bool host_le = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__;

/* The program copies field lengths in host order. */
static uint32_t get_u32(const uint8_t *p)
{
	return ima_get_u32(p, host_le);
}

static void put_u32(uint8_t *p, uint32_t v)
{
	ima_put_u32(p, v, host_le);
}

/*
 * Legacy "ima": the program copies both fields with their lengths (d: 20
 * bytes, n: the name and its NUL); the list has the bare digest, then the
 * name's length and the name without NUL.
 */
static int view_legacy(const struct imacapture_rec *r, uint8_t *buf,
		       struct ima_record *rec, struct errmsg *em)
{
	const uint8_t *d = r->data;
	uint32_t nlen;

	if (r->data_len < 8 + IMA_LEGACY_DIGEST_SIZE ||
	    get_u32(d) != IMA_LEGACY_DIGEST_SIZE)
		return errmsg_set(em, -EBADMSG, "seq %llu: legacy ima record without its digest",
				  (unsigned long long)r->seq);
	nlen = get_u32(d + 4 + IMA_LEGACY_DIGEST_SIZE);
	if (nlen > r->data_len - 8 - IMA_LEGACY_DIGEST_SIZE)
		nlen = r->data_len - 8 - IMA_LEGACY_DIGEST_SIZE;
	d += 8 + IMA_LEGACY_DIGEST_SIZE;
	nlen = (uint32_t)strnlen((const char *)d, nlen);
	memcpy(buf, r->data + 4, IMA_LEGACY_DIGEST_SIZE);
	put_u32(buf + IMA_LEGACY_DIGEST_SIZE, nlen);
	memcpy(buf + IMA_LEGACY_DIGEST_SIZE + 4, d, nlen);
	rec->data_len = IMA_LEGACY_DIGEST_SIZE + 4 + nlen;
	rec->legacy = true;
	return 0;
}

/* The fields that fit, the cut one shortened, the missing ones empty. */
static int view_cut(const struct imacapture_rec *r, uint8_t *buf,
		    struct ima_record *rec)
{
	const struct template_desc *desc;
	struct template_desc tmp;
	uint32_t pos = 0, flen;
	unsigned n = 0;

	while (pos + 4 <= r->data_len && n < TEMPLATE_FIELDS_MAX) {
		flen = get_u32(r->data + pos);
		if (flen > r->data_len - pos - 4)
			flen = r->data_len - pos - 4;
		put_u32(buf + pos, flen);
		memcpy(buf + pos + 4, r->data + pos + 4, flen);
		pos += 4 + flen;
		n++;
	}
	if (!template_resolve(rec->name, NULL, &tmp, &desc, NULL))
		for (; n < desc->nfields && pos + 4 <= TAIL_VIEW_BUF; n++, pos += 4)
			put_u32(buf + pos, 0);
	rec->data_len = pos;
	return 0;
}

static bool capture_digest_zero(const struct imacapture_rec *r)
{
	for (size_t i = 0; i < sizeof(r->digest); i++)
		if (r->digest[i])
			return false;
	return true;
}

int tail_view_capture(const struct imacapture_rec *r, const char *custom_name, uint8_t *buf,
		      struct ima_record *rec, const struct hash_alg **bank,
		      struct tail_meta *m, struct errmsg *em)
{
	const struct hash_alg *a = hash_alg_by_tpm_id(r->digest_alg);
	int ret = 0;

	/*
	 * A violation's template is never hashed (ima_store_template()), so
	 * its digests keep alg_id 0 from kcalloc(): all zeros, as in the list's
	 * first bank, sha1.
	 */
	if (!r->digest_alg && capture_digest_zero(r))
		a = hash_alg_by_name("sha1");
	if (!a || a->size > IMACAPTURE_DIGEST_MAX)
		return errmsg_set(em, -EBADMSG, "seq %llu: unknown digest algorithm 0x%04x",
				  (unsigned long long)r->seq, r->digest_alg);
	if (r->data_len > IMACAPTURE_DATA_MAX)
		return errmsg_set(em, -EBADMSG, "seq %llu: data length %u",
				  (unsigned long long)r->seq, r->data_len);
	memset(rec, 0, sizeof(*rec));
	rec->index = r->seq;
	rec->pcr = (uint32_t)r->pcr;
	rec->digest_len = a->size;
	memcpy(rec->digest, r->digest, a->size);
	rec->name_len = (uint32_t)strnlen(r->template_name, sizeof(r->template_name));
	memcpy(rec->name, r->template_name, rec->name_len);
	if (!rec->name_len && custom_name) {
		rec->name_len = (uint32_t)strnlen(custom_name, IMA_TEMPLATE_NAME_MAX);
		memcpy(rec->name, custom_name, rec->name_len);
	}
	rec->little_endian = host_le;
	rec->data = buf;
	m->seq = r->seq;
	m->from_list = false;
	m->truncated = r->flags & IMACAPTURE_F_TRUNCATED;
	m->template_data_len = r->template_data_len;
	if (!strcmp(rec->name, IMA_LEGACY_NAME))
		ret = view_legacy(r, buf, rec, em);
	else if (m->truncated)
		ret = view_cut(r, buf, rec);
	else {
		rec->data = r->data;	/* as the list has it: nothing to rebuild */
		rec->data_len = r->data_len;
	}
	*bank = a;
	return ret;
}

int64_t tail_realtime_offset_ns(void)
{
	return (int64_t)(real_ns() - mono_ns());
}

/* 2026-11-29T17:26:27.123456Z */
static void iso_time(uint64_t ns, char *out, size_t size)
{
	time_t sec = (time_t)(ns / 1000000000u);
	struct tm tm;
	size_t n;

	gmtime_r(&sec, &tm);
	n = strftime(out, size, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, size - n, ".%06uZ", (unsigned)(ns % 1000000000u / 1000u));
}

/* Print into buf[TAIL_LINE_MAX]; -ENOSPC if it did not fit. */
static int print_line(char *buf, const struct tail_meta *m, const char *lead,
		      const struct ima_record *rec, const struct hash_alg *bank, bool json,
		      struct errmsg *em)
{
	FILE *f = fmemopen(buf, TAIL_LINE_MAX, "w");
	int ret;

	if (!f)
		return errmsg_set(em, -errno, "fmemopen: %s", strerror(errno));
	if (json)
		ret = record_print_json_lead(f, lead, rec, bank, NULL, em);
	else
		ret = record_print_text_lead(f, lead, rec, NULL, em);
	if (!ret && !json && m->truncated) {
		/* record_print_text_lead ended the line: put the mark before '\n' */
		fseek(f, -1, SEEK_CUR);
		fputs(" [truncated]\n", f);
	}
	if (!ret && (ferror(f) || ftell(f) >= TAIL_LINE_MAX - 1))
		ret = errmsg_set(em, -ENOSPC, "seq %llu: line longer than %d bytes",
				 (unsigned long long)m->seq, TAIL_LINE_MAX);
	fclose(f);
	return ret;
}

int tail_format(const struct tail_meta *m, const struct ima_record *rec,
		const struct hash_alg *bank, char *json, char *text, struct errmsg *em)
{
	char when[40], lead[256];
	int ret;

	iso_time(m->time_ns, when, sizeof(when));
	if (m->from_list)
		snprintf(lead, sizeof(lead),
			 "\"seq\":%llu,\"source\":\"list\",\"time\":\"%s\",\"index\":%llu,\"truncated\":false,\"template_data_len\":%u",
			 (unsigned long long)m->seq, when, (unsigned long long)m->seq,
			 m->template_data_len);
	else
		snprintf(lead, sizeof(lead),
			 "\"seq\":%llu,\"source\":\"bpf\",\"time\":\"%s\",\"truncated\":%s,\"template_data_len\":%u",
			 (unsigned long long)m->seq, when, m->truncated ? "true" : "false",
			 m->template_data_len);
	ret = print_line(json, m, lead, rec, bank, true, em);
	if (ret)
		return ret;
	snprintf(lead, sizeof(lead), "%s %llu", when, (unsigned long long)m->seq);
	return print_line(text, m, lead, rec, bank, false, em);
}
