// SPDX-License-Identifier: GPL-2.0-only
/* The live stream's feed: records from the ring buffer, else from each drain, formatted for the tail server. */
#include "clock.h"
#include "daemon.h"
#include "log.h"

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
	struct tail_meta m = {
		.seq = rec->index,
		.from_list = true,
		.template_data_len = rec->data_len,
	};

	m.time_ns = real_ns();
	tail_send(dm, &m, rec, bank);
}

/* After start_capture(): the source is the ring buffer, else the drains. */
void stream_start(struct daemon *dm)
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

/* Followers get what is queued and "end"; then the server closes. */
void stream_stop(struct daemon *dm)
{
	tail_close(&dm->tail);
	if (dm->tail_bad)
		dlog(LOG_P_WARNING, "tail: %llu records could not be formatted",
		     (unsigned long long)dm->tail_bad);
}
