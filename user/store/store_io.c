// SPDX-License-Identifier: GPL-2.0-only
/* The seam every store write goes through (tests fail, log or kill there). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fdio.h"
#include "store_io.h"

static int real_openat(int dirfd, const char *path, int flags, mode_t mode)
{
	return openat(dirfd, path, flags, mode);
}

/*
 * IMASTORE_FAILPOINT=name:kill makes the process SIGKILL itself at that
 * point, so crash tests can stop the daemon or the CLI exactly there.
 */
static void env_failpoint(const char *name)
{
	const char *fp = getenv("IMASTORE_FAILPOINT");
	size_t n = strlen(name);

	if (fp && !strncmp(fp, name, n) && !strcmp(fp + n, ":kill")) {
		fflush(NULL);
		kill(getpid(), SIGKILL);
	}
}

const struct store_io store_io_default = {
	.openat = real_openat,
	.pwrite = pwrite,
	.fdatasync = fdatasync,
	.fsync = fsync,
	.ftruncate = ftruncate,
	.renameat = renameat,
	.mkdirat = mkdirat,
	.symlinkat = symlinkat,
	.unlinkat = unlinkat,
	.failpoint = env_failpoint,
};

const struct store_io *store_io = &store_io_default;

int io_write_all(int fd, const void *buf, size_t len, off_t off)
{
	return fd_pwrite_all(store_io->pwrite, fd, buf, len, off);
}

void io_failpoint(const char *name)
{
	if (store_io->failpoint)
		store_io->failpoint(name);
}
