// SPDX-License-Identifier: GPL-2.0-only
/* imastored's log lines on stderr (journald's <N> prefixes where they are read). */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "log.h"

static int log_level = LOG_P_INFO;
static int prefix = -1;		/* unknown until the first line */

/* journald (JOURNAL_STREAM) and files read "<N>"; a terminal shows plain lines. */
static bool want_prefix(void)
{
	if (prefix < 0)
		prefix = getenv("JOURNAL_STREAM") || !isatty(STDERR_FILENO);
	return prefix;
}

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
	if (want_prefix())
		fprintf(stderr, "<%d>%s\n", prio, line);
	else
		fprintf(stderr, "%s\n", line);
	fflush(stderr);
}
