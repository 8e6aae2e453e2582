// SPDX-License-Identifier: GPL-2.0-only
/*
 * kl_reader: Keylime's agent-side reader of the IMA ASCII list, as
 * rust-keylime does it (keylime/src/ima/measurement_list.rs), for the
 * view's guest test: the file is opened once and held; up to 33
 * (entry count, byte offset) pairs are kept (one is dropped when there are
 * more than 32); for entry n the reader seeks to the kept pair with the
 * largest count below n (else 0), reads to the end of file, counts '\n' and
 * returns the text from entry n; entry n past the end means the whole list
 * from entry 0.
 *
 * Usage: kl_reader LIST PCRFILE ACCUMULATED < COMMANDS
 *   each line "q" on standard input is a quote: PCRFILE (the TPM's PCR 10
 *   of the list's bank, /sys/class/tpm/tpm0/pcr-sha256/10) is read first,
 *   then the list from the next entry the agent has not seen (as Keylime
 *   asks). The lines must continue those returned before, be whole lines,
 *   and their template digests replayed (violations as all 0xFF) must give
 *   the quoted PCR 10 after some entry at or after the previous match.
 *   One line per quote on standard output, "ok ..." or "FAIL ..."; the text
 *   returned is appended to ACCUMULATED. "end" or EOF stops.
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/sha.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define KL_KEEP 32

struct pair {
	uint64_t count, size;
};

struct ml {
	struct pair e[KL_KEEP + 2];
	unsigned n;
	char *buf;
	size_t cap;
};

/* MeasurementList::update: drop one when more than 32, insert if new. */
static void ml_update(struct ml *m, uint64_t count, uint64_t size)
{
	if (m->n > KL_KEEP) {
		memmove(m->e, m->e + 1, (m->n - 1) * sizeof(m->e[0]));
		m->n--;
	}
	for (unsigned i = 0; i < m->n; i++)
		if (m->e[i].count == count && m->e[i].size == size)
			return;
	m->e[m->n++] = (struct pair){ count, size };
}

/* MeasurementList::find: the largest count below nth, else (0, 0). */
static struct pair ml_find(const struct ml *m, uint64_t nth)
{
	struct pair best = { 0, 0 };

	for (unsigned i = 0; i < m->n; i++)
		if (m->e[i].count > best.count && m->e[i].count < nth)
			best = m->e[i];
	return best;
}

/* read_to_string from the current offset: -errno on a failed read. */
static ssize_t read_to_end(struct ml *m, int fd)
{
	size_t len = 0;
	ssize_t n;

	for (;;) {
		if (m->cap - len < 65536) {
			char *nb = realloc(m->buf, m->cap * 2 + 65536);

			if (!nb)
				return -ENOMEM;
			m->buf = nb;
			m->cap = m->cap * 2 + 65536;
		}
		n = read(fd, m->buf + len, m->cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (!n)
			break;
		len += (size_t)n;
	}
	m->buf[len] = '\0';
	return (ssize_t)len;
}

/*
 * MeasurementList::read. *text points into m->buf (len *tlen); *got the
 * entry it starts at, *entries the number of entries in the file.
 */
static int ml_read(struct ml *m, int fd, uint64_t nth, const char **text,
		   size_t *tlen, uint64_t *got, uint64_t *entries)
{
	struct pair p = ml_find(m, nth);
	uint64_t num = p.count;
	size_t off = 0, len;
	ssize_t n;
	bool found = false;

	if (lseek(fd, (off_t)p.size, SEEK_SET) < 0)
		return -errno;
	n = read_to_end(m, fd);
	if (n < 0)
		return (int)n;
	len = (size_t)n;
	for (;;) {
		char *nl;

		if (nth == num) {
			*text = m->buf + off;
			*tlen = len - off;
			found = true;
		}
		nl = memchr(m->buf + off, '\n', len - off);
		if (!nl)
			break;
		off = (size_t)(nl - m->buf) + 1;
		num++;
	}
	ml_update(m, num, p.size + off);
	if (!found)
		return ml_read(m, fd, 0, text, tlen, got, entries);
	*got = nth;
	*entries = num;
	return 0;
}

static int unhex(const char *s, size_t n, uint8_t *out)
{
	for (size_t i = 0; i < n; i++) {
		unsigned v;

		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (uint8_t)v;
	}
	return 0;
}

static int read_pcr(const char *path, uint8_t out[32])
{
	char line[256];
	FILE *f = fopen(path, "re");
	int ret = -1;

	if (f && fgets(line, sizeof(line), f) && strlen(line) >= 64)
		ret = unhex(line, 32, out);
	if (f)
		fclose(f);
	return ret;
}

struct replay {
	uint8_t pcr[32];
	uint64_t entries;	/* replayed */
	uint64_t matched;	/* the last entry count at which pcr == the quote */
	bool ever;
};

/* One ASCII line "10 <digest> ..." into PCR 10; -1 if it is not a line. */
static int extend(struct replay *r, const char *line, size_t len)
{
	uint8_t d[32], in[64], ff[32];
	char hex[65];
	unsigned pcr;

	if (len < 70 || sscanf(line, "%u %64s", &pcr, hex) != 2 || strlen(hex) != 64 ||
	    unhex(hex, 32, d))
		return -1;
	r->entries++;
	if (pcr != 10)
		return 0;
	memset(ff, 0xff, sizeof(ff));
	memcpy(in, r->pcr, 32);
	memcpy(in + 32, memcmp(d, (uint8_t[32]){ 0 }, 32) ? d : ff, 32);
	SHA256(in, 64, r->pcr);
	return 0;
}

/* Replay the new text; true if the quote equals the state at some point. */
static int replay_text(struct replay *r, const char *text, size_t len,
		       const uint8_t quote[32], bool *match)
{
	size_t off = 0;

	*match = !memcmp(r->pcr, quote, 32);
	if (*match)
		r->matched = r->entries;
	while (off < len) {
		const char *nl = memchr(text + off, '\n', len - off);

		if (!nl || extend(r, text + off, (size_t)(nl - text - off)))
			return -1;
		off = (size_t)(nl - text) + 1;
		if (!memcmp(r->pcr, quote, 32)) {
			*match = true;
			r->matched = r->entries;
		}
	}
	return 0;
}

static int quote(struct ml *m, int fd, const char *pcrfile, FILE *acc,
		 struct replay *r, unsigned round)
{
	uint8_t q[32];
	const char *text = NULL;
	size_t tlen = 0;
	uint64_t got = 0, entries = 0, nth = r->entries;
	bool match;
	int ret;

	if (read_pcr(pcrfile, q)) {
		printf("FAIL quote %u: cannot read %s\n", round, pcrfile);
		return 1;
	}
	ret = ml_read(m, fd, nth, &text, &tlen, &got, &entries);
	if (ret) {
		printf("FAIL quote %u: reading the list: %s\n", round, strerror(-ret));
		return 1;
	}
	if (got != nth) {
		printf("FAIL quote %u: asked for entry %llu, the list gave entry %llu (%llu entries): it did not continue\n",
		       round, (unsigned long long)nth, (unsigned long long)got,
		       (unsigned long long)entries);
		return 1;
	}
	if (tlen && text[tlen - 1] != '\n') {
		printf("FAIL quote %u: a torn last line\n", round);
		return 1;
	}
	if (replay_text(r, text, tlen, q, &match)) {
		printf("FAIL quote %u: a line that is no ASCII IMA record after entry %llu\n",
		       round, (unsigned long long)r->entries);
		return 1;
	}
	fwrite(text, 1, tlen, acc);
	fflush(acc);
	if (!match) {
		printf("FAIL quote %u: entries %llu..%llu do not replay to the quoted PCR 10\n",
		       round, (unsigned long long)nth, (unsigned long long)entries);
		return 1;
	}
	printf("ok quote %u: entries %llu..%llu (%llu new), PCR 10 matched after entry %llu, %u pairs kept\n",
	       round, (unsigned long long)nth, (unsigned long long)entries,
	       (unsigned long long)(entries - nth), (unsigned long long)r->matched, m->n);
	return 0;
}

int main(int argc, char **argv)
{
	struct ml m = { .n = 0 };
	struct replay r = { .entries = 0 };
	char cmd[64];
	unsigned round = 0, fails = 0;
	FILE *acc;
	int fd;

	if (argc != 4) {
		fprintf(stderr, "usage: kl_reader LIST PCRFILE ACCUMULATED < COMMANDS\n");
		return 2;
	}
	fd = open(argv[1], O_RDONLY | O_CLOEXEC);
	acc = fopen(argv[3], "we");
	if (fd < 0 || !acc) {
		printf("FAIL open: %s\n", strerror(errno));
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("ready\n");
	while (fgets(cmd, sizeof(cmd), stdin) && strncmp(cmd, "end", 3)) {
		if (cmd[0] != 'q')
			continue;
		fails += (unsigned)quote(&m, fd, argv[2], acc, &r, ++round);
	}
	printf("end: %u quotes, %u failed, %llu entries\n", round, fails,
	       (unsigned long long)r.entries);
	fclose(acc);
	close(fd);
	free(m.buf);
	return fails ? 1 : 0;
}
