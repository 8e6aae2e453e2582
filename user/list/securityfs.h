/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef IMASTORE_SECURITYFS_H
#define IMASTORE_SECURITYFS_H

#include <stddef.h>

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

#endif
