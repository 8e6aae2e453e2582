// SPDX-License-Identifier: GPL-2.0-only
/*
 * imastored: moves IMA measurement records from the kernel's list into the
 * store and deletes them from the kernel (docs/trimming.md, docs/imastored.8.scd).
 * One thread; signals are blocked and read from a signalfd in the poll() that
 * waits between cycles, so a cycle is never interrupted half way.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "daemon/bootchain.h"
#include "daemon/capture.h"
#include "daemon/config.h"
#include "daemon/drain.h"
#include "daemon/kernel.h"
#include "daemon/log.h"
#include "daemon/notify.h"
#include "daemon/tail.h"
#include "kernel_ima.h"
#include "store.h"
#include "tail_format.h"
#include "view_serve.h"

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

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Every read of runtime_measurements_count goes through here: counted. */
static int read_count(struct daemon *dm, uint64_t *n, bool idle)
{
	if (idle)
		dm->idle_reads++;
	else
		dm->cycle_reads++;
	return kernel_count(n);
}

static void set_policy(struct daemon *dm)
{
	dm->pol.keep = dm->cfg.keep;
	dm->pol.trim_records = dm->cfg.trim_records;
	dm->pol.trim_bytes = dm->cfg.trim_bytes;
	dm->pol.mirror = dm->cfg.flavor == DFLAVOR_MIRROR || dm->ki.mode == KMODE_MIRROR;
	dlog_set_level(dm->cfg.log_level);
}

/* Who holds the store: the lock file holds the writer's pid. */
static void log_store_holder(const char *dir)
{
	char path[PATH_MAX], pid[32] = "?";
	FILE *f;

	snprintf(path, sizeof(path), "%s/lock", dir);
	f = fopen(path, "re");
	if (f) {
		if (fgets(pid, sizeof(pid), f))
			pid[strcspn(pid, "\n")] = '\0';
		fclose(f);
	}
	dlog(LOG_P_ERR, "%s is in use by another writer (pid %s): only one imastored may trim",
	     dir, pid);
}

static int detect(struct daemon *dm)
{
	struct errmsg em = { "" };
	int ret = kernel_detect(dm->cfg.bank, &dm->ki, &em);

	if (ret) {
		dlog(LOG_P_ERR, "%s", errmsg_text(&em));
		return ret;
	}
	if (dm->cfg.flavor == DFLAVOR_N && dm->ki.mode == KMODE_MIRROR) {
		dlog(LOG_P_ERR, "flavor N asked for, but this kernel cannot delete records (lists are read-only)");
		return -EOPNOTSUPP;
	}
	if (dm->cfg.flavor == DFLAVOR_AD && dm->ki.mode != KMODE_AD &&
	    dm->ki.mode != KMODE_AD_ONLY) {
		dlog(LOG_P_ERR, "flavor AD asked for, but this kernel has no _staged files (CONFIG_IMA_STAGING)");
		return -EOPNOTSUPP;
	}
	set_policy(dm);
	dlog(LOG_P_NOTICE, "kernel mode %s, bank %s (%s): %s", kmode_name(dm->ki.mode),
	     dm->ki.bank->name, dm->ki.list,
	     dm->pol.mirror ? "mirror: stores every record, deletes nothing" :
	     dm->ki.mode == KMODE_AD_ONLY || dm->cfg.flavor == DFLAVOR_AD ?
			      "A/D: stages the list, stores it, then deletes the batch" :
			      "N: stores records, then deletes them from the kernel");
	return 0;
}

/* The chain decides the bank once it exists (it may predate a --bank). */
static int follow_chain_bank(struct daemon *dm)
{
	const struct hash_alg *b = chain_meta(dm->c)->bank;

	if (b->tpm_id == dm->ki.bank->tpm_id)
		return 0;
	dlog(LOG_P_WARNING, "the chain stores bank %s: reading that bank, not %s",
	     b->name, dm->ki.bank->name);
	dm->ki.bank = b;
	return ima_kernel_list_path(b, dm->ki.list, sizeof(dm->ki.list));
}

static int setup(struct daemon *dm)
{
	unsigned flags = STORE_WRITE | STORE_CREATE | (dm->cfg.insecure ? STORE_INSECURE : 0);
	struct errmsg em = { "" };
	int ret;

	ret = detect(dm);
	if (ret)
		return ret;
	ret = store_open(&dm->s, dm->cfg.store, flags, &em);
	if (ret == -EBUSY) {
		log_store_holder(dm->cfg.store);
		return ret;
	}
	if (!ret)
		ret = store_current_boot(dm->boot, sizeof(dm->boot), &em);
	if (!ret)
		ret = boot_chain_open(dm->s, &dm->ki, dm->boot, &dm->c, &em);
	if (ret) {
		dlog(LOG_P_ERR, "%s", errmsg_text(&em));
		return ret;
	}
	ret = follow_chain_bank(dm);
	if (ret) {
		dlog(LOG_P_ERR, "the kernel has no list for the chain's bank %s", dm->ki.bank->name);
		return ret;
	}
	drain_init(&dm->d, dm->c, dm->boot, &dm->ki, boot_chain_list_bank(dm->c));
	if (dm->cfg.flavor == DFLAVOR_AD)
		dm->d.use_ad = true;
	dlog(LOG_P_INFO, "store %s, chain %s: %llu records", dm->cfg.store,
	     chain_meta(dm->c)->chain, (unsigned long long)chain_durable(dm->c));
	return 0;
}

static void note_drain_start(struct daemon *dm, uint64_t t0)
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
static void status_extra(struct daemon *dm)
{
	snprintf(dm->d.status_extra, sizeof(dm->d.status_extra),
		 "wakeup=%s\nbpf_records_lost=%llu\ntail_consumers=%u\ntail_dropped=%llu\n",
		 dm->have_cap ? "bpf" : "polling",
		 (unsigned long long)(dm->have_cap ? capture_lost(&dm->cap) : 0),
		 dm->tail.lfd >= 0 ? dm->tail.ncl : 0, (unsigned long long)dm->tail.dropped);
}

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
	status_extra(dm);
	t0 = capture_now_ns();
	if (dm->have_cap)
		note_drain_start(dm, t0);
	ret = drain_cycle(&dm->d, &dm->pol, &st, &em);
	dm->last_cycle_ms = now_ms();
	dm->have_count = !read_count(dm, &dm->count_after, false);
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

/* Is there work: the kernel list reached the trim threshold, or changed? */
static bool want_cycle(struct daemon *dm)
{
	bool due = now_ms() - dm->last_cycle_ms >= dm->cfg.interval_ms;
	bool trims = !dm->pol.mirror && !dm->d.foreign && !dm->d.no_n;
	uint64_t n;

	if (read_count(dm, &n, true))
		return due;
	if (trims && n >= drain_threshold(&dm->pol))
		return true;
	if (trims && dm->pol.trim_bytes && n * dm->rec_bytes >= dm->pol.trim_bytes)
		return true;
	return due && (!dm->have_count || n != dm->count_after);
}

static uint32_t wake_every(const struct daemon *dm);

static void reload(struct daemon *dm)
{
	struct dconfig nc;
	struct errmsg em = { "" };

	if (dconfig_load(&nc, dm->argc, dm->argv, &em)) {
		dlog(LOG_P_ERR, "reload: %s; keeping the old configuration", errmsg_text(&em));
		return;
	}
	if (strcmp(nc.store, dm->cfg.store) || strcmp(nc.bank, dm->cfg.bank) ||
	    nc.flavor != dm->cfg.flavor || nc.bpf != dm->cfg.bpf ||
	    nc.ringbuf_size != dm->cfg.ringbuf_size || strcmp(nc.tail_socket, dm->cfg.tail_socket))
		dlog(LOG_P_WARNING, "reload: store, bank, flavor, the BPF settings and tail_socket change only at a restart");
	snprintf(nc.store, sizeof(nc.store), "%s", dm->cfg.store);
	snprintf(nc.bank, sizeof(nc.bank), "%s", dm->cfg.bank);
	nc.flavor = dm->cfg.flavor;
	snprintf(nc.tail_socket, sizeof(nc.tail_socket), "%s", dm->cfg.tail_socket);
	snprintf(nc.view, sizeof(nc.view), "%s", dm->cfg.view);	/* at a restart only */
	dm->cfg = nc;
	set_policy(dm);
	if (dm->have_cap)
		capture_set_wake_every(&dm->cap, wake_every(dm));
	dlog(LOG_P_NOTICE, "configuration reloaded: interval %u ms, latency %u ms, trim at %llu records, keep %llu",
	     nc.interval_ms, nc.latency_ms, (unsigned long long)nc.trim_records,
	     (unsigned long long)nc.keep);
}

static void take_signal(struct daemon *dm, int sig)
{
	if (sig == SIGTERM || sig == SIGINT) {
		dlog(LOG_P_NOTICE, "signal %d: stopping", sig);
		dm->stop = true;
	} else if (sig == SIGHUP) {
		notify("RELOADING=1");
		reload(dm);
		notify("READY=1");
	}
}

/*
 * With BPF the records counted since the last drain stand in for
 * runtime_measurements_count: the same rules as want_cycle(), without a
 * securityfs read. count_after was read right after the last cycle.
 */
static bool bpf_want_cycle(struct daemon *dm)
{
	bool trims = !dm->pol.mirror && !dm->d.foreign && !dm->d.no_n;
	uint64_t pending = dm->cap.pending, n = dm->count_after + pending;

	if (!pending)
		return false;
	if (!dm->have_count)
		return true;
	if (trims && n >= drain_threshold(&dm->pol))
		return true;
	if (trims && dm->pol.trim_bytes && n * dm->rec_bytes >= dm->pol.trim_bytes)
		return true;
	return now_ms() - dm->last_cycle_ms >= dm->cfg.interval_ms;
}

/* Idle: no timer at all; with records waiting: until the interval is due. */
static int bpf_timeout(struct daemon *dm)
{
	uint64_t since = now_ms() - dm->last_cycle_ms;

	if (!dm->cap.pending)
		return -1;
	return since >= dm->cfg.interval_ms ? 0 : (int)(dm->cfg.interval_ms - since);
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
		if (bpf_want_cycle(dm) || dm->view_wants)
			return;
		/*
		 * Idle, or someone follows the live stream: the next record wakes
		 * us. Else records batch until the trim threshold or interval.
		 */
		if (!dm->cap.pending || tail_following(&dm->tail))
			capture_arm(&dm->cap);
		wait_fds(dm, bpf_timeout(dm));
	}
}

/* Check for work every `latency` until there is some, or a signal. */
static void wait_for_work(struct daemon *dm)
{
	uint64_t next = now_ms() + dm->cfg.latency_ms, now;

	if (dm->have_cap) {
		wait_bpf(dm);
		return;
	}
	while (!dm->stop && !dm->view_wants) {
		now = now_ms();
		if (now >= next) {
			if (want_cycle(dm))
				return;
			next = now + dm->cfg.latency_ms;
			continue;
		}
		wait_fds(dm, (int)(next - now));
	}
}

/* The trim threshold is seen within this many records (1/8 of it). */
static uint32_t wake_every(const struct daemon *dm)
{
	uint64_t k = dm->cfg.trim_records / 8;

	return k < 1 ? 1 : k > UINT32_MAX ? UINT32_MAX : (uint32_t)k;
}

/* Attached before the first cycle, so that cycle covers what came before. */
static void start_capture(struct daemon *dm)
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
	if (!capture_open(&dm->cap, dm->cfg.ringbuf_size, wake_every(dm), dump, &em)) {
		dm->have_cap = true;
		dlog(LOG_P_NOTICE, "BPF wake-up: fexit on ima_add_template_entry, ring buffer %llu bytes; no polling while idle",
		     (unsigned long long)dm->cfg.ringbuf_size);
		return;
	}
	dlog(LOG_P_NOTICE, "BPF wake-up unavailable (%s): polling runtime_measurements_count every %u ms",
	     errmsg_text(&em), dm->cfg.latency_ms);
}

static void tail_send(struct daemon *dm, const struct tail_meta *m,
		      const struct ima_record *rec, const struct hash_alg *bank)
{
	struct errmsg em = { "" };

	if (tail_format(m, rec, bank, dm->tail_json, dm->tail_text, &em)) {
		if (!dm->tail_bad++)
			dlog(LOG_P_WARNING, "tail: %s (not streamed; the store is not affected)",
			     errmsg_text(&em));
		return;
	}
	tail_publish(&dm->tail, dm->tail_json, dm->tail_text);
}

/* A record from the ring buffer, dated by the kernel's clock. */
static void tail_from_ring(void *ctx, const struct imacapture_rec *r)
{
	struct daemon *dm = ctx;
	uint8_t buf[TAIL_VIEW_BUF];
	const struct hash_alg *bank;
	struct ima_record rec;
	struct tail_meta m;
	struct errmsg em = { "" };

	if (tail_view_capture(r, dm->d.custom_name[0] ? dm->d.custom_name : NULL, buf, &rec,
			      &bank, &m, &em)) {
		if (!dm->tail_bad++)
			dlog(LOG_P_WARNING, "tail: %s (not streamed)", errmsg_text(&em));
		return;
	}
	m.time_ns = r->ktime_ns + (uint64_t)tail_realtime_offset_ns();
	tail_send(dm, &m, &rec, bank);
}

/* Without BPF: each record as a drain stores it, dated now. */
static void tail_from_drain(void *ctx, const struct ima_record *rec,
			    const struct hash_alg *bank)
{
	struct daemon *dm = ctx;
	struct timespec ts;
	struct tail_meta m = {
		.seq = rec->index,
		.from_list = true,
		.template_data_len = rec->data_len,
	};

	clock_gettime(CLOCK_REALTIME, &ts);
	m.time_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	tail_send(dm, &m, rec, bank);
}

/* After start_capture(): the source is the ring buffer, else the drains. */
static void start_tail(struct daemon *dm)
{
	struct errmsg em = { "" };

	dm->tail.lfd = -1;
	if (dm->cfg.once || !dm->cfg.tail_socket[0])
		return;
	if (tail_open(&dm->tail, dm->cfg.tail_socket, dm->have_cap ? "bpf" : "list", &em)) {
		dlog(LOG_P_WARNING, "live stream off: %s", errmsg_text(&em));
		return;
	}
	if (dm->have_cap) {
		dm->cap.on_rec = tail_from_ring;
		dm->cap.on_rec_ctx = dm;
	} else {
		dm->d.on_append = tail_from_drain;
		dm->d.on_append_ctx = dm;
	}
	dlog(LOG_P_INFO, "live stream on %s (records from the %s)", dm->cfg.tail_socket,
	     dm->have_cap ? "ring buffer" : "list, as each cycle stores them");
}

static void log_bpf_stats(struct daemon *dm)
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

static void stop_capture(struct daemon *dm)
{
	dlog(LOG_P_INFO, "securityfs: %llu reads of runtime_measurements_count while waiting, %llu after cycles; %llu cycles (%s)",
	     (unsigned long long)dm->idle_reads, (unsigned long long)dm->cycle_reads,
	     (unsigned long long)dm->cycles, dm->have_cap ? "bpf" : "polling");
	if (!dm->have_cap)
		return;
	capture_consume(&dm->cap);
	log_bpf_stats(dm);
	capture_close(&dm->cap);
	dm->have_cap = false;
}

/* ---- the view (docs/view.md) ---- */

static void view_note(void *arg, int prio, const char *msg)
{
	(void)arg;
	dlog(prio, "%s", msg);
}

/* After the first cycle (the boot's chain exists); runs on without it. */
static void start_view(struct daemon *dm)
{
	struct view_opts vo = {
		.store_dir = dm->cfg.store,
		.store_flags = dm->cfg.insecure ? STORE_INSECURE : 0,
		.boot = dm->boot,
		.mountpoint = dm->cfg.view,
		.create_mountpoint = true,
		.note = view_note,
	};
	struct errmsg em = { "" };
	int ret;

	if (dm->cfg.once || !dm->cfg.view[0])
		return;
	ret = view_server_start(&dm->view, &vo, &em);
	if (ret) {
		dm->view = NULL;
		dlog(ret == -ENODEV ? LOG_P_NOTICE : LOG_P_WARNING, "view off: %s", errmsg_text(&em));
		return;
	}
	dlog(LOG_P_INFO, "view: the complete list of chain %s as files in %s (reads at the end wait for a cycle)",
	     chain_meta(dm->d.c)->chain, dm->cfg.view);
}

/* A cycle; readers of the view that asked before it get its result. */
static int view_cycle(struct daemon *dm)
{
	uint64_t t = 0;
	int ret;

	dm->view_wants = false;
	if (dm->view)
		t = view_server_begin(dm->view);
	ret = run_cycle(dm);
	if (dm->view)
		view_server_end(dm->view, t, ret, chain_meta(dm->d.c)->chain);
	return ret;
}

static void stop_view(struct daemon *dm)
{
	struct view_server_counts vc;

	if (!dm->view)
		return;
	view_server_counts(dm->view, &vc);
	dlog(LOG_P_INFO, "view: %llu opens, %llu reads, %llu bytes, %llu errors; %llu reads at the end waited for %llu cycles; list opens that met EBUSY: %llu",
	     (unsigned long long)vc.fs.opens, (unsigned long long)vc.fs.reads,
	     (unsigned long long)vc.fs.bytes, (unsigned long long)vc.fs.errors,
	     (unsigned long long)vc.asked, (unsigned long long)vc.cycles,
	     (unsigned long long)kernel_busy_opens);
	view_server_stop(dm->view);
	dm->view = NULL;
}

/* ---- end of the view ---- */

static int loop(struct daemon *dm)
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
	start_capture(dm);
	start_tail(dm);
	ret = run_cycle(dm);
	start_view(dm);
	notify("READY=1");
	while (!dm->cfg.once && !dm->stop) {
		wait_for_work(dm);
		if (!dm->stop)
			view_cycle(dm);
	}
	stop_view(dm);
	if (dm->cycles)
		dlog(LOG_P_INFO, "%llu cycles, %llu us per cycle on average",
		     (unsigned long long)dm->cycles,
		     (unsigned long long)(dm->cycle_us / dm->cycles));
	if (!dm->cfg.once) {
		/* what the ring still holds goes to the followers before "end" */
		if (dm->have_cap)
			capture_consume(&dm->cap);
		tail_close(&dm->tail);
		if (dm->tail_bad)
			dlog(LOG_P_WARNING, "tail: %llu records could not be formatted",
			     (unsigned long long)dm->tail_bad);
		stop_capture(dm);
		close(dm->sigfd);
	}
	return dm->cfg.once ? ret : 0;
}

int main(int argc, char **argv)
{
	static struct daemon dm;	/* large (config paths, chain state) */
	struct errmsg em = { "" };
	int ret;

	dm.argc = argc;
	dm.argv = argv;
	dm.sigfd = -1;
	dm.tail.lfd = -1;
	ret = dconfig_load(&dm.cfg, argc, argv, &em);
	if (ret) {
		if (ret < 0)
			dlog(LOG_P_ERR, "%s", errmsg_text(&em));
		return ret < 0 ? 2 : 0;
	}
	dlog_set_level(dm.cfg.log_level);
	sigemptyset(&dm.sigs);
	sigaddset(&dm.sigs, SIGTERM);
	sigaddset(&dm.sigs, SIGINT);
	sigaddset(&dm.sigs, SIGHUP);
	sigprocmask(SIG_BLOCK, &dm.sigs, NULL);
	ret = setup(&dm);
	if (!ret && !dm.cfg.foreground && !dm.cfg.once) {
		if (daemon(0, 1)) {
			dlog(LOG_P_ERR, "daemon: %s", strerror(errno));
			ret = -errno;
		} else {
			store_lock_note_pid(dm.s);	/* the lock names the daemon, not its parent */
		}
	}
	if (!ret)
		ret = loop(&dm);
	notify("STOPPING=1");
	drain_free(&dm.d);
	chain_close(dm.c);
	store_close(dm.s);
	return ret ? 1 : 0;
}
