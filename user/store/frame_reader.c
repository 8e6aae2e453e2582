// SPDX-License-Identifier: GPL-2.0-only
/* A buffered forward reader of one store file, frame by frame (the recovery scan's and the iterator's). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store_int.h"

int rb_init(struct rbuf *rb, int fd, off_t off)
{
	memset(rb, 0, sizeof(*rb));
	rb->fd = fd;
	rb->off = off;
	rb->cap = SCAN_CHUNK;
	rb->buf = malloc(rb->cap);
	return rb->buf ? 0 : -ENOMEM;
}

void rb_free(struct rbuf *rb)
{
	free(rb->buf);
	rb->buf = NULL;
}

void rb_seek(struct rbuf *rb, off_t off)
{
	rb->start = rb->end = 0;
	rb->off = off;
	rb->eof = false;
}

/* Make `want` bytes available at buf[start] unless the file ends first. */
int rb_fill(struct rbuf *rb, size_t want)
{
	ssize_t n;

	while (rb->end - rb->start < want && !rb->eof) {
		if (rb->start) {
			memmove(rb->buf, rb->buf + rb->start, rb->end - rb->start);
			rb->end -= rb->start;
			rb->start = 0;
		}
		if (rb->cap < want) {
			uint8_t *nb = realloc(rb->buf, want);

			if (!nb)
				return -ENOMEM;
			rb->buf = nb;
			rb->cap = want;
		}
		n = pread(rb->fd, rb->buf + rb->end, rb->cap - rb->end,
			  rb->off + (off_t)rb->end);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			rb->eof = true;
		rb->end += (size_t)n;
	}
	return 0;
}

void rb_advance(struct rbuf *rb, size_t n)
{
	rb->start += n;
	rb->off += (off_t)n;
}

long rb_frame(struct rbuf *rb, struct frame *f)
{
	long n;
	int ret;

	ret = rb_fill(rb, FRAME_HDR);
	if (ret)
		return ret;
	if (rb->end == rb->start)
		return 0;
	n = frame_check(rb->buf + rb->start, rb->end - rb->start, f);
	if (n == 0) {
		uint32_t plen = get_le32(rb->buf + rb->start + FRAME_OFF_LEN);

		ret = rb_fill(rb, FRAME_HDR + (size_t)plen);
		if (ret)
			return ret;
		n = frame_check(rb->buf + rb->start, rb->end - rb->start, f);
		if (n == 0)
			return -EBADMSG;	/* the file ends inside the frame */
	}
	return n;
}
