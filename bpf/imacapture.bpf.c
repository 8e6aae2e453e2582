// SPDX-License-Identifier: GPL-2.0-only
/*
 * Runs after every ima_add_template_entry() (kernel-interface.md §9): counts
 * what happened and, for each appended record, puts a copy in a ring buffer
 * so imastored wakes up without polling securityfs. The kernel's list stays
 * the authority: a record lost here (ring full) is only a gap in seq, and
 * the daemon's next drain reads it from the list as always (docs/bpf.md).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "imacapture.h"

#define EEXIST 17

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct imacapture_stats);
} imacapture_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct imacapture_state);
} imacapture_state SEC(".maps");

/* Size set by user space before load (bpf_map__set_max_entries). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, IMACAPTURE_RINGBUF_DEFAULT);
} imacapture_rb SEC(".maps");

/*
 * Built here, then copied with bpf_ringbuf_output(): the slack lets the
 * verifier see that a copy of up to IMACAPTURE_DATA_MAX bytes at any masked
 * offset stays inside the buffer (it cannot relate offset and length).
 */
struct scratch {
	struct imacapture_rec rec;
	__u8 slack[IMACAPTURE_DATA_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} imacapture_scratch SEC(".maps");

/*
 * Wake-ups cost more than the rest of the program (a factor of ~10 seen in
 * the guests), so not every record wakes the daemon: only the first one after
 * it went idle (it sets `armed`), every wake_every-th (the trim threshold's
 * granularity), and any while the ring is half full (so none is lost).
 */
__u32 wake_every = 1;		/* .data: a SIGHUP may change the trim threshold */
const volatile __u64 wake_bytes = IMACAPTURE_RINGBUF_DEFAULT / 2;
__u32 armed = 1;

static __always_inline __u64 wake_flag(__u64 seq)
{
	__u32 every = wake_every;

	if (armed || !every || seq % every == 0 ||
	    bpf_ringbuf_query(&imacapture_rb, BPF_RB_AVAIL_DATA) >= wake_bytes) {
		armed = 0;
		return BPF_RB_FORCE_WAKEUP;
	}
	return BPF_RB_NO_WAKEUP;
}

#define DATA_MASK (IMACAPTURE_DATA_MAX - 1)
/* Hides a value from clang, so that the mask below stays in the code. */
#define opaque(x) asm volatile("" : "+r"(x))

/* n bytes at data[off]: masked, which is what the verifier checks */
static __always_inline void read_at(struct imacapture_rec *r, __u32 off, __u32 n,
				    const void *src)
{
	opaque(off);
	opaque(n);
	bpf_probe_read_kernel(&r->data[off & DATA_MASK], n & DATA_MASK, src);
}
_Static_assert((IMACAPTURE_DATA_MAX & DATA_MASK) == 0, "IMACAPTURE_DATA_MAX: a power of 2");

/* Fields as the list carries them: u32 length, bytes; bounded by data[]. */
static __always_inline void copy_fields(struct imacapture_rec *r,
					struct ima_template_entry *e)
{
	__u32 nfields = BPF_CORE_READ(e, template_desc, num_fields);
	__u32 off = 0, i, len, room;
	__u8 *src;

	for (i = 0; i < IMACAPTURE_FIELDS_MAX; i++) {
		if (i >= nfields)
			break;
		len = BPF_CORE_READ(e, template_data[i].len);
		src = BPF_CORE_READ(e, template_data[i].data);
		if (off > IMACAPTURE_DATA_MAX - sizeof(__u32)) {
			r->flags |= IMACAPTURE_F_TRUNCATED;
			break;
		}
		read_at(r, off, sizeof(len), &len);
		off += sizeof(__u32);
		room = IMACAPTURE_DATA_MAX - off;
		if (len > room) {
			read_at(r, off, room, src);
			off = IMACAPTURE_DATA_MAX;
			r->flags |= IMACAPTURE_F_TRUNCATED;
			break;
		}
		read_at(r, off, len, src);
		off += len;
	}
	if (i < nfields)
		r->flags |= IMACAPTURE_F_TRUNCATED;
	r->data_len = off;
}

static __always_inline void fill(struct imacapture_rec *r, struct ima_template_entry *e,
				 __u64 seq)
{
	struct tpm_digest *d = BPF_CORE_READ(e, digests);

	r->seq = seq;
	r->ktime_ns = bpf_ktime_get_ns();
	r->pcr = BPF_CORE_READ(e, pcr);
	r->template_data_len = BPF_CORE_READ(e, template_data_len);
	r->flags = 0;
	r->digest_alg = BPF_CORE_READ(d, alg_id);
	bpf_probe_read_kernel(r->digest, sizeof(r->digest), &d->digest);
	bpf_probe_read_kernel_str(r->template_name, sizeof(r->template_name),
				  BPF_CORE_READ(e, template_desc, name));
	copy_fields(r, e);
}

SEC("fexit/ima_add_template_entry")
int BPF_PROG(ima_add_exit, struct ima_template_entry *entry, int violation,
	     const char *op, struct inode *inode, const unsigned char *filename,
	     int ret)
{
	__u32 zero = 0;
	struct imacapture_stats *s = bpf_map_lookup_elem(&imacapture_stats, &zero);
	struct imacapture_state *st = bpf_map_lookup_elem(&imacapture_state, &zero);
	struct scratch *sc = bpf_map_lookup_elem(&imacapture_scratch, &zero);
	struct imacapture_rec *r;
	__u64 seq;

	if (!s || !st || !sc)
		return 0;
	if (ret == -EEXIST) {
		s->duplicates++;
		return 0;
	}
	if (ret) {
		s->errors++;
		return 0;
	}
	/* taken before the output, so a full ring shows up as a gap */
	seq = __sync_fetch_and_add(&st->next_seq, 1);
	s->last_seq = seq;
	r = &sc->rec;
	fill(r, entry, seq);
	if (r->flags & IMACAPTURE_F_TRUNCATED)
		s->truncated++;
	if (bpf_ringbuf_output(&imacapture_rb, r, sizeof(*r), wake_flag(seq))) {
		s->reserve_failures++;
		return 0;
	}
	s->emitted++;
	return 0;
}
