// SPDX-License-Identifier: GPL-2.0-only
/* klist: the kernel's list as read in one window (see klist.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kernel_ops.h"
#include "klist.h"

void klist_init(struct klist *kl, const char *path, uint16_t digest_size,
		enum list_endian endian)
{
	memset(kl, 0, sizeof(*kl));
	kl->path = path;
	kl->digest_size = digest_size;
	kl->endian = endian;
}

static int add_rec(struct klist *kl, size_t off, size_t len)
{
	void *nr;

	if (kl->n == kl->cap) {
		kl->cap = kl->cap ? kl->cap * 2 : 1024;
		nr = realloc(kl->rec, kl->cap * sizeof(*kl->rec));
		if (!nr)
			return -ENOMEM;
		kl->rec = nr;
	}
	kl->rec[kl->n].off = off;
	kl->rec[kl->n].len = len;
	kl->n++;
	return 0;
}

/* Split buf[from..len) into records; a torn last record is an error. */
static int split(struct klist *kl, size_t off, struct errmsg *em)
{
	struct ima_record rec;
	long r;
	int ret;

	while (off < kl->len) {
		r = ima_record_parse(kl->buf + off, kl->len - off, kl->digest_size,
				     kl->endian, kl->n, (uint64_t)kl->base + off, &rec, em);
		if (r == -EAGAIN)
			return errmsg_set(em, -EIO, "%s: the list ends inside a record at byte %llu",
					  kl->path, (unsigned long long)kl->base + off);
		if (r < 0)
			return (int)r;
		ret = add_rec(kl, off, (size_t)r);
		if (ret)
			return ret;
		off += (size_t)r;
	}
	return 0;
}

int klist_read(struct klist *kl, int fd, off_t from, struct errmsg *em)
{
	uint8_t *b, *nb;
	size_t len, old = kl->len;
	int ret;

	ret = kernel_read_list(fd, from, &b, &len, em);
	if (ret)
		return ret;
	if (!kl->buf) {
		kl->buf = b;
		kl->len = len;
		kl->base = from;
	} else {
		nb = realloc(kl->buf, old + len + 1);
		if (!nb) {
			free(b);
			return -ENOMEM;
		}
		memcpy(nb + old, b, len);
		free(b);
		kl->buf = nb;
		kl->len = old + len;
	}
	return split(kl, old, em);
}

int klist_parse(const struct klist *kl, size_t i, struct ima_record *rec,
		struct errmsg *em)
{
	long r = ima_record_parse(kl->buf + kl->rec[i].off, kl->len - kl->rec[i].off,
				  kl->digest_size, kl->endian, i,
				  (uint64_t)kl->base + kl->rec[i].off, rec, em);

	return r < 0 ? (int)r : 0;
}

static int head_rewind(void *arg, struct errmsg *em)
{
	(void)em;
	((struct klist *)arg)->cursor = 0;
	return 0;
}

static int head_next(void *arg, struct ima_record *rec, struct errmsg *em)
{
	struct klist *kl = arg;
	int ret;

	if (kl->cursor >= kl->n)
		return 0;
	ret = klist_parse(kl, kl->cursor++, rec, em);
	return ret ? ret : 1;
}

void klist_head(struct klist *kl, struct kernel_head *kh)
{
	kh->rewind = head_rewind;
	kh->next = head_next;
	kh->arg = kl;
}

void klist_free(struct klist *kl)
{
	free(kl->buf);
	free(kl->rec);
	kl->buf = NULL;
	kl->rec = NULL;
	kl->n = kl->len = kl->cap = 0;
}
