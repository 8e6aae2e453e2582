/* SPDX-License-Identifier: GPL-2.0-only */
/* The durable store (docs/store-format.md): chains, appends, commits, reading, logs, fsck. */
#ifndef IMASTORE_STORE_H
#define IMASTORE_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "errmsg.h"
#include "ima_record.h"
#include "pcr_values.h"

/*
 * The durable store (docs/store-format.md). One writer at a time (a lock
 * file), any number of readers. Records are appended to a chain (one chain
 * per TPM reset) and become durable at chain_commit().
 */
#define STORE_DEFAULT_DIR "/var/lib/imastore"
#define STORE_SEGMENT_SIZE (64u << 20)
#define STORE_GROUP_MAX (4u << 20)
#define STORE_INDEX_STRIDE 1024u
#define STORE_CHECKPOINT_EVERY 65536u
#define STORE_ID_MAX 64
#define STORE_BOOTS_MAX 256

enum store_flags {
	STORE_WRITE = 1,	/* take the writer lock; -EBUSY if taken */
	STORE_CREATE = 2,	/* create the directory if missing */
	STORE_INSECURE = 4,	/* accept looser ownership/permissions */
};

struct store;
struct chain;

int store_open(struct store **out, const char *dir, unsigned flags,
	       struct errmsg *em);
void store_close(struct store *s);
/* Write this process's pid into STORE/lock again (after fork or daemon()). */
void store_lock_note_pid(struct store *s);
/* Start a new segment once the active one is this large (default 64 MiB). */
void store_set_segment_size(struct store *s, uint64_t bytes);
const char *store_dir(const struct store *s);

/* The running boot's id (/proc/sys/kernel/random/boot_id). */
int store_current_boot(char *out, size_t len, struct errmsg *em);

/* What a chain records about itself (meta, §4). */
struct chain_meta {
	char chain[STORE_ID_MAX];
	const struct hash_alg *bank;	/* the stored bank */
	bool little_endian;
	char template_fmt[256];
	unsigned nbanks;
	const struct hash_alg *banks[PCR_MAX_BANKS];	/* padded twin = padded */
	unsigned nboots;
	struct {
		char id[STORE_ID_MAX];
		uint64_t first_index;
	} boots[STORE_BOOTS_MAX];
	uint64_t created;
	/* how the chain began (trimming.md §3.3): fresh, kexec, headless,
	 * unlinked; "" in chains older than the word */
	char origin[16];
	/* unlinked: CHAIN@INDEX, the chain and index the records came after */
	char after[STORE_ID_MAX + 24];
};

/*
 * The chain's entry for `bank` (meta banks=, by TPM id): the bank or its
 * padded twin, as the kernel computed that bank's template digests; `bank`
 * itself if meta does not list it.
 */
const struct hash_alg *chain_meta_bank(const struct chain_meta *m,
				       const struct hash_alg *bank);

/*
 * Create chain `meta->chain` (a new TPM reset) with its first boot
 * meta->boots[0] (normally the chain id, first index 0). Writer only.
 */
int store_chain_create(struct store *s, const struct chain_meta *meta,
		       struct chain **out, struct errmsg *em);

/*
 * Open a chain by chain id or boot id ("current" = the running boot).
 * -ENOENT if there is none. A writer recovers a torn tail here.
 */
int store_chain_open(struct store *s, const char *id, struct chain **out,
		     struct errmsg *em);

/*
 * Open a chain by its own id (its directory name), never through boots/:
 * for callers that walk store_chain_list(). A boot whose records continue in
 * an unlinked chain (trimming.md §3.2.4) links to the newest of its chains,
 * so store_chain_open(boot id) may give another chain than this.
 */
int store_chain_open_name(struct store *s, const char *chain, struct chain **out,
			  struct errmsg *em);

/* Chain ids, newest first by creation time. Caller frees with free(). */
int store_chain_list(struct store *s, char (**ids)[STORE_ID_MAX], size_t *n,
		     struct errmsg *em);

/*
 * A reader's view of the chain brought up to date (segments and durable end
 * as they are now); for a writer a no-op.
 */
int chain_refresh(struct chain *c, struct errmsg *em);

/* The store a chain belongs to. */
struct store *chain_store(const struct chain *c);

/*
 * Point boots/BOOT_ID at chain `c` (an unlinked chain taking over the rest
 * of a boot from the chain it was linked to). Writer only.
 */
int store_relink_boot(struct chain *c, const char *boot_id, struct errmsg *em);

/* Add a boot (kexec) to a chain: its link, and meta boots=. Writer only. */
int chain_add_boot(struct chain *c, const char *boot_id, uint64_t first_index,
		   struct errmsg *em);

void chain_close(struct chain *c);
/* -EBADMSG, naming file and offset, if committed data is damaged. */
int chain_check(const struct chain *c, struct errmsg *em);
const struct chain_meta *chain_meta(const struct chain *c);
/* The stored bank by its mode: chain_meta_bank(meta, meta->bank). */
const struct hash_alg *chain_list_bank(const struct chain *c);

/*
 * Append one record (its bytes as in the stored bank's list, rec->raw);
 * it gets index chain_count(). Not durable until chain_commit(); commits by
 * itself when STORE_GROUP_MAX bytes are waiting. The record must be in the
 * chain's bank (digest size) and byte order: -EINVAL otherwise.
 */
int chain_append(struct chain *c, const struct ima_record *rec,
		 struct errmsg *em);

/*
 * Group commit: write what is waiting and one commit frame, fdatasync.
 * On success every appended record is durable. On failure (ENOSPC, EIO,
 * EROFS...) nothing new is durable: the waiting records are dropped (append
 * them again later) and the file is cut back to the last commit.
 */
int chain_commit(struct chain *c, struct errmsg *em);

uint64_t chain_count(const struct chain *c);	/* appended, durable or not */
uint64_t chain_durable(const struct chain *c);	/* durable */

/* Reading: records from index `from` up to the durable end at open time. */
struct chain_iter;
int chain_iter_open(struct chain *c, uint64_t from, struct chain_iter **out,
		    struct errmsg *em);
/* 1 record, 0 end, < 0 error (-EBADMSG: corruption, with file and offset). */
int chain_iter_next(struct chain_iter *it, struct ima_record *rec,
		    struct errmsg *em);
void chain_iter_free(struct chain_iter *it);

/*
 * Checkpoints (§7): a frame of opaque bytes at a record index, only for
 * durable records (-EINVAL beyond). What they say is the replay's business
 * (trim/chain_replay.h: chain_checkpoint_write/find).
 */
int chain_checkpoint_append(struct chain *c, uint64_t index, const void *payload,
			    size_t len, struct errmsg *em);
/* fn for every checkpoint in the order written; a non-zero return stops it. */
typedef int (*chain_checkpoint_fn)(void *arg, uint64_t index,
				   const uint8_t *payload, size_t len);
int chain_checkpoint_scan(struct chain *c, chain_checkpoint_fn fn, void *arg,
			  struct errmsg *em);
/* Newest first, only those at or below at_most: fn returns 1 to stop. */
int chain_checkpoint_scan_back(struct chain *c, uint64_t at_most, chain_checkpoint_fn fn,
			       void *arg, struct errmsg *em);

/* Trims (§8). */
enum trim_state { TRIM_INTENDED = 1, TRIM_DONE = 2 };
int chain_trim_write(struct chain *c, const char *boot_id, uint64_t first_kept,
		     enum trim_state state, struct errmsg *em);
/* The last entry for that boot; -ENOENT if none. */
int chain_trim_last(struct chain *c, const char *boot_id, uint64_t *first_kept,
		    enum trim_state *state, struct errmsg *em);

/* The last "done" entry for that boot; -ENOENT if none. */
int chain_trim_last_done(struct chain *c, const char *boot_id,
			 uint64_t *first_kept, struct errmsg *em);

/*
 * imastored's last word on itself, shown by `imastore status`: key=value
 * lines in STORE/imastored.status, replaced atomically (not fsync'ed: it is
 * informational, a crash may lose the last one).
 */
int store_status_write(struct chain *c, const char *text, struct errmsg *em);
/* -ENOENT if no daemon ever wrote one. */
int store_status_read(struct store *s, char *buf, size_t len);

/*
 * Structure check of every segment, index and log (the store's half of
 * imastore fsck; trim/chain_replay.h chain_fsck() adds the replay).
 */
struct fsck_report {
	uint64_t records, segments, checkpoints;
	unsigned errors, warnings, repaired;
};
typedef void (*fsck_note_fn)(void *arg, bool error, const char *msg);
int chain_fsck_structure(struct chain *c, struct fsck_report *rep,
			 fsck_note_fn note, void *arg);
/* One finding: counted in rep (an error or a warning), told to note. */
__attribute__((format(printf, 5, 6)))
void fsck_say(struct fsck_report *rep, fsck_note_fn note, void *arg, bool error,
	      const char *fmt, ...);

#endif
