// SPDX-License-Identifier: GPL-2.0-only
/* imastore fsck: every [fsck] rule of docs/store-format.md. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chain_replay.h"
#include "store_int.h"

struct fsck {
	struct chain *c;
	struct fsck_report *rep;
	fsck_note_fn note;
	void *arg;
	struct replay_state *cks;
	size_t ncks;
};

__attribute__((format(printf, 3, 4)))
static void say(struct fsck *f, bool error, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (error)
		f->rep->errors++;
	else
		f->rep->warnings++;
	if (f->note)
		f->note(f->arg, error, msg);
}

static void check_index(struct fsck *f, uint64_t first, const uint64_t *want,
			size_t n)
{
	char name[64];
	uint8_t b[8];
	int fd;

	seg_name(name, sizeof(name), first, "idx");
	fd = openat(f->c->dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (n > 1)
			say(f, false, "%s: missing (derived data: segments are scanned instead)", name);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (pread(fd, b, 8, (off_t)(i * 8)) != 8 || get_le64(b) != want[i]) {
			say(f, false, "%s: entry %zu is wrong (derived data: ignored where wrong)",
			    name, i);
			break;
		}
	}
	close(fd);
}

static int check_segments(struct fsck *f)
{
	struct chain *c = f->c;
	size_t cap = c->s->seg_size / 64 + 1024;
	uint64_t *idx = calloc(cap, sizeof(*idx));
	uint64_t expect = 0;

	if (!idx)
		return -ENOMEM;
	for (size_t i = 0; i < c->nsegs; i++) {
		bool last = i + 1 == c->nsegs;
		struct seg_scan sc;
		struct errmsg em = { "" };
		char name[64];
		size_t nidx = 0;
		int fd;

		seg_name(name, sizeof(name), c->segs[i].first, "log");
		f->rep->segments++;
		fd = openat(c->dirfd, name, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || seg_scan_fd(fd, name, &sc, idx, cap, &nidx, &em)) {
			say(f, true, "%s: cannot read: %s", name,
			    fd < 0 ? strerror(errno) : errmsg_text(&em));
			if (fd >= 0)
				close(fd);
			continue;
		}
		close(fd);
		if (sc.corrupt)
			say(f, true, "%s: corrupt at byte offset %lld: %s", name,
			    (long long)sc.corrupt_at, sc.why);
		else if (sc.first != c->segs[i].first)
			say(f, true, "%s: its header says its first record is %llu",
			    name, (unsigned long long)sc.first);
		if (sc.first != expect)
			say(f, true, "%s: starts at record %llu, %llu was due (records missing)",
			    name, (unsigned long long)sc.first, (unsigned long long)expect);
		if (!sc.corrupt && sc.durable_end < sc.size)
			say(f, !last, last ?
			    "%s: %lld bytes after the last commit (a torn tail: the next writer cuts it)" :
			    "%s: %lld bytes after the last commit of a sealed segment",
			    name, (long long)(sc.size - sc.durable_end));
		check_index(f, sc.first, idx, nidx);
		f->rep->records += sc.next - sc.first;
		expect = sc.next;
	}
	free(idx);
	return 0;
}

static int collect_ck(void *arg, const struct frame *fr)
{
	struct fsck *f = arg;
	struct replay_state *n;

	if (fr->magic != FRAME_CHECKPOINT)
		return 0;
	n = realloc(f->cks, (f->ncks + 1) * sizeof(*f->cks));
	if (!n)
		return -ENOMEM;
	f->cks = n;
	/* decoded by chain_checkpoint_find's rules: re-read through the API */
	memset(&f->cks[f->ncks], 0, sizeof(*f->cks));
	f->cks[f->ncks].next_index = fr->index;
	f->ncks++;
	return 0;
}

static void check_logs(struct fsck *f)
{
	static const char *const logs[] = { "checkpoints.log", "trims.log" };
	struct errmsg em = { "" };

	for (int i = 0; i < 2; i++) {
		off_t end;
		bool corrupt;

		if (log_scan(f->c, logs[i], i ? NULL : collect_ck, f, &end, &corrupt, &em))
			say(f, true, "%s: %s", logs[i], errmsg_text(&em));
		else if (corrupt)
			say(f, true, "%s: corrupt after byte offset %lld", logs[i], (long long)end);
	}
	f->rep->checkpoints = f->ncks;
}

static bool states_equal(const struct replay_state *a, const struct replay_state *b)
{
	if (a->pcrs.nbanks != b->pcrs.nbanks || a->pcr_used != b->pcr_used)
		return false;
	for (unsigned i = 0; i < a->pcrs.nbanks; i++) {
		const struct pcr_bank *x = &a->pcrs.bank[i], *y = &b->pcrs.bank[i];

		if (x->alg->tpm_id != y->alg->tpm_id ||
		    x->alg->padded_sha1 != y->alg->padded_sha1 ||
		    memcmp(x->value, y->value, sizeof(x->value)))
			return false;
	}
	return true;
}

/* Replay everything; every record's digest and every checkpoint is checked. */
static void check_replay(struct fsck *f)
{
	struct chain *c = f->c;
	struct replay *rp = NULL;
	struct chain_iter *it = NULL;
	struct ima_record rec;
	struct errmsg em = { "" };
	size_t ck = 0;
	int r;

	/* checkpoints in the order of their index */
	for (size_t i = 0; i < f->ncks; i++) {
		struct replay_state st;

		if (chain_checkpoint_find(c, f->cks[i].next_index, &st, NULL) ||
		    st.next_index != f->cks[i].next_index)
			say(f, true, "checkpoint at record %llu cannot be read",
			    (unsigned long long)f->cks[i].next_index);
		else
			f->cks[i] = st;
	}
	if (chain_replay(c, 0, true, false, &rp, &em) ||
	    chain_iter_open(c, 0, &it, &em)) {
		say(f, true, "replay: %s", errmsg_text(&em));
		goto out;
	}
	for (;;) {
		while (ck < f->ncks && f->cks[ck].next_index == replay_state(rp)->next_index) {
			if (f->cks[ck].pcrs.nbanks && !states_equal(&f->cks[ck], replay_state(rp)))
				say(f, true, "checkpoint at record %llu does not match the replay of records 0..%llu",
				    (unsigned long long)f->cks[ck].next_index,
				    (unsigned long long)f->cks[ck].next_index - 1);
			ck++;
		}
		r = chain_iter_next(it, &rec, &em);
		if (r <= 0)
			break;
		r = replay_extend(rp, &rec, chain_meta(c)->bank, REPLAY_CHECK_DIGEST, &em);
		if (r == -EBADMSG) {
			say(f, true, "%s", errmsg_text(&em));
			r = replay_extend(rp, &rec, chain_meta(c)->bank, 0, &em);
		}
		if (r)
			break;
	}
	if (r < 0)
		say(f, true, "%s", errmsg_text(&em));
	for (; ck < f->ncks; ck++)
		if (f->cks[ck].next_index > replay_state(rp)->next_index)
			say(f, true, "checkpoint at record %llu is beyond the %llu stored records",
			    (unsigned long long)f->cks[ck].next_index,
			    (unsigned long long)replay_state(rp)->next_index);
out:
	chain_iter_free(it);
	replay_free(rp);
}

int chain_fsck(struct chain *c, struct fsck_report *rep, fsck_note_fn note,
	       void *arg)
{
	struct fsck f = { c, rep, note, arg, NULL, 0 };
	int ret;

	memset(rep, 0, sizeof(*rep));
	ret = check_segments(&f);
	if (!ret) {
		check_logs(&f);
		if (!rep->errors)
			check_replay(&f);
	}
	free(f.cks);
	return ret;
}
