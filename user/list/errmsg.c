// SPDX-License-Identifier: GPL-2.0-only
/* Library errors: a negative errno and the words for a human in the caller's struct errmsg. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "errmsg.h"

int errmsg_set(struct errmsg *em, int err, const char *fmt, ...)
{
	va_list ap;

	if (!em)
		return err;
	va_start(ap, fmt);
	vsnprintf(em->text, sizeof(em->text), fmt, ap);
	va_end(ap);
	return err;
}

void errmsg_prefix(struct errmsg *em, const char *fmt, ...)
{
	char old[sizeof(em->text)];
	size_t n;
	va_list ap;

	if (!em)
		return;
	memcpy(old, em->text, sizeof(old));
	va_start(ap, fmt);
	vsnprintf(em->text, sizeof(em->text), fmt, ap);
	va_end(ap);
	n = strlen(em->text);
	if (n + 2 < sizeof(em->text)) {
		memcpy(em->text + n, ": ", 3);
		n += 2;
		/* truncation is fine: the message is for a human */
		memcpy(em->text + n, old, strnlen(old, sizeof(em->text) - n - 1));
		em->text[n + strnlen(old, sizeof(em->text) - n - 1)] = '\0';
	}
}
