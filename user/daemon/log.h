/* SPDX-License-Identifier: GPL-2.0-only */
/* imastored's log lines on stderr (journald's <N> prefixes where they are read). */
#ifndef IMASTORED_LOG_H
#define IMASTORED_LOG_H

/*
 * Logging of the daemon: one line per message on stderr, prefixed "<N>" with
 * the syslog priority, which journald understands (sd-daemon(3)), when
 * JOURNAL_STREAM is set or stderr is not a terminal (a file, a pipe: the
 * tests grep the prefixes); plain on a terminal. Only the daemon's top level
 * logs; library calls return errors.
 */
enum {
	LOG_P_ERR = 3,
	LOG_P_WARNING = 4,
	LOG_P_NOTICE = 5,
	LOG_P_INFO = 6,
	LOG_P_DEBUG = 7,
};

/* Messages above this priority number are dropped (default LOG_P_INFO). */
void dlog_set_level(int level);

__attribute__((format(printf, 2, 3)))
void dlog(int prio, const char *fmt, ...);

#endif
