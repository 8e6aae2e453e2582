// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "securityfs.h"

const char *ima_securityfs_dir(void)
{
	const char *d = getenv("IMASTORE_SECURITYFS");

	return d && *d ? d : "/sys/kernel/security/ima";
}

int ima_kernel_list_path(const struct hash_alg *bank, char *out, size_t len)
{
	snprintf(out, len, "%s/binary_runtime_measurements_%s",
		 ima_securityfs_dir(), bank->name);
	if (!access(out, F_OK))
		return 0;
	if (bank->tpm_id == 0x0004) {
		snprintf(out, len, "%s/binary_runtime_measurements",
			 ima_securityfs_dir());
		if (!access(out, F_OK))
			return 0;
	}
	return -ENOENT;
}
