// SPDX-License-Identifier: GPL-2.0-only
/*
 * The live stream (docs/tail.md): lines made from ring-buffer records say
 * what `imastore show` says of the same records of real lists (every
 * template of the 7.2 fixtures), cut records keep what fits, bad records are
 * refused; the server streams to several consumers, keeps a backlog, drops
 * a consumer that does not read (counted) while the others get everything,
 * and refuses bad requests.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "test_util.h"

#include "log.h"
#include "tail.h"
#include "list_reader.h"
#include "record_print.h"
#include "tail_format.h"

#define TPM_ALG_SHA1 0x0004

static char json[TAIL_LINE_MAX], text[TAIL_LINE_MAX];
static bool quiet;	/* random records: refusals are expected */

/* What the BPF program's copy_fields() makes of template data. */
static void bpf_copy(struct imacapture_rec *r, const uint8_t *d, uint32_t len)
{
	uint32_t pos = 0, flen, room;

	r->data_len = 0;
	while (pos + 4 <= len) {
		memcpy(&flen, d + pos, 4);
		if (r->data_len > IMACAPTURE_DATA_MAX - 4) {
			r->flags |= IMACAPTURE_F_TRUNCATED;
			return;
		}
		memcpy(r->data + r->data_len, &flen, 4);
		r->data_len += 4;
		room = IMACAPTURE_DATA_MAX - r->data_len;
		if (flen > room) {
			memcpy(r->data + r->data_len, d + pos + 4, room);
			r->data_len = IMACAPTURE_DATA_MAX;
			r->flags |= IMACAPTURE_F_TRUNCATED;
			return;
		}
		memcpy(r->data + r->data_len, d + pos + 4, flen);
		r->data_len += flen;
		pos += 4 + flen;
	}
}

/* A list record as the program would have put it in the ring. */
static void to_ring(const struct ima_record *lr, struct imacapture_rec *r, bool empty_name)
{
	memset(r, 0, sizeof(*r));
	r->seq = lr->index;
	r->ktime_ns = 1000000000ull * 1800000000ull;
	r->pcr = (int32_t)lr->pcr;
	r->digest_alg = TPM_ALG_SHA1;
	memcpy(r->digest, lr->digest, lr->digest_len);
	/* bpf_probe_read_kernel_str(): cut to 15 bytes and a NUL */
	if (!empty_name)
		memcpy(r->template_name, lr->name,
		       lr->name_len < sizeof(r->template_name) ? lr->name_len :
								 sizeof(r->template_name) - 1);
	if (lr->legacy) {
		/* the kernel's fields: d (20 bytes), n (the name and its NUL) */
		uint32_t d = IMA_LEGACY_DIGEST_SIZE, nlen;

		memcpy(&nlen, lr->data + d, 4);
		memcpy(r->data, &d, 4);
		memcpy(r->data + 4, lr->data, d);
		nlen++;
		memcpy(r->data + 4 + d, &nlen, 4);
		memcpy(r->data + 8 + d, lr->data + d + 4, nlen - 1);
		r->data[8 + d + nlen - 1] = '\0';
		r->data_len = 8 + d + nlen;
		r->template_data_len = r->data_len;
		return;
	}
	r->template_data_len = lr->data_len;
	bpf_copy(r, lr->data, lr->data_len);
}

static int format_ring(const struct imacapture_rec *r, const char *custom)
{
	uint8_t buf[TAIL_VIEW_BUF];
	const struct hash_alg *bank;
	struct ima_record rec;
	struct tail_meta m;
	struct errmsg em = { "" };
	int ret;

	ret = tail_view_capture(r, custom, buf, &rec, &bank, &m, &em);
	if (ret)
		return ret;
	m.time_ns = r->ktime_ns;
	ret = tail_format(&m, &rec, bank, json, text, &em);
	if (ret && !quiet)
		print_message("tail_format: %s\n", errmsg_text(&em));
	return ret;
}

/* The part of a line after the n-th occurrence of `sep`. */
static const char *after(const char *s, const char *sep, int n)
{
	while (n-- > 0) {
		s = strstr(s, sep);
		assert_non_null(s);
		s += strlen(sep);
	}
	return s;
}

static void compare_fixture(const char *dir)
{
	char path[256], want[TAIL_LINE_MAX];
	struct list_reader_opts o = { .format = LIST_FORMAT_BINARY };
	struct list_reader *lr;
	struct ima_record rec;
	struct imacapture_rec r;
	struct errmsg em = { "" };
	const char *custom = NULL;
	int fd, n, records = 0;
	FILE *f;

	snprintf(path, sizeof(path), "tests/fixtures/%s/binary_runtime_measurements_sha1", dir);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	o.bank = hash_alg_by_name("sha1");
	o.path = path;
	assert_int_equal(list_reader_open(&lr, fd, &o, &em), 0);
	while ((n = list_reader_next(lr, &rec, &em)) > 0) {
		/* the kernel names ima_template_fmt= templates "" (BPF sees that) */
		bool is_custom = strchr(rec.name, '|') != NULL;

		if (is_custom)
			custom = rec.name;
		to_ring(&rec, &r, is_custom);
		assert_int_equal(format_ring(&r, custom), 0);
		f = fmemopen(want, sizeof(want), "w");
		assert_non_null(f);
		assert_int_equal(record_print_json(f, &rec, o.bank, NULL, &em), 0);
		fclose(f);
		/* "{"index":N,REST" vs "{"seq":...,"template_data_len":N,REST" */
		assert_string_equal(after(json, "\"template_data_len\":", 1) +
					    strcspn(after(json, "\"template_data_len\":", 1), ",") + 1,
				    after(want, ",", 1));
		assert_true(strstr(json, "\"truncated\":false") != NULL);
		f = fmemopen(want, sizeof(want), "w");
		assert_non_null(f);
		assert_int_equal(record_print_text(f, &rec, NULL, &em), 0);
		fclose(f);
		/* "INDEX REST" vs "TIME SEQ REST" */
		assert_string_equal(after(text, " ", 2), after(want, " ", 1));
		records++;
	}
	assert_int_equal(n, 0);
	assert_true(records > 30);
	list_reader_free(lr);
	close(fd);
}

static void test_lines_match_show(void **state)
{
	static const char *dirs[] = {
		"deb72-ima-ng", "deb72-ima-sig", "deb72-ima-ngv2", "deb72-ima-buf",
		"deb72-evm-sig", "deb72-custom", "deb72-legacy-ima", "deb72-canonical",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		compare_fixture(dirs[i]);
}

/* ima-sig with a 1,500-byte path and a signature: cut in the path. */
static void test_truncated_record(void **state)
{
	static char expect[2048];
	uint8_t d[4096], *p = d;
	struct imacapture_rec r;
	uint32_t len;
	int n;

	(void)state;
	len = 8 + 32;		/* d-ng: "sha256:" NUL digest */
	memcpy(p, &len, 4), p += 4;
	memcpy(p, "sha256:", 8), p += 8;
	memset(p, 0xab, 32), p += 32;
	len = 1501;		/* n-ng: the path and its NUL */
	memcpy(p, &len, 4), p += 4;
	memset(p, 'x', 1500), p[0] = '/', p[1500] = '\0', p += 1501;
	len = 10;		/* sig */
	memcpy(p, &len, 4), p += 4;
	memset(p, 0x03, 10), p += 10;

	memset(&r, 0, sizeof(r));
	r.seq = 7;
	r.pcr = 10;
	r.digest_alg = TPM_ALG_SHA1;
	memset(r.digest, 0x11, 20);
	snprintf(r.template_name, sizeof(r.template_name), "ima-sig");
	r.template_data_len = (uint32_t)(p - d);
	bpf_copy(&r, d, (uint32_t)(p - d));
	assert_true(r.flags & IMACAPTURE_F_TRUNCATED);
	assert_int_equal(r.data_len, IMACAPTURE_DATA_MAX);
	assert_int_equal(format_ring(&r, NULL), 0);
	assert_non_null(strstr(json, "\"seq\":7,\"source\":\"bpf\""));
	assert_non_null(strstr(json, "\"truncated\":true,\"template_data_len\":1563,"));
	assert_non_null(strstr(json, "\"file_digest\":\"sha256:abababab"));
	/* the path: what fit of it (1024 - 4 - 40 - 4 = 976 bytes), sig empty */
	n = snprintf(expect, sizeof(expect), "\"path\":\"/");
	memset(expect + n, 'x', 975);
	snprintf(expect + n + 975, 32, "\",\"sig\":\"\"}\n");
	assert_non_null(strstr(json, expect));
	assert_string_equal(text + strlen(text) - 13, " [truncated]\n");
	assert_non_null(strstr(text, " ima-sig 1111111111111111111111111111111111111111 sha256:abab"));
}

static void test_bad_records(void **state)
{
	struct imacapture_rec r;
	uint32_t big = 500;

	(void)state;
	memset(&r, 0, sizeof(r));
	snprintf(r.template_name, sizeof(r.template_name), "ima-ng");
	r.digest_alg = 0x9999;
	assert_int_equal(format_ring(&r, NULL), -EBADMSG);
	r.digest_alg = TPM_ALG_SHA1;
	r.data_len = IMACAPTURE_DATA_MAX + 1;
	assert_int_equal(format_ring(&r, NULL), -EBADMSG);
	/* not flagged as cut, yet a field overruns the data */
	memcpy(r.data, &big, 4);
	r.data_len = 40;
	assert_int_equal(format_ring(&r, NULL), -EBADMSG);
	/* legacy without its digest */
	snprintf(r.template_name, sizeof(r.template_name), "ima");
	r.data_len = 10;
	assert_int_equal(format_ring(&r, NULL), -EBADMSG);
}

/*
 * A violation as the fexit program sees it: the kernel never hashed its
 * template, so the digest is all zeros with alg_id 0 (kcalloc). It is
 * streamed with the zero sha1 digest the list shows; a digest that is not
 * zero under alg_id 0 is still refused.
 */
static void test_violation_record(void **state)
{
	struct imacapture_rec r;
	static const char zeros[] = "0000000000000000000000000000000000000000";
	uint8_t *p;

	(void)state;
	memset(&r, 0, sizeof(r));
	snprintf(r.template_name, sizeof(r.template_name), "ima-ng");
	r.pcr = 10;
	p = r.data;
	/* d-ng "sha256:" + 32 zero bytes, n-ng "/etc/x" */
	memcpy(p, &(uint32_t){ 8 + 32 }, 4);
	memcpy(p + 4, "sha256:", 8);
	p += 4 + 8 + 32;
	memcpy(p, &(uint32_t){ 7 }, 4);
	memcpy(p + 4, "/etc/x", 7);
	p += 4 + 7;
	r.data_len = (uint32_t)(p - r.data);
	r.template_data_len = r.data_len;
	assert_int_equal(format_ring(&r, NULL), 0);
	assert_non_null(strstr(text, zeros));
	assert_non_null(strstr(text, " ima-ng "));
	assert_non_null(strstr(text, "/etc/x"));
	r.digest[3] = 1;
	assert_int_equal(format_ring(&r, NULL), -EBADMSG);
}

/* Random records: formatted or refused, never a crash (ASan, valgrind). */
static void test_random_records(void **state)
{
	struct imacapture_rec r;
	static const char *names[] = { "ima-ng", "ima-sig", "ima", "ima-buf", "", "x" };
	unsigned seed = 12345, ok = 0;

	(void)state;
	quiet = true;
	for (int i = 0; i < 20000; i++) {
		uint8_t *b = (uint8_t *)&r;

		for (size_t k = 0; k < sizeof(r); k++)
			b[k] = (uint8_t)rand_r(&seed);
		r.digest_alg = TPM_ALG_SHA1;
		r.data_len %= IMACAPTURE_DATA_MAX + 1;
		snprintf(r.template_name, sizeof(r.template_name), "%s",
			 names[rand_r(&seed) % 6]);
		if (rand_r(&seed) % 2) {
			/* plausible fields, sometimes cut */
			uint32_t l1 = (uint32_t)rand_r(&seed) % 600, l2 = (uint32_t)rand_r(&seed) % 600;

			memcpy(r.data, &l1, 4);
			if (8 + l1 < IMACAPTURE_DATA_MAX)
				memcpy(r.data + 4 + l1, &l2, 4);
		}
		if (!format_ring(&r, "d-ng|n-ng|sig")) {
			if (strchr(json, '\n') != json + strlen(json) - 1)
				print_message("%s", json);
			ok++;
			assert_int_equal(json[strlen(json) - 1], '\n');
			assert_int_equal(text[strlen(text) - 1], '\n');
			assert_ptr_equal(strchr(json, '\n'), json + strlen(json) - 1);
			assert_ptr_equal(strchr(text, '\n'), text + strlen(text) - 1);
		}
	}
	quiet = false;
	assert_true(ok > 100);
}

/* ---- the server ---- */

static char sock_path[108];

static uint64_t ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void pump(struct tail_server *t, int ms)
{
	struct pollfd p[1 + TAIL_CLIENTS_MAX];
	uint64_t end = ms_now() + (uint64_t)ms;

	do {
		unsigned n = tail_pollfds(t, p);

		if (poll(p, n, 5) > 0)
			tail_handle(t, p, n);
	} while (ms_now() < end);
}

static int connect_to(const char *req)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	if (req)
		assert_int_equal(send(fd, req, strlen(req), 0), (ssize_t)strlen(req));
	return fd;
}

/* Read what is there (while the server runs) into buf; its length. */
static size_t drain_fd(struct tail_server *t, int fd, char *buf, size_t cap, size_t len,
		       int ms, bool *eof)
{
	uint64_t end = ms_now() + (uint64_t)ms;
	ssize_t n;

	*eof = false;
	while (ms_now() < end && !*eof) {
		pump(t, 1);
		while ((n = recv(fd, buf + len, cap - 1 - len, MSG_DONTWAIT)) > 0)
			len += (size_t)n;
		if (n == 0)
			*eof = true;
	}
	buf[len] = '\0';
	return len;
}

static int server_setup(void **state)
{
	static struct tail_server t;

	snprintf(sock_path, sizeof(sock_path), "/tmp/imastore-tail-test.%d/tail.sock",
		 (int)getpid());
	dlog_set_level(LOG_P_ERR);
	assert_int_equal(tail_open(&t, sock_path, "bpf", NULL), 0);
	*state = &t;
	return 0;
}

static int server_teardown(void **state)
{
	char dir[108];

	tail_close(*state);
	snprintf(dir, sizeof(dir), "%s", sock_path);
	*strrchr(dir, '/') = '\0';
	rmdir(dir);
	return 0;
}

static void publish_n(struct tail_server *t, int from, int to)
{
	char j[64], x[64];

	for (int i = from; i < to; i++) {
		snprintf(j, sizeof(j), "{\"seq\":%d}\n", i);
		snprintf(x, sizeof(x), "text %d\n", i);
		tail_publish(t, j, x);
	}
}

static void test_stream_backlog_follow(void **state)
{
	struct tail_server *t = *state;
	char buf[4096];
	struct stat st;
	size_t len;
	bool eof;
	int a, b;

	assert_int_equal(stat(sock_path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	publish_n(t, 0, 3);
	a = connect_to("format=text backlog=2 follow=1\n");
	len = drain_fd(t, a, buf, sizeof(buf), 0, 100, &eof);
	assert_false(eof);
	assert_string_equal(buf, "ok source=bpf backlog=2\ntext 1\ntext 2\n");
	publish_n(t, 3, 4);
	drain_fd(t, a, buf, sizeof(buf), len, 100, &eof);
	assert_string_equal(buf, "ok source=bpf backlog=2\ntext 1\ntext 2\ntext 3\n");
	/* no follow: the backlog (all 4), then the end of the stream */
	b = connect_to("format=json backlog=64 follow=0\n");
	drain_fd(t, b, buf, sizeof(buf), 0, 1000, &eof);
	assert_true(eof);
	assert_string_equal(buf, "ok source=bpf backlog=4\n{\"seq\":0}\n{\"seq\":1}\n"
				 "{\"seq\":2}\n{\"seq\":3}\n");
	close(a);
	close(b);
	pump(t, 20);
	assert_int_equal(t->ncl, 0);
}

/* `echo request | socat - UNIX:...` shuts its side after the request. */
static void test_half_closed_consumer(void **state)
{
	struct tail_server *t = *state;
	char buf[4096];
	size_t len;
	bool eof;
	int a = connect_to("format=text backlog=0 follow=1\n");

	shutdown(a, SHUT_WR);
	len = drain_fd(t, a, buf, sizeof(buf), 0, 100, &eof);
	assert_false(eof);
	publish_n(t, 10, 12);
	drain_fd(t, a, buf, sizeof(buf), len, 100, &eof);
	assert_string_equal(buf, "ok source=bpf backlog=0\ntext 10\ntext 11\n");
	close(a);
	pump(t, 20);
}

/*
 * One consumer never reads: it is dropped once 256 KiB behind and counted;
 * the one that reads gets every record, in order.
 */
static void test_slow_consumer_dropped(void **state)
{
	struct tail_server *t = *state;
	static char buf[8 << 20];
	char line[1100], want[64];
	uint64_t dropped = t->dropped;
	size_t len = 0, pos;
	int slow, fast, rcv = 4096, i, lines;
	bool eof;

	slow = connect_to(NULL);
	setsockopt(slow, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	assert_int_equal(send(slow, "format=json backlog=0 follow=1\n", 31, 0), 31);
	fast = connect_to("format=json backlog=0 follow=1\n");
	pump(t, 50);
	memset(line, 'y', sizeof(line));
	for (i = 0; i < 4000; i++) {
		int n = snprintf(line, 32, "{\"seq\":%d,", i);

		line[n] = 'y';
		line[sizeof(line) - 2] = '\n';
		line[sizeof(line) - 1] = '\0';
		tail_publish(t, line, line);
		if (i % 50 == 49)
			len = drain_fd(t, fast, buf, sizeof(buf), len, 2, &eof);
	}
	len = drain_fd(t, fast, buf, sizeof(buf), len, 300, &eof);
	assert_false(eof);
	assert_int_equal(t->dropped, dropped + 1);
	assert_int_equal(t->ncl, 1);
	/* the reader: the "ok" line, then 4,000 records in order */
	assert_int_equal(strncmp(buf, "ok source=bpf", 13), 0);
	pos = strcspn(buf, "\n") + 1;
	for (lines = 0; pos < len; lines++) {
		snprintf(want, sizeof(want), "{\"seq\":%d,", lines);
		assert_int_equal(strncmp(buf + pos, want, strlen(want)), 0);
		pos += strcspn(buf + pos, "\n") + 1;
	}
	assert_int_equal(lines, 4000);
	/* the dropped one finds its stream cut short: no "end:" */
	len = 0;
	while ((i = (int)recv(slow, buf + len, 65536, 0)) > 0)
		len += (size_t)i;
	buf[len] = '\0';
	assert_null(strstr(buf, "end:"));
	assert_true(len < 4000 * sizeof(line));
	close(slow);
	close(fast);
	pump(t, 20);
}

static void test_bad_requests(void **state)
{
	static const char *bad[] = {
		"format=xml\n", "backlog=65\n", "backlog=-1\n", "follow=2\n", "hello\n",
	};
	struct tail_server *t = *state;
	char buf[512];
	bool eof;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int fd = connect_to(bad[i]);

		drain_fd(t, fd, buf, sizeof(buf), 0, 1000, &eof);
		assert_true(eof);
		assert_int_equal(strncmp(buf, "error: ", 7), 0);
		close(fd);
	}
	pump(t, 20);
	assert_int_equal(t->ncl, 0);
}

static void test_too_many_consumers(void **state)
{
	struct tail_server *t = *state;
	int fds[TAIL_CLIENTS_MAX + 1];
	uint64_t refused = t->refused;
	char buf[256];
	bool eof;

	for (int i = 0; i <= TAIL_CLIENTS_MAX; i++) {
		fds[i] = connect_to("format=text backlog=0 follow=1\n");
		pump(t, 5);
	}
	pump(t, 50);
	assert_int_equal(t->ncl, TAIL_CLIENTS_MAX);
	assert_int_equal(t->refused, refused + 1);
	drain_fd(t, fds[TAIL_CLIENTS_MAX], buf, sizeof(buf), 0, 500, &eof);
	assert_true(eof);
	assert_non_null(strstr(buf, "error: too many consumers"));
	for (int i = 0; i <= TAIL_CLIENTS_MAX; i++)
		close(fds[i]);
	pump(t, 50);
	assert_int_equal(t->ncl, 0);
}

struct slow_reader {
	int fd;
	size_t len;
	char buf[1 << 20];
};

static void *read_late(void *arg)
{
	struct slow_reader *r = arg;
	ssize_t n;

	usleep(300 * 1000);
	while ((n = recv(r->fd, r->buf + r->len, sizeof(r->buf) - 1 - r->len, 0)) > 0)
		r->len += (size_t)n;
	r->buf[r->len] = '\0';
	return NULL;
}

/*
 * A follower behind (but not dropped) when imastored stops still gets every
 * record queued for it, then "end".
 */
static void test_close_delivers_the_queue(void **state)
{
	struct tail_server *t = *state;
	static struct slow_reader r;
	char line[1000];
	pthread_t th;
	size_t pos;
	int rcv = 4096, lines;
	uint64_t dropped = t->dropped;
	bool eof;

	r.fd = connect_to(NULL);
	setsockopt(r.fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	assert_int_equal(send(r.fd, "format=text backlog=0 follow=1\n", 31, 0), 31);
	r.len = drain_fd(t, r.fd, r.buf, sizeof(r.buf), 0, 50, &eof);
	memset(line, 'z', sizeof(line));
	line[sizeof(line) - 2] = '\n';
	line[sizeof(line) - 1] = '\0';
	for (int i = 0; i < 200; i++)
		tail_publish(t, line, line);
	assert_int_equal(t->dropped, dropped);	/* behind, not too far */
	assert_true(tail_queued(t, 0) > 100000);
	assert_int_equal(pthread_create(&th, NULL, read_late, &r), 0);
	tail_close(t);
	pthread_join(th, NULL);
	assert_int_equal(strncmp(r.buf, "ok source=bpf backlog=0\n", 24), 0);
	pos = 24;
	for (lines = 0; pos < r.len && r.buf[pos] == 'z'; lines++)
		pos += strcspn(r.buf + pos, "\n") + 1;
	assert_int_equal(lines, 200);
	assert_string_equal(r.buf + pos, "end: imastored stops\n");
	close(r.fd);
	assert_int_equal(tail_open(t, sock_path, "bpf", NULL), 0);
}

/* Stopping says so to followers, and takes the socket away. */
static void test_close_ends_stream(void **state)
{
	struct tail_server *t = *state;
	char buf[512];
	size_t len;
	bool eof;
	int fd = connect_to("format=text backlog=0 follow=1\n");
	ssize_t n;

	len = drain_fd(t, fd, buf, sizeof(buf), 0, 100, &eof);
	tail_close(t);
	while ((n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	assert_string_equal(buf, "ok source=bpf backlog=0\nend: imastored stops\n");
	assert_int_equal(access(sock_path, F_OK), -1);
	close(fd);
	/* a stale socket (no listener) is replaced; a live one is not */
	{
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		struct tail_server t2;
		int s = socket(AF_UNIX, SOCK_STREAM, 0);

		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
		assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
		close(s);
		assert_int_equal(tail_open(&t2, sock_path, "list", NULL), 0);
		assert_int_equal(tail_open(t, sock_path, "bpf", NULL), -EADDRINUSE);
		tail_close(&t2);
		s = open(sock_path, O_CREAT | O_WRONLY, 0600);
		close(s);
		assert_int_equal(tail_open(t, sock_path, "bpf", NULL), -EEXIST);
		unlink(sock_path);
	}
	assert_int_equal(tail_open(t, sock_path, "bpf", NULL), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lines_match_show),
		cmocka_unit_test(test_truncated_record),
		cmocka_unit_test(test_bad_records),
		cmocka_unit_test(test_violation_record),
		cmocka_unit_test(test_random_records),
		cmocka_unit_test(test_stream_backlog_follow),
		cmocka_unit_test(test_half_closed_consumer),
		cmocka_unit_test(test_slow_consumer_dropped),
		cmocka_unit_test(test_bad_requests),
		cmocka_unit_test(test_too_many_consumers),
		cmocka_unit_test(test_close_delivers_the_queue),
		cmocka_unit_test(test_close_ends_stream),
	};

	return cmocka_run_group_tests(tests, server_setup, server_teardown);
}
