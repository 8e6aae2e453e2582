// SPDX-License-Identifier: GPL-2.0-only
/* The daemon's loop: a cycle (drain_cycle()), its log and notify lines; wait; again until a signal. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "clock.h"
#include "daemon.h"
#include "log.h"
#include "notify.h"

static int run_cycle(struct daemon *dm)
{
	struct drain_stats st;
	struct errmsg em = { "" };
	char status[160];
	uint64_t t0;
	int ret;

	/* consumed first: what arrives later is dated after t0 and stays pending */
	if (dm->have_cap)
		capture_consume(&dm->cap);
	stats_status_extra(dm);
	t0 = mono_ns();
	if (dm->have_cap)
		stats_drain_start(dm, t0);
	ret = drain_cycle(&dm->d, &dm->pol, &st, &em);
	dm->last_cycle_ms = mono_ms();
	dm->have_count = !stats_read_count(dm, &dm->count_after, false);
	/* records measured before t0 were in the list this cycle read */
	if (dm->have_cap && !ret)
		capture_drained(&dm->cap, t0);
	if (st.kernel_records)
		dm->rec_bytes = st.list_bytes / st.kernel_records;
	if (ret) {
		dlog(ret == -EBUSY ? LOG_P_WARNING : LOG_P_ERR, "cycle: %s%s", errmsg_text(&em),
		     ret == -EBUSY ? " (retrying next cycle)" : "");
		return ret;
	}
	dm->cycles++;
	dm->cycle_us += st.window_us;
	dlog(st.appended || st.deleted ? LOG_P_INFO : LOG_P_DEBUG,
	     "cycle: kernel %llu records (%llu bytes), stored %llu new (%llu in all), deleted %llu, window %llu.%03llu ms",
	     (unsigned long long)st.kernel_records, (unsigned long long)st.list_bytes,
	     (unsigned long long)st.appended, (unsigned long long)st.durable,
	     (unsigned long long)st.deleted, (unsigned long long)st.window_us / 1000,
	     (unsigned long long)st.window_us % 1000);
	snprintf(status, sizeof(status), "STATUS=%llu records stored, %llu in the kernel%s",
		 (unsigned long long)st.durable,
		 (unsigned long long)(st.kernel_records - st.deleted),
		 dm->d.foreign ? ", FOREIGN TRIMMER seen: not deleting" : "");
	notify(status);
	return 0;
}

int daemon_loop(struct daemon *dm)
{
	int ret;

	if (!dm->cfg.once) {
		/* poll() takes signals too, next to the ring buffer and sockets */
		dm->sigfd = signalfd(-1, &dm->sigs, SFD_CLOEXEC | SFD_NONBLOCK);
		if (dm->sigfd < 0) {
			dlog(LOG_P_ERR, "signalfd: %s", strerror(errno));
			return -errno;
		}
	}
	wakeup_start(dm);
	stream_start(dm);
	ret = run_cycle(dm);
	daemon_view_start(dm);
	notify("READY=1");
	while (!dm->cfg.once && !dm->stop) {
		wait_for_work(dm);
		if (!dm->stop)
			daemon_view_cycle(dm, run_cycle);
	}
	daemon_view_stop(dm);
	stats_log_cycles(dm);
	if (!dm->cfg.once) {
		/* what the ring still holds goes to the followers before "end" */
		if (dm->have_cap)
			capture_consume(&dm->cap);
		stream_stop(dm);
		wakeup_stop(dm);
		close(dm->sigfd);
	}
	return dm->cfg.once ? ret : 0;
}
