// SPDX-License-Identifier: GPL-2.0-only
/*
 * Runs after every ima_add_template_entry() (kernel-interface.md §9) and
 * counts what happened. Tiny on purpose: all policy is in user space, and
 * the kernel's list stays the authority for what was measured.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "imacapture.h"

#define EEXIST 17

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct imacapture_stats);
} imacapture_stats SEC(".maps");

SEC("fexit/ima_add_template_entry")
int BPF_PROG(ima_add_exit, struct ima_template_entry *entry, int violation,
	     const char *op, struct inode *inode, const unsigned char *filename,
	     int ret)
{
	__u32 zero = 0;
	struct imacapture_stats *s = bpf_map_lookup_elem(&imacapture_stats, &zero);

	if (!s)
		return 0;
	if (ret == 0)
		s->added++;
	else if (ret == -EEXIST)
		s->duplicates++;
	else
		s->errors++;
	return 0;
}
