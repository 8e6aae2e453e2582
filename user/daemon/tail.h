/* SPDX-License-Identifier: GPL-2.0-only */
/* The live stream's server: a unix socket, many consumers, slow ones dropped (docs/tail.md). */
#ifndef IMASTORED_TAIL_H
#define IMASTORED_TAIL_H

/*
 * The live stream (docs/tail.md): a unix socket where any number of
 * `imastore tail` consumers follow the records as they are measured. The
 * daemon hands each record over once, already formatted; every write is
 * non-blocking and a consumer that falls TAIL_CLIENT_BUF bytes behind is
 * dropped (and counted), so the stream never slows storage.
 */
#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errmsg.h"
#include "tail_format.h"	/* TAIL_SOCKET_DEFAULT, TAIL_BACKLOG */

#define TAIL_CLIENTS_MAX 32
#define TAIL_CLIENT_BUF (256u << 10)	/* a consumer this far behind is dropped */
#define TAIL_REQUEST_MS 5000		/* time a consumer has to say what it wants */
#define TAIL_CLOSE_MS 2000		/* at exit, for followers to take the rest */

struct tail_client;

struct tail_server {
	int lfd;			/* -1: not serving */
	char path[108];			/* sun_path */
	const char *source;		/* "bpf" or "list" */
	struct tail_client *cl[TAIL_CLIENTS_MAX];
	unsigned ncl;
	/* the newest TAIL_BACKLOG records, as json and text lines */
	char *back_json[TAIL_BACKLOG], *back_text[TAIL_BACKLOG];
	unsigned back_next, back_n;
	uint64_t published, accepted, dropped, refused;
};

/*
 * Listen on `path` (its directory is made 0755; the socket is 0600: the
 * lists are root's). A live socket there (another imastored) is left alone:
 * -EADDRINUSE. `source` names where records come from ("bpf", "list").
 */
int tail_open(struct tail_server *t, const char *path, const char *source,
	      struct errmsg *em);
/*
 * Gives followers what is queued for them and "end: imastored stops" (for
 * TAIL_CLOSE_MS at most), closes, unlinks.
 */
void tail_close(struct tail_server *t);

/* The fds to poll, at most 1 + TAIL_CLIENTS_MAX, into p; their number. */
unsigned tail_pollfds(const struct tail_server *t, struct pollfd *p);
/* After poll(): accept, read requests, flush, drop timed-out requests. */
void tail_handle(struct tail_server *t, const struct pollfd *p, unsigned n);
/* The poll timeout the server needs (a pending request's deadline) or -1. */
int tail_timeout_ms(const struct tail_server *t);

/* Someone follows: records should reach them without waiting for a batch. */
bool tail_following(const struct tail_server *t);

/* bytes queued for consumer i (< t->ncl), not yet taken by it */
size_t tail_queued(const struct tail_server *t, unsigned i);

/* One record, as both lines (each ending in '\n'). Never blocks. */
void tail_publish(struct tail_server *t, const char *json, const char *text);

#endif
