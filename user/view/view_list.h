/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef IMASTORE_VIEW_LIST_H
#define IMASTORE_VIEW_LIST_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "store.h"

/*
 * The bytes of a view's files (docs/view.md), from a chain opened for
 * reading: for each bank, the binary and the ASCII list as the kernel would
 * show them had nothing been deleted. No FUSE here: view.c serves these.
 *
 * A file is append-only: the byte offset of record k never changes, and
 * its end is always at a record boundary. A read at any offset starts from
 * the nearest (byte offset, record index) pair cached for the file and goes
 * through the store's sparse index (chain_iter_open); the cache is small
 * and fixed in size (its stride doubles as the list grows), so memory stays
 * flat in the list's length. Not thread-safe: one thread serves a vlist.
 */
struct vlist;
struct vl_file;
struct vl_cursor;

struct vlist_opts {
	/*
	 * Called when a read reaches the end of what the store holds, before
	 * the end is served: brings the kernel's newer records into the store
	 * (imastored asks its drain loop and waits). NULL: nothing to ask (a
	 * stored boot); the view then only picks up what a writer committed.
	 */
	int (*fresh)(void *arg, struct errmsg *em);
	void *fresh_arg;
};

/* Takes over `c` (a reader's chain): vlist_free() closes it. */
int vlist_open(struct vlist **out, struct chain *c, const struct vlist_opts *o,
	       struct errmsg *em);
void vlist_free(struct vlist *v);

const struct chain_meta *vlist_meta(const struct vlist *v);
/* Banks served: the chain's banks, sha1 among them (the legacy names). */
unsigned vlist_nbanks(const struct vlist *v);
const struct hash_alg *vlist_bank(const struct vlist *v, unsigned i);
struct vl_file *vlist_file(struct vlist *v, unsigned bank, bool ascii);

/* fresh() (if any), then the chain brought up to the writer's durable end. */
int vlist_update(struct vlist *v, struct errmsg *em);
/* Records in the list as last updated (never goes down). */
uint64_t vlist_count(const struct vlist *v);
/* Violations (all-zero template digests) among those records. */
int vlist_violations(struct vlist *v, uint64_t *out, struct errmsg *em);

/* One reader's position in a file (one per open file description). */
int vl_cursor_new(struct vl_file *f, struct vl_cursor **out);
void vl_cursor_free(struct vl_cursor *cur);

/*
 * Bytes [off, off + len) of the file. Returns how many (fewer than len only
 * at the end of the list), or a negative errno: -EBADMSG for damaged store
 * data in that range (message names the file and offset); bytes before the
 * damage are returned first. A read that reaches the end calls
 * vlist_update() once, so it includes what the kernel holds then.
 */
ssize_t vl_read(struct vl_cursor *cur, char *buf, size_t len, uint64_t off,
		struct errmsg *em);

struct vl_stats {
	uint64_t reads, updates, seeks, records_skipped, iter_opens;
	unsigned cache_entries;
	uint64_t cache_stride;
};
void vl_file_stats(const struct vl_file *f, struct vl_stats *st);

/*
 * Bring a reader's chain up to the writer's durable end, reading only
 * what was committed since (view_refresh.c). *changed: anything new.
 */
int vchain_catch_up(struct chain *c, bool *changed, struct errmsg *em);

#endif
