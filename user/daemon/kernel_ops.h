/* SPDX-License-Identifier: GPL-2.0-only */
/* The daemon's seam to the running kernel: its mode, opening, deleting (N, A/D), PCRs, holders. */
#ifndef IMASTORED_KERNEL_OPS_H
#define IMASTORED_KERNEL_OPS_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "errmsg.h"
#include "hash_alg.h"
#include "pcr_values.h"

/* What the running kernel offers (trimming.md §2). */
enum kmode {
	KMODE_NONE,		/* no IMA */
	KMODE_MIRROR,		/* lists 0440: nothing can be deleted */
	KMODE_N,		/* "N\n" on the original list */
	KMODE_AD,		/* _staged files too (N still works) */
	KMODE_AD_ONLY,		/* ima_flush_htable: the kernel refuses N */
};

struct kernel_info {
	enum kmode mode;
	const struct hash_alg *bank;	/* the bank read and stored */
	char list[PATH_MAX];		/* its binary list */
};

/*
 * The seam between the drain cycle and the kernel: the real thing writes to
 * securityfs; unit tests emulate the kernel's N semantics on a regular file
 * (IMASTORE_SECURITYFS pointing at a temp dir).
 */
struct kernel_ops {
	/* open(2) of a list file: fd or -errno */
	int (*open_list)(const char *path, int flags);
	/* delete the oldest n records: one write(2) of "n\n"; 0 or -errno */
	int (*delete_oldest)(int fd, uint64_t n);
	/* one write(2) of "A\n" or "D\n" to a _staged file; 0 or -errno */
	int (*staged_command)(int fd, char cmd);
	/*
	 * One consistent snapshot of the PCRs in `mask` of every TPM bank
	 * (placement's evidence, trimming.md §3); -ENODEV: no TPM (IMA in
	 * TPM-bypass mode), which placement treats as "no such evidence".
	 */
	int (*read_pcrs)(uint32_t mask, struct pcr_set *out, struct errmsg *em);
};

extern const struct kernel_ops kernel_ops_default;
extern const struct kernel_ops *kernel_ops;

/* kernel_ops_default's open_list (for a test's ops that fake the others) */
int kernel_real_open_list(const char *path, int flags);

const char *kmode_name(enum kmode m);
/* Mode and bank; -ENODEV "IMA is not enabled" without the directory. */
int kernel_detect(const char *bank_name, struct kernel_info *ki,
		  struct errmsg *em);

/*
 * Open a list through kernel_ops, retrying EBUSY as ima_open_list() does
 * for at most `max_ms`; then -EBUSY (the caller lists the holders).
 */
/* Opens of a list that got EBUSY since start (each retry counts; docs/view.md). */
extern uint64_t kernel_busy_opens;
int kernel_open_list(const char *path, int flags, unsigned max_ms, int *fd,
		     struct errmsg *em);

/* Log (warning) every process that has an IMA securityfs file open. */
void kernel_log_holders(void);

/* The whole list from byte `from` into a malloc'ed buffer. */
int kernel_read_list(int fd, off_t from, uint8_t **buf, size_t *len,
		     struct errmsg *em);

/* runtime_measurements_count; -errno if unreadable (e.g. a fake dir). */
int kernel_count(uint64_t *n);
/* `violations`: since boot, never lowered by deletion; -errno if unreadable. */
int kernel_violations(uint64_t *n);

/* Every bank whose binary list the kernel has (7.2: one per TPM bank). */
unsigned kernel_banks(const struct hash_alg **banks, unsigned max);

#endif
