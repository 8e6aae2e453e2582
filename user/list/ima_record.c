// SPDX-License-Identifier: GPL-2.0-only
/*
 * One record of a binary measurement list (kernel-interface.md §6), as
 * ima_measurements_show() in security/integrity/ima/ima_fs.c writes it.
 */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include "ima_record.h"

uint32_t ima_get_u32(const uint8_t *p, bool little_endian)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return little_endian ? le32toh(v) : be32toh(v);
}

void ima_put_u32(uint8_t *p, uint32_t v, bool little_endian)
{
	v = little_endian ? htole32(v) : htobe32(v);
	memcpy(p, &v, sizeof(v));
}

static bool host_is_little(void)
{
	return htole32(1) == 1;
}

enum list_endian ima_endian_guess(const uint8_t *buf, size_t len)
{
	if (len < 4)
		return LIST_ENDIAN_HOST;
	if (ima_get_u32(buf, host_is_little()) < IMA_PCR_COUNT)
		return LIST_ENDIAN_HOST;
	if (ima_get_u32(buf, !host_is_little()) < IMA_PCR_COUNT)
		return host_is_little() ? LIST_ENDIAN_BIG : LIST_ENDIAN_LITTLE;
	return LIST_ENDIAN_HOST;
}

bool ima_record_is_violation(const struct ima_record *rec)
{
	for (unsigned i = 0; i < rec->digest_len; i++)
		if (rec->digest[i])
			return false;
	return true;
}

static int bad(struct errmsg *em, uint64_t index, uint64_t offset,
	       const char *what, uint64_t value, uint64_t limit)
{
	return errmsg_set(em, -EBADMSG,
			  "record %llu at byte offset %llu: %s %llu exceeds %llu",
			  (unsigned long long)index, (unsigned long long)offset,
			  what, (unsigned long long)value,
			  (unsigned long long)limit);
}

/* The fields of non-legacy template data must tile it exactly. */
static int check_fields(const uint8_t *data, uint32_t len, bool le,
			uint64_t index, uint64_t offset, struct errmsg *em)
{
	uint32_t pos = 0, flen;
	unsigned n = 0;

	while (pos < len) {
		if (len - pos < 4)
			return errmsg_set(em, -EBADMSG,
					  "record %llu at byte offset %llu: template data ends inside the length of field %u",
					  (unsigned long long)index,
					  (unsigned long long)offset, n);
		flen = ima_get_u32(data + pos, le);
		pos += 4;
		if (flen > len - pos)
			return errmsg_set(em, -EBADMSG,
					  "record %llu at byte offset %llu: field %u length %u exceeds the %u bytes left in its template data",
					  (unsigned long long)index,
					  (unsigned long long)offset, n, flen,
					  len - pos);
		pos += flen;
		n++;
	}
	return 0;
}

long ima_record_parse(const uint8_t *buf, size_t len, uint16_t digest_len,
		      enum list_endian endian, uint64_t index, uint64_t offset,
		      struct ima_record *rec, struct errmsg *em)
{
	bool le;
	size_t pos = 0;
	uint32_t name_len, data_len;
	int ret;

	if (endian == LIST_ENDIAN_AUTO)
		endian = ima_endian_guess(buf, len);
	le = endian == LIST_ENDIAN_LITTLE ||
	     (endian == LIST_ENDIAN_HOST && host_is_little());

	if (len < 4 + (size_t)digest_len + 4)
		return -EAGAIN;
	rec->index = index;
	rec->offset = offset;
	rec->little_endian = le;
	rec->pcr = ima_get_u32(buf, le);
	if (rec->pcr >= IMA_PCR_COUNT)
		return bad(em, index, offset, "PCR index", rec->pcr,
			   IMA_PCR_COUNT - 1);
	memcpy(rec->digest, buf + 4, digest_len);
	rec->digest_len = digest_len;
	pos = 4 + digest_len;
	name_len = ima_get_u32(buf + pos, le);
	pos += 4;
	if (name_len > IMA_TEMPLATE_NAME_MAX)
		return bad(em, index, offset, "template name length", name_len,
			   IMA_TEMPLATE_NAME_MAX);
	if (len - pos < name_len + 4)
		return -EAGAIN;
	memcpy(rec->name, buf + pos, name_len);
	rec->name[name_len] = '\0';
	rec->name_len = name_len;
	pos += name_len;
	rec->legacy = name_len == 3 && !memcmp(rec->name, IMA_LEGACY_NAME, 3);

	if (rec->legacy) {
		/* bare SHA-1 file digest, then u32 length + path (no NUL) */
		if (len - pos < IMA_LEGACY_DIGEST_SIZE + 4)
			return -EAGAIN;
		data_len = ima_get_u32(buf + pos + IMA_LEGACY_DIGEST_SIZE, le);
		if (data_len > IMA_LEGACY_PATH_PAD - 1)
			return bad(em, index, offset, "legacy path length",
				   data_len, IMA_LEGACY_PATH_PAD - 1);
		data_len += IMA_LEGACY_DIGEST_SIZE + 4;
	} else {
		data_len = ima_get_u32(buf + pos, le);
		pos += 4;
		if (data_len > IMA_RECORD_MAX)
			return bad(em, index, offset, "template data length",
				   data_len, IMA_RECORD_MAX);
	}
	if (len - pos < data_len)
		return -EAGAIN;
	if (!rec->legacy) {
		ret = check_fields(buf + pos, data_len, le, index, offset, em);
		if (ret)
			return ret;
	}
	rec->data = buf + pos;
	rec->data_len = data_len;
	pos += data_len;
	rec->raw = buf;
	rec->raw_len = pos;
	return (long)pos;
}

int ima_record_template_digest(const struct ima_record *rec,
			       struct hash_ctx *ctx, uint8_t *out)
{
	uint8_t path[IMA_LEGACY_PATH_PAD] = { 0 };
	uint32_t plen;
	int ret;

	if (!rec->legacy)
		return hash_ctx_digest(ctx, rec->data, rec->data_len, out);

	/* ima_calc_field_array_hash_tfm(): digest, then the name NUL-padded to 256 */
	plen = rec->data_len - IMA_LEGACY_DIGEST_SIZE - 4;
	memcpy(path, rec->data + IMA_LEGACY_DIGEST_SIZE + 4, plen);
	ret = hash_ctx_init(ctx);
	if (!ret)
		ret = hash_ctx_update(ctx, rec->data, IMA_LEGACY_DIGEST_SIZE);
	if (!ret)
		ret = hash_ctx_update(ctx, path, sizeof(path));
	if (!ret)
		ret = hash_ctx_final(ctx, out);
	return ret;
}
