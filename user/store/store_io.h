/* SPDX-License-Identifier: GPL-2.0-only */
/* The seam every store write goes through (tests fail, log or kill there). */
#ifndef IMASTORE_STORE_IO_H
#define IMASTORE_STORE_IO_H

#include <sys/types.h>

/*
 * Every call by which the store changes the disk goes through this table
 * (SQLite's VFS idea), so tests can fail the N-th write with ENOSPC or EIO,
 * log writes and fsyncs for power-cut simulation, or stop the process at a
 * named point. Reads are not here: they cannot lose data.
 */
struct store_io {
	int (*openat)(int dirfd, const char *path, int flags, mode_t mode);
	ssize_t (*pwrite)(int fd, const void *buf, size_t len, off_t off);
	int (*fdatasync)(int fd);
	int (*fsync)(int fd);
	int (*ftruncate)(int fd, off_t len);
	int (*renameat)(int olddir, const char *oldpath, int newdir,
			const char *newpath);
	int (*mkdirat)(int dirfd, const char *path, mode_t mode);
	int (*symlinkat)(const char *target, int dirfd, const char *path);
	int (*unlinkat)(int dirfd, const char *path, int flags);
	/* a named point in the protocol ("after-write", ...): tests may kill here */
	void (*failpoint)(const char *name);
};

extern const struct store_io *store_io;
extern const struct store_io store_io_default;

/* pwrite all of it, retrying short writes; -errno */
int io_write_all(int fd, const void *buf, size_t len, off_t off);
void io_failpoint(const char *name);

#endif
