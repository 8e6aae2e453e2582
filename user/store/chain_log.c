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
	fd = openat(c->dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : errmsg_set(em, -errno, "%s: %s", name, strerror(errno));
	/* these logs are small: a frame per checkpoint or trim */
	size = lseek(fd, 0, SEEK_END);
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

int log_append(struct chain *c, const char *name, uint32_t magic,
	       uint64_t index, const void *payload, uint32_t len,
	       struct errmsg *em)
{
	int slot = log_slot(name), fd, ret;
	uint8_t hdr[FRAME_HDR];
	bool corrupt, created = false;

	if (c->segfd < 0)
		return errmsg_set(em, -EBADF, "chain %s is open read-only", c->meta.chain);
	fd = store_io->openat(c->dirfd, name, O_WRONLY | O_CLOEXEC, 0600);
	if (fd < 0 && errno == ENOENT) {
		fd = store_io->openat(c->dirfd, name, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		created = true;
	}
	if (fd < 0)
		return errmsg_set(em, -errno, "%s: %s", name, strerror(errno));
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
			close(fd);
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
		close(fd);
		return errmsg_set(em, ret, "%s: %s", name, strerror(-ret));
	}
	close(fd);
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

static int trim_find_cb(void *arg, const struct frame *f)
{
	struct trim_find *tf = arg;

	if (f->magic != FRAME_TRIM || f->len != TRIM_PAYLOAD ||
	    memcmp(f->payload + 8, tf->boot, 40))
		return 0;
	tf->first_kept = f->index;
	tf->state = (enum trim_state)get_le32(f->payload);
	tf->found = true;
	if (tf->state == TRIM_DONE) {
		tf->done_kept = f->index;
		tf->found_done = true;
	}
	return 0;
}

static int trim_find(struct chain *c, const char *boot_id,
		     struct trim_find *tf, struct errmsg *em)
{
	off_t end;
	bool corrupt;

	memset(tf, 0, sizeof(*tf));
	memcpy(tf->boot, boot_id, strnlen(boot_id, 40));
	return log_scan(c, TRIM_LOG, trim_find_cb, tf, &end, &corrupt, em);
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
