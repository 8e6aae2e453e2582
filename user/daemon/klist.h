/* SPDX-License-Identifier: GPL-2.0-only */
/* One writer window's read of the kernel's list, in memory, split into records. */
#ifndef IMASTORED_KLIST_H
#define IMASTORED_KLIST_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "placement.h"

/*
 * One window's read of the kernel's list, in memory: the bytes and where
 * each record starts. A/D reads the staged batch and the current list into
 * one klist (the order a kexec carries them in).
 */
struct klist {
	uint8_t *buf;
	size_t len;
	off_t base;		/* byte offset of buf[0] in the list */
	size_t n, cap;
	struct { size_t off, len; } *rec;
	const char *path;	/* for messages */
	uint16_t digest_size;
	enum list_endian endian;
	size_t cursor;		/* kernel_head's position */
};

void klist_init(struct klist *kl, const char *path, uint16_t digest_size,
		enum list_endian endian);
/* Append the list read from fd (from byte `from`) and split it into records. */
int klist_read(struct klist *kl, int fd, off_t from, struct errmsg *em);
int klist_parse(const struct klist *kl, size_t i, struct ima_record *rec,
		struct errmsg *em);
/* The records as a kernel_head for placement (rewind + next). */
void klist_head(struct klist *kl, struct kernel_head *kh);
void klist_free(struct klist *kl);

#endif
