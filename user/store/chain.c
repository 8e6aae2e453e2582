// SPDX-License-Identifier: GPL-2.0-only
/*
 * A chain's segments: recovery scan, the segment writer and group commit
 * (docs/store-format.md §5, §6); reading is chain_iter.c.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "store_int.h"
#include "store_io.h"

/* ---- recovery scan ---- */

/*
 * Does [gs, y) hold a whole committed group for the commit frame `c` at y:
 * record frames only, consecutive indexes up to c's, their CRCs' CRC equal
 * to c's group CRC? A commit frame that is only bytes inside a record (an
 * ima-buf record's buffer can hold anything) has no such group before it.
 */
static bool group_before(int fd, off_t gs, off_t y, const struct frame *c)
{
	size_t len = (size_t)(y - gs), pos = 0;
	uint8_t *buf = malloc(len ? len : 1);
	uint64_t next = 0;
	uint32_t crc = 0;
	bool ok = false, first = true;

	if (!buf || pread(fd, buf, len, gs) != (ssize_t)len)
		goto out;
	while (pos < len) {
		struct frame f;
		long n = frame_check(buf + pos, len - pos, &f);

		if (n <= 0 || f.magic != FRAME_RECORD || (!first && f.index != next))
			goto out;
		first = false;
		next = f.index + 1;
		crc = frame_crc(crc, buf + pos + FRAME_OFF_CRC, 4);
		pos += (size_t)n;
	}
	ok = !first && next == c->index && crc == get_le32(c->payload + 16);
out:
	free(buf);
	return ok;
}

/*
 * Is there, after the first problem at `from`, a commit frame naming a group
 * start other than the durable end E, with its whole group before it? Then
 * a committed group was damaged (§5): everything a writer ever wrote after E
 * is an attempt at the group that starts at E, whose commit names E. A
 * commit frame that is only bytes inside a torn record has no such group.
 *
 * The later group may start at `from` itself: a frame's magic is not under
 * its CRC, so a commit frame with one byte changed ("IMAC" -> "IMAR") reads
 * as a valid record frame, and the first problem is the next frame, the
 * first of the following group (which starts after E all the same).
 */
static int later_commit_elsewhere(int fd, off_t from, off_t durable_end, bool *found)
{
	static const uint8_t magic[4] = { 'I', 'M', 'A', 'C' };
	const size_t frame_len = FRAME_HDR + COMMIT_PAYLOAD;
	uint8_t *buf = malloc(SCAN_CHUNK + frame_len);
	off_t off = from;
	ssize_t n;

	*found = false;
	if (!buf)
		return -ENOMEM;
	for (;;) {
		n = pread(fd, buf, SCAN_CHUNK + frame_len, off);
		if (n < 0) {
			free(buf);
			return -errno;
		}
		if ((size_t)n < 4)
			break;
		for (uint8_t *p = buf; (p = memmem(p, (size_t)n - (size_t)(p - buf),
						   magic, 4)); p++) {
			struct frame f;

			off_t y = off + (off_t)(p - buf);
			off_t gs;

			if (frame_check(p, (size_t)n - (size_t)(p - buf), &f) <= 0 ||
			    f.magic != FRAME_COMMIT || f.len != COMMIT_PAYLOAD)
				continue;
			gs = (off_t)get_le64(f.payload + 8);
			/* a later group starts after E and ends here */
			if (gs > durable_end && gs < y && group_before(fd, gs, y, &f)) {
				*found = true;
				free(buf);
				return 0;
			}
		}
		if ((size_t)n < SCAN_CHUNK + frame_len)
			break;
		off += SCAN_CHUNK;
	}
	free(buf);
	return 0;
}

int seg_scan_fd(int fd, const char *name, struct seg_scan *r,
		uint64_t *idx_out, size_t idx_max, size_t *idx_n,
		struct errmsg *em)
{
	struct rbuf rb;
	struct frame f;
	uint64_t pending;
	uint32_t crc = 0;
	size_t nidx = 0, nidx_durable = 0;
	off_t problem = -1;
	long n;
	int ret;

	memset(r, 0, sizeof(*r));
	r->size = lseek(fd, 0, SEEK_END);
	ret = rb_init(&rb, fd, 0);
	if (ret)
		return ret;
	n = rb_frame(&rb, &f);
	if (n != (long)SEG_HDR_END || f.magic != FRAME_SEGMENT) {
		/* segments are renamed into place only after their header is synced */
		r->corrupt = true;
		r->corrupt_at = 0;
		snprintf(r->why, sizeof(r->why), "no valid segment header");
		goto out;
	}
	r->first = r->next = pending = f.index;
	r->durable_end = SEG_HDR_END;
	rb_advance(&rb, (size_t)n);
	for (;;) {
		off_t at = rb.off;

		n = rb_frame(&rb, &f);
		if (n == 0)
			break;
		if (n < 0 && n != -EBADMSG) {
			ret = errmsg_set(em, (int)n, "%s: read: %s", name, strerror((int)-n));
			goto out;
		}
		if (n < 0) {
			problem = at;
			snprintf(r->why, sizeof(r->why), "invalid frame");
			break;
		}
		if (f.magic == FRAME_RECORD && f.index == pending) {
			if (idx_out && (pending - r->first) % STORE_INDEX_STRIDE == 0 &&
			    nidx < idx_max)
				idx_out[nidx++] = (uint64_t)at;
			pending++;
			crc = frame_crc(crc, rb.buf + rb.start + FRAME_OFF_CRC, 4);
		} else if (f.magic == FRAME_COMMIT && f.len == COMMIT_PAYLOAD &&
			   f.index == pending &&
			   (off_t)get_le64(f.payload + 8) == r->durable_end &&
			   get_le32(f.payload + 16) == crc) {
			r->durable_end = at + n;
			r->next = pending;
			nidx_durable = nidx;
			crc = 0;
		} else {
			problem = at;
			snprintf(r->why, sizeof(r->why),
				 f.magic == FRAME_RECORD ? "record index %llu where %llu was due" :
				 f.magic == FRAME_COMMIT ? "commit frame that does not match its group (index %llu, %llu due)" :
				 "unexpected frame (index %llu, %llu due)",
				 (unsigned long long)f.index, (unsigned long long)pending);
			break;
		}
		rb_advance(&rb, (size_t)n);
	}
	if (problem >= 0) {
		bool found;

		ret = later_commit_elsewhere(fd, problem, r->durable_end, &found);
		if (ret)
			goto out;
		if (found) {
			size_t l = strlen(r->why);

			r->corrupt = true;
			r->corrupt_at = problem;
			snprintf(r->why + l, sizeof(r->why) - l,
				 " in the committed group from byte offset %lld",
				 (long long)r->durable_end);
		}
	}
	if (idx_n)
		*idx_n = nidx_durable;
out:
	rb_free(&rb);
	return ret;
}

/* ---- segments of a chain ---- */

static int cmp_seg(const void *a, const void *b)
{
	const struct segment *x = a, *y = b;

	return x->first < y->first ? -1 : x->first > y->first;
}

static int parse_seg_name(const char *name, uint64_t *first)
{
	char *end;

	if (strncmp(name, "seg-", 4) || strlen(name) != 4 + 16 + 4 ||
	    strcmp(name + 20, ".log"))
		return -1;
	*first = strtoull(name + 4, &end, 16);
	return end == name + 20 ? 0 : -1;
}

static int max_index(void *arg, const struct frame *f)
{
	uint64_t *max = arg;

	if ((f->magic == FRAME_CHECKPOINT || f->magic == FRAME_TRIM) && f->index > *max)
		*max = f->index;
	return 0;
}

/*
 * Damage to the last committed group looks like a torn tail. A checkpoint or
 * a trim is only ever written for committed records, so one beyond the
 * durable end proves the cut-off records were committed (§5).
 */
static int check_evidence(struct chain *c, const char *name, struct errmsg *em)
{
	static const char *const logs[] = { "checkpoints.log", "trims.log" };
	uint64_t max = 0;
	off_t end;
	bool bad;
	int ret;

	for (int i = 0; i < 2; i++) {
		ret = log_scan(c, logs[i], max_index, &max, &end, &bad, em);
		if (ret)
			return ret;
	}
	if (c->corrupt || max <= c->durable)
		return 0;
	c->corrupt = true;
	c->corrupt_at = c->durable_end;
	snprintf(c->corrupt_why, sizeof(c->corrupt_why),
		 "chain %.40s: %.24s is corrupt at byte offset %lld: records %llu..%llu were committed (the checkpoint or trim log says so) but are not readable",
		 c->meta.chain, name, (long long)c->durable_end,
		 (unsigned long long)c->durable, (unsigned long long)max - 1);
	return 0;
}

int chain_load_segments(struct chain *c, struct errmsg *em)
{
	char name[64];
	struct seg_scan sc;
	struct dirent *de;
	DIR *d;
	int fd, ret;

	free(c->segs);
	c->segs = NULL;
	c->nsegs = 0;
	fd = dup(c->dirfd);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	rewinddir(d);
	while ((de = readdir(d))) {
		uint64_t first;
		void *nv;

		if (parse_seg_name(de->d_name, &first))
			continue;
		nv = realloc(c->segs, (c->nsegs + 1) * sizeof(*c->segs));
		if (!nv) {
			closedir(d);
			return -ENOMEM;
		}
		c->segs = nv;
		c->segs[c->nsegs++].first = first;
	}
	closedir(d);
	if (!c->nsegs)
		return errmsg_set(em, -EBADMSG, "chain %s has no segment", c->meta.chain);
	qsort(c->segs, c->nsegs, sizeof(*c->segs), cmp_seg);

	/*
	 * The last segment tells how far the chain is durable. The writer
	 * opens it for writing at once and scans through that fd: reading it
	 * first would be an IMA measurement (docs/ima-policy.md).
	 */
	seg_name(name, sizeof(name), c->segs[c->nsegs - 1].first, "log");
	if (c->segfd >= 0) {
		close(c->segfd);
		c->segfd = -1;
	}
	if (c->s->lockfd >= 0)
		fd = store_io->openat(c->dirfd, name, O_RDWR | O_CLOEXEC, 0600);
	else
		fd = openat(c->dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errmsg_set(em, -errno, "%s: %s", name, strerror(errno));
	ret = seg_scan_fd(fd, name, &sc, NULL, 0, NULL, em);
	if (c->s->lockfd >= 0 && !ret)
		c->segfd = fd;	/* chain_writer_start() goes on with it */
	else
		close(fd);
	if (ret)
		return ret;
	if (sc.first != c->segs[c->nsegs - 1].first && !sc.corrupt) {
		sc.corrupt = true;
		sc.corrupt_at = 0;
		snprintf(sc.why, sizeof(sc.why), "header says first record %llu",
			 (unsigned long long)sc.first);
	}
	c->durable = c->count = sc.next;
	c->durable_end = sc.durable_end;
	c->corrupt = sc.corrupt;
	c->corrupt_at = sc.corrupt_at;
	if (sc.corrupt)
		snprintf(c->corrupt_why, sizeof(c->corrupt_why),
			 "chain %.40s: %.24s is corrupt at byte offset %lld: %.159s",
			 c->meta.chain, name, (long long)sc.corrupt_at, sc.why);
	return check_evidence(c, name, em);
}

static void chain_uuid(const char *id, uint8_t out[16])
{
	size_t n = 0;

	memset(out, 0, 16);
	for (const char *p = id; *p && n < 32; p++) {
		int v;

		if (*p == '-')
			continue;
		if (*p >= '0' && *p <= '9')
			v = *p - '0';
		else if (*p >= 'a' && *p <= 'f')
			v = *p - 'a' + 10;
		else
			break;
		out[n / 2] |= (uint8_t)(n % 2 ? v : v << 4);
		n++;
	}
	if (n != 32) {	/* not a UUID: its first bytes */
		memset(out, 0, 16);
		memcpy(out, id, strnlen(id, 16));
	}
}

int chain_new_segment(struct chain *c, uint64_t first, struct errmsg *em)
{
	uint8_t frame[FRAME_HDR + SEGMENT_PAYLOAD] = { 0 };
	uint8_t *p = frame + FRAME_HDR;
	char name[64], tmp[72];
	int fd, ret;

	put_le32(p, 1);
	put_le16(p + 4, c->meta.bank->tpm_id);
	put_le16(p + 6, c->meta.bank->size);
	put_le32(p + 8, c->meta.little_endian ? 1 : 0);
	chain_uuid(c->meta.chain, p + 16);
	frame_header(frame, FRAME_SEGMENT, first, p, SEGMENT_PAYLOAD);
	seg_name(name, sizeof(name), first, "log");
	snprintf(tmp, sizeof(tmp), "%s.tmp", name);
	fd = store_io->openat(c->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return errmsg_set(em, -errno, "%s: %s", tmp, strerror(errno));
	ret = io_write_all(fd, frame, sizeof(frame), 0);
	if (!ret && store_io->fdatasync(fd))
		ret = -errno;
	close(fd);
	if (!ret && store_io->renameat(c->dirfd, tmp, c->dirfd, name))
		ret = -errno;
	if (ret) {
		store_io->unlinkat(c->dirfd, tmp, 0);
		return errmsg_set(em, ret, "new segment %s: %s", name, strerror(-ret));
	}
	return store_fsync_dir(c->dirfd, em, "chain directory");
}

/* ---- writer ---- */

static int write_index(struct chain *c, const uint64_t *offs, size_t n,
		       size_t from_slot)
{
	char name[64];
	uint8_t buf[8];
	int fd;

	/* held open: the writer's own reads of it are then no new open */
	fd = c->idxfd;
	if (fd < 0) {
		seg_name(name, sizeof(name), c->segs[c->nsegs - 1].first, "idx");
		fd = store_io->openat(c->dirfd, name, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (fd < 0)
			return -errno;
		c->idxfd = fd;
	}
	/* derived data: no fsync, checked on use */
	for (size_t i = 0; i < n; i++) {
		put_le64(buf, offs[i]);
		if (io_write_all(fd, buf, 8, (off_t)((from_slot + i) * 8)))
			break;
	}
	return 0;
}

int chain_writer_start(struct chain *c, struct errmsg *em)
{
	char name[64];
	struct seg_scan sc;
	uint64_t *idx;
	size_t nidx = 0;
	int ret;

	if (c->corrupt)
		return errmsg_set(em, -EBADMSG, "%s; not appending (imastore fsck)",
				  c->corrupt_why);
	seg_name(name, sizeof(name), c->segs[c->nsegs - 1].first, "log");
	if (c->segfd < 0)
		c->segfd = store_io->openat(c->dirfd, name, O_RDWR | O_CLOEXEC, 0600);
	if (c->segfd < 0)
		return errmsg_set(em, -errno, "%s: %s", name, strerror(errno));
	idx = calloc(c->s->seg_size / STORE_INDEX_STRIDE / 8 + 64, 8);
	if (!idx)
		return -ENOMEM;
	/* again with the index, now that we hold the lock */
	ret = seg_scan_fd(c->segfd, name, &sc, idx,
			  c->s->seg_size / STORE_INDEX_STRIDE / 8 + 64, &nidx, em);
	if (!ret && sc.durable_end < sc.size) {
		/* torn tail: never acknowledged, cut it */
		if (store_io->ftruncate(c->segfd, sc.durable_end) ||
		    store_io->fdatasync(c->segfd))
			ret = errmsg_set(em, -errno, "%s: cutting the torn tail: %s",
					 name, strerror(errno));
	}
	if (!ret)
		write_index(c, idx, nidx, 0);
	free(idx);
	if (ret)
		return ret;
	c->durable = c->count = sc.next;
	c->durable_end = sc.durable_end;
	return 0;
}

int chain_append(struct chain *c, const struct ima_record *rec,
		 struct errmsg *em)
{
	size_t need = FRAME_HDR + rec->raw_len;

	if (c->segfd < 0)
		return errmsg_set(em, -EBADF, "chain %s is open read-only", c->meta.chain);
	if (rec->digest_len != c->meta.bank->size ||
	    rec->little_endian != c->meta.little_endian)
		return errmsg_set(em, -EINVAL,
				  "record %llu: %u-byte digests, %s-endian; the chain keeps %s (%u bytes), %s-endian",
				  (unsigned long long)rec->index, rec->digest_len,
				  rec->little_endian ? "little" : "big",
				  c->meta.bank->name, c->meta.bank->size,
				  c->meta.little_endian ? "little" : "big");
	if (c->wlen + need + FRAME_HDR + COMMIT_PAYLOAD > c->wcap) {
		size_t ncap = (c->wlen + need + FRAME_HDR + COMMIT_PAYLOAD) * 2;
		uint8_t *nb = realloc(c->wbuf, ncap);

		if (!nb)
			return -ENOMEM;
		c->wbuf = nb;
		c->wcap = ncap;
	}
	if ((c->count - c->segs[c->nsegs - 1].first) % STORE_INDEX_STRIDE == 0 &&
	    c->nidx_pending < sizeof(c->idx_pending) / sizeof(c->idx_pending[0])) {
		c->idx_pending[c->nidx_pending].index = c->count;
		c->idx_pending[c->nidx_pending].off = c->durable_end + (off_t)c->wlen;
		c->nidx_pending++;
	}
	frame_header(c->wbuf + c->wlen, FRAME_RECORD, c->count, rec->raw,
		     (uint32_t)rec->raw_len);
	c->group_crc = frame_crc(c->group_crc, c->wbuf + c->wlen + FRAME_OFF_CRC, 4);
	memcpy(c->wbuf + c->wlen + FRAME_HDR, rec->raw, rec->raw_len);
	c->wlen += need;
	c->count++;
	if (c->wlen >= STORE_GROUP_MAX)
		return chain_commit(c, em);
	return 0;
}

static int rollback(struct chain *c, int err, struct errmsg *em)
{
	const char *what = errmsg_text(em);
	char why[sizeof(em->text)];

	snprintf(why, sizeof(why), "%s", what);
	/* after a failed write or fsync the page cache cannot be trusted */
	if (store_io->ftruncate(c->segfd, c->durable_end)) {
		c->broken = true;
		snprintf(c->broken_why, sizeof(c->broken_why),
			 "cannot cut back to the last commit after '%.120s': %s", why,
			 strerror(errno));
	}
	c->count = c->durable;
	c->wlen = 0;
	c->group_crc = 0;
	c->nidx_pending = 0;
	return errmsg_set(em, err, "chain %s: %s; nothing new is durable", c->meta.chain, why);
}

/* Start the next segment at a commit boundary (§5 rule 3). */
static int maybe_roll(struct chain *c, struct errmsg *em)
{
	struct segment *segs;
	char name[64];
	int fd, ret;

	if (c->durable_end < (off_t)c->s->seg_size)
		return 0;
	ret = chain_new_segment(c, c->durable, em);
	if (ret)
		return ret;
	seg_name(name, sizeof(name), c->durable, "log");
	fd = store_io->openat(c->dirfd, name, O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0)
		return errmsg_set(em, -errno, "%s: %s", name, strerror(errno));
	segs = realloc(c->segs, (c->nsegs + 1) * sizeof(*c->segs));
	if (!segs) {
		close(fd);
		return -ENOMEM;
	}
	c->segs = segs;
	c->segs[c->nsegs++].first = c->durable;
	close(c->segfd);
	c->segfd = fd;
	if (c->idxfd >= 0)
		close(c->idxfd);	/* the sealed segment's index is done */
	c->idxfd = -1;
	c->durable_end = SEG_HDR_END;
	return 0;
}

int chain_commit(struct chain *c, struct errmsg *em)
{
	uint8_t *p;
	uint64_t offs[sizeof(c->idx_pending) / sizeof(c->idx_pending[0])];
	off_t group_start;
	uint64_t first;
	int ret;

	if (c->segfd < 0)
		return errmsg_set(em, -EBADF, "chain %s is open read-only", c->meta.chain);
	if (c->broken)
		return errmsg_set(em, -EIO, "chain %s: %s", c->meta.chain, c->broken_why);
	if (!c->wlen)
		return 0;
	if (c->durable_end >= (off_t)c->s->seg_size) {
		ret = maybe_roll(c, em);
		if (ret)
			return rollback(c, ret, em);
		/* the waiting frames move to the new segment, whose index starts over */
		c->nidx_pending = 0;
		first = c->segs[c->nsegs - 1].first;
		for (uint64_t k = first, off = (uint64_t)SEG_HDR_END, pos = 0; k < c->count; k++) {
			uint32_t len = get_le32(c->wbuf + pos + FRAME_OFF_LEN);

			if ((k - first) % STORE_INDEX_STRIDE == 0) {
				c->idx_pending[c->nidx_pending].index = k;
				c->idx_pending[c->nidx_pending++].off = (off_t)off;
			}
			off += FRAME_HDR + len;
			pos += FRAME_HDR + len;
		}
	}
	group_start = c->durable_end;
	p = c->wbuf + c->wlen + FRAME_HDR;
	put_le64(p, real_ns());
	put_le64(p + 8, (uint64_t)group_start);
	put_le32(p + 16, c->group_crc);
	put_le32(p + 20, 0);
	frame_header(c->wbuf + c->wlen, FRAME_COMMIT, c->count, p, COMMIT_PAYLOAD);

	ret = io_write_all(c->segfd, c->wbuf, c->wlen + FRAME_HDR + COMMIT_PAYLOAD,
			   group_start);
	if (ret) {
		errmsg_set(em, ret, "write: %s", strerror(-ret));
		return rollback(c, ret, em);
	}
	io_failpoint("commit-after-write");
	if (store_io->fdatasync(c->segfd)) {
		ret = -errno;
		errmsg_set(em, ret, "fdatasync: %s", strerror(-ret));
		return rollback(c, ret, em);
	}
	io_failpoint("commit-after-fsync");
	c->durable_end = group_start + (off_t)(c->wlen + FRAME_HDR + COMMIT_PAYLOAD);
	c->durable = c->count;
	c->wlen = 0;
	c->group_crc = 0;
	first = c->segs[c->nsegs - 1].first;
	for (unsigned i = 0; i < c->nidx_pending; i++)
		offs[i] = (uint64_t)c->idx_pending[i].off;
	if (c->nidx_pending)
		write_index(c, offs, c->nidx_pending,
			    (size_t)((c->idx_pending[0].index - first) / STORE_INDEX_STRIDE));
	c->nidx_pending = 0;
	return 0;
}

int chain_check(const struct chain *c, struct errmsg *em)
{
	return c->corrupt ? errmsg_set(em, -EBADMSG, "%s", c->corrupt_why) : 0;
}

uint64_t chain_count(const struct chain *c)
{
	return c->count;
}

uint64_t chain_durable(const struct chain *c)
{
	return c->durable;
}

void chain_close(struct chain *c)
{
	if (!c)
		return;
	if (c->segfd >= 0)
		close(c->segfd);
	if (c->idxfd >= 0)
		close(c->idxfd);
	log_close(c);
	if (c->dirfd >= 0)
		close(c->dirfd);
	free(c->segs);
	free(c->wbuf);
	free(c);
}
