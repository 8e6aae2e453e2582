/* SPDX-License-Identifier: GPL-2.0-only */
/* The live stream's lines: a record from the ring buffer or a drain, as text and JSON. */
#ifndef IMASTORE_TAIL_FORMAT_H
#define IMASTORE_TAIL_FORMAT_H

/*
 * The lines of the live stream (`imastore tail`, docs/tail.md): one record
 * as a JSON object and as a text line, each ending in '\n'. The record comes
 * from the BPF ring buffer (struct imacapture_rec) or, when imastored polls,
 * from the list a drain just read.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errmsg.h"
#include "ima_record.h"
#include "imacapture.h"

/* The protocol (docs/tail.md): where imastored listens, how much it keeps. */
#define TAIL_SOCKET_DEFAULT "/run/imastore/tail.sock"
#define TAIL_BACKLOG 64		/* newest records a consumer may ask for first */

#define TAIL_LINE_MAX 32768	/* escaped 1 KiB of data fits many times */
/* Scratch for tail_view_capture(): the data plus empty fields it may add. */
#define TAIL_VIEW_BUF (IMACAPTURE_DATA_MAX + 4 * 16)

struct tail_meta {
	uint64_t seq;		/* bpf: the program's sequence; list: the index */
	uint64_t time_ns;	/* CLOCK_REALTIME of the measurement (bpf) or drain */
	bool from_list;		/* source "list": seq is the record's index */
	bool truncated;		/* template data cut at IMACAPTURE_DATA_MAX */
	uint32_t template_data_len;	/* the kernel's, also when cut */
};

/*
 * A ring-buffer record as an ima_record of its first bank (`*bank`). A cut
 * record keeps what fits: a cut field is shortened, missing fields of a known
 * template are added empty, so every field present prints. An empty
 * template name is the kernel's ima_template_fmt= template, which the lists
 * name by its format: `custom_name` (as a list showed it) or NULL. `buf`
 * (TAIL_VIEW_BUF bytes) holds cut and legacy records rebuilt; rec->data
 * points there or into r, which must outlive rec. -EBADMSG for a record that does
 * not hold together (unknown algorithm, fields overrunning data_len).
 */
int tail_view_capture(const struct imacapture_rec *r, const char *custom_name, uint8_t *buf,
		      struct ima_record *rec, const struct hash_alg **bank,
		      struct tail_meta *m, struct errmsg *em);

/*
 * Format both lines. JSON: {"seq","source","time"[,"index"],"truncated",
 * "template_data_len", then the members of `show --json` from "pcr" on}.
 * Text: TIME SEQ PCR TEMPLATE TEMPLATE-DIGEST FILE-DIGEST PATH [buf:HEX]
 * [truncated]. Each buffer holds TAIL_LINE_MAX bytes.
 */
int tail_format(const struct tail_meta *m, const struct ima_record *rec,
		const struct hash_alg *bank, char *json, char *text, struct errmsg *em);

/* CLOCK_REALTIME - CLOCK_MONOTONIC now, to date bpf_ktime_get_ns() stamps. */
int64_t tail_realtime_offset_ns(void);

#endif
