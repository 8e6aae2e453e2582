// SPDX-License-Identifier: GPL-2.0-only
/* A record as a line of text (show) or a JSON object (show --json). */
#include <errno.h>
#include <string.h>

#include "json.h"
#include "record_print.h"

struct view {
	const struct template_desc *desc;	/* NULL: fields unknown */
	struct template_desc tmp;		/* desc, where it is made up */
	struct field_view f[TEMPLATE_FIELDS_MAX];
	int n;
	int digest, path, buf;			/* field positions or -1 */
};

static int view_init(struct view *v, const struct ima_record *rec,
		     const struct template_desc *custom, struct errmsg *em)
{
	v->digest = v->path = v->buf = -1;
	v->n = template_split(rec, v->f, TEMPLATE_FIELDS_MAX, em);
	if (v->n < 0)
		return v->n;
	if (template_resolve(rec->name, custom, &v->tmp, &v->desc, NULL) ||
	    v->desc->nfields != (unsigned)v->n)
		v->desc = NULL;
	for (int i = 0; v->desc && i < v->n; i++) {
		const char *id = v->desc->fields[i].id;

		if (v->digest < 0 && (!strcmp(id, "d-ng") ||
				      !strcmp(id, "d-ngv2") || !strcmp(id, "d")))
			v->digest = i;
		else if (v->path < 0 && (!strcmp(id, "n-ng") || !strcmp(id, "n")))
			v->path = i;
		else if (!strcmp(id, "buf"))
			v->buf = i;
	}
	return 0;
}

static enum field_fmt fmt_of(const struct view *v, int i)
{
	return v->desc ? v->desc->fields[i].fmt : FIELD_FMT_HEX;
}

/* A string field's bytes up to its NUL (the kernel prints it with %s). */
static size_t cstr_len(const struct field_view *f)
{
	const uint8_t *nul = memchr(f->data, '\0', f->len);

	return nul ? (size_t)(nul - f->data) : f->len;
}

static void print_file_digest(FILE *f, const struct view *v, bool json)
{
	struct file_digest fd;

	if (v->digest < 0 ||
	    template_parse_digest_field(fmt_of(v, v->digest), &v->f[v->digest], &fd)) {
		fputs(json ? "null" : "-", f);
		return;
	}
	if (json)
		putc_unlocked('"', f);
	if (fd.algo[0])
		fprintf(f, "%s:", fd.algo);
	hex_print(f, fd.digest, fd.len);
	if (json)
		putc_unlocked('"', f);
}

/* The caller's lead, else the record's index (json: as an "index" member). */
static void print_lead(FILE *f, const char *lead, const struct ima_record *rec,
		       bool json)
{
	if (lead)
		fputs(lead, f);
	else
		fprintf(f, json ? "\"index\":%llu" : "%llu", (unsigned long long)rec->index);
}

int record_print_text_lead(FILE *f, const char *lead, const struct ima_record *rec,
			   const struct template_desc *custom, struct errmsg *em)
{
	struct view v;
	int ret = view_init(&v, rec, custom, em);

	if (ret)
		return ret;
	print_lead(f, lead, rec, false);
	fprintf(f, " %u ", rec->pcr);
	if (rec->name_len)
		text_escaped(f, (const uint8_t *)rec->name, rec->name_len);
	else
		fputs("-", f);
	putc_unlocked(' ', f);
	if (ima_record_is_violation(rec))
		fputs("violation", f);
	else
		hex_print(f, rec->digest, rec->digest_len);
	putc_unlocked(' ', f);
	print_file_digest(f, &v, false);
	putc_unlocked(' ', f);
	if (v.path >= 0)
		text_escaped(f, v.f[v.path].data, cstr_len(&v.f[v.path]));
	else
		fputs("-", f);
	if (v.buf >= 0) {
		fputs(" buf:", f);
		hex_print(f, v.f[v.buf].data, v.f[v.buf].len);
	}
	putc_unlocked('\n', f);
	return 0;
}

static void json_uint(FILE *f, const struct field_view *fv, bool le)
{
	unsigned long long x = 0;

	if (fv->len != 1 && fv->len != 2 && fv->len != 4 && fv->len != 8) {
		json_hex(f, fv->data, fv->len);
		return;
	}
	for (uint32_t i = 0; i < fv->len; i++)
		x |= (unsigned long long)fv->data[i] << (8 * (le ? i : fv->len - 1 - i));
	fprintf(f, "%llu", x);
}

static void json_text_field(FILE *f, const char *key, const struct field_view *fv)
{
	size_t n = cstr_len(fv);

	fprintf(f, ",\"%s\":", key);
	json_string(f, fv->data, n);
	if (!utf8_valid(fv->data, n)) {
		fprintf(f, ",\"%s_hex\":", key);
		json_hex(f, fv->data, n);
	}
}

static void json_other_fields(FILE *f, const struct view *v, bool le)
{
	if (!v->desc) {
		fputs(",\"fields\":[", f);
		for (int i = 0; i < v->n; i++) {
			if (i)
				putc_unlocked(',', f);
			json_hex(f, v->f[i].data, v->f[i].len);
		}
		putc_unlocked(']', f);
		return;
	}
	for (int i = 0; i < v->n; i++) {
		const struct template_field *tf = &v->desc->fields[i];

		if (i == v->digest || i == v->path)
			continue;
		if (tf->fmt == FIELD_FMT_STRING) {
			json_text_field(f, tf->id, &v->f[i]);
			continue;
		}
		fprintf(f, ",\"%s\":", tf->id);
		if (tf->fmt == FIELD_FMT_UINT)
			json_uint(f, &v->f[i], le);
		else
			json_hex(f, v->f[i].data, v->f[i].len);
	}
}

int record_print_json_lead(FILE *f, const char *lead, const struct ima_record *rec,
			   const struct hash_alg *bank,
			   const struct template_desc *custom, struct errmsg *em)
{
	struct view v;
	int ret = view_init(&v, rec, custom, em);

	if (ret)
		return ret;
	putc_unlocked('{', f);
	print_lead(f, lead, rec, true);
	fprintf(f, ",\"pcr\":%u,\"template\":", rec->pcr);
	json_string(f, (const uint8_t *)rec->name, rec->name_len);
	fprintf(f, ",\"bank\":\"%s\",\"template_digest\":", bank->name);
	json_hex(f, rec->digest, rec->digest_len);
	fprintf(f, ",\"violation\":%s,\"file_digest\":",
		ima_record_is_violation(rec) ? "true" : "false");
	print_file_digest(f, &v, true);
	if (v.path >= 0)
		json_text_field(f, "path", &v.f[v.path]);
	json_other_fields(f, &v, rec->little_endian);
	fputs("}\n", f);
	return 0;
}

int record_print_text(FILE *f, const struct ima_record *rec,
		      const struct template_desc *custom, struct errmsg *em)
{
	return record_print_text_lead(f, NULL, rec, custom, em);
}

int record_print_json(FILE *f, const struct ima_record *rec,
		      const struct hash_alg *bank,
		      const struct template_desc *custom, struct errmsg *em)
{
	return record_print_json_lead(f, NULL, rec, bank, custom, em);
}
