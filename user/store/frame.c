// SPDX-License-Identifier: GPL-2.0-only
/* Frames of the store's files (docs/store-format.md §3). */
#include <errno.h>
#include <string.h>

#include <isa-l/crc.h>

#include "frame.h"

/*
 * CRC-32C (Castagnoli), from ISA-L: the SSE4.2 instruction it uses has no
 * set-up cost, which matters for ~100-byte frames (zlib's CRC-32 took 70%
 * of an export). Chains like zlib's crc32(): frame_crc(frame_crc(0, a), b)
 * is the CRC of a followed by b.
 */
uint32_t frame_crc(uint32_t crc, const void *data, size_t len)
{
	const uint8_t *p = data;

	crc = ~crc;
	while (len) {
		int n = len > (1u << 30) ? (1 << 30) : (int)len;

		crc = crc32_iscsi((unsigned char *)p, n, crc);
		p += n;
		len -= (size_t)n;
	}
	return ~crc;
}

/* One contiguous CRC: everything after the CRC field, payload included. */
void frame_header(uint8_t *hdr, uint32_t magic, uint64_t index,
		  const void *payload, uint32_t len)
{
	put_le32(hdr, magic);
	put_le32(hdr + FRAME_OFF_LEN, len);
	put_le32(hdr + 12, 0);
	put_le64(hdr + FRAME_OFF_INDEX, index);
	put_le32(hdr + FRAME_OFF_CRC,
		 frame_crc(frame_crc(0, hdr + 8, FRAME_HDR - 8), payload, len));
}

static bool known_magic(uint32_t m)
{
	return m == FRAME_SEGMENT || m == FRAME_RECORD || m == FRAME_COMMIT ||
	       m == FRAME_CHECKPOINT || m == FRAME_TRIM;
}

long frame_check(const uint8_t *buf, size_t len, struct frame *f)
{
	uint32_t magic, plen;

	if (len < FRAME_HDR) {
		/* a prefix of a header can still be told apart from junk */
		if (len >= 4 && !known_magic(get_le32(buf)))
			return -EBADMSG;
		return 0;
	}
	magic = get_le32(buf);
	plen = get_le32(buf + FRAME_OFF_LEN);
	if (!known_magic(magic) || plen > FRAME_PAYLOAD_MAX || get_le32(buf + 12))
		return -EBADMSG;
	if (len - FRAME_HDR < plen)
		return 0;
	/* the payload follows the header: one CRC call over both */
	if (get_le32(buf + FRAME_OFF_CRC) != frame_crc(0, buf + 8, FRAME_HDR - 8 + plen))
		return -EBADMSG;
	f->magic = magic;
	f->len = plen;
	f->index = get_le64(buf + FRAME_OFF_INDEX);
	f->payload = buf + FRAME_HDR;
	return (long)(FRAME_HDR + plen);
}
