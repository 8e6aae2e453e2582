/* SPDX-License-Identifier: GPL-2.0-only */
/* A record as a line of text (show) or a JSON object (show --json). */
#ifndef IMASTORE_RECORD_PRINT_H
#define IMASTORE_RECORD_PRINT_H

#include <stdio.h>

#include "ima_record.h"
#include "template.h"

/*
 * One record a line, for people and for pipelines (docs/json.md).
 * `custom` is the field list for templates that are not built in (may be
 * NULL: such records then show their fields as hex).
 *
 * Text: INDEX PCR TEMPLATE TEMPLATE-DIGEST FILE-DIGEST PATH [buf:HEX]
 * with non-printable path bytes as \xNN.
 */
int record_print_text(FILE *f, const struct ima_record *rec,
		      const struct template_desc *custom, struct errmsg *em);
int record_print_json(FILE *f, const struct ima_record *rec,
		      const struct hash_alg *bank,
		      const struct template_desc *custom, struct errmsg *em);

/*
 * The same with `lead` in place of the index: the first column of a text
 * line, or the first JSON members without braces ("\"seq\":5,..."). NULL
 * prints the index.
 */
int record_print_text_lead(FILE *f, const char *lead, const struct ima_record *rec,
			   const struct template_desc *custom, struct errmsg *em);
int record_print_json_lead(FILE *f, const char *lead, const struct ima_record *rec,
			   const struct hash_alg *bank,
			   const struct template_desc *custom, struct errmsg *em);

#endif
