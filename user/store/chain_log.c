// SPDX-License-Identifier: GPL-2.0-only
/*
 * A chain's small logs: checkpoints.log (§7) and trims.log (§8). Each frame
 * is fsync'ed on its own; a torn last frame is cut, a bad frame followed by
 * good ones is corruption.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store_int.h"
#include "store_io.h"

#define CK_LOG "checkpoints.log"
#define TRIM_LOG "trims.log"
#define TRIM_PAYLOAD 48	/* u32 state, u32 0, 40 bytes boot id */

static int log_slot(const char *name)
{
	return strcmp(name, CK_LOG) ? 1 : 0;
}

/* Any valid frame at or after `from`? */
static bool valid_frame_after(const uint8_t *buf, size_t len, size_t from)
{
	for (size_t i = from; i + FRAME_HDR <= len; i++) {
		struct frame f;

		if (buf[i] == 'I' && frame_check(buf + i, len - i, &f) > 0)
			return true;
	}
	return false;
}

int log_scan(struct chain *c, const char *name, log_frame_fn fn, void *arg,
	     off_t *good_end, bool *corrupt, struct errmsg *em)
{
	uint8_t *buf = NULL;
	off_t size;
	size_t pos = 0;
	int fd, ret = 0;

	*good_end = 0;
	*corrupt = false;
	/* the writer reads through the fd it writes with: never a new open */
	fd = c->logfd[log_slot(name)] >= 0 ? dup(c->logfd[log_slot(name)]) :
		openat(c->dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : errmsg_set(em, -errno, "%s: %s", name, strerror(errno));
	/* these logs are small: a frame per checkpoint or trim */
	{
		struct stat sb;

		size = fstat(fd, &sb) ? -1 : sb.st_size;
	}
	if (size < 0) {
		ret = errmsg_set(em, -errno, "%s: %s", name, strerror(errno));
		close(fd);
		return ret;
	}
	buf = malloc(size > 0 ? (size_t)size : 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	if (size > 0 && pread(fd, buf, (size_t)size, 0) != size) {
		ret = errmsg_set(em, -EIO, "%s: short read", name);
		goto out;
	}
	while (pos < (size_t)size) {
		struct frame f;
		long n = frame_check(buf + pos, (size_t)size - pos, &f);

		if (n <= 0) {
			*corrupt = valid_frame_after(buf, (size_t)size, pos + 1);
			break;
		}
		if (fn) {
			ret = fn(arg, &f);
			if (ret)
				break;
		}
		pos += (size_t)n;
		*good_end = (off_t)pos;
	}
out:
	free(buf);
	close(fd);
	return ret;
}

/* After a failed write the fd is not trusted: the next append opens again. */
static void log_drop_fd(struct chain *c, int slot)
{
	if (c->logfd[slot] >= 0)
		close(c->logfd[slot]);
	c->logfd[slot] = -1;
}

void log_close(struct chain *c)
{
	for (int i = 0; i < 2; i++) {
		log_drop_fd(c, i);
		free(c->lx[i].e);
		memset(&c->lx[i], 0, sizeof(c->lx[i]));
	}
}

/* One frame into the in-memory index of its log. */
static int lx_push(struct log_index *lx, uint32_t magic, uint64_t index, off_t off,
		   uint32_t len, const uint8_t *payload)
{
	struct log_entry *e;

	if (!lx->loaded)
		return 0;
	if (lx->n == lx->cap) {
		size_t cap = lx->cap ? lx->cap * 2 : 64;

		e = realloc(lx->e, cap * sizeof(*e));
		if (!e)
			return -ENOMEM;
		lx->e = e;
		lx->cap = cap;
	}
	e = &lx->e[lx->n++];
	memset(e, 0, sizeof(*e));
	e->magic = magic;
	e->index = index;
	e->off = off;
	e->len = len;
	if (magic == FRAME_TRIM && len == TRIM_PAYLOAD) {
		e->state = get_le32(payload);
		memcpy(e->boot, payload + 8, 40);
	}
	return 0;
}

struct lx_load {
	struct log_index *lx;
	off_t off;		/* of the frame: log_scan passes them in order from 0 */
};

static int lx_load_cb(void *arg, const struct frame *f)
{
	struct lx_load *l = arg;
	int ret = lx_push(l->lx, f->magic, f->index, l->off, f->len, f->payload);

	l->off += FRAME_HDR + f->len;
	return ret;
}

/* The log's frames in memory: once for a writer, at every call for readers. */
static int lx_load(struct chain *c, const char *name, struct errmsg *em)
{
	struct log_index *lx = &c->lx[log_slot(name)];
	struct lx_load l = { lx, 0 };
	off_t end;
	bool corrupt;
	int ret;

	if (lx->loaded && c->segfd >= 0)
		return 0;
	lx->n = 0;
	lx->loaded = true;
	ret = log_scan(c, name, lx_load_cb, &l, &end, &corrupt, em);
	if (ret)
		lx->loaded = false;
	return ret;
}

/* One frame of a log, read and checked again (pread: no new open for a writer). */
static int lx_read(struct chain *c, const char *name, const struct log_entry *e,
		   uint8_t *buf, struct frame *f, struct errmsg *em)
{
	int slot = log_slot(name), fd = c->logfd[slot];
	size_t len = FRAME_HDR + e->len;
	ssize_t n;

	if (fd < 0)
		fd = openat(c->dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errmsg_set(em, -errno, "%s: %s", name, strerror(errno));
	n = pread(fd, buf, len, e->off);
	if (fd != c->logfd[slot])
		close(fd);
	if (n != (ssize_t)len || frame_check(buf, len, f) != (long)len)
		return errmsg_set(em, -EBADMSG, "%s: the frame at byte offset %lld changed",
				  name, (long long)e->off);
	return 0;
}

int log_append(struct chain *c, const char *name, uint32_t magic,
	       uint64_t index, const void *payload, uint32_t len,
	       struct errmsg *em)
{
	int slot = log_slot(name), fd, ret;
	uint8_t hdr[FRAME_HDR];
	bool corrupt, created = false;

	if (c->segfd < 0)
		return errmsg_set(em, -EBADF, "chain %s is open read-only", c->meta.chain);
	fd = c->logfd[slot];
	if (fd < 0) {
		fd = store_io->openat(c->dirfd, name, O_RDWR | O_CLOEXEC, 0600);
		if (fd < 0 && errno == ENOENT) {
			fd = store_io->openat(c->dirfd, name, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
			created = true;
		}
		if (fd < 0)
			return errmsg_set(em, -errno, "%s: %s", name, strerror(errno));
		c->logfd[slot] = fd;
	}
	if (c->log_end[slot] < 0) {
		ret = log_scan(c, name, NULL, NULL, &c->log_end[slot], &corrupt, em);
		if (!ret && corrupt)
			ret = errmsg_set(em, -EBADMSG,
					 "chain %s: %s is corrupt after byte offset %lld (imastore fsck)",
					 c->meta.chain, name, (long long)c->log_end[slot]);
		if (!ret && store_io->ftruncate(fd, c->log_end[slot]))
			ret = errmsg_set(em, -errno, "%s: %s", name, strerror(errno));
		if (ret) {
			c->log_end[slot] = -1;
			log_drop_fd(c, slot);
			return ret;
		}
	}
	frame_header(hdr, magic, index, payload, len);
	ret = io_write_all(fd, hdr, FRAME_HDR, c->log_end[slot]);
	if (!ret)
		ret = io_write_all(fd, payload, len, c->log_end[slot] + FRAME_HDR);
	if (!ret && store_io->fdatasync(fd))
		ret = -errno;
	if (ret) {
		/* like the segments: cut back, nothing new */
		if (store_io->ftruncate(fd, c->log_end[slot]))
			c->log_end[slot] = -1;
		log_drop_fd(c, slot);
		return errmsg_set(em, ret, "%s: %s", name, strerror(-ret));
	}
	ret = lx_push(&c->lx[slot], magic, index, c->log_end[slot], len, payload);
	if (ret)
		c->lx[slot].loaded = false;	/* read again when next needed */
	c->log_end[slot] += FRAME_HDR + len;
	if (created)
		return store_fsync_dir(c->dirfd, em, "chain directory");
	return 0;
}

/* ---- checkpoints: opaque bytes (trim/chain_replay.c reads them) ---- */

int chain_checkpoint_append(struct chain *c, uint64_t index, const void *payload,
			    size_t len, struct errmsg *em)
{
	if (index > c->durable)
		return errmsg_set(em, -EINVAL,
				  "checkpoint at %llu beyond the %llu durable records",
				  (unsigned long long)index, (unsigned long long)c->durable);
	if (len > FRAME_PAYLOAD_MAX)
		return errmsg_set(em, -EINVAL, "checkpoint of %zu bytes", len);
	return log_append(c, CK_LOG, FRAME_CHECKPOINT, index, payload, (uint32_t)len, em);
}

struct ck_scan {
	chain_checkpoint_fn fn;
	void *arg;
};

static int ck_scan_cb(void *arg, const struct frame *f)
{
	struct ck_scan *cs = arg;

	if (f->magic != FRAME_CHECKPOINT)
		return 0;
	return cs->fn(cs->arg, f->index, f->payload, f->len);
}

int chain_checkpoint_scan(struct chain *c, chain_checkpoint_fn fn, void *arg,
			  struct errmsg *em)
{
	struct ck_scan cs = { fn, arg };
	off_t end;
	bool corrupt;

	return log_scan(c, CK_LOG, ck_scan_cb, &cs, &end, &corrupt, em);
}

/*
 * The checkpoints at or below `at_most`, newest first, from the in-memory
 * index (a writer reads the log once): fn returns 1 to stop there, 0 for
 * an earlier one.
 */
int chain_checkpoint_scan_back(struct chain *c, uint64_t at_most, chain_checkpoint_fn fn,
			       void *arg, struct errmsg *em)
{
	const struct log_index *lx = &c->lx[log_slot(CK_LOG)];
	uint8_t *buf;
	struct frame f;
	int ret = lx_load(c, CK_LOG, em);

	for (size_t i = lx->n; !ret && i-- > 0;) {
		const struct log_entry *e = &lx->e[i];

		if (e->magic != FRAME_CHECKPOINT || e->index > at_most)
			continue;
		buf = malloc(FRAME_HDR + e->len);
		if (!buf)
			return -ENOMEM;
		ret = lx_read(c, CK_LOG, e, buf, &f, em);
		if (!ret)
			ret = fn(arg, f.index, f.payload, f.len);
		free(buf);
		if (ret == -EBADMSG)
			ret = 0;	/* derived data: a bad one is skipped (fsck reports) */
		if (ret > 0)
			return 0;
	}
	return ret;
}

/* ---- trims ---- */

int chain_trim_write(struct chain *c, const char *boot_id, uint64_t first_kept,
		     enum trim_state state, struct errmsg *em)
{
	uint8_t p[TRIM_PAYLOAD] = { 0 };

	put_le32(p, (uint32_t)state);
	memcpy(p + 8, boot_id, strnlen(boot_id, 40));
	return log_append(c, TRIM_LOG, FRAME_TRIM, first_kept, p, TRIM_PAYLOAD, em);
}

struct trim_find {
	uint8_t boot[40];
	uint64_t first_kept;
	enum trim_state state;
	bool found;
	uint64_t done_kept;	/* of the last "done" entry */
	bool found_done;
};

static int trim_find(struct chain *c, const char *boot_id,
		     struct trim_find *tf, struct errmsg *em)
{
	const struct log_index *lx = &c->lx[log_slot(TRIM_LOG)];
	int ret;

	memset(tf, 0, sizeof(*tf));
	memcpy(tf->boot, boot_id, strnlen(boot_id, 40));
	ret = lx_load(c, TRIM_LOG, em);
	for (size_t i = 0; !ret && i < lx->n; i++) {
		const struct log_entry *e = &lx->e[i];

		if (e->magic != FRAME_TRIM || e->len != TRIM_PAYLOAD ||
		    memcmp(e->boot, tf->boot, 40))
			continue;
		tf->first_kept = e->index;
		tf->state = (enum trim_state)e->state;
		tf->found = true;
		if (tf->state == TRIM_DONE) {
			tf->done_kept = e->index;
			tf->found_done = true;
		}
	}
	return ret;
}

int chain_trim_last_done(struct chain *c, const char *boot_id,
			 uint64_t *first_kept, struct errmsg *em)
{
	struct trim_find tf;
	int ret = trim_find(c, boot_id, &tf, em);

	if (ret)
		return ret;
	if (!tf.found_done)
		return -ENOENT;
	*first_kept = tf.done_kept;
	return 0;
}

int chain_trim_last(struct chain *c, const char *boot_id, uint64_t *first_kept,
		    enum trim_state *state, struct errmsg *em)
{
	struct trim_find tf;
	int ret = trim_find(c, boot_id, &tf, em);

	if (ret)
		return ret;
	if (!tf.found)
		return -ENOENT;
	*first_kept = tf.first_kept;
	*state = tf.state;
	return 0;
}
