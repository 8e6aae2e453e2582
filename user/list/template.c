// SPDX-License-Identifier: GPL-2.0-only
/*
 * Template descriptors and fields, after security/integrity/ima/
 * ima_template.c (builtin_templates[], supported_fields[]).
 */
#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "template.h"

static const struct {
	const char *id;
	enum field_fmt fmt;
} known_fields[] = {
	{ "d",            FIELD_FMT_DIGEST },
	{ "n",            FIELD_FMT_STRING },
	{ "d-ng",         FIELD_FMT_DIGEST_WITH_ALGO },
	{ "d-ngv2",       FIELD_FMT_DIGEST_WITH_TYPE_AND_ALGO },
	{ "n-ng",         FIELD_FMT_STRING },
	{ "sig",          FIELD_FMT_HEX },
	{ "buf",          FIELD_FMT_HEX },
	{ "d-modsig",     FIELD_FMT_DIGEST_WITH_ALGO },
	{ "modsig",       FIELD_FMT_HEX },
	{ "evmsig",       FIELD_FMT_HEX },
	{ "iuid",         FIELD_FMT_UINT },
	{ "igid",         FIELD_FMT_UINT },
	{ "imode",        FIELD_FMT_UINT },
	{ "xattrnames",   FIELD_FMT_STRING },
	{ "xattrlengths", FIELD_FMT_HEX },
	{ "xattrvalues",  FIELD_FMT_HEX },
};

static const struct {
	const char *name;
	const char *fmt;
} builtin[] = {
	{ "ima",        "d|n" },
	{ "ima-ng",     "d-ng|n-ng" },
	{ "ima-sig",    "d-ng|n-ng|sig" },
	{ "ima-ngv2",   "d-ngv2|n-ng" },
	{ "ima-sigv2",  "d-ngv2|n-ng|sig" },
	{ "ima-buf",    "d-ng|n-ng|buf" },
	{ "ima-modsig", "d-ng|n-ng|sig|d-modsig|modsig" },
	{ "evm-sig",
	  "d-ng|n-ng|evmsig|xattrnames|xattrlengths|xattrvalues|iuid|igid|imode" },
};

static enum field_fmt field_fmt_of(const char *id)
{
	for (size_t i = 0; i < sizeof(known_fields) / sizeof(known_fields[0]); i++)
		if (!strcmp(known_fields[i].id, id))
			return known_fields[i].fmt;
	return FIELD_FMT_UNKNOWN;
}

int template_from_fmt(const char *name, const char *fmt,
		      struct template_desc *desc, struct errmsg *em)
{
	const char *p = fmt, *bar;
	size_t n;

	memset(desc, 0, sizeof(*desc));
	if (strlen(name) > IMA_TEMPLATE_NAME_MAX)
		return errmsg_set(em, -EINVAL, "template name too long");
	strcpy(desc->name, name);
	if (!fmt || !*fmt)
		return errmsg_set(em, -EINVAL, "empty template format");
	for (;;) {
		bar = strchr(p, '|');
		n = bar ? (size_t)(bar - p) : strlen(p);
		if (desc->nfields == TEMPLATE_FIELDS_MAX)
			return errmsg_set(em, -EINVAL,
					  "template format '%s' has more than %d fields",
					  fmt, TEMPLATE_FIELDS_MAX);
		if (n == 0 || n >= sizeof(desc->fields[0].id))
			return errmsg_set(em, -EINVAL,
					  "template format '%s': bad field id at '%.20s'",
					  fmt, p);
		memcpy(desc->fields[desc->nfields].id, p, n);
		desc->fields[desc->nfields].id[n] = '\0';
		desc->fields[desc->nfields].fmt =
			field_fmt_of(desc->fields[desc->nfields].id);
		desc->nfields++;
		if (!bar)
			return 0;
		p = bar + 1;
	}
}

int template_builtin(const char *name, struct template_desc *desc)
{
	for (size_t i = 0; i < sizeof(builtin) / sizeof(builtin[0]); i++)
		if (!strcmp(builtin[i].name, name))
			return template_from_fmt(name, builtin[i].fmt, desc, NULL);
	return -ENOENT;
}

int template_split(const struct ima_record *rec, struct field_view *fields,
		   unsigned max, struct errmsg *em)
{
	bool le = rec->little_endian;
	uint32_t pos = 0, flen;
	unsigned n = 0;

	if (rec->legacy) {
		if (max < 2)
			return errmsg_set(em, -ENOSPC, "too many fields");
		fields[0].data = rec->data;
		fields[0].len = IMA_LEGACY_DIGEST_SIZE;
		fields[1].data = rec->data + IMA_LEGACY_DIGEST_SIZE + 4;
		fields[1].len = rec->data_len - IMA_LEGACY_DIGEST_SIZE - 4;
		return 2;
	}
	while (pos < rec->data_len) {
		if (n == max)
			return errmsg_set(em, -EBADMSG,
					  "record %llu: more than %u template fields",
					  (unsigned long long)rec->index, max);
		if (rec->data_len - pos < 4)
			goto bad;
		flen = ima_get_u32(rec->data + pos, le);
		pos += 4;
		if (flen > rec->data_len - pos)
			goto bad;
		fields[n].data = rec->data + pos;
		fields[n].len = flen;
		pos += flen;
		n++;
	}
	return (int)n;
bad:
	return errmsg_set(em, -EBADMSG,
			  "record %llu at byte offset %llu: field %u overruns the template data",
			  (unsigned long long)rec->index,
			  (unsigned long long)rec->offset, n);
}

int template_parse_digest_field(enum field_fmt fmt, const struct field_view *f,
				struct file_digest *out)
{
	const uint8_t *nul, *colon = NULL;
	size_t slen;

	memset(out, 0, sizeof(*out));
	if (fmt == FIELD_FMT_DIGEST) {
		out->digest = f->data;
		out->len = f->len;
		return 0;
	}
	if (fmt != FIELD_FMT_DIGEST_WITH_ALGO &&
	    fmt != FIELD_FMT_DIGEST_WITH_TYPE_AND_ALGO)
		return -EINVAL;
	/* "<algo>:" NUL <digest>, the kernel's strrchr(data, ':') */
	nul = memchr(f->data, '\0', f->len);
	if (!nul)
		return -EBADMSG;
	slen = (size_t)(nul - f->data);
	for (size_t i = 0; i < slen; i++)
		if (f->data[i] == ':')
			colon = f->data + i;
	if (!colon || colon + 1 != nul || slen - 1 >= sizeof(out->algo))
		return -EBADMSG;
	/* printed unquoted and unescaped: only what algorithm names are made of */
	for (size_t i = 0; i + 1 < slen; i++)
		if (!isalnum(f->data[i]) && f->data[i] != ':' && f->data[i] != '-' && f->data[i] != '_')
			return -EBADMSG;
	memcpy(out->algo, f->data, slen - 1);
	out->algo[slen - 1] = '\0';
	out->digest = nul + 1;
	out->len = f->len - (uint32_t)slen - 1;
	return 0;
}

int template_resolve(const char *name, const struct template_desc *custom,
		     struct template_desc *tmp, const struct template_desc **out,
		     struct errmsg *em)
{
	if (name[0] && !template_builtin(name, tmp)) {
		*out = tmp;
		return 0;
	}
	if (custom) {
		*out = custom;
		return 0;
	}
	/*
	 * With ima_template_fmt= the kernel names the template by its format
	 * ("d-ng|n-ng|iuid"), so the name says what the fields are.
	 */
	if (name[0] && !template_from_fmt(name, name, tmp, NULL)) {
		bool known = true;

		for (unsigned i = 0; i < tmp->nfields; i++)
			known &= tmp->fields[i].fmt != FIELD_FMT_UNKNOWN;
		if (known) {
			*out = tmp;
			return 0;
		}
	}
	if (!name[0])
		return errmsg_set(em, -EOPNOTSUPP,
				  "the template has no name (a custom ima_template_fmt=); give its field list with --template-fmt");
	return errmsg_set(em, -EOPNOTSUPP,
			  "template '%s' is not built in; give its field list with --template-fmt",
			  name);
}

bool record_is_boot_aggregate(const struct ima_record *rec)
{
	struct field_view f[TEMPLATE_FIELDS_MAX];
	int n = template_split(rec, f, TEMPLATE_FIELDS_MAX, NULL);

	/* "boot_aggregate", with the NUL the n-ng field carries or without */
	return n >= 2 && f[1].len >= 14 && !memcmp(f[1].data, "boot_aggregate", 14) &&
	       (f[1].len == 14 || (f[1].len == 15 && !f[1].data[14]));
}
