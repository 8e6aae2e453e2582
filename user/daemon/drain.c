// SPDX-License-Identifier: GPL-2.0-only
/*
 * The drain cycle, what every mode shares: a writer window's read,
 * placement, storing, the checkpoint and `intended` before a deletion, the
 * status file; the modes are drain_n.c (trimming.md §4), drain_ad.c (§5)
 * and drain_mirror.c. The order of the steps is the protocol: nothing is
 * deleted from the kernel unless placement (§3, placement.c) accepted the
 * list in this writer window, the records are durable in the store and were
 * compared byte for byte, and a trims.log `intended` entry covers them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bootchain.h"
#include "chain_replay.h"
#include "clock.h"
#include "drain.h"
#include "drain_int.h"
#include "klist.h"
#include "log.h"
#include "securityfs.h"
#include "store_io.h"
#include "template.h"

/* PCR reads per placement before the TPM's word is taken as a no. */
#define PLACE_TPM_READS 3

void drain_init(struct drain *d, struct chain *c, const char *boot_id,
		const struct kernel_info *ki, const struct hash_alg *list_bank)
{
	const char *origin = chain_meta(c)->origin;

	memset(d, 0, sizeof(*d));
	d->c = c;
	d->boot_id = boot_id;
	d->ki = *ki;
	d->list_bank = list_bank;
	d->use_ad = ki->mode == KMODE_AD_ONLY;
	/*
	 * A chain that does not start from reset PCRs cannot be confirmed by
	 * them: headless ones, and unlinked ones that came after lost records
	 * (an unlinked chain without after= starts with a boot_aggregate at 0).
	 */
	d->linked = strcmp(origin, "headless") &&
		    (strcmp(origin, "unlinked") || !chain_meta(c)->after[0]);
	snprintf(d->placement, sizeof(d->placement), "none");
	{
		uint64_t v;

		d->violations_start = kernel_violations(&v) ? -1 : (int64_t)v;
	}
}

/* A field of the record names a path inside the store. */
static bool names_store(const struct drain *d, const struct ima_record *rec)
{
	struct field_view f[TEMPLATE_FIELDS_MAX];
	const char *dir = store_dir(chain_store(d->c));
	size_t dl = strlen(dir);
	int n = template_split(rec, f, TEMPLATE_FIELDS_MAX, NULL);

	for (int i = 0; i < n; i++)
		if (f[i].len > dl && !memcmp(f[i].data, dir, dl) &&
		    (f[i].data[dl] == '/' || f[i].data[dl] == '\0'))
			return true;
	return false;
}

void drain_free(struct drain *d)
{
	replay_free(d->stored);
	d->stored = NULL;
	if (d->own_chain)
		chain_close(d->c);
}

uint64_t drain_threshold(const struct drain_policy *p)
{
	return p->keep > UINT64_MAX - p->trim_records ? UINT64_MAX : p->keep + p->trim_records;
}

static enum list_endian chain_endian(const struct drain *d)
{
	return chain_meta(d->c)->little_endian ? LIST_ENDIAN_LITTLE : LIST_ENDIAN_BIG;
}

void window_init(struct drain *d, struct window *w)
{
	memset(w, 0, sizeof(*w));
	w->list_fd = w->staged_fd = -1;
	klist_init(&w->kl, d->ki.list, d->list_bank->size, chain_endian(d));
}

void window_close(struct window *w)
{
	if (w->list_fd >= 0)
		close(w->list_fd);
	if (w->staged_fd >= 0)
		close(w->staged_fd);
	klist_free(&w->kl);
}

/* (Re)read the window's list: the staged batch first, then the current list. */
int window_read(struct drain *d, struct window *w, off_t from, struct errmsg *em)
{
	int ret = 0;

	klist_free(&w->kl);
	klist_init(&w->kl, d->ki.list, d->list_bank->size, chain_endian(d));
	w->nb = 0;
	if (w->staged_fd >= 0) {
		ret = klist_read(&w->kl, w->staged_fd, 0, em);
		w->nb = w->kl.n;
	}
	if (!ret && w->list_fd >= 0)
		ret = klist_read(&w->kl, w->list_fd, from, em);
	return ret;
}

bool same(const struct klist *kl, size_t i, const struct ima_record *s)
{
	return s->raw_len == kl->rec[i].len &&
	       !memcmp(s->raw, kl->buf + kl->rec[i].off, s->raw_len);
}

/* trimming.md §6: log it once, keep storing, never delete again. */
void foreign(struct drain *d, const char *why)
{
	uint64_t count = 0;

	if (kernel_count(&count))
		count = 0;
	if (!d->foreign)
		dlog(LOG_P_ERR, "foreign trimmer: %s; the kernel holds %llu records; no more deletion until restart",
		     why, (unsigned long long)count);
	d->foreign = true;
}

void drain_note_foreign(struct drain *d, const char *why)
{
	foreign(d, why);
}

/* The TPM's PCRs, once a TPM answered; -ENODEV: none (remembered). */
static int read_tpm(struct drain *d, struct pcr_set *pcrs, struct errmsg *em)
{
	struct errmsg tem = { "" };
	int ret;

	if (d->tpm == TPM_NO || !d->linked || !kernel_ops->read_pcrs)
		return -ENODEV;
	ret = kernel_ops->read_pcrs(1u << 10, pcrs, &tem);
	if (ret == -ENODEV && d->tpm == TPM_UNKNOWN) {
		dlog(LOG_P_NOTICE, "no TPM (%s): placement uses the store's evidence only (trimming.md §3)",
		     errmsg_text(&tem));
		d->tpm = TPM_NO;
		return ret;
	}
	if (ret)
		return errmsg_set(em, ret, "TPM: %s", errmsg_text(&tem));
	d->tpm = TPM_YES;
	return 0;
}

/* The replay of the durable records, kept in step with the chain. */
static int stored_replay(struct drain *d, struct errmsg *em)
{
	if (d->stored && replay_state(d->stored)->next_index == chain_durable(d->c))
		return 0;
	replay_free(d->stored);
	d->stored = NULL;
	return chain_replay_stored_bank(d->c, chain_durable(d->c), &d->stored, em);
}

/* Extend the replay by the records just committed (kl from `i0` = index S0). */
static void stored_advance(struct drain *d, const struct klist *kl, size_t i0,
			   uint64_t s0)
{
	struct ima_record rec;
	struct errmsg em = { "" };

	if (!d->stored || replay_state(d->stored)->next_index != s0)
		return;
	for (size_t i = i0; i < kl->n; i++) {
		if (klist_parse(kl, i, &rec, NULL) ||
		    (rec.index = s0 + (i - i0), replay_extend(d->stored, &rec, d->list_bank, 0, &em))) {
			replay_free(d->stored);	/* rebuilt from the store when next needed */
			d->stored = NULL;
			return;
		}
	}
}

static void note_placement(struct drain *d, int level, const char *word, const char *why)
{
	snprintf(d->placement, sizeof(d->placement), "%s", word);
	if (strcmp(why, d->last_why))
		dlog(level, "placement: %s", why);
	snprintf(d->last_why, sizeof(d->last_why), "%s", why);
}

/*
 * §3.2.4: the list starts beyond the store's end. The rest of the boot goes
 * to a new chain, not linked to this one; the loss is reported.
 */
static int go_unlinked(struct drain *d, const char *why, struct errmsg *em)
{
	struct chain *nc = NULL;
	uint64_t end = chain_durable(d->c);
	int ret;

	snprintf(d->lost, sizeof(d->lost), "after record %llu of chain %s (count unknown)",
		 (unsigned long long)end ? (unsigned long long)end - 1 : 0,
		 chain_meta(d->c)->chain);
	foreign(d, why);
	ret = boot_chain_unlinked(chain_store(d->c), d->c, d->boot_id, &nc, em);
	if (ret)
		return ret;
	dlog(LOG_P_ERR, "records after %llu of chain %s were deleted before they were stored; the rest of boot %s goes to chain %s (not linked)",
	     (unsigned long long)end, chain_meta(d->c)->chain, d->boot_id, chain_meta(nc)->chain);
	if (d->own_chain)
		chain_close(d->c);
	d->c = nc;
	d->own_chain = true;
	d->linked = false;
	replay_free(d->stored);
	d->stored = NULL;
	d->k = 0;
	d->k_known = true;
	d->evidence = 0;
	return 0;
}

/* Settle an unfinished trim or a foreign deletion in trims.log. */
static int settle(struct drain *d, const struct placement *pl, struct errmsg *em)
{
	uint64_t exp, alt;
	int ret = place_candidates(d->c, d->boot_id, &exp, &alt, em);

	if (ret)
		return ret;
	if (alt == UINT64_MAX && exp == pl->k)
		return 0;
	return chain_trim_write(d->c, d->boot_id, pl->k, TRIM_DONE, em);
}

/*
 * §3.2: where the window's list sits. 1 placed (d->k), 0 not (ambiguous:
 * store and delete nothing this window), < 0 error.
 */
static int place(struct drain *d, struct window *w, struct errmsg *em)
{
	struct kernel_head kh;
	struct placement pl;
	struct place_tpm t = { 0 };
	struct pcr_set pcrs;
	char ev[48];
	int ret = 0;

	klist_head(&w->kl, &kh);
	/*
	 * The PCRs are read after the list; when they lead it (records added
	 * meanwhile), the list is read again: the PCR read then lies between
	 * two reads (§3.1.3). A PCR caught mid-extend is read again.
	 */
	for (int attempt = 0; attempt < PLACE_TPM_READS; attempt++) {
		size_t n0 = w->kl.n;
		bool tpm;

		ret = read_tpm(d, &pcrs, em);
		tpm = !ret;
		if (tpm) {
			ret = stored_replay(d, em);
			t.pcrs = &pcrs;
			t.more = 0;
		} else if (ret == -ENODEV) {
			ret = 0;
		}
		if (!ret)
			ret = place_in_chain(d->c, d->boot_id, &kh, tpm ? &t : NULL,
					     tpm ? replay_state(d->stored) : NULL, &pl, em);
		if (ret || !tpm || (pl.result == PLACE_FOUND && !pl.tpm_disagrees))
			break;
		ret = window_read(d, w, 0, em);
		t.more = w->kl.n > n0 ? w->kl.n - n0 : 0;
		if (!ret)
			ret = place_in_chain(d->c, d->boot_id, &kh, &t, replay_state(d->stored),
					     &pl, em);
		if (ret || (pl.result == PLACE_FOUND && !pl.tpm_disagrees))
			break;
	}
	if (ret)
		return ret;
	d->tpm_disagrees = pl.result == PLACE_FOUND && pl.tpm_disagrees;
	switch (pl.result) {
	case PLACE_FOUND:
		place_evidence_text(pl.evidence, ev, sizeof(ev));
		if (pl.tpm_disagrees)
			note_placement(d, LOG_P_WARNING, "tpm-disagrees", pl.why);
		else
			note_placement(d, LOG_P_DEBUG, ev, ev);
		if (pl.foreign)
			foreign(d, pl.why);
		ret = settle(d, &pl, em);
		if (ret)
			return ret;
		d->k = pl.k;
		d->k_known = true;
		d->evidence = pl.evidence;
		return 1;
	case PLACE_AMBIGUOUS:
		note_placement(d, LOG_P_WARNING, "ambiguous", pl.why);
		if (pl.foreign)
			foreign(d, pl.why);
		return 0;
	case PLACE_BEYOND:
		note_placement(d, LOG_P_ERR, "beyond", pl.why);
		ret = go_unlinked(d, pl.why, em);
		return ret ? ret : 1;
	}
	return -EINVAL;
}

/* Names repeat: only a name unlike the last one is looked up. */
static void note_template(struct drain *d, const struct ima_record *rec, char *last)
{
	struct template_desc desc;

	if (!strcmp(rec->name, last))
		return;
	snprintf(last, IMA_TEMPLATE_NAME_MAX + 1, "%s", rec->name);
	if (template_builtin(rec->name, &desc))
		snprintf(d->custom_name, sizeof(d->custom_name), "%s", rec->name);
}

static int append_new(struct drain *d, const struct klist *kl, uint64_t *added,
		      struct errmsg *em)
{
	uint64_t end = chain_durable(d->c);
	char last[IMA_TEMPLATE_NAME_MAX + 1] = "";
	struct ima_record rec;
	int ret;

	*added = 0;
	/* once: the records already stored may be the only ones that name it */
	for (size_t i = 0; !d->names_seen && i < kl->n && !d->custom_name[0]; i++)
		if (!klist_parse(kl, i, &rec, NULL))
			note_template(d, &rec, last);
	d->names_seen = true;
	for (size_t i = end > d->k ? end - d->k : 0; i < kl->n; i++) {
		ret = klist_parse(kl, i, &rec, em);
		if (!ret)
			ret = chain_append(d->c, &rec, em);
		if (ret)
			return ret;
		(*added)++;
		d->self_records += names_store(d, &rec);
		note_template(d, &rec, last);
		if (d->on_append) {
			rec.index = d->k + i;
			d->on_append(d->on_append_ctx, &rec, d->list_bank);
		}
	}
	return 0;
}

/* Placed: append what is new, commit, keep the replay in step. */
static int store_new(struct drain *d, const struct klist *kl, uint64_t *added,
		     struct errmsg *em)
{
	uint64_t s0 = chain_durable(d->c);
	size_t i0 = s0 > d->k ? (size_t)(s0 - d->k) : 0;
	int ret;

	ret = append_new(d, kl, added, em);
	io_failpoint("after-append");
	if (!ret)
		ret = chain_commit(d->c, em);
	if (!ret && *added)
		stored_advance(d, kl, i0, s0);
	return ret;
}

/*
 * May this window delete? Only after a placement whose evidence is strong
 * (§3.2.6): the TPM, an anchored overlap, or nothing to overlap (all new).
 */
bool may_delete(const struct drain *d)
{
	if (d->foreign || d->no_n || d->tpm_disagrees)
		return false;
	return d->evidence & (PLACE_EV_TPM | PLACE_EV_ANCHORED) ||
	       !(d->evidence & PLACE_EV_OVERLAP);
}

/*
 * Before any deletion (§4.6, §5.4): a checkpoint of the records about to
 * leave the kernel, then the `intended` entry that covers them.
 */
static int before_delete(struct drain *d, uint64_t kept, struct errmsg *em)
{
	struct replay *rp = NULL;
	int ret;

	ret = chain_replay(d->c, kept, false, true, &rp, em);
	replay_free(rp);
	if (!ret)
		ret = chain_trim_write(d->c, d->boot_id, kept, TRIM_INTENDED, em);
	if (!ret)
		io_failpoint("after-intended");
	return ret;
}

/* The kernel confirmed a deletion: the head moved, then `done`. */
static int deleted(struct drain *d, uint64_t kept, uint64_t count, uint64_t *out,
		   struct errmsg *em)
{
	int ret;

	d->k = kept;
	*out = count;
	ret = chain_trim_write(d->c, d->boot_id, kept, TRIM_DONE, em);
	/* after `done`: what tests and logs may take as deleted for sure */
	if (!ret)
		dlog(LOG_P_NOTICE, "trimmed: boot %s chain %s: records %llu..%llu deleted from the kernel, first kept %llu",
		     d->boot_id, chain_meta(d->c)->chain, (unsigned long long)(kept - count),
		     (unsigned long long)kept - 1, (unsigned long long)kept);
	return ret;
}

int drain_delete(struct drain *d, int (*cmd)(int fd, uint64_t n), int fd,
		 uint64_t count, uint64_t *out, int *refused, struct errmsg *em)
{
	uint64_t kept = d->k + count;
	int ret = before_delete(d, kept, em);

	if (ret)
		return ret;
	*refused = cmd(fd, count);
	io_failpoint("after-trim-write");
	if (*refused)
		return 0;
	ret = deleted(d, kept, count, out, em);
	if (!ret)
		io_failpoint("after-done");
	return ret;
}

int window_open(const char *path, int flags, int *fd, struct errmsg *em)
{
	int ret = kernel_open_list(path, flags, 5000, fd, em);

	if (ret == -EBUSY)
		kernel_log_holders();
	return ret;
}

void window_stats(const struct drain *d, const struct window *w, uint64_t t0,
			 struct drain_stats *st)
{
	st->window_us = mono_us() - t0;
	st->kernel_records = w->kl.n;
	st->list_bytes = w->kl.len;
	st->durable = chain_durable(d->c);
}

/* Read, place, store; what the cycle then deletes is up to the flavor. */
int read_place_store(struct drain *d, struct window *w, struct drain_stats *st,
			    bool *placed, struct errmsg *em)
{
	int ret;

	*placed = false;
	ret = window_read(d, w, d->mpos ? d->moff : 0, em);
	if (ret || !w->kl.n)
		return ret;
	io_failpoint("after-read");
	ret = d->mpos ? mirror_check(d, w, em) : place(d, w, em);
	if (ret <= 0)
		return ret;
	*placed = true;
	return store_new(d, &w->kl, &st->appended, em);
}

/* The kernel has _staged files: a batch there heads the list, whoever staged it. */
static bool has_staged(const struct drain *d)
{
	return d->ki.mode == KMODE_AD || d->ki.mode == KMODE_AD_ONLY;
}

int list_window(struct drain *d, const struct drain_policy *p, int flags,
		struct drain_stats *st, window_fn *before, window_fn *then,
		struct errmsg *em)
{
	char staged[PATH_MAX + 8];
	struct window w;
	uint64_t t0;
	bool placed = false;
	int ret = 0;

	window_init(d, &w);
	/* a batch staged by anyone heads the list: every mode reads it (§4.1) */
	if (has_staged(d)) {
		ima_staged_path(d->ki.list, staged, sizeof(staged));
		ret = window_open(staged, flags, &w.staged_fd, em);
	}
	if (!ret)	/* the same thread may open more writer fds (kernel-interface §4) */
		ret = window_open(d->ki.list, flags, &w.list_fd, em);
	if (ret)
		goto out;
	t0 = mono_us();
	if (before)
		ret = before(d, p, &w, st, em);
	if (!ret)
		ret = read_place_store(d, &w, st, &placed, em);
	if (!ret && placed && w.nb && flags != O_RDONLY)
		ret = drain_free_batch(d, &w, st, em);
	else if (!ret && placed && then)
		ret = then(d, p, &w, st, em);
	window_stats(d, &w, t0, st);
out:
	window_close(&w);
	return ret;
}

enum drain_mode drain_mode(const struct drain *d, const struct drain_policy *p)
{
	if (p->mirror || d->ki.mode == KMODE_MIRROR)
		return DRAIN_MIRROR;
	return d->use_ad ? DRAIN_AD : DRAIN_N;
}

static int drain_once(struct drain *d, const struct drain_policy *p,
		      struct drain_stats *st, struct errmsg *em)
{
	memset(st, 0, sizeof(*st));
	switch (drain_mode(d, p)) {
	case DRAIN_AD:
		return drain_ad(d, p, st, em);
	case DRAIN_MIRROR:
		return drain_mirror(d, p, st, em);
	case DRAIN_N:
		break;
	}
	return drain_n(d, p, st, em);
}

/* What `imastore status` shows of the daemon (trimming.md §2, §3, §6). */
static void write_status(struct drain *d, const struct drain_policy *p,
			 const struct drain_stats *st, int ret,
			 const struct errmsg *em)
{
	char text[1600 + sizeof(d->status_extra)], viol[64] = "unknown";
	uint64_t v;

	d->deleted_total += st->deleted;
	if (d->violations_start >= 0 && !kernel_violations(&v))
		snprintf(viol, sizeof(viol), "%llu", (unsigned long long)(v - (uint64_t)d->violations_start));
	snprintf(text, sizeof(text),
		 "pid=%d\nmode=%s\nbank=%s\nchain=%s\nboot=%s\ntime=%llu\n"
		 "kernel_records=%llu\nkernel_first_index=%llu\nstored=%llu\n"
		 "deleted=%llu\ntrimming=%s\nforeign_trimmer=%s\nplacement=%s\n"
		 "tpm=%s\nlost=%s\nself_records=%llu\nviolations_since_start=%s\n"
		 "last_error=%s\n",
		 (int)getpid(), kmode_name(d->ki.mode), d->list_bank->name,
		 chain_meta(d->c)->chain, d->boot_id, (unsigned long long)time(NULL),
		 (unsigned long long)st->kernel_records,
		 (unsigned long long)(d->k_known ? d->k : 0),
		 (unsigned long long)chain_durable(d->c),
		 (unsigned long long)d->deleted_total,
		 p->mirror || d->ki.mode == KMODE_MIRROR ? "off (mirror)" :
		 d->foreign ? "off (foreign trimmer)" : d->no_n ? "off (N refused)" : "on",
		 d->foreign ? "yes" : "no", d->placement,
		 d->tpm == TPM_YES ? "yes" : d->tpm == TPM_NO ? "no" : d->linked ? "unknown" : "unused (chain not linked)",
		 d->lost, (unsigned long long)d->self_records, viol, ret ? errmsg_text(em) : "");
	strncat(text, d->status_extra, sizeof(text) - strlen(text) - 1);
	store_status_write(d->c, text, NULL);
}

int drain_cycle(struct drain *d, const struct drain_policy *p,
		struct drain_stats *st, struct errmsg *em)
{
	int ret = drain_once(d, p, st, em);

	write_status(d, p, st, ret, em);
	return ret;
}
