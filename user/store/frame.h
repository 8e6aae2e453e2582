/* SPDX-License-Identifier: GPL-2.0-only */
/* Frames of the store's files (docs/store-format.md §3): header, CRC-32C, check. */
#ifndef IMASTORE_FRAME_H
#define IMASTORE_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "byteorder.h"
#include "ima_record.h"

/* docs/store-format.md §3 */
#define FRAME_HDR 24
#define FRAME_OFF_CRC 4		/* CRC of bytes 8 .. 24 + payload length */
#define FRAME_OFF_LEN 8
#define FRAME_OFF_INDEX 16
#define FRAME_SEGMENT 0x53414d49u	/* "IMAS" */
#define FRAME_RECORD 0x52414d49u	/* "IMAR" */
#define FRAME_COMMIT 0x43414d49u	/* "IMAC" */
#define FRAME_CHECKPOINT 0x4b414d49u	/* "IMAK" */
#define FRAME_TRIM 0x54414d49u		/* "IMAT" */
#define FRAME_PAYLOAD_MAX (IMA_RECORD_MAX + 4096u)

#define COMMIT_PAYLOAD 24	/* u64 time ns, u64 group start, u32 crc, u32 0 */
#define SEGMENT_PAYLOAD 32

struct frame {
	uint32_t magic;
	uint32_t len;
	uint64_t index;
	const uint8_t *payload;
};

/* Write a frame header for `payload` into hdr[FRAME_HDR]. */
void frame_header(uint8_t *hdr, uint32_t magic, uint64_t index,
		  const void *payload, uint32_t len);

/*
 * Check the frame at buf[0..len). Returns its total size (> 0) if valid,
 * 0 if buf holds only part of it (or is empty), -EBADMSG if invalid.
 */
long frame_check(const uint8_t *buf, size_t len, struct frame *f);

uint32_t frame_crc(uint32_t crc, const void *data, size_t len);

#endif
