/* SPDX-License-Identifier: GPL-2.0-only */
/* sd_notify(3) without libsystemd. */
#ifndef IMASTORED_NOTIFY_H
#define IMASTORED_NOTIFY_H

/*
 * sd_notify(3) without libsystemd: one datagram to $NOTIFY_SOCKET ("READY=1",
 * "STATUS=...", "STOPPING=1"). Does nothing outside systemd.
 */
void notify(const char *msg);

#endif
