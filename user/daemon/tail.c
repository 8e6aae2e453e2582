// SPDX-License-Identifier: GPL-2.0-only
/* The live stream's server: see tail.h and docs/tail.md. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "tail.h"

struct tail_client {
	int fd;
	pid_t pid;
	bool streaming;		/* request taken: records flow */
	bool json, follow;
	bool closing;		/* close once the queue is out */
	bool eof;		/* it shut its side: stop reading, keep writing */
	uint64_t deadline_ms;	/* for the request */
	char req[256];
	size_t reqlen;
	char *q;		/* queued bytes q[off..len) */
	size_t off, len;
};

static int make_dir(const char *path)
{
	char dir[sizeof(((struct tail_server *)0)->path)];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	if (mkdir(dir, 0755) && errno != EEXIST)
		return -errno;
	return 0;
}

/* Another daemon listening there keeps its socket; a dead one's goes. */
static int clear_stale(const struct sockaddr_un *sa)
{
	struct stat st;
	int fd, ret;

	if (lstat(sa->sun_path, &st))
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	ret = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	close(fd);
	if (!ret)
		return -EADDRINUSE;
	return unlink(sa->sun_path) && errno != ENOENT ? -errno : 0;
}

int tail_open(struct tail_server *t, const char *path, const char *source,
	      struct errmsg *em)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	mode_t old;
	int ret;

	memset(t, 0, sizeof(*t));
	t->lfd = -1;
	t->source = source;
	if (strlen(path) >= sizeof(sa.sun_path))
		return errmsg_set(em, -ENAMETOOLONG, "%s: longer than a socket path may be", path);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	ret = make_dir(path);
	if (!ret)
		ret = clear_stale(&sa);
	if (ret == -EADDRINUSE)
		return errmsg_set(em, ret, "%s: another imastored serves it (set tail_socket)", path);
	if (ret == -EEXIST)
		return errmsg_set(em, ret, "%s: exists and is not a socket", path);
	if (ret)
		return errmsg_set(em, ret, "%s: %s", path, strerror(-ret));
	t->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (t->lfd < 0)
		return errmsg_set(em, -errno, "socket: %s", strerror(errno));
	old = umask(0177);
	ret = bind(t->lfd, (struct sockaddr *)&sa, sizeof(sa)) ? -errno : 0;
	umask(old);
	if (!ret && listen(t->lfd, 16))
		ret = -errno;
	if (ret) {
		close(t->lfd);
		t->lfd = -1;
		return errmsg_set(em, ret, "%s: %s", path, strerror(-ret));
	}
	snprintf(t->path, sizeof(t->path), "%s", path);
	return 0;
}

static void client_free(struct tail_server *t, unsigned i)
{
	struct tail_client *c = t->cl[i];

	close(c->fd);
	free(c->q);
	free(c);
	t->cl[i] = t->cl[--t->ncl];
}

static void drop(struct tail_server *t, unsigned i, const char *why)
{
	dlog(LOG_P_WARNING, "tail: consumer pid %d dropped: %s (%llu dropped in all)",
	     (int)t->cl[i]->pid, why, (unsigned long long)++t->dropped);
	client_free(t, i);
}

/* Write what is queued; -errno when the consumer is gone. */
static int flush(struct tail_client *c)
{
	ssize_t n;

	while (c->off < c->len) {
		n = send(c->fd, c->q + c->off, c->len - c->off, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? 0 : -errno;
		c->off += (size_t)n;
	}
	c->off = c->len = 0;
	return 0;
}

/* Room past the limit for the "end" line of a consumer at the limit. */
#define TAIL_Q_SLACK 64

/* Queue `s`; -ENOBUFS when the consumer is `limit` bytes behind. */
static int enqueue_max(struct tail_client *c, const char *s, size_t n, size_t limit)
{
	int ret = flush(c);

	if (ret)
		return ret;
	if (c->len - c->off + n > limit)
		return -ENOBUFS;
	if (!c->q) {
		c->q = malloc(TAIL_CLIENT_BUF + TAIL_Q_SLACK);
		if (!c->q)
			return -ENOMEM;
	}
	if (c->len + n > TAIL_CLIENT_BUF + TAIL_Q_SLACK) {
		memmove(c->q, c->q + c->off, c->len - c->off);
		c->len -= c->off;
		c->off = 0;
	}
	memcpy(c->q + c->len, s, n);
	c->len += n;
	return flush(c);
}

static int enqueue(struct tail_client *c, const char *s, size_t n)
{
	return enqueue_max(c, s, n, TAIL_CLIENT_BUF);
}

static int send_line(struct tail_client *c, const char *s)
{
	return enqueue(c, s, strlen(s));
}

/* Take one waiting connection; false when none waits. */
static bool accept_one(struct tail_server *t)
{
	struct tail_client *c;
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	int fd;

	fd = accept4(t->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return false;
	if (t->ncl == TAIL_CLIENTS_MAX) {
		static const char full[] = "error: too many consumers of the live stream\n";

		(void)!send(fd, full, sizeof(full) - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
		close(fd);
		t->refused++;
		return true;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return true;
	}
	c->fd = fd;
	c->pid = getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) ? -1 : cred.pid;
	c->deadline_ms = mono_ms() + TAIL_REQUEST_MS;
	t->cl[t->ncl++] = c;
	t->accepted++;
	return true;
}

/*
 * "format=json|text backlog=N follow=0|1": what the consumer wants.
 * Returns NULL or why the request is refused.
 */
static const char *parse_request(struct tail_client *c, char *line, unsigned *backlog)
{
	char *tok, *save = NULL, *end;
	unsigned long v;

	c->json = true;
	c->follow = true;
	*backlog = 0;
	for (tok = strtok_r(line, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
		if (!strcmp(tok, "format=json") || !strcmp(tok, "format=text")) {
			c->json = tok[7] == 'j';
		} else if (!strcmp(tok, "follow=1") || !strcmp(tok, "follow=0")) {
			c->follow = tok[7] == '1';
		} else if (!strncmp(tok, "backlog=", 8)) {
			errno = 0;
			v = strtoul(tok + 8, &end, 10);
			if (errno || end == tok + 8 || *end || v > TAIL_BACKLOG)
				return "backlog: a number from 0 to 64";
			*backlog = (unsigned)v;
		} else {
			return "unknown request (format=json|text backlog=N follow=0|1)";
		}
	}
	return NULL;
}

static int start_stream(struct tail_server *t, struct tail_client *c, unsigned backlog)
{
	char hello[128];
	unsigned have = backlog < t->back_n ? backlog : t->back_n;
	int ret;

	snprintf(hello, sizeof(hello), "ok source=%s backlog=%u\n", t->source, have);
	ret = send_line(c, hello);
	for (unsigned k = have; !ret && k > 0; k--) {
		unsigned slot = (t->back_next + TAIL_BACKLOG - k) % TAIL_BACKLOG;

		ret = send_line(c, c->json ? t->back_json[slot] : t->back_text[slot]);
	}
	c->streaming = true;
	c->closing = !c->follow;
	return ret;
}

/* Bytes from the consumer: its request, or (later) nothing but EOF. */
static int take_input(struct tail_server *t, struct tail_client *c)
{
	char buf[256], *nl;
	const char *why;
	unsigned backlog;
	ssize_t n;

	n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -errno;
	if (n == 0 && !c->streaming)
		return -EPIPE;
	if (n == 0)
		c->eof = true;	/* `echo ... | socat` shuts its side and reads on */
	if (c->streaming)
		return 0;
	if (c->reqlen + (size_t)n >= sizeof(c->req)) {
		send_line(c, "error: request too long\n");
		return -EPROTO;
	}
	memcpy(c->req + c->reqlen, buf, (size_t)n);
	c->reqlen += (size_t)n;
	c->req[c->reqlen] = '\0';
	nl = strchr(c->req, '\n');
	if (!nl)
		return 0;
	*nl = '\0';
	why = parse_request(c, c->req, &backlog);
	if (why) {
		char msg[160];

		snprintf(msg, sizeof(msg), "error: %s\n", why);
		send_line(c, msg);
		return -EPROTO;
	}
	return start_stream(t, c, backlog);
}

unsigned tail_pollfds(const struct tail_server *t, struct pollfd *p)
{
	unsigned n = 0;

	if (t->lfd < 0)
		return 0;
	p[n++] = (struct pollfd){ .fd = t->lfd, .events = POLLIN };
	for (unsigned i = 0; i < t->ncl; i++)
		p[n++] = (struct pollfd){
			.fd = t->cl[i]->fd,
			.events = (short)((t->cl[i]->eof ? 0 : POLLIN) |
					  (t->cl[i]->len ? POLLOUT : 0)),
		};
	return n;
}

static short revents_of(const struct pollfd *p, unsigned n, int fd)
{
	for (unsigned i = 0; i < n; i++)
		if (p[i].fd == fd)
			return p[i].revents;
	return 0;
}

void tail_handle(struct tail_server *t, const struct pollfd *p, unsigned n)
{
	uint64_t now = mono_ms();

	if (t->lfd < 0)
		return;
	for (unsigned i = t->ncl; i-- > 0;) {
		struct tail_client *c = t->cl[i];
		short ev = revents_of(p, n, c->fd);
		int ret = 0;

		if (ev & (POLLHUP | POLLERR))
			ret = -EPIPE;	/* gone both ways */
		else if (ev & POLLIN)
			ret = take_input(t, c);
		if (!ret && (ev & POLLOUT))
			ret = flush(c);
		if (!ret && !c->streaming && now >= c->deadline_ms) {
			send_line(c, "error: no request within 5 s\n");
			ret = -ETIMEDOUT;
		}
		if (ret || (c->closing && !c->len))
			client_free(t, i);
	}
	if (n && p[0].fd == t->lfd && (p[0].revents & POLLIN))
		for (int k = 0; k <= TAIL_CLIENTS_MAX && accept_one(t); k++)
			;
}

int tail_timeout_ms(const struct tail_server *t)
{
	uint64_t now = mono_ms(), first = UINT64_MAX;

	for (unsigned i = 0; i < t->ncl; i++)
		if (!t->cl[i]->streaming && t->cl[i]->deadline_ms < first)
			first = t->cl[i]->deadline_ms;
	if (first == UINT64_MAX)
		return -1;
	return first <= now ? 0 : (int)(first - now);
}

static void keep_backlog(struct tail_server *t, const char *json, const char *text)
{
	unsigned slot = t->back_next;
	char *j = strdup(json), *x = strdup(text);

	if (!j || !x) {
		free(j);
		free(x);
		return;
	}
	free(t->back_json[slot]);
	free(t->back_text[slot]);
	t->back_json[slot] = j;
	t->back_text[slot] = x;
	t->back_next = (slot + 1) % TAIL_BACKLOG;
	if (t->back_n < TAIL_BACKLOG)
		t->back_n++;
}

void tail_publish(struct tail_server *t, const char *json, const char *text)
{
	if (t->lfd < 0)
		return;
	t->published++;
	keep_backlog(t, json, text);
	for (unsigned i = t->ncl; i-- > 0;) {
		struct tail_client *c = t->cl[i];
		int ret;

		if (!c->streaming || c->closing)
			continue;
		ret = send_line(c, c->json ? json : text);
		if (ret == -ENOBUFS)
			drop(t, i, "more than 256 KiB behind");
		else if (ret)
			client_free(t, i);
	}
}

bool tail_following(const struct tail_server *t)
{
	for (unsigned i = 0; i < t->ncl; i++)
		if (t->cl[i]->streaming && t->cl[i]->follow)
			return true;
	return false;
}

size_t tail_queued(const struct tail_server *t, unsigned i)
{
	return t->cl[i]->len - t->cl[i]->off;
}

/*
 * At exit a follower gets what is queued for it and the "end" line: storage
 * is over, so waiting a little (TAIL_CLOSE_MS at most) slows nothing.
 */
static void flush_at_close(struct tail_server *t)
{
	static const char bye[] = "end: imastored stops\n";
	uint64_t end = mono_ms() + TAIL_CLOSE_MS, now;
	struct pollfd p[TAIL_CLIENTS_MAX];
	unsigned n;

	for (unsigned i = 0; i < t->ncl; i++)
		if (t->cl[i]->streaming && t->cl[i]->follow && !t->cl[i]->closing)
			enqueue_max(t->cl[i], bye, sizeof(bye) - 1,
				    TAIL_CLIENT_BUF + TAIL_Q_SLACK);
	while ((now = mono_ms()) < end) {
		n = 0;
		for (unsigned i = 0; i < t->ncl; i++)
			if (t->cl[i]->len > t->cl[i]->off)
				p[n++] = (struct pollfd){ .fd = t->cl[i]->fd, .events = POLLOUT };
		if (!n || poll(p, n, (int)(end - now)) <= 0)
			break;
		for (unsigned i = 0; i < t->ncl; i++)
			if (flush(t->cl[i]))
				t->cl[i]->off = t->cl[i]->len;	/* gone: nothing to wait for */
	}
}

void tail_close(struct tail_server *t)
{
	if (t->lfd < 0)
		return;
	flush_at_close(t);
	while (t->ncl)
		client_free(t, t->ncl - 1);
	close(t->lfd);
	t->lfd = -1;
	unlink(t->path);
	for (unsigned i = 0; i < TAIL_BACKLOG; i++) {
		free(t->back_json[i]);
		free(t->back_text[i]);
		t->back_json[i] = t->back_text[i] = NULL;
	}
	if (t->published || t->accepted)
		dlog(LOG_P_INFO, "tail: %llu records published, %llu consumers served, %llu dropped (slow), %llu refused (too many)",
		     (unsigned long long)t->published, (unsigned long long)t->accepted,
		     (unsigned long long)t->dropped, (unsigned long long)t->refused);
}
