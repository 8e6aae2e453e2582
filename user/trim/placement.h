/* SPDX-License-Identifier: GPL-2.0-only */
/* Where the kernel's list sits in a chain (docs/trimming.md §3): the one place that decides it. */
#ifndef IMASTORE_PLACEMENT_H
#define IMASTORE_PLACEMENT_H

#include <stdbool.h>
#include <stdint.h>

#include "pcr_values.h"
#include "replay.h"
#include "store.h"

/*
 * Where the kernel's list sits in a chain (docs/trimming.md §3): the one
 * place that decides it. Decisions rest on positive evidence only: the
 * trims log, a byte-for-byte overlap reaching the chain's durable end, and
 * the TPM's PCRs where there is a TPM.
 */

/* The kernel's list as read in one window, readable again from its start. */
struct kernel_head {
	int (*rewind)(void *arg, struct errmsg *em);
	/* the next record: 1, 0 at the end, < 0 error */
	int (*next)(void *arg, struct ima_record *rec, struct errmsg *em);
	void *arg;
};

/* TPM evidence (§3.1.3); a NULL pointer to it means "no TPM". */
struct place_tpm {
	const struct pcr_set *pcrs;	/* read after the list */
	uint64_t more;			/* records read after the PCRs (n' - n) */
};

#define PLACE_EV_TRIMS 1u	/* the trims log named the index */
#define PLACE_EV_OVERLAP 2u	/* aligned: overlap reaching the durable end */
#define PLACE_EV_ANCHORED 4u	/* ... holding a record the kernel makes once */
#define PLACE_EV_TPM 8u		/* the TPM's PCRs confirm it */

enum place_result {
	PLACE_FOUND,		/* out->k is the index of the kernel's first record */
	PLACE_AMBIGUOUS,	/* several placements fit: store and delete nothing */
	PLACE_BEYOND,		/* no placement at or below the durable end fits */
};

struct placement {
	enum place_result result;
	uint64_t k;		/* PLACE_FOUND: index of the kernel's first record */
	uint64_t expected;	/* where the trims log puts it */
	unsigned evidence;	/* PLACE_EV_* */
	bool foreign;		/* not where our own deletions left it (found or ambiguous) */
	/*
	 * With a TPM: nothing was confirmed, but the overlap is anchored at
	 * a candidate, which is taken (§3.2.1): store, never delete on it.
	 */
	bool tpm_disagrees;
	char why[200];		/* for the log and the status file */
};

/*
 * The trims log's candidates for boot_id's first kernel record (§3.1.1):
 * *expected, and *alt after an unfinished trim (else UINT64_MAX).
 * -ENOENT if the boot is not in the chain.
 */
int place_candidates(struct chain *c, const char *boot_id, uint64_t *expected,
		     uint64_t *alt, struct errmsg *em);

/*
 * §3.2: place the running boot's kernel list in its chain. `stored` is the
 * replay of the chain's records 0..durable-1 (needed with tpm; may be NULL
 * without). Returns 0 with *out filled, < 0 on I/O errors.
 */
int place_in_chain(struct chain *c, const char *boot_id, const struct kernel_head *kh,
		   const struct place_tpm *tpm, const struct replay_state *stored,
		   struct placement *out, struct errmsg *em);

/* §3.3: what a boot without a chain of its own is. */
enum boot_origin {
	BOOT_CONTINUES,		/* a kexec: continues *chain at *first */
	BOOT_FRESH,		/* a new chain from a TPM reset */
	BOOT_HEADLESS,		/* new chain; records were deleted before us */
	BOOT_UNLINKED,		/* new chain; PCRs not reset, no chain explains it */
};

struct boot_placement {
	enum boot_origin origin;
	char chain[STORE_ID_MAX];	/* BOOT_CONTINUES */
	uint64_t first;			/* BOOT_CONTINUES: index of L[0] */
	unsigned evidence;
	bool foreign;			/* someone deleted records before us */
	char why[200];
};

int place_new_boot(struct store *s, const struct hash_alg *bank,
		   const struct kernel_head *kh, const struct place_tpm *tpm,
		   struct boot_placement *out, struct errmsg *em);

/* The origin= word of a chain's meta. */
const char *boot_origin_name(enum boot_origin o);

/* Words for PLACE_EV_* bits ("trims,overlap,tpm"), or "none". */
void place_evidence_text(unsigned ev, char *buf, size_t len);

/*
 * §3.4: how many records to delete from the head of a list, at most `want`,
 * so that the first record kept differs byte for byte from the list's first
 * record and is no violation (an anchor for the next window). rec_at(arg, i)
 * parses record i of the list. 0: no safe cut.
 */
uint64_t place_safe_cut(uint64_t want,
			int (*rec_at)(void *arg, uint64_t i, struct ima_record *rec),
			void *arg);

#endif
