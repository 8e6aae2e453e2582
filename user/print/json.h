/* SPDX-License-Identifier: GPL-2.0-only */
/* JSON and escaped text output of bytes (paths are bytes, not always UTF-8). */
#ifndef IMASTORE_JSON_H
#define IMASTORE_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/*
 * JSON output is a stable contract (docs/json.md). IMA paths are bytes:
 * json_string() escapes every control byte, and a byte sequence that is
 * not UTF-8 comes out as U+FFFD, so callers also print an exact hex copy
 * when utf8_valid() is false.
 */
bool utf8_valid(const uint8_t *s, size_t n);
void json_string(FILE *f, const uint8_t *s, size_t n);
void json_cstring(FILE *f, const char *s);
void json_hex(FILE *f, const uint8_t *b, size_t n);	/* "0a1b..." */
void hex_print(FILE *f, const uint8_t *b, size_t n);	/* 0a1b... */
/* For human output: printable ASCII as is, everything else as \xNN. */
void text_escaped(FILE *f, const uint8_t *s, size_t n);

#endif
