/* SPDX-License-Identifier: GPL-2.0-only */
/* The kernel's ASCII list: a record printed as the kernel prints it, and parsed back. */
#ifndef IMASTORE_LIST_ASCII_H
#define IMASTORE_LIST_ASCII_H

#include <stdio.h>

#include "ima_record.h"
#include "template.h"

/*
 * Format `rec` exactly as the kernel's ascii_runtime_measurements_<bank>
 * would show it (ima_ascii_measurements_show). Field types come from the
 * built-in template of rec->name, else from `desc` (a custom format given
 * by the user; may be NULL). Returns the line length
 * (with '\n') written to out, or a negative errno (-ENOSPC if outlen is too
 * small: a line can be twice the template data plus a little).
 */
long list_ascii_format(const struct ima_record *rec,
		       const struct template_desc *desc, char *out,
		       size_t outlen, struct errmsg *em);

/* Worst-case line length for a record with this much template data. */
size_t list_ascii_max_line(const struct ima_record *rec);

/*
 * Parse one ASCII line (without its '\n') back into binary record bytes in
 * the given byte order. `desc` as above. Returns the record length written
 * to out, or a negative errno. ASCII cannot carry a path containing a
 * newline; such a list is only exact in binary.
 */
long list_ascii_parse_line(const char *line, size_t len, uint16_t digest_len,
			   const struct template_desc *desc, bool little_endian,
			   uint8_t *out, size_t outlen, struct errmsg *em);

#endif
