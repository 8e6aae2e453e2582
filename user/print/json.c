// SPDX-License-Identifier: GPL-2.0-only
/* JSON and escaped text output of bytes (paths are bytes, not always UTF-8). */
#include <stdio.h>
#include <string.h>

#include "json.h"

static const char hexdig[] = "0123456789abcdef";

/* Length of the UTF-8 sequence at s (1..4), or 0 if it is not one. */
static size_t utf8_seq(const uint8_t *s, size_t n)
{
	uint32_t cp;
	size_t len;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	/* overlong forms, surrogates, > U+10FFFF */
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

bool utf8_valid(const uint8_t *s, size_t n)
{
	for (size_t i = 0, k; i < n; i += k) {
		k = utf8_seq(s + i, n - i);
		if (!k)
			return false;
	}
	return true;
}

void json_string(FILE *f, const uint8_t *s, size_t n)
{
	putc_unlocked('"', f);
	for (size_t i = 0, k; i < n; i += k) {
		uint8_t c = s[i];

		k = utf8_seq(s + i, n - i);
		if (!k) {
			fputs("\\ufffd", f);
			k = 1;
		} else if (k > 1) {
			fwrite_unlocked(s + i, 1, k, f);
		} else if (c == '"' || c == '\\') {
			putc_unlocked('\\', f);
			putc_unlocked(c, f);
		} else if (c < 0x20 || c == 0x7f) {
			fprintf(f, "\\u%04x", c);
		} else {
			putc_unlocked(c, f);
		}
	}
	putc_unlocked('"', f);
}

void json_cstring(FILE *f, const char *s)
{
	json_string(f, (const uint8_t *)s, strlen(s));
}

/* Digests and signatures are most of every line: a chunk at a time. */
void hex_print(FILE *f, const uint8_t *b, size_t n)
{
	char buf[256];

	while (n) {
		size_t k = n < sizeof(buf) / 2 ? n : sizeof(buf) / 2;

		for (size_t i = 0; i < k; i++) {
			buf[2 * i] = hexdig[b[i] >> 4];
			buf[2 * i + 1] = hexdig[b[i] & 15];
		}
		fwrite_unlocked(buf, 1, 2 * k, f);
		b += k;
		n -= k;
	}
}

void json_hex(FILE *f, const uint8_t *b, size_t n)
{
	putc_unlocked('"', f);
	hex_print(f, b, n);
	putc_unlocked('"', f);
}

void text_escaped(FILE *f, const uint8_t *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] > 0x20 && s[i] < 0x7f && s[i] != '\\')
			putc_unlocked(s[i], f);
		else
			fprintf(f, "\\x%02x", s[i]);
	}
}
