// SPDX-License-Identifier: GPL-2.0-only
/* imastore fsck, the store's half: segments, indexes, logs (store-format.md [fsck]). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store_int.h"

struct fsck {
	struct chain *c;
	struct fsck_report *rep;
	fsck_note_fn note;
	void *arg;
	size_t ncks;
};

void fsck_say(struct fsck_report *rep, fsck_note_fn note, void *arg, bool error,
	      const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (error)
		rep->errors++;
	else
		rep->warnings++;
	if (note)
		note(arg, error, msg);
}

#define say(f, error, ...) fsck_say((f)->rep, (f)->note, (f)->arg, error, __VA_ARGS__)

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

static int count_ck(void *arg, const struct frame *fr)
{
	struct fsck *f = arg;

	if (fr->magic == FRAME_CHECKPOINT)
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

		if (log_scan(f->c, logs[i], i ? NULL : count_ck, f, &end, &corrupt, &em))
			say(f, true, "%s: %s", logs[i], errmsg_text(&em));
		else if (corrupt)
			say(f, true, "%s: corrupt after byte offset %lld", logs[i], (long long)end);
	}
	f->rep->checkpoints = f->ncks;
}

int chain_fsck_structure(struct chain *c, struct fsck_report *rep,
			 fsck_note_fn note, void *arg)
{
	struct fsck f = { c, rep, note, arg, 0 };
	int ret;

	memset(rep, 0, sizeof(*rep));
	ret = check_segments(&f);
	if (!ret)
		check_logs(&f);
	return ret;
}
