// SPDX-License-Identifier: GPL-2.0-only
/*
 * A reader's chain brought up to the writer's durable end by reading only
 * the frames committed since it last looked (docs/store-format.md §5):
 * chain_refresh() scans the whole last segment (up to 64 MiB), too slow for
 * a read at the end of the view, which needs the few records a drain cycle
 * just committed. When the writer started a new segment, the chain is
 * loaded again as chain_refresh() does. What is not a good commit after the
 * durable end (a group being written, a torn tail, damage) is left alone:
 * the durable end stays where it was, as for any reader.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store_int.h"
#include "view_list.h"

#define CATCH_CHUNK (256u << 10)

static int count_segments(struct chain *c, size_t *n)
{
	struct dirent *de;
	DIR *d;
	int fd = dup(c->dirfd);

	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	rewinddir(d);
	*n = 0;
	while ((de = readdir(d)))
		if (!strncmp(de->d_name, "seg-", 4) && strlen(de->d_name) == 24 &&
		    !strcmp(de->d_name + 20, ".log"))
			(*n)++;
	closedir(d);
	return 0;
}

struct catch {
	int fd;
	uint8_t *buf;
	size_t cap, len;	/* buf holds file bytes [at, at + len) */
	off_t at;
};

/* At least `want` bytes at c->buf (file offset `off`) unless the file ends. */
static int catch_fill(struct catch *k, off_t off, size_t want)
{
	ssize_t n;

	if (off < k->at || off > k->at + (off_t)k->len) {
		k->at = off;
		k->len = 0;
	} else if (off > k->at) {
		memmove(k->buf, k->buf + (off - k->at), k->len - (size_t)(off - k->at));
		k->len -= (size_t)(off - k->at);
		k->at = off;
	}
	if (want > k->cap) {
		uint8_t *nb = realloc(k->buf, want);

		if (!nb)
			return -ENOMEM;
		k->buf = nb;
		k->cap = want;
	}
	while (k->len < want) {
		n = pread(k->fd, k->buf + k->len, k->cap - k->len, k->at + (off_t)k->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (!n)
			break;
		k->len += (size_t)n;
	}
	return 0;
}

/* Good commits after the durable end of the last segment. */
static int scan_tail(struct chain *c, struct catch *k, bool *changed)
{
	uint64_t pending = c->durable;
	uint32_t crc = 0;
	off_t at = c->durable_end;
	struct frame f;
	long n;
	int ret;

	for (;;) {
		ret = catch_fill(k, at, FRAME_HDR);
		if (ret)
			return ret;
		if (k->len < FRAME_HDR)
			return 0;
		n = frame_check(k->buf, k->len, &f);
		if (!n) {
			ret = catch_fill(k, at, FRAME_HDR + (size_t)get_le32(k->buf + FRAME_OFF_LEN));
			if (ret)
				return ret;
			n = frame_check(k->buf, k->len, &f);
		}
		if (n <= 0)
			return 0;	/* not (yet) a whole valid frame */
		if (f.magic == FRAME_RECORD && f.index == pending) {
			pending++;
			crc = frame_crc(crc, k->buf + FRAME_OFF_CRC, 4);
		} else if (f.magic == FRAME_COMMIT && f.len == COMMIT_PAYLOAD &&
			   f.index == pending &&
			   (off_t)get_le64(f.payload + 8) == c->durable_end &&
			   get_le32(f.payload + 16) == crc) {
			c->durable_end = at + n;
			c->durable = c->count = pending;
			crc = 0;
			*changed = true;
		} else {
			return 0;
		}
		at += n;
	}
}

int vchain_catch_up(struct chain *c, bool *changed, struct errmsg *em)
{
	struct catch k = { .fd = -1 };
	uint64_t before = c->durable;
	char name[64];
	size_t nsegs = 0;
	int ret;

	*changed = false;
	if (c->segfd >= 0 || c->corrupt)
		return 0;	/* a writer is always up to date; damage stays */
	ret = count_segments(c, &nsegs);
	if (ret)
		return errmsg_set(em, ret, "chain %s: %s", c->meta.chain, strerror(-ret));
	if (nsegs != c->nsegs) {
		ret = chain_load_segments(c, em);
		*changed = true;
		return ret;
	}
	seg_name(name, sizeof(name), c->segs[c->nsegs - 1].first, "log");
	k.fd = openat(c->dirfd, name, O_RDONLY | O_CLOEXEC);
	if (k.fd < 0)
		return errmsg_set(em, -errno, "%s: %s", name, strerror(errno));
	k.cap = CATCH_CHUNK;
	k.buf = malloc(k.cap);
	ret = k.buf ? scan_tail(c, &k, changed) : -ENOMEM;
	if (ret)
		errmsg_set(em, ret, "%s: %s", name, strerror(-ret));
	free(k.buf);
	close(k.fd);
	*changed = *changed || c->durable != before;
	return ret;
}
