// SPDX-License-Identifier: GPL-2.0-only
/* imastored's view: the FUSE thread and the drain requests (view_serve.h). */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "view_serve.h"

struct view_server {
	struct view *v;
	pthread_t th;
	bool running;
	int req_fd;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	uint64_t asked, done, begun;	/* request numbers */
	uint64_t cycles;
	int result;			/* of the cycle that answered up to `done` */
	bool stopping;
	char why[256];
	char mountpoint[PATH_MAX];
};

/* The FUSE thread: a read reached the end of the store. */
static int serve_fresh(void *arg, struct errmsg *em)
{
	struct view_server *vs = arg;
	uint64_t one = 1, me;
	int ret;

	pthread_mutex_lock(&vs->mu);
	me = ++vs->asked;
	if (write(vs->req_fd, &one, sizeof(one)) < 0) {
		/* the counter is set already: the loop wakes all the same */
	}
	while (vs->done < me && !vs->stopping)
		pthread_cond_wait(&vs->cv, &vs->mu);
	if (vs->done < me)
		ret = errmsg_set(em, -ESHUTDOWN, "imastored stops: no drain cycle for this read");
	else
		ret = vs->result ? errmsg_set(em, vs->result, "%s", vs->why) : 0;
	pthread_mutex_unlock(&vs->mu);
	return ret;
}

static void *serve_thread(void *arg)
{
	struct view_server *vs = arg;

	view_run(vs->v);
	return NULL;
}

int view_server_start(struct view_server **out, const struct view_opts *o,
		      struct errmsg *em)
{
	struct view_opts vo = *o;
	struct view_server *vs = calloc(1, sizeof(*vs));
	int ret;

	if (!vs)
		return -ENOMEM;
	pthread_mutex_init(&vs->mu, NULL);
	pthread_cond_init(&vs->cv, NULL);
	vs->req_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vs->req_fd < 0) {
		ret = errmsg_set(em, -errno, "eventfd: %s", strerror(errno));
		goto err;
	}
	vo.fresh = serve_fresh;
	vo.fresh_arg = vs;
	ret = view_open(&vs->v, &vo, em);
	if (ret)
		goto err;
	snprintf(vs->mountpoint, sizeof(vs->mountpoint), "%s", o->mountpoint);
	ret = -pthread_create(&vs->th, NULL, serve_thread, vs);
	if (ret) {
		errmsg_set(em, ret, "view thread: %s", strerror(-ret));
		goto err;
	}
	vs->running = true;
	*out = vs;
	return 0;
err:
	view_server_stop(vs);
	return ret;
}

int view_server_fd(const struct view_server *vs)
{
	return vs->req_fd;
}

bool view_server_take(struct view_server *vs)
{
	uint64_t v;
	bool want;

	if (read(vs->req_fd, &v, sizeof(v)) < 0) {
		/* EAGAIN: nothing new since the last look */
	}
	pthread_mutex_lock(&vs->mu);
	want = vs->asked > vs->begun;
	pthread_mutex_unlock(&vs->mu);
	return want;
}

uint64_t view_server_begin(struct view_server *vs)
{
	uint64_t t;

	pthread_mutex_lock(&vs->mu);
	t = vs->begun = vs->asked;
	pthread_mutex_unlock(&vs->mu);
	return t;
}

void view_server_end(struct view_server *vs, uint64_t token, int ret,
		     const char *chain)
{
	pthread_mutex_lock(&vs->mu);
	if (token > vs->done) {
		vs->result = ret;
		if (ret)
			snprintf(vs->why, sizeof(vs->why),
				 "imastored's drain cycle failed (%s): the view cannot say what the kernel holds",
				 strerror(-ret));
		if (!ret && chain && strcmp(chain, view_chain(vs->v))) {
			vs->result = -ESTALE;
			snprintf(vs->why, sizeof(vs->why),
				 "the boot moved from chain %.64s to %.64s (records were lost): the view's files end here",
				 view_chain(vs->v), chain);
		}
		vs->done = token;
		vs->cycles++;
		pthread_cond_broadcast(&vs->cv);
	}
	pthread_mutex_unlock(&vs->mu);
}

void view_server_stop(struct view_server *vs)
{
	if (!vs)
		return;
	pthread_mutex_lock(&vs->mu);
	vs->stopping = true;
	pthread_cond_broadcast(&vs->cv);
	pthread_mutex_unlock(&vs->mu);
	if (vs->running) {
		view_stop(vs->v);
		pthread_join(vs->th, NULL);
	}
	view_close(vs->v);
	if (vs->req_fd >= 0)
		close(vs->req_fd);
	pthread_mutex_destroy(&vs->mu);
	pthread_cond_destroy(&vs->cv);
	free(vs);
}

const char *view_server_mountpoint(const struct view_server *vs)
{
	return vs->mountpoint;
}

void view_server_counts(const struct view_server *vs, struct view_server_counts *c)
{
	c->asked = vs->asked;
	c->cycles = vs->cycles;
	view_counts(vs->v, &c->fs);
}
