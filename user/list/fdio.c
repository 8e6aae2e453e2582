// SPDX-License-Identifier: GPL-2.0-only
/* Whole buffers to a fd (see fdio.h). */
#include <errno.h>
#include <unistd.h>

#include "fdio.h"

int fd_pwrite_all(fd_pwrite_fn *pw, int fd, const void *buf, size_t len, off_t off)
{
	const char *p = buf;
	ssize_t n;

	while (len) {
		n = pw ? pw(fd, p, len, off) : pwrite(fd, p, len, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		p += n;
		off += n;
		len -= (size_t)n;
	}
	return 0;
}

static ssize_t write_here(int fd, const void *buf, size_t len, off_t off)
{
	(void)off;
	return write(fd, buf, len);
}

int fd_write_all(int fd, const void *buf, size_t len)
{
	return fd_pwrite_all(write_here, fd, buf, len, 0);
}
