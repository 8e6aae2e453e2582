// SPDX-License-Identifier: GPL-2.0-only
/* Reading a chain: records from an index to the durable end, across segments (store-format.md §5, §6). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store_int.h"

struct chain_iter {
	struct chain *c;
	size_t seg;		/* index into c->segs */
	int fd;
	struct rbuf rb;
	uint64_t next;		/* index of the next record */
	uint64_t stop;		/* durable count when opened */
	off_t stop_off;		/* durable end of the last segment */
	uint32_t last_magic;	/* of the last frame read in this segment */
	char name[64];
};

static int iter_open_seg(struct chain_iter *it, size_t seg, uint64_t from,
			 struct errmsg *em)
{
	uint64_t first = it->c->segs[seg].first;
	off_t off = SEG_HDR_END;
	char idx[64];
	uint8_t b[8];
	bool active;
	int ifd;

	if (it->fd >= 0)
		close(it->fd);
	it->seg = seg;
	seg_name(it->name, sizeof(it->name), first, "log");
	/*
	 * The writer's active segment and its index are read through the
	 * writer's fds: opening a file for reading while it is open for
	 * writing is an IMA open-writers violation (and a measurement).
	 */
	active = it->c->segfd >= 0 && seg == it->c->nsegs - 1;
	it->fd = active ? dup(it->c->segfd) : openat(it->c->dirfd, it->name, O_RDONLY | O_CLOEXEC);
	if (it->fd < 0)
		return errmsg_set(em, -errno, "%s: %s", it->name, strerror(errno));
	/* the sparse index, if it is right (checked below), saves a scan */
	seg_name(idx, sizeof(idx), first, "idx");
	if (!active)
		ifd = openat(it->c->dirfd, idx, O_RDONLY | O_CLOEXEC);
	else
		ifd = it->c->idxfd >= 0 ? dup(it->c->idxfd) : -1;
	if (ifd >= 0) {
		off_t slot = (off_t)((from - first) / STORE_INDEX_STRIDE);

		if (pread(ifd, b, 8, slot * 8) == 8) {
			uint8_t h[FRAME_HDR];
			off_t cand = (off_t)get_le64(b);

			if (pread(it->fd, h, FRAME_HDR, cand) == FRAME_HDR &&
			    get_le32(h) == FRAME_RECORD &&
			    get_le64(h + FRAME_OFF_INDEX) == first + (uint64_t)slot * STORE_INDEX_STRIDE)
				off = cand;
		}
		close(ifd);
	}
	rb_seek(&it->rb, off);
	it->last_magic = 0;
	it->rb.fd = it->fd;
	return 0;
}

int chain_iter_open(struct chain *c, uint64_t from, struct chain_iter **out,
		    struct errmsg *em)
{
	struct chain_iter *it;
	size_t seg = 0;
	int ret;

	it = calloc(1, sizeof(*it));
	if (!it)
		return -ENOMEM;
	it->c = c;
	it->fd = -1;
	it->stop = c->durable;
	it->stop_off = c->durable_end;
	it->next = from;
	ret = rb_init(&it->rb, -1, 0);
	if (ret)
		goto err;
	if (from > it->stop) {
		ret = errmsg_set(em, -ERANGE, "chain %s has %llu records; no record %llu",
				 c->meta.chain, (unsigned long long)it->stop,
				 (unsigned long long)from);
		goto err;
	}
	while (seg + 1 < c->nsegs && c->segs[seg + 1].first <= from)
		seg++;
	ret = iter_open_seg(it, seg, from, em);
	if (ret)
		goto err;
	*out = it;
	return 0;
err:
	chain_iter_free(it);
	return ret;
}

static int corrupt(struct chain_iter *it, off_t at, const char *why,
		   struct errmsg *em)
{
	return errmsg_set(em, -EBADMSG,
			  "chain %s: %s is corrupt at byte offset %lld (record %llu): %s",
			  it->c->meta.chain, it->name, (long long)at,
			  (unsigned long long)it->next, why);
}

int chain_iter_next(struct chain_iter *it, struct ima_record *rec,
		    struct errmsg *em)
{
	const struct chain_meta *m = &it->c->meta;
	struct frame f;
	long n;

	for (;;) {
		bool last = it->seg + 1 == it->c->nsegs;
		off_t at = it->rb.off;

		/*
		 * The end of what was durable at open, once in the last segment
		 * (its recovery scan checked it up to the durable end). When the
		 * records run out at the end of a sealed segment (the segment
		 * after it holds none yet), the rest of that segment, its sealing
		 * commit frame (the commit of the records just returned), is read
		 * first, as on the way to a next record: damage there is reported
		 * like anywhere else in a sealed segment, not skipped (§5).
		 */
		if (it->next >= it->stop && last)
			return it->c->corrupt ? errmsg_set(em, -EBADMSG, "%s", it->c->corrupt_why) : 0;
		if (last && at >= it->stop_off)
			return corrupt(it, at, "records missing before the durable end", em);
		n = rb_frame(&it->rb, &f);
		if (n == 0) {
			if (last)
				return corrupt(it, at, "the segment ends early", em);
			if (it->next != it->c->segs[it->seg + 1].first)
				return corrupt(it, at, "the next segment does not follow", em);
			if (it->last_magic != FRAME_COMMIT)	/* §5 rule 3 */
				return corrupt(it, at, "the sealed segment does not end with a commit frame", em);
			n = iter_open_seg(it, it->seg + 1, it->next, em);
			if (n)
				return (int)n;
			continue;
		}
		if (n == -EBADMSG)
			return corrupt(it, at, "invalid frame", em);
		if (n < 0)
			return errmsg_set(em, (int)n, "%s: %s", it->name, strerror((int)-n));
		rb_advance(&it->rb, (size_t)n);
		it->last_magic = f.magic;
		if (f.magic == FRAME_COMMIT)
			continue;
		if (f.magic != FRAME_RECORD)
			return corrupt(it, at, "unexpected frame", em);
		if (f.index < it->next)
			continue;	/* before `from`, after the index entry */
		if (it->next >= it->stop)	/* in a sealed segment, past its end */
			return corrupt(it, at, "the next segment does not follow", em);
		if (f.index != it->next)
			return corrupt(it, at, "record out of order", em);
		n = ima_record_parse(f.payload, f.len, m->bank->size,
				     m->little_endian ? LIST_ENDIAN_LITTLE : LIST_ENDIAN_BIG,
				     f.index, (uint64_t)at + FRAME_HDR, rec, em);
		if (n != (long)f.len)
			return corrupt(it, at, "the frame does not hold one record", em);
		it->next++;
		return 1;
	}
}

void chain_iter_free(struct chain_iter *it)
{
	if (!it)
		return;
	if (it->fd >= 0)
		close(it->fd);
	rb_free(&it->rb);
	free(it);
}
