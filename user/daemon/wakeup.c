// SPDX-License-Identifier: GPL-2.0-only
/* The wake-up policy: when a cycle is due (polled count, or BPF's records); the BPF wake-up's start and stop. */
#include "clock.h"
#include "daemon.h"
#include "log.h"

/* The interval since the last cycle has passed. */
static bool interval_due(const struct daemon *dm)
{
	return mono_ms() - dm->last_cycle_ms >= dm->cfg.interval_ms;
}

/* A kernel holding n records is to be trimmed (keep + trim_records, or trim_bytes). */
static bool trim_due(const struct daemon *dm, uint64_t n)
{
	if (dm->pol.mirror || dm->d.foreign || dm->d.no_n)
		return false;
	return n >= drain_threshold(&dm->pol) ||
	       (dm->pol.trim_bytes && n * dm->rec_bytes >= dm->pol.trim_bytes);
}

/* Is there work: the kernel list reached the trim threshold, or changed? */
bool wakeup_poll_due(struct daemon *dm)
{
	bool due = interval_due(dm);
	uint64_t n;

	if (stats_read_count(dm, &n, true))
		return due;
	if (trim_due(dm, n))
		return true;
	return due && (!dm->have_count || n != dm->count_after);
}

/*
 * With BPF the records counted since the last drain stand in for
 * runtime_measurements_count: the same rules as wakeup_poll_due(), without
 * a securityfs read. count_after was read right after the last cycle.
 */
bool wakeup_bpf_due(struct daemon *dm)
{
	uint64_t pending = dm->cap.pending;

	if (!pending)
		return false;
	if (!dm->have_count)
		return true;
	return trim_due(dm, dm->count_after + pending) || interval_due(dm);
}

/* Idle: no timer at all; with records waiting: until the interval is due. */
int wakeup_bpf_timeout(const struct daemon *dm)
{
	uint64_t since = mono_ms() - dm->last_cycle_ms;

	if (!dm->cap.pending)
		return -1;
	return since >= dm->cfg.interval_ms ? 0 : (int)(dm->cfg.interval_ms - since);
}

/* The trim threshold is seen within this many records (1/8 of it). */
uint32_t wakeup_every(const struct daemon *dm)
{
	uint64_t k = dm->cfg.trim_records / 8;

	return k < 1 ? 1 : k > UINT32_MAX ? UINT32_MAX : (uint32_t)k;
}

/* Attached before the first cycle, so that cycle covers what came before. */
void wakeup_start(struct daemon *dm)
{
	struct errmsg em = { "" };
	const char *dump = *dm->cfg.dump_records ? dm->cfg.dump_records : NULL;

	if (dm->cfg.once)
		return;
	if (!dm->cfg.bpf) {
		dlog(LOG_P_NOTICE, "BPF wake-up off (--no-bpf): polling runtime_measurements_count every %u ms",
		     dm->cfg.latency_ms);
		return;
	}
	if (!capture_open(&dm->cap, dm->cfg.ringbuf_size, wakeup_every(dm), dump, &em)) {
		dm->have_cap = true;
		dlog(LOG_P_NOTICE, "BPF wake-up: fexit on ima_add_template_entry, ring buffer %llu bytes; no polling while idle",
		     (unsigned long long)dm->cfg.ringbuf_size);
		return;
	}
	dlog(LOG_P_NOTICE, "BPF wake-up unavailable (%s): polling runtime_measurements_count every %u ms",
	     errmsg_text(&em), dm->cfg.latency_ms);
}

void wakeup_stop(struct daemon *dm)
{
	stats_log_reads(dm);
	if (!dm->have_cap)
		return;
	capture_consume(&dm->cap);
	stats_log_bpf(dm);
	capture_close(&dm->cap);
	dm->have_cap = false;
}
