/* SPDX-License-Identifier: GPL-2.0-only */
/* The drain cycle: read, place, store, maybe delete (trimming.md §4, §5); its explicit mode. */
#ifndef IMASTORED_DRAIN_H
#define IMASTORED_DRAIN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "kernel_ops.h"
#include "placement.h"
#include "replay.h"
#include "store.h"

/* When and how much to delete (trimming.md §4.5). */
struct drain_policy {
	uint64_t keep;		/* newest records left in the kernel, >= 1 */
	uint64_t trim_records;	/* delete once the kernel holds keep + this */
	uint64_t trim_bytes;	/* ... or a list this large (0: off) */
	bool mirror;		/* never delete */
};

/* The state one daemon keeps across cycles for the running boot's chain. */
struct drain {
	struct chain *c;
	bool own_chain;		/* c was opened by the drain (an unlinked chain) */
	const char *boot_id;
	struct kernel_info ki;
	const struct hash_alg *list_bank;	/* stored bank, by its mode */
	bool k_known;
	uint64_t k;		/* absolute index of the kernel's first record */
	bool foreign;		/* someone else deleted: never trim again */
	bool no_n;		/* the kernel refused N (ima_flush_htable) */
	bool use_ad;		/* delete with A/D (trimming.md §5) */
	/* mirror: where the last stored record sits in the list */
	bool mpos;
	off_t moff;
	uint64_t midx;
	uint64_t deleted_total;	/* since start, for the status file */
	/*
	 * The list's name for the ima_template_fmt= template (its format; its
	 * descriptor's own name is empty, which is what BPF sees), "" unseen.
	 */
	char custom_name[IMA_TEMPLATE_NAME_MAX + 1];
	bool names_seen;
	/* placement (trimming.md §3) */
	enum { TPM_UNKNOWN, TPM_YES, TPM_NO } tpm;
	bool linked;		/* the chain starts from reset PCRs (TPM evidence works) */
	struct replay *stored;	/* with a TPM: replay of records 0..durable-1 */
	unsigned evidence;	/* of the last accepted placement */
	bool tpm_disagrees;	/* ... taken against the TPM: no deletion */
	char placement[32];	/* status word: the evidence, ambiguous, beyond */
	char lost[160];		/* status: records lost to the store */
	char last_why[200];	/* the last placement message logged */
	/*
	 * What imastored may cause itself (issue: not feeding its own list):
	 * records appended that name a path in the store, and the kernel's
	 * violations counter when the drain started (-1: unreadable).
	 */
	uint64_t self_records;
	int64_t violations_start;
	/* more key=value lines for the status file (the daemon's), or "" */
	char status_extra[256];
	/* each record appended (index: its place in the boot's list), or NULL */
	void (*on_append)(void *ctx, const struct ima_record *rec,
			  const struct hash_alg *bank);
	void *on_append_ctx;
};

struct drain_stats {
	uint64_t kernel_records;	/* in the list this cycle */
	uint64_t list_bytes;
	uint64_t appended, deleted, durable;
	uint64_t window_us;		/* the writer window (list open..close) */
};

/*
 * How this cycle drains (drain_mode(): the policy, the kernel, and what
 * the kernel refused so far): N "N\n" on the list (§4), AD "A"/"D" on the
 * _staged file (§5), MIRROR store only (lists 0440, or flavor mirror).
 */
enum drain_mode { DRAIN_N, DRAIN_AD, DRAIN_MIRROR };
enum drain_mode drain_mode(const struct drain *d, const struct drain_policy *p);

void drain_init(struct drain *d, struct chain *c, const char *boot_id,
		const struct kernel_info *ki, const struct hash_alg *list_bank);
/* Someone else deleted records (trimming.md §6): log it, delete no more. */
void drain_note_foreign(struct drain *d, const char *why);
/* What drain_init() took; the chain may have changed (an unlinked one). */
void drain_free(struct drain *d);
/* keep + trim_records, saturating (a huge trim_records means "never"). */
uint64_t drain_threshold(const struct drain_policy *p);
/*
 * One cycle of trimming.md §4: read, compare, append, commit, then maybe
 * checkpoint + intended + "D\n" + done. -EBUSY: the list is held by
 * someone (holders logged), try again next cycle.
 */
int drain_cycle(struct drain *d, const struct drain_policy *p,
		struct drain_stats *st, struct errmsg *em);

#endif
