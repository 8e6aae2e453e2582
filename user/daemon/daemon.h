/* SPDX-License-Identifier: GPL-2.0-only */
/* imastored's state, and the files that share it: daemon, loop, wait, wakeup, stream, stats. */
#ifndef IMASTORED_DAEMON_H
#define IMASTORED_DAEMON_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "capture.h"
#include "config.h"
#include "drain.h"
#include "kernel_ops.h"
#include "store.h"
#include "tail.h"

/*
 * One thread; signals are blocked and read from a signalfd in the poll()
 * that waits between cycles, so a cycle is never interrupted half way.
 */
struct view_server;

struct daemon {
	struct dconfig cfg;
	int argc;
	char **argv;
	struct kernel_info ki;
	struct store *s;
	struct chain *c;
	char boot[STORE_ID_MAX];
	struct drain d;
	struct drain_policy pol;
	sigset_t sigs;
	bool stop;
	uint64_t last_cycle_ms, count_after;
	bool have_count;
	uint64_t rec_bytes;	/* average record size seen, for trim_bytes */
	uint64_t cycles, cycle_us;
	/* the BPF wake-up (docs/bpf.md); without it, polling as before */
	struct capture cap;
	bool have_cap;
	int sigfd;
	/* securityfs reads of runtime_measurements_count: waiting / after cycles */
	uint64_t idle_reads, cycle_reads;
	/* first pending record -> drain start (BPF only) */
	uint64_t lat_n, lat_ns_sum, lat_ns_max;
	/* the live stream (docs/tail.md) */
	struct tail_server tail;
	char tail_json[TAIL_LINE_MAX], tail_text[TAIL_LINE_MAX];
	uint64_t tail_bad;	/* records that would not format */
	/* the view (docs/view.md): its reads at the end ask for a cycle */
	struct view_server *view;
	bool view_wants;
};

/* daemon.c: the kernel's mode, the store and the boot's chain; SIGHUP */
int daemon_setup(struct daemon *dm);
void daemon_reload(struct daemon *dm);
void daemon_free(struct daemon *dm);

/* loop.c: the first cycle, then wait and cycle until a signal stops it */
int daemon_loop(struct daemon *dm);

/* wait.c: between cycles, until there is work (or a signal) */
void wait_for_work(struct daemon *dm);

/* wakeup.c: when a cycle is due, and the BPF wake-up's start and stop */
bool wakeup_poll_due(struct daemon *dm);
bool wakeup_bpf_due(struct daemon *dm);
/* poll() timeout with BPF: -1 idle (no timer), else until the interval */
int wakeup_bpf_timeout(const struct daemon *dm);
/* the trim threshold is seen within this many records (1/8 of it) */
uint32_t wakeup_every(const struct daemon *dm);
void wakeup_start(struct daemon *dm);
void wakeup_stop(struct daemon *dm);

/* stream.c: the live stream fed from the ring buffer, else from the drains */
void stream_start(struct daemon *dm);
void stream_stop(struct daemon *dm);

/* stats.c: counted securityfs reads, latencies, the status file's extras */
int stats_read_count(struct daemon *dm, uint64_t *n, bool idle);
void stats_drain_start(struct daemon *dm, uint64_t t0);
void stats_status_extra(struct daemon *dm);
void stats_log_cycles(const struct daemon *dm);
void stats_log_reads(const struct daemon *dm);
void stats_log_bpf(struct daemon *dm);

/* view.c (daemon side): the FUSE view of the running boot */
void daemon_view_start(struct daemon *dm);
int daemon_view_cycle(struct daemon *dm, int (*cycle)(struct daemon *dm));
void daemon_view_stop(struct daemon *dm);

#endif
