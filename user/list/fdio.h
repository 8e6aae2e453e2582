/* SPDX-License-Identifier: GPL-2.0-only */
/* Whole buffers to a fd: short writes and EINTR retried. */
#ifndef IMASTORE_FDIO_H
#define IMASTORE_FDIO_H

#include <stddef.h>
#include <sys/types.h>

typedef ssize_t fd_pwrite_fn(int fd, const void *buf, size_t len, off_t off);

/* All of buf at `off` through pw (NULL: pwrite(2)); 0 or -errno (-EIO: wrote 0). */
int fd_pwrite_all(fd_pwrite_fn *pw, int fd, const void *buf, size_t len, off_t off);
/* All of buf at the file's position (write(2)). */
int fd_write_all(int fd, const void *buf, size_t len);

#endif
