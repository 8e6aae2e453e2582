/* SPDX-License-Identifier: GPL-2.0-only */
/* One record of a bank's binary list, parsed in place; its template digest. */
#ifndef IMASTORE_IMA_RECORD_H
#define IMASTORE_IMA_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errmsg.h"
#include "hash_alg.h"

#define IMA_PCR_COUNT 24
#define IMA_TEMPLATE_NAME_MAX 255	/* kernel names are <= 15; more is junk */
#define IMA_RECORD_MAX (16u << 20)	/* larger template data is junk */
#define IMA_LEGACY_NAME "ima"
#define IMA_LEGACY_DIGEST_SIZE 20
#define IMA_LEGACY_PATH_PAD 256		/* IMA_EVENT_NAME_LEN_MAX + 1 */

/* Byte order of the u32 fields of a binary list (ima_canonical_fmt = LE). */
enum list_endian {
	LIST_ENDIAN_AUTO,	/* decide from the first record's PCR */
	LIST_ENDIAN_HOST,
	LIST_ENDIAN_LITTLE,
	LIST_ENDIAN_BIG,
};

/*
 * One record as the kernel printed it in one bank's binary list. The
 * pointers point into the parser's buffer and are valid until the next
 * call that reads from the same source.
 *
 * For every template but legacy "ima", `data` is exactly the bytes the
 * template digest is computed over: the fields, each as u32 length + bytes,
 * in list byte order. For "ima" it is the bare 20-byte digest, the u32 name
 * length and the name (no NUL), as in the list.
 */
struct ima_record {
	uint64_t index;		/* 0-based position in the stream */
	uint64_t offset;	/* byte offset of the record in the stream */
	uint32_t pcr;
	uint8_t digest[IMA_MAX_DIGEST];	/* template digest in the list's bank */
	uint16_t digest_len;
	uint32_t name_len;
	char name[IMA_TEMPLATE_NAME_MAX + 1];	/* NUL-terminated copy */
	const uint8_t *data;
	uint32_t data_len;
	bool legacy;		/* template "ima": no template data length */
	bool little_endian;	/* u32 fields were little-endian */
	const uint8_t *raw;	/* the whole record as it appeared in the list */
	size_t raw_len;
};

/* All-zero template digest = violation (kernel-interface.md §6.2). */
bool ima_record_is_violation(const struct ima_record *rec);

/*
 * Parse one binary record from buf[0..len). `digest_len` is the bank width.
 * Returns the number of bytes consumed (> 0), -EAGAIN if buf holds only a
 * prefix of a record (read more and call again), or -EBADMSG with a message
 * naming what is wrong; index/offset are only used in that message and are
 * copied to rec.
 */
long ima_record_parse(const uint8_t *buf, size_t len, uint16_t digest_len,
		      enum list_endian endian, uint64_t index, uint64_t offset,
		      struct ima_record *rec, struct errmsg *em);

/* Resolve LIST_ENDIAN_AUTO from a record's leading PCR field. */
enum list_endian ima_endian_guess(const uint8_t *buf, size_t len);

uint32_t ima_get_u32(const uint8_t *p, bool little_endian);
void ima_put_u32(uint8_t *p, uint32_t v, bool little_endian);

/*
 * Compute the template digest of `rec` for the bank of `ctx` the way the kernel
 * does (legacy "ima" pads the name to 256 bytes). Violations are not
 * special here: the caller decides (their list digest is all zeros).
 */
struct hash_ctx;
int ima_record_template_digest(const struct ima_record *rec,
			       struct hash_ctx *ctx, uint8_t *out);

#endif
