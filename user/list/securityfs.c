// SPDX-License-Identifier: GPL-2.0-only
/* Where the running kernel's IMA files are; opening a list (EBUSY retried); _staged paths. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>
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

static int real_open(const char *path, int flags)
{
	int fd = open(path, flags);

	return fd < 0 ? -errno : fd;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

int ima_open_list(const char *path, int flags, unsigned max_ms,
		  int (*open_fn)(const char *path, int flags), int *fd,
		  struct errmsg *em)
{
	unsigned waited = 0, delay = 10;
	int ret;

	for (;;) {
		ret = (open_fn ? open_fn : real_open)(path, flags | O_CLOEXEC);
		if (ret >= 0) {
			*fd = ret;
			return 0;
		}
		if (ret != -EBUSY || waited >= max_ms)
			break;
		sleep_ms(delay);
		waited += delay;
		delay = delay * 2 > 1000 ? 1000 : delay * 2;
	}
	if (ret == -EBUSY)
		return errmsg_set(em, ret, "%s: busy for %u ms (another process has an IMA list open)",
				  path, waited);
	return errmsg_set(em, ret, "%s: %s", path, strerror(-ret));
}

void ima_staged_path(const char *list, char *out, size_t len)
{
	snprintf(out, len, "%s" IMA_STAGED_SUFFIX, list);
}
