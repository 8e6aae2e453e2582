// SPDX-License-Identifier: GPL-2.0-only
/* Between cycles: one poll() over signals, the ring buffer and the live stream; the BPF wait loop. */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "clock.h"
#include "daemon.h"
#include "log.h"
#include "notify.h"
#include "view_serve.h"

static void take_signal(struct daemon *dm, int sig)
{
	if (sig == SIGTERM || sig == SIGINT) {
		dlog(LOG_P_NOTICE, "signal %d: stopping", sig);
		dm->stop = true;
	} else if (sig == SIGHUP) {
		notify("RELOADING=1");
		daemon_reload(dm);
		notify("READY=1");
	}
}

static void take_signalfd(struct daemon *dm)
{
	struct signalfd_siginfo si;

	while (read(dm->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		take_signal(dm, (int)si.ssi_signo);
}

/*
 * One poll() over signals, the ring buffer and the live stream's sockets,
 * for at most timeout_ms (-1: no limit). Serves the stream's consumers.
 */
static void wait_fds(struct daemon *dm, int timeout_ms)
{
	struct pollfd p[2 + 2 + TAIL_CLIENTS_MAX];
	unsigned n = 0, first_tail, view_at = 0;
	int ret, tt = tail_timeout_ms(&dm->tail);

	p[n++] = (struct pollfd){ .fd = dm->sigfd, .events = POLLIN };
	if (dm->have_cap)
		p[n++] = (struct pollfd){ .fd = capture_fd(&dm->cap), .events = POLLIN };
	if (dm->view) {
		view_at = n;
		p[n++] = (struct pollfd){ .fd = view_server_fd(dm->view), .events = POLLIN };
	}
	first_tail = n;
	n += tail_pollfds(&dm->tail, p + n);
	if (tt >= 0 && (timeout_ms < 0 || tt < timeout_ms))
		timeout_ms = tt;
	ret = poll(p, n, timeout_ms);
	if (ret < 0 && errno != EINTR) {
		dlog(LOG_P_ERR, "poll: %s", strerror(errno));
		dm->stop = true;
		return;
	}
	if (ret <= 0)
		return;
	if (p[0].revents & POLLIN)
		take_signalfd(dm);
	if (view_at && (p[view_at].revents & POLLIN))
		dm->view_wants = view_server_take(dm->view);
	tail_handle(&dm->tail, p + first_tail, n - first_tail);
}

/* Sleep until the ring buffer has records, a signal, or the interval. */
static void wait_bpf(struct daemon *dm)
{
	int ret;

	while (!dm->stop) {
		ret = capture_consume(&dm->cap);
		if (ret < 0 && ret != -EINTR)
			dlog(LOG_P_WARNING, "bpf: ring buffer: %s", strerror(-ret));
		if (wakeup_bpf_due(dm) || dm->view_wants)
			return;
		/*
		 * Idle, or someone follows the live stream: the next record wakes
		 * us. Else records batch until the trim threshold or interval.
		 */
		if (!dm->cap.pending || tail_following(&dm->tail))
			capture_arm(&dm->cap);
		wait_fds(dm, wakeup_bpf_timeout(dm));
	}
}

/* Check for work every `latency` until there is some, or a signal. */
void wait_for_work(struct daemon *dm)
{
	uint64_t next = mono_ms() + dm->cfg.latency_ms, now;

	/*
	 * Signals and the stream's sockets first, without waiting: when work is
	 * due at once every time (a busy list), SIGTERM must still end us
	 * within one cycle.
	 */
	wait_fds(dm, 0);
	if (dm->stop || dm->view_wants)
		return;
	if (dm->have_cap) {
		wait_bpf(dm);
		return;
	}
	while (!dm->stop && !dm->view_wants) {
		now = mono_ms();
		if (now >= next) {
			if (wakeup_poll_due(dm))
				return;
			next = now + dm->cfg.latency_ms;
			continue;
		}
		wait_fds(dm, (int)(next - now));
	}
}
