/* SPDX-License-Identifier: GPL-2.0-only */
/* Where the running kernel's IMA files are; opening a list (EBUSY retried); _staged paths. */
#ifndef IMASTORE_SECURITYFS_H
#define IMASTORE_SECURITYFS_H

#include <stddef.h>

#include "errmsg.h"
#include "hash_alg.h"

/*
 * Where the running kernel's IMA files are (kernel-interface.md §2).
 * $IMASTORE_SECURITYFS overrides /sys/kernel/security/ima (tests).
 */
const char *ima_securityfs_dir(void);

/*
 * The binary list of `bank`: binary_runtime_measurements_<bank> (7.2+),
 * else, for sha1, the legacy binary_runtime_measurements. -ENOENT if the
 * kernel has no list for that bank (or no IMA).
 */
int ima_kernel_list_path(const struct hash_alg *bank, char *out, size_t len);

/*
 * Open an IMA list. Every opener gets EBUSY while imastored holds the
 * writer (a few ms a cycle): retried with 10 ms doubling to 1 s for at most
 * `max_ms`, then -EBUSY saying so. `open_fn` returns a fd or -errno (a
 * test's fake kernel); NULL: open(2). O_CLOEXEC is added.
 */
int ima_open_list(const char *path, int flags, unsigned max_ms,
		  int (*open_fn)(const char *path, int flags), int *fd,
		  struct errmsg *em);

/* The staged batch of a list (A/D, CONFIG_IMA_STAGING): LIST_staged. */
#define IMA_STAGED_SUFFIX "_staged"
void ima_staged_path(const char *list, char *out, size_t len);

#endif
