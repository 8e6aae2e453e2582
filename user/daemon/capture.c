// SPDX-License-Identifier: GPL-2.0-only
/* The BPF wake-up: see capture.h and docs/bpf.md. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "capture.h"
#include "clock.h"
#include "fdio.h"
#include "hash_alg.h"
#include "imacapture.skel.h"
#include "log.h"

#define BPF_FS_MAGIC_ 0xcafe4a11

/* libbpf explains a failed load at length: keep it for --log-level debug. */
static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char *buf, *line, *save = NULL;

	if (level == LIBBPF_DEBUG || vasprintf(&buf, fmt, ap) < 0)
		return 0;
	/* the verifier's log comes as one message of many lines */
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		dlog(LOG_P_DEBUG, "%s", line);
	free(buf);
	return 0;
}

/* One record as the binary list of its bank carries it (docs/bpf.md). */
static void dump_rec(struct capture *c, const struct imacapture_rec *r)
{
	const struct hash_alg *a = hash_alg_by_tpm_id(r->digest_alg);
	uint8_t buf[sizeof(*r) + 3 * sizeof(uint32_t)];
	uint32_t u, nlen = (uint32_t)strnlen(r->template_name, sizeof(r->template_name));
	size_t off = 0;

	if (!a || a->size > IMACAPTURE_DIGEST_MAX || (r->flags & IMACAPTURE_F_TRUNCATED)) {
		c->dump_skipped++;
		return;
	}
	u = (uint32_t)r->pcr;
	memcpy(buf + off, &u, 4), off += 4;
	memcpy(buf + off, r->digest, a->size), off += a->size;
	memcpy(buf + off, &nlen, 4), off += 4;
	memcpy(buf + off, r->template_name, nlen), off += nlen;
	memcpy(buf + off, &r->data_len, 4), off += 4;
	memcpy(buf + off, r->data, r->data_len), off += r->data_len;
	if (fd_write_all(c->dump_fd, buf, off))
		c->dump_skipped++;
	else
		c->dumped++;
}

/* Never tied to durability: a record only counts towards the next drain. */
static int on_record(void *ctx, void *data, size_t size)
{
	struct capture *c = ctx;
	const struct imacapture_rec *r = data;
	uint64_t now = mono_ns(), wake;

	if (size < sizeof(*r) || r->data_len > IMACAPTURE_DATA_MAX)
		return 0;
	c->received++;
	wake = now > r->ktime_ns ? now - r->ktime_ns : 0;
	c->wake_ns_sum += wake;
	if (wake > c->wake_ns_max)
		c->wake_ns_max = wake;
	/* a gap (seq skipped) is a record we cannot date: pending */
	if (r->seq > c->next_seq)
		c->pending += r->seq - c->next_seq;
	if (r->seq >= c->next_seq)
		c->next_seq = r->seq + 1;
	if (r->ktime_ns >= c->covered_ns) {
		if (!c->pending)
			c->first_pending_ns = r->ktime_ns;
		c->pending++;
		if (c->pend_ns && c->npend < CAPTURE_PEND_MAX)
			c->pend_ns[c->npend++] = r->ktime_ns;
	}
	if (c->dump_fd >= 0)
		dump_rec(c, r);
	if (c->on_rec)
		c->on_rec(c->on_rec_ctx, r);
	return 0;
}

int capture_consume(struct capture *c)
{
	return ring_buffer__consume(c->rb);
}

void capture_set_wake_every(struct capture *c, uint32_t wake_every)
{
	c->skel->data->wake_every = wake_every ? wake_every : 1;
}

void capture_arm(struct capture *c)
{
	c->skel->data->armed = 1;
	/* a record that came before the store above did not wake anyone */
	__sync_synchronize();
	ring_buffer__consume(c->rb);
}

/* `ns`: the drain's start; what was measured before it is durable now. */
void capture_drained(struct capture *c, uint64_t ns)
{
	uint64_t done = mono_ns();
	size_t keep = 0;

	for (size_t i = 0; i < c->npend; i++) {
		uint64_t ms;

		if (c->pend_ns[i] >= ns) {
			c->pend_ns[keep++] = c->pend_ns[i];
			continue;
		}
		ms = (done - c->pend_ns[i]) / 1000000u;
		c->durable_ms[ms < CAPTURE_LAT_BUCKETS ? ms : CAPTURE_LAT_BUCKETS - 1]++;
		c->durable_n++;
	}
	c->npend = keep;
	c->covered_ns = ns;
	c->pending = 0;
	c->first_pending_ns = 0;
}

unsigned capture_durable_percentile(const struct capture *c, unsigned p)
{
	uint64_t want = (c->durable_n * p + 99) / 100, seen = 0;

	for (unsigned ms = 0; ms < CAPTURE_LAT_BUCKETS && want; ms++) {
		seen += c->durable_ms[ms];
		if (seen >= want)
			return ms;
	}
	return 0;
}

/*
 * Records the ring could not take: every sequence number the program handed
 * out (the state map's next_seq, also those after the last record received)
 * minus those received.
 */
uint64_t capture_lost(const struct capture *c)
{
	struct imacapture_state st;
	uint32_t zero = 0;
	uint64_t issued = c->next_seq;

	if (c->skel && !bpf_map__lookup_elem(c->skel->maps.imacapture_state, &zero,
					     sizeof(zero), &st, sizeof(st), 0) &&
	    st.next_seq > issued)
		issued = st.next_seq;
	return issued - c->received;
}

int capture_fd(const struct capture *c)
{
	return ring_buffer__epoll_fd(c->rb);
}

int capture_stats(const struct capture *c, struct imacapture_stats *sum)
{
	int ncpu = libbpf_num_possible_cpus(), ret = 0, i;
	struct imacapture_stats *v;
	__u32 zero = 0;

	memset(sum, 0, sizeof(*sum));
	if (ncpu <= 0)
		return ncpu ? ncpu : -EINVAL;
	v = calloc((size_t)ncpu, sizeof(*v));
	if (!v)
		return -ENOMEM;
	if (bpf_map__lookup_elem(c->skel->maps.imacapture_stats, &zero, sizeof(zero), v,
				 sizeof(*v) * (size_t)ncpu, 0)) {
		ret = -errno;
		goto out;
	}
	for (i = 0; i < ncpu; i++) {
		sum->emitted += v[i].emitted;
		sum->reserve_failures += v[i].reserve_failures;
		sum->truncated += v[i].truncated;
		sum->duplicates += v[i].duplicates;
		sum->errors += v[i].errors;
		if (v[i].last_seq > sum->last_seq)
			sum->last_seq = v[i].last_seq;
	}
out:
	free(v);
	return ret;
}

static void pin_one(struct bpf_map *m, const char *name)
{
	char path[128];

	snprintf(path, sizeof(path), CAPTURE_PIN_DIR "/%s", name);
	unlink(path);	/* a stale pin of an earlier run */
	if (bpf_map__pin(m, path))
		dlog(LOG_P_WARNING, "bpf: cannot pin %s: %s", path, strerror(errno));
}

/* For `bpftool map dump pinned`; optional: a missing bpffs costs nothing. */
static void pin_maps(struct capture *c)
{
	struct statfs sf;

	if (statfs("/sys/fs/bpf", &sf) || (unsigned long)sf.f_type != BPF_FS_MAGIC_) {
		dlog(LOG_P_INFO, "bpf: /sys/fs/bpf is not a bpf filesystem: counters not pinned");
		return;
	}
	if (mkdir(CAPTURE_PIN_DIR, 0700) && errno != EEXIST) {
		dlog(LOG_P_WARNING, "bpf: %s: %s", CAPTURE_PIN_DIR, strerror(errno));
		return;
	}
	pin_one(c->skel->maps.imacapture_stats, "stats");
	pin_one(c->skel->maps.imacapture_state, "state");
	c->pinned = true;
}

/*
 * Only our own pin goes: a second imastored (another store) pinned over
 * ours when it started, and its pins must outlive our exit.
 */
static __u32 map_id(int fd)
{
	struct bpf_map_info info = { 0 };
	__u32 len = sizeof(info);

	return bpf_obj_get_info_by_fd(fd, &info, &len) ? 0 : info.id;
}

static void unpin_one(struct bpf_map *m)
{
	const char *path = bpf_map__pin_path(m);
	int fd = path ? bpf_obj_get(path) : -1;

	if (fd < 0)
		return;
	if (map_id(fd) && map_id(fd) == map_id(bpf_map__fd(m)))
		bpf_map__unpin(m, NULL);
	close(fd);
}

static void unpin_maps(struct capture *c)
{
	if (!c->pinned)
		return;
	unpin_one(c->skel->maps.imacapture_stats);
	unpin_one(c->skel->maps.imacapture_state);
	rmdir(CAPTURE_PIN_DIR);	/* fails while another's pins are in it */
	c->pinned = false;
}

static int open_dump(struct capture *c, const char *dump, struct errmsg *em)
{
	if (!dump)
		return 0;
	c->dump_fd = open(dump, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (c->dump_fd < 0)
		return errmsg_set(em, -errno, "%s: %s", dump, strerror(errno));
	return 0;
}

int capture_open(struct capture *c, size_t ringbuf_size, uint32_t wake_every,
		 const char *dump, struct errmsg *em)
{
	int ret;

	memset(c, 0, sizeof(*c));
	c->dump_fd = -1;
	/* for the latency figures only: without it they are just not kept */
	c->pend_ns = malloc(CAPTURE_PEND_MAX * sizeof(*c->pend_ns));
	libbpf_set_print(libbpf_print);
	if (access("/sys/kernel/btf/vmlinux", R_OK))
		return errmsg_set(em, -ENOENT, "the kernel has no BTF (/sys/kernel/btf/vmlinux)");
	c->skel = imacapture_bpf__open();
	if (!c->skel)
		return errmsg_set(em, -errno, "open: %s", strerror(errno));
	ret = bpf_map__set_max_entries(c->skel->maps.imacapture_rb, (__u32)ringbuf_size);
	if (ret) {
		errmsg_set(em, ret, "ring buffer size %zu: %s", ringbuf_size, strerror(-ret));
		goto err;
	}
	c->skel->data->wake_every = wake_every ? wake_every : 1;
	c->skel->rodata->wake_bytes = ringbuf_size / 2;
	ret = imacapture_bpf__load(c->skel);
	if (ret) {
		errmsg_set(em, ret, "load of fexit/ima_add_template_entry: %s", strerror(-ret));
		goto err;
	}
	ret = imacapture_bpf__attach(c->skel);
	if (ret) {
		errmsg_set(em, ret, "attach to ima_add_template_entry: %s", strerror(-ret));
		goto err;
	}
	c->rb = ring_buffer__new(bpf_map__fd(c->skel->maps.imacapture_rb), on_record, c, NULL);
	if (!c->rb) {
		ret = -errno;
		errmsg_set(em, ret, "ring buffer: %s", strerror(-ret));
		goto err;
	}
	ret = open_dump(c, dump, em);
	if (ret)
		goto err;
	pin_maps(c);
	return 0;
err:
	capture_close(c);
	return ret;
}

void capture_close(struct capture *c)
{
	if (c->skel)
		unpin_maps(c);
	ring_buffer__free(c->rb);
	c->rb = NULL;
	imacapture_bpf__destroy(c->skel);
	c->skel = NULL;
	if (c->dump_fd >= 0)
		close(c->dump_fd);
	c->dump_fd = -1;
	free(c->pend_ns);
	c->pend_ns = NULL;
}
