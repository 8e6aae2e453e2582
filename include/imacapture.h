/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Shared by bpf/imacapture.bpf.c and user space (docs/bpf.md): the ring-buffer
 * record and the counters. Plain fixed-width fields only, so both compiles
 * agree; the _Static_asserts below run in both.
 */
#ifndef IMASTORE_IMACAPTURE_H
#define IMASTORE_IMACAPTURE_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#include <stddef.h>
#endif

#define IMACAPTURE_NAME_MAX	16	/* template names are short ("ima-sig") */
#define IMACAPTURE_DIGEST_MAX	64	/* tpm_digest.digest[] */
#define IMACAPTURE_DATA_MAX	1024	/* template data kept per record */
#define IMACAPTURE_FIELDS_MAX	16	/* fields walked (ima-modsig has 7) */

/* imacapture_rec.flags */
#define IMACAPTURE_F_TRUNCATED	0x1	/* data[] holds a prefix only */

#define IMACAPTURE_RINGBUF_DEFAULT	(1u << 20)

/*
 * One successful ima_add_template_entry(). data[] is the template data the
 * way the binary list carries it: per field a u32 length (host order), then
 * its bytes. seq is global and gap-free in the kernel: a gap seen in user
 * space is a record the ring buffer could not take.
 */
struct imacapture_rec {
	__u64 seq;
	__u64 ktime_ns;				/* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	__s32 pcr;
	__u32 template_data_len;		/* the kernel's, even if truncated */
	__u16 digest_alg;			/* TPM_ALG_* of digests[0] */
	__u16 flags;
	__u32 data_len;				/* bytes used in data[] */
	char template_name[IMACAPTURE_NAME_MAX];
	__u8 digest[IMACAPTURE_DIGEST_MAX];
	__u8 data[IMACAPTURE_DATA_MAX];
};

/* Per-CPU counters, pinned for `bpftool map dump` (BTF gives the names). */
struct imacapture_stats {
	__u64 emitted;		/* records submitted to the ring buffer */
	__u64 reserve_failures;	/* ring buffer full: a gap in seq */
	__u64 truncated;	/* template data longer than IMACAPTURE_DATA_MAX */
	__u64 duplicates;	/* returned -EEXIST: not appended */
	__u64 errors;		/* any other failure */
	__u64 last_seq;		/* last seq taken on this CPU */
};

/* Global state (one array slot): the next sequence number. */
struct imacapture_state {
	__u64 next_seq;
};

_Static_assert(sizeof(struct imacapture_rec) == 1136, "imacapture_rec size");
_Static_assert(__builtin_offsetof(struct imacapture_rec, pcr) == 16, "imacapture_rec.pcr");
_Static_assert(__builtin_offsetof(struct imacapture_rec, digest_alg) == 24,
	       "imacapture_rec.digest_alg");
_Static_assert(__builtin_offsetof(struct imacapture_rec, template_name) == 32,
	       "imacapture_rec.template_name");
_Static_assert(__builtin_offsetof(struct imacapture_rec, digest) == 48, "imacapture_rec.digest");
_Static_assert(__builtin_offsetof(struct imacapture_rec, data) == 112, "imacapture_rec.data");
_Static_assert(sizeof(struct imacapture_stats) == 48, "imacapture_stats layout");
_Static_assert(sizeof(struct imacapture_state) == 8, "imacapture_state layout");

#endif
