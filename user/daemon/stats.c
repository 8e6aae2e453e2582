// SPDX-License-Identifier: GPL-2.0-only
/* The daemon's statistics: counted securityfs reads, latencies, cycles, the status file's extras. */
#include "daemon.h"
#include "log.h"

/* Every read of runtime_measurements_count goes through here: counted. */
int stats_read_count(struct daemon *dm, uint64_t *n, bool idle)
{
	if (idle)
		dm->idle_reads++;
	else
		dm->cycle_reads++;
	return kernel_count(n);
}

/* BPF only: from the first pending record to the drain's start. */
void stats_drain_start(struct daemon *dm, uint64_t t0)
{
	uint64_t lat;

	if (!dm->cap.first_pending_ns || t0 < dm->cap.first_pending_ns)
		return;
	lat = t0 - dm->cap.first_pending_ns;
	dm->lat_n++;
	dm->lat_ns_sum += lat;
	if (lat > dm->lat_ns_max)
		dm->lat_ns_max = lat;
}

/* What the status file says beyond the drain: wake-up and live stream. */
void stats_status_extra(struct daemon *dm)
{
	snprintf(dm->d.status_extra, sizeof(dm->d.status_extra),
		 "wakeup=%s\nbpf_records_lost=%llu\ntail_consumers=%u\ntail_dropped=%llu\n",
		 dm->have_cap ? "bpf" : "polling",
		 (unsigned long long)(dm->have_cap ? capture_lost(&dm->cap) : 0),
		 dm->tail.lfd >= 0 ? dm->tail.ncl : 0, (unsigned long long)dm->tail.dropped);
}

void stats_log_cycles(const struct daemon *dm)
{
	if (dm->cycles)
		dlog(LOG_P_INFO, "%llu cycles, %llu us per cycle on average",
		     (unsigned long long)dm->cycles,
		     (unsigned long long)(dm->cycle_us / dm->cycles));
}

void stats_log_reads(const struct daemon *dm)
{
	dlog(LOG_P_INFO, "securityfs: %llu reads of runtime_measurements_count while waiting, %llu after cycles; %llu cycles (%s)",
	     (unsigned long long)dm->idle_reads, (unsigned long long)dm->cycle_reads,
	     (unsigned long long)dm->cycles, dm->have_cap ? "bpf" : "polling");
}

void stats_log_bpf(struct daemon *dm)
{
	struct imacapture_stats st;

	if (capture_stats(&dm->cap, &st))
		return;
	dlog(LOG_P_INFO, "bpf: emitted %llu, reserve_failures %llu, truncated %llu, duplicates %llu, errors %llu; received %llu, lost %llu (gaps), dumped %llu",
	     (unsigned long long)st.emitted, (unsigned long long)st.reserve_failures,
	     (unsigned long long)st.truncated, (unsigned long long)st.duplicates,
	     (unsigned long long)st.errors, (unsigned long long)dm->cap.received,
	     (unsigned long long)capture_lost(&dm->cap), (unsigned long long)dm->cap.dumped);
	dlog(LOG_P_INFO, "bpf latency: record to wake-up avg %llu us max %llu us; record to drain start avg %llu us max %llu us (%llu drains)",
	     (unsigned long long)(dm->cap.received ? dm->cap.wake_ns_sum / dm->cap.received / 1000 : 0),
	     (unsigned long long)dm->cap.wake_ns_max / 1000,
	     (unsigned long long)(dm->lat_n ? dm->lat_ns_sum / dm->lat_n / 1000 : 0),
	     (unsigned long long)dm->lat_ns_max / 1000, (unsigned long long)dm->lat_n);
	if (dm->cap.durable_n)
		dlog(LOG_P_INFO, "measurement to durable: p50 %u ms, p99 %u ms, max bucket %u ms (%llu records)",
		     capture_durable_percentile(&dm->cap, 50),
		     capture_durable_percentile(&dm->cap, 99),
		     capture_durable_percentile(&dm->cap, 100),
		     (unsigned long long)dm->cap.durable_n);
}
