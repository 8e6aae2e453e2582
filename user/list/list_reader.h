/* SPDX-License-Identifier: GPL-2.0-only */
/* Streaming input of a list, binary or ASCII, its bank and byte order told from the file. */
#ifndef IMASTORE_LIST_READER_H
#define IMASTORE_LIST_READER_H

#include "ima_record.h"
#include "template.h"

/*
 * Streaming reader of a measurement list, binary or ASCII, from a file
 * descriptor. Memory use is bounded by the largest record, whatever the
 * list length; a record split across read() boundaries is handled.
 */
enum list_format {
	LIST_FORMAT_AUTO,
	LIST_FORMAT_BINARY,
	LIST_FORMAT_ASCII,
};

struct list_reader_opts {
	enum list_format format;
	/* Bank of the list; NULL: from the file name, else from the data. */
	const struct hash_alg *bank;
	enum list_endian endian;
	/* Template format for records with an empty template name. */
	const char *template_fmt;
	/* Only for messages and bank guessing from a file name. */
	const char *path;
	/* Index of the first record (a piece of a longer list). */
	uint64_t first_index;
};

struct list_reader;

int list_reader_open(struct list_reader **out, int fd,
		     const struct list_reader_opts *opts, struct errmsg *em);
void list_reader_free(struct list_reader *r);

/* 1: a record, 0: clean end of list, < 0: error (message in em). */
int list_reader_next(struct list_reader *r, struct ima_record *rec,
		     struct errmsg *em);

/*
 * Up to `max` records at once (at least 1; 0 at the end, < 0 on error), all
 * valid until the next call: whatever complete records the buffer holds,
 * so a consumer can hand a batch to several threads.
 */
int list_reader_next_batch(struct list_reader *r, struct ima_record *recs,
			   unsigned max, struct errmsg *em);

/* Bank and byte order in use (known after open). */
const struct hash_alg *list_reader_bank(const struct list_reader *r);
enum list_format list_reader_format(const struct list_reader *r);
uint64_t list_reader_offset(const struct list_reader *r);
/* Index the next record will have. */
uint64_t list_reader_index(const struct list_reader *r);

/* The bank a list file name implies ("..._sha256", "..._tpm_alg_27"), or NULL. */
const struct hash_alg *list_bank_from_path(const char *path);

#endif
