// SPDX-License-Identifier: GPL-2.0-only
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
	putc('"', f);
	for (size_t i = 0, k; i < n; i += k) {
		uint8_t c = s[i];

		k = utf8_seq(s + i, n - i);
		if (!k) {
			fputs("\\ufffd", f);
			k = 1;
		} else if (k > 1) {
			fwrite(s + i, 1, k, f);
		} else if (c == '"' || c == '\\') {
			putc('\\', f);
			putc(c, f);
		} else if (c < 0x20 || c == 0x7f) {
			fprintf(f, "\\u%04x", c);
		} else {
			putc(c, f);
		}
	}
	putc('"', f);
}

void json_cstring(FILE *f, const char *s)
{
	json_string(f, (const uint8_t *)s, strlen(s));
}

void hex_print(FILE *f, const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		putc(hexdig[b[i] >> 4], f);
		putc(hexdig[b[i] & 15], f);
	}
}

void json_hex(FILE *f, const uint8_t *b, size_t n)
{
	putc('"', f);
	hex_print(f, b, n);
	putc('"', f);
}

void text_escaped(FILE *f, const uint8_t *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] > 0x20 && s[i] < 0x7f && s[i] != '\\')
			putc(s[i], f);
		else
			fprintf(f, "\\x%02x", s[i]);
	}
}
