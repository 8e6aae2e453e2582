/* SPDX-License-Identifier: GPL-2.0-only */
/* The BPF wake-up: the ring buffer of appended records, counted to decide when to drain. */
#ifndef IMASTORED_CAPTURE_H
#define IMASTORED_CAPTURE_H

/*
 * The BPF wake-up (docs/bpf.md): an fexit program on ima_add_template_entry
 * puts every appended record in a ring buffer. The daemon only counts them to
 * decide when to drain; what it stores always comes from the kernel's list,
 * so a lost record (ring full) costs nothing but a gap in the sequence.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errmsg.h"
#include "imacapture.h"

#define CAPTURE_PIN_DIR "/sys/fs/bpf/imastore"

struct imacapture_bpf;
struct ring_buffer;

#define CAPTURE_LAT_BUCKETS 10001
#define CAPTURE_PEND_MAX 65536

struct capture {
	struct imacapture_bpf *skel;
	struct ring_buffer *rb;
	bool pinned;
	int dump_fd;			/* --dump-records: -1 off */
	uint64_t covered_ns;		/* records older than this are drained */
	uint64_t received;		/* records taken from the ring */
	uint64_t next_seq;		/* highest seq seen + 1 */
	uint64_t pending;		/* new records (gaps included) since a drain */
	uint64_t first_pending_ns;	/* ktime of the oldest pending record */
	uint64_t dumped, dump_skipped;
	uint64_t wake_ns_sum, wake_ns_max;	/* record -> callback */
	/* measurement -> durable: ktimes of records not drained yet, and a
	 * histogram of 1 ms buckets (the last one: 10 s or more) */
	uint64_t *pend_ns;
	size_t npend;
	uint32_t durable_ms[CAPTURE_LAT_BUCKETS];
	uint64_t durable_n;
	/* every record received (the live stream), or NULL; set after open */
	void (*on_rec)(void *ctx, const struct imacapture_rec *r);
	void *on_rec_ctx;
};

/* p-th percentile (0..100) of measurement -> durable, in ms; 0 if none. */
unsigned capture_durable_percentile(const struct capture *c, unsigned p);

/*
 * Open, size the ring (bytes, a power of 2 >= the page size), load, attach,
 * pin the counters under CAPTURE_PIN_DIR. The program wakes the daemon for
 * the first record after capture_arm(), every wake_every-th record, and when
 * the ring is half full. dump: a file that receives every
 * record in the binary list format of its bank, or NULL. On failure nothing
 * is left behind and em says why (the caller falls back to polling).
 */
int capture_open(struct capture *c, size_t ringbuf_size, uint32_t wake_every,
		 const char *dump, struct errmsg *em);
void capture_close(struct capture *c);
/* The fd to poll for records (an epoll fd, readable when records wait). */
int capture_fd(const struct capture *c);
/* Take every waiting record: their number or -errno. */
int capture_consume(struct capture *c);
/* After a reload: the trim threshold's new granularity (at once). */
void capture_set_wake_every(struct capture *c, uint32_t wake_every);
/* Nothing pending: have the next record wake us (then takes waiting ones). */
void capture_arm(struct capture *c);
/* A drain read the list from `ns` (mono_ns(), bpf_ktime_get_ns()'s clock) on: older records are in it. */
void capture_drained(struct capture *c, uint64_t ns);
/* Records the ring could not take (gaps in seq). */
uint64_t capture_lost(const struct capture *c);
/* The per-CPU counters, summed (last_seq: the maximum). */
int capture_stats(const struct capture *c, struct imacapture_stats *sum);

#endif
