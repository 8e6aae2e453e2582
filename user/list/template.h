/* SPDX-License-Identifier: GPL-2.0-only */
/* Templates: built-in and ima_template_fmt= descriptors, a record split into its fields. */
#ifndef IMASTORE_TEMPLATE_H
#define IMASTORE_TEMPLATE_H

#include <stdbool.h>
#include <stdint.h>

#include "errmsg.h"
#include "ima_record.h"

#define TEMPLATE_FIELDS_MAX 15	/* IMA_TEMPLATE_NUM_FIELDS_MAX */

/* How the kernel prints a field in the ASCII list (ima_template_lib.c). */
enum field_fmt {
	FIELD_FMT_DIGEST,		/* "d": hex */
	FIELD_FMT_DIGEST_WITH_ALGO,	/* "d-ng": "alg:" + NUL + digest */
	FIELD_FMT_DIGEST_WITH_TYPE_AND_ALGO, /* "d-ngv2": "ima:alg:" + NUL + digest */
	FIELD_FMT_STRING,		/* "n-ng", "xattrnames": text up to NUL */
	FIELD_FMT_HEX,			/* "sig", "buf", ...: hex */
	FIELD_FMT_UINT,			/* "iuid", "igid", "imode": decimal */
	FIELD_FMT_UNKNOWN,		/* a field id this code does not know */
};

struct template_field {
	char id[17];			/* IMA_TEMPLATE_FIELD_ID_MAX_LEN + 1 */
	enum field_fmt fmt;
};

struct template_desc {
	char name[IMA_TEMPLATE_NAME_MAX + 1];
	unsigned nfields;
	struct template_field fields[TEMPLATE_FIELDS_MAX];
};

/*
 * Fill `desc` with the fields of a template format string as given to the
 * kernel's ima_template_fmt= ("d-ng|n-ng|sig"). Unknown ids are kept with
 * FIELD_FMT_UNKNOWN. -EINVAL on an empty or too long list.
 */
int template_from_fmt(const char *name, const char *fmt,
		      struct template_desc *desc, struct errmsg *em);

/*
 * The built-in template of that name (ima, ima-ng, ima-sig, ima-ngv2,
 * ima-sigv2, ima-buf, ima-modsig, evm-sig), or -ENOENT.
 */
int template_builtin(const char *name, struct template_desc *desc);

/*
 * The descriptor for records of template `name`: the built-in one, else
 * `custom` (from --template-fmt), else the name itself read as a format
 * (with ima_template_fmt= the kernel names the template by its format,
 * "d-ng|n-ng|iuid"), else -EOPNOTSUPP saying what is missing. `tmp` is
 * storage for the result.
 */
int template_resolve(const char *name, const struct template_desc *custom,
		     struct template_desc *tmp, const struct template_desc **out,
		     struct errmsg *em);

/* One field of a record's template data. */
struct field_view {
	const uint8_t *data;
	uint32_t len;
};

/*
 * Split a record's template data into its fields. Works without knowing the
 * template (every field is u32 length + bytes); for legacy "ima" it returns
 * the digest and the name. Returns the number of fields or -EBADMSG.
 */
int template_split(const struct ima_record *rec, struct field_view *fields,
		   unsigned max, struct errmsg *em);

/*
 * A file digest as found in d, d-ng, d-ngv2 or d-modsig: the algorithm text
 * ("sha256", or "" for legacy "d") and the raw digest. -EBADMSG if the field
 * does not have that shape.
 */
struct file_digest {
	char algo[64];		/* "sha256" or "ima:sha256" / "verity:sha256" */
	const uint8_t *digest;
	uint32_t len;
};
int template_parse_digest_field(enum field_fmt fmt, const struct field_view *f,
				struct file_digest *out);

/* The record is the boot_aggregate (its name field is that word). */
bool record_is_boot_aggregate(const struct ima_record *rec);

#endif
