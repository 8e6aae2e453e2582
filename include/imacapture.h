/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Shared by bpf/imacapture.bpf.c and user space: what the capture program
 * counts. Plain fixed-width fields only, so both compiles agree; the
 * _Static_asserts below run in both.
 */
#ifndef IMASTORE_IMACAPTURE_H
#define IMASTORE_IMACAPTURE_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Per-CPU counters, pinned for `bpftool map dump` (BTF gives the names). */
struct imacapture_stats {
	__u64 added;		/* ima_add_template_entry() returned 0 */
	__u64 duplicates;	/* returned -EEXIST: not appended */
	__u64 errors;		/* any other failure */
};

_Static_assert(sizeof(struct imacapture_stats) == 24, "imacapture_stats layout");

#endif
