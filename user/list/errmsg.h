/* SPDX-License-Identifier: GPL-2.0-only */
/* Library errors: a negative errno and the words for a human in the caller's struct errmsg. */
#ifndef IMASTORE_ERRMSG_H
#define IMASTORE_ERRMSG_H

/*
 * Library functions return a negative errno and leave the words for a human
 * in a caller-provided struct errmsg, so that only the caller decides whether
 * and how to log (systemd's rule). Every errmsg argument may be NULL.
 */
struct errmsg {
	char text[512];
};

__attribute__((format(printf, 3, 4)))
int errmsg_set(struct errmsg *em, int err, const char *fmt, ...);

/* Prefix an existing message with more context ("file.bin: ..."). */
__attribute__((format(printf, 2, 3)))
void errmsg_prefix(struct errmsg *em, const char *fmt, ...);

static inline const char *errmsg_text(const struct errmsg *em)
{
	return em && em->text[0] ? em->text : "unknown error";
}

#endif
