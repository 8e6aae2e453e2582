// SPDX-License-Identifier: GPL-2.0-only
#include <stdarg.h>
#include <stdio.h>

#include "log.h"

static int log_level = LOG_P_INFO;

void dlog_set_level(int level)
{
	log_level = level;
}

void dlog(int prio, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	if (prio > log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* one write per line: lines of concurrent writers do not interleave */
	fprintf(stderr, "<%d>%s\n", prio, line);
	fflush(stderr);
}
