/* SPDX-License-Identifier: GPL-2.0-only */
/* Inside the store: what its files (store, chain, chain_iter, chain_log, chain_fsck, store_meta, frame_reader) share. */
#ifndef IMASTORE_STORE_INT_H
#define IMASTORE_STORE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "frame.h"
#include "store.h"

struct store {
	int dirfd;
	int lockfd;		/* -1: reader */
	unsigned flags;
	char *dir;
	uint64_t seg_size;
};

/* One segment file of a chain. */
struct segment {
	uint64_t first;		/* index of its first record (file name) */
};

/* What a scan of a segment found (docs/store-format.md §5 recovery). */
struct seg_scan {
	uint64_t first;		/* from the IMAS frame */
	uint64_t next;		/* records up to the durable end */
	off_t durable_end;	/* end of the last good commit */
	off_t size;		/* file size */
	bool corrupt;
	off_t corrupt_at;
	char why[160];
};

struct chain {
	struct store *s;
	int dirfd;
	struct chain_meta meta;
	/* segments, sorted by first index; the last one is active */
	struct segment *segs;
	size_t nsegs;
	/* writer state */
	int segfd;		/* active segment, -1 for readers */
	int idxfd;		/* its index, held open O_RDWR once written; -1 */
	off_t durable_end;	/* of the active segment */
	uint64_t durable;	/* records durable */
	uint64_t count;		/* records appended */
	uint8_t *wbuf;		/* frames waiting for the next commit */
	size_t wlen, wcap;
	uint32_t group_crc;	/* over the CRC fields of the waiting frames */
	struct { uint64_t index; off_t off; } idx_pending[STORE_GROUP_MAX / 64 / STORE_INDEX_STRIDE + 2];
	unsigned nidx_pending;
	bool corrupt;		/* the last segment is damaged where it was committed */
	off_t corrupt_at;
	char corrupt_why[300];
	off_t log_end[2];	/* checkpoints.log, trims.log; -1 unknown */
	/*
	 * The logs' frames as far as read (index, offset, trim state and boot):
	 * a writer reads each log once and then keeps it in step, so no cycle
	 * opens a log for reading again (an IMA measurement each time).
	 */
	struct log_index {
		struct log_entry {
			uint64_t index;
			off_t off;
			uint32_t magic, len, state;
			uint8_t boot[40];
		} *e;
		size_t n, cap;
		bool loaded;
	} lx[2];
	int logfd[2];		/* writer: each log held open O_RDWR, -1 until used */
	bool broken;		/* a failed truncate: no more appends */
	char broken_why[200];
};

/* Reads and scans go in chunks of this many bytes. */
#define SCAN_CHUNK (1u << 20)

/* A buffered forward reader of one file (frame_reader.c). */
struct rbuf {
	int fd;
	uint8_t *buf;
	size_t cap, start, end;
	off_t off;		/* file offset of buf[start] */
	bool eof;
};
int rb_init(struct rbuf *rb, int fd, off_t off);
void rb_free(struct rbuf *rb);
void rb_seek(struct rbuf *rb, off_t off);
/* Make `want` bytes available at buf[start] unless the file ends first. */
int rb_fill(struct rbuf *rb, size_t want);
void rb_advance(struct rbuf *rb, size_t n);
/*
 * Next frame at the reader's position: > 0 its size (f filled), 0 clean
 * end of file, -EBADMSG invalid or cut short, other < 0 read errors.
 */
long rb_frame(struct rbuf *rb, struct frame *f);

/* The first frame of a segment file is its header, this long. */
#define SEG_HDR_END ((off_t)(FRAME_HDR + SEGMENT_PAYLOAD))

/* Files and names */
int store_check_perms(struct store *s, int fd, const char *what,
		      struct errmsg *em);
int store_fsync_dir(int dirfd, struct errmsg *em, const char *what);
int store_open_dir(struct store *s, int dirfd, const char *name, bool create,
		   int *out, struct errmsg *em);
void seg_name(char *out, size_t len, uint64_t first, const char *ext);

/* meta */
int meta_read(int dirfd, struct chain_meta *m, struct errmsg *em);
int meta_write(int dirfd, const struct chain_meta *m, struct errmsg *em);

/* segments */
int seg_scan_fd(int fd, const char *name, struct seg_scan *r,
		uint64_t *idx_out, size_t idx_max, size_t *idx_n,
		struct errmsg *em);
int chain_load_segments(struct chain *c, struct errmsg *em);
int chain_writer_start(struct chain *c, struct errmsg *em);
int chain_new_segment(struct chain *c, uint64_t first, struct errmsg *em);

/* checkpoints / trims logs: scan for valid frames */
typedef int (*log_frame_fn)(void *arg, const struct frame *f);
int log_scan(struct chain *c, const char *name, log_frame_fn fn, void *arg,
	     off_t *good_end, bool *corrupt, struct errmsg *em);
int log_append(struct chain *c, const char *name, uint32_t magic,
	       uint64_t index, const void *payload, uint32_t len,
	       struct errmsg *em);
/* The writer's held log fds and the log indexes go with the chain. */
void log_close(struct chain *c);

#endif
